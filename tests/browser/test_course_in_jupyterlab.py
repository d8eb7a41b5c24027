"""The course in a real JupyterLab: a quiz survives save + reload, cards have no horizontal
scrollbar, students see Validate but not the instructor's nbgrader tools, and the course
home runs and shows the progress table.

The server is the one from test_quiz_in_jupyterlab.py (127.0.0.1, fixed token, private
settings) serving a small course: the generated home notebook and one lesson folder
holding the demo quiz. Jupyter's environment-wide settings come from the venv, as
`make setup` wrote them (course.jupyter_setup). Screenshots: build/test-output/browser/.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.browser import lab as lab_tools

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "40-demo-attention"
GRADED_SLUG = "41-demo-graded"


OUTPUT, TOKEN = lab_tools.OUTPUT, lab_tools.TOKEN
wait_shown = lab_tools.wait_shown


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    lab_tools._require_browser()
    from quiz import home

    base = tmp_path_factory.mktemp("course")
    root = base / "lessons"
    lesson = root / SLUG
    lesson.mkdir(parents=True)
    for name in ("quiz.json", "quiz.en.json"):
        shutil.copy(lab_tools.FIXTURE / name, lesson / name)
    (lesson / f"{SLUG}.ipynb").write_text(json.dumps(lab_tools._notebook(), indent=1), encoding="utf-8")
    # the same lesson as a course releases it: post questions without their key
    from grader.build import course_quiz_bytes

    graded = root / GRADED_SLUG
    graded.mkdir()
    (graded / "quiz.json").write_bytes(course_quiz_bytes((lab_tools.FIXTURE / "quiz.json").read_bytes()))
    notebook = lab_tools._notebook()
    notebook["cells"][0]["source"] = ["from quiz import show_quiz\n", 'show_quiz("quiz.json", "post")']
    (graded / f"{GRADED_SLUG}.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    home.write_home(root)
    with lab_tools.serving(root, base) as server:
        yield server


@pytest.fixture(scope="module")
def chromium(course):
    with lab_tools.launched_chromium() as browser:
        yield browser


def _no_horizontal_overflow(page) -> list:
    """[(className, scrollWidth, clientWidth)] for every quiz box wider than its content box."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.gpt2-quiz, .gpt2-quiz-card')]
            .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth)
            .map(el => [el.className, el.scrollWidth, el.clientWidth])"""
    )


def _saved_widget_state(path: Path) -> dict:
    """The widget state saved in the notebook on disk ({} while JupyterLab is still writing it)."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:  # caught between truncate and write: look again
        return {}
    return notebook.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})


def _save_with_widget_state(page, server, notebook_file: Path) -> None:
    """Ctrl+S; wait until the notebook on disk holds the widgets' state (saveState from course.jupyter_setup)."""
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
    page.keyboard.press("Control+s")
    lab_tools.wait_until(page, server, f"{notebook_file.name} saved with its widget state",
                         lambda: bool(_saved_widget_state(notebook_file).get("state")))


