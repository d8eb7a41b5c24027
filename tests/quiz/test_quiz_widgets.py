"""The interactive quiz, driven through the ipywidgets API (no browser)."""

from __future__ import annotations

import json
import re

import pytest

from quiz import QuizError
from quiz.selection import select
from quiz.widgets import WIDGET_VIEW, QuizView


def make_view(path, stage="pre", **kwargs) -> QuizView:
    return QuizView(select(path, stage, **kwargs))


def text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_card_shows_question_and_shuffled_lettered_options(demo_quiz):
    view = make_view(demo_quiz, "check")
    card = view.cards[0]
    assert "因果掩码" in card.header.value and "<code>softmax</code>" in card.header.value
    labels = [label for label, _ in card.radio.options]
    values = [value for _, value in card.radio.options]
    assert [label[:3] for label in labels] == ["A. ", "B. ", "C. ", "D. "]
    assert values == list(card.item.order) and sorted(values) == [0, 1, 2, 3]
    assert card.radio.value is None
    assert card.button.description == "检查答案"


def test_correct_answer_after_shuffle_records_original_index(demo_quiz):
    view = make_view(demo_quiz, ids=["causal-mask"])
    card = view.cards[0]
    assert card.item.order != (0, 1, 2, 3)  # the learner's order really is shuffled
    card.radio.value = 0  # the original index of the right answer
    card.button.click()
    feedback = text_of(card.feedback.value)
    assert "✓ 回答正确！" in feedback
    letter = "ABCD"[card.item.order.index(0)]
    assert f"正确答案：{letter}. " in feedback
    assert "exp(-inf) = 0" in feedback  # the explanation
    assert "首次作答答对 1/3 题" in view.scores["check"].value
    (record,) = records(demo_quiz.parent / "quiz-progress.jsonl")
    assert record["question"] == "causal-mask" and record["chosen"] == 0 and record["correct"] is True
    assert record["stage"] == "check" and record["lesson"] == "demo-attention"


def test_choosing_by_displayed_position_grades_the_original_option(demo_quiz):
    view = make_view(demo_quiz, ids=["causal-mask"])
    card = view.cards[0]
    position = card.item.order.index(3)
    card.radio.index = position  # what clicking the radio at that position does
    assert card.check() is False
    assert "✗ 回答错误。" in text_of(card.feedback.value)
    assert records(demo_quiz.parent / "quiz-progress.jsonl")[-1]["chosen"] == 3
    assert "首次作答答对 0/3 题，已作答 1/3 题" in view.scores["check"].value


def test_check_without_a_choice_asks_for_one(demo_quiz):
    view = make_view(demo_quiz, "pre")
    view.cards[0].button.click()
    assert "请先选择一个选项" in view.cards[0].feedback.value
    assert not (demo_quiz.parent / "quiz-progress.jsonl").exists()


def test_reopening_restores_last_answer_and_feedback(demo_quiz):
    first = make_view(demo_quiz, ids=["causal-mask"])
    first.cards[0].radio.value = 1
    first.cards[0].button.click()
    first.cards[0].radio.value = 0
    first.cards[0].button.click()
    again = make_view(demo_quiz, ids=["causal-mask"])
    card = again.cards[0]
    assert card.radio.value == 0
    assert "回答正确" in card.feedback.value and "上次的作答记录" in card.feedback.value
    # first try was wrong: the score keeps it
    assert "首次作答答对 0/3 题" in again.scores["check"].value
    assert len(records(demo_quiz.parent / "quiz-progress.jsonl")) == 2  # restoring writes nothing


def test_check_cells_add_up_over_the_lesson(demo_quiz):
    cell_a = make_view(demo_quiz, ids=["causal-mask"])
    cell_b = make_view(demo_quiz, ids=["head-size"])
    assert [c.item.key for c in cell_a.cards] == ["causal-mask"]
    cell_a.cards[0].radio.value = 0
    cell_a.cards[0].button.click()
    cell_b.cards[0].radio.value = 1
    cell_b.cards[0].button.click()
    for view in (cell_a, cell_b):  # the earlier cell was updated live
        assert "首次作答答对 2/3 题，已作答 2/3 题" in view.scores["check"].value


def test_post_stage_summary_compares_pre_and_post(demo_quiz):
    pre = make_view(demo_quiz, "pre")
    post = make_view(demo_quiz, "post")
    assert "在课后测验中重答这些题目后" in post.summary.value
    # the post stage asks the pre question again (first), then its own two
    assert [(c.item.key, c.item.stage) for c in post.cards] == [
        ("why-scale", "post"), ("qkv-source", "post"), ("cost", "post")]
    assert post.cards[0].item.order != pre.cards[0].item.order  # reshuffled
    pre.cards[0].radio.value = 0  # wrong
    pre.cards[0].button.click()
    assert "回答错误" not in pre.cards[0].feedback.value  # blind: no verdict yet
    post.cards[1].radio.value = post.cards[1].item.question.correct  # own post questions do not
    post.cards[1].button.click()  # make the comparison: only the matched item does
    assert "在课后测验中重答这些题目后" in post.summary.value
    assert "回答错误" not in pre.cards[0].feedback.value
    post.cards[0].radio.value = post.cards[0].item.question.correct
    post.cards[0].button.click()
    summary = text_of(post.summary.value)
    assert "课前盲答的 1 道题：课前答对 0/1（0%）→ 课后重答答对 1/1（100%）" in summary
    assert "⟨g⟩ =（课后 − 课前）/（100 − 课前）= 1.00" in summary
    assert "进步了 100 个百分点" in summary
    # the pre card now shows its own (wrong) answer: the two rounds are kept apart
    assert "回答错误" in pre.cards[0].feedback.value and "课后测验已经重答了这道题" in pre.cards[0].feedback.value
    assert "首次作答答对 2/3 题，已作答 2/3 题" in post.scores["post"].value
    assert pre.summary is None  # only the post stage shows the comparison


