"""``make bench-grading``: grade a made-up class of lesson-35 submissions the way ``make autograde`` does.

    python -m bench.grading [--students 200] [--jobs N] [--cell-timeout 60] [--workdir DIR]

The class is built from the lesson's own acceptance submissions (``SUBMISSIONS`` in ``grader/lessons/<slug>/grading.py``):
about 60 % correct (the solution and the correct-but-different rewrites), 32 % with one bug, 8 %
hostile (tampered tests, neutered checks, the reference in disguise, a loop that never ends).
Everything is sandboxed and parallel, exactly as ``make autograde``; the report gives the
total time, the time per correct submission once warm, where that time goes, and whether every
submission got the score it deserves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from grader import acceptance, commands
from grader.catalog import lesson_dir, source_notebook
from grader.orchestration import parallel, score_table
from grader.proofs.submissions import Submission, make_submission
from grader.trusted import load_probes

SLUG = "35-gpt-model-assembly"


def make_class(submissions: list[Submission], size: int) -> list[tuple[str, Submission]]:
    """``size`` (student, submission) pairs: 60 % correct, 32 % one bug, 8 % hostile, interleaved."""
    def hostile(s):
        return s.flagged or bool(s.review) or s.name.startswith(("tamper", "loops", "reference"))

    correct = [s for s in submissions if not s.fails and not hostile(s)]
    buggy = [s for s in submissions if s.fails and not hostile(s) and s.name != "untouched"]
    bad = [s for s in submissions if hostile(s)]
    pattern = ["correct"] * 15 + ["buggy"] * 8 + ["hostile"] * 2  # per 25 students
    pools = {"correct": correct, "buggy": buggy, "hostile": bad}
    used = {kind: 0 for kind in pools}
    chosen = []
    for number in range(size):
        kind = pattern[number % len(pattern)]
        pool = pools[kind]
        chosen.append((f"s{number:03d}-{kind}", pool[used[kind] % len(pool)]))
        used[kind] += 1
    return chosen


def _median(values):
    return statistics.median(values) if values else float("nan")


def run(students: int = 200, jobs: int | None = None, cell_timeout: int = 60, workdir: Path | None = None) -> int:
    jobs = jobs or parallel.default_jobs()
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="bench-grading-")) if own else Path(workdir)
    root = work / "course"
    acceptance.prepare_course(SLUG, root)
    release_dir = commands.generate(SLUG, root, capture=True)
    source_nb = nbformat.read(source_notebook(SLUG, root), as_version=4)
    release_nb = nbformat.read(release_dir / f"{SLUG}.ipynb", as_version=4)
    subs = [*acceptance.load_submissions(SLUG), Submission("solution", fails=set())]
    klass = make_class(subs, students)
    for student, sub in klass:
        target = root / "submitted" / student / SLUG
        shutil.copytree(release_dir, target)
        acceptance.write_files(target, root, SLUG, sub)  # post quiz answers, files handed in
        nbformat.write(make_submission(source_nb, release_nb, sub), target / f"{SLUG}.ipynb")
    counts = {kind: sum(1 for name, _ in klass if name.endswith(kind)) for kind in ("correct", "buggy", "hostile")}
    print(f"grading {students} lesson-35 submissions ({counts['correct']} correct, {counts['buggy']} one bug, "
          f"{counts['hostile']} hostile) with {jobs} workers, cell timeout {cell_timeout} s ...", flush=True)
    env = dict(os.environ, GPT2_COURSE_CELL_TIMEOUT=str(cell_timeout))
    runs = work / "runs"
    started = time.monotonic()
    scores = commands.autograde([SLUG], root, quiet=True, progress=True, env=env, jobs=jobs, keep_runs=runs)
    total = time.monotonic() - started
    ended = time.time()
    statuses = score_table.read_statuses(root, [SLUG])
    flagged = score_table.integrity_findings(root, [SLUG])
    timings = {}
    for path in runs.glob(f"{SLUG}/*/{SLUG}/*.json"):
        timings[path.parent.parent.name] = (json.loads(path.read_text()).get("timing") or {}, path.stat().st_mtime)
    outside = load_probes(lesson_dir(SLUG, root)) is not None  # the integrity scan only reports then
    surprises = []
    for student, sub in klass:
        outcome = acceptance.Outcome(sub, scores.get((student, SLUG)), flagged.get((student, SLUG), []),
                                     statuses.get((student, SLUG)), outside)
        if problem := outcome.problem():
            surprises.append(f"{student}: {problem}")
    correct = [timings[s][0] for s, _ in klass if s.endswith("correct") and s in timings]
    # Warm: not the first notebook a worker ran (cold file caches, first imports).
    first_per_worker = sorted(timings.values(), key=lambda t: t[1])[:jobs]
    warm = [t for t in correct if all(t is not f[0] for f in first_per_worker)]
    last_run_done = max((mtime for _, mtime in timings.values()), default=None)

    def line(label, values):
        return f"  {label:<38} median {_median(values):6.2f} s   max {max(values, default=float('nan')):6.2f} s"

    print(f"\nbench-grading: {students} submissions of {SLUG}, {jobs} workers")
    print(f"  total wall time                        {total:7.1f} s ({total / 60:.1f} min; {total / students:.2f} s per submission)")
    if last_run_done is not None:
        parent = ended - last_run_done  # from the last worker's run to the end
        print(f"  parent's grading after the last run    {parent:7.1f} s (it grades beside the workers)")
    print(f"  correct submissions, warm ({len(warm)} notebooks, each in its own sandbox):")
    print(line("whole run (start to kernel gone)", [t["total_s"] for t in warm]))
    print(line("sandbox + kernel start", [t["start_s"] for t in warm]))
    print(line("first code cell (imports: torch, ...)", [t["cells_s"][0] for t in warm if t.get("cells_s")]))
    print(line("the other cells (demos + tests)", [sum(t["cells_s"][1:]) for t in warm if t.get("cells_s")]))
    print(line("kernel shutdown, verdict", [t["end_s"] for t in warm]))
    print(line("outside check (second sandbox)", [t.get("outside_s", 0.0) for t in warm]))
    print(f"  every submission scored as expected: {'yes' if not surprises else 'NO'}")
    for text in surprises:
        print(f"    {text}")
    if own:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if surprises else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=None, help="workers (default: the number of cores)")
    parser.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (make autograde: 300)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the course here (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error("--students must be at least 1")
    return run(args.students, args.jobs, args.cell_timeout, args.workdir)


if __name__ == "__main__":
    sys.exit(main())
