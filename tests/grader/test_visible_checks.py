"""Visible checks as strong as the grade (grader.visible_checks): every one-bug mutant of every lesson
fails a check the student can see, and the tool finds a mutant that only the hidden tests catch."""

from __future__ import annotations

import shutil

import pytest

from grader import build, catalog, visible_checks

from .conftest import FIXTURE, SLUG

LESSONS = [s for s in catalog.lesson_slugs() if catalog.proven(s)]


def test_finds_a_mistake_only_the_hidden_tests_catch(tmp_path):
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    mutants = root / "lessons" / SLUG / "grading.py"
    mutants.write_text(mutants.read_text() + (
        "\nSUBMISSIONS.append(Submission('add-ignores-signs', fails={'test_add'},\n"
        "                              edits={'add': [('return a + b', 'return abs(a) + abs(b)')]}))\n"))
    build.write_if_changed(SLUG, root)
    runs = {r.name: r for r in visible_checks.check_lesson(SLUG, root, log=lambda _: None, cell_timeout=10)}
    # add(1, 2) is the visible check; add(-1, 1) is hidden: only the hidden one sees the signs dropped.
    assert runs["add-ignores-signs"].hole and runs["add-ignores-signs"].failed_visibly == set()
    assert not runs["add-subtracts"].hole and runs["add-subtracts"].failed_visibly == {"test_add"}
    assert runs["mul-loops-forever"].failed_visibly == {"test_mul"}, "a loop is interrupted and counts as a failure"
    assert "solution" not in runs and "disables-the-checks" not in runs and "quiz-one-wrong" not in runs
    assert "HOLE" in visible_checks.report(SLUG, list(runs.values()))


@pytest.mark.slow
@pytest.mark.parametrize("slug", LESSONS)
def test_every_one_bug_mutant_fails_a_visible_check(slug):
    runs = visible_checks.check_lesson(slug, log=lambda _: None)
    assert runs, f"{slug}: no one-bug mutants in grading.py"
    assert not any(r.hole for r in runs), visible_checks.report(slug, runs)


LESSON_34 = "34-transformer-block"


def _validate(folder, notebook: str) -> str:
    """What nbgrader's Validate (the button in JupyterLab) says of ``notebook``, as a student runs it."""
    import os
    import subprocess
    import sys

    state = folder.parent / "state"
    env = {**os.environ, "XDG_CONFIG_HOME": str(state / "config"), "XDG_DATA_HOME": str(state / "data"),
           "PYTHONPATH": str(catalog.REPO_DIR), "MPLBACKEND": "Agg"}
    env.pop("NBGRADER_EXECUTION", None)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", notebook], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600)
    return result.stdout + result.stderr


@pytest.mark.slow
def test_validate_fails_for_the_two_lesson_34_mistakes_a_student_got_through(tmp_path):
    """A LayerNorm dividing by sqrt(var) + eps, and a block reusing norm1 before the feed-forward: both
    passed every visible check and Validate before; the hidden tests took their points."""
    import nbformat

    from grader import acceptance, commands
    from grader.proofs.submissions import make_submission

    root = tmp_path / "grader"
    acceptance.prepare_course(LESSON_34, root)
    release = commands.generate(LESSON_34, root, capture=True)
    source_nb = nbformat.read(catalog.source_notebook(LESSON_34, root), as_version=4)
    release_nb = nbformat.read(release / f"{LESSON_34}.ipynb", as_version=4)
    submissions = {s.name: s for s in acceptance.load_submissions(LESSON_34)}
    work = tmp_path / "student"
    shutil.copytree(release, work)
    lesson, key = acceptance.post_quiz_key(root, LESSON_34)
    (work / "quiz-answers.json").write_text(acceptance.answers_text(lesson, key))  # the post quiz answered
    said = {}
    for name in ("solution", "ln-eps-outside-sqrt", "block-norm1-twice"):
        nbformat.write(make_submission(source_nb, release_nb, submissions[name]), work / f"{name}.ipynb")
        said[name] = _validate(work, f"{name}.ipynb")
    assert "Success! Your notebook passes all the tests." in said["solution"], said["solution"][-3000:]
    for name, message in (("ln-eps-outside-sqrt", "sqrt(var + eps)"), ("block-norm1-twice", "norm2")):
        assert "VALIDATION FAILED" in said[name] and message in said[name], said[name][-3000:]
