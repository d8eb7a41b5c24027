"""The made-up submissions of ``grader.acceptance``: the ``Submission`` model that each lesson's
``SUBMISSIONS`` in ``grader/lessons/<slug>/grading.py`` lists, and the helpers that make the notebook one hands in
(``make_submission``) or that its ``transform`` uses to change it further (``copy_cell``,
``insert_cell``, ``forge_quiz_cell``, ``cell_by_id``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import nbformat

from grader.build import strip_solution_markers

ALL_TESTS = "*"
QUIZ_AUTO = "auto"


@dataclass
class Submission:
    """One made-up student.

    edits:  {cell id: [(old, new), ...]}, each ``old`` must occur exactly once in that cell
            of the solution; ``cells``: {cell id: whole new source}; ``delete``: cell ids removed.
    fails:  the test cells that must score zero (every other test must score full marks);
            ``ALL_TESTS`` for all of them.
    flagged: whether the integrity scan (``grader.trusted.integrity``) must report this submission
            (cheating that the tests alone could not stop; without an outside check its scores are held at zero,
            and it NEEDS REVIEW (integrity scan)).
    review: the reasons it must show as NEEDS REVIEW (e.g. {"kernel died"}), besides
            "integrity scan" for a flagged one; empty: graded normally. Its scores must still
            be exactly the ones ``fails`` says (a test that did not run scores zero).
    transform: a function that changes the notebook further (copy cells, edit metadata or tags).
    raw: hand in this text instead of a notebook (a malformed file).
    files: more files handed in beside the notebook ({relative path: text}); a
            ``quiz-answers.json`` here replaces the one ``quiz`` writes.
    quiz:   the graded post quiz's answers handed in (``quiz-answers.json``): ``QUIZ_AUTO`` (the
            default) every post answer right, except for a submission that must score zero
            (``fails`` is ``ALL_TESTS``), which hands in none; ``None`` no file; a dict
            {question id: original option index} exactly these answers.
    scores: exact scores some tests must get ({grade id: points}), e.g. partial credit.
    """

    name: str
    fails: set[str] | str
    why: str = ""
    edits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    cells: dict[str, str] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    from_release: bool = False  # start from the untouched student notebook instead of the solution
    flagged: bool = False
    review: set[str] = field(default_factory=set)
    transform: Callable | None = None
    raw: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # extra files handed in beside the notebook
    quiz: str | dict | None = "auto"
    scores: dict[str, float] = field(default_factory=dict)

    def quiz_answers(self, key: dict[str, int]) -> dict[str, int] | None:
        """The answers this submission hands in, given the lesson's key ({id: correct option})."""
        if self.quiz == QUIZ_AUTO:
            return None if self.fails == ALL_TESTS or not key else dict(key)
        return self.quiz


def in_solution_cells(sub: Submission, solution_ids: set[str]) -> bool:
    """The submission changes only what a student writes: its solution cells."""
    return sub.raw is None and sub.transform is None and not sub.files and not sub.delete \
        and set(sub.edits) | set(sub.cells) <= solution_ids


class HarnessError(RuntimeError):
    """A mutant no longer fits the notebook (e.g. the text it edits has changed)."""


def make_submission(source_nb, release_nb, submission: Submission):
    """The notebook ``submission`` hands in, built from the release and source versions."""
    nb = nbformat.from_dict(release_nb)  # a copy
    source_cells = {cell.get("id"): cell for cell in source_nb.cells}
    cell_ids = [cell.get("id") for cell in nb.cells]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and not submission.from_release:
            cell.source = strip_solution_markers(source_cells[cell.id].source)
    for cell_id, edits in submission.edits.items():
        if cell_id not in cell_ids:
            raise HarnessError(f"{submission.name}: no cell {cell_id!r} to edit")
        cell = nb.cells[cell_ids.index(cell_id)]
        for old, new in edits:
            count = cell.source.count(old)
            if count != 1:
                raise HarnessError(
                    f"{submission.name}: {old!r} occurs {count} times in cell {cell_id!r} (expected once)"
                )
            cell.source = cell.source.replace(old, new)
    for cell_id, text in submission.cells.items():
        if cell_id not in cell_ids:
            raise HarnessError(f"{submission.name}: no cell {cell_id!r} to replace")
        nb.cells[cell_ids.index(cell_id)].source = text
    for cell_id in submission.delete:
        if cell_id not in cell_ids:
            raise HarnessError(f"{submission.name}: no cell {cell_id!r} to delete")
    nb.cells = [cell for cell in nb.cells if cell.get("id") not in submission.delete]
    if submission.transform is not None:
        nb = submission.transform(nb) or nb
    return nb


def copy_cell(nb, cell_id: str, new_id: str, source: str | None = None, before: bool = False):
    """Insert a copy of cell ``cell_id`` (metadata and all, as copy-paste in Jupyter does) after it
    (or before it), with cell id ``new_id`` and, given, another text. Returns the notebook."""
    ids = [cell.get("id") for cell in nb.cells]
    if cell_id not in ids:
        raise HarnessError(f"no cell {cell_id!r} to copy")
    index = ids.index(cell_id)
    copied = nbformat.from_dict(nb.cells[index])
    copied.id = new_id
    if source is not None:
        copied.source = source
    nb.cells.insert(index if before else index + 1, copied)
    return nb


def insert_cell(nb, after_id: str, new_id: str, source: str):
    """Insert a code cell of the student's own (no nbgrader metadata) with id ``new_id`` and text
    ``source`` after cell ``after_id``. Returns the notebook."""
    ids = [cell.get("id") for cell in nb.cells]
    if after_id not in ids:
        raise HarnessError(f"no cell {after_id!r} to insert after")
    cell = nbformat.v4.new_code_cell(source)
    cell.id = new_id
    nb.cells.insert(ids.index(after_id) + 1, cell)
    return nb


def forge_quiz_cell(points: float) -> str:
    """A student's cell that makes the graded post quiz cell, in the kernel, print a full score and
    end with the bare value ``points`` (what nbgrader alone would record): an input transformer."""
    return ("ip = get_ipython()\nip.input_transformers_post.append(\n"
            f"    lambda lines: lines + ['\\nprint(\"post quiz: all correct\")\\n', '{points:g}\\n']\n"
            "    if any('post_quiz_status' in line for line in lines) else lines)\n")


def cell_by_id(nb, cell_id: str):
    for cell in nb.cells:
        if cell.get("id") == cell_id:
            return cell
    raise HarnessError(f"no cell {cell_id!r}")
