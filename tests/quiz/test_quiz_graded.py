"""Questions without their key (a course release's graded post quiz): the format, the saved
answers file, the widget's "answer saved" mode, the status line, report and home."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quiz import QuizError, home, load_quiz, post_quiz_status
from quiz.answers import ANSWERS_FILE, MAX_BYTES, parse_answers, read_answers, save_answer
from quiz.cli import main
from quiz.lint import lint_quiz
from quiz.progress import stage_score
from quiz.selection import select
from quiz.static import render_html
from quiz.widgets import QuizView

LESSON = "77-graded"
PRE = {"id": "warm-up", "stage": "pre", "question": "一加一等于几？", "options": ["一", "二", "三"],
       "correct": 1, "explanation": "一加一等于二。"}
G1 = {"id": "g-one", "stage": "post", "question": "二乘三等于几？", "options": ["五", "六", "八", "九"]}
G2 = {"id": "g-two", "stage": "post", "question": "加法满足交换律吗？", "options": ["满足", "不满足"]}


def course_file(folder: Path, questions=(PRE, G1, G2), **top) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quiz.json"
    data = {"lesson": LESSON, "title": "课程版", "edition": "course", "questions": list(questions), **top}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def graded_quiz(tmp_path) -> Path:
    return course_file(tmp_path / LESSON)


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


# --- the format ------------------------------------------------------------------------------

def test_a_course_edition_may_withhold_the_post_keys(graded_quiz):
    quiz = load_quiz(graded_quiz)
    assert [q.has_key for q in quiz.questions] == [True, False, False]
    assert quiz.keyless and quiz.questions[1].correct is None and quiz.questions[1].explanation is None
    assert quiz.questions[1].correct_option is None


@pytest.mark.parametrize("questions, edition, fragments", [
    ([G1], None, ['question 1 (id "g-one"), field "correct": missing required key "correct"']),
    ([G1], "full", ['field "correct": missing required key "correct"']),
    ([dict(G1, stage="pre")], "course", ['field "stage": has no key, but only post questions may withhold it']),
    ([{k: v for k, v in G1.items() if k != "id"}], "course", ['field "id": has no key and no id']),
    ([dict(G1, correct=1)], "course", ['field "explanation": has correct but no explanation']),
    ([dict(G1, explanation="")], "course", ['field "correct": has explanation but no correct']),
    ([G1], "draft", ['field "edition": expected "full" or "course"', 'got "draft"']),
])
def test_a_key_is_withheld_only_where_it_may_be(tmp_path, questions, edition, fragments):
    data = {"lesson": LESSON, "questions": questions}
    if edition is not None:
        data["edition"] = edition
    path = tmp_path / "quiz.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(QuizError) as caught:
        load_quiz(path)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_lint_skips_questions_without_a_key(graded_quiz):
    report = lint_quiz(load_quiz(graded_quiz))
    assert report.positions == {"A": 0, "B": 1, "C": 0, "D": 0}
    assert [check.number for check in report.lengths] == [1] and not report.empty_explanations


# --- the answers file -----------------------------------------------------------------------

def test_save_answer_keeps_the_original_index_and_replaces_earlier_ones(tmp_path):
    path = tmp_path / ANSWERS_FILE
    save_answer(path, LESSON, "g-one", 3)
    save_answer(path, LESSON, "g-two", 0)
    save_answer(path, LESSON, "g-one", 1)
    assert json.loads(path.read_text()) == {
        "version": 1, "lesson": LESSON, "stage": "post", "answers": {"g-one": 1, "g-two": 0}}
    assert read_answers(path, LESSON).answers == {"g-one": 1, "g-two": 0}


@pytest.mark.parametrize("raw, problem", [
    (b"{ not json", "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[1, 2]", "does not hold a JSON object"),
    (b'{"version": 2, "lesson": "77-graded", "stage": "post", "answers": {}}', "not a version-1 answers file"),
    (b'{"version": 1, "lesson": "77-graded", "stage": "pre", "answers": {}}', "does not hold post answers"),
    (b'{"version": 1, "lesson": "other", "stage": "post", "answers": {}}', "for another lesson ('other')"),
    (b'{"version": 1, "lesson": "77-graded", "stage": "post", "answers": [1]}', 'no "answers" object'),
    (b'{"version": 1, "lesson": "77-graded", "stage": "post", "answers": {}, "pad": "' + b"x" * MAX_BYTES + b'"}',
     "more than the 65536"),
    (b"[" * 100000 + b"]" * 100000, "more than the 65536"),
    (b"[" * 50000 + b"]" * 10000, "not valid JSON"),
])
def test_an_unusable_answers_file_says_why(raw, problem):
    found = parse_answers(raw, LESSON)
    assert found.answers == {} and problem in found.problem


def test_answers_that_are_not_option_indices_are_dropped():
    raw = json.dumps({"version": 1, "lesson": LESSON, "stage": "post",
                      "answers": {"a": True, "b": "C", "c": 2.0, "d": -1, "e": 2}}).encode()
    assert parse_answers(raw, LESSON).answers == {"e": 2}


# --- the widget -------------------------------------------------------------------------------

def test_a_question_without_its_key_is_saved_not_checked(graded_quiz):
    view = QuizView(select(graded_quiz, "post"))
    # post re-asks the pre question (it has its key: checked as usual), then the two graded ones
    assert [(c.item.key, c.graded) for c in view.cards] == [("warm-up", False), ("g-one", True), ("g-two", True)]
    card = view.cards[1]
    assert card.button.description == "保存答案"
    card.button.click()
    assert "请先选择一个选项" in card.feedback.value
    assert not (graded_quiz.parent / ANSWERS_FILE).exists()
    card.radio.value = 3  # the original index of "九" (wrong: the key is 1, "六")
    card.button.click()
    letter = "ABCD"[card.item.order.index(3)]
    feedback = text_of(card.feedback.value)
    assert f"已保存你的答案（{letter}）" in feedback and "提交作业后评分" in feedback
    for verdict in ("回答正确", "回答错误", "正确答案", "解析："):
        assert verdict not in feedback
    assert json.loads((graded_quiz.parent / ANSWERS_FILE).read_text())["answers"] == {"g-one": 3}
    assert not (graded_quiz.parent / "quiz-progress.jsonl").exists(), "a saved answer is not a checked one"
    assert "提交作业后评分的题目（课后测验）：已保存 1/2 题的答案" in view.scores["post"].value
    # the re-asked pre question is checked, but its "0/1 right" would read as the grade beside the saved
    # answers: that line shows once it is answered
    assert "首次作答答对" not in view.scores["post"].value


def test_saved_answers_come_back_after_a_restart_and_can_be_reset(graded_quiz):
    first = QuizView(select(graded_quiz, "post", lang="en"))
    first.cards[2].radio.value = 1
    first.cards[2].button.click()
    assert "Answer saved (" in first.cards[2].feedback.value and "graded when you submit" in first.cards[2].feedback.value
    again = QuizView(select(graded_quiz, "post"))  # a new kernel draws the cell again
    assert again.cards[2].radio.value == 1 and "上次的作答记录" in again.cards[2].feedback.value
    assert again.cards[1].radio.value is None and again.cards[1].feedback.value == ""
    assert again.reset() == 1
    assert read_answers(graded_quiz.parent / ANSWERS_FILE, LESSON).answers == {}
    assert again.cards[2].radio.value is None


def test_the_static_version_has_no_answer_to_unfold(graded_quiz):
    html = render_html(select(graded_quiz, "post"))
    assert html.count("<details>") == 1  # only the re-asked pre question has one
    assert html.count("本题在提交作业后评分。") == 2


# --- status, scores, report, home -------------------------------------------------------------

def test_post_quiz_status_in_a_course_and_in_self_study(graded_quiz, capsys, tmp_path):
    assert post_quiz_status(graded_quiz) is None  # nothing for nbgrader to read as points
    assert capsys.readouterr().out == (
        f"课后小测：已保存 0/2 题的答案（{ANSWERS_FILE}），提交作业后计分。\n"
        "还没有保存答案的题目：g-one, g-two。请在上面的课后小测中选择选项，再点击“保存答案”。\n")
    save_answer(graded_quiz.parent / ANSWERS_FILE, LESSON, "g-two", 0)
    post_quiz_status(graded_quiz, lang="en")
    assert capsys.readouterr().out == (
        f"Post quiz: 1/2 answers saved ({ANSWERS_FILE}); they are scored when you submit.\n"
        'Not saved yet: g-one. Pick an option in the post quiz above and click "Save answer".\n')
    full = tmp_path / "self-study" / "quiz.json"
    full.parent.mkdir()
    full.write_text(json.dumps({"lesson": LESSON, "questions": [PRE, dict(G1, correct=1, explanation="六。")]},
                               ensure_ascii=False), encoding="utf-8")
    post_quiz_status(full, lang="en")
    assert "checked as you answered" in capsys.readouterr().out


def test_validate_warns_about_unanswered_graded_questions(graded_quiz, capsys, monkeypatch):
    """nbgrader's Validate runs the notebook with NBGRADER_EXECUTION=validate: unanswered graded
    questions fail the cell (naming them, not their answers); a plain run and autograding do not."""
    from quiz.notebook import PostQuizUnanswered

    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    with pytest.raises(PostQuizUnanswered, match="g-one, g-two"):
        post_quiz_status(graded_quiz, lang="en")
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert post_quiz_status(graded_quiz, lang="en") is None
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")
    for key in ("g-one", "g-two"):
        save_answer(graded_quiz.parent / ANSWERS_FILE, LESSON, key, 0)
    assert post_quiz_status(graded_quiz, lang="en") is None, "all saved: Validate passes"
    assert "2/2 answers saved" in capsys.readouterr().out


def test_stage_score_counts_saved_answers_apart(graded_quiz):
    quiz = load_quiz(graded_quiz)
    score = stage_score(quiz, "post", [], LESSON, {"g-two": 0, "other": 1})
    assert (score.total, score.answered, score.graded_total, score.graded_answered) == (1, 0, 2, 1)
    assert stage_score(quiz, "pre", [], LESSON, {"g-two": 0}).graded_total == 0


def test_report_and_home_say_graded_on_submission(graded_quiz, capsys):
    save_answer(graded_quiz.parent / ANSWERS_FILE, LESSON, "g-one", 1)
    assert main(["report", str(graded_quiz.parent)]) == 0
    out = capsys.readouterr().out
    assert f"post without the key ({ANSWERS_FILE}): answered 1/2, graded on submission" in out
    assert "post: answered 0/1, right on the first try 0/1" in out
    (graded_quiz.parent / f"{LESSON}.ipynb").write_text("{}")
    table = repr(home.course_progress(graded_quiz.parent.parent, lang="en"))
    assert "0/1 answered, 0 right; 1/2 answered, graded on submission" in table
