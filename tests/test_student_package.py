"""What `pip install .` gives a student holds no instructor material.

The wheel is built for real and searched for every hidden test, every mutant and every
solution-cell body of every lesson: none of them may be in it. One exception by design: the
reference GPT-2 (``gpt2ref``) ships to students, who import it in self-study, and a
reference module may implement a graded part in the same words as the solution (lesson 34's
block, lesson 36's checkpoint). Solution bodies are therefore searched outside ``gpt2ref/``;
keeping a graded lesson's reference parts away from a class is the grader's job.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import build, catalog

ROOT = Path(__file__).resolve().parents[1]
STUDENT_PACKAGES = {"gpt2ref", "quiz", "course"}


def _region(source: str, begin: str, end: str) -> list[str]:
    """The texts between ``begin`` and ``end`` marker lines (each region as one string)."""
    regions, current = [], None
    for line in source.splitlines():
        if line.strip() == begin:
            current = []
        elif line.strip() == end and current is not None:
            regions.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return regions


def instructor_only_snippets() -> dict[str, str]:
    """{label: text} for every solution body and hidden test of every lesson."""
    snippets = {}
    for slug in catalog.lesson_slugs():
        cells = build.parse_authoring(catalog.authoring_script(slug).read_text(encoding="utf-8"))
        for cell in cells:
            regions = (_region(cell.source, "### BEGIN SOLUTION", "### END SOLUTION") if cell.kind == "solution"
                       else _region(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
                       if cell.kind == "tests" else [])
            for number, text in enumerate(regions):
                lines = [line.strip() for line in text.splitlines() if line.strip()]
                # Only bodies long enough to be the instructor's own text (a lone `return x` is not).
                if len(lines) >= 3:
                    snippets[f"{slug}:{cell.grade_id}:{cell.kind}:{number}"] = "\n".join(lines)
    return snippets


def _normalised(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def clean_checkout(target: Path) -> Path:
    """The files git tracks, as they are now, copied to ``target``: what a student clones
    (a developer's own build/ folder, which setuptools would reuse, stays behind)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def student_wheel(tmp_path_factory) -> zipfile.ZipFile:
    checkout = clean_checkout(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(out),
         str(checkout)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("gpt2_course-*.whl")
    return zipfile.ZipFile(wheel)


def test_the_snippets_are_real():
    snippets = instructor_only_snippets()
    # Every lesson has solutions and hidden tests to hide; if parsing broke, the search below would prove nothing.
    for slug in catalog.lesson_slugs():
        assert any(label.startswith(slug + ":") and ":solution:" in label for label in snippets), slug
        assert any(label.startswith(slug + ":") and ":tests:" in label for label in snippets), slug


@pytest.mark.slow
def test_wheel_holds_only_the_student_packages(student_wheel):
    top_level = {name.split("/")[0] for name in student_wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == STUDENT_PACKAGES
    assert not [n for n in student_wheel.namelist() if "grader" in n.split("/")[0] or n.endswith(".ipynb")]
    # the JupyterLab plugin course.jupyter_setup installs (the hub's students' environment is this wheel)
    assert {"course/labextension/package.json", "course/labextension/static/remoteEntry.js"} <= set(
        student_wheel.namelist())


def _wheel_text(wheel: zipfile.ZipFile, skip_reference: bool) -> str:
    names = [n for n in wheel.namelist() if not (skip_reference and n.startswith("gpt2ref/"))]
    return _normalised("\n".join(wheel.read(name).decode("utf-8", errors="replace") for name in names))


@pytest.mark.slow
def test_wheel_holds_no_solution_hidden_test_or_mutant(student_wheel):
    text, outside_reference = _wheel_text(student_wheel, False), _wheel_text(student_wheel, True)
    found = [label for label, snippet in instructor_only_snippets().items()
             if snippet in (outside_reference if ":solution:" in label else text)]
    assert found == [], f"instructor-only code in the student wheel: {found}"
    for slug in catalog.lesson_slugs():
        mutants = catalog.grading_script(slug).read_text(encoding="utf-8")
        assert "Submission(" in mutants and _normalised(mutants) not in text
    assert "BEGIN HIDDEN TESTS" not in text and "SUBMISSIONS = [" not in text


def test_the_search_would_find_a_leak():
    """The same search, over a text that does contain a solution body, reports it."""
    label, snippet = next(iter(instructor_only_snippets().items()))
    leaked = _normalised("header\n" + "\n".join("    " + line for line in snippet.splitlines()) + "\nfooter")
    assert snippet in leaked, label
