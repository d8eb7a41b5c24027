"""Visible checks as strong as the grade: a mistake the hidden tests catch, the student's own checks catch too.

    python -m grader.visible_checks [SLUG ...]     prints a table per lesson; exit 1 on any hole

A student sees only the visible part of each test cell (nbgrader strips the hidden part on release).
For a lesson, this runs the student's version of the notebook, filled in with the solution, once in one
kernel, as a student runs it (cells tagged ``skip-autograde`` are left out, as in grading). Then, for
each one-bug mutant of ``grading.py`` (``grader.acceptance``: a mistake in the student's own cells that
must lose the tests named in ``fails``), it runs the mutant's changed solution cells, then every test
cell's visible part, notes which fail, and runs the solution cells again to restore the kernel.

A mutant is a *hole* when it fails no visible check: the student sees "ok" everywhere and Validate
passes, yet grading takes points. (A mutant that fails some visible check is caught: the student sees
the mistake, fixes it, and the other tests it would lose pass with it.) Hidden checks may differ from
the visible ones in data and seeds, not in ideas.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from grader.acceptance import load_submissions
from grader.build import strip_solution_markers
from grader.catalog import COURSE_DIR, REPO_DIR, lesson_slugs, proven, source_notebook, student_files, unknown_slugs
from grader.proofs.submissions import ALL_TESTS, QUIZ_AUTO, Submission, make_submission

HIDDEN_TESTS = re.compile(r"(?ms)^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?")
SKIP_TAG = "skip-autograde"
CELL_TIMEOUT_S = 300


@dataclass
class MutantRun:
    name: str
    must_fail: set[str]  # the tests grading takes from it (SUBMISSIONS)
    failed_visibly: set[str] = field(default_factory=set)

    @property
    def hole(self) -> bool:
        """It loses points at grading, yet every visible check passes: the student sees only "ok"."""
        return bool(self.must_fail) and not self.failed_visibly


def student_version(source_nb):
    """The notebook a student holds, answered with the solution: hidden tests out, solution markers gone."""
    nb = nbformat.from_dict(source_nb)  # a copy
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = strip_solution_markers(cell.source)
        if meta.get("grade") and cell.cell_type == "code":
            cell.source = HIDDEN_TESTS.sub("", cell.source)
    return nb


def is_test_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution") and \
        "post_quiz_status" not in cell.source


def one_bug_mutants(submissions: list[Submission], solution_ids: set[str]) -> list[Submission]:
    """The submissions that make one mistake in the student's own cells and must lose named tests."""
    return [
        s for s in submissions
        if isinstance(s.fails, set) and s.fails and not s.flagged and not s.review and s.transform is None
        and s.raw is None and not s.delete and not s.files and not s.from_release and s.quiz == QUIZ_AUTO
        and set(s.edits) | set(s.cells) <= solution_ids
    ]


def _error_of(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def check_lesson(slug: str, course_root: Path = COURSE_DIR, log: Callable[[str], None] = print,
                 cell_timeout: int = CELL_TIMEOUT_S) -> list[MutantRun]:
    """Run every one-bug mutant of ``slug`` against the visible checks; one row per mutant."""
    source_nb = nbformat.read(source_notebook(slug, course_root), as_version=4)
    notebook = student_version(source_nb)
    solution_ids = {c.id for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")}
    mutants = one_bug_mutants(load_submissions(slug, course_root), solution_ids)
    if not mutants:
        return []
    with tempfile.TemporaryDirectory(prefix=f"visible-{slug}-") as tmp:
        work = Path(tmp) / slug
        work.mkdir()
        for path in student_files(slug, course_root):
            shutil.copy2(path, work / path.name)
        state = Path(tmp) / "state"  # the kernel's quiz progress and settings: thrown away
        env = {**os.environ, "XDG_CONFIG_HOME": str(state / "config"), "XDG_DATA_HOME": str(state / "data"),
               "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
                   p for p in [str(REPO_DIR), os.environ.get("PYTHONPATH", "")] if p)}
        env.pop("NBGRADER_EXECUTION", None)
        client = NotebookClient(notebook, timeout=cell_timeout, allow_errors=True, kernel_name="python3",
                                interrupt_on_timeout=True,
                                resources={"metadata": {"path": str(work)}})
        with client.setup_kernel(env=env, cwd=str(work)):
            return _run_mutants(client, notebook, source_nb, mutants, slug, log)


def _run(client, cell, index: int) -> str | None:
    cell = nbformat.from_dict(cell)
    cell.outputs = []
    client.execute_cell(cell, index)
    return _error_of(cell)


def _run_mutants(client, notebook, source_nb, mutants, slug, log) -> list[MutantRun]:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or SKIP_TAG in cell.metadata.get("tags", []):
            continue
        if "post_quiz_status" in cell.source:
            continue
        error = _run(client, cell, index)
        if error and is_test_cell(cell):
            raise RuntimeError(f"{slug}: the solution fails the visible check {cell.id}: {error}")
    tests = [(i, c) for i, c in enumerate(notebook.cells) if is_test_cell(c)]
    solution = {c.id: (i, c) for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("solution")}
    runs = []
    for mutant in mutants:
        changed = make_submission(source_nb, notebook, mutant)
        by_id = {c.id: c for c in changed.cells}
        edited = [cid for cid in solution if by_id[cid].source != solution[cid][1].source]
        run = MutantRun(mutant.name, set(mutant.fails) if mutant.fails != ALL_TESTS else {c.id for _, c in tests})
        for cid in edited:
            _run(client, by_id[cid], solution[cid][0])
        for index, cell in tests:
            if _run(client, cell, index):
                run.failed_visibly.add(cell.metadata.nbgrader.grade_id)
        for cid in edited:
            _run(client, solution[cid][1], solution[cid][0])
        log(f"  {slug} {mutant.name}: {'HOLE' if run.hole else 'caught'}")
        runs.append(run)
    return runs


def report(slug: str, runs: list[MutantRun]) -> str:
    width = max([len(r.name) for r in runs] + [6])
    lines = [f"{slug}: {sum(not r.hole for r in runs)}/{len(runs)} one-bug mutants fail a visible check",
             f"  {'mutant':<{width}}  {'loses at grading':<28} {'fails visibly':<40} verdict"]
    for r in runs:
        verdict = "HOLE" if r.hole else "caught"
        lines.append(f"  {r.name:<{width}}  {', '.join(sorted(r.must_fail)):<28} "
                     f"{', '.join(sorted(r.failed_visibly)) or '-':<40} {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.visible_checks", description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="lessons (default: every lesson with made-up submissions)")
    args = parser.parse_args(argv)
    unknown = unknown_slugs(args.slugs)
    if unknown:
        print(f"unknown lesson(s): {', '.join(unknown)}; known: {', '.join(lesson_slugs())}", file=sys.stderr)
        return 2
    slugs = args.slugs or [s for s in lesson_slugs() if proven(s)]
    holes = 0
    for slug in slugs:
        runs = check_lesson(slug, log=lambda line: print(line, file=sys.stderr, flush=True))
        print(report(slug, runs), flush=True)
        holes += sum(r.hole for r in runs)
    return 1 if holes else 0


if __name__ == "__main__":
    sys.exit(main())
