"""The authoring builder, the instructor commands and the acceptance harness, on a toy course."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import acceptance, build, commands
from grader.orchestration import score_table
from grader.plugins.skip_demo_cells import SKIPPED_SOURCE
from grader.proofs.submissions import HarnessError, Submission, make_submission

FIXTURE = Path(__file__).parent / "fixtures" / "toy-course"
SLUG = "99-toy"


# --- the authoring format ----------------------------------------------------------------

@pytest.mark.parametrize(
    "script, fragment",
    [
        ("# %% [answer] id=x\npass\n", ":1: unknown cell kind [answer]"),
        ("# %% [solution]\npass\n", ":1: a [solution] cell needs id=NAME"),
        ("# %% [tests] id=t\npass\n", ":1: a [tests] cell needs points=N"),
        ("# %% [tests] id=t points=lots\npass\n", "points='lots' is not a number"),
        ("# %% [solution] id=s points=2\npass\n", "only [tests] cells carry points"),
        ("# %% [markdown]\n# fine\nnot a comment\n", ":3: a Markdown line must start with '#'"),
        ("# %% [locked] id=a\nx\n# %% [locked] id=a\ny\n", ":3: id 'a' already used at line 1"),
        ("# %% [locked] id=a b\n", "cannot read option 'b'"),
        ("# %% [locked] id=a colour=red\n", "unknown option 'colour'"),
        ("# %% [locked] id=a/b\n", "id 'a/b' may use letters"),
        ("print('no header')\n", "no cells"),
    ],
)
def test_authoring_errors_name_the_line_and_the_fix(script, fragment):
    with pytest.raises(build.AuthoringError) as info:
        build.parse_authoring(script, "lesson.py")
    assert fragment in str(info.value)
    assert str(info.value).startswith("lesson.py")


def test_cells_get_nbgrader_metadata_by_kind():
    script = (FIXTURE / "lessons" / SLUG / "lesson.py").read_text()
    nb = build.to_notebook(build.parse_authoring(script))
    by_id = {cell.id: cell for cell in nb.cells}
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source == "# Toy lesson\nTwo functions to write."
    assert by_id["add"].metadata.nbgrader == {
        "grade": False, "grade_id": "add", "locked": False, "schema_version": 3, "solution": True, "task": False,
    }
    assert by_id["test_add"].metadata.nbgrader == {
        "grade": True, "grade_id": "test_add", "locked": True, "points": 2.0, "schema_version": 3,
        "solution": False, "task": False,
    }
    demo = next(cell for cell in nb.cells if "time.sleep" in cell.source)
    assert demo.metadata.tags == ["skip-autograde"] and "nbgrader" not in demo.metadata
    # Deterministic: building twice gives the same text.
    assert build.notebook_text(nb) == build.notebook_text(build.to_notebook(build.parse_authoring(script)))


def test_committed_instructor_notebooks_are_built_from_the_current_scripts():
    result = subprocess.run([sys.executable, "-m", "grader.build", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_graded_lists_come_from_each_lessons_grading_file(toy_course, tmp_path):
    """course/graded.json is generated from every lesson's GRADED, and --check sees it stale."""
    import json

    assert build.GRADED_LIST.read_bytes() == build.graded_list(), "run `make notebooks`"
    assert json.loads(build.GRADED_LIST.read_text())["35"][:2] == ["GPTModel", "count_parameters"]
    assert build.graded_list(toy_course) == b"{}\n", "the toy lesson declares no GRADED"
    grading = toy_course / "lessons" / SLUG / "grading.py"
    grading.write_text(grading.read_text() + '\nGRADED = ("add", "mul")\n')
    target = tmp_path / "graded.json"
    assert build.write_graded_list(toy_course, target) == [target]
    assert json.loads(target.read_text()) == {"99": ["add", "mul"]}
    assert build.write_graded_list(toy_course, target) == [], "unchanged: not written again"


# --- release, autograde, feedback, export on a toy course ---------------------------------

