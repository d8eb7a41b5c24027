"""Running one notebook top to bottom, headless, and measuring it (``grader.check_notebooks``):
wall time, the kernel's peak memory, and against each lesson's budget."""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nbformat
from nbclient import NotebookClient

from grader.catalog import source_dir
from grader.measuring.lab_session import MB, MemoryLimitedSession

DEFAULT_BUDGET_S = 120
BUDGET_S = {"36-training-loop-eval": 300}  # lessons allowed longer than the default
BUDGET_MB = 1536  # Binder gives about 2 GB
T = TypeVar("T")

_PEAK_PROBE = (
    "import resource as _r, re as _re\n"
    "print('PEAK_RSS_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)\n"
    "try:\n"
    "    print('RSS_FILE_KB', _re.search(r'RssFile:\\s*(\\d+)', open('/proc/self/status').read()).group(1))\n"
    "except (OSError, AttributeError):\n"
    "    pass"
)


@dataclass
class NotebookRun:
    slug: str
    seconds: float
    peak_mb: float | None  # the kernel's own peak RSS
    error: str | None
    group_peak_mb: float | None = None  # with a memory limit: the cgroup's peak (server + kernel)
    out_of_memory: bool = False  # with a memory limit: the OOM killer ended a process meanwhile
    # File-backed memory the kernel (at its end) and the server map: shared libraries, mostly.
    # Pages another process on this machine read first are charged to that process's cgroup,
    # not to ours; on a fresh Binder container they would be charged to the container.
    mapped_file_mb: float | None = None

    @property
    def fresh_estimate_mb(self) -> float | None:
        """Upper estimate of the peak on a fresh machine: the group's peak + the files it maps."""
        if self.group_peak_mb is None or self.mapped_file_mb is None:
            return None
        return self.group_peak_mb + self.mapped_file_mb

    @property
    def budget_s(self) -> int:
        return BUDGET_S.get(self.slug, DEFAULT_BUDGET_S)

    @property
    def within_budget(self) -> bool:
        return self.seconds <= self.budget_s and (self.peak_mb or 0) <= BUDGET_MB

    @property
    def verdict(self) -> str:
        if self.out_of_memory:
            return "OUT OF MEMORY"
        if self.error:
            return "FAILED"
        return "ok" if self.within_budget else "OVER BUDGET"


# -- running notebooks -------------------------------------------------------------------
def execute_notebook(
    notebook: Path, workdir: Path, timeout: int = 600, preexec_fn: Callable[[], None] | None = None,
    measures: dict | None = None,
) -> tuple[nbformat.NotebookNode, float, float | None]:
    """Execute ``notebook`` with ``workdir`` as the kernel's working directory.

    Returns the executed notebook, wall seconds and the kernel's peak RSS in MB.
    Raises ``CellExecutionError`` on the first failing cell, ``DeadKernelError`` if the
    kernel dies. ``preexec_fn`` runs in the kernel's process before it starts (to put it in
    a cgroup). ``measures``, when given, gets ``rss_file_mb``: the kernel's file-backed
    resident memory at the end (Linux).
    """
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_PROBE))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    start = time.perf_counter()
    launch = {"preexec_fn": preexec_fn} if preexec_fn is not None else {}
    try:
        # The kernel's own stderr (start-up chatter, crash reports) goes to a log beside the notebook.
        with open(workdir / "kernel-stderr.log", "w") as kernel_log:
            client.execute(stderr=kernel_log, **launch)
    finally:
        # While it runs, nbclient handles SIGINT and SIGTERM itself: it shuts the kernel down,
        # the running cell fails, and the signal is gone. Say what really happened.
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt("interrupted while the notebook ran")
    seconds = time.perf_counter() - start
    probe = nb.cells.pop()
    printed = "".join(output.get("text", "") for output in probe.get("outputs", []))
    match = re.search(r"PEAK_RSS_KB (\d+)", printed)  # a stream may arrive in pieces
    peak_mb = int(match.group(1)) / 1024 if match else None
    if measures is not None and (match := re.search(r"RSS_FILE_KB (\d+)", printed)):
        measures["rss_file_mb"] = int(match.group(1)) / 1024
    return nb, seconds, peak_mb


def _rss_file_mb(pid: int) -> float | None:
    try:
        match = re.search(r"RssFile:\s*(\d+)", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return int(match.group(1)) / 1024 if match else None


def _outside_main_thread(function: Callable[[], T]) -> T:
    """Call ``function`` in a worker thread while the main thread waits, signals enabled.

    nbclient, called in the main thread, takes over SIGINT and SIGTERM while a notebook runs
    and resets them to the defaults afterwards; a signal at the wrong moment then ends this
    program before it can stop the JupyterLab server. In a worker thread it leaves them to us.
    """
    if threading.current_thread() is not threading.main_thread():
        return function()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="execute-notebook", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)  # a Ctrl-C or SIGTERM handler runs here, in the main thread
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_notebook(
    notebook: Path, slug: str | None = None, keep: Path | None = None,
    session: MemoryLimitedSession | None = None, copy_folder: bool = False,
) -> NotebookRun:
    """Run ``notebook`` in a temporary folder (a copy of its own folder with ``copy_folder``)."""
    slug = slug or notebook.stem
    with tempfile.TemporaryDirectory(prefix=f"check-{slug}-") as tmp:
        workdir = Path(keep or tmp) / slug
        if copy_folder:
            shutil.copytree(notebook.parent, workdir, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("quiz-progress.jsonl", ".ipynb_checkpoints"))
        else:
            workdir.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notebook, workdir / notebook.name)
        oom_before = 0
        if session is not None:
            session.cgroup.reset_peak()
            oom_before = session.cgroup.oom_kills
        start = time.perf_counter()
        nb = peak_mb = error = None
        measures: dict = {}
        try:
            nb, seconds, peak_mb = _outside_main_thread(lambda: execute_notebook(
                workdir / notebook.name, workdir, preexec_fn=session.preexec_fn() if session else None,
                measures=measures,
            ))
        except Exception as exc:  # a failing cell, a dead kernel, a timeout: reported, the next lesson runs
            seconds = time.perf_counter() - start
            kernel_log = (workdir / "kernel-stderr.log").read_text(errors="replace")[-2000:] \
                if (workdir / "kernel-stderr.log").exists() else ""
            error = f"{type(exc).__name__}: {exc}\n{kernel_log}".strip()
        run = NotebookRun(slug, seconds, peak_mb, error)
        if session is not None:
            run.group_peak_mb = session.cgroup.peak_bytes / MB
            run.out_of_memory = session.cgroup.oom_kills > oom_before
            server_file_mb = _rss_file_mb(session.server.process.pid)
            if "rss_file_mb" in measures and server_file_mb is not None:
                run.mapped_file_mb = measures["rss_file_mb"] + server_file_mb
            if run.out_of_memory:
                run.error = (f"server + kernel went over the {session.memory_bytes / MB:.0f} MB memory limit "
                             f"and the OOM killer ended a process\n{run.error or ''}").strip()
            if not session.server.running:
                run.error = (f"{run.error or ''}\nthe JupyterLab server exited (code "
                             f"{session.server.process.returncode}):\n{session.server.log_tail()}").strip()
        if keep and nb is not None:
            nbformat.write(nb, workdir / f"{slug}.executed.ipynb")
        return run


def run_lesson(slug: str, keep: Path | None = None, session: MemoryLimitedSession | None = None) -> NotebookRun:
    """Run the solution notebook of lesson ``slug`` in a temporary copy of its source folder."""
    return run_notebook(source_dir(slug) / f"{slug}.ipynb", slug, keep, session, copy_folder=True)
