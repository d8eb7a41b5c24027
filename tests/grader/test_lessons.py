"""Every lesson, whole: built, released, executed and graded as students and instructors get it.

Lessons come from grader.catalog, so a new lesson is covered without editing
this file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from grader import acceptance, catalog, commands
from grader.measuring import notebook_runs

ROOT = Path(__file__).resolve().parents[2]
LESSONS = catalog.lesson_slugs()


def released_files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def committed_files(folder):
    """Files of ``folder`` that git tracks (a learner's progress, checkpoints and notes are not)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", str(folder)], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    return sorted((ROOT / name).relative_to(folder) for name in listed.split("\0") if name)


def comparable(notebook_path):
    nb = nbformat.read(notebook_path, as_version=4)
    return {"cells": [dict(cell) for cell in nb.cells], "kernelspec": nb.metadata.get("kernelspec")}


def test_lessons_exist():
    assert LESSONS, "no lessons found in grader/lessons/"


@pytest.mark.slow
@pytest.mark.parametrize("slug", LESSONS)
def test_committed_student_version_is_what_nbgrader_generates(slug, tmp_path):
    root = tmp_path / "grader"
    acceptance.prepare_course(slug, root)
    released = commands.generate(slug, root, capture=True)
    committed = ROOT / "lessons" / slug
    assert committed_files(committed) == released_files(released), "run `make release` and commit lessons/"
    for rel in released_files(released):
        if rel.suffix == ".ipynb":
            assert comparable(committed / rel) == comparable(released / rel), f"{rel} is stale: run `make release`"
        elif rel.name.startswith("quiz"):
            # Self-study keeps every key; the course release withholds the post questions' keys.
            authored = catalog.lesson_dir(slug) / rel.name
            assert (committed / rel).read_bytes() == authored.read_bytes(), f"{rel} is stale: run `make release`"
            course = json.loads((released / rel).read_text())
            assert course["edition"] == "course"
            for question in course["questions"]:
                withheld = question["stage"] == "post"
                assert ("correct" in question) != withheld and ("explanation" in question) != withheld, question["id"]
        else:
            assert (committed / rel).read_bytes() == (released / rel).read_bytes(), f"{rel} is stale: run `make release`"


@pytest.mark.parametrize("slug", LESSONS)
def test_student_version_hides_solutions_and_hidden_tests(slug):
    text = (ROOT / "lessons" / slug / f"{slug}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{slug}: the student notebook contains {marker!r}"
    nb = nbformat.reads(text, as_version=4)
    stubs = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert stubs and all("raise NotImplementedError(\"replace this line with your code" in c.source for c in stubs)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


@pytest.mark.slow
@pytest.mark.parametrize("slug", LESSONS)
def test_solution_notebook_runs_top_to_bottom(slug):
    run = notebook_runs.run_lesson(slug)
    assert run.error is None, f"{slug} failed after {run.seconds:.0f} s:\n{run.error[-4000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("slug", [s for s in LESSONS if catalog.proven(s)])
def test_grading_scores_every_submission_as_it_deserves(slug, tmp_path, grading_tables):
    outcomes = acceptance.run_acceptance(slug, tmp_path, log=lambda *_: None)
    table = acceptance.report(slug, outcomes)
    (grading_tables / f"{slug}.txt").write_text(table + "\n")
    problems = [p for p in (o.problem() for o in outcomes) if p]
    assert not problems, table
