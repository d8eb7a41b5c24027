"""Matched pre/post items, the reset control, and one count for the widget and the report."""

from __future__ import annotations

import json
import re

from quiz import shuffle
from quiz.cli import main
from quiz.loader import load_quiz
from quiz.progress import asked_in, matched_gain, read_attempts, remove_attempts, stage_score
from quiz.selection import select
from quiz.widgets import QuizView, summary_html


def make_view(path, stage="pre", **kwargs) -> QuizView:
    return QuizView(select(path, stage, **kwargs))


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def answer(card, right: bool) -> None:
    q = card.item.question
    card.radio.value = q.correct if right else (q.correct + 1) % len(q.options)
    card.button.click()


def test_post_asks_the_pre_questions_again_with_another_order(demo_quiz):
    quiz = load_quiz(demo_quiz)
    assert [quiz.key(i) for i in asked_in(quiz, "post")] == ["why-scale", "qkv-source", "cost"]
    assert [quiz.key(i) for i in asked_in(quiz, "pre")] == ["why-scale"]
    for learner in (f"learner-{n}" for n in range(200)):
        first = shuffle.option_order(4, learner, "lesson", "q")
        again = shuffle.option_order(4, learner, "lesson", "q", asked_again="post")
        assert sorted(again) == [0, 1, 2, 3] and again != first
        assert again == shuffle.option_order(4, learner, "lesson", "q", asked_again="post")  # stable


def test_answers_in_pre_and_post_are_recorded_apart(demo_quiz):
    pre, post = make_view(demo_quiz, "pre"), make_view(demo_quiz, "post")
    answer(pre.cards[0], right=False)
    answer(post.cards[0], right=True)
    stages = [(r.question, r.stage, r.correct) for r in read_attempts(demo_quiz.parent / "quiz-progress.jsonl")]
    assert stages == [("why-scale", "pre", False), ("why-scale", "post", True)]
    # a fresh view of each stage restores its own answer, not the other one's
    assert "回答错误" in make_view(demo_quiz, "pre").cards[0].feedback.value
    assert "回答正确" in make_view(demo_quiz, "post").cards[0].feedback.value


def test_perfect_before_and_after_says_so(demo_quiz):
    pre, post = make_view(demo_quiz, "pre"), make_view(demo_quiz, "post")
    answer(pre.cards[0], right=True)
    for card in post.cards:
        answer(card, right=True)
    summary = text_of(post.summary.value)
    assert "课前答对 1/1（100%）→ 课后重答答对 1/1（100%）" in summary
    assert "都全部答对" in summary and "持平" not in summary


def test_same_score_below_full_marks_suggests_review(demo_quiz):
    quiz = load_quiz(demo_quiz)
    pre, post = make_view(demo_quiz, "pre", lang="en"), make_view(demo_quiz, "post", lang="en")
    answer(pre.cards[0], right=False)
    answer(post.cards[0], right=False)
    gain = matched_gain(quiz, read_attempts(demo_quiz.parent / "quiz-progress.jsonl"), "demo-attention")
    assert gain.complete and gain.points == 0
    text = text_of(summary_html(gain, "en"))
    assert "The same as before" in text and "Full marks" not in text


def test_own_post_questions_do_not_enter_the_gain(demo_quiz):
    pre, post = make_view(demo_quiz, "pre"), make_view(demo_quiz, "post")
    answer(pre.cards[0], right=True)
    answer(post.cards[0], right=True)
    answer(post.cards[1], right=False)
    answer(post.cards[2], right=False)
    summary = text_of(post.summary.value)
    assert "课后重答答对 1/1（100%）" in summary and "都全部答对" in summary
    assert "首次作答答对 1/3 题，已作答 3/3 题" in post.scores["post"].value


