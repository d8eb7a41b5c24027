"""Shared test settings: a throw-away user state for every test process, where tests leave
files for people to look at, and the end-of-run report.

Before any test module is imported, each pytest process (the xdist controller and every
worker) moves HOME, the XDG config/data/state folders, Jupyter's config, data, runtime and
workspace folders, IPython's folder (and, where unset, XDG_RUNTIME_DIR) into a fresh
temporary folder, removed at the end;
each test then gets a new one of its own (``fresh_user_state``). So nothing a person saved on this machine (a quiz language, a learner id, JupyterLab
workspaces or settings, IPython startup files) changes a result, and no test writes into
them. Tools keep what they need from the real home: caches (pip, uv, Hugging Face, fonts),
pip's, npm's and git's settings, pyenv and cargo. The real home stays in
``$GPT2_COURSE_TEST_REAL_HOME`` (also :data:`REAL_HOME`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "build" / "test-output"
GRADING_TABLES = OUTPUT_DIR / "grading"
_SESSION_START = time.time()

# Jupyter kernels started by tests find nbgrader's helpers and the venv's tools first.
os.environ["PATH"] = str(Path(os.sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

# --- a throw-away user state ------------------------------------------------------------------

REAL_HOME_VAR = "GPT2_COURSE_TEST_REAL_HOME"

# A person's choices made in the environment rather than in files: no test inherits them
# (tests that need one set it themselves).
PERSONAL_VARIABLES = ("GPT2_COURSE_LANG", "QUIZ_LEARNER", "JUPYTERHUB_USER", "NBGRADER_EXECUTION", "MPLCONFIGDIR")

# What tools need from the real home, relative to it; pointed at only where the variable is
# unset (and, but for the cache, where the file or folder exists).
KEPT_FROM_REAL_HOME = {
    "XDG_CACHE_HOME": ".cache",  # pip, uv, Hugging Face (real GPT-2 weights), fontconfig, Playwright
    "NPM_CONFIG_USERCONFIG": ".npmrc",  # registry settings for the hub's proxy (npm install)
    "NPM_CONFIG_CACHE": ".npm",
    "GIT_CONFIG_GLOBAL": ".gitconfig",  # safe.directory for `git ls-files`
    "NETRC": ".netrc",  # package index logins
    "PYENV_ROOT": ".pyenv",
    "CARGO_HOME": ".cargo",
    "RUSTUP_HOME": ".rustup",
}


def real_home(environ) -> Path:
    """The home of the person running the tests: the one a parent pytest process recorded
    (xdist workers inherit the controller's changed environment), else ``$HOME``."""
    return Path(environ.get(REAL_HOME_VAR) or environ.get("HOME") or Path.home())


def throwaway_user_state(base: Path) -> dict[str, str]:
    """The variables that put a process's user state (and that of the servers, kernels and
    subprocesses it starts) under ``base``."""
    home = base / "home"
    jupyter = home / ".jupyter"
    data = home / ".local" / "share"
    windows = {"USERPROFILE": str(home)} if os.name == "nt" else {}  # what Path.home() reads there
    return {
        **windows,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(data),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "JUPYTER_CONFIG_DIR": str(jupyter),
        "JUPYTER_DATA_DIR": str(data / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(data / "jupyter" / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "lab" / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "lab" / "workspaces"),
        "IPYTHONDIR": str(home / ".ipython"),
    }


def kept_tool_settings(environ, home: Path) -> dict[str, str]:
    """``KEPT_FROM_REAL_HOME`` for this machine, plus pip's user config file: only variables
    that ``environ`` does not set yet."""
    wanted = {name: home / relative for name, relative in KEPT_FROM_REAL_HOME.items()}
    config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    pip_configs = [config / "pip" / "pip.conf", home / ".pip" / "pip.conf"]
    wanted["PIP_CONFIG_FILE"] = next((p for p in pip_configs if p.is_file()), pip_configs[0])
    return {
        name: str(path) for name, path in wanted.items()
        if name not in environ and (name == "XDG_CACHE_HOME" or path.exists())
    }


def isolate_user_state(environ, base: Path) -> Path:
    """Change ``environ`` (``os.environ``) so that this process and everything it starts use
    the throw-away state under ``base``; return the real home."""
    home = real_home(environ)
    environ.update(kept_tool_settings(environ, home))  # before XDG_CONFIG_HOME moves
    environ[REAL_HOME_VAR] = str(home)
    for name in PERSONAL_VARIABLES:
        environ.pop(name, None)
    state = throwaway_user_state(base)
    environ.update(state)
    Path(state["XDG_CONFIG_HOME"]).mkdir(parents=True, exist_ok=True)
    if not environ.get("XDG_RUNTIME_DIR"):  # else dconf (Chromium) falls back to the real ~/.cache
        runtime = base / "runtime"
        runtime.mkdir(mode=0o700)
        environ["XDG_RUNTIME_DIR"] = str(runtime)
    return home


_USER_STATE = Path(tempfile.mkdtemp(prefix="gpt2-course-test-user-"))
REAL_HOME = isolate_user_state(os.environ, _USER_STATE)


@pytest.fixture(autouse=True)
def fresh_user_state(monkeypatch, tmp_path_factory):
    """Each test its own user state, in a new folder: what an earlier test in this process
    saved (a language, a learner id) changes nothing. Module-scoped fixtures keep the
    process's state (set above), which is also throw-away."""
    state = throwaway_user_state(tmp_path_factory.mktemp("user-state"))
    for name, value in state.items():
        monkeypatch.setenv(name, value)
    Path(state["XDG_CONFIG_HOME"]).mkdir(parents=True)


def pytest_unconfigure(config):
    """Remove this process's throw-away user state."""
    shutil.rmtree(_USER_STATE, ignore_errors=True)


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under build/test-output/ named after the test, kept after the run."""
    path = OUTPUT_DIR / request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def grading_tables() -> Path:
    """Where grading acceptance tests write their score tables (printed at the end of the run)."""
    GRADING_TABLES.mkdir(parents=True, exist_ok=True)
    return GRADING_TABLES


def pytest_terminal_summary(terminalreporter):
    """Print the grading score tables that this run wrote (works with pytest-xdist too)."""
    if not GRADING_TABLES.is_dir():
        return
    tables = sorted(p for p in GRADING_TABLES.glob("*.txt") if p.stat().st_mtime >= _SESSION_START)
    if tables:
        terminalreporter.section("grading acceptance: score tables")
        for path in tables:
            terminalreporter.write_line(path.read_text().rstrip())
            terminalreporter.write_line("")
