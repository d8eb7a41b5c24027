"""The quiz in a real JupyterLab, driven by headless Chromium through Playwright.

JupyterLab serves a temporary folder (the demo quiz and a one-cell notebook) on
127.0.0.1 with a fixed token. The test runs the cell, picks the right option by its
label, presses the check button, reads feedback, explanation and score from the page,
and saves screenshots (light theme, then dark theme with the answer restored from the
progress file) under build/test-output/browser/.

Skipped when /usr/bin/chromium is missing, unless REQUIRE_BROWSER=1 (CI), then it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "quiz" / "fixtures" / "demo-lesson"
OUTPUT = REPO / "build" / "test-output" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "gpt2-course-quiz-browser-test"
LEARNER = "browser-learner"
NOTEBOOK = "quiz-demo.ipynb"
START_TIMEOUT_S = 120
UI_TIMEOUT_MS = int(os.environ.get("QUIZ_BROWSER_TIMEOUT_MS", "120000"))


def _require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (requirements-dev.txt)"
    if problem is None:
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but the browser test cannot run: {problem}", pytrace=False)
    pytest.skip(problem)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_settings(settings: Path, *, dark: bool) -> None:
    """User settings: no news/update toast (it would cover the page), and the theme."""
    folder = settings / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8"
    )
    theme = "JupyterLab Dark" if dark else "JupyterLab Light"
    (folder / "themes.jupyterlab-settings").write_text(
        json.dumps({"theme": theme, "adaptive-theme": False}), encoding="utf-8"
    )


def _notebook() -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "quiz-cell",
                "metadata": {},
                "outputs": [],
                "source": ["from quiz import show_quiz\n", 'show_quiz("quiz.json", "pre")'],
            }
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


class LabServer:
    def __init__(self, root: Path, settings: Path, port: int, log: Path):
        self.root, self.settings, self.port, self.log_path = root, settings, port, log
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "QUIZ_LEARNER": LEARNER,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "XDG_CONFIG_HOME": str(self.root.parent / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.root.parent / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(self.root.parent / "runtime"),
            # no user-level Jupyter config or kernelspecs: only what the venv provides
            "JUPYTER_CONFIG_DIR": str(self.root.parent / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(self.root.parent / "jupyter-data"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        for name in ("GPT2_COURSE_LANG", "NBGRADER_EXECUTION", "JUPYTERHUB_USER"):
            env.pop(name, None)
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=",
        ]
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            command, cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.read_log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={TOKEN}", timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT_S}s:\n{self.read_log()}")

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Shut the server and its kernels down; kill by pid whatever is left."""
        if self.process is None:
            return
        import psutil

        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            family = []
        try:
            request = urllib.request.Request(f"{self.url}/api/shutdown?token={TOKEN}", method="POST")
            urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for child in family:  # kernels run in their own sessions
            try:
                child.kill()
            except psutil.Error:
                pass
        self.log.close()


@contextlib.contextmanager
def serving(root: Path, base: Path, settings: dict[str, dict] | None = None):
    """JupyterLab on ``root`` (light theme plus ``settings``: {"<extension>/<plugin>": values}),
    stopped by its PID at the end."""
    folder = base / "settings"
    _write_settings(folder, dark=False)
    for plugin, values in (settings or {}).items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    server = LabServer(root, folder, _free_port(), base / "jupyterlab.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def launched_chromium():
    """Debian's Chromium, headless, driven by Playwright; closed at the end."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser):
    """A Chinese-locale page the size of a laptop screen, with the UI timeout."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(UI_TIMEOUT_MS)
    return page


def wait_idle(page) -> None:
    """"Idle" in the status bar: the kernel is connected, so a submitted cell runs."""
    page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\|\s*Idle")).wait_for(timeout=UI_TIMEOUT_MS)


def open_in_workspace(page, server, path: str) -> None:
    """Open ``path`` in a workspace of its own: no tab of an earlier test is restored beside it
    (each would start a kernel), and the notebook's first code cell is on screen."""
    workspace = re.sub(r"[^A-Za-z0-9-]", "-", path)
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}?token={TOKEN}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .cm-content",
                           timeout=UI_TIMEOUT_MS)


def shut_down_kernels(server) -> None:
    """Every kernel of ``server``, through its REST API (as when a student comes back another day)."""
    with urllib.request.urlopen(f"{server.url}/api/kernels?token={TOKEN}", timeout=10) as reply:
        kernels = json.load(reply)
    for kernel in kernels:
        request = urllib.request.Request(f"{server.url}/api/kernels/{kernel['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


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
    page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content", timeout=UI_TIMEOUT_MS)
    wait_idle(page)
    return page


def _run_quiz_cell(page, lab, wait_for: str) -> None:
    """Run the quiz cell and wait until ``wait_for`` shows; retry if a run got lost."""
    for attempt in range(3):
        page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_selector(wait_for, timeout=UI_TIMEOUT_MS // 3)
            return
        except Exception:
            if attempt == 2:
                _save_failure(page, lab, "no-quiz")
                raise


def _save_failure(page, lab, name: str) -> None:
    """Keep what the page showed and the server said, for whoever reads the CI log."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(OUTPUT / f"failure-{name}.png"))
        (OUTPUT / f"failure-{name}.html").write_text(page.content(), encoding="utf-8")
    except Exception:
        pass
    (OUTPUT / f"failure-{name}-server.log").write_text(lab.read_log(), encoding="utf-8")


def _expected_labels():
    from quiz import markdown
    from quiz.selection import select

    (item,) = select(FIXTURE / "quiz.json", "pre", learner=LEARNER).items
    q = item.question
    right = f"{item.letter_of(q.correct)}. {markdown.to_label(q.correct_option)}"
    return right, item.letter_of(q.correct)


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
        page.get_by_text("✓ 回答正确！").wait_for(timeout=UI_TIMEOUT_MS)
        feedback = page.locator(".gpt2-quiz-feedback").first.inner_text()
        assert f"正确答案：{letter}." in feedback
        assert "成正比" in feedback  # the explanation
        page.get_by_text("首次作答答对 1/1 题").wait_for()
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
        page.wait_for_selector("body[data-jp-theme-light='false']", state="attached", timeout=UI_TIMEOUT_MS)
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
