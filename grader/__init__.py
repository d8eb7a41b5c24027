"""The instructor side of gpt2-course: only an instructor's checkout holds it.

``grader/`` is an nbgrader course root (``nbgrader_config.py``; ``source/`` generated) and a
Python package that is deliberately *not* part of the installed course (``pip install .``
gives students ``gpt2ref``, ``quiz`` and ``course`` only):

- ``grader/lessons/<slug>/``: each lesson's hand-written files (``grader.catalog``);
- ``grader.build``: authoring scripts -> nbgrader source notebooks;
- ``grader.commands``: release, autograde, feedback, export (the ``make`` targets);
- ``grader.acceptance``: grades made-up submissions to prove the grading;
- ``grader.outside_coverage``: proves every lost point is taken outside the student's kernel;
- ``grader.visible_checks``: proves every mutant fails a check the student can see;
- ``grader.sandbox``: every submission's kernel in bubblewrap, with limits (``grader.cgroups``);
- ``grader.plugins``: nbgrader plug-ins, one a module: restore from the source, NEEDS REVIEW, feedback;
- ``grader.integrity``: a static report of code that could game the tests;
- ``grader.check_notebooks``: runs every solution notebook and measures it (time, memory).
"""
