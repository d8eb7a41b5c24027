"""Prove that every point is decided outside the student's kernel.

The kernel's tests can be made to pass whatever the code does (patched checks, a patched torch),
so a score may only rest on the outside check (``grader.trusted``). For a lesson with probes,
this tool asks, without any kernel: does the outside check alone take from each made-up wrong
answer of ``SUBMISSIONS`` (the lesson's ``grading.py``) exactly the points the acceptance table takes, and from each correct
one nothing? That is what grading gives a wrong answer whose in-kernel checks all pass.

For each submission whose changes stay inside the solution cells (one-bug mutants, correct
variants, answers handed to the reference, patched checks), its solution cells and the lesson's
probes run in the sandbox, and each graded test with a disagreeing probe counts as lost:

- ``GAP``: a test the submission must lose that no probe of the outside check takes from it
  (the kernel alone decides that point), or one it must keep that the outside check takes;
- a graded test the lesson's ``TESTS`` does not cover (the graded post quiz is scored outside
  the kernel by ``grader.trusted.post_quiz``, so it is not one).

    python -m grader.outside_coverage [SLUG ...]   exit 1 on any gap
"""

from __future__ import annotations

import argparse
import contextlib
import io
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader import trusted
from grader.acceptance import load_submissions
from grader.build import POST_QUIZ_ID
from grader.catalog import COURSE_DIR, lesson_dir, lesson_slugs, source_notebook, unknown_slugs
from grader.proofs.submissions import ALL_TESTS, in_solution_cells, make_submission
from grader.trusted import runner as probe_runner
from grader.visible_checks import student_version


@dataclass
class Coverage:
    name: str
    must_lose: set[str]
    lost_outside: set[str]

    @property
    def gap(self) -> bool:
        return self.must_lose != self.lost_outside


