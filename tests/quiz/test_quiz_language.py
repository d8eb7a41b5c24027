"""UI language (auto-detected, overridable) and choosing the English edition."""

from __future__ import annotations

import json

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


# --- the saved language (issue 11: the choice was lost on every kernel restart) ---------


def _new_kernel():
    """What a kernel restart does to the engine's state: the in-kernel choice is gone."""
    from quiz import i18n

    i18n._preferred = None


def test_set_language_is_saved_for_the_next_kernel(demo_quiz):
    from quiz.i18n import saved_language, settings_path

    quiz.set_language("en")
    assert json.loads(settings_path().read_text())["language"] == "en"
    _new_kernel()
    assert preferred_language() == "en" and saved_language() == "en"
    assert select(demo_quiz, None).quiz.path.name == "quiz.en.json"
    quiz.set_language(None)
    _new_kernel()
    assert preferred_language() is None and "language" not in json.loads(settings_path().read_text())


def test_environment_wins_over_the_saved_choice(monkeypatch):
    quiz.set_language("en")
    _new_kernel()
    monkeypatch.setenv("GPT2_COURSE_LANG", "zh_CN")
    assert preferred_language() == "zh"
    monkeypatch.setenv("GPT2_COURSE_LANG", "klingon")  # unknown: ignored, the saved choice counts
    assert preferred_language() == "en"


def test_a_damaged_settings_file_is_ignored():
    from quiz.i18n import settings_path

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text("{not json")
    assert preferred_language() is None
    settings_path().write_text('{"language": "fr"}')
    assert preferred_language() is None
    quiz.set_language("en")  # and it can be written over
    assert json.loads(settings_path().read_text()) == {"language": "en"}


def test_unwritable_settings_warn_and_still_apply_to_this_kernel(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))  # a file where a folder should be
    with pytest.warns(UserWarning, match="cannot save the language"):
        quiz.set_language("en")
    assert preferred_language() == "en"


def test_language_buttons_switch_every_quiz_and_save(demo_quiz):
    from quiz.i18n import settings_path
    from quiz.widgets import QuizView

    def view(stage):
        request = {"path": demo_quiz, "stage": stage, "ids": None, "progress_path": None}
        return QuizView(select(**request), request=request)

    pre, check = view("pre"), view("check")
    assert pre.language is not None and pre.language.value == "zh"
    assert pre.cards[0].button.description == "检查答案"
    order_before = [c.item.order for c in check.cards]
    pre.language.value = "en"
    assert json.loads(settings_path().read_text())["language"] == "en"
    for v in (pre, check):
        assert v.selection.quiz.path.name == "quiz.en.json"
        assert v.cards[0].button.description == "Check answer"
        assert v.language.value == "en"
    assert [c.item.order for c in check.cards] == order_before  # same learner, same order
    assert "Saved" in pre.status.value
    # without both editions (or without a request to redraw from) there are no buttons
    assert QuizView(select(demo_quiz, "pre")).language is None
