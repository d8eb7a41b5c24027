"""RestoreFromSource: every submission is rebuilt from the lesson's source notebook before
nbgrader looks at it (``restore_from_source``), so nothing nbgrader owns can be changed by the
student; it also holds a submission the intake gate kept out and runs the integrity scan."""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import nbformat
from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor

from grader.plugins.cells import META, as_text, cell_label, course_info, metadata_of, nbgrader_of, tags_of
from grader.plugins.paths import Paths
from grader.plugins.reviews import INTAKE, INTEGRITY, MALFORMED, add_note, add_review
from grader.sandbox import intake
from grader.trusted.integrity import scan

# What an unwritten solution cell says (nbgrader's ClearSolutions.code_stub, set in nbgrader_config.py).
CODE_STUB = '# YOUR CODE HERE\nraise NotImplementedError("replace this line with your code, then run the test cell below")'


def solution_stub(cell, code_stub: str = CODE_STUB,
                  clearer: ClearSolutions | None = None) -> str:
    """What a solution cell of the source looks like in the student version (nbgrader's ClearSolutions)."""
    clearer = clearer or ClearSolutions(code_stub={"python": code_stub})
    copied = copy.deepcopy(cell)
    try:
        replaced = clearer._replace_solution_region(copied, "python")
    except RuntimeError:
        replaced = False
    if not replaced:
        copied.source = clearer.code_stub.get("python", code_stub) if cell.cell_type == "code" else clearer.text_stub
    return copied.source


# --- restore_from_source, step by step --------------------------------------------------------------

def restore_from_source(submitted, source, stub=solution_stub):
    """Rebuild a submission from the instructor's ``source`` notebook.

    Returns (notebook, notes, problem): ``problem`` is None, or why the submission cannot be
    graded (then the notebook is the source with every answer left unanswered).

    Every source cell with nbgrader metadata or tags (an "anchor") comes back in the source's
    order, with the source's type, metadata, tags, points and grade id; locked, test and tagged
    demo cells with the source's text too. A solution cell takes the student's code from the
    student cell with its grade id (or, failing that, its cell id); of several copies, the first
    that differs from the unanswered stub. Other student cells keep their place after the anchor
    they followed, stripped of nbgrader metadata and tags; copies of test/locked/demo cells and
    copies of a solution cell that are still the stub are dropped.
    """
    notes: list[str] = []
    cells, problem = _readable_cells(submitted, notes)
    if problem:
        # Nothing the student wrote runs: the source, every answer left unanswered.
        return _unanswered(source, stub), notes, problem
    anchors = [cell for cell in source.cells if nbgrader_of(cell) or tags_of(cell)]
    match = _match(anchors, cells)
    for i, anchor in enumerate(anchors):
        _choose(i, anchor, cells, match, stub, notes)
    head, after = _place_ordinary(cells, match, len(anchors), notes)
    out = _notebook_like(source)
    out.cells = _assemble(anchors, cells, match, head, after)
    return out, notes, problem


@dataclass
class _Match:
    """Which student cells stand for which anchors (indices into the anchors and the cells)."""

    candidates: dict[int, list[int]]  # anchor -> the student cells that claim to be it
    by_id: set[int]  # anchors claimed by cell id: the student changed their grade id
    chosen: dict[int, int] = field(default_factory=dict)  # anchor -> the student cell it takes
    dropped: set[int] = field(default_factory=set)  # student cells left out
    kept_copies: set[int] = field(default_factory=set)  # extra answered copies of a solution cell
    stubs: dict[int, str] = field(default_factory=dict)  # solution anchor -> its unanswered stub


def _readable_cells(submitted, notes: list[str]) -> tuple[list, str | None]:
    """(the submission's cells that are dicts, why it cannot be graded or None)."""
    raw_cells = submitted.get("cells") if isinstance(submitted, dict) else None
    problem = None
    if not isinstance(raw_cells, list) or not raw_cells:
        problem = "the notebook has no cells"
        raw_cells = []
    cells = [c for c in raw_cells if isinstance(c, dict)]
    if len(cells) != len(raw_cells):
        notes.append(f"{len(raw_cells) - len(cells)} unreadable cell(s) ignored")
        if not cells:
            problem = "none of its cells can be read"
    return cells, problem