def test_english_edition_uses_english_words(demo_quiz):
    view = make_view(demo_quiz, "post", lang="en")
    card = view.cards[2]
    assert card.button.description == "Check answer"
    card.radio.value = 0
    card.button.click()
    feedback = text_of(card.feedback.value)
    assert "✗ Not quite." in feedback and "The right answer: " in feedback
    assert "Explanation" in feedback and "long contexts" in feedback
    assert "Your score (Post-lesson quiz): 0/3 right on the first try" in view.scores["post"].value


def test_progress_is_shared_between_editions(demo_quiz):
    zh = make_view(demo_quiz, ids=["cost"])
    zh.cards[0].radio.value = 1
    zh.cards[0].button.click()
    en = make_view(demo_quiz, ids=["cost"], lang="en")
    assert en.cards[0].radio.value == 1 and "Correct!" in en.cards[0].feedback.value


def test_unwritable_progress_warns_but_still_counts(demo_quiz, tmp_path):
    blocked = tmp_path / "no-such-folder" / "progress.jsonl"
    view = make_view(demo_quiz, ids=["causal-mask"], progress_path=blocked)
    view.cards[0].radio.value = 0
    view.cards[0].button.click()
    assert "作答记录未能保存" in view.cards[0].feedback.value
    assert "回答正确" in view.cards[0].feedback.value
    assert "首次作答答对 1/3 题" in view.scores["check"].value
    # a blind pre answer that cannot be saved says so too, and still waits for the post stage
    pre = make_view(demo_quiz, "pre", progress_path=blocked)
    pre.cards[0].radio.value = 1
    pre.cards[0].button.click()
    feedback = pre.cards[0].feedback.value
    assert "作答记录未能保存" in feedback and "已记录你的答案" in feedback and "回答正确" not in feedback


def test_corrupt_sidecar_does_not_break_the_view(demo_quiz):
    sidecar = demo_quiz.parent / "quiz-progress.jsonl"
    sidecar.write_text("garbage\n" + json.dumps({
        "time": "2026-01-01T00:00:00+08:00", "lesson": "demo-attention", "question": "why-scale",
        "stage": "pre", "chosen": 1, "correct": True}) + "\n", encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="line 1 skipped"):
        view = make_view(demo_quiz, "pre")
    assert view.cards[0].radio.value == 1


def test_a_record_for_an_option_that_no_longer_exists_is_ignored(demo_quiz):
    sidecar = demo_quiz.parent / "quiz-progress.jsonl"
    sidecar.write_text(json.dumps({
        "time": "2026-01-01T00:00:00+08:00", "lesson": "demo-attention", "question": "why-scale",
        "stage": "pre", "chosen": 9, "correct": False}) + "\n", encoding="utf-8")
    assert make_view(demo_quiz, "pre").cards[0].radio.value is None


def test_stage_and_id_selection(demo_quiz):
    assert len(make_view(demo_quiz, None).cards) == 7  # every stage: post re-asks the pre question
    assert [c.item.key for c in make_view(demo_quiz, "check").cards] == ["causal-mask", "head-size", "softmax-dim"]
    assert [c.item.index for c in make_view(demo_quiz, ids=[5, "why-scale"]).cards] == [5, 0]
    with pytest.raises(QuizError, match="no question has the id 'nope'"):
        make_view(demo_quiz, ids=["nope"])
    with pytest.raises(QuizError, match="index 6 is out of range"):
        make_view(demo_quiz, ids=[6])
    with pytest.raises(QuizError, match="neither a question id"):
        make_view(demo_quiz, ids=[True])
    with pytest.raises(ValueError, match="unknown stage 'during'"):
        make_view(demo_quiz, "during")


def test_mimebundle_carries_widget_html_and_readable_text(demo_quiz):
    view = make_view(demo_quiz, "check")
    bundle = view._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == view.widget.model_id
    assert "<details>" in bundle["text/html"]
    assert "因果掩码" in bundle["text/plain"]
    # a pre question's static version keeps its answer for the post stage, which asks it again
    pre = make_view(demo_quiz, "pre")._repr_mimebundle_()
    assert "<details>" not in pre["text/html"] and "成正比" not in pre["text/html"]
    assert "答案在课后测验中揭晓" in pre["text/html"] and "缩放点积注意力" in pre["text/plain"]
    post = make_view(demo_quiz, "post")._repr_mimebundle_()["text/html"]
    assert "<details>" in post and "成正比" in post
    for mime in ("text/html", "text/plain"):
        assert "VBox(" not in bundle[mime] and "Widget(" not in bundle[mime]
    assert "VBox(" not in repr(view)


def test_theme_variables_in_the_style(demo_quiz):
    style = make_view(demo_quiz, "pre").header.value
    for variable in ("--jp-layout-color1", "--jp-ui-font-color1", "--jp-success-color1",
                     "--jp-error-color1", "--jp-border-color2"):
        assert f"var({variable}, " in style  # always with a fallback
