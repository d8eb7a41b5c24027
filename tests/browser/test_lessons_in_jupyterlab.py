"""Every lesson, and the course home, worked through in a real JupyterLab as a student would.

A copy of the student edition (`lessons/`) is served by JupyterLab on 127.0.0.1; each lesson's
notebook is replaced by its solution notebook (`nbgrader-course/source/<slug>/`, the graded cells filled
in). Headless Chromium opens each one, runs it with Run > Run All Cells, and checks:

- every cell ran and none ended in an error (read from the saved notebook, which is what the
  student keeps);
- every quiz cell drew its quiz, and no widget failed to display;
- after save, with the kernel shut down and the page reloaded, every quiz still shows (from the
  widget state saved in the notebook), in JupyterLab.

The course home is run and reloaded the same way, and its progress table lists every lesson.
Screenshots of each lesson after the reload, and of any failure (page, HTML, server log), go to
build/test-output/browser/lessons/.

Skipped when Chromium is missing, unless REQUIRE_BROWSER=1 (CI). Runs every lesson: ~8-10 min.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from pathlib import Path

import pytest

from tests.browser import lab as lab_tools

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LESSONS = REPO / "lessons"
SOURCE = REPO / "nbgrader-course" / "source"
HOME = "00-start-here.ipynb"


TOKEN = lab_tools.TOKEN
OUTPUT = lab_tools.OUTPUT / "lessons"


def lesson_slugs() -> list[str]:
    return sorted(p.name for p in LESSONS.iterdir() if p.is_dir() and (p / f"{p.name}.ipynb").exists())


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    lab_tools._require_browser()
    base = tmp_path_factory.mktemp("course")
    root = base / "lessons"
    shutil.copytree(LESSONS, root, ignore=shutil.ignore_patterns("quiz-progress.jsonl", ".ipynb_checkpoints"))
    for slug in lesson_slugs():
        shutil.copy(SOURCE / slug / f"{slug}.ipynb", root / slug / f"{slug}.ipynb")
    with lab_tools.serving(root, base, lab_tools.WHOLE_NOTEBOOK_NO_AUTOSAVE) as server:
        yield server


@pytest.fixture(scope="module")
def chromium(course):
    with lab_tools.launched_chromium() as browser:
        yield browser


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(notebook: dict) -> list[dict]:
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _quiz_cells(notebook: dict) -> int:
    return sum(1 for cell in _code_cells(notebook) if "show_quiz(" in _source(cell))


def _errors(notebook: dict) -> list[str]:
    """'cell N: ename: evalue' for each error output, and each code cell that never ran."""
    found = []
    for number, cell in enumerate(_code_cells(notebook), 1):
        if not _source(cell).strip():
            continue
        if cell.get("execution_count") is None:
            found.append(f"code cell {number} did not run: {_source(cell)[:80]!r}")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"code cell {number}: {output.get('ename')}: {output.get('evalue')}")
    return found


def _saved_widget_models(notebook: dict) -> dict:
    state = notebook.get("metadata", {}).get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return state.get("state", {})


def _visible(selector: str) -> str:
    return f".jp-NotebookPanel:not(.lm-mod-hidden) {selector}"


def _busy_prompts(page) -> int:
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].filter(p => p.textContent.includes('*')).length""",
        _visible(".jp-InputArea-prompt"),
    )


def _run_all(page, course, expected_cells: int) -> None:
    """Run > Run All Cells, then wait until every code cell has run, or (an error stops Run All)
    until nothing is queued or running and the kernel is idle, five checks in a row. The wait
    lasts as long as the kernel works (lesson 36 trains for minutes; a busy machine is slower)."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu").last.get_by_text("Run All Cells", exact=True).click()
    quiet = 0

    def finished() -> bool:
        nonlocal quiet
        if _ran_count(page) >= expected_cells:
            return True
        quiet = quiet + 1 if _busy_prompts(page) == 0 and _kernels_idle(course) else 0
        return quiet >= 5

    lab_tools.wait_until(page, course, f"Run All Cells to run {expected_cells} code cells", finished, poll_s=1.0)
    lab_tools.wait_idle(page, course)


def _kernels_idle(course) -> bool:
    with urllib.request.urlopen(f"{course.url}/api/kernels?token={TOKEN}", timeout=10) as reply:
        return all(kernel["execution_state"] == "idle" for kernel in json.load(reply))


def _ran_count(page) -> int:
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].filter(p => /\\[\\d+\\]/.test(p.textContent)).length""",
        _visible(".jp-InputArea-prompt"),
    )