def _notebook_like(source):
    """An empty notebook with the source's metadata and format version."""
    out = nbformat.v4.new_notebook()
    out.metadata = copy.deepcopy(source.metadata)
    out.nbformat, out.nbformat_minor = source.nbformat, source.nbformat_minor
    return out


def _unanswered(source, stub):
    """The source notebook, every output cleared and every answer left unanswered."""
    out = _notebook_like(source)
    for cell in source.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if nbgrader_of(cell).get("solution"):
            cell.source = stub(cell)
        out.cells.append(cell)
    return out


def _match(anchors: list, cells: list) -> _Match:
    """The student cells that claim each anchor: those with its grade id; then a cell whose grade
    id matches no anchor claims the anchor with its cell id, unless a cell with the anchor's grade
    id was found (or the anchor is already claimed by cell id)."""
    by_grade_id = {nbgrader_of(a).get("grade_id"): i for i, a in enumerate(anchors) if nbgrader_of(a).get("grade_id")}
    by_cell_id = {a.get("id"): i for i, a in enumerate(anchors) if a.get("id")}
    owner: list[int | None] = [None] * len(cells)
    candidates: dict[int, list[int]] = {i: [] for i in range(len(anchors))}
    for j, cell in enumerate(cells):
        grade_id = nbgrader_of(cell).get("grade_id")
        if isinstance(grade_id, str) and grade_id in by_grade_id:
            owner[j] = by_grade_id[grade_id]
            candidates[owner[j]].append(j)
    by_id_match = set()
    for j, cell in enumerate(cells):
        cell_id = cell.get("id")
        if owner[j] is None and isinstance(cell_id, str) and cell_id in by_cell_id:
            i = by_cell_id[cell_id]
            if not candidates[i] or i in by_id_match:
                owner[j] = i
                candidates[i].append(j)
                by_id_match.add(i)
    return _Match(candidates, by_id_match)


def _choose(i: int, anchor, cells: list, match: _Match, stub, notes: list[str]) -> None:
    """The student cell that stands for anchor ``i`` (none: the source's comes back), and notes on
    what the student changed of it."""
    found = match.candidates[i]
    label = cell_label(anchor)
    if nbgrader_of(anchor).get("solution"):
        match.stubs[i] = stub(anchor)
        if not found:
            notes.append(f"solution cell {label!r} was missing: graded as unanswered")
            return
        _choose_answer(i, label, cells, match, notes)
    else:
        if not found:
            notes.append(f"cell {label!r} was missing: restored from the source")
            return
        match.chosen[i] = found[0]
        match.dropped |= set(found[1:])
        if len(found) > 1:
            notes.append(f"cell {label!r} appears {len(found)} times: the copies were dropped")
    _note_changes(i, anchor, cells[match.chosen[i]], match, notes)


def _choose_answer(i: int, label: str, cells: list, match: _Match, notes: list[str]) -> None:
    """Of the copies of solution cell ``i``, the first that differs from the stub is graded; the
    other answered copies stay as ordinary cells, the unanswered ones are dropped."""
    found = match.candidates[i]
    answered = [j for j in found if as_text(cells[j].get("source")).strip() != match.stubs[i].strip()]
    chosen = match.chosen[i] = answered[0] if answered else found[0]
    if len(found) > 1:
        kept = [j for j in answered if j != chosen]
        match.dropped |= {j for j in found if j != chosen and j not in kept}
        match.kept_copies.update(kept)
        notes.append(
            f"solution cell {label!r} appears {len(found)} times (cells "
            f"{', '.join(str(j + 1) for j in found)} of the submission): graded cell {chosen + 1}, "
            "the first that differs from the stub" + (
                f"; the other answered copies (cell {', '.join(str(j + 1) for j in kept)}) run as "
                "ordinary cells where they are" if kept else "; the unanswered copies were dropped"))


