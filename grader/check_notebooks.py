"""Run each lesson's solution notebook top to bottom, headless, and measure it.

    python -m grader.check_notebooks [SLUG | NOTEBOOK.ipynb ...] [--strict] [--memory-limit 2G]

For each lesson, the instructor notebook ``grader/source/<slug>/<slug>.ipynb`` (solutions
included) is executed in a temporary copy of its folder by a fresh kernel. Printed per
lesson: wall time, the kernel's peak resident memory, and the lesson's budget. Exit code
1 if a notebook fails; with ``--strict`` also if it goes over its budget. A path to a
``.ipynb`` file instead of a slug runs that notebook alone in an empty temporary folder.

``--memory-limit 2G`` reproduces a Binder session (about 2 GB): a real JupyterLab server
from this environment (127.0.0.1, a random free port, a token, no browser) sits idle the
whole time, and it and every kernel that runs a notebook live in one cgroup limited to that
memory (``grader.cgroups``; Linux, as root). Each lesson's line then also shows the
group's peak memory during that lesson (server + kernel, page cache included, the measure
Binder's limit applies to; the peak is reset between lessons) and, as "+ mapped files",
that peak plus the files the kernel and server map: on a shared machine, library pages that
another process read first are charged to that process's group, not to ours, while a fresh
Binder container pays for them. A lesson during which the OOM killer ended a process is
marked ``OUT OF MEMORY`` (exit code 1). The server is stopped by its PID at the end, on
errors, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import nbformat
from nbclient import NotebookClient

from .catalog import lesson_slugs, source_dir, unknown_slugs
from .cgroups import Cgroup, CgroupUnavailable, unavailable_reason

DEFAULT_BUDGET_S = 120
BUDGET_S = {"36-training-loop-eval": 300}  # lessons allowed longer than the default
BUDGET_MB = 1536  # Binder gives about 2 GB
MB = 1024**2
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


# -- sizes -------------------------------------------------------------------------------
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"2G"`` -> 2 GiB in bytes; K, M, G, T are powers of 1024 (``"512M"``, ``"1.5G"``, ``"2GiB"``)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: write a number followed by K, M or G (powers of 1024), e.g. 2G or 512M"
        )
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size < MB:
        raise argparse.ArgumentTypeError(
            f"size {text!r} is under 1M ({size} bytes): a plain number counts bytes; write e.g. 2G or 512M"
        )
    return size


# -- a JupyterLab server, as Binder runs one -----------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """``jupyter lab`` from this environment on 127.0.0.1, with a token and no browser, in ``workdir``."""

    def __init__(self, workdir: Path, preexec_fn: Callable[[], None] | None = None):
        self.workdir = workdir
        self.preexec_fn = preexec_fn
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.log_path = workdir / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        root_dir = self.workdir / "root"
        root_dir.mkdir(exist_ok=True)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root_dir}",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = 120) -> None:
        env = dict(os.environ)
        env["JUPYTER_RUNTIME_DIR"] = str(self.workdir / "runtime")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.pop("BROWSER", None)
        with open(self.log_path, "wb") as log:
            # Its own session: a Ctrl-C in the terminal reaches this program, which stops the server.
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=self.workdir, start_new_session=True, preexec_fn=self.preexec_fn,
            )
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(f"JupyterLab exited at start-up (code {self.process.returncode}):\n{self.log_tail()}")
            try:
                self._get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}") from None
                time.sleep(0.25)
        # What a browser opening the session asks for first: the Lab page and its settings.
        for path in ("/lab", "/lab/api/settings", "/api/kernelspecs", "/api/contents"):
            try:
                self._get(path)
            except urllib.error.URLError:
                pass

    def _get(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, grace: float = 10) -> None:
        """SIGTERM to the server's PID, SIGKILL if it is still there after ``grace`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


class MemoryLimitedSession:
    """One cgroup with ``memory_bytes`` holding an idle JupyterLab server and each notebook's kernel."""

    def __init__(self, memory_bytes: int):
        self.memory_bytes = memory_bytes
        self.cgroup: Cgroup | None = None
        self.server: JupyterLabServer | None = None
        self.idle_mb: float | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> MemoryLimitedSession:
        self._tmp = tempfile.TemporaryDirectory(prefix="check-notebooks-lab-")
        try:
            self.cgroup = Cgroup(f"check-notebooks-{os.getpid()}-{secrets.token_hex(3)}",
                                 memory_bytes=self.memory_bytes).__enter__()
            self.server = JupyterLabServer(Path(self._tmp.name), self.cgroup.preexec_fn())
            self.server.start()
            time.sleep(1)  # let start-up settle, then measure the server alone
            self.cgroup.reset_peak()
            self.idle_mb = self.cgroup.peak_bytes / MB
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            try:
                if self.cgroup is not None:
                    self.cgroup.__exit__(None, None, None)  # ends whatever is left (kernels)
            finally:
                if self._tmp is not None:
                    self._tmp.cleanup()

    def preexec_fn(self) -> Callable[[], None]:
        return self.cgroup.preexec_fn()


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


# -- command line ------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader.check_notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="SLUG",
                        help="lessons (default: all), or paths to .ipynb files")
    parser.add_argument("--strict", action="store_true", help="also fail when a lesson is over its budget")
    parser.add_argument("--keep", type=Path, help="write executed notebooks under this folder")
    parser.add_argument("--memory-limit", type=parse_size, metavar="SIZE",
                        help="run everything (an idle JupyterLab server + each kernel) in one cgroup with "
                             "this much memory, as on Binder, e.g. 2G or 512M (Linux, as root)")
    return parser


