"""The toy course the grading tests share: one small lesson (``99-toy``) with its mutants."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import build, catalog

FIXTURE = Path(__file__).parent / "fixtures" / "toy-course"
SLUG = "99-toy"


@pytest.fixture
def toy_course(tmp_path) -> Path:
    """A throw-away course root holding the toy lesson, with the real course's nbgrader config."""
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    shutil.copy(catalog.GRADER_DIR / "nbgrader_config.py", root / "nbgrader_config.py")
    build.write_if_changed(SLUG, root)
    return root