def _note_changes(i: int, anchor, cell, match: _Match, notes: list[str]) -> None:
    """Notes on what the student changed of anchor ``i`` in ``cell`` (the source's comes back)."""
    label = cell_label(anchor)
    if i in match.by_id and nbgrader_of(anchor).get("grade_id"):
        notes.append(f"cell {label!r}: its grade id was changed to {nbgrader_of(cell).get('grade_id')!r}: restored")
    else:
        theirs = {k: v for k, v in nbgrader_of(cell).items() if k not in ("checksum", "cell_type")}
        ours = {k: v for k, v in nbgrader_of(anchor).items() if k not in ("checksum", "cell_type")}
        if theirs != ours:
            changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            notes.append(f"cell {label!r}: nbgrader metadata changed ({', '.join(changed)}): restored")
    if tags_of(cell) != tags_of(anchor):
        notes.append(f"cell {label!r}: tags changed to {tags_of(cell)}: restored")
    if cell.get("cell_type") != anchor.cell_type:
        notes.append(f"cell {label!r}: cell type changed to {cell.get('cell_type')!r}: restored")


def _place_ordinary(cells: list, match: _Match, anchor_count: int, notes: list[str]) -> tuple[list, dict]:
    """Ordinary cells follow the anchor they followed in the submission: (the cells before the
    first anchor, {anchor: the cells after it})."""
    chosen_at = {j: i for i, j in match.chosen.items()}
    head: list = []
    after: dict[int, list] = {i: [] for i in range(anchor_count)}
    current = None
    stripped = 0
    for j, cell in enumerate(cells):
        if j in chosen_at:
            current = chosen_at[j]
            continue
        if j in match.dropped:
            continue
        if (nbgrader_of(cell) or tags_of(cell)) and j not in match.kept_copies:
            stripped += 1
        (head if current is None else after[current]).append(_ordinary(cell))
    if stripped:
        notes.append(f"{stripped} cell(s) of the student's lost nbgrader metadata or tags (not cells of the lesson)")
    return head, after


def _ordinary(cell):
    """A student cell as an ordinary cell: same type, text and metadata, minus nbgrader's and tags."""
    meta = {k: v for k, v in metadata_of(cell).items() if k not in ("nbgrader", "tags")}
    text = as_text(cell.get("source"))
    kind = cell.get("cell_type")
    if kind == "markdown":
        new = nbformat.v4.new_markdown_cell(text, metadata=meta)
        if isinstance(cell.get("attachments"), dict):
            new.attachments = cell["attachments"]
    elif kind == "code":
        new = nbformat.v4.new_code_cell(text, metadata=meta)
    else:
        new = nbformat.v4.new_raw_cell(text, metadata=meta)
    if isinstance(cell.get("id"), str):
        new.id = cell["id"]
    return new


def _assemble(anchors: list, cells: list, match: _Match, head: list, after: dict) -> list:
    """The restored notebook's cells: the anchors in the source's order (a solution cell with the
    chosen student code, or its stub), each followed by the ordinary cells that followed it."""
    result = list(head)
    for i, anchor in enumerate(anchors):
        cell = copy.deepcopy(anchor)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if i in match.stubs:
            cell.source = as_text(cells[match.chosen[i]].get("source")) if i in match.chosen else match.stubs[i]
        result.append(cell)
        result.extend(after[i])
    # Anchors keep the source's ids; an ordinary cell never takes one of them (or a duplicate).
    used = {a.get("id") for a in anchors}
    for cell in result:
        if nbgrader_of(cell) or tags_of(cell):
            continue
        if not isinstance(cell.get("id"), str) or cell.id in used or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cell.id):
            cell.id = uuid.uuid4().hex[:8]
        used.add(cell.id)
    return result


# --- the plug-in ----------------------------------------------------------------------------------

