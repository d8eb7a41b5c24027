"""gpt2ref is a leaf: the reference GPT-2 imports nothing of the course (course, quiz, grader, hub),
so it reads like a textbook on its own and the student packages do not depend on each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "gpt2ref"
COURSE_PACKAGES = {"course", "quiz", "grader", "hub", "bench"}


def imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            roots.add(str(node.args[0].value).split(".")[0])
    return roots


@pytest.mark.parametrize("module", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_gpt2ref_imports_nothing_of_the_course(module):
    assert not imported_roots(module.read_text()) & COURSE_PACKAGES


def test_the_import_scan_sees_late_and_dynamic_imports():
    late = "def f():\n    from course.offline_tokenizer import packaged_bpe_file\n"
    dynamic = "import importlib\nimportlib.import_module('quiz.i18n')\n"
    assert imported_roots(late) == {"course"} and "quiz" in imported_roots(dynamic)
