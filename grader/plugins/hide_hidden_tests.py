"""HideHiddenTests: the feedback (``nbgrader generate_feedback``) never shows hidden tests."""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN_TESTS_SHOWN_AS = "# (hidden tests: not shown)"
_BEGIN_HIDDEN = re.compile(r"BEGIN HIDDEN TESTS")
_END_HIDDEN = re.compile(r"END HIDDEN TESTS")


def hide_hidden_tests(text: str) -> tuple[str, bool]:
    """``text`` with every BEGIN/END HIDDEN TESTS region replaced by one comment line."""
    lines, out, hidden, found = text.split("\n"), [], False, False
    for line in lines:
        if _BEGIN_HIDDEN.search(line):
            hidden = found = True
            out.append(line[: len(line) - len(line.lstrip())] + HIDDEN_TESTS_SHOWN_AS)
        elif _END_HIDDEN.search(line) and hidden:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out), found


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback must not show hidden tests: the autograded notebook holds the source's test
    cells, hidden tests included, and nbgrader's generate_feedback renders them as they are.
    Replace each hidden region with one comment line, and cut the tracebacks of those cells
    to their last line (a traceback quotes the code around the failing line)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, found = hide_hidden_tests(cell.source)
        if found:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