@pytest.mark.slow
def test_release_strips_solutions_and_keeps_learner_files(toy_course, tmp_path):
    lessons = tmp_path / "lessons"
    (lessons / SLUG).mkdir(parents=True)
    progress = lessons / SLUG / "quiz-progress.jsonl"
    progress.write_text('{"kept": true}\n')
    commands.release([SLUG], course_root=toy_course, lessons_dir=lessons)

    student = nbformat.read(lessons / SLUG / f"{SLUG}.ipynb", as_version=4)
    text = json.dumps(student)
    assert "return a + b" not in text and "HIDDEN TESTS" not in text and "add(-1, 1)" not in text
    assert "raise NotImplementedError(" in text
    assert all(not cell.get("outputs") for cell in student.cells if cell.cell_type == "code")
    assert (lessons / SLUG / "data.txt").read_text() == "toy data\n", "files beside the notebook are released"
    # Two editions: lessons/ (self-study) keeps every key; the course release withholds the post keys.
    assert (lessons / SLUG / "quiz.json").read_bytes() == (FIXTURE / "lessons" / SLUG / "quiz.json").read_bytes()
    course = json.loads((toy_course / "release" / SLUG / "quiz.json").read_text())
    assert course["edition"] == "course"
    assert [(q["id"], "correct" in q, "explanation" in q) for q in course["questions"]] == [
        ("plus", True, True), ("times", False, False), ("order", False, False)]
    assert "Two threes make six" not in (toy_course / "release" / SLUG / "quiz.json").read_text()
    graded = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "post_quiz"]
    assert len(graded) == 1 and graded[0].metadata.nbgrader.points == 2.0 and "post_quiz_status" in graded[0].source
    assert progress.read_text() == '{"kept": true}\n', "a learner's progress file must survive a release"
    assert (lessons / "00-start-here.ipynb").is_file(), "a release refreshes the course home"

    with pytest.raises(commands.CourseError, match="unknown lesson"):
        commands.release(["98-nope"], course_root=toy_course, lessons_dir=lessons)


