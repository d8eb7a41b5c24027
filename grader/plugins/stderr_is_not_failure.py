"""StderrIsNotFailure: warnings cost no points."""

from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor


class StderrIsNotFailure(NbGraderPreprocessor):
    """Keep warnings out of the score: move a test cell's stderr text to stdout before grading.

    nbgrader scores a test cell zero when it wrote anything to stderr, so a correct answer
    that triggers a library warning (or a progress bar) would lose its points. In this course a
    test fails only by raising; its stderr text stays visible in the feedback, marked.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(
                        f"[stderr] {line}" for line in output.get("text", "").splitlines(keepends=True)
                    )
        return cell, resources
