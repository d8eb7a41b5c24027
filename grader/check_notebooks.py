"""Run each lesson's solution notebook top to bottom, headless, and measure it.

    python -m grader.check_notebooks [SLUG ...] [--strict]

For each lesson, the instructor notebook ``grader/source/<slug>/<slug>.ipynb`` (solutions
included) is executed in a temporary copy of its folder by a fresh kernel. Printed per
lesson: wall time, the kernel's peak resident memory, and the lesson's budget. Exit code
1 if a notebook fails; with ``--strict`` also if it goes over its budget.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

from .catalog import lesson_slugs, source_dir, unknown_slugs

DEFAULT_BUDGET_S = 120
BUDGET_S = {"36-training-loop-eval": 300}  # lessons allowed longer than the default
BUDGET_MB = 1536  # Binder gives about 2 GB

_PEAK_PROBE = (
    "import resource as _r, sys as _s\n"
    "print('PEAK_RSS_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)"
)


@dataclass
class NotebookRun:
    slug: str
    seconds: float
    peak_mb: float | None
    error: str | None

    @property
    def budget_s(self) -> int:
        return BUDGET_S.get(self.slug, DEFAULT_BUDGET_S)

    @property
    def within_budget(self) -> bool:
        return self.seconds <= self.budget_s and (self.peak_mb or 0) <= BUDGET_MB


def execute_notebook(notebook: Path, workdir: Path, timeout: int = 600) -> tuple[nbformat.NotebookNode, float, float | None]:
    """Execute ``notebook`` with ``workdir`` as the kernel's working directory.

    Returns the executed notebook, wall seconds and the kernel's peak RSS in MB.
    Raises ``CellExecutionError`` on the first failing cell.
    """
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_PROBE))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    start = time.perf_counter()
    # The kernel's own stderr (start-up chatter, crash reports) goes to a log beside the notebook.
    with open(workdir / "kernel-stderr.log", "w") as kernel_log:
        client.execute(stderr=kernel_log)
    seconds = time.perf_counter() - start
    probe = nb.cells.pop()
    printed = "".join(output.get("text", "") for output in probe.get("outputs", []))
    match = re.search(r"PEAK_RSS_KB (\d+)", printed)  # a stream may arrive in pieces
    peak_mb = int(match.group(1)) / 1024 if match else None
    return nb, seconds, peak_mb


def run_lesson(slug: str, keep: Path | None = None) -> NotebookRun:
    with tempfile.TemporaryDirectory(prefix=f"check-{slug}-") as tmp:
        workdir = Path(keep or tmp) / slug
        shutil.copytree(source_dir(slug), workdir, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("quiz-progress.jsonl", ".ipynb_checkpoints"))
        start = time.perf_counter()
        try:
            nb, seconds, peak_mb = execute_notebook(workdir / f"{slug}.ipynb", workdir)
        except (CellExecutionError, DeadKernelError) as exc:
            kernel_log = (workdir / "kernel-stderr.log").read_text(errors="replace")[-2000:]
            return NotebookRun(slug, time.perf_counter() - start, None, f"{exc}\n{kernel_log}".strip())
        if keep:
            nbformat.write(nb, workdir / f"{slug}.executed.ipynb")
        return NotebookRun(slug, seconds, peak_mb, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.check_notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="lessons (default: all)")
    parser.add_argument("--strict", action="store_true", help="also fail when a lesson is over its budget")
    parser.add_argument("--keep", type=Path, help="write executed notebooks under this folder")
    args = parser.parse_args(argv)
    slugs = args.slugs or lesson_slugs()
    if unknown := unknown_slugs(slugs):
        print(f"error: unknown lesson(s) {', '.join(unknown)}; known: {', '.join(lesson_slugs())}", file=sys.stderr)
        return 2
    print(f"{'lesson':34} {'time':>8} {'budget':>7} {'peak mem':>9} {'budget':>7}  result", flush=True)
    runs = []
    for slug in slugs:
        run = run_lesson(slug, args.keep)
        runs.append(run)
        peak = f"{run.peak_mb:.0f} MB" if run.peak_mb is not None else "-"
        verdict = "FAILED" if run.error else ("ok" if run.within_budget else "OVER BUDGET")
        print(f"{slug:34} {run.seconds:7.1f}s {run.budget_s:6d}s {peak:>9} {BUDGET_MB:4d} MB  {verdict}", flush=True)
        if run.error:
            print("    " + run.error.strip().replace("\n", "\n    ")[-3000:], file=sys.stderr)
    failed = any(r.error for r in runs) or (args.strict and not all(r.within_budget for r in runs))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
