"""SkipDemoCells: the demo cells a lesson's source tags ``skip-autograde`` are not run when grading."""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from grader.build import SKIP_AUTOGRADE_TAG
from grader.plugins.cells import nbgrader_of

SKIPPED_SOURCE = "# (demo cell: skipped while autograding)"


class SkipDemoCells(NbGraderPreprocessor):
    """Blank the code of cells tagged ``skip-autograde`` before a submission is executed.

    Long demos (training runs, big plots) teach but are not graded; running them for every
    student would only slow autograding down. Graded cells must not depend on them. Only the
    source's tags count (RestoreFromSource puts them back), and a cell nbgrader grades or
    locks is never blanked: a test cell without output would score full marks.
    """

    def preprocess_cell(self, cell, resources, index):
        if (cell.cell_type == "code" and SKIP_AUTOGRADE_TAG in cell.metadata.get("tags", [])
                and not nbgrader_of(cell)):
            cell.source = SKIPPED_SOURCE
            cell.outputs = []
            cell.execution_count = None
        return cell, resources
