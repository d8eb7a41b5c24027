"""The instructor side of gpt2-course: only an instructor's checkout holds it.

``grader/`` is an nbgrader course root (``nbgrader_config.py``; ``source/`` generated) and a
Python package that is deliberately *not* part of the installed course (``pip install .``
gives students ``gpt2ref``, ``quiz`` and ``course`` only):

- ``grader/lessons/<slug>/``: each lesson's hand-written files (``grader.catalog``);
- ``grader.build``: authoring scripts -> nbgrader source notebooks;
- ``grader.commands``: release, autograde, feedback, export (the ``make`` targets); around
  nbgrader, ``grader.bookkeeping`` (what to grade, what nbgrader could not record) and
  ``grader.score_table`` (where each submission stands, the printed tables);
- ``grader.acceptance``: grades made-up submissions (``grader.submissions``, each lesson's
  ``grading.py``'s ``SUBMISSIONS``) to prove the grading; ``grader.kernel_checks_pass`` for ``--kernel-checks-pass``;
- ``grader.outside_coverage``: proves every lost point is taken outside the student's kernel;
- ``grader.visible_checks``: proves every mutant fails a check the student can see;
- ``grader.sandbox``: every submission's kernel in bubblewrap, with limits (``grader.cgroups``;
  ``grader.bwrap`` the command line and mounts, ``grader.sandbox_kernel`` the kernel managers,
  ``grader.sandbox_settings`` the settings);
- ``grader.plugins``: nbgrader plug-ins, one a module: restore from the source, NEEDS REVIEW, feedback;
- ``grader.integrity``: a static report of code that could game the tests;
- ``grader.check_notebooks``: runs every solution notebook and measures it (time, memory;
  ``grader.notebook_runs``, ``grader.lab_session``).
"""
