"""``grader.acceptance --kernel-checks-pass``: every in-kernel check of a lesson replaced by one
that always passes, and the submissions that must still score exactly as before (every point a
wrong answer loses is then decided outside the kernel)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nbformat

from grader.build import POST_QUIZ_ID
from grader.catalog import source_notebook
from grader.proofs.submissions import ALL_TESTS, QUIZ_AUTO, Submission, in_solution_cells
from grader.trusted import OUTSIDE_CHECK

ALWAYS_PASS = 'print("ok")  # every in-kernel check of this test cell replaced by one that always passes\n'


def make_kernel_checks_pass(slug: str, root: Path) -> int:
    """In the throw-away course at ``root``: every graded test cell of the source (visible and
    hidden checks alike) becomes one that always passes, the strongest forgery a kernel can
    make. RestoreFromSource then puts that cell into every submission, so whatever points a
    wrong answer still loses are taken by the outside check. Returns how many cells changed."""
    path = source_notebook(slug, root)
    nb = nbformat.read(path, as_version=4)
    changed = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") \
                and meta.get("grade_id") != POST_QUIZ_ID:
            cell.source = ALWAYS_PASS
            changed += 1
    nbformat.write(nb, path)
    return changed


def kernel_blind(subs: list[Submission], solution_ids: set[str], tests: list[str]) -> list[Submission]:
    """What grading must give with every in-kernel check passing: the solution, the untouched
    notebook, answers handed to the reference, and for each graded test the first one-bug
    mutant that must lose it. Each must score exactly as before; the kernel's checks passed, so
    every point the outside check takes is a contradiction and the submission NEEDS REVIEW
    (outside check)."""
    chosen = [sub for sub in subs if sub.name in ("solution", "untouched")
              or (sub.fails == ALL_TESTS and not sub.flagged and in_solution_cells(sub, solution_ids))]
    for test in tests:
        chosen += [next(
            (sub for sub in subs if isinstance(sub.fails, set) and test in sub.fails and sub not in chosen
             and not sub.flagged and not sub.review and sub.quiz == QUIZ_AUTO and not sub.from_release
             and in_solution_cells(sub, solution_ids)), None)]
    picked = list({sub.name: sub for sub in chosen if sub is not None}.values())
    return [replace(sub, review=set(sub.review) | {OUTSIDE_CHECK}) if sub.fails and sub.name != "solution" else sub
            for sub in picked]
