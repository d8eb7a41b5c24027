"""The quiz in a real JupyterLab, driven by headless Chromium through Playwright.

JupyterLab serves a temporary folder (the demo quiz and a one-cell notebook) on
127.0.0.1 with a fixed token. The test runs the cell, picks the right option by its
label, presses the check button, reads feedback, explanation and score from the page,
and saves screenshots (light theme, then dark theme with the answer restored from the
progress file) under build/test-output/browser/.

Skipped when /usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 (CI), then it fails.
The helpers every browser test shares are in ``tests/browser/lab.py``.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from tests.browser.lab import (
    FIXTURE,
    NOTEBOOK,
    OUTPUT,
    TOKEN,
    _expected_labels,
    _notebook,
    _require_browser,
    _run_quiz_cell,
    _save_failure,
    launched_chromium,
    new_page,
    serving,
    wait_attached,
    wait_idle,
    wait_shown,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_browser()
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "lesson"
    root.mkdir()
    for name in ("quiz.json", "quiz.en.json"):
        shutil.copy(FIXTURE / name, root / name)
    (root / NOTEBOOK).write_text(json.dumps(_notebook(), indent=1), encoding="utf-8")
    with serving(root, base) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    with launched_chromium() as chromium:
        yield chromium


def _open_notebook(browser, lab):
    page = new_page(browser)
    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={TOKEN}", wait_until="domcontentloaded")
    wait_shown(page, lab, page.locator(".jp-Notebook .jp-Cell .cm-content"), f"JupyterLab to show {NOTEBOOK}")
    wait_idle(page, lab)
    return page


def test_quiz_runs_in_jupyterlab(lab, browser):
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob("*.png"):
        old.unlink()
    right_label, letter = _expected_labels()

    page = _open_notebook(browser, lab)
    try:
        _run_quiz_cell(page, lab, ".gpt2-quiz .gpt2-quiz-card")
        quiz_box = page.locator(".gpt2-quiz").first
        assert "在缩放点积注意力中" in quiz_box.inner_text()
        assert quiz_box.locator("svg[aria-label]").count() >= 2  # formulas drawn as SVG
        page.get_by_label(right_label).check()
        page.get_by_role("button", name="检查答案").click()
        # a pre question is answered blind: recorded, no verdict or explanation until the post quiz asks it again
        wait_shown(page, lab, page.get_by_text(f"已记录你的答案（{letter}）"), "the note '已记录你的答案'")
        feedback = page.locator(".gpt2-quiz-feedback").first.inner_text()
        assert "回答正确" not in feedback and "成正比" not in feedback, feedback
        wait_shown(page, lab, page.get_by_text("已作答 1/1 题"), "the score '已作答 1/1 题'")
        page.wait_for_timeout(300)  # let the last paint settle
        page.screenshot(path=str(OUTPUT / "quiz-light.png"))
        quiz_box.screenshot(path=str(OUTPUT / "quiz-light-widget.png"))

        records = [json.loads(line) for line in (lab.root / "quiz-progress.jsonl").read_text().splitlines()]
        assert [(r["question"], r["chosen"], r["correct"]) for r in records] == [("why-scale", 1, True)]

        # Dark theme; running the cell again builds a new view that restores the answer
        # from the progress file.
        page.get_by_role("menuitem", name="Settings").click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
        wait_attached(page, lab, page.locator("body[data-jp-theme-light='false']"), "the dark theme")
        _run_quiz_cell(page, lab, ".gpt2-quiz-feedback .gpt2-quiz-note")
        assert "（上次的作答记录）" in page.locator(".gpt2-quiz-feedback").first.inner_text()
        assert page.get_by_label(right_label).is_checked()
        quiz_box = page.locator(".gpt2-quiz").first
        background, foreground = quiz_box.evaluate(
            """el => [
                getComputedStyle(el.querySelector('.gpt2-quiz-card')).backgroundColor,
                getComputedStyle(el.querySelector('.gpt2-quiz-question')).color,
            ]"""
        )
        assert _luminance(background) < 0.2 and _luminance(foreground) > 0.6, (background, foreground)
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUTPUT / "quiz-dark.png"))
        quiz_box.screenshot(path=str(OUTPUT / "quiz-dark-widget.png"))
    except Exception:
        _save_failure(page, lab, "test")
        raise
    finally:
        page.close()


def _luminance(css_colour: str) -> float:
    """Rough relative luminance of an ``rgb(...)``/``rgba(...)`` colour, 0 (black) to 1."""
    numbers = css_colour[css_colour.index("(") + 1 : css_colour.index(")")].split(",")
    r, g, b = (float(n) / 255 for n in numbers[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
