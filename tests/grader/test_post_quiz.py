"""The graded post quiz on the instructor's side: the course edition the build writes, the graded
cell it adds, and the trusted scoring of the answers handed in (``grader.trusted.post_quiz``)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade

from grader import build
from grader.trusted import post_quiz
from quiz import load_quiz

FIXTURE = Path(__file__).parent / "fixtures" / "toy-course"
SLUG = "99-toy"
ANSWERS = "quiz-answers.json"


def answers(values, **top) -> str:
    return json.dumps({"version": 1, "lesson": SLUG, "stage": "post", "answers": values, **top})


@pytest.fixture
def course(tmp_path) -> Path:
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    return root


def graded_cell(outputs=()):
    cell = nbformat.v4.new_code_cell('from quiz import post_quiz_status\npost_quiz_status("quiz.json")')
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "post_quiz", "locked": True, "points": 2.0,
                                 "schema_version": 3, "solution": False, "task": False}
    cell.execution_count = 9
    cell.outputs = list(outputs)
    return cell


# --- the build ----------------------------------------------------------------------------------

def test_the_course_edition_withholds_only_the_post_keys(course):
    raw = (course / "lessons" / SLUG / "quiz.json").read_bytes()
    stripped = json.loads(build.course_quiz_bytes(raw))
    assert stripped["edition"] == "course" and stripped["lesson"] == SLUG
    assert stripped["questions"][0] == json.loads(raw)["questions"][0]  # the pre question, untouched
    assert stripped["questions"][1] == {"id": "times", "stage": "post", "question": "What is 2 * 3?",
                                        "options": ["5", "8", "6", "9"]}
    assert "correct" not in stripped["questions"][2] and "explanation" not in stripped["questions"][2]
    # a bare list of questions becomes a course-edition object too
    assert json.loads(build.course_quiz_bytes(json.dumps(json.loads(raw)["questions"]).encode()))["edition"] == "course"


def test_a_post_question_without_an_id_cannot_be_released(course):
    data = json.loads((course / "lessons" / SLUG / "quiz.json").read_text())
    del data["questions"][2]["id"]
    with pytest.raises(build.AuthoringError, match="has no key and no id"):
        build.course_quiz_bytes(json.dumps(data).encode(), "quiz.json")


def test_the_build_writes_the_course_edition_and_the_graded_cell(course):
    files = build.build(SLUG, course)
    source = course / "source" / SLUG
    assert json.loads(files[source / "quiz.json"])["edition"] == "course"
    assert files[source / "data.txt"] == (course / "lessons" / SLUG / "data.txt").read_bytes()
    nb = nbformat.reads(files[source / f"{SLUG}.ipynb"].decode(), as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if 'show_quiz("quiz.json", stage="post")' in c.source)
    cell = nb.cells[index + 1]
    assert cell.id == "post_quiz" and cell.metadata.nbgrader == {
        "grade": True, "grade_id": "post_quiz", "locked": True, "points": 2.0, "schema_version": 3,
        "solution": False, "task": False}
    assert cell.source.endswith('from quiz import post_quiz_status\npost_quiz_status("quiz.json")')
    # the script's cells keep the ids they had without the generated one
    plain = build.to_notebook(build.parse_authoring((course / "lessons" / SLUG / "lesson.py").read_text()))
    assert [c.id for c in nb.cells if c.id != "post_quiz"] == [c.id for c in plain.cells]
    assert build.self_study_files(SLUG, course) == {"quiz.json": (course / "lessons" / SLUG / "quiz.json").read_bytes()}


def test_post_questions_need_the_post_quiz_cell(course):
    cells = build.parse_authoring("# %%\nprint('no quiz here')\n")
    with pytest.raises(build.AuthoringError, match=r'exactly one code cell with show_quiz\("quiz.json", stage="post"\)'):
        build.add_post_quiz_cell(cells, 2)
    assert build.add_post_quiz_cell(cells, 0) == cells  # no post questions: no graded cell
    taken = build.parse_authoring("# %% [locked] id=post_quiz\nx = 1\n# %%\nshow_quiz('quiz.json', 'post')\n")
    with pytest.raises(build.AuthoringError, match="is the build's own"):
        build.add_post_quiz_cell(taken, 2)


# --- the trusted scoring ------------------------------------------------------------------------

def score(course, folder, text=None, outputs=()):
    if text is not None:
        (folder / ANSWERS).write_text(text)
    cell = graded_cell(outputs)
    problem = post_quiz.score_cell(cell, course, SLUG, folder)
    return cell, problem


@pytest.mark.parametrize("values, points, lines", [
    ({"times": 2, "order": 0}, 2.0, ["post quiz: 2/2 correct", "  times: right", "  order: right"]),
    ({"times": 1, "order": 0}, 1.0, ["post quiz: 1/2 correct", "  times: wrong", "  order: right"]),
    ({"order": 1, "extra": 3}, 0.0, ["post quiz: 0/2 correct", "  times: no answer saved", "  order: wrong"]),
])
def test_answers_are_scored_against_the_instructors_key(course, tmp_path, values, points, lines):
    cell, problem = score(course, tmp_path, answers(values))
    assert problem is None
    assert cell.outputs == [
        nbformat.v4.new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"{points:g}"}, execution_count=9)]
    assert determine_grade(cell) == (points, 2.0)  # what nbgrader's SaveAutoGrades records


def test_whatever_the_kernel_printed_in_the_cell_is_replaced(course, tmp_path):
    forged = [nbformat.v4.new_output("stream", name="stdout", text="post quiz: 2/2 correct\n"),
              nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=9)]
    assert determine_grade(graded_cell(forged)) == (2.0, 2.0)  # nbgrader alone would believe it
    cell, _ = score(course, tmp_path, answers({"times": 0, "order": 1}), outputs=forged)
    assert determine_grade(cell) == (0.0, 2.0)
    assert "2/2" not in json.dumps(cell.outputs)


@pytest.mark.parametrize("text, reason", [
    (None, "no quiz-answers.json was handed in"),
    ("{ answers", "quiz-answers.json cannot be used: the file is not valid JSON"),
    (answers({"times": 2, "order": 0}, pad="x" * 70000), "quiz-answers.json has 70"),
    (json.dumps({"version": 1, "lesson": "35-gpt-model-assembly", "stage": "post", "answers": {"times": 2}}),
     "answers for another lesson ('35-gpt-model-assembly')"),
])
def test_a_missing_or_unusable_file_scores_zero_and_says_why(course, tmp_path, text, reason):
    cell, problem = score(course, tmp_path, text)
    assert problem is None  # the student's file, not the instructor's key: no review needed
    assert cell.outputs[0]["text"].startswith("post quiz: 0/2 correct: ") and reason in cell.outputs[0]["text"]
    assert determine_grade(cell) == (0.0, 2.0)


def test_links_and_special_files_are_never_followed(course, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text(answers({"times": 2, "order": 0}))
    link_folder = tmp_path / "link"
    link_folder.mkdir()
    (link_folder / ANSWERS).symlink_to(secret)
    cell, _ = score(course, link_folder)
    assert "is a symbolic link" in cell.outputs[0]["text"] and determine_grade(cell) == (0.0, 2.0)
    fifo_folder = tmp_path / "fifo"
    fifo_folder.mkdir()
    os.mkfifo(fifo_folder / ANSWERS)
    cell, _ = score(course, fifo_folder)  # must not block
    assert "is not a plain file" in cell.outputs[0]["text"] and determine_grade(cell) == (0.0, 2.0)


def test_an_unusable_key_scores_zero_and_asks_for_review(course, tmp_path):
    key = course / "lessons" / SLUG / "quiz.json"
    key.write_bytes(build.course_quiz_bytes(key.read_bytes()))  # the course edition, by mistake
    cell, problem = score(course, tmp_path, answers({"times": 2, "order": 0}))
    assert "has no key for post question 'times'" in problem
    assert cell.outputs[0]["output_type"] == "error" and determine_grade(cell) == (0.0, 2.0)
    key.unlink()
    _, problem = score(course, tmp_path)
    assert "cannot read the key" in problem


def test_the_instructors_key_is_the_lesson_folders_quiz(course):
    lesson, key = post_quiz.load_key(course, SLUG)
    assert (lesson, key) == (SLUG, [("times", 2), ("order", 0)])
    assert load_quiz(course / "lessons" / SLUG / "quiz.json").questions[1].correct == 2
