"""The course home: lessons come from the folders under lessons/, the generated notebook
is up to date, and the progress table counts what the lessons count."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from quiz import home
from quiz.loader import load_quiz
from quiz.progress import matched_gain, read_attempts, stage_score
from quiz.selection import select
from quiz.widgets import QuizView

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "demo-lesson"


def make_lessons(root: Path, slugs) -> Path:
    for slug in slugs:
        folder = root / slug
        folder.mkdir(parents=True)
        shutil.copy(FIXTURE / "quiz.json", folder / "quiz.json")
        shutil.copy(FIXTURE / "quiz.en.json", folder / "quiz.en.json")
        (folder / f"{slug}.ipynb").write_text("{}")
    return root


def test_lessons_are_the_folders_present(tmp_path):
    root = make_lessons(tmp_path / "lessons", ["41-second-thing", "40-first-thing"])
    (root / "42-no-notebook").mkdir()
    (root / "notes").mkdir()
    (root / "00-start-here.ipynb").write_text("{}")
    assert [lesson.slug for lesson in home.find_lessons(root)] == ["40-first-thing", "41-second-thing"]
    assert home.lessons_root(tmp_path) == root and home.lessons_root(root) == root


def test_home_notebook_lists_exactly_the_lesson_folders(tmp_path):
    root = make_lessons(tmp_path / "lessons", ["40-first-thing", "41-gpt-thing"])
    text = home.home_text(root)
    nb = json.loads(text)
    markdown = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.findall(r'L\d+\["([^"]+)"\]', markdown) == ["40 First thing", "41 GPT thing"]
    assert "L40 --> L41" in markdown and "```mermaid" in markdown
    assert "(41-gpt-thing/41-gpt-thing.ipynb)" in markdown
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("course_progress()" in c for c in code) and any("language_picker()" in c for c in code)
    assert "Validate" in markdown and "GPT2_COURSE_LANG" in markdown


def test_repository_home_notebook_is_up_to_date():
    lessons = REPO / "lessons"
    slugs = [lesson.slug for lesson in home.find_lessons(lessons)]
    assert len(slugs) == 8
    current = (lessons / home.HOME_NAME).read_text(encoding="utf-8")
    assert current == home.home_text(lessons), "run: python -m quiz.home"
    assert home.main(["--check", str(lessons)]) == 0


def test_check_fails_when_out_of_date(tmp_path, capsys):
    root = make_lessons(tmp_path / "lessons", ["40-first-thing"])
    assert home.main(["--check", str(root)]) == 1
    assert home.main([str(root)]) == 0
    assert home.main(["--check", str(root)]) == 0
    make_lessons(root, ["41-new-lesson"])
    assert home.main(["--check", str(root)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_progress_table_counts_what_the_lessons_count(tmp_path):
    root = make_lessons(tmp_path / "lessons", ["40-first-thing", "41-second-thing"])
    quiz_path = root / "40-first-thing" / "quiz.json"
    pre, post = QuizView(select(quiz_path, "pre")), QuizView(select(quiz_path, "post"))
    for card in [*pre.cards, *post.cards[:1]]:
        card.radio.value = card.item.question.correct
        card.button.click()
    table = home.course_progress(root, lang="en")
    first, second = table.rows
    quiz = load_quiz(quiz_path)
    attempts = read_attempts(root / "40-first-thing" / "quiz-progress.jsonl")
    for stage, score in first.scores.items():
        assert score == stage_score(quiz, stage, attempts, "demo-attention")
    assert first.gain == matched_gain(quiz, attempts, "demo-attention") and first.gain.points == 0
    text = repr(table)
    assert "40 First thing" in text and "1/1 answered, 1 right" in text and "1/3 answered, 1 right" in text
    assert "1/1 → 1/1, ⟨g⟩ = full marks before" in text and "not yet" in text  # the second lesson
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and 'href="40-first-thing/40-first-thing.ipynb"' in html
    assert "<td>1/1 answered<br>1 right</td>" in html  # two lines: a narrow column never breaks mid-phrase
    assert "课前测验" in home.course_progress(root, lang="zh")._repr_html_()


def test_progress_table_survives_a_broken_quiz(tmp_path):
    root = make_lessons(tmp_path / "lessons", ["40-first-thing"])
    (root / "40-first-thing" / "quiz.json").write_text("{")
    (row,) = home.course_progress(root, lang="en").rows
    assert row.problem and "quiz.json" in row.problem


def test_language_picker_saves_the_choice():
    from quiz.i18n import preferred_language, settings_path

    picker = home.language_picker()
    assert picker.buttons.value == "zh"
    picker.buttons.value = "en"
    assert json.loads(settings_path().read_text())["language"] == "en"
    assert preferred_language() == "en" and "Saved" in picker.status.value
    assert picker.buttons.description == "Quiz language"
