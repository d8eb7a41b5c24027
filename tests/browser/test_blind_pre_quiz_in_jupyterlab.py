"""The student's side in a real JupyterLab: an honest pre → post gain, a reload, and notebooks that
open unmodified.

JupyterLab (the helpers of test_quiz_in_jupyterlab.py) serves a small course: one lesson whose quiz
has two pre questions and one post question (a pre quiz cell and a post quiz cell, each importing
what it calls), a copy of a generated lesson notebook (lessons/35-…), and the generated course home.
Headless Chromium:

1. opens the generated lesson and the home: neither tab is marked modified once the kernel is up;
2. answers a pre question and sees no verdict (only "answer recorded"); answers a second one and asks
   to see it now (two clicks), which shows its verdict;
3. answers the post twin of the first: its verdict shows, and the pre card above now shows its own
   verdict too; the summary counts the blind item only, with ⟨g⟩;
4. saves, shuts the kernel down, reloads: the greyed quiz says in one line how to answer again, and
   running only the post quiz cell draws it live again (no NameError);
5. runs the course home: the lesson's row shows the matched result with ⟨g⟩ from the blind item
   only, and says one item is left out.

Screenshots: build/test-output/browser/blind-*.png. Skipped when Chromium is missing, unless
REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import json
import platform
import re
import shutil
from pathlib import Path

import pytest

from tests.browser import lab as lab_tools

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SLUG = "40-two-pre"
GENERATED = "35-gpt-model-assembly"
QUESTIONS = [
    {"id": "p1", "stage": "pre", "question": "第一道课前题：一加一等于几？", "options": ["一", "二", "三", "四"],
     "correct": 1, "explanation": "一加一等于二，这是第一道题的解析。"},
    {"id": "p2", "stage": "pre", "question": "第二道课前题：二加二等于几？", "options": ["三", "四", "五", "六"],
     "correct": 1, "explanation": "二加二等于四，这是第二道题的解析。"},
    {"id": "o1", "stage": "post", "question": "课后题：三加三等于几？", "options": ["五", "六", "七", "八"],
     "correct": 1, "explanation": "三加三等于六。"},
]


OUTPUT, TOKEN = lab_tools.OUTPUT, lab_tools.TOKEN
wait_shown, wait_until = lab_tools.wait_shown, lab_tools.wait_until


def _lesson_notebook() -> dict:
    from quiz.home import notebook_metadata

    def code(cell_id: str, stage: str) -> dict:
        return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {}, "outputs": [],
                "source": ["from quiz import show_quiz\n", f'show_quiz("quiz.json", stage="{stage}")']}

    return {
        "cells": [
            {"cell_type": "markdown", "id": "title", "metadata": {}, "source": ["# 两道课前题 / Two pre questions"]},
            code("pre-quiz", "pre"),
            code("post-quiz", "post"),
        ],
        "metadata": notebook_metadata(),
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _kernel_python(notebook: Path) -> None:
    """The build writes the course's Python version (quiz.home.COURSE_PYTHON) into language_info; a
    kernel on another Python rewrites that one field, as in any notebook. Here the kernel is this
    Python: if it differs, the served copy says this version, so the test checks everything else."""
    from quiz.home import COURSE_PYTHON

    if platform.python_version() != COURSE_PYTHON:
        data = json.loads(notebook.read_text(encoding="utf-8"))
        data["metadata"]["language_info"]["version"] = platform.python_version()
        notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    lab_tools._require_browser()
    from quiz import home

    base = tmp_path_factory.mktemp("blind")
    root = base / "lessons"
    lesson = root / SLUG
    lesson.mkdir(parents=True)
    (lesson / "quiz.json").write_text(json.dumps({"lesson": SLUG, "title": "两道课前题", "questions": QUESTIONS},
                                                 ensure_ascii=False), encoding="utf-8")
    (lesson / f"{SLUG}.ipynb").write_text(json.dumps(_lesson_notebook(), indent=1, ensure_ascii=False), encoding="utf-8")
    generated = root / GENERATED
    generated.mkdir()
    for name in (f"{GENERATED}.ipynb", "quiz.json", "quiz.en.json"):
        shutil.copy(REPO / "lessons" / GENERATED / name, generated / name)
    home.write_home(root)
    for notebook in (generated / f"{GENERATED}.ipynb", root / home.HOME_NAME, lesson / f"{SLUG}.ipynb"):
        _kernel_python(notebook)
    with lab_tools.serving(root, base, lab_tools.WHOLE_NOTEBOOK_NO_AUTOSAVE) as server:
        yield server


@pytest.fixture(scope="module")
def chromium(course):
    with lab_tools.launched_chromium() as browser:
        yield browser


def _visible(selector: str) -> str:
    return f".jp-NotebookPanel:not(.lm-mod-hidden) {selector}"


def _tab_is_dirty(page, name: str) -> bool:
    tab = page.locator(".lm-TabBar-tab", has_text=name).first
    return "jp-mod-dirty" in (tab.get_attribute("class") or "")


def _opens_unmodified(page, server, relative: str) -> None:
    """Open ``relative``; once its kernel is up and has told JupyterLab its language_info, the tab is
    not marked modified (the build wrote the full language_info the kernel reports)."""
    lab_tools.open_in_workspace(page, server, relative)
    lab_tools.wait_idle(page, server)
    page.wait_for_timeout(2000)  # the kernel's info has arrived: JupyterLab writes it on connect
    name = Path(relative).name
    assert not _tab_is_dirty(page, name), f"{relative} opens already marked modified"


def _code_cell(page, index: int):
    return page.locator(_visible(".jp-Notebook .jp-CodeCell")).nth(index)


def _run_cell(page, server, index: int, wait_for, what: str) -> None:
    """Run code cell ``index`` (Shift+Enter in its editor) until ``wait_for`` shows; again when
    nothing happened for a while (a run sent while the kernel still connects can get lost)."""
    for attempt in range(3):
        _code_cell(page, index).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        try:
            wait_shown(page, server, wait_for, what, stall_s=lab_tools.LOST_RUN_S if attempt < 2 else lab_tools.STALL_S)
            return
        except lab_tools.Stalled:
            if attempt == 2:
                raise


def _label(course, stage: str, key: str, option: int) -> str:
    """The radio label this learner sees for original option ``option`` of question ``key``."""
    from quiz import markdown
    from quiz.selection import select

    items = select(course.root / SLUG / "quiz.json", stage, learner=lab_tools.LEARNER).items
    item = next(i for i in items if i.key == key)
    return f"{item.letter_of(option)}. {markdown.to_label(item.question.options[option])}"


def _saved_widget_state(path: Path) -> dict:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return notebook.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})


def test_pre_answers_are_blind_until_the_post_twin_and_the_home_counts_only_blind_items(course, chromium):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = lab_tools.new_page(chromium)
    try:
        # 1. generated notebooks open unmodified (the lesson as released, and the course home)
        _opens_unmodified(page, course, f"{GENERATED}/{GENERATED}.ipynb")
        _opens_unmodified(page, course, "00-start-here.ipynb")
        lab_tools.shut_down_kernels(course)

        # 2. the pre quiz: answers recorded blind
        relative = f"{SLUG}/{SLUG}.ipynb"
        _opens_unmodified(page, course, relative)
        pre_cell, post_cell = _code_cell(page, 0), _code_cell(page, 1)
        _run_cell(page, course, 0, pre_cell.locator(".gpt2-quiz-card").nth(1), "the pre quiz's two cards")
        p1 = pre_cell.locator(".gpt2-quiz-card").nth(0)
        p1.get_by_label(_label(course, "pre", "p1", 0)).check()  # wrong
        p1.get_by_role("button", name="检查答案").click()
        wait_shown(page, course, p1.get_by_text("已记录你的答案"), "the pre card's 'answer recorded'")
        text = p1.inner_text()
        for hidden in ("回答正确", "回答错误", "正确答案", "第一道题的解析"):
            assert hidden not in text, f"the pre card shows {hidden!r} before the post quiz: {text}"
        score = pre_cell.locator(".gpt2-quiz-score").first.inner_text()
        assert "已作答 1/2 题" in score and "首次作答答对" not in score, score
        page.screenshot(path=str(OUTPUT / "blind-pre-recorded.png"))

        p2 = pre_cell.locator(".gpt2-quiz-card").nth(1)
        p2.get_by_label(_label(course, "pre", "p2", 1)).check()  # right
        p2.get_by_role("button", name="检查答案").click()
        wait_shown(page, course, p2.get_by_role("button", name="现在就看答案"), "the button to see the answer now")
        p2.get_by_role("button", name="现在就看答案").click()
        p2.get_by_role("button", name="确认：现在看答案").click()  # a second click confirms
        wait_shown(page, course, p2.get_by_text("✓ 回答正确！"), "the verdict shown on request")
        assert "不计入课前→课后的对比" in p2.inner_text() and "第二道题的解析" in p2.inner_text()
        assert "回答错误" not in p1.inner_text()  # asking for one verdict shows no other

        # 3. the post quiz: the twin's verdict, then the pre card's own
        _run_cell(page, course, 1, post_cell.locator(".gpt2-quiz-card").nth(2), "the post quiz's three cards")
        twin = post_cell.locator(".gpt2-quiz-card").nth(0)
        twin.get_by_label(_label(course, "post", "p1", 1)).check()  # right this time
        twin.get_by_role("button", name="检查答案").click()
        wait_shown(page, course, twin.get_by_text("✓ 回答正确！"), "the post twin's verdict")
        wait_shown(page, course, p1.get_by_text("✗ 回答错误。"), "the pre card's own verdict, once its twin is answered")
        assert "第一道题的解析" in p1.inner_text() and "课后测验已经重答了这道题" in p1.inner_text()
        for n in (1, 2):
            card = post_cell.locator(".gpt2-quiz-card").nth(n)
            key = ("p2", "o1")[n - 1]
            card.get_by_label(_label(course, "post", key, 1)).check()
            card.get_by_role("button", name="检查答案").click()
            wait_shown(page, course, card.get_by_text("✓ 回答正确！"), f"the verdict of post card {n + 1}")
        summary = post_cell.locator(".gpt2-quiz-summary")
        wait_shown(page, course, summary.get_by_text(re.compile("⟨g⟩")), "the before/after summary with ⟨g⟩")
        text = summary.inner_text()
        assert "课前盲答的 1 道题：课前答对 0/1（0%）→ 课后重答答对 1/1（100%）" in text, text
        assert "⟨g⟩ =（课后 − 课前）/（100 − 课前）= 1.00" in text and "另有 1 道课前题目不计入对比" in text, text
        numbers = [m for m in re.findall(r"第 (\d+) 题 · 课后测验", post_cell.inner_text())]
        assert numbers == ["1", "2", "3"], numbers
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUTPUT / "blind-both-verdicts.png"), full_page=True)

        # 4. save, kernel gone, reload: the greyed quiz says how to answer again; the quiz cell runs alone
        notebook_file = course.root / SLUG / f"{SLUG}.ipynb"
        pre_cell.locator(".jp-InputPrompt").click()
        page.keyboard.press("Control+s")
        wait_until(page, course, f"{notebook_file.name} saved with its widget state",
                   lambda: bool(_saved_widget_state(notebook_file).get("state")))
        lab_tools.shut_down_kernels(course)
        page.reload(wait_until="domcontentloaded")
        hint = page.locator(_visible(".gpt2-quiz-reload-hint"))
        wait_shown(page, course, hint.first, "the reload hint on the quiz drawn from the saved state")
        assert "要再作答，请重新运行本单元格（Shift+Enter）" in hint.first.inner_text()
        assert hint.count() == 2  # one line per quiz
        assert hint.first.evaluate("el => el.getBoundingClientRect().height") < 60  # one line
        page.screenshot(path=str(OUTPUT / "blind-after-reload.png"))
        lab_tools.wait_idle(page, course)
        post_cell = _code_cell(page, 1)
        _run_cell(page, course, 1, post_cell.locator(".gpt2-quiz-card .gpt2-quiz-note", has_text="上次的作答记录").first,
                  "the post quiz drawn live again by running only its cell")
        assert page.get_by_text("NameError").count() == 0
        assert not is_visible(post_cell.locator(".gpt2-quiz-reload-hint"))

        # 5. the course home: ⟨g⟩ from the blind item only
        lab_tools.open_in_workspace(page, course, "00-start-here.ipynb")
        lab_tools.wait_idle(page, course)
        table = page.locator(_visible(".gpt2-course-progress-table"))
        cells = page.locator(_visible(".jp-Notebook .jp-CodeCell"))
        _run_cell(page, course, cells.count() - 1, table, "the course home's progress table")
        row = table.locator("tr", has_text="40 Two pre")
        gain = [c.strip() for c in row.locator("td").all_inner_texts()][-1]
        assert gain.splitlines() == ["0/1 → 1/1", "⟨g⟩ = 1.00（1 题不计）"], gain
        assert "盲答" in table.inner_text()
        page.screenshot(path=str(OUTPUT / "blind-home.png"))
    except Exception:
        lab_tools._save_failure(page, course, "blind")
        raise
    finally:
        page.close()


def is_visible(locator) -> bool:
    return lab_tools.is_shown(locator)
