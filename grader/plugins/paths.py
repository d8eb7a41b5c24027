"""Where a plug-in finds the course's folders (source, submitted, autograded)."""

from __future__ import annotations

import os
from pathlib import Path


class Paths:
    """Course folders, from nbgrader's CourseDirectory when the plug-in runs inside nbgrader."""

    def __init__(self, preprocessor):
        node, coursedir = preprocessor, None
        while node is not None and coursedir is None:
            coursedir = getattr(node, "coursedir", None)
            node = getattr(node, "parent", None)
        self.coursedir = coursedir
        self.root = Path(coursedir.root if coursedir is not None else os.getcwd())

    def _folder(self, step: str, student: str, assignment: str) -> Path:
        if self.coursedir is not None:
            name = getattr(self.coursedir, f"{step}_directory")
            return Path(self.coursedir.format_path(name, student, assignment))
        return self.root / step / student / assignment

    def source(self, assignment: str, notebook: str) -> Path:
        return self._folder("source", ".", assignment) / f"{notebook}.ipynb"

    def submitted(self, student: str, assignment: str, notebook: str) -> Path:
        return self._folder("submitted", student, assignment) / f"{notebook}.ipynb"

    def autograded(self, student: str, assignment: str) -> Path:
        return self._folder("autograded", student, assignment)