class RestoreFromSource(NbGraderPreprocessor):
    """Rebuild the submission from the lesson's source notebook before nbgrader looks at it
    (see ``restore_from_source``): nothing nbgrader owns (grade ids, points, flags, tags,
    test cells) can be changed, duplicated or deleted by the student, and a malformed
    notebook becomes an ungradable submission, not a crash. Also runs the integrity scan on
    the submission as handed in (``grader.trusted.integrity``)."""

    def preprocess(self, nb, resources):
        paths = Paths(self)
        info = resources["nbgrader"]
        source = nbformat.read(paths.source(info["assignment"], info["notebook"]), as_version=4)
        stub = partial(solution_stub, clearer=ClearSolutions(parent=self))
        refused = _intake_problem(paths.root, info)
        if refused:
            restored, notes, _ = restore_from_source({"cells": []}, source, stub)
            self.log.error("%s / %s: not graded: %s", info["student"], info["notebook"], refused)
            add_review(restored, INTAKE, refused)
            course_info(restored)["ungradable"] = True
            return restored, resources
        restored, notes, problem = self._restore(nb, source, info, stub)
        for note in notes:
            self.log.warning("%s / %s: %s", info["student"], info["notebook"], note)
            add_note(restored, note)
        if problem:
            self.log.error("%s / %s: ungradable: %s", info["student"], info["notebook"], problem)
            add_review(restored, MALFORMED, problem)
            course_info(restored)["ungradable"] = True
        else:
            _scan_integrity(nb, source, restored)
        _note_intake_refusals(restored, paths.root, info)
        return restored, resources

    def _restore(self, nb, source, info: dict, stub):
        """``restore_from_source`` of the submission: (restored, notes, problem). A notebook
        nbformat could not read (TolerantNotebookExporter) or one the restoring fails on is
        ungradable: the source with every answer left unanswered."""
        meta = metadata_of(nb).get(META)
        unreadable = meta.get("unreadable") if isinstance(meta, dict) else None
        if unreadable:
            restored, notes, _ = restore_from_source({"cells": []}, source, stub)
            return restored, notes, f"nbformat cannot read it ({unreadable})"
        try:
            return restore_from_source(nb, source, stub)
        except Exception as exc:  # noqa: BLE001 (a submission must never crash the grading)
            self.log.error("cannot restore %s from the source: %s", info["notebook"], exc)
            restored, notes, _ = restore_from_source({"cells": []}, source, stub)
            return restored, notes, f"could not be restored from the source ({type(exc).__name__}: {exc})"


def _intake_problem(course_root: Path, info: dict) -> str | None:
    """Why the intake gate (``grader.sandbox.intake``) kept this notebook out, or None when it let it in.
    No report means the gate did not run or failed: nothing of the folder is trusted (fail closed)."""
    report = intake.read_report(course_root, info["student"], info["assignment"])
    if report is None:
        return "the submission did not go through the intake gate"
    if report.problem:
        return report.problem
    notebook = f"{info['notebook']}.ipynb"
    for name, why in report.refused:
        if name == intake.shown_name(notebook):
            return f"the notebook was not taken in: {why}"
    return None


def _note_intake_refusals(restored, course_root: Path, info: dict) -> None:
    """Other files of the submission the intake gate did not take in: NEEDS REVIEW (intake)."""
    report = intake.read_report(course_root, info["student"], info["assignment"])
    if report is not None and (report.refused or report.more_refused):
        listed = "; ".join(f"{name} ({why})" for name, why in report.refused[:10])
        more = len(report.refused) - 10 + report.more_refused
        add_review(restored, INTAKE, "not taken in for grading: " + listed
                   + (f"; and {more} more" if more > 0 else ""))


def _scan_integrity(nb, source, restored) -> None:
    """The integrity scan (``grader.trusted.integrity``) of the submission as handed in; its findings go
    into the restored notebook's bookkeeping (MarkForReview acts on them)."""
    try:
        findings = [str(f) for f in scan(_scannable(nb), source)]
    except Exception as exc:  # noqa: BLE001 (a human looks; nothing is held)
        add_review(restored, INTEGRITY, f"the scan failed: {type(exc).__name__}: {exc}")
        findings = []
    if findings:
        course_info(restored)["integrity"] = findings


def _scannable(nb):
    """The submission's cells as well-formed cells (same order, text and metadata) for the scan."""
    out = nbformat.v4.new_notebook()
    for cell in nb.get("cells") or []:
        if isinstance(cell, dict):
            kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown") else "raw"
            out.cells.append(nbformat.NotebookNode(cell_type=kind, source=as_text(cell.get("source")),
                                                   metadata=nbformat.from_dict(metadata_of(cell))))
        else:
            out.cells.append(nbformat.NotebookNode(cell_type="raw", source="", metadata={}))
    return out
