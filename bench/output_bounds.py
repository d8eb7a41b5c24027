"""How much one hostile submission can cost the grading machine: memory, stored bytes, disk.

    python -m bench.output_bounds [--print-mib 300] [--write-mib 2048]

Grades two submissions of the toy lesson (``tests/grader/fixtures/toy-course``) with a plain
``nbgrader autograde`` (sandboxed, as ``make autograde`` does): one whose cell prints
``--print-mib`` MiB, one that writes ``--write-mib`` MiB into its folder and as much into /tmp.
While nbgrader runs, the grader process's resident memory and the host's free disk are sampled
every 50 ms. Reports the grader's peak RSS, the sizes of the autograded notebooks and of the
feedback pages, the largest drop of free disk, and each submission's review status.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

from grader import build, commands
from grader.catalog import GRADER_DIR
from grader.orchestration import score_table

SLUG = "99-toy"
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "grader" / "fixtures" / "toy-course"


def _course(work: Path) -> Path:
    root = work / "grader"
    shutil.copytree(FIXTURE, root)
    shutil.copy(GRADER_DIR / "nbgrader_config.py", root / "nbgrader_config.py")
    build.write_if_changed(SLUG, root)
    return root


def _hand_in(root: Path, student: str, extra_cell: str) -> None:
    release = commands.generate(SLUG, root, capture=True)
    target = root / "submitted" / student / SLUG
    shutil.copytree(release, target)
    source = nbformat.read(root / "source" / SLUG / f"{SLUG}.ipynb", as_version=4)
    source.cells.append(nbformat.v4.new_code_cell(extra_cell))
    nbformat.write(source, target / f"{SLUG}.ipynb")


class _Sampler(threading.Thread):
    """Peak RSS of one process (and the lowest free disk) until stopped."""

    def __init__(self, pid: int, disk: Path):
        super().__init__(daemon=True)
        self.process, self.disk = psutil.Process(pid), disk
        self.peak_rss, self.min_free = 0, shutil.disk_usage(disk).free
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.min_free = min(self.min_free, shutil.disk_usage(self.disk).free)
            time.sleep(0.05)


def run(print_mib: int, write_mib: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-output-bounds-"))
    try:
        root = _course(work)
        _hand_in(root, "printer", f"print('x' * ({print_mib} * 2**20))")
        _hand_in(root, "filler", "block = b'0' * 2**20\nfor where in ('filler.bin', '/tmp/filler.bin'):\n"
                                 "    try:\n        with open(where, 'wb') as h:\n"
                                 f"            for _ in range({write_mib}):\n                h.write(block)\n"
                                 "    except OSError as exc:\n        print(where, 'stopped:', exc.strerror)")
        free_before = shutil.disk_usage(root).free
        started = time.monotonic()
        nbgrader = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", SLUG, "--force"], cwd=root,
                                    env=commands.nbgrader_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sampler = _Sampler(nbgrader.pid, root)
        sampler.start()
        nbgrader.wait()
        sampler.running = False
        sampler.join()
        took = time.monotonic() - started
        commands.nbgrader(["generate_feedback", SLUG, "--force"], root, capture=True)
        statuses = score_table.read_statuses(root, [SLUG])
        print(f"graded 2 hostile submissions in {took:.1f} s (a cell printing {print_mib} MiB; one writing "
              f"{write_mib} MiB into its folder and {write_mib} MiB into /tmp)")
        print(f"  grader (nbgrader) peak RSS:       {sampler.peak_rss / 2**20:8.1f} MiB")
        print(f"  largest drop of free disk:        {(free_before - sampler.min_free) / 2**20:8.1f} MiB")
        for student in ("printer", "filler"):
            notebook = root / "autograded" / student / SLUG / f"{SLUG}.ipynb"
            html = root / "feedback" / student / SLUG / f"{SLUG}.html"
            print(f"  {student:8s} autograded notebook {notebook.stat().st_size / 2**20:6.2f} MiB, feedback "
                  f"{html.stat().st_size / 2**20:6.2f} MiB, {statuses[(student, SLUG)].label}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.output_bounds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--print-mib", type=int, default=300, help="MiB one cell prints (default 300)")
    parser.add_argument("--write-mib", type=int, default=2048, help="MiB written to the folder and to /tmp")
    args = parser.parse_args(argv)
    return run(args.print_mib, args.write_mib)


if __name__ == "__main__":
    sys.exit(main())
