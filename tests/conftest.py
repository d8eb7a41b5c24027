"""Shared test settings: where tests leave files for people to look at, and the end-of-run report."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "build" / "test-output"
GRADING_TABLES = OUTPUT_DIR / "grading"
_SESSION_START = time.time()

# Jupyter kernels started by tests find nbgrader's helpers and the venv's tools first.
os.environ["PATH"] = str(Path(os.sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under build/test-output/ named after the test, kept after the run."""
    path = OUTPUT_DIR / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def grading_tables() -> Path:
    """Where grading acceptance tests write their score tables (printed at the end of the run)."""
    GRADING_TABLES.mkdir(parents=True, exist_ok=True)
    return GRADING_TABLES


def pytest_terminal_summary(terminalreporter):
    """Print the grading score tables that this run wrote (works with pytest-xdist too)."""
    if not GRADING_TABLES.is_dir():
        return
    tables = sorted(p for p in GRADING_TABLES.glob("*.txt") if p.stat().st_mtime >= _SESSION_START)
    if tables:
        terminalreporter.section("grading acceptance: score tables")
        for path in tables:
            terminalreporter.write_line(path.read_text().rstrip())
            terminalreporter.write_line("")