@pytest.mark.slow
def test_autograde_feedback_export_and_clear_errors(toy_course):
    with pytest.raises(commands.CourseError, match="no submissions"):
        commands.autograde([SLUG], course_root=toy_course, quiet=True)
    with pytest.raises(commands.CourseError, match="no gradebook"):
        commands.export(toy_course)

    release_dir = commands.generate(SLUG, toy_course, capture=True)
    source_nb = nbformat.read(toy_course / "source" / SLUG / f"{SLUG}.ipynb", as_version=4)
    release_nb = nbformat.read(release_dir / f"{SLUG}.ipynb", as_version=4)
    for name, sub in {
        "ana": Submission("ana", fails=set()),
        "ben": Submission("ben", fails=set(), from_release=True),
    }.items():
        target = toy_course / "submitted" / name / SLUG
        shutil.copytree(release_dir, target)
        nbformat.write(make_submission(source_nb, release_nb, sub), target / f"{SLUG}.ipynb")
    # ana saved one right and one wrong post answer (the key: times -> 2, order -> 0); ben none.
    (toy_course / "submitted" / "ana" / SLUG / "quiz-answers.json").write_text(json.dumps(
        {"version": 1, "lesson": SLUG, "stage": "post", "answers": {"times": 2, "order": 1}}))

    scores = commands.autograde([], course_root=toy_course, quiet=True)
    assert scores[("ana", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (1.0, 2.0)}
    assert scores[("ben", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    graded = nbformat.read(toy_course / "autograded" / "ana" / SLUG / f"{SLUG}.ipynb", as_version=4)
    assert any(cell.source == SKIPPED_SOURCE for cell in graded.cells), "the skip-autograde demo must be blanked"

    feedback_dir = commands.feedback([SLUG], toy_course)
    html = (feedback_dir / "ana" / SLUG / f"{SLUG}.html").read_text()
    assert "test_add" in html
    # The quiz's feedback: right or wrong per question, never the key or the explanations.
    assert "post quiz: 1/2 correct" in html and "times: right" in html and "order: wrong" in html
    assert "Two threes make six" not in html and "Addition is commutative" not in html
    rows = list(csv.DictReader(commands.export(toy_course).open()))
    by_student = {row["student_id"]: float(row["score"]) for row in rows}
    assert by_student == {"ana": 4.0, "ben": 0.0}


@pytest.mark.slow
def test_acceptance_harness_scores_mutants_loops_and_tampering(toy_course, tmp_path):
    # 15 s per cell: the loops cost that much, and a busy 2-core machine never times out a toy cell.
    outcomes = acceptance.run_acceptance(SLUG, tmp_path / "work", cell_timeout=15, log=lambda *_: None,
                                         course_root=toy_course)
    by_name = {o.submission.name: o for o in outcomes}
    assert set(by_name) == {
        "solution", "untouched", "add-subtracts", "mul-loops-forever", "tests-retyped-and-deleted", "mul-via-loop",
        "mul-warns", "disables-the-checks", "kernel-exits", "kernel-aborts", "loop-ignores-interrupt",
        "solution-cell-copied", "solution-cell-copied-first", "solution-cell-copied-and-broken", "test-cell-copied",
        "grade-ids-edited", "points-and-flags-edited", "tests-tagged-skip", "cells-deleted", "not-json", "no-cells",
        "writes-the-gradebook", "reads-hidden-tests-and-others", "edits-installed-code", "uses-the-network",
        "course-folder-beside-notebook", "input-transformer", "patches-checks-indirectly", "memory-bomb",
        "detached-child", "quiz-all-right", "quiz-one-wrong", "quiz-one-unanswered", "quiz-no-answers-file",
        "quiz-answers-not-json", "quiz-answers-huge", "quiz-answers-as-letters", "quiz-forged-in-kernel",
        "quiz-rewritten-in-kernel"}
    assert [o.problem() for o in outcomes] == [None] * len(outcomes), acceptance.report(SLUG, outcomes)
    # run_acceptance itself raises Tampering if course code, sources, submissions or the first
    # student's gradebook rows changed; a detached child must not outlive the grading either.
    leftovers = [p for p in Path("/proc").glob("[0-9]*/cmdline") if _reads(p).startswith("sleep\x001237")]
    assert not leftovers, "a process started by a submission outlived grading"
    assert by_name["memory-bomb"].status.label == "NEEDS REVIEW (out of memory)"
    assert by_name["input-transformer"].grades == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert by_name["solution"].grades == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert by_name["untouched"].failed == {"test_add", "test_mul", "post_quiz"}
    # The post quiz scores what was handed in, whatever the kernel printed or wrote while graded.
    for name, points in (("quiz-one-wrong", 1.0), ("quiz-no-answers-file", 0.0), ("quiz-answers-huge", 0.0),
                         ("quiz-answers-not-json", 0.0), ("quiz-forged-in-kernel", 1.0),
                         ("quiz-rewritten-in-kernel", 0.0)):
        assert by_name[name].grades == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (points, 2.0)}, name
        assert by_name[name].status.label == "graded", name
    assert by_name["mul-loops-forever"].grades["test_add"] == (2.0, 2.0), "grading goes on after a timeout"
    assert by_name["tests-retyped-and-deleted"].grades["test_add"] == (2.0, 2.0)
    assert by_name["tests-retyped-and-deleted"].grades["test_mul"] == (0.0, 1.0), "retyped tests are restored"
    cheat = by_name["disables-the-checks"]
    # Its test_add passed in the kernel (the check was switched off); the outside check zeroes it.
    assert cheat.grades == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert cheat.status.label == "NEEDS REVIEW (outside check)"
    assert any("course" in str(f) for f in cheat.findings)
    assert not by_name["solution"].findings
    # Points and grade flags come from the source, whatever the student's metadata says.
    assert by_name["points-and-flags-edited"].grades == {"test_add": (2.0, 2.0), "test_mul": (0.0, 1.0),
                                                         "post_quiz": (2.0, 2.0)}
    assert by_name["tests-tagged-skip"].grades == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    # A kernel that dies or will not be interrupted, and a file that is not a notebook, say so.
    for name, reason in (("kernel-aborts", "kernel died"), ("loop-ignores-interrupt", "kernel could not be interrupted"),
                         ("not-json", "malformed notebook"), ("no-cells", "malformed notebook")):
        assert by_name[name].status.label == f"NEEDS REVIEW ({reason})", name
    # The quiz is scored outside the kernel: a kernel that died before its cell does not cost it.
    assert by_name["kernel-aborts"].grades == {"test_add": (2.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert by_name["solution"].status.label == "graded"
    assert "PROBLEM" not in acceptance.report(SLUG, outcomes)


def _reads(path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_acceptance_reports_a_mutant_that_scores_unexpectedly():
    outcome = acceptance.Outcome(Submission("m", fails={"test_add"}),
                                 {"test_add": (2.0, 2.0), "test_mul": (0.0, 1.0)})
    problem = outcome.problem()
    assert "also failed ['test_mul']" in problem and "should have failed ['test_add'] but passed" in problem
    assert acceptance.Outcome(Submission("n", fails=set()), None).problem() == "n: not graded at all"
    partial = acceptance.Outcome(Submission("p", fails={"post_quiz"}, scores={"post_quiz": 1}),
                                 {"test_add": (2.0, 2.0), "post_quiz": (0.0, 2.0)})
    assert partial.problem() == "p: post_quiz scored 0, expected 1"
    full = {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0)}
    silent = acceptance.Outcome(Submission("d", fails=set(), review={"kernel died"}), full,
                                status=score_table.Status())
    assert silent.problem() == "d: expected NEEDS REVIEW (kernel died), got graded"
    loud = acceptance.Outcome(Submission("e", fails=set()), full,
                              status=score_table.Status(("kernel died",), pending=True))
    assert loud.problem() == "e: expected graded, got NEEDS REVIEW (kernel died)"


def test_stale_mutant_edit_is_an_error():
    script = (FIXTURE / "lessons" / SLUG / "lesson.py").read_text()
    source_nb = build.to_notebook(build.parse_authoring(script))
    with pytest.raises(HarnessError, match="occurs 0 times"):
        make_submission(source_nb, source_nb, Submission(
            "stale", fails=set(), edits={"add": [("return a * 2", "x")]}))