def _graded_tests(source_nb) -> set[str]:
    return {c.metadata.nbgrader["grade_id"] for c in source_nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")} - {POST_QUIZ_ID}


def _solution_ids(nb) -> set[str]:
    return {c.id for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def uncovered_tests(slug: str, course_root: Path = COURSE_DIR) -> set[str]:
    """Graded tests of ``slug`` that only the kernel would decide."""
    lesson = trusted.load_probes(lesson_dir(slug, course_root))
    graded = _graded_tests(nbformat.read(source_notebook(slug, course_root), as_version=4))
    return graded if lesson is None else graded - {test for test, probes in lesson.tests.items() if probes}


def _solution_cells_of_each(slug: str, course_root: Path, wanted: Callable) -> list[tuple]:
    """(submission, its solution cells) for each ``wanted`` submission made in the solution cells."""
    source_nb = nbformat.read(source_notebook(slug, course_root), as_version=4)
    student_nb = student_version(source_nb)
    solution_ids = _solution_ids(student_nb)
    made = []
    for sub in load_submissions(slug, course_root):
        if wanted(sub) and in_solution_cells(sub, solution_ids):
            nb = make_submission(source_nb, student_nb, sub)
            made.append((sub, [(c.id, c.source) for c in nb.cells if c.id in solution_ids and c.cell_type == "code"]))
    return made


def check_lesson(slug: str, course_root: Path = COURSE_DIR, seed: int | None = None,
                 log: Callable[[str], None] = print) -> list[Coverage]:
    """One row per submission of ``slug`` made in the solution cells."""
    lesson = trusted.load_probes(lesson_dir(slug, course_root))
    if lesson is None:
        return []
    seed = secrets.randbelow(2**31) if seed is None else seed
    reference: dict = {}
    rows = []
    for sub, cells in _solution_cells_of_each(slug, course_root, lambda sub: not sub.from_release):
        verdicts, _run = trusted.check(lesson, cells, seed, reference)
        lost = {test for test, probes in lesson.tests.items() if any(verdicts.get(p) for p in probes)}
        must_lose = set(lesson.tests) if sub.fails == ALL_TESTS else set(sub.fails) - {POST_QUIZ_ID}
        row = Coverage(sub.name, must_lose, lost)
        log(f"  {slug} {sub.name}: {'GAP' if row.gap else 'ok'}")
        rows.append(row)
    return rows


def _values_in_process(lesson: trusted.LessonProbes, cells: list[tuple[str, str]], seeds: list[int]) -> dict:
    """seed -> a ``ProbeRun`` of the probes on ``cells``, run here rather than in a sandbox: only
    for the course's own made-up submissions (a per-probe alarm stops one that loops). Values go
    through the same plain-data round trip as the sandbox's."""
    import torch

    namespace: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):  # what the answers print is not the report's
        for label, source in [("setup", lesson.setup), *cells]:
            exec(compile(probe_runner.code_only(source), f"<cell {label}>", "exec"), namespace)  # noqa: S102
    probes_ns: dict = {}
    exec(compile(lesson.code, "<probes>", "exec"), probes_ns)  # noqa: S102
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    old_handler = signal.signal(signal.SIGALRM, probe_runner.alarm)
    runs, stuck = {}, {}
    try:
        for seed in seeds:
            run = trusted.ProbeRun()
            for name in lesson.probes:
                if name in stuck:  # it ran past its time once: it would on every seed (a loop)
                    run.problems[name] = stuck[name]
                    continue
                tensors: dict = {}
                try:
                    signal.setitimer(signal.ITIMER_REAL, lesson.probe_timeout)
                    try:
                        probes_ns["_start_probe"](seed, name)
                        with contextlib.redirect_stdout(io.StringIO()):
                            values = probes_ns[f"probe_{name}"](namespace, seed)
                    finally:
                        signal.setitimer(signal.ITIMER_REAL, 0)
                    run.values[name] = {key: trusted.unplain(probe_runner.plain(v, f"{name}/{key}", tensors, torch), tensors)
                                        for key, v in values.items()}
                except Exception as exc:  # noqa: BLE001 (a wrong answer may raise anything)
                    run.problems[name] = f"{type(exc).__name__}: {exc}"[:200]
                    if isinstance(exc, probe_runner.ProbeTimeout):
                        stuck[name] = run.problems[name]
            runs[seed] = run
    finally:
        signal.signal(signal.SIGALRM, old_handler)
        torch.set_num_threads(threads)
    return runs


def seed_misses(slug: str, seeds: list[int], course_root: Path = COURSE_DIR,
                log: Callable[[str], None] = print) -> list[tuple[str, str, int]]:
    """(mutant, test, seed) for every seed on which the outside check would keep a point a
    one-bug mutant must lose: probes whose inputs only sometimes show the mistake (one head,
    one position, a tie) leave that point to the kernel on those seeds. In-process, many seeds."""
    lesson = trusted.load_probes(lesson_dir(slug, course_root))
    if lesson is None:
        return []
    expected: dict = {}
    misses = []

    def one_bug(sub) -> bool:
        return isinstance(sub.fails, set) and bool(sub.fails - {POST_QUIZ_ID}) and not sub.flagged \
            and not sub.review and not sub.from_release

    for sub, cells in _solution_cells_of_each(slug, course_root, one_bug):
        for seed, run in _values_in_process(lesson, cells, seeds).items():
            verdicts = trusted.judge(lesson, run, trusted.expected_values(lesson, seed, expected))
            for test in sorted(sub.fails - {POST_QUIZ_ID}):
                if not any(verdicts.get(p) for p in lesson.tests.get(test, [])):
                    misses.append((sub.name, test, seed))
        log(f"  {slug} {sub.name}: {len(seeds)} seeds")
    return misses


def report(slug: str, rows: list[Coverage], uncovered: set[str]) -> str:
    lines = [f"== outside check alone: {slug} =="]
    lines += [f"GAP graded by the kernel alone: {test}" for test in sorted(uncovered)]
    for row in rows:
        if row.gap:
            kept = sorted(row.must_lose - row.lost_outside)
            taken = sorted(row.lost_outside - row.must_lose)
            lines.append(f"GAP {row.name}: " + "; ".join(
                part for part in (f"kept outside: {', '.join(kept)}" if kept else "",
                                  f"taken outside: {', '.join(taken)}" if taken else "") if part))
    gaps = sum(row.gap for row in rows) + len(uncovered)
    lines.append(f"{len(rows)} submissions, {gaps} gaps" + ("" if gaps else ": every point is decided outside"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.outside_coverage", description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="lessons (default: every lesson)")
    parser.add_argument("--seed", type=int, help="the probes' seed (default: a fresh one)")
    parser.add_argument("--seeds", type=int, default=0, metavar="N",
                        help="also run each one-bug mutant's probes in this process on N seeds (0 .. N-1) and "
                             "list every seed on which a point it must lose would be kept")
    args = parser.parse_args(argv)
    if bad := unknown_slugs(args.slugs):
        print(f"error: no such lesson: {', '.join(bad)}", file=sys.stderr)
        return 2
    all_ok = True
    for slug in args.slugs or lesson_slugs():
        rows = check_lesson(slug, seed=args.seed, log=lambda line: None)
        uncovered = uncovered_tests(slug)
        print(report(slug, rows, uncovered), flush=True)
        misses = seed_misses(slug, list(range(args.seeds)), log=lambda line: None) if args.seeds else []
        for name, test, seed in misses:
            print(f"GAP {name}: keeps {test} on seed {seed}")
        if args.seeds:
            print(f"{args.seeds} seeds: {len(misses)} points kept on some seed")
        all_ok &= not uncovered and not any(row.gap for row in rows) and not misses
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
