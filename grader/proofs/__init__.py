"""What the proofs of the grading are made of (``grader.acceptance``, ``grader.outside_coverage``,
``grader.visible_checks``): made-up submissions (``submissions``) and the run in which every
in-kernel check passes (``kernel_checks_pass``)."""
