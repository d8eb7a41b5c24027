"""nbgrader plug-ins of this course (configured in ``grader/nbgrader_config.py``)."""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor

from .build import SKIP_AUTOGRADE_TAG

SKIPPED_SOURCE = "# (demo cell: skipped while autograding)"


class SkipDemoCells(NbGraderPreprocessor):
    """Blank the code of cells tagged ``skip-autograde`` before a submission is executed.

    Long demos (training runs, big plots) teach but are not graded; running them for every
    student would only slow autograding down. Graded cells must not depend on them.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and SKIP_AUTOGRADE_TAG in cell.metadata.get("tags", []):
            cell.source = SKIPPED_SOURCE
            cell.outputs = []
            cell.execution_count = None
        return cell, resources
