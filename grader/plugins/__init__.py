"""nbgrader plug-ins of this course (configured in ``grader/nbgrader_config.py``), one a module
like nbgrader's own ``nbgrader/preprocessors/``, and the bookkeeping they share with
``grader.commands``.

``nbgrader autograde`` (plain, or through ``make autograde``) reads each submission with
``TolerantNotebookExporter`` (``exporter``: an unreadable file becomes an ungradable submission,
not a crash) and runs, per submission:

    sanitize:   RestoreFromSource   rebuild the submission from the lesson's source notebook;
                                    intake gate and integrity scan (``restore_from_source``)
                ... nbgrader's own ...
                SkipDemoCells       blank the demo cells the source tags ``skip-autograde``
                                    (``skip_demo_cells``)
                RememberReviews     note what the instructor already reviewed, for MarkForReview
                                    (``remember_reviews``)
    autograde:  GradingExecute      run it in the sandbox; a dead or uninterruptible kernel stops
                                    the run, loudly; then score the post quiz and confirm the
                                    passed tests outside the kernel (``grading_execute``,
                                    ``outside_check``, ``execution_cache``)
                StderrIsNotFailure  warnings cost no points (``stderr_is_not_failure``)
                ... nbgrader's own (SaveAutoGrades) ...
                MarkForReview       NEEDS REVIEW in the gradebook, integrity hold, state file
                                    (``mark_for_review``)

and ``nbgrader generate_feedback`` runs HideHiddenTests (``hide_hidden_tests``), so feedback
never shows hidden tests. Shared by them: ``cells`` (reading cells, the notebook's bookkeeping),
``reviews`` (NEEDS REVIEW reasons and markers), ``state`` (``grading-state.json``, the sandbox's
verdict) and ``paths`` (the course folders).

A submission that cannot be graded honestly (unreadable notebook, dead kernel, a loop that
ignores the interrupt, a sandbox verdict, code the integrity scan reports) is not a silent
zero: every grade of it is marked as needing manual grading, the first solution cell's
comment says ``NEEDS REVIEW (<reason>): <details>`` (formgrader and the feedback show it),
and ``make autograde`` / ``make export`` print the status.
"""

from grader.plugins.exporter import TolerantNotebookExporter
from grader.plugins.grading_execute import GradingExecute
from grader.plugins.hide_hidden_tests import HideHiddenTests
from grader.plugins.mark_for_review import MarkForReview
from grader.plugins.remember_reviews import RememberReviews
from grader.plugins.restore_from_source import CODE_STUB, RestoreFromSource
from grader.plugins.skip_demo_cells import SkipDemoCells
from grader.plugins.stderr_is_not_failure import StderrIsNotFailure

__all__ = [
    "CODE_STUB",
    "GradingExecute",
    "HideHiddenTests",
    "MarkForReview",
    "RememberReviews",
    "RestoreFromSource",
    "SkipDemoCells",
    "StderrIsNotFailure",
    "TolerantNotebookExporter",
]
