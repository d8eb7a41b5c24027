"""What every browser test shares: serve JupyterLab on 127.0.0.1, launch headless Chromium, open a
page in a workspace of its own, wait while something happens, keep what a failing page showed.

Waits follow what the page and server are doing (:func:`wait_while_active`): a wait goes on as long
as a kernel is busy or starting, the server's processes use CPU, or the page changes (cells run,
outputs drawn, scripts loaded), so a busy machine only makes a test slower; it fails with what it
waited for once nothing has happened for ``QUIZ_BROWSER_STALL_S`` seconds (60). A single UI action
on a page that is already drawn (a click, a check) gets ``QUIZ_BROWSER_TIMEOUT_MS`` (30 s).

Browser tests import it as ``from tests.browser import lab as lab_tools`` (pytest puts the
repository root on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from tests.support import free_port, require

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
# One UI action (click, check, fill) on a page that is already drawn: Playwright's timeout.
UI_TIMEOUT_MS = int(os.environ.get("QUIZ_BROWSER_TIMEOUT_MS", "30000"))
# JupyterLab settings for tests that count what a notebook shows and what is saved: every cell in
# the page (no windowing), and no autosave (the file on disk changes only when the test saves).
WHOLE_NOTEBOOK_NO_AUTOSAVE = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}
# A wait fails once nothing has happened for this long (no busy kernel, no CPU, no change).
STALL_S = float(os.environ.get("QUIZ_BROWSER_STALL_S", "60"))
# The most one wait takes while things keep happening: under pytest's timeout (900 s), so
# the failure comes with its message and screenshot.
PATIENCE_S = float(os.environ.get("QUIZ_BROWSER_PATIENCE_S", "800"))
# A cell run sent while the kernel still connects can get lost: nothing happens for this
# long after Shift+Enter, so it is sent again.
LOST_RUN_S = 20.0
# The server's processes (server, kernels, nbgrader's validation) work for us when they use
# at least this share of one core over CPU_WINDOW_S; idle, they use well under 1%.
CPU_BUSY_SHARE = 0.05
CPU_WINDOW_S = 5.0
BUSY_KERNEL_STATES = frozenset({"busy", "starting", "restarting", "autorestarting"})


def _require_browser() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (requirements-dev.txt)"
    require(problem, "REQUIRE_BROWSER", "the browser test")


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


# --- waiting on what the page and the server are doing -------------------------------------


class Stalled(AssertionError):
    """A wait gave up: nothing happened for too long, or it outlasted ``PATIENCE_S``."""


class Activity(NamedTuple):
    """One look at what is going on: ``busy`` while something works on it (a kernel busy or
    starting, CPU used); a change of ``state`` counts as progress; ``note`` says it in words.
    (A NamedTuple, not a dataclass: the other browser tests load this file without a module name.)"""

    busy: bool
    state: tuple
    note: str


def wait_while_active(
    what: str,
    done: Callable[[], bool],
    activity: Callable[[], Activity],
    *,
    stall_s: float | None = None,
    limit_s: float | None = None,
    poll_s: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once ``done()`` is true. Keep waiting while ``activity()`` is busy or its state
    changes; raise :class:`Stalled`, naming ``what``, once nothing has happened for ``stall_s``
    seconds (``STALL_S``), or after ``limit_s`` (``PATIENCE_S``) in all."""
    stall_s = STALL_S if stall_s is None else stall_s
    limit_s = PATIENCE_S if limit_s is None else limit_s
    start = last_progress = clock()
    last_state = None
    while not done():
        now = clock()
        seen = activity()
        if seen.busy or seen.state != last_state:
            last_progress, last_state = now, seen.state
        if now - last_progress >= stall_s:
            raise Stalled(f"waited {now - start:.0f}s for {what}; nothing happened in the last "
                          f"{stall_s:.0f}s ({seen.note})")
        if now - start >= limit_s:
            raise Stalled(f"waited {limit_s:.0f}s for {what}, the most one wait may take, though things "
                          f"were still happening ({seen.note})")
        sleep(poll_s)


class CpuMeter:
    """The share of one core that a process and its descendants used over the last
    ``window_s`` seconds (a process that ended counts with its last reading)."""

    def __init__(self, pid: int, window_s: float = CPU_WINDOW_S, clock: Callable[[], float] = time.monotonic):
        import psutil

        self.root, self.window_s, self.clock = psutil.Process(pid), window_s, clock
        self.used: dict[int, float] = {}
        self.samples: deque[tuple[float, float]] = deque()

    def total(self) -> float:
        """CPU seconds the tree has used so far."""
        import psutil

        try:
            family = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            family = []
        for process in family:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            self.used[process.pid] = times.user + times.system
        return sum(self.used.values())

    def share(self) -> float:
        """CPU seconds per second since the oldest reading within the window (0 at first)."""
        now, total = self.clock(), self.total()
        self.samples.append((now, total))
        while len(self.samples) > 2 and now - self.samples[1][0] >= self.window_s:
            self.samples.popleft()
        then, before = self.samples[0]
        return (total - before) / (now - then) if now > then else 0.0


