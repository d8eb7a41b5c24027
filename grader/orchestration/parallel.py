"""Run many submissions' notebooks at once; the parent alone writes the gradebook.

``nbgrader autograde`` grades one submission after another. ``make autograde`` splits the
submissions of a lesson among ``jobs`` workers (default: the number of cores):

1. each worker is a plain ``nbgrader autograde`` in a scratch copy of the course (the config,
   a *copy* of the gradebook and of ``grading-state.json``, links to the source folder and to
   its students' submitted folders). It runs the same pipeline, so every kernel is sandboxed,
   and ``GradingExecute.save_dir`` saves each executed notebook and its sandbox verdict into a
   shared cache, keyed by the exact cells that ran. Its own gradebook copy is thrown away;
2. beside them, the parent runs ``nbgrader autograde`` once over the real course with
   ``GradingExecute.reuse_dir`` pointing at the cache: nbgrader's own bookkeeping (restore from
   the source, SaveAutoGrades, feedback, our NEEDS REVIEW marks) writes the one gradebook, one
   submission at a time, without starting a kernel for a notebook a worker runs: it waits for
   that run to land in the cache (``GradingExecute.reuse_wait``, a file that exists while any
   worker is running).

A notebook no worker ran (a worker crashed, or the cells differ from what it ran) is simply run
by the parent once the workers are done: nothing is lost, it is only slower. A progress bar
shows the notebooks run while the workers are at work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.catalog import authoring_root
from grader.sandbox import intake

STATE_FILE = "grading-state.json"


def default_jobs() -> int:
    """Workers to use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def worker_env(env: dict[str, str], workers: int) -> dict[str, str]:
    """``env`` with each worker's share of the cores as its thread count (OpenMP, MKL: PyTorch's
    intra-op threads), unless the instructor set one. Without it every kernel starts as many
    threads as there are cores, and ``workers`` kernels at once fight over them."""
    threads = str(max(1, default_jobs() // max(1, workers)))
    return {**env, **{name: env.get(name) or threads for name in THREAD_VARIABLES}}


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def split(students: list[str], jobs: int) -> list[list[str]]:
    """``students`` dealt round-robin into at most ``jobs`` non-empty groups."""
    groups = [students[i::jobs] for i in range(max(1, jobs))]
    return [group for group in groups if group]


def _scratch_course(course_root: Path, students: list[str], where: Path, slug: str) -> Path:
    """A course root that grades only ``students``' submissions of ``slug``, sharing the real
    source; the submissions (already through the intake gate, so plain files within its caps) and
    the gate's reports are copied, so the worker's own gate finds them taken in already."""
    where.mkdir(parents=True)
    shutil.copy(course_root / "nbgrader_config.py", where / "nbgrader_config.py")
    for name in ("gradebook.db", STATE_FILE):
        if (course_root / name).exists():
            shutil.copy(course_root / name, where / name)
    (where / "source").symlink_to((course_root / "source").resolve())
    # grading.py and the quiz keys: the outside checks (the lessons of the course, wherever they are)
    (where / "lessons").symlink_to((authoring_root(course_root) / "lessons").resolve())
    (where / "submitted").mkdir()
    for student in students:
        folder = Path(student) / slug
        shutil.copytree(course_root / "submitted" / folder, where / "submitted" / folder, symlinks=True)
        report = course_root / intake.INTAKE_DIR / folder / intake.REPORT
        if report.is_file():
            (where / intake.INTAKE_DIR / folder).mkdir(parents=True)
            shutil.copy2(report, where / intake.INTAKE_DIR / folder / intake.REPORT)
    return where


def _count(cache: Path, slug: str) -> int:
    return sum(1 for _ in cache.glob(f"*/{slug}/*.json"))


class _Progress:
    """A progress bar on stderr (tqdm when a terminal or notebook shows it; one line per 10% in logs)."""

    def __init__(self, total: int, label: str, quiet: bool):
        self.total, self.label, self.quiet = total, label, quiet
        self.done, self.bar, self.last_logged = 0, None, -1
        self.started = time.monotonic()
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="notebook", file=sys.stderr)

    def update(self, done: int) -> None:
        done = min(done, self.total)
        if done == self.done:
            return
        if self.bar is not None:
            self.bar.update(done - self.done)
        elif not self.quiet and (tenth := done * 10 // self.total) != self.last_logged:
            self.last_logged = tenth
            print(f"{self.label}: {done}/{self.total} notebooks run "
                  f"({time.monotonic() - self.started:.0f} s)", file=sys.stderr, flush=True)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Workers:
    """The workers running one lesson's notebooks (``start_workers``), and the shared cache."""

    def __init__(self, work: Path, slug: str, processes: list, total: int, quiet: bool):
        self.work, self.slug, self.processes, self.quiet = work, slug, processes, quiet
        self.cache = work / "executed"
        self.running = work / "workers-running"  # exists while any worker runs
        self.progress = _Progress(total, f"running {slug} in {len(processes)} workers", quiet)

    def nbgrader_args(self) -> list[str]:
        """For the parent's ``nbgrader autograde``: take each run from the cache, and wait for it
        there while the workers are still at work."""
        return [f"--GradingExecute.reuse_dir={self.cache}", f"--GradingExecute.reuse_wait={self.running}"]

    def wait(self) -> None:
        """Show the progress until every worker has exited; then tell the parent to stop waiting."""
        while any(process.poll() is None for process, _ in self.processes):
            self.progress.update(_count(self.cache, self.slug))
            time.sleep(0.5)
        self.progress.update(_count(self.cache, self.slug))
        self.progress.close()
        self.running.unlink(missing_ok=True)
        for process, root in self.processes:
            if process.returncode != 0 and not self.quiet:
                print(f"warning: a grading worker exited with {process.returncode}; the parent runs what it "
                      f"left undone (its log: {root / 'autograde.log'})", file=sys.stderr)

    def stop(self) -> None:
        """Kill the workers still running (the instructor pressed Ctrl+C, or the parent failed)."""
        self.running.unlink(missing_ok=True)
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, 9)
                process.wait()

    def clean_up(self) -> None:
        """Remove the workers' scratch courses and the cache."""
        shutil.rmtree(self.work, ignore_errors=True)


def start_workers(course_root: Path, slug: str, students: list[str], jobs: int, env: dict[str, str],
                  nbgrader_argv: list[str], quiet: bool = False) -> Workers | None:
    """Start ``jobs`` workers on the notebooks of ``students`` for ``slug`` and return at once
    (None when one worker would do: the parent runs them itself). The parent's ``nbgrader
    autograde`` runs beside them with ``Workers.nbgrader_args()``, taking each run as it lands."""
    groups = split(students, jobs)
    if len(groups) < 2:
        return None
    work = Path(tempfile.mkdtemp(prefix=f".parallel-{slug}-", dir=course_root))
    (work / "executed").mkdir()
    (work / "workers-running").write_text(str(os.getpid()))  # who removes it when the workers are done
    processes = []
    try:
        for number, group in enumerate(groups):
            root = _scratch_course(course_root, group, work / f"worker-{number}", slug)
            argv = [*nbgrader_argv, "autograde", slug, "--force", f"--GradingExecute.save_dir={work / 'executed'}"]
            with open(root / "autograde.log", "w") as log:  # the worker keeps its own copy of the file
                processes.append((subprocess.Popen(argv, cwd=root, env=worker_env(env, len(groups)), stdout=log,
                                                   stderr=subprocess.STDOUT, start_new_session=True), root))
    except BaseException:
        Workers(work, slug, processes, len(students), True).stop()
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Workers(work, slug, processes, len(students), quiet)