def _header(session: MemoryLimitedSession | None) -> str:
    line = f"{'lesson':36} {'time':>8} {'budget':>7} {'kernel RSS':>10} {'budget':>7}"
    if session is not None:
        line += f" {'server+kernel peak':>18} {'+ mapped files':>14} {'limit':>7}"
    return line + "  result"


_FOOTNOTE = (
    "server+kernel peak: the cgroup's peak during the lesson, what the limit applies to here. Library pages\n"
    "that other processes on this machine read first stay charged to them; '+ mapped files' adds every\n"
    "file the kernel and the server map, an upper estimate for a fresh Binder container."
)


def _row(run: NotebookRun, session: MemoryLimitedSession | None) -> str:
    peak = f"{run.peak_mb:.0f} MB" if run.peak_mb is not None else "-"
    line = f"{run.slug:36} {run.seconds:7.1f}s {run.budget_s:6d}s {peak:>10} {BUDGET_MB:4d} MB"
    if session is not None:
        group = f"{run.group_peak_mb:.0f} MB" if run.group_peak_mb is not None else "-"
        fresh = f"{run.fresh_estimate_mb:.0f} MB" if run.fresh_estimate_mb is not None else "-"
        limit_mb = session.memory_bytes / MB
        line += f" {group:>18} {fresh:>14} {limit_mb:4.0f} MB"
        if run.verdict == "ok" and (run.fresh_estimate_mb or 0) > limit_mb:
            return f"{line}  ok here, AT RISK on a fresh machine"
    return f"{line}  {run.verdict}"


def _run_all(targets: list[str], args: argparse.Namespace, session: MemoryLimitedSession | None) -> list[NotebookRun]:
    if session is not None:
        server = session.server
        print(f"JupyterLab server idle at {server.url} (pid {server.process.pid}) in cgroup "
              f"{session.cgroup.path}: {session.idle_mb:.0f} MB; memory limit {session.memory_bytes / MB:.0f} MB",
              flush=True)
    print(_header(session), flush=True)
    runs = []
    for target in targets:
        if target.endswith(".ipynb"):
            run = run_notebook(Path(target).resolve(), keep=args.keep, session=session)
        else:
            run = run_lesson(target, args.keep, session)
        _check_stop()  # an interrupted lesson is not reported as a failure
        _install_stop_handlers()  # nbclient resets SIGINT and SIGTERM to the defaults after each run
        runs.append(run)
        print(_row(run, session), flush=True)
        if run.error:
            print("    " + run.error.strip().replace("\n", "\n    ")[-3000:], file=sys.stderr, flush=True)
        if session is not None and not session.server.running:
            print("error: the JupyterLab server is gone; the remaining lessons were not run", file=sys.stderr)
            break
    if session is not None:
        print(_FOOTNOTE, flush=True)
    return runs


class _Stop(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: stop after cleaning up (the server stopped by PID, the cgroup removed)."""


_stop_signal: int | None = None


def _on_stop_signal(signum, frame):
    # nbclient turns an exception raised inside its event loop into a failed cell, so the
    # signal is also remembered: the loop over lessons checks it and stops.
    global _stop_signal
    _stop_signal = signum
    raise _Stop(signum)


def _check_stop() -> None:
    if _stop_signal is not None:
        raise _Stop(_stop_signal)


def _install_stop_handlers() -> dict:
    """Ctrl-C and SIGTERM stop the run cleanly (main thread only); returns the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _on_stop_signal) for signum in (signal.SIGINT, signal.SIGTERM)}


def main(argv: list[str] | None = None) -> int:
    global _stop_signal
    args = build_parser().parse_args(argv)
    targets = args.targets or lesson_slugs()
    missing = [t for t in targets if t.endswith(".ipynb") and not Path(t).is_file()]
    if unknown := unknown_slugs([t for t in targets if not t.endswith(".ipynb")]) + missing:
        print(f"error: unknown lesson(s) or missing notebook(s) {', '.join(unknown)}; "
              f"known lessons: {', '.join(lesson_slugs())}", file=sys.stderr)
        return 2
    if args.memory_limit is not None and (reason := unavailable_reason()):
        print(f"error: --memory-limit needs Linux cgroups, which cannot be used here: {reason}", file=sys.stderr)
        return 2
    _stop_signal = None
    previous = _install_stop_handlers()
    try:
        if args.memory_limit is None:
            runs = _run_all(targets, args, None)
        else:
            with MemoryLimitedSession(args.memory_limit) as session:
                runs = _run_all(targets, args, session)
    except KeyboardInterrupt:
        # (a signal that nbclient caught while a notebook ran is not known by name)
        name = f" ({signal.Signals(_stop_signal).name})" if _stop_signal else ""
        cleaned = ": JupyterLab server stopped, cgroup removed" if args.memory_limit is not None else ""
        print(f"interrupted{name}{cleaned}", file=sys.stderr)
        return 128 + (_stop_signal or signal.SIGINT)
    except (CgroupUnavailable, RuntimeError) as exc:  # the server would not start, a group would not empty
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    failed = any(r.error or r.out_of_memory for r in runs) or (args.strict and not all(r.within_budget for r in runs))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
