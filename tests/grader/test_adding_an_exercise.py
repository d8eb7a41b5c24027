"""Adding a graded exercise touches two hand-written files of its lesson: ``lesson.py`` (the
student's cells and the kernel's checks) and ``grading.py`` (the outside check that decides the
points, and the made-up submissions that prove it). Shown on the toy course: a third exercise,
``sub``: 14 new lines in ``lesson.py`` (two cells), 8 new and 1 edited in ``grading.py`` (its
probe, which says the test it decides; its reference; one wrong answer), graded from outside, with
its mistake caught by a visible check."""

from __future__ import annotations

import shutil

import pytest

from grader import build, catalog, outside_coverage, trusted, visible_checks

from .conftest import FIXTURE, SLUG

LESSON_CELLS = '''
# %% [solution] id=sub
def sub(a, b):
    """Return a - b."""
    ### BEGIN SOLUTION
    return a - b
    ### END SOLUTION

# %% [tests] id=test_sub points=1
from course.checks import expect_equal
expect_equal(sub(5, 3), 2, "sub(5, 3)", hint="the second number is taken from the first")
### BEGIN HIDDEN TESTS
expect_equal(sub(-4, 6), -10, "sub(-4, 6)")
### END HIDDEN TESTS
'''

PROBE = '''@decides("test_sub")
def probe_sub(ns, seed):
    return {"differences": [ns["sub"](a, b) for a, b in _pairs(seed + 2, -60)]}


'''

SUBMISSION = '''SUBMISSIONS.append(Submission("sub-swapped", fails={"test_sub"}, why="b - a",
                              edits={"sub": [("return a - b", "return b - a")]}))
'''


def _add_the_exercise(root):
    folder = root / "lessons" / SLUG
    lesson = folder / catalog.AUTHORING_SCRIPT
    text = lesson.read_text()
    marker = "# %% [markdown]\n# ## After the lesson"
    assert text.count(marker) == 1
    lesson.write_text(text.replace(marker, LESSON_CELLS.lstrip("\n") + "\n" + marker))

    grading = folder / catalog.GRADING_SCRIPT
    text = grading.read_text()
    for old, new in [('"mul": lambda a, b: a * b}', '"mul": lambda a, b: a * b, "sub": lambda a, b: a - b}'),
                     (trusted.PROBES_END, PROBE + trusted.PROBES_END)]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    grading.write_text(text + "\n" + SUBMISSION)
    return [lesson, grading]


def test_the_new_exercise_takes_two_files_and_few_lines(tmp_path):
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    before = {p: p.read_text() for p in (root / "lessons" / SLUG).iterdir() if p.is_file()}
    touched = _add_the_exercise(root)
    after = {p: p.read_text() for p in (root / "lessons" / SLUG).iterdir() if p.is_file()}
    changed = sorted(p.name for p in after if after[p] != before.get(p))
    assert changed == sorted([catalog.AUTHORING_SCRIPT, catalog.GRADING_SCRIPT]) == sorted(p.name for p in touched)
    added = {p.name: len(after[p].splitlines()) - len(before[p].splitlines()) for p in touched}
    assert added == {catalog.AUTHORING_SCRIPT: 14, catalog.GRADING_SCRIPT: 8}, added  # plus 1 line edited


@pytest.mark.slow
def test_the_new_exercise_is_graded_outside_and_checked_visibly(tmp_path):
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    _add_the_exercise(root)
    build.write_if_changed(SLUG, root)
    assert "test_sub" in trusted.load_probes(catalog.lesson_dir(SLUG, root)).tests
    rows = {r.name: r for r in outside_coverage.check_lesson(SLUG, root, seed=11, log=lambda _: None)}
    assert rows["sub-swapped"].lost_outside == {"test_sub"} and not rows["sub-swapped"].gap
    assert rows["solution"].lost_outside == set()
    assert outside_coverage.uncovered_tests(SLUG, root) == set()
    runs = {r.name: r for r in visible_checks.check_lesson(SLUG, root, log=lambda _: None, cell_timeout=10)}
    assert runs["sub-swapped"].failed_visibly == {"test_sub"}