# Counted in the page: what changes while JupyterLab loads, runs cells or draws outputs,
# and stays put while it idles (its polling of the server is left out).
PAGE_STATE_JS = """() => {
    const prompts = [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt')].map(p => p.textContent);
    const loaded = performance.getEntriesByType('resource')
        .filter(e => !['fetch', 'xmlhttprequest', 'beacon', 'other'].includes(e.initiatorType)).length;
    return {
        ready: document.readyState,
        ran: prompts.filter(t => /\\[\\d+\\]/.test(t)).length,
        queued: prompts.filter(t => t.includes('*')).length,
        outputs: document.querySelectorAll('.jp-OutputArea-output').length,
        loaded: loaded,
        elements: document.getElementsByTagName('*').length,
    };
}"""


class LabActivity:
    """What a JupyterLab (or Notebook 7) page and its server are doing, for
    :func:`wait_while_active`: kernel states from the server's API, the server's CPU use
    (kernels and nbgrader's validation included) and the page's state (:data:`PAGE_STATE_JS`)."""

    def __init__(self, page, server):
        self.page, self.server = page, server
        self.cpu = CpuMeter(server.process.pid)

    def page_state(self) -> tuple:
        try:
            return tuple(sorted(self.page.evaluate(PAGE_STATE_JS).items()))
        except Exception as error:  # the page navigates: its context is gone for a moment
            return (("page", type(error).__name__),)

    def __call__(self) -> Activity:
        kernels = self.server.kernel_states()
        page = self.page_state()
        share = self.cpu.share()
        busy = bool(BUSY_KERNEL_STATES & set(kernels)) or share >= CPU_BUSY_SHARE
        note = (f"kernels: {', '.join(kernels) or 'none'}; server CPU {share:.0%} of a core; "
                f"page: {', '.join(f'{k} {v}' for k, v in page)}")
        return Activity(busy, (kernels, page), note)


def wait_until(page, server, what: str, done: Callable[[], bool], **options) -> None:
    """:func:`wait_while_active` on what ``page`` and ``server`` are doing."""
    wait_while_active(what, done, LabActivity(page, server), **options)


def is_shown(locator) -> bool:
    """Whether any element ``locator`` matches is visible now (no waiting)."""
    try:
        return locator.evaluate_all(
            "els => els.some(e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length)"
            " && getComputedStyle(e).visibility !== 'hidden')")
    except Exception:  # the page navigates
        return False


def wait_shown(page, server, locator, what: str, **options) -> None:
    """Wait (see :func:`wait_until`) until ``locator`` is visible; ``what`` names it in a failure."""
    wait_until(page, server, what, lambda: is_shown(locator), **options)


def is_attached(locator) -> bool:
    """Whether ``locator`` matches anything in the page now (no waiting)."""
    try:
        return locator.count() > 0
    except Exception:  # the page navigates
        return False


def wait_attached(page, server, locator, what: str, **options) -> None:
    """Wait (see :func:`wait_until`) until ``locator`` matches something in the page."""
    wait_until(page, server, what, lambda: is_attached(locator), **options)


