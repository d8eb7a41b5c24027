"""nbgrader's "(view feedback)" opens the feedback page (course/labextension, installed by
course.jupyter_setup), shown inert.

nbgrader's Assignment List runs ``filebrowser:go-to-path`` with the submission's feedback folder
(``<assignment>/feedback/<timestamp>``); on its own that only moves the file browser. The same
command is run here in JupyterLab (the hub test, tests/hub/test_class_loop.py, clicks the real link):
the feedback page must open in the HTML viewer, its script must not run, and a folder that is not a
feedback folder opens nothing. Screenshot: build/test-output/browser/open-feedback.png.
"""

from __future__ import annotations

import pytest

from tests.browser import lab as helpers

pytestmark = [pytest.mark.browser, pytest.mark.slow]


FOLDER = "course101/35-gpt-model-assembly/feedback/2026-12-07 10:00:00.000000 UTC"
PAGE = ("<html><head><title>35-gpt-model-assembly</title></head><body><h1>Feedback</h1>"
        "<p id='score'>Score: 13.0 / 23.0</p>"
        "<script>document.body.insertAdjacentText('beforeend', 'SCRIPT RAN')</script></body></html>")


def go_to(page, path: str) -> None:
    page.evaluate("path => window.jupyterapp.commands.execute('filebrowser:go-to-path', {path})", path)


def test_view_feedback_opens_the_page_inert(tmp_path):
    helpers._require_browser()
    root = tmp_path / "home"
    (root / FOLDER).mkdir(parents=True)
    (root / FOLDER / "35-gpt-model-assembly.html").write_text(PAGE, encoding="utf-8")
    (root / "course101" / "35-gpt-model-assembly" / "notes").mkdir()
    (root / "course101" / "35-gpt-model-assembly" / "notes" / "draft.html").write_text("<p>draft</p>")
    with helpers.serving(root, tmp_path, extra_args=("--LabApp.expose_app_in_browser=True",)) as server, \
            helpers.launched_chromium() as chromium:
        page = helpers.new_page(chromium)
        page.goto(f"{server.url}/lab?token={helpers.TOKEN}", wait_until="domcontentloaded")
        helpers.wait_until(page, server, "JupyterLab's application object",
                           lambda: page.evaluate("() => !!(window.jupyterapp && window.jupyterapp.commands.hasCommand('filebrowser:go-to-path'))"))
        go_to(page, "course101/35-gpt-model-assembly/notes")  # not feedback: the browser moves, nothing opens
        tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="35-gpt-model-assembly.html")
        draft = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="draft.html")
        go_to(page, FOLDER)
        helpers.wait_shown(page, server, tab, "the feedback page's tab")
        frame = page.frame_locator(".jp-HTMLViewer iframe")
        helpers.wait_shown(page, server, frame.locator("#score"), "the score inside the feedback page")
        helpers.OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(helpers.OUTPUT / "open-feedback.png"))
        assert frame.locator("#score").inner_text() == "Score: 13.0 / 23.0"
        assert "SCRIPT RAN" not in frame.locator("body").inner_text(), "the feedback page's script ran"
        assert draft.count() == 0, "a folder that is not a feedback folder opened a page"
