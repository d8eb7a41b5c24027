"""What the grading commands (``grader.commands``) are made of: what to grade and what nbgrader
could not record (``bookkeeping``), where each submission stands (``score_table``), workers that run
notebooks at once (``parallel``), and Formgrader's content security policy (``formgrader_csp``)."""
