"""Grading bookkeeping: restoring submissions from the source, NEEDS REVIEW instead of silent
zeros, reviews that survive regrading, and feedback without hidden tests."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grader import build, commands, sandbox, trusted
from grader.orchestration import bookkeeping, score_table
from grader.plugins import GradingExecute, HideHiddenTests, TolerantNotebookExporter
from grader.plugins.cells import META
from grader.plugins.hide_hidden_tests import hide_hidden_tests
from grader.plugins.mark_for_review import apply_verdict
from grader.plugins.restore_from_source import restore_from_source, solution_stub
from grader.plugins.reviews import forget_old_review, mark_for_review, submission_review
from grader.plugins.state import file_sha256, read_state, read_verdict, record_state
from grader.proofs.submissions import Submission, copy_cell, make_submission

FIXTURE = Path(__file__).parent / "fixtures" / "toy-course"
SLUG = "99-toy"
HIDDEN = "add(-1, 1)"  # the toy lesson's hidden test


# --- restoring a submission from the source (no nbgrader needed) -----------------------------

@pytest.fixture
def source():
    return build.to_notebook(build.parse_authoring((FIXTURE / "lessons" / SLUG / "lesson.py").read_text()))


def answered(source):
    """The submission of a student who answered everything correctly (as released, then filled in)."""
    nb = nbformat.from_dict(source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = build.strip_solution_markers(cell.source)
        elif cell.metadata.get("nbgrader", {}).get("grade"):
            cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0].strip()  # the student version
    return nb


def by_id(nb, cell_id):
    return next(cell for cell in nb.cells if cell.get("id") == cell_id)


def graded_ids(nb):
    return [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells if cell.metadata.get("nbgrader")]


def restore(submitted, source):
    nb, notes, problem = restore_from_source(submitted, source)
    nbformat.validate(nb)
    assert len({cell.id for cell in nb.cells}) == len(nb.cells), "cell ids stay unique"
    return nb, notes, problem


def test_an_untouched_submission_comes_back_as_it_was(source):
    submitted = answered(source)
    nb, notes, problem = restore(submitted, source)
    assert problem is None and notes == []
    assert [c.id for c in nb.cells] == [c.id for c in source.cells]
    assert by_id(nb, "add").source == by_id(submitted, "add").source, "the student's answer is graded"
    assert by_id(nb, "test_add").source == by_id(source, "test_add").source, "hidden tests are back"


@pytest.mark.parametrize("before", [False, True])
def test_a_copied_solution_cell_grades_the_copy_that_is_not_the_stub(source, before):
    submitted = answered(source)
    stub = solution_stub(by_id(source, "add"))
    copy_cell(submitted, "add", "add-copy", stub, before=before)
    nb, notes, _ = restore(submitted, source)
    assert graded_ids(nb) == graded_ids(source)
    assert by_id(nb, "add").source == by_id(answered(source), "add").source
    assert stub not in [cell.source for cell in nb.cells], "the unanswered copy does not run"
    assert any("'add' appears 2 times" in note and "first that differs from the stub" in note for note in notes)


def test_a_second_answered_copy_runs_where_it_is_as_an_ordinary_cell(source):
    submitted = copy_cell(answered(source), "add", "add-copy", "def add(a, b):\n    return a - b")
    nb, notes, _ = restore(submitted, source)
    index = [c.id for c in nb.cells].index("add")
    copy = nb.cells[index + 1]
    assert copy.source == "def add(a, b):\n    return a - b" and "nbgrader" not in copy.metadata
    assert graded_ids(nb) == graded_ids(source)


def test_copied_test_cells_are_dropped_and_the_tags_of_the_source_count(source):
    submitted = copy_cell(answered(source), "test_add", "test-add-copy")
    for cell_id in ("test_add", "test_mul"):
        by_id(submitted, cell_id).metadata["tags"] = ["skip-autograde"]
    extra = nbformat.v4.new_code_cell("print('mine')", metadata={
        "tags": ["skip-autograde"], "nbgrader": {"grade": True, "grade_id": "bonus", "points": 50, "locked": False,
                                                 "solution": False, "schema_version": 3}})
    submitted.cells.append(extra)
    nb, notes, _ = restore(submitted, source)
    assert graded_ids(nb) == graded_ids(source), "no copy, and the student cannot create a graded cell"
    assert "tags" not in by_id(nb, "test_add").metadata and "tags" not in by_id(nb, "test_mul").metadata
    mine = nb.cells[-1]
    assert mine.source == "print('mine')" and "nbgrader" not in mine.metadata and "tags" not in mine.metadata
    demo = next(c for c in nb.cells if "time.sleep" in c.source)
    assert demo.metadata["tags"] == ["skip-autograde"], "the source's demo cell keeps its tag"
    assert any("tags changed" in note for note in notes)


def test_edited_grade_ids_points_and_flags_are_restored(source):
    submitted = answered(source)
    by_id(submitted, "add").metadata.nbgrader.update(grade_id="my_add")
    by_id(submitted, "test_add").metadata.nbgrader.update(points=100.0)
    by_id(submitted, "test_mul").metadata.nbgrader.update(grade=False, solution=True, locked=False)
    by_id(submitted, "mul").cell_type = "markdown"
    nb, notes, _ = restore(submitted, source)
    for cell_id in ("add", "test_add", "test_mul", "mul"):
        assert by_id(nb, cell_id).metadata == by_id(source, cell_id).metadata
        assert by_id(nb, cell_id).cell_type == by_id(source, cell_id).cell_type
    assert by_id(nb, "add").source == by_id(answered(source), "add").source, "matched by cell id"
    assert by_id(nb, "mul").source == by_id(answered(source), "mul").source
    assert any("grade id was changed to 'my_add'" in note for note in notes)
    assert any("'test_add': nbgrader metadata changed (points)" in note for note in notes)


def test_deleted_and_moved_cells(source):
    submitted = answered(source)
    submitted.cells = [c for c in submitted.cells if c.id not in ("add", "test_mul")]
    # test_add moved to the top, with a note of the student's right after it
    test_add = by_id(submitted, "test_add")
    submitted.cells.remove(test_add)
    note = nbformat.v4.new_markdown_cell("my note about test_add")
    submitted.cells[:0] = [test_add, note]
    nb, notes, _ = restore(submitted, source)
    assert graded_ids(nb) == graded_ids(source), "the source's order"
    assert by_id(nb, "add").source == solution_stub(by_id(source, "add")), "a deleted answer is unanswered"
    assert by_id(nb, "test_mul").source == by_id(source, "test_mul").source
    ids = [c.id for c in nb.cells]
    assert nb.cells[ids.index("test_add") + 1].source == "my note about test_add", "ordinary cells move along"
    assert any("'add' was missing" in n for n in notes) and any("'test_mul' was missing" in n for n in notes)


@pytest.mark.parametrize("submitted", [{"cells": []}, {"cells": "nope"}, {}, []])
def test_a_notebook_without_cells_is_ungradable(source, submitted):
    nb, _, problem = restore(submitted, source)
    assert problem == "the notebook has no cells"
    assert by_id(nb, "add").source == solution_stub(by_id(source, "add"))
    assert graded_ids(nb) == graded_ids(source)


def test_malformed_cells_do_not_crash_the_restore(source):
    submitted = answered(source)
    submitted.cells.append("not a cell")
    submitted.cells.append({"cell_type": "code", "source": ["print(", "1)"], "metadata": "junk"})
    nb, notes, problem = restore(submitted, source)
    assert problem is None and nb.cells[-1].source == "print(1)"
    assert any("unreadable cell" in note for note in notes)


@pytest.mark.parametrize("content", [b"{ not json", b'{"cells": 5}', b"\x89PNG\xff\xfe"])
def test_the_tolerant_exporter_marks_unreadable_files_instead_of_raising(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    output, _ = TolerantNotebookExporter().from_filename(str(path))
    assert "unreadable" in nbformat.reads(output, as_version=4).metadata[META]
    ok = tmp_path / "ok.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), ok)
    output, _ = TolerantNotebookExporter().from_filename(str(ok))
    assert META not in nbformat.reads(output, as_version=4).metadata


def test_tests_that_did_not_run_score_zero_not_full_marks(source):
    nb = nbformat.from_dict(source)
    nb.metadata[META] = {"ungradable": True, "review": [["malformed notebook", "no cells"]]}
    nb, _ = GradingExecute().preprocess(nb, {})  # an ungradable submission starts no kernel
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            assert cell.outputs and cell.outputs[0].output_type == "error"


# --- feedback without hidden tests -------------------------------------------------------------

def test_hidden_tests_are_cut_from_feedback_cells():
    text = "check(1)\n    ### BEGIN HIDDEN TESTS\n    check(secret)\n    ### END HIDDEN TESTS\ncheck(2)"
    assert hide_hidden_tests(text) == ("check(1)\n    # (hidden tests: not shown)\ncheck(2)", True)
    cell = nbformat.v4.new_code_cell(text)
    cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="secret: expected 1",
                                           traceback=["----> 3 check(secret)", "CheckFailed: secret: expected 1"])]
    cell, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "check(secret)" not in cell.source
    assert cell.outputs[0].traceback == ["CheckFailed: secret: expected 1"], "tracebacks quote code: cut"
    plain = nbformat.v4.new_code_cell("x = 1")
    assert HideHiddenTests().preprocess_cell(plain, {}, 0)[0].source == "x = 1"


# --- the gradebook side, with stand-ins for nbgrader's records -----------------------------------

def record(*grade_names, comments=("add", "mul")):
    grades = [SimpleNamespace(name=n, auto_score=1.0, manual_score=None, needs_manual_grade=False) for n in grade_names]
    return SimpleNamespace(grades=grades, comments=[SimpleNamespace(name=n, auto_comment=None) for n in comments])


def test_needs_review_is_a_comment_and_flags_that_accumulate():
    rec = record("test_add", "test_mul")
    rec.comments[0].auto_comment = "No response."
    mark_for_review(rec, [["kernel died", "it died in test_mul"]], "add")
    assert submission_review(rec) == (["kernel died"], True)
    mark_for_review(rec, [["integrity scan", "cell 2"], ["kernel died", "again"]], "add", hold=True)
    assert rec.comments[0].auto_comment == (
        "NEEDS REVIEW (kernel died; integrity scan): it died in test_mul / cell 2\n\nNo response.")
    assert all(g.manual_score == 0.0 and g.needs_manual_grade for g in rec.grades)
    for grade in rec.grades:  # the instructor reviews it in formgrader
        grade.manual_score, grade.needs_manual_grade = 1.0, False
    assert submission_review(rec) == (["kernel died", "integrity scan"], False)
    forget_old_review(rec)
    assert all(g.manual_score is None and not g.needs_manual_grade for g in rec.grades)


def test_a_sandbox_verdict_names_the_reason(tmp_path):
    folder = tmp_path / "autograded" / "ana" / SLUG
    folder.mkdir(parents=True)
    assert read_verdict(folder) is None
    sandbox.verdict_path(folder).write_text(json.dumps({"sandboxed": True, "reason": "out of memory",
                                                        "peak_bytes": 3 * 2**30}))
    verdict = read_verdict(folder)
    assert verdict["reason"] == "out of memory"
    assert read_verdict(folder, not_before=time.time() + 60) is None, "an earlier run's verdict is ignored"
    nb = nbformat.v4.new_notebook()
    nb.metadata[META] = {"review": [["kernel died", "the kernel died while running cell 'test_mul'"]]}
    apply_verdict(nb, verdict)
    assert nb.metadata[META]["review"] == [["out of memory",
                                            "the sandbox stopped the kernel (out of memory); peak memory 3072 MiB"]]
    quiet = nbformat.v4.new_notebook()
    apply_verdict(quiet, {"sandboxed": False, "reason": None, "peak_bytes": None})
    assert "review" not in quiet.metadata[META] and quiet.metadata[META]["notes"]


def test_status_labels_in_the_score_table():
    scores = {("ana", SLUG): {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0)},
              ("ben", SLUG): {"test_add": (2.0, 2.0), "test_mul": (0.0, 1.0)},
              ("cyd", SLUG): {"test_add": (1.0, 2.0), "test_mul": (1.0, 1.0)}}
    statuses = {("ana", SLUG): score_table.Status(),
                ("ben", SLUG): score_table.Status(("kernel died",), pending=True),
                ("cyd", SLUG): score_table.Status(("integrity scan",), pending=False)}
    table = score_table.format_score_table(scores, statuses).splitlines()
    assert "3/3" in table[1] and "NEEDS REVIEW" not in table[1]
    assert "NEEDS REVIEW (kernel died)" in table[2] and "so far 2/3; failed: test_mul" in table[2]
    assert "2/3" in table[3] and "reviewed (integrity scan)" in table[3]


def test_unchanged_submissions_are_skipped_unless_forced(tmp_path):
    root = tmp_path / "grader"
    for student in ("ana", "ben"):
        path = root / "submitted" / student / SLUG / f"{SLUG}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text("{}")
        (root / "autograded" / student / SLUG).mkdir(parents=True)
        (root / "autograded" / student / SLUG / f"{SLUG}.ipynb").write_text("{}")
        record_state(root, student, SLUG, file_sha256(path), [], [])
    assert bookkeeping.to_grade(root, SLUG, ["ana", "ben", "cyd"]) == (["cyd"], ["ana", "ben"])
    (root / "submitted" / "ben" / SLUG / f"{SLUG}.ipynb").write_text('{"changed": 1}')
    assert bookkeeping.to_grade(root, SLUG, ["ana", "ben"]) == (["ben"], ["ana"])
    assert bookkeeping.to_grade(root, SLUG, ["ana", "ben"], force=True) == (["ana", "ben"], [])
    assert set(read_state(root)) == {"ana", "ben"}


# --- end to end on the toy course ---------------------------------------------------------------

def hand_in(root: Path, student: str, submission: Submission) -> Path:
    release_dir = root / "release" / SLUG
    if not release_dir.exists():
        commands.generate(SLUG, root, capture=True)
    source_nb = nbformat.read(root / "source" / SLUG / f"{SLUG}.ipynb", as_version=4)
    release_nb = nbformat.read(release_dir / f"{SLUG}.ipynb", as_version=4)
    target = root / "submitted" / student / SLUG
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{SLUG}.ipynb"
    nbformat.write(make_submission(source_nb, release_nb, submission), path)
    return path


def gradebook(root: Path):
    from nbgrader.api import Gradebook

    return Gradebook("sqlite:///" + str(root / "gradebook.db"))


CHEAT = Submission("ben", fails=set(), cells={
    "add": "import course.checks\ncourse.checks.expect_equal = lambda *a, **k: None\ndef add(a, b):\n    return a - b"})
DIES = Submission("cyd", fails=set(), edits={"mul": [("return a * b", "import os\n    os.abort()")]})


@pytest.mark.slow
def test_reviews_persist_until_the_submission_changes(toy_course, monkeypatch):
    monkeypatch.setenv("GPT2_COURSE_CELL_TIMEOUT", "20")
    root = toy_course
    # The integrity hold, as lessons without an outside check (no probes in grading.py) have it.
    grading = root / "lessons" / SLUG / "grading.py"
    text = grading.read_text()
    begin, end = text.index(trusted.PROBES_BEGIN), text.index(trusted.PROBES_END)
    grading.write_text(text[:begin] + text[end:])
    ana = hand_in(root, "ana", Submission("ana", fails=set()))
    hand_in(root, "ben", CHEAT)
    hand_in(root, "cyd", DIES)

    scores = commands.autograde([SLUG], root, quiet=True)
    status = score_table.read_statuses(root, [SLUG])
    assert scores[("ana", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert status[("ana", SLUG)].label == "graded"
    assert scores[("ben", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}, "held at zero"
    assert status[("ben", SLUG)].label == "NEEDS REVIEW (integrity scan)"
    assert scores[("cyd", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert status[("cyd", SLUG)].label == "NEEDS REVIEW (kernel died)"

    # The instructor reviews ben (innocent after all: 1 point) and overrides one of ana's grades.
    with gradebook(root) as gb:
        for name, score in (("test_add", 1.0), ("test_mul", 0.0), ("post_quiz", 0.0)):
            grade = gb.find_grade(name, SLUG, SLUG, "ben")
            grade.manual_score, grade.needs_manual_grade = score, False
        grade = gb.find_grade("test_add", SLUG, SLUG, "ana")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.db.commit()
    graded_at = read_state(root)["ben"][SLUG]["graded_at"]

    for force in (False, True):  # skipped as unchanged; then regraded in the same version
        scores = commands.autograde([SLUG], root, quiet=True, force=force)
        status = score_table.read_statuses(root, [SLUG])
        assert scores[("ben", SLUG)] == {"test_add": (1.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}, "no new hold"
        assert status[("ben", SLUG)].label == "reviewed (integrity scan)"
        assert scores[("ana", SLUG)]["test_add"] == (1.5, 2.0) and status[("ana", SLUG)].label == "graded"
        assert status[("cyd", SLUG)].label == "NEEDS REVIEW (kernel died)"
        assert (read_state(root)["ben"][SLUG]["graded_at"] == graded_at) is not force

    # ana hands in a new version: graded afresh, the old manual score no longer applies.
    nb = nbformat.read(ana, as_version=4)
    by_id(nb, "add").source = by_id(nb, "add").source.replace("return a + b", "return a - b")
    nbformat.write(nb, ana)
    scores = commands.autograde([SLUG], root, quiet=True)
    assert scores[("ana", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert scores[("ben", SLUG)]["test_add"] == (1.0, 2.0)

    rows = {row["student_id"]: row for row in csv.DictReader(commands.export(root).open())}
    assert {"assignment", "student_id", "score", "max_score", "status"} <= set(rows["ana"])
    assert {s: rows[s]["status"] for s in rows} == {
        "ana": "graded", "ben": "reviewed (integrity scan)", "cyd": "NEEDS REVIEW (kernel died)"}
    assert float(rows["cyd"]["score"]) == 2.0

    feedback = commands.feedback([SLUG], root)
    for student in ("ana", "ben", "cyd"):
        graded = (root / "autograded" / student / SLUG / f"{SLUG}.ipynb").read_text()
        html = (feedback / student / SLUG / f"{SLUG}.html").read_text()
        assert HIDDEN in graded, "the autograded notebook holds the hidden tests"
        assert HIDDEN not in html and "hidden tests: not shown" in html
    assert "NEEDS REVIEW (kernel died)" in (feedback / "cyd" / SLUG / f"{SLUG}.html").read_text()


@pytest.mark.slow
def test_plain_nbgrader_autograde_restores_holds_and_never_crashes(toy_course):
    root = toy_course

    def tag_tests(nb):
        for cell_id in ("test_add", "test_mul"):
            by_id(nb, cell_id).metadata["tags"] = ["skip-autograde"]
        return nb

    hand_in(root, "ana", Submission("ana", fails=set(), from_release=True, transform=tag_tests))
    hand_in(root, "ben", CHEAT)
    hand_in(root, "dan", Submission("dan", fails=set(), transform=lambda nb: copy_cell(
        copy_cell(nb, "test_add", "test-add-copy"), "add", "add-copy")))
    eve = root / "submitted" / "eve" / SLUG / f"{SLUG}.ipynb"
    eve.parent.mkdir(parents=True)
    eve.write_bytes(b"\x89PNG not a notebook")
    result = commands.nbgrader(["autograde", SLUG, "--force"], root, capture=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    scores = score_table.read_scores(root, [SLUG])
    status = score_table.read_statuses(root, [SLUG])
    assert scores[("ana", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}, "skip tags do not score"
    # Plain nbgrader goes through the outside check too: ben's test_add passed in his kernel
    # (checks switched off) but his add is wrong; his right mul keeps its point.
    assert scores[("ben", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}, "checked outside without make"
    assert status[("ben", SLUG)].label == "NEEDS REVIEW (outside check)"
    assert scores[("dan", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}, "copies do not crash"
    assert scores[("eve", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert status[("eve", SLUG)].label == "NEEDS REVIEW (malformed notebook)"
    with gradebook(root) as gb:
        comment = gb.find_comment("add", SLUG, SLUG, "eve").comment
    assert comment.startswith("NEEDS REVIEW (malformed notebook): nbformat cannot read it")

    # What nbgrader's pipeline cannot record, `make autograde` adds afterwards: a submission
    # nbgrader failed on (no graded notebook) and a sandbox verdict that came late.
    (root / "autograded" / "dan" / SLUG / f"{SLUG}.ipynb").unlink()
    sandbox.verdict_path(root / "autograded" / "ana" / SLUG).write_text(
        json.dumps({"sandboxed": True, "reason": "wall clock", "peak_bytes": None}))
    bookkeeping.after_nbgrader(root, SLUG, ["ana", "dan"], started=time.time() - 5)
    scores = score_table.read_scores(root, [SLUG])
    status = score_table.read_statuses(root, [SLUG])
    assert status[("dan", SLUG)].label == "NEEDS REVIEW (nbgrader failed)"
    assert scores[("dan", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}, "no stale scores"
    assert status[("ana", SLUG)].label == "NEEDS REVIEW (wall clock)"
    assert bookkeeping.to_grade(root, SLUG, ["dan"]) == ([], ["dan"]), "reviewed failures stay reviewed"
