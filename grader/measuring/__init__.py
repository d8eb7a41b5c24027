"""What ``grader.check_notebooks`` is made of: running a solution notebook and measuring it
(``notebook_runs``) inside a memory-limited JupyterLab session (``lab_session``)."""
