"""Run each lesson's solution notebook top to bottom, headless, and measure it.

    python -m grader.check_notebooks [SLUG | NOTEBOOK.ipynb ...] [--strict] [--memory-limit 2G]

For each lesson, the instructor notebook ``nbgrader-course/source/<slug>/<slug>.ipynb`` (solutions
included) is executed in a temporary copy of its folder by a fresh kernel. Printed per
lesson: wall time, the kernel's peak resident memory, and the lesson's budget. Exit code
1 if a notebook fails; with ``--strict`` also if it goes over its budget. A path to a
``.ipynb`` file instead of a slug runs that notebook alone in an empty temporary folder.

``--memory-limit 2G`` reproduces a Binder session (about 2 GB): a real JupyterLab server
from this environment (127.0.0.1, a random free port, a token, no browser) sits idle the
whole time, and it and every kernel that runs a notebook live in one cgroup limited to that
memory (``grader.sandbox.cgroups``; Linux, as root). Each lesson's line then also shows the
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
import re
import signal
import sys
import threading
from pathlib import Path

from grader.catalog import lesson_slugs, unknown_slugs
from grader.measuring.lab_session import MB, MemoryLimitedSession
from grader.measuring.notebook_runs import BUDGET_MB, NotebookRun, run_lesson, run_notebook
from grader.sandbox.cgroups import CgroupUnavailable, unavailable_reason

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
