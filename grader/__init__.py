"""The instructor side of gpt2-course: only an instructor's checkout holds it.

``grader/`` is an nbgrader course root (``nbgrader_config.py``; ``source/`` generated) and a
Python package that is deliberately *not* part of the installed course (``pip install .``
gives students ``gpt2ref``, ``quiz`` and ``course`` only). Its top level holds the commands
(each ``python -m grader.<command>``) and the list of lessons; everything they are made of sits
in a package per concern:

- ``grader/lessons/<slug>/``: each lesson's hand-written files, ``lesson.py`` and ``grading.py``
  (``grader.catalog``, the one place that lists the lessons);
- commands: ``grader.build`` (authoring scripts -> nbgrader source notebooks),
  ``grader.commands`` (release, autograde, feedback, export: the ``make`` targets),
  ``grader.formgrader`` (Formgrader for the instructor), ``grader.check_notebooks`` (runs every
  solution notebook and measures it), and the proofs of the grading: ``grader.acceptance``,
  ``grader.outside_coverage``, ``grader.visible_checks``;
- ``grader.plugins``: nbgrader plug-ins, one a module (restore from the source, the sandboxed run,
  NEEDS REVIEW, inert student content, feedback);
- ``grader.sandbox``: containment: the intake gate, bubblewrap, cgroups, the kernel managers;
- ``grader.trusted``: what decides the points outside the student's kernel: the outside check
  (probes, their prelude and runner), the graded post quiz, the integrity scan;
- ``grader.orchestration``: around nbgrader: what to grade, parallel workers, the score table,
  Formgrader's content security policy;
- ``grader.proofs``: made-up submissions and the run in which every in-kernel check passes;
- ``grader.measuring``: running and measuring solution notebooks.
"""
