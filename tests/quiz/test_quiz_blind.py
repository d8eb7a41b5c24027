"""An honest pre → post gain: pre answers are recorded blind, their verdicts wait for the post
stage (or an explicit "show it now", which takes the item out of the gain), and the gain is Hake's
normalized gain ⟨g⟩ = (post − pre) / (100 − pre) over the items answered blind only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quiz import home
from quiz.cli import main
from quiz.loader import load_quiz
from quiz.progress import (
    COUNTED,
    LATE,
    REVEALED,
    UNANSWERED,
    WAITING,
    Attempt,
    Reveal,
    matched_gain,
    matched_items,
    read_attempts,
    read_records,
    remove_attempts,
)
from quiz.selection import select
from quiz.static import render_html
from quiz.theme import CSS
from quiz.widgets import QuizView

LESSON = "40-two-pre"
OPTIONS = ["甲", "乙", "丙", "丁"]
QUESTIONS = [
    {"id": "p1", "stage": "pre", "question": "第一道课前题？", "options": OPTIONS, "correct": 1, "explanation": "因为乙。"},
    {"id": "p2", "stage": "pre", "question": "第二道课前题？", "options": OPTIONS, "correct": 2, "explanation": "因为丙。"},
    {"id": "c1", "stage": "check", "question": "随堂题？", "options": OPTIONS, "correct": 0, "explanation": "因为甲。"},
    {"id": "o1", "stage": "post", "question": "课后自己的题？", "options": OPTIONS, "correct": 3, "explanation": "因为丁。"},
]


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def write_quiz(folder: Path, questions=QUESTIONS, **top) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quiz.json"
    data = {"lesson": LESSON, "title": "两道课前题", "questions": questions, **top}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (folder / f"{folder.name}.ipynb").write_text("{}")
    return path


@pytest.fixture
def two_pre(tmp_path) -> Path:
    return write_quiz(tmp_path / "lessons" / LESSON)


def view(path, stage="pre", **kwargs) -> QuizView:
    return QuizView(select(path, stage, **kwargs))


def card_of(v: QuizView, key: str):
    return next(card for card in v.cards if card.item.key == key)


def answer(card, right: bool) -> None:
    q = card.item.question
    card.radio.value = q.correct if right else (q.correct + 1) % len(q.options)
    card.button.click()


def shown(card) -> str:
    """What the learner sees under a card (and whether the "show it now" button is there)."""
    button = card.reveal_button is not None and card.reveal_button.layout.display != "none"
    return text_of(card.feedback.value) + (" [show-now button]" if button else "")


# --- the widget ------------------------------------------------------------------------------

def test_a_pre_answer_is_recorded_without_verdict_until_the_post_twin_is_answered(two_pre):
    pre, post = view(two_pre, "pre"), view(two_pre, "post")
    card = card_of(pre, "p1")
    assert card.blind and not card_of(post, "p1").blind  # the post stage's twin is checked at once
    assert card.reveal_button.layout.display == "none"  # nothing to reveal before an answer
    answer(card, right=True)
    seen = shown(card)
    letter = card.item.letter_of(1)
    assert f"已记录你的答案（{letter}）" in seen and "[show-now button]" in seen
    for verdict_or_answer in ("回答正确", "回答错误", "正确答案", "因为乙"):
        assert verdict_or_answer not in seen
    # no count of right answers anywhere either: it would give the verdict away
    assert "首次作答答对" not in pre.scores["pre"].value and "已作答 1/2 题" in pre.scores["pre"].value
    (record,) = read_attempts(two_pre.parent / "quiz-progress.jsonl")
    assert (record.question, record.stage, record.correct) == ("p1", "pre", True)  # graded, kept quiet

    answer(card_of(post, "p1"), right=False)
    assert "回答错误" in shown(card_of(post, "p1"))
    seen = shown(card)  # the pre card, live in its own cell, now shows its verdict
    assert "✓ 回答正确！" in seen and f"正确答案：{letter}." in seen and "因为乙" in seen
    assert "课后测验已经重答了这道题" in seen and "[show-now button]" not in seen
    assert shown(card_of(pre, "p2")) == ""  # not answered yet
    # a fresh view (a cell run again, a kernel restart) shows the same
    again = card_of(view(two_pre, "pre"), "p1")
    assert "✓ 回答正确！" in shown(again) and "上次的作答记录" in shown(again)


def test_show_it_now_asks_twice_then_shows_the_verdict_and_leaves_the_gain(two_pre):
    pre, post = view(two_pre, "pre", lang="en"), view(two_pre, "post", lang="en")
    card = card_of(pre, "p2")
    answer(card, right=False)
    card.reveal_button.click()
    assert card.reveal_button.description == "Confirm: show it now" and "leaves the before → after" in pre.status.value
    assert "Not quite" not in shown(card)
    card.reveal_button.click()
    seen = shown(card)
    assert "✗ Not quite." in seen and "因为丙" in seen  # verdict and explanation
    assert "You saw the answer before the post-lesson quiz asked it again" in seen
    assert "[show-now button]" not in seen
    records = read_records(two_pre.parent / "quiz-progress.jsonl")
    assert [type(r).__name__ for r in records] == ["Attempt", "Reveal"] and records[1].question == "p2"
    assert read_attempts(two_pre.parent / "quiz-progress.jsonl") == records[:1]  # reveals are not answers
    # p1 answered blind, p2 revealed: after the post stage only p1 counts
    answer(card_of(pre, "p1"), right=False)
    for key in ("p1", "p2"):
        answer(card_of(post, key), right=True)
    gain = matched_gain(load_quiz(two_pre), read_records(two_pre.parent / "quiz-progress.jsonl"), LESSON)
    assert [(item.key, item.status) for item in gain.items] == [("p1", COUNTED), ("p2", REVEALED)]
    summary = text_of(post.summary.value)
    assert "The 1 pre-lesson question(s) answered blind: before 0/1 (0%) → asked again after 1/1 (100%)" in summary
    assert "⟨g⟩ = (post − pre) / (100 − pre) = 1.00" in summary
    assert "1 more pre-lesson question(s) left out" in summary


def test_reset_keeps_the_rule_a_pre_answer_after_the_post_twin_is_not_blind(two_pre):
    """The student's case: reset the pre quiz after the post quiz, answer again knowing the answers:
    the row read "2/2 → 2/2". Those answers are no longer blind, so they leave the gain."""
    pre, post = view(two_pre, "pre"), view(two_pre, "post")
    for key in ("p1", "p2"):
        answer(card_of(pre, key), right=False)
    for key in ("p1", "p2", "o1"):
        answer(card_of(post, key), right=True)
    assert "课前答对 0/2（0%）→ 课后重答答对 2/2（100%）" in text_of(post.summary.value)
    pre.reset_button.click()
    pre.reset_button.click()
    assert "已清除 2 条" in pre.status.value
    for key in ("p1", "p2"):
        assert shown(card_of(pre, key)) == ""
        answer(card_of(pre, key), right=True)
        # answered after its post twin: the verdict shows at once, and says it does not count
        assert "回答正确" in shown(card_of(pre, key)) and "不计入课前→课后的对比" in shown(card_of(pre, key))
    summary = text_of(post.summary.value)
    assert "没有盲答的课前题目" in summary and "2/2 → 2/2" not in summary
    row = home.course_progress(two_pre.parents[1], lang="zh").rows[0]
    assert home.gain_cell(row.gain, "zh") == "没有盲答的题（2 题不计）"


def test_the_home_shows_the_matched_result_with_hakes_gain_from_blind_items_only(tmp_path):
    questions = [dict(QUESTIONS[0], id=f"p{n}") for n in range(1, 6)] + QUESTIONS[2:]
    path = write_quiz(tmp_path / "lessons" / LESSON, questions)
    pre, post = view(path, "pre"), view(path, "post")
    # p1 right, p2-p4 wrong (blind); p5 wrong, then shown at once (out of the gain)
    for key, right in [("p1", True), ("p2", False), ("p3", False), ("p4", False), ("p5", False)]:
        answer(card_of(pre, key), right)
    card_of(pre, "p5").reveal_button.click()
    card_of(pre, "p5").reveal_button.click()
    table = home.course_progress(tmp_path / "lessons", lang="en")
    assert "1/4 answered" not in repr(table) and "5/5 answered, verdicts after the post quiz" in repr(table)
    # after the lesson: p1, p2, p3 right, p4 wrong, p5 right
    for key, right in [("p1", True), ("p2", True), ("p3", True), ("p4", False), ("p5", True)]:
        answer(card_of(post, key), right)
    (row,) = home.course_progress(tmp_path / "lessons", lang="en").rows
    gain = row.gain
    assert (gain.counted, gain.left_out, gain.before.first_correct, gain.after.first_correct) == (4, 1, 1, 3)
    assert gain.normalized == pytest.approx((75 - 25) / (100 - 25))
    assert home.gain_cell(gain, "en") == "1/4 → 3/4, ⟨g⟩ = 0.67 (1 left out)"
    assert home.gain_cell(gain, "zh") == "1/4 → 3/4，⟨g⟩ = 0.67（1 题不计）"
    html = home.course_progress(tmp_path / "lessons", lang="zh")._repr_html_()
    assert "<td>1/4 → 3/4<br>⟨g⟩ = 0.67（1 题不计）</td>" in html
    assert "盲答" in html and "Hake" in html  # the header and the note say what is counted
    assert "5/5 answered, 1 right" in repr(home.course_progress(tmp_path / "lessons", lang="en"))
    assert "counting the 4 answered blind: before 1/4, after 3/4" in _report(path)


def _report(path) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["report", str(path)])
    return out.getvalue()


@pytest.mark.parametrize("before, after, g", [
    ((1, 4), (3, 4), (75 - 25) / 75),
    ((0, 2), (2, 2), 1.0),
    ((2, 4), (1, 4), (25 - 50) / 50),  # negative: worse after
    ((2, 2), (2, 2), None),  # full marks before: nothing to gain, no ⟨g⟩
])
def test_normalized_gain_is_hakes(before, after, g):
    quiz = load_quiz_from([dict(QUESTIONS[0], id=f"p{n}") for n in range(before[1])])
    records = []
    for n in range(before[1]):
        records.append(record(f"p{n}", "pre", n < before[0]))
    for n in range(after[1]):
        records.append(record(f"p{n}", "post", n < after[0]))
    gain = matched_gain(quiz, records, LESSON)
    assert gain.complete
    assert gain.normalized == (pytest.approx(g) if g is not None else None)


def load_quiz_from(questions):
    import tempfile

    return load_quiz(write_quiz(Path(tempfile.mkdtemp()) / LESSON, questions))


def record(key, stage, correct, lesson=LESSON):
    return Attempt(time="t", lesson=lesson, question=key, stage=stage, chosen=0, correct=correct)


def reveal(key, lesson=LESSON):
    return Reveal(time="t", lesson=lesson, question=key, stage="pre")


def test_blind_depends_on_the_order_things_happened():
    quiz = load_quiz_from(QUESTIONS)
    cases = {
        "pre then post": ([record("p1", "pre", False), record("p1", "post", True)], COUNTED),
        "pre only": ([record("p1", "pre", False)], WAITING),
        "nothing": ([], UNANSWERED),
        "post before pre": ([record("p1", "post", True), record("p1", "pre", True)], LATE),
        "post only": ([record("p1", "post", True)], LATE),
        "shown before post": ([record("p1", "pre", False), reveal("p1"), record("p1", "post", True)], REVEALED),
        "shown, no post yet": ([record("p1", "pre", False), reveal("p1")], REVEALED),
        "a reveal after the post twin changes nothing":
            ([record("p1", "pre", False), record("p1", "post", True), reveal("p1")], COUNTED),
        "another lesson's records": ([record("p1", "pre", False, lesson="other")], UNANSWERED),
    }
    for name, (records, status) in cases.items():
        assert matched_items(quiz, records, LESSON)[0].status == status, name


def test_reveals_are_read_and_reset_with_the_answers(tmp_path):
    path = tmp_path / "quiz-progress.jsonl"
    lines = [record("p1", "pre", True), reveal("p1"), record("p2", "pre", False), reveal("p2", lesson="other")]
    path.write_text("".join(json.dumps(r.model_dump(exclude_none=True)) + "\n" for r in lines))
    with _no_warning():  # a reveal line is a record, not a damaged line
        assert [type(r).__name__ for r in read_records(path)] == ["Attempt", "Reveal", "Attempt", "Reveal"]
        assert [r.question for r in read_attempts(path)] == ["p1", "p2"]
    assert remove_attempts(path, LESSON, {("pre", "p1")}) == 2  # the answer and the reveal
    assert [(type(r).__name__, r.question, r.lesson) for r in read_records(path)] == [
        ("Attempt", "p2", LESSON), ("Reveal", "p2", "other")]


class _no_warning:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        self._catch.__exit__(*exc)


# --- the course edition ----------------------------------------------------------------------

def test_course_edition_pre_verdict_waits_for_the_post_twin_and_the_graded_post_stays_silent(tmp_path):
    """In a course release the post stage's own questions have no key (saved, graded on submission,
    never a verdict); the pre questions it asks again keep theirs, so the rule is the same: the pre
    verdict shows once the post twin has been checked."""
    from grader.build import course_quiz_bytes

    folder = tmp_path / "lessons" / LESSON
    full = write_quiz(folder)
    full.write_bytes(course_quiz_bytes(full.read_bytes()))
    assert load_quiz(full).keyless
    pre, post = view(full, "pre"), view(full, "post")
    answer(card_of(pre, "p1"), right=False)
    assert "回答错误" not in shown(card_of(pre, "p1")) and "已记录你的答案" in shown(card_of(pre, "p1"))
    graded = card_of(post, "o1")
    assert graded.graded and not graded.blind
    graded.radio.value = 3
    graded.button.click()
    assert "已保存你的答案" in shown(graded) and "回答" not in shown(graded)
    assert "回答错误" not in shown(card_of(pre, "p1"))  # saving a graded post answer reveals nothing
    score = text_of(post.scores["post"].value)
    assert "已保存 1/1 题的答案" in score and "答对" not in score, score  # no "0/1 right" beside the saved answers
    answer(card_of(post, "p1"), right=True)
    assert "回答错误" in shown(card_of(pre, "p1")) and "回答正确" in shown(card_of(post, "p1"))
    score = text_of(post.scores["post"].value)
    assert "首次作答答对 1/2 题" in score and "已保存 1/1 题的答案" in score, score


# --- numbering, static output, reload hint ---------------------------------------------------

def test_numbers_follow_the_stage_so_they_never_jump(two_pre):
    numbers = [(item.key, item.number) for item in select(two_pre, "post").items]
    assert numbers == [("p1", 1), ("p2", 2), ("o1", 3)]  # was 1, 2, 4: the file's positions
    assert [item.number for item in select(two_pre, "pre").items] == [1, 2]
    assert [item.number for item in select(two_pre, ids=["c1"]).items] == [1]
    assert "第 3 题 · 课后测验" in text_of(view(two_pre, "post").cards[2].header.value)


def test_the_static_pre_quiz_holds_no_answer(two_pre):
    page = render_html(select(two_pre, "pre"))
    assert "因为乙" not in page and "<details>" not in page and "答案在课后测验中揭晓" in page
    assert "因为乙" in render_html(select(two_pre, "post"))


def test_a_quiz_drawn_from_saved_state_says_how_to_answer_again(two_pre):
    header = view(two_pre, "pre").header.value
    assert '<div class="gpt2-quiz-reload-hint">' in header and "请重新运行本单元格（Shift+Enter）" in header
    en = view(two_pre, "pre", lang="en").header.value
    assert "to answer again, run this cell (Shift+Enter)" in en
    # hidden while a kernel is connected; ipywidgets marks a box drawn from saved state "disconnected"
    assert ".gpt2-quiz-reload-hint { display: none; }" in CSS
    assert re.search(r"\.gpt2-quiz\.jupyter-widgets-disconnected \.gpt2-quiz-reload-hint \{\s*display: block;", CSS)
