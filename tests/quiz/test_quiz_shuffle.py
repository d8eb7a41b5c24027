"""Option order: stable per learner, no positional tell, identical across editions."""

from __future__ import annotations

from collections import Counter

import pytest

from quiz import shuffle
from quiz.selection import select


def test_order_is_a_stable_permutation():
    first = shuffle.option_order(4, "ana", "lesson-1", "q1")
    assert sorted(first) == [0, 1, 2, 3]
    assert shuffle.option_order(4, "ana", "lesson-1", "q1") == first


def test_order_depends_on_learner_lesson_and_question():
    orders = {
        tuple(shuffle.option_order(6, learner, lesson, key))
        for learner in ("ana", "ben")
        for lesson in ("l1", "l2")
        for key in ("q1", 3)
    }
    assert len(orders) > 4


def test_correct_slot_is_no_tell_across_learners():
    # The seed quiz keeps 5 of 6 answers in slot B; shuffled, a correct answer at
    # original index 1 must land in every slot about equally often.
    slots = Counter(
        shuffle.option_order(4, f"learner-{n}", "lesson", "q").index(1) for n in range(2000)
    )
    assert set(slots) == {0, 1, 2, 3}
    assert max(slots.values()) < 600 and min(slots.values()) > 400


def test_seed_file_answers_spread_out_for_one_learner(seed_copy):
    selection = select(seed_copy, None, learner="someone")
    slots = [item.position_of(item.question.correct) for item in selection.items]
    assert slots.count(1) < 5  # not the file's 5/6 in slot B


def test_chinese_and_english_editions_shuffle_identically(demo_quiz):
    zh = select(demo_quiz, None, lang="zh")
    en = select(demo_quiz, None, lang="en")
    assert zh.quiz.path.name == "quiz.json" and en.quiz.path.name == "quiz.en.json"
    assert [i.order for i in zh.items] == [i.order for i in en.items]
    assert zh.lesson == en.lesson == "demo-attention"


def test_learner_id_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("QUIZ_LEARNER", "from-quiz-env")
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    assert shuffle.learner_id() == "from-quiz-env"
    monkeypatch.delenv("QUIZ_LEARNER")
    assert shuffle.learner_id() == "hub-user"


def test_learner_id_is_created_once_and_persisted(monkeypatch, tmp_path):
    monkeypatch.delenv("QUIZ_LEARNER")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    first = shuffle.learner_id()
    stored = tmp_path / "gpt2-course" / "learner-id"
    assert stored.read_text().strip() == first
    assert len(first) == 16 and first != "jovyan"
    assert shuffle.learner_id() == first


def test_learner_id_survives_an_unwritable_config(monkeypatch, tmp_path):
    monkeypatch.delenv("QUIZ_LEARNER")
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    monkeypatch.setattr(shuffle, "_session_id", None)
    with pytest.warns(UserWarning, match="cannot store a learner id"):
        first = shuffle.learner_id()
    assert shuffle.learner_id() == first  # stable for the rest of the session


def test_env_learner_makes_order_deterministic(monkeypatch, demo_quiz):
    monkeypatch.setenv("QUIZ_LEARNER", "fixed")
    a = [i.order for i in select(demo_quiz, None).items]
    b = [i.order for i in select(demo_quiz, None).items]
    monkeypatch.setenv("QUIZ_LEARNER", "other")
    c = [i.order for i in select(demo_quiz, None).items]
    assert a == b and a != c


def test_order_is_pinned_across_versions():
    # A learner must see the same order next month: changing the seed recipe or the
    # shuffle would reorder every learner's options (their recorded answers stay valid,
    # but the letters they remember would not).
    assert shuffle.option_order(4, "ana", "lesson-1", "q1") == [2, 0, 3, 1]
    assert shuffle.option_order(6, "ana", "lesson-1", 3) == [1, 4, 3, 0, 5, 2]