def test_reset_clears_only_that_stage(demo_quiz):
    sidecar = demo_quiz.parent / "quiz-progress.jsonl"
    pre, post = make_view(demo_quiz, "pre"), make_view(demo_quiz, "post")
    answer(pre.cards[0], right=True)
    answer(post.cards[0], right=False)
    answer(post.cards[1], right=True)
    with open(sidecar, "a", encoding="utf-8") as handle:
        handle.write("damaged line\n")
    other_view_of_post = make_view(demo_quiz, "post")
    assert post.reset() == 2
    assert [(r.question, r.stage) for r in read_attempts(sidecar, warn=False)] == [("why-scale", "pre")]
    assert "damaged line" in sidecar.read_text()  # what it cannot read, it leaves alone
    for view in (post, other_view_of_post):
        assert all(card.radio.value is None and card.feedback.value == "" for card in view.cards)
        assert "已作答 0/3 题" in view.scores["post"].value
    # the pre stage keeps its answer, blind again until the post stage asks the question again
    assert pre.cards[0].radio.value == pre.cards[0].item.question.correct
    assert "已记录你的答案" in pre.cards[0].feedback.value and "回答正确" not in pre.cards[0].feedback.value
    assert "已清除 2 条" in post.status.value
    assert post.reset_button.description == "清除作答记录"
    # answering again after a reset counts as a first try
    answer(post.cards[0], right=True)
    assert "首次作答答对 1/3 题" in post.scores["post"].value


def test_remove_attempts_other_lesson_untouched(tmp_path):
    path = tmp_path / "p.jsonl"
    lines = [
        {"time": "t", "lesson": "a", "question": "q", "stage": "pre", "chosen": 0, "correct": True},
        {"time": "t", "lesson": "b", "question": "q", "stage": "pre", "chosen": 0, "correct": True},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert remove_attempts(path, "a", {("pre", "q")}) == 1
    assert [r.lesson for r in read_attempts(path)] == ["b"]
    assert remove_attempts(tmp_path / "missing.jsonl", "a", {("pre", "q")}) == 0


def test_report_and_widget_count_the_same(demo_quiz, capsys):
    """Issue 11: the report said "check: answered 2/2" where the notebook said 2/6."""
    quiz = load_quiz(demo_quiz)
    view = make_view(demo_quiz, ids=["causal-mask", "head-size"])
    answer(view.cards[0], right=True)
    answer(view.cards[1], right=False)
    full = make_view(demo_quiz, "check")
    widget_line = text_of(full.scores["check"].value)
    assert "首次作答答对 1/3 题，已作答 2/3 题" in widget_line
    sidecar = demo_quiz.parent / "quiz-progress.jsonl"
    score = stage_score(quiz, "check", read_attempts(sidecar), "demo-attention")
    for path in (sidecar, demo_quiz.parent, demo_quiz):
        assert main(["report", str(path)]) == 0
        out = capsys.readouterr().out
        assert (
            f"check: answered {score.answered}/{score.total}, right on the first try "
            f"{score.first_correct}/{score.total}" in out
        ), out
        assert "check: answered 2/3, right on the first try 1/3" in out
        assert "pre: answered 0/1" in out and "post: answered 0/3" in out


def test_report_shows_the_matched_gain(demo_quiz, capsys):
    pre, post = make_view(demo_quiz, "pre"), make_view(demo_quiz, "post")
    answer(pre.cards[0], right=False)
    main(["report", str(demo_quiz)])
    out = capsys.readouterr().out
    assert "pre -> post on the 1 matched question(s): incomplete (1 still to answer" in out
    # the blind pre answer's verdict is not in the report either, until the post stage asks again
    assert "pre: answered 1/1; right or wrong shows once the post stage has asked them again" in out
    assert ["#1", "why-scale", "1", "hidden", "hidden"] in [line.split() for line in out.splitlines()]
    answer(post.cards[0], right=True)
    main(["report", str(demo_quiz)])
    out = capsys.readouterr().out
    assert ("counting the 1 answered blind: before 0/1, after 1/1, +100 percentage points, "
            "normalized gain <g> = 1.00") in out
    assert "pre: answered 1/1, right on the first try 0/1" in out


def test_reset_button_asks_before_clearing(demo_quiz):
    view = make_view(demo_quiz, "pre", lang="en")
    answer(view.cards[0], right=True)
    view.reset_button.click()
    assert view.reset_button.description == "Confirm reset" and "Click again" in view.status.value
    assert len(read_attempts(demo_quiz.parent / "quiz-progress.jsonl")) == 1  # nothing gone yet
    view.reset_button.click()
    assert read_attempts(demo_quiz.parent / "quiz-progress.jsonl") == []
    assert view.reset_button.description == "Reset answers" and "1 saved answer(s) cleared" in view.status.value
    assert view.cards[0].radio.value is None