def test_quiz_survives_save_and_reload_and_home_shows_progress(course, chromium):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    right_label, _ = lab_tools._expected_labels()
    notebook_file = course.root / SLUG / f"{SLUG}.ipynb"
    page = lab_tools.new_page(chromium)
    try:
        # 1. a lesson: run the quiz cell, answer
        lab_tools.open_in_workspace(page, course, f"{SLUG}/{SLUG}.ipynb")
        lab_tools.wait_idle(page, course)
        lab_tools._run_quiz_cell(page, course, ".gpt2-quiz .gpt2-quiz-card")
        page.get_by_label(right_label).check()
        page.get_by_role("button", name="检查答案").click()
        # a pre question is answered blind: its verdict waits for the post quiz
        wait_shown(page, course, page.get_by_text("已记录你的答案"), "the note '已记录你的答案'")
        page.wait_for_timeout(300)
        assert _no_horizontal_overflow(page) == []
        page.screenshot(path=str(OUTPUT / "course-lesson-answered.png"))

        # students check their work with Validate; the instructor's tools are gone
        assert page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").count() >= 1
        page.get_by_role("menuitem", name="Nbgrader").click()
        menu = page.locator(".lm-Menu").last
        menu.get_by_text("Assignment List").wait_for()
        menu_text = menu.inner_text()
        assert "Formgrader" not in menu_text and "Course List" not in menu_text, menu_text
        page.keyboard.press("Escape")
        assert page.get_by_text("Create Assignment").count() == 0
        # and Validate still works (its server extension stays on)
        page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").first.click()
        dialog = page.locator(".jp-Dialog")
        wait_shown(page, course, dialog.get_by_text(re.compile(r"Success|passes|Validat", re.I)),
                   "nbgrader's Validate dialog with its result")
        dialog_text = dialog.inner_text()
        assert "404" not in dialog_text and "rror" not in dialog_text, dialog_text
        page.screenshot(path=str(OUTPUT / "course-validate.png"))
        dialog.get_by_role("button").last.click()
        dialog.wait_for(state="detached")

        # 2. save: the widget state goes into the notebook (saveState from course.jupyter_setup)
        _save_with_widget_state(page, course, notebook_file)

        # 3. the kernel goes away (as when a student comes back another day), then the page
        # reloads without running anything: the quiz is drawn from the saved state
        lab_tools.shut_down_kernels(course)
        page.reload(wait_until="domcontentloaded")
        wait_shown(page, course, page.locator(".gpt2-quiz .gpt2-quiz-card"), "the quiz drawn from the saved state")
        wait_shown(page, course, page.get_by_text("已记录你的答案"), "the saved note '已记录你的答案'")
        page.wait_for_timeout(500)
        assert page.get_by_text(re.compile("model not found", re.I)).count() == 0
        assert page.locator(".gpt2-quiz").first.is_visible()
        assert _no_horizontal_overflow(page) == []
        page.screenshot(path=str(OUTPUT / "course-lesson-after-reload.png"))

        # 4. the course home: run it, see the language buttons and the progress table
        lab_tools.open_in_workspace(page, course, "00-start-here.ipynb")
        lab_tools.wait_idle(page, course)
        # the lesson's tab is still open (hidden): work in the visible notebook only
        cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
        table = page.locator(".gpt2-course-progress-table")
        for attempt in range(3):  # a run sent while the kernel still connects can get lost
            cells.first.click()
            for _ in range(cells.count()):
                page.keyboard.press("Shift+Enter")  # run each cell and move on, as a student would
                page.wait_for_timeout(200)
            try:
                wait_shown(page, course, table, "the course home's progress table",
                           stall_s=lab_tools.LOST_RUN_S if attempt < 2 else lab_tools.STALL_S)
                break
            except lab_tools.Stalled:
                if attempt == 2:
                    raise
        row = table.locator("tr", has_text="40 Demo attention")
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        assert cells[1].splitlines() == ["已答 1/1", "对错待课后公布"], cells  # blind until the post quiz
        assert cells[3].splitlines() == ["已答 0/3", "首次答对 0"], cells
        picker = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .gpt2-quiz-language").first
        picker.get_by_text("English").wait_for()
        # the Mermaid lesson map is drawn (JupyterLab shows it as an image; a syntax error
        # would show a warning box instead)
        diagram = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedMermaid").first
        wait_shown(page, course, diagram.locator("img, svg"), "the Mermaid lesson map drawn")
        assert "jp-mod-warning" not in (diagram.get_attribute("class") or "")
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUTPUT / "course-home.png"))

        # 5. the same saved lesson in Notebook 7: the quiz shows, without a scrollbar
        page.goto(f"{course.url}/notebooks/{SLUG}/{SLUG}.ipynb?token={TOKEN}", wait_until="domcontentloaded")
        wait_shown(page, course, page.locator(".gpt2-quiz .gpt2-quiz-card"), "the quiz in Notebook 7")
        wait_shown(page, course, page.get_by_text("已记录你的答案"), "the saved note in Notebook 7")
        page.wait_for_timeout(500)
        assert page.get_by_text(re.compile("model not found", re.I)).count() == 0
        assert _no_horizontal_overflow(page) == []
        page.screenshot(path=str(OUTPUT / "course-lesson-notebook7.png"))
    except Exception:
        lab_tools._save_failure(page, course, "course")
        raise
    finally:
        page.close()


def test_graded_post_quiz_saves_the_answer_for_submission_and_shows_it_after_reload(course, chromium):
    """Course edition: a post question without its key has a Save button, no verdict; the choice
    goes to quiz-answers.json beside the notebook (what nbgrader collects) and shows after reload."""
    from quiz import markdown
    from quiz.selection import select

    OUTPUT.mkdir(parents=True, exist_ok=True)
    folder = course.root / GRADED_SLUG
    notebook_file = folder / f"{GRADED_SLUG}.ipynb"
    items = select(folder / "quiz.json", "post", learner=lab_tools.LEARNER).items
    graded = next(item for item in items if not item.question.has_key)
    wrong = next(i for i in range(len(graded.question.options)) if i != 1)  # any option: no verdict either way
    label = f"{graded.letter_of(wrong)}. {markdown.to_label(graded.question.options[wrong])}"
    page = lab_tools.new_page(chromium)
    try:
        lab_tools.open_in_workspace(page, course, f"{GRADED_SLUG}/{GRADED_SLUG}.ipynb")
        lab_tools.wait_idle(page, course)
        lab_tools._run_quiz_cell(page, course, ".gpt2-quiz .gpt2-quiz-card")
        card = page.locator(".gpt2-quiz-card", has_text=markdown.to_label(graded.question.options[0])[:12])
        card.get_by_label(label).check()
        card.get_by_role("button", name="保存答案").click()
        saved_note = f"已保存你的答案（{graded.letter_of(wrong)}）"
        wait_shown(page, course, card.get_by_text(saved_note), f"the note '{saved_note}'")
        assert card.get_by_text("回答正确").count() == 0 and card.get_by_text("回答错误").count() == 0
        saved = json.loads((folder / "quiz-answers.json").read_text(encoding="utf-8"))
        assert saved["answers"] == {graded.key: wrong}, saved
        page.screenshot(path=str(OUTPUT / "course-graded-quiz-saved.png"))

        _save_with_widget_state(page, course, notebook_file)
        lab_tools.shut_down_kernels(course)
        page.reload(wait_until="domcontentloaded")
        wait_shown(page, course, page.locator(".gpt2-quiz .gpt2-quiz-card"), "the quiz drawn from the saved state")
        wait_shown(page, course, page.get_by_text(saved_note), f"the saved note '{saved_note}' after the reload")
        assert page.get_by_text(re.compile("model not found", re.I)).count() == 0
        page.screenshot(path=str(OUTPUT / "course-graded-quiz-after-reload.png"))
    except Exception:
        lab_tools._save_failure(page, course, "graded-quiz")
        raise
    finally:
        page.close()
