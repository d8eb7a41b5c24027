"""Every point is decided outside the student's kernel.

Two proofs per lesson: ``grader.outside_coverage`` (the outside check alone takes from every
made-up wrong answer exactly the points the acceptance table takes), and a real grading run in
which every in-kernel check always passes (``grader.acceptance --kernel-checks-pass``): wrong
answers keep exactly their scores. The toy course shows both proofs fail when a probe is missing."""

from __future__ import annotations

import shutil

import pytest

from grader import acceptance, build, catalog, outside_coverage
from grader.proofs.kernel_checks_pass import ALWAYS_PASS, make_kernel_checks_pass

from .conftest import FIXTURE, SLUG

LESSONS = [s for s in catalog.lesson_slugs() if catalog.proven(s)]


MUL_PROBE = '@decides("test_mul")\ndef probe_mul(ns, seed):\n    return {"products": [ns["mul"](a, b) for a, b in _pairs(seed + 1, 0)]}\n'


def _toy_without_a_mul_probe(tmp_path):
    """The toy course whose outside check no longer looks at mul: test_mul stands on the kernel alone."""
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    probes = root / "lessons" / SLUG / "grading.py"
    text = probes.read_text()
    assert text.count(MUL_PROBE) == 1
    probes.write_text(text.replace(MUL_PROBE, ""))
    build.write_if_changed(SLUG, root)
    return root


def test_the_toy_course_is_decided_outside(toy_course):
    rows = {row.name: row for row in outside_coverage.check_lesson(SLUG, toy_course, seed=7, log=lambda _: None)}
    assert rows["add-subtracts"].lost_outside == {"test_add"}
    assert rows["mul-via-loop"].lost_outside == set(), "a correct, different answer keeps its points"
    assert rows["solution"].lost_outside == set()
    assert "untouched" not in rows, "the released notebook is not made of solution-cell edits"
    assert not any(row.gap for row in rows.values()), outside_coverage.report(SLUG, list(rows.values()), set())
    assert outside_coverage.uncovered_tests(SLUG, toy_course) == set()


def test_a_point_the_outside_check_does_not_take_is_a_gap(tmp_path):
    root = _toy_without_a_mul_probe(tmp_path)
    rows = {row.name: row for row in outside_coverage.check_lesson(SLUG, root, seed=7, log=lambda _: None)}
    wrong_mul = [row for row in rows.values() if row.must_lose == {"test_mul"}]
    assert wrong_mul and all(row.gap for row in wrong_mul), "a mul mistake is no longer seen outside"
    assert "kept outside: test_mul" in outside_coverage.report(SLUG, wrong_mul, set())
    assert not rows["add-subtracts"].gap
    assert outside_coverage.uncovered_tests(SLUG, root) == {"test_mul"}, "a test with no probe is the kernel's alone"


def test_a_graded_test_without_probes_is_reported(tmp_path):
    root = _toy_without_a_mul_probe(tmp_path)
    assert outside_coverage.uncovered_tests(SLUG, root) == {"test_mul"}
    assert "graded by the kernel alone: test_mul" in outside_coverage.report(SLUG, [], {"test_mul"})


def test_kernel_checks_that_always_pass_replace_every_test_cell(toy_course):
    assert make_kernel_checks_pass(SLUG, toy_course) == 2  # test_add and test_mul; not the post quiz
    import nbformat

    nb = nbformat.read(catalog.source_notebook(SLUG, toy_course), as_version=4)
    forged = [c for c in nb.cells if c.source == ALWAYS_PASS]
    assert {c.metadata.nbgrader["grade_id"] for c in forged} == {"test_add", "test_mul"}


@pytest.mark.slow
def test_with_every_kernel_check_passing_a_missing_probe_shows(tmp_path):
    """The real grading run fails when the outside check does not take a wrong mul's point."""
    root = _toy_without_a_mul_probe(tmp_path)
    outcomes = acceptance.run_acceptance(SLUG, tmp_path / "work", cell_timeout=10, log=lambda _: None,
                                         course_root=root, kernel_checks_pass=True)
    problems = {o.submission.name: o.problem() for o in outcomes}
    assert problems["add-subtracts"] is None and problems["solution"] is None
    wrong_mul = [name for name, o in ((o.submission.name, o) for o in outcomes) if o.submission.fails == {"test_mul"}]
    assert wrong_mul and all(problems[name] for name in wrong_mul), problems


def test_a_probe_that_sees_a_mistake_only_on_some_seeds_is_reported(tmp_path):
    """add is wrong only when b is 7: the add probe's five pairs rarely hold a 7, so on most seeds
    the outside check would keep the point."""
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    mutants = root / "lessons" / SLUG / "grading.py"
    mutants.write_text(mutants.read_text() + (
        "\nSUBMISSIONS.append(Submission('add-wrong-at-seven', fails={'test_add'},\n"
        "                              edits={'add': [('return a + b', 'return a + b if b != 7 else a')]}))\n"))
    build.write_if_changed(SLUG, root)
    misses = outside_coverage.seed_misses(SLUG, list(range(12)), root, log=lambda _: None)
    seven = [seed for name, test, seed in misses if name == "add-wrong-at-seven"]
    assert len(seven) >= 6 and all(test == "test_add" for name, test, _ in misses if name == "add-wrong-at-seven")
    assert not [m for m in misses if m[0] != "add-wrong-at-seven"], misses


@pytest.mark.slow
@pytest.mark.parametrize("slug", LESSONS)
def test_the_outside_check_alone_takes_every_lost_point(slug):
    rows = outside_coverage.check_lesson(slug, log=lambda _: None)
    uncovered = outside_coverage.uncovered_tests(slug)
    assert rows and not uncovered and not any(row.gap for row in rows), outside_coverage.report(slug, rows, uncovered)
    # on many seeds too (in this process): no probe whose inputs only sometimes show a mistake
    misses = outside_coverage.seed_misses(slug, list(range(100, 108)), log=lambda _: None)
    assert not misses, misses


@pytest.mark.slow
@pytest.mark.parametrize("slug", LESSONS)
def test_with_every_kernel_check_passing_wrong_answers_keep_their_scores(slug, tmp_path):
    outcomes = acceptance.run_acceptance(slug, tmp_path, log=lambda _: None, kernel_checks_pass=True)
    names = {o.submission.name for o in outcomes}
    assert {"solution", "untouched"} <= names and len(names) >= 5, names
    assert not any(o.problem() for o in outcomes), acceptance.report(slug, outcomes)
