"""UI language (auto-detected, overridable) and choosing the English edition."""

from __future__ import annotations

import pytest

import quiz
from quiz.i18n import STRINGS, detect_language, normalize_language, preferred_language, tr
from quiz.selection import choose_edition, english_path, primary_path, select


def test_every_ui_string_exists_in_both_languages():
    for key, texts in STRINGS.items():
        assert set(texts) == {"zh", "en"}, key
        assert all(t.strip() for t in texts.values()), key


def test_detects_chinese_from_question_text(demo_dir, balanced_quiz):
    assert select(demo_dir / "quiz.json", None).lang == "zh"
    assert select(balanced_quiz, None).lang == "en"
    assert detect_language(["plain English", "还有中文"]) == "zh"


def test_lang_argument_overrides_ui_words(balanced_quiz):
    assert select(balanced_quiz, None, lang="zh").lang == "zh"
    assert tr("check", "zh") == "检查答案" and tr("check", "en") == "Check answer"


def test_normalize_language():
    assert normalize_language("zh-CN") == "zh" and normalize_language("EN_us") == "en"
    assert normalize_language(None) is None and normalize_language(" ") is None
    with pytest.raises(ValueError, match="unsupported language 'fr'"):
        normalize_language("fr")


def test_set_language_switches_to_english_edition(demo_quiz):
    assert select(demo_quiz, None).quiz.path.name == "quiz.json"
    quiz.set_language("en")
    selection = select(demo_quiz, None)
    assert selection.quiz.path.name == "quiz.en.json"
    assert selection.lang == "en"
    assert selection.progress_path == demo_quiz.parent / "quiz-progress.jsonl"
    quiz.set_language(None)
    assert select(demo_quiz, None).quiz.path.name == "quiz.json"


def test_env_switches_to_english_edition(monkeypatch, demo_quiz):
    monkeypatch.setenv("GPT2_COURSE_LANG", "en")
    assert preferred_language() == "en"
    assert select(demo_quiz, "pre").quiz.path.name == "quiz.en.json"
    monkeypatch.setenv("GPT2_COURSE_LANG", "klingon")  # ignored, not fatal
    assert select(demo_quiz, "pre").quiz.path.name == "quiz.json"


def test_english_wanted_but_no_edition_keeps_the_file(monkeypatch, balanced_quiz, seed_copy):
    monkeypatch.setenv("GPT2_COURSE_LANG", "en")
    assert choose_edition(seed_copy, None) == seed_copy
    assert select(seed_copy, None).lang == "zh"  # the words follow the quiz shown


def test_chinese_wanted_from_the_english_file(demo_dir):
    assert choose_edition(demo_dir / "quiz.en.json", "zh") == demo_dir / "quiz.json"


def test_edition_paths(tmp_path):
    assert english_path(tmp_path / "quiz.json") == tmp_path / "quiz.en.json"
    assert primary_path(tmp_path / "quiz.en.json") == tmp_path / "quiz.json"
    assert primary_path(tmp_path / "quiz.json") == tmp_path / "quiz.json"


def test_english_edition_without_lesson_shares_the_primary_lesson(demo_dir):
    import json

    en = demo_dir / "quiz.en.json"
    data = json.loads(en.read_text(encoding="utf-8"))
    en.write_text(json.dumps(data["questions"]), encoding="utf-8")  # bare list: no lesson
    assert select(en, None).lesson == "demo-attention"