class LabServer:
    def __init__(self, root: Path, settings: Path, port: int, log: Path, extra_args: tuple[str, ...] = ()):
        self.root, self.settings, self.port, self.log_path = root, settings, port, log
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{port}"

    def environment(self) -> dict[str, str]:
        """The server's (and its kernels') environment: a user state of its own beside the
        served folder, so that nothing saved in a home (a quiz language, a learner id, JupyterLab
        workspaces or settings, IPython startup files) reaches the page."""
        private = self.root.parent
        (private / "home").mkdir(exist_ok=True)
        env = {
            **os.environ,
            "QUIZ_LEARNER": LEARNER,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "HOME": str(private / "home"),
            "XDG_CONFIG_HOME": str(private / "config"),
            "XDG_DATA_HOME": str(private / "data"),
            "XDG_STATE_HOME": str(private / "state"),
            "IPYTHONDIR": str(private / "ipython"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(private / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(private / "runtime"),
            # no user-level Jupyter config or kernelspecs: only what the venv provides
            "JUPYTER_CONFIG_DIR": str(private / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(private / "jupyter-data"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        }
        for name in ("GPT2_COURSE_LANG", "NBGRADER_EXECUTION", "JUPYTERHUB_USER"):
            env.pop(name, None)
        return env

    def start(self) -> None:
        """Start JupyterLab; wait until it answers, for as long as it works on starting."""
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--port-retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=",
            *self.extra_args,
        ]
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            command, cwd=self.root, env=self.environment(), stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_while_active("JupyterLab to answer on /api/status", self.answers, self.starting_activity())
        except Stalled as stalled:
            raise Stalled(f"{stalled}\n{self.read_log()}") from None

    def answers(self) -> bool:
        """Whether the server answers its status API; raises if it has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited early:\n{self.read_log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/api/status?token={TOKEN}", timeout=5) as reply:
                return reply.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def starting_activity(self) -> Callable[[], Activity]:
        """While starting: the server's CPU use, and its log growing."""
        meter = CpuMeter(self.process.pid)

        def activity() -> Activity:
            share, logged = meter.share(), self.log_path.stat().st_size
            return Activity(share >= CPU_BUSY_SHARE, (logged,), f"CPU {share:.0%} of a core, log {logged} bytes")

        return activity

    def kernel_states(self) -> tuple[str, ...]:
        """The execution state of each kernel the server runs (sorted), from its REST API."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/kernels?token={TOKEN}", timeout=10) as reply:
                return tuple(sorted(kernel["execution_state"] for kernel in json.load(reply)))
        except (urllib.error.URLError, ConnectionError, OSError, ValueError) as error:
            return (f"unknown ({type(error).__name__})",)

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
def serving(root: Path, base: Path, settings: dict[str, dict] | None = None, extra_args: tuple[str, ...] = ()):
    """JupyterLab on ``root`` (light theme plus ``settings``: {"<extension>/<plugin>": values}; more
    command-line options in ``extra_args``), stopped by its PID at the end."""
    folder = base / "settings"
    _write_settings(folder, dark=False)
    for plugin, values in (settings or {}).items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")
    server = LabServer(root, folder, free_port(), base / "jupyterlab.log", extra_args)
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
    """A Chinese-locale page the size of a laptop screen, with the UI timeout; it keeps every
    resource timing entry (what :data:`PAGE_STATE_JS` counts), not the first 250."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="zh-CN")
    page.set_default_timeout(UI_TIMEOUT_MS)
    page.add_init_script("performance.setResourceTimingBufferSize(1000000)")
    return page


def wait_idle(page, server) -> None:
    """"Idle" in the status bar: the kernel is connected, so a submitted cell runs."""
    idle = page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\|\s*Idle"))
    wait_shown(page, server, idle, "the kernel to be ready ('| Idle' in the status bar)")


def open_in_workspace(page, server, path: str) -> None:
    """Open ``path`` in a workspace of its own: no tab of an earlier test is restored beside it
    (each would start a kernel), and the notebook's first code cell is on screen."""
    workspace = re.sub(r"[^A-Za-z0-9-]", "-", path)
    page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}?token={TOKEN}", wait_until="domcontentloaded")
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .cm-content")
    wait_shown(page, server, cell, f"JupyterLab to show the first code cell of {path}")


def shut_down_kernels(server) -> None:
    """Every kernel of ``server``, through its REST API (as when a student comes back another day)."""
    with urllib.request.urlopen(f"{server.url}/api/kernels?token={TOKEN}", timeout=10) as reply:
        kernels = json.load(reply)
    for kernel in kernels:
        request = urllib.request.Request(f"{server.url}/api/kernels/{kernel['id']}?token={TOKEN}", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()


def _save_failure(page, lab, name: str) -> None:
    """Keep what the page showed and the server said, for whoever reads the CI log."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(OUTPUT / f"failure-{name}.png"))
        (OUTPUT / f"failure-{name}.html").write_text(page.content(), encoding="utf-8")
    except Exception:
        pass
    (OUTPUT / f"failure-{name}-server.log").write_text(lab.read_log(), encoding="utf-8")


def _run_quiz_cell(page, lab, wait_for: str) -> None:
    """Run the quiz cell and wait until ``wait_for`` shows; run it again when nothing happened
    for ``LOST_RUN_S`` (a run sent while the kernel still connects can get lost)."""
    for attempt in range(3):
        page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
        page.keyboard.press("Shift+Enter")
        try:
            wait_shown(page, lab, page.locator(wait_for), f"the quiz cell's output {wait_for!r}",
                       stall_s=LOST_RUN_S if attempt < 2 else STALL_S)
            return
        except Stalled:
            if attempt == 2:
                _save_failure(page, lab, "no-quiz")
                raise


def _expected_labels():
    """The right option's label and letter in the Chinese edition (what the page must show)."""
    from quiz import markdown
    from quiz.selection import select

    (item,) = select(FIXTURE / "quiz.json", "pre", lang="zh", learner=LEARNER).items
    q = item.question
    right = f"{item.letter_of(q.correct)}. {markdown.to_label(q.correct_option)}"
    return right, item.letter_of(q.correct)
