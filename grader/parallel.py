"""Run many submissions' notebooks at once; the parent alone writes the gradebook.

``nbgrader autograde`` grades one submission after another. ``make autograde`` splits the
submissions of a lesson among ``jobs`` workers (default: the number of cores):

1. each worker is a plain ``nbgrader autograde`` in a scratch copy of the course (the config,
   a *copy* of the gradebook and of ``grading-state.json``, links to the source folder and to
   its students' submitted folders). It runs the same pipeline, so every kernel is sandboxed,
   and ``GradingExecute.save_dir`` saves each executed notebook and its sandbox verdict into a
   shared cache, keyed by the exact cells that ran. Its own gradebook copy is thrown away;
2. the parent then runs ``nbgrader autograde`` once over the real course with
   ``GradingExecute.reuse_dir`` pointing at the cache: nbgrader's own bookkeeping (restore from
   the source, SaveAutoGrades, feedback, our NEEDS REVIEW marks) writes the one gradebook, one
   submission at a time, without starting a kernel for a notebook a worker already ran.

A notebook no worker ran (a worker crashed, or the cells differ from what it ran) is simply run
by the parent: nothing is lost, it is only slower. The parent shows a progress bar while the
workers run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _scratch_course(course_root: Path, students: list[str], where: Path) -> Path:
    """A course root that grades only ``students``, sharing the real source and submissions read-only."""
    where.mkdir(parents=True)
    shutil.copy(course_root / "nbgrader_config.py", where / "nbgrader_config.py")
    for name in ("gradebook.db", STATE_FILE):
        if (course_root / name).exists():
            shutil.copy(course_root / name, where / name)
    (where / "source").symlink_to((course_root / "source").resolve())
    if (course_root / "lessons").is_dir():  # probes.py of the outside checks
        (where / "lessons").symlink_to((course_root / "lessons").resolve())
    (where / "submitted").mkdir()
    for student in students:
        (where / "submitted" / student).symlink_to((course_root / "submitted" / student).resolve())
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


def run_ahead(course_root: Path, slug: str, students: list[str], jobs: int, env: dict[str, str],
              nbgrader_argv: list[str], quiet: bool = False) -> Path | None:
    """Run the notebooks of ``students`` for ``slug`` in ``jobs`` workers; return the cache folder
    for ``GradingExecute.reuse_dir`` (None when one worker would do: the parent runs them itself)."""
    groups = split(students, jobs)
    if len(groups) < 2:
        return None
    work = Path(tempfile.mkdtemp(prefix=f".parallel-{slug}-", dir=course_root))
    cache = work / "executed"
    cache.mkdir()
    workers = []
    try:
        for number, group in enumerate(groups):
            root = _scratch_course(course_root, group, work / f"worker-{number}")
            log = open(root / "autograde.log", "w")
            argv = [*nbgrader_argv, "autograde", slug, "--force", f"--GradingExecute.save_dir={cache}"]
            workers.append((subprocess.Popen(argv, cwd=root, env=worker_env(env, len(groups)), stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True), log, root))
        progress = _Progress(len(students), f"running {slug} in {len(groups)} workers", quiet)
        while any(process.poll() is None for process, _, _ in workers):
            progress.update(_count(cache, slug))
            time.sleep(0.5)
        progress.update(_count(cache, slug))
        progress.close()
        for process, log, root in workers:
            log.close()
            if process.returncode != 0 and not quiet:
                print(f"warning: a grading worker exited with {process.returncode}; the parent runs what it "
                      f"left undone (its log: {root / 'autograde.log'})", file=sys.stderr)
        return cache
    except BaseException:
        for process, log, _ in workers:
            if process.poll() is None:
                os.killpg(process.pid, 9)
                process.wait()
            log.close()
        shutil.rmtree(work, ignore_errors=True)
        raise


def clean_up(cache: Path | None) -> None:
    """Remove the workers' scratch courses and their cache (``cache`` is inside that folder)."""
    if cache is not None:
        shutil.rmtree(cache.parent, ignore_errors=True)