def _save(page, course, path: Path) -> None:
    """Ctrl+S, then wait until the file on disk is newer than before and holds the widget state."""
    before = path.stat().st_mtime_ns
    page.locator(_visible(".jp-Notebook .jp-Cell .jp-InputPrompt")).first.click()
    page.keyboard.press("Control+s")
    lab_tools.wait_until(page, course, f"{path.name} saved with its widget state",
                         lambda: path.stat().st_mtime_ns > before and bool(_saved_widget_models(_notebook(path))))


def _widget_failures(page) -> int:
    return page.get_by_text(re.compile(r"Error displaying widget|model not found", re.I)).count()


def _work_through(page, course, relative: str, quiz_selector: str, expected_quizzes: int) -> dict:
    """Open, run all, check, save, shut the kernel down, reload and check again; the saved notebook."""
    path = course.root / relative
    lab_tools.open_in_workspace(page, course, relative)
    lab_tools.wait_idle(page, course)
    _run_all(page, course, sum(1 for cell in _code_cells(_notebook(path)) if _source(cell).strip()))
    page.wait_for_timeout(500)
    shown = page.locator(_visible(quiz_selector)).count()
    failures = _widget_failures(page)
    _save(page, course, path)
    saved = _notebook(path)
    assert _errors(saved) == [], f"{relative}: {_errors(saved)}"
    assert failures == 0, f"{relative}: {failures} widget(s) failed to display"
    assert shown == expected_quizzes, f"{relative}: {shown} quizzes drawn, {expected_quizzes} quiz cells"

    lab_tools.shut_down_kernels(course)
    page.reload(wait_until="domcontentloaded")
    lab_tools.wait_shown(page, course, page.locator(_visible(".jp-Notebook .jp-CodeCell .cm-content")),
                         f"{relative} shown again after the reload")
    if expected_quizzes:
        lab_tools.wait_shown(page, course, page.locator(_visible(quiz_selector)).nth(expected_quizzes - 1),
                             f"quiz {expected_quizzes} of {relative} drawn from the saved state")
    page.wait_for_timeout(1000)
    assert _widget_failures(page) == 0, f"{relative}: a widget failed to display after the reload"
    assert page.locator(_visible(quiz_selector)).count() == expected_quizzes, f"{relative} after reload"
    return saved


def _screenshot(page, name: str, selector: str) -> None:
    target = page.locator(_visible(selector)).last
    target.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))


@pytest.mark.parametrize("slug", lesson_slugs())
def test_lesson_runs_in_jupyterlab_and_survives_reload(course, chromium, slug):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    relative = f"{slug}/{slug}.ipynb"
    expected = _quiz_cells(_notebook(course.root / relative))
    assert expected >= 3, f"{slug}: a lesson has pre, check and post quizzes"
    page = lab_tools.new_page(chromium)
    try:
        _work_through(page, course, relative, ".gpt2-quiz", expected)
        _screenshot(page, f"{slug}-after-reload", ".gpt2-quiz")
    except Exception:
        lab_tools._save_failure(page, course, f"lessons-{slug}")
        raise
    finally:
        page.close()
        lab_tools.shut_down_kernels(course)


def test_course_home_runs_and_survives_reload(course, chromium):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = lab_tools.new_page(chromium)
    try:
        saved = _work_through(page, course, HOME, ".gpt2-quiz-language", 1)
        table = page.locator(_visible(".gpt2-course-progress-table"))
        lab_tools.wait_shown(page, course, table, "the course home's progress table")
        rows = table.locator("tbody tr").count() or table.locator("tr").count() - 1
        assert rows == len(lesson_slugs()), f"{rows} rows in the progress table"
        text = json.dumps(saved)
        for slug in lesson_slugs():
            assert f"{slug}/{slug}.ipynb" in text, f"the home does not link {slug}"
        _screenshot(page, "home-after-reload", ".gpt2-course-progress-table")
    except Exception:
        lab_tools._save_failure(page, course, "lessons-home")
        raise
    finally:
        page.close()
        lab_tools.shut_down_kernels(course)
