"""nbgrader plug-ins of this course (configured in ``grader/nbgrader_config.py``), and the
bookkeeping they share with ``grader.commands``.

``nbgrader autograde`` (plain, or through ``make autograde``) runs, per submission:

    sanitize:   RestoreFromSource   rebuild the submission from the lesson's source notebook
                ... nbgrader's own ...
                SkipDemoCells       blank the demo cells the source tags ``skip-autograde``
                RememberReviews     note what the instructor already reviewed (for MarkForReview)
    autograde:  GradingExecute      run it; a dead or uninterruptible kernel stops the run, loudly;
                                    then score the post quiz outside the kernel (grader/post_quiz.py)
                StderrIsNotFailure  warnings cost no points
                ... nbgrader's own (SaveAutoGrades) ...
                MarkForReview       NEEDS REVIEW in the gradebook, integrity hold, state file

and ``nbgrader generate_feedback`` runs HideHiddenTests, so feedback never shows hidden tests.

A submission that cannot be graded honestly (unreadable notebook, dead kernel, a loop that
ignores the interrupt, a sandbox verdict, code the integrity scan reports) is not a silent
zero: every grade of it is marked as needing manual grading, the first solution cell's
comment says ``NEEDS REVIEW (<reason>): <details>`` (formgrader and the feedback show it),
and ``make autograde`` / ``make export`` print the status.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import os
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty
from time import monotonic

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import ClearSolutions, NbGraderPreprocessor
from traitlets import Integer, Unicode

from . import intake, sandbox
from .build import POST_QUIZ_ID, SKIP_AUTOGRADE_TAG
from .sandbox import SandboxedExecute

SKIPPED_SOURCE = "# (demo cell: skipped while autograding)"
HIDDEN_TESTS_SHOWN_AS = "# (hidden tests: not shown)"
# Notebook metadata key where the plug-ins leave what they found for the next ones.
META = "gpt2_course"
# In the course root: (student, lesson) -> sha256 of the notebook when it was graded.
STATE_FILE = "grading-state.json"
REVIEW_PREFIX = "NEEDS REVIEW"
_REVIEW_RE = re.compile(r"^NEEDS REVIEW \(([^)]*)\)")

# Reasons a submission needs a human (the words shown as NEEDS REVIEW (<reason>)).
MALFORMED = "malformed notebook"
KERNEL_DIED = "kernel died"
UNINTERRUPTIBLE = "kernel could not be interrupted"
NOT_RUN = "could not run the notebook"
INTEGRITY = "integrity scan"
NBGRADER_FAILED = "nbgrader failed"
POST_QUIZ_KEY = "post quiz key"
INTAKE = "intake"
OUTPUT_LIMIT = "output limit"
VERDICT_MISSING = "sandbox verdict missing"
PROBE_SEED_ENV = "GPT2_COURSE_PROBE_SEED"


# --- small helpers --------------------------------------------------------------------------

def _text(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def _meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    return meta if isinstance(meta, dict) else {}


def _nbgrader(cell) -> dict:
    value = _meta(cell).get("nbgrader")
    return value if isinstance(value, dict) else {}


def _tags(cell) -> list:
    value = _meta(cell).get("tags")
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def _is_grade(cell) -> bool:
    return bool(_nbgrader(cell).get("grade"))


def _content_bytes(content: dict) -> int:
    """Roughly the bytes an output message adds to the notebook (its text or its data)."""
    if "text" in content:
        return len(str(content.get("text", "")))
    data = content.get("data")
    if not isinstance(data, dict):
        return 0
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in data.values())


def _has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def _error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _info(nb) -> dict:
    """The course's bookkeeping in the notebook's metadata (created if missing)."""
    info = nb.metadata.get(META)
    if not isinstance(info, dict):
        info = nb.metadata[META] = nbformat.NotebookNode()
    return info


# What a review detail or a note may contain: letters and digits of any script and a few marks.
# No '<', '>', '&', quotes, brackets, backticks, '*', '#', '!', '|' or control characters: the text
# is shown as Markdown/HTML (the review note, Formgrader, feedback) and printed to a terminal.
_PLAIN_MARKS = frozenset(" .,:;()/'+-=%?~@_")


def plain(text: str, limit: int = 500) -> str:
    """``text`` reduced to characters that are inert in Markdown, HTML and a terminal, cut at
    ``limit``. Every detail and note the course shows goes through it: most are the course's own
    words, but some quote names (of files, cells, tags) that a student chose."""
    kept = "".join(ch if (ch.isalnum() or ch in _PLAIN_MARKS) else " " for ch in str(text))
    kept = " ".join(kept.split())
    return kept[:limit] + (" ..." if len(kept) > limit else "")


def add_review(nb, reason: str, detail: str) -> None:
    """Record in the notebook that it needs a human, and why (``reason``: one of the course's
    reasons above; ``detail`` is shown through ``plain``)."""
    reviews = _info(nb).setdefault("review", [])
    if not any(r[0] == reason for r in reviews):
        reviews.append([plain(reason, 60), plain(detail)])


def add_note(nb, note: str) -> None:
    _info(nb).setdefault("notes", []).append(plain(note))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- the state file ------------------------------------------------------------------------

def read_state(course_root: Path) -> dict:
    """{student: {lesson: {"sha256": ..., "graded_at": ..., "review": [...], "notes": [...]}}}."""
    path = Path(course_root) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("submissions", {}) if isinstance(data, dict) else {}


def state_entry(course_root: Path, student: str, lesson: str) -> dict:
    entry = read_state(course_root).get(student, {}).get(lesson)
    return entry if isinstance(entry, dict) else {}


def record_state(course_root: Path, student: str, lesson: str, sha256: str | None,
                 review: list[str], notes: list[str]) -> None:
    """Remember that this version of the submission was graded (atomically replaces the file)."""
    root = Path(course_root)
    state = read_state(root)
    state.setdefault(student, {})[lesson] = {
        "sha256": sha256,
        "graded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "review": list(review),
        "notes": list(notes),
    }
    tmp = root / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"version": 1, "submissions": state}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, root / STATE_FILE)


def read_verdict(autograded_dir: Path, not_before: float | None = None) -> dict | None:
    """The sandbox's verdict on the kernel that ran in ``autograded_dir``, or None. Only the file
    ``grader.sandbox`` writes *beside* the folder counts: nothing inside the submission's own
    folder is ever read as a verdict (a student could hand one in).
    ``not_before``: ignore a verdict file older than this (time.time()): it is an earlier run's."""
    path = sandbox.verdict_path(Path(autograded_dir))
    try:
        if not_before is not None and path.stat().st_mtime < not_before - 1:
            return None
        verdict = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return verdict if isinstance(verdict, dict) else None


# --- the gradebook side of NEEDS REVIEW ------------------------------------------------------

def review_reasons(comment_text: str | None) -> list[str]:
    match = _REVIEW_RE.match(comment_text or "")
    return [r.strip() for r in match.group(1).split(";") if r.strip()] if match else []


def submission_review(submitted_notebook) -> tuple[list[str], bool]:
    """(reasons, pending) of a gradebook SubmittedNotebook: why it needs a human, and whether
    some grade still waits for one (formgrader clears ``needs_manual_grade`` once a score is set)."""
    reasons: list[str] = []
    for comment in submitted_notebook.comments:
        for reason in review_reasons(comment.auto_comment):
            if reason not in reasons:
                reasons.append(reason)
    pending = any(grade.needs_manual_grade for grade in submitted_notebook.grades)
    return reasons, pending


def _split_review(text: str | None) -> tuple[list[str], str, str]:
    """(reasons, details, the rest) of an auto comment that may start with NEEDS REVIEW."""
    text = text or ""
    match = _REVIEW_RE.match(text)
    if not match:
        return [], "", text
    first, _, rest = text.partition("\n\n")
    details = first[match.end():]
    return review_reasons(first), details[2:] if details.startswith(": ") else "", rest


def mark_for_review(submitted_notebook, reviews: list[list[str]], first_solution: str | None,
                    hold: bool = False) -> None:
    """Mark every grade of a gradebook SubmittedNotebook as needing manual grading, and say why
    in the auto comment of its first solution cell (reasons already there are kept).
    ``hold``: also set every score to a manual 0."""
    for grade in submitted_notebook.grades:
        grade.needs_manual_grade = True
        if hold:
            grade.manual_score = 0.0
    comments = list(submitted_notebook.comments)
    if not comments:
        return
    target = next((c for c in comments if c.name == first_solution), comments[0])
    reasons, details, rest = _split_review(target.auto_comment)
    new_details = [details] if details else []
    for reason, detail in reviews:
        if reason not in reasons:
            reasons.append(reason)
            new_details.append(detail)
    text = f"{REVIEW_PREFIX} ({'; '.join(reasons)})" + (": " + " / ".join(new_details) if new_details else "")
    target.auto_comment = text + ("\n\n" + rest if rest else "")


def forget_old_review(submitted_notebook) -> None:
    """The submission changed: manual scores given to the previous version no longer apply."""
    for grade in submitted_notebook.grades:
        grade.manual_score = None
        grade.needs_manual_grade = grade.auto_score is None


# --- where things are ------------------------------------------------------------------------

class _Paths:
    """Course folders, from nbgrader's CourseDirectory when the plug-in runs inside nbgrader."""

    def __init__(self, preprocessor):
        node, coursedir = preprocessor, None
        while node is not None and coursedir is None:
            coursedir = getattr(node, "coursedir", None)
            node = getattr(node, "parent", None)
        self.coursedir = coursedir
        self.root = Path(coursedir.root if coursedir is not None else os.getcwd())

    def _folder(self, step: str, student: str, assignment: str) -> Path:
        if self.coursedir is not None:
            name = getattr(self.coursedir, f"{step}_directory")
            return Path(self.coursedir.format_path(name, student, assignment))
        return self.root / step / student / assignment

    def source(self, assignment: str, notebook: str) -> Path:
        return self._folder("source", ".", assignment) / f"{notebook}.ipynb"

    def submitted(self, student: str, assignment: str, notebook: str) -> Path:
        return self._folder("submitted", student, assignment) / f"{notebook}.ipynb"

    def autograded(self, student: str, assignment: str) -> Path:
        return self._folder("autograded", student, assignment)


# --- reading a submission nbformat cannot read ------------------------------------------------

class TolerantNotebookExporter(NotebookExporter):
    """nbgrader's notebook exporter, except that a file nbformat cannot read becomes an empty
    notebook marked unreadable (RestoreFromSource then makes it an ungradable submission)
    instead of a traceback that drops the submission."""

    def from_file(self, file_stream, resources=None, **kw):
        try:
            nb = nbformat.reads(file_stream.read(), as_version=4)
            if not isinstance(nb.get("cells"), list) or not isinstance(nb.get("metadata"), dict):
                raise ValueError("no list of cells")
        except Exception as exc:  # noqa: BLE001 (anything unreadable is the same problem)
            nb = nbformat.v4.new_notebook()
            # The type only: the message may quote the student's file.
            nb.metadata[META] = {"unreadable": type(exc).__name__}
        return self.from_notebook_node(nb, resources=resources, **kw)


# --- restoring the submission from the source ---------------------------------------------------

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


def _label(cell) -> str:
    return _nbgrader(cell).get("grade_id") or cell.get("id") or "?"


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
    anchors = [cell for cell in source.cells if _nbgrader(cell) or _tags(cell)]
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
    if problem:
        # Nothing the student wrote runs: the source, every answer left unanswered.
        out = nbformat.v4.new_notebook()
        out.metadata = copy.deepcopy(source.metadata)
        out.nbformat, out.nbformat_minor = source.nbformat, source.nbformat_minor
        for cell in source.cells:
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            if _nbgrader(cell).get("solution"):
                cell.source = stub(cell)
            out.cells.append(cell)
        return out, notes, problem

    by_grade_id = {_nbgrader(a).get("grade_id"): i for i, a in enumerate(anchors) if _nbgrader(a).get("grade_id")}
    by_cell_id = {a.get("id"): i for i, a in enumerate(anchors) if a.get("id")}
    owner: list[int | None] = [None] * len(cells)
    candidates: dict[int, list[int]] = {i: [] for i in range(len(anchors))}
    for j, cell in enumerate(cells):
        grade_id = _nbgrader(cell).get("grade_id")
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

    chosen: dict[int, int] = {}  # anchor -> student cell
    dropped: set[int] = set()
    kept_copies: set[int] = set()
    stubs: dict[int, str] = {}
    for i, anchor in enumerate(anchors):
        found = candidates[i]
        label = _label(anchor)
        if _nbgrader(anchor).get("solution"):
            stubs[i] = stub(anchor)
            if not found:
                notes.append(f"solution cell {label!r} was missing: graded as unanswered")
                continue
            answered = [j for j in found if _text(cells[j].get("source")).strip() != stubs[i].strip()]
            chosen[i] = answered[0] if answered else found[0]
            if len(found) > 1:
                kept = [j for j in answered if j != chosen[i]]
                dropped |= {j for j in found if j != chosen[i] and j not in kept}
                kept_copies.update(kept)
                notes.append(
                    f"solution cell {label!r} appears {len(found)} times (cells "
                    f"{', '.join(str(j + 1) for j in found)} of the submission): graded cell {chosen[i] + 1}, "
                    "the first that differs from the stub" + (
                        f"; the other answered copies (cell {', '.join(str(j + 1) for j in kept)}) run as "
                        "ordinary cells where they are" if kept else "; the unanswered copies were dropped"))
        else:
            if not found:
                notes.append(f"cell {label!r} was missing: restored from the source")
                continue
            chosen[i] = found[0]
            dropped |= set(found[1:])
            if len(found) > 1:
                notes.append(f"cell {label!r} appears {len(found)} times: the copies were dropped")
        j = chosen[i]
        if i in by_id_match and _nbgrader(anchor).get("grade_id"):
            notes.append(f"cell {label!r}: its grade id was changed to {_nbgrader(cells[j]).get('grade_id')!r}: restored")
        else:
            theirs = {k: v for k, v in _nbgrader(cells[j]).items() if k not in ("checksum", "cell_type")}
            ours = {k: v for k, v in _nbgrader(anchor).items() if k not in ("checksum", "cell_type")}
            if theirs != ours:
                changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
                notes.append(f"cell {label!r}: nbgrader metadata changed ({', '.join(changed)}): restored")
        if _tags(cells[j]) != _tags(anchor):
            notes.append(f"cell {label!r}: tags changed to {_tags(cells[j])}: restored")
        if cells[j].get("cell_type") != anchor.cell_type:
            notes.append(f"cell {label!r}: cell type changed to {cells[j].get('cell_type')!r}: restored")

    # Ordinary cells follow the anchor they followed in the submission.
    chosen_at = {j: i for i, j in chosen.items()}
    head: list = []
    after: dict[int, list] = {i: [] for i in range(len(anchors))}
    current = None
    stripped = 0
    for j, cell in enumerate(cells):
        if j in chosen_at:
            current = chosen_at[j]
            continue
        if j in dropped:
            continue
        if (_nbgrader(cell) or _tags(cell)) and j not in kept_copies:
            stripped += 1
        (head if current is None else after[current]).append(_ordinary(cell))
    if stripped:
        notes.append(f"{stripped} cell(s) of the student's lost nbgrader metadata or tags (not cells of the lesson)")

    out = nbformat.v4.new_notebook()
    out.metadata = copy.deepcopy(source.metadata)
    out.nbformat, out.nbformat_minor = source.nbformat, source.nbformat_minor
    result = list(head)
    for i, anchor in enumerate(anchors):
        cell = copy.deepcopy(anchor)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if i in stubs:
            cell.source = _text(cells[chosen[i]].get("source")) if i in chosen else stubs[i]
        result.append(cell)
        result.extend(after[i])
    # Anchors keep the source's ids; an ordinary cell never takes one of them (or a duplicate).
    used = {a.get("id") for a in anchors}
    for cell in result:
        if _nbgrader(cell) or _tags(cell):
            continue
        if not isinstance(cell.get("id"), str) or cell.id in used or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cell.id):
            cell.id = uuid.uuid4().hex[:8]
        used.add(cell.id)
    out.cells = result
    return out, notes, problem


def _ordinary(cell):
    """A student cell as an ordinary cell: same type, text and metadata, minus nbgrader's and tags."""
    meta = {k: v for k, v in _meta(cell).items() if k not in ("nbgrader", "tags")}
    text = _text(cell.get("source"))
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


class RestoreFromSource(NbGraderPreprocessor):
    """Rebuild the submission from the lesson's source notebook before nbgrader looks at it
    (see ``restore_from_source``): nothing nbgrader owns (grade ids, points, flags, tags,
    test cells) can be changed, duplicated or deleted by the student, and a malformed
    notebook becomes an ungradable submission, not a crash. Also runs the integrity scan on
    the submission as handed in (``grader.integrity``)."""

    def preprocess(self, nb, resources):
        paths = _Paths(self)
        info = resources["nbgrader"]
        source = nbformat.read(paths.source(info["assignment"], info["notebook"]), as_version=4)
        clearer = ClearSolutions(parent=self)
        unreadable = _meta(nb).get(META, {}).get("unreadable") if isinstance(_meta(nb).get(META), dict) else None
        refused = _intake_problem(paths.root, info)
        if refused:
            restored, notes, _ = restore_from_source({"cells": []}, source, lambda c: solution_stub(c, clearer=clearer))
            self.log.error("%s / %s: not graded: %s", info["student"], info["notebook"], refused)
            add_review(restored, INTAKE, refused)
            _info(restored)["ungradable"] = True
            return restored, resources
        if unreadable:
            restored, notes, problem = restore_from_source({"cells": []}, source, lambda c: solution_stub(c, clearer=clearer))
            problem = f"nbformat cannot read it ({unreadable})"
        else:
            try:
                restored, notes, problem = restore_from_source(nb, source, lambda c: solution_stub(c, clearer=clearer))
            except Exception as exc:  # noqa: BLE001 (a submission must never crash the grading)
                self.log.error("cannot restore %s from the source: %s", info["notebook"], exc)
                restored, notes, _ = restore_from_source({"cells": []}, source, lambda c: solution_stub(c, clearer=clearer))
                problem = f"could not be restored from the source ({type(exc).__name__}: {exc})"
        for note in notes:
            self.log.warning("%s / %s: %s", info["student"], info["notebook"], note)
            add_note(restored, note)
        if problem:
            self.log.error("%s / %s: ungradable: %s", info["student"], info["notebook"], problem)
            add_review(restored, MALFORMED, problem)
            _info(restored)["ungradable"] = True
        else:
            try:
                from .integrity import scan

                findings = [str(f) for f in scan(_scannable(nb), source)]
            except Exception as exc:  # noqa: BLE001 (a human looks; nothing is held)
                add_review(restored, INTEGRITY, f"the scan failed: {type(exc).__name__}: {exc}")
                findings = []
            if findings:
                _info(restored)["integrity"] = findings
        report = intake.read_report(paths.root, info["student"], info["assignment"])
        if report is not None and (report.refused or report.more_refused):
            listed = "; ".join(f"{name} ({why})" for name, why in report.refused[:10])
            more = len(report.refused) - 10 + report.more_refused
            add_review(restored, INTAKE, "not taken in for grading: " + listed
                       + (f"; and {more} more" if more > 0 else ""))
        return restored, resources


def _intake_problem(course_root: Path, info: dict) -> str | None:
    """Why the intake gate (``grader.intake``) kept this notebook out, or None when it let it in.
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


def _scannable(nb):
    """The submission's cells as well-formed cells (same order, text and metadata) for the scan."""
    out = nbformat.v4.new_notebook()
    for cell in nb.get("cells") or []:
        if isinstance(cell, dict):
            kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown") else "raw"
            out.cells.append(nbformat.NotebookNode(cell_type=kind, source=_text(cell.get("source")),
                                                   metadata=nbformat.from_dict(_meta(cell))))
        else:
            out.cells.append(nbformat.NotebookNode(cell_type="raw", source="", metadata={}))
    return out


class RememberReviews(NbGraderPreprocessor):
    """Before nbgrader's SaveAutoGrades touches the gradebook, remember the submission's version
    (sha256 of the submitted file), the version graded last time (``grading-state.json``) and
    which grades the instructor already reviewed; MarkForReview acts on it."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        paths = _Paths(self)
        info = resources["nbgrader"]
        meta = _info(nb)
        try:
            meta["sha256"] = file_sha256(paths.submitted(info["student"], info["assignment"], info["notebook"]))
        except OSError:
            meta["sha256"] = None
        previous = state_entry(paths.root, info["student"], info["assignment"]).get("sha256")
        meta["previous_sha256"] = previous
        meta["reviewed"], meta["previous_review"] = [], []
        if previous is not None and previous == meta["sha256"]:
            with Gradebook(info["db_url"]) as gradebook:
                try:
                    record = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
                except MissingEntry:
                    return nb, resources
                meta["reviewed"] = sorted(g.name for g in record.grades if not g.needs_manual_grade)
                meta["previous_review"] = submission_review(record)[0]
        return nb, resources


# --- running it -------------------------------------------------------------------------------

_reference_cache: dict = {}  # (lesson, seed) -> the reference's probe values, once per process


def probe_seed() -> int:
    """The seed of the outside checks: one per ``make autograde`` run (the parent draws it and
    hands it to its workers), drawn here when nbgrader runs alone."""
    import secrets

    given = os.environ.get(PROBE_SEED_ENV, "")
    if given.isdigit():
        return int(given)
    seed = secrets.randbelow(2**31)
    os.environ[PROBE_SEED_ENV] = str(seed)
    return seed


def _lesson_probes(course_root: Path, slug: str):
    from . import trusted

    return trusted.load_probes(Path(course_root) / "lessons" / slug)


def execution_key(nb) -> str:
    """sha256 of what a run of ``nb`` depends on: each cell's type, source, nbgrader metadata and
    tags (not cell ids or outputs), and the kernel."""
    cells = [[cell.cell_type, _text(cell.get("source")), _nbgrader(cell), sorted(_tags(cell))] for cell in nb.cells]
    kernel = (_meta(nb).get("kernelspec") or {}).get("name")
    return hashlib.sha256(json.dumps([kernel, cells], sort_keys=True, default=str).encode()).hexdigest()


def _execution_path(folder: str | Path, info: dict) -> Path:
    return Path(folder) / info["student"] / info["assignment"] / f"{info['notebook']}.json"


def save_execution(folder: str | Path, info: dict, key: str, nb, verdict: dict | None,
                   timing: dict | None = None) -> None:
    """A worker's run of one notebook, for the parent's ``nbgrader autograde`` (``reuse_dir``)."""
    path = _execution_path(folder, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox.write_json(path, {"key": key, "notebook": nbformat.writes(nb), "verdict": verdict, "timing": timing})


def load_execution(folder: str | Path, info: dict, key: str):
    """(executed notebook, verdict) saved by a worker for exactly these cells, else None."""
    try:
        saved = json.loads(_execution_path(folder, info).read_text())
        if saved.get("key") != key:
            return None
        return nbformat.reads(saved["notebook"], as_version=4), saved.get("verdict")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None



def _workers_running(marker: str) -> bool:
    """True while ``marker`` (``grader.parallel``: the PID of the process that watches the
    workers) exists and that process is alive: if it was killed, nobody would remove the file."""
    try:
        os.kill(int(Path(marker).read_text().strip()), 0)
    except PermissionError:  # alive, someone else's
        return True
    except (OSError, ValueError):  # gone, no file, or not a PID
        return False
    return True


class GradingExecute(SandboxedExecute):
    """nbgrader's Execute in the course's sandbox (``SandboxedExecute``, ``grader/sandbox.py``),
    except that a run that goes wrong says so instead of ending as silent zeros:

    - a test cell that did not run (the kernel died, or could not be interrupted after a
      timeout, or never started) gets an error output, so it scores 0 and never the full
      points nbgrader gives a test cell without output;
    - a kernel that dies stops the run: ``NEEDS REVIEW (kernel died)``;
    - a cell that runs past the timeout is interrupted (its test scores 0) and grading goes
      on; if the kernel ignores the interrupt (a loop that catches KeyboardInterrupt) and does
      not answer within ``probe_timeout`` seconds, the run stops:
      ``NEEDS REVIEW (kernel could not be interrupted)``;
    - an ungradable submission (RestoreFromSource) is not run at all;
    - the graded post quiz cell (``post_quiz``, added by ``grader.build``) is scored here, after
      the kernel, from the submitted ``quiz-answers.json`` and the instructor's key
      (``grader/post_quiz.py``): its outputs are replaced, whatever the kernel printed there.
    """

    probe_timeout = Integer(
        10, help="Seconds a kernel that timed out gets, after the interrupt, to answer a probe."
    ).tag(config=True)
    save_dir = Unicode(
        "", help="Worker mode (grader.parallel): also save each executed notebook and its sandbox "
                 "verdict under this folder, keyed by what was run."
    ).tag(config=True)
    reuse_dir = Unicode(
        "", help="Take the run of a notebook from this folder (filled by grader.parallel's workers) "
                 "when it ran exactly these cells; run it here otherwise."
    ).tag(config=True)
    reuse_wait = Unicode(
        "", help="With reuse_dir: while this file exists and the process whose PID it holds is alive "
                 "(grader.parallel: the workers are still running), wait for a worker's run of the "
                 "notebook instead of running it here."
    ).tag(config=True)

    max_cell_output_bytes = Integer(
        512 * 1024, help="Bytes of output one cell may keep (text, images); the rest is dropped as it "
                         "arrives, with a note. Error outputs are always kept (cut short)."
    ).tag(config=True)
    max_output_bytes = Integer(
        4 * 2**20, help="Bytes of output the whole notebook may keep (PrairieLearn caps a grading result at 1 MB)."
    ).tag(config=True)

    def preprocess(self, nb, resources, km=None):
        info = resources.get("nbgrader", {})
        key = execution_key(nb)
        if self.reuse_dir:
            if (done := self._worker_run(info, key)) is not None:
                self.log.info("%s / %s: run by a worker; its outputs are used", info["student"], info["notebook"])
                nb, resources = self._reuse(nb, resources, *done)
                self._score_post_quiz(nb, resources)
                return nb, resources
            self.log.warning("%s / %s: no worker ran these cells; running them here", info["student"], info["notebook"])
        self._timing = {"started": monotonic(), "first_cell": None, "cells_s": []}
        nb, resources = self._run(nb, resources, km)
        self._score_post_quiz(nb, resources)
        if self.save_dir:
            verdict = read_verdict(_Paths(self).autograded(info["student"], info["assignment"]),
                                   _info(nb).get("run_started"))
            save_execution(self.save_dir, info, key, nb, verdict, self._timings())
        return nb, resources

    def _worker_run(self, info: dict, key: str):
        """A worker's run of these very cells (``load_execution``), waiting for it while the
        workers are at work; None once they are done without it."""
        while self.reuse_wait and _workers_running(self.reuse_wait):
            if (done := load_execution(self.reuse_dir, info, key)) is not None:
                return done
            time.sleep(0.2)
        return load_execution(self.reuse_dir, info, key)  # one last look: it may have landed just now

    def _score_post_quiz(self, nb, resources) -> None:
        """The graded post quiz (``grader/post_quiz.py``): scored here, on the trusted side, from
        the answers file handed in with the submission and the instructor's key; whatever the
        kernel printed in that cell is replaced. Also for a run that stopped early: the score
        does not depend on the kernel."""
        from . import post_quiz

        info = resources.get("nbgrader", {})
        paths = _Paths(self)
        for cell in nb.cells:
            if cell.cell_type != "code" or not _is_grade(cell) or _nbgrader(cell).get("grade_id") != POST_QUIZ_ID:
                continue
            submitted = paths.submitted(info["student"], info["assignment"], info["notebook"]).parent
            try:
                problem = post_quiz.score_cell(cell, paths.root, info["assignment"], submitted)
            except Exception as exc:  # noqa: BLE001 (the scoring itself failed: 0 and a human decides)
                cell.outputs = [_error_output("PostQuizNotScored", f"the post quiz could not be scored ({exc})")]
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                self.log.error("%s / %s: post quiz: %s", info["student"], info["notebook"], problem)
                add_review(nb, POST_QUIZ_KEY, problem[:500])

    def _timings(self) -> dict:
        """Where the time of the last run went (seconds): sandbox and kernel start, each code cell,
        shutting the kernel down, the outside check (``grader.trusted``)."""
        timing, now = self._timing, monotonic()
        first = timing["first_cell"] if timing["first_cell"] is not None else now
        cells = timing["cells_s"]
        outside = timing.get("outside_s", 0.0)
        return {"start_s": round(first - timing["started"], 3), "cells_s": [round(t, 3) for t in cells],
                "end_s": round(now - first - sum(cells) - outside, 3), "outside_s": round(outside, 3),
                "total_s": round(now - timing["started"], 3)}

    def _reuse(self, nb, resources, executed, verdict):
        """Take outputs, execution counts and the run's own review reasons from a worker's run."""
        info = resources["nbgrader"]
        for cell, ran in zip(nb.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs = ran.get("outputs", [])
                cell.execution_count = ran.get("execution_count")
        meta, ran_meta = _info(nb), _info(executed)
        for reason, detail in ran_meta.get("review", []):
            add_review(nb, reason, detail)
        for key in ("outside_checked", "outside_check"):
            if key in ran_meta:
                meta[key] = ran_meta[key]
        meta["run_started"] = time.time()
        if verdict is not None:  # where MarkForReview looks for it
            target = sandbox.verdict_path(_Paths(self).autograded(info["student"], info["assignment"]))
            target.parent.mkdir(parents=True, exist_ok=True)
            sandbox.write_json(target, verdict)
        return nb, resources

    def _run(self, nb, resources, km=None):
        meta = _info(nb)
        self._stop: tuple[str, str] | None = None
        self._settled: set[int] = set()
        self._output_bytes, self._cell_output_bytes, self._dropped_bytes, self._dropped_cells = 0, 0, 0, []
        outside = None
        if meta.get("ungradable"):
            self._stop = (MALFORMED, "the submission could not be read")
        else:
            meta["run_started"] = time.time()
            try:
                outside = self._prepare_outside_check(nb, resources)
            except Exception as exc:  # noqa: BLE001 (e.g. a broken probes.py: a human decides)
                outside = exc
            try:
                nb, resources = super().preprocess(nb, resources, km=km)
            except DeadKernelError:
                self._halt(KERNEL_DIED, "the kernel died before the notebook could run")
            except Exception as exc:  # noqa: BLE001 (e.g. a kernel that cannot start)
                self.log.error("cannot run the notebook: %s", exc)
                self._halt(NOT_RUN, f"{type(exc).__name__}: {str(exc)[:300]}")
        for index, cell in enumerate(nb.cells):
            if index not in self._settled and _is_grade(cell):
                self._not_run(cell)
        if self._stop is not None and self._stop[0] != MALFORMED:
            add_review(nb, *self._stop)
        if self._dropped_cells:
            add_review(nb, OUTPUT_LIMIT, f"{self._dropped_bytes} bytes of output were not kept (cells "
                       f"{', '.join(str(i + 1) for i in self._dropped_cells[:20])}); limits: "
                       f"{self.max_cell_output_bytes} bytes a cell, {self.max_output_bytes} a notebook")
        if not meta.get("ungradable"):
            checked_from = monotonic()
            self._check_from_outside(nb, resources, outside)
            if getattr(self, "_timing", None) is not None:
                self._timing["outside_s"] = monotonic() - checked_from
        return nb, resources

    def _prepare_outside_check(self, nb, resources):
        """What the outside check (``grader/trusted.py``) of a lesson with probes will run: the
        solution cells as they are before the kernel runs, and this run's seed. None without probes."""
        lesson = _lesson_probes(_Paths(self).root, resources["nbgrader"]["assignment"])
        if lesson is None:
            return None
        cells = [(_label(c), _text(c.source)) for c in nb.cells if c.cell_type == "code" and _nbgrader(c).get("solution")]
        return lesson, probe_seed(), cells

    def _check_from_outside(self, nb, resources, started) -> None:
        """The kernel's results can be forged: for a lesson with probes (``grader/trusted.py``),
        a test that passed in the kernel keeps its points only if the outside check agrees.

        Fails closed: if the check cannot start, crashes, or hands back something unreadable,
        every test it covers scores 0 and the submission NEEDS REVIEW (outside check); the
        kernel's own results are never the fallback."""
        from . import trusted

        if started is None:
            return
        info = resources["nbgrader"]
        meta = _info(nb)
        covered = started[0].tests if not isinstance(started, Exception) else self._covered_tests(resources)
        passed = {_nbgrader(c).get("grade_id") for c in nb.cells if _is_grade(c) and _nbgrader(c).get("grade_id")
                  in covered and not _has_error(c)}
        if isinstance(started, Exception):
            self.log.error("%s / %s: outside check failed to start: %s", info["student"], info["notebook"], started)
            self._hold_unchecked(nb, passed, "the check outside the notebook could not start")
            return
        everything, seed, cells = started
        # Only the probes of tests that passed in the kernel: the others already score zero.
        lesson = everything.for_tests(passed)
        if not passed:  # every test it covers already scores zero: nothing to confirm
            meta["outside_checked"] = True
            meta["outside_check"] = {}
            return
        try:
            # After the kernel, not beside it: which probes run depends on the kernel's results,
            # and on a busy machine a second sandbox at the same time would eat into the per-cell
            # timeouts.
            run = trusted.run_in_sandbox(lesson, cells, seed)
            verdicts = trusted.judge(lesson, run, trusted.expected_values(everything, seed, _reference_cache))
            if not isinstance(verdicts, dict) or set(verdicts) != set(lesson.probes):
                raise TypeError("the outside check returned no verdict for every probe")
        except BaseException as exc:  # noqa: BLE001 (the check itself failed: zero, a human decides)
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.log.error("%s / %s: outside check failed: %s", info["student"], info["notebook"], exc)
            self._hold_unchecked(nb, passed, "the check outside the notebook could not run")
            return
        meta["outside_checked"] = True
        meta["outside_check"] = {name: problem for name, problem in verdicts.items()}
        if (reason := (run.sandbox or {}).get("reason")) in sandbox.LIMIT_REASONS:
            add_review(nb, reason, f"the check outside the notebook stopped at the sandbox's {reason}")
        contradicted = []
        for cell in nb.cells:
            grade_id = _nbgrader(cell).get("grade_id")
            if not (_is_grade(cell) and grade_id in lesson.tests):
                continue
            problems = [f"{name}: {verdicts[name]}" for name in lesson.tests[grade_id] if verdicts.get(name)]
            if problems and not _has_error(cell):
                cell.setdefault("outputs", []).append(_error_output(
                    "OutsideCheckFailed", "this test passed inside your notebook, but the same parts, run again "
                    "on new inputs outside it, do not behave as they should: " + "; ".join(problems)[:2000]))
                probe_names = [name for name in lesson.tests[grade_id] if verdicts.get(name)]
                contradicted.append(f"{grade_id} ({', '.join(probe_names)})")
        if contradicted:
            add_review(nb, trusted.OUTSIDE_CHECK, "tests that passed in the kernel but not outside it, scored 0: "
                       + "; ".join(contradicted))

    def _covered_tests(self, resources) -> set:
        """The graded tests a lesson's outside check covers, when the check itself could not be
        prepared: every graded test of the source (the safe side)."""
        try:
            source = nbformat.read(_Paths(self).source(resources["nbgrader"]["assignment"],
                                                       resources["nbgrader"]["notebook"]), as_version=4)
            return {_nbgrader(c).get("grade_id") for c in source.cells if _is_grade(c)} - {POST_QUIZ_ID}
        except Exception:  # noqa: BLE001
            return set()

    def _hold_unchecked(self, nb, passed: set, why: str) -> None:
        """The trusted side broke: every test it should have confirmed scores 0, pending review."""
        for cell in nb.cells:
            if _is_grade(cell) and _nbgrader(cell).get("grade_id") in passed and not _has_error(cell):
                cell.setdefault("outputs", []).append(_error_output(
                    "OutsideCheckUnavailable", "this test could not be confirmed outside your notebook; "
                    "it scores 0 until the instructor reviews it"))
        from .trusted import OUTSIDE_CHECK

        add_review(nb, OUTSIDE_CHECK, f"{why}; tests held at 0: " + (", ".join(sorted(passed)) or "none"))

    def _halt(self, reason: str, detail: str) -> None:
        if self._stop is None:
            self._stop = (reason, detail)

    def _not_run(self, cell) -> None:
        reason = self._stop[1] if self._stop else "not run"
        cell.outputs = [_error_output("NotRun", f"this test did not run: {reason}")]

    def preprocess_cell(self, cell, resources, index):
        if self._stop is not None:
            if _is_grade(cell):
                self._not_run(cell)
            self._settled.add(index)
            return cell, resources
        if cell.cell_type == "code" and _is_grade(cell) and not cell.source.strip():
            cell.outputs = [_error_output("EmptyTestCell", "this test cell has no code")]
            self._settled.add(index)
            return cell, resources
        if cell.cell_type == "code":
            timing = getattr(self, "_timing", None)
            if timing is not None and timing["first_cell"] is None:
                timing["first_cell"] = monotonic()
            ran_from = monotonic()
            try:
                return self._run_cell(cell, resources, index)
            finally:
                if timing is not None:
                    timing["cells_s"].append(monotonic() - ran_from)
        return self._run_cell(cell, resources, index)

    # --- outputs, bounded by bytes as they arrive --------------------------------------------

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's handler of one output message, with a byte budget per cell and notebook:
        what does not fit is dropped before it is stored (a stream is cut to fit), and the cell
        gets a note. An error output is always kept, cut short: it is what makes a test score 0."""
        content = msg.get("content") or {}
        if msg.get("msg_type") == "error":
            content["evalue"] = str(content.get("evalue", ""))[:2000]
            content["traceback"] = [str(line)[:2000] for line in (content.get("traceback") or [])[-30:]]
            return super().output(outs, msg, display_id, cell_index)
        size = _content_bytes(content)
        room = min(self.max_cell_output_bytes - self._cell_output_bytes, self.max_output_bytes - self._output_bytes)
        if size > room:
            kept = max(0, room) if msg.get("msg_type") == "stream" else 0
            self._drop(cell_index, size - kept)
            if not kept:
                return None
            content["text"] = str(content.get("text", ""))[:kept]
            size = kept
        self._cell_output_bytes += size
        self._output_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        if _content_bytes(msg.get("content") or {}) > self.max_cell_output_bytes:
            self._drop(None, _content_bytes(msg.get("content") or {}))
            return None
        return super()._update_display_id(display_id, msg)

    _output_bytes = _cell_output_bytes = _dropped_bytes = 0
    _dropped_cells: tuple = ()

    def _drop(self, cell_index, size: int) -> None:
        self._dropped_bytes += size
        if cell_index is not None and cell_index not in self._dropped_cells:
            self._dropped_cells = [*self._dropped_cells, cell_index]

    def _run_cell(self, cell, resources, index):
        self._cell_output_bytes = 0
        try:
            return self._run_cell_bounded(cell, resources, index)
        finally:
            if index in self._dropped_cells:
                cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                    "stream", name="stdout", text=f"\n[output truncated: this cell printed more than the "
                    f"{self.max_cell_output_bytes} bytes a cell (or {self.max_output_bytes} a notebook) keeps "
                    "when graded]\n"))

    def _run_cell_bounded(self, cell, resources, index):
        first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        where = (f"cell {_label(cell)!r}" if _nbgrader(cell) else
                 f"the code cell that starts {first_line[:60]!r}")
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.setdefault("outputs", []).append(_error_output("DeadKernelError", "the kernel died running this cell"))
            self._halt(KERNEL_DIED, f"the kernel died while running {where}; the cells after it did not run")
        except CellTimeoutError:
            # The cell ran past the timeout and, interrupted, did not finish within iopub_timeout.
            cell.setdefault("outputs", []).append(_error_output(
                "CellTimeoutError", f"no reply within {self.timeout} s and the interrupt did not stop it"))
            if not self._kernel_answers():
                self._halt(UNINTERRUPTIBLE, f"{where} ran past the {self.timeout} s limit and ignored the "
                                            "interrupt; the cells after it did not run")
        self._settled.add(index)
        return cell, resources

    async def _async_kernel_answers(self) -> bool:
        # nbclient leaves the interrupted cell's output poller running when it gives up on it;
        # it would swallow the next cells' outputs: stop it.
        current = asyncio.current_task()
        for task in asyncio.all_tasks():
            if task is not current and "_async_poll_output_msg" in getattr(task.get_coro(), "__qualname__", ""):
                task.cancel()
        if self.kc is None or self.km is None or not await ensure_async(self.km.is_alive()):
            return False
        msg_id = await ensure_async(self.kc.execute("pass", silent=True, store_history=False))
        deadline = monotonic() + self.probe_timeout
        while (remaining := deadline - monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=remaining))
            except Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    _kernel_answers = run_sync(_async_kernel_answers)


# --- bookkeeping after SaveAutoGrades ------------------------------------------------------------

class MarkForReview(NbGraderPreprocessor):
    """After SaveAutoGrades: put what the earlier plug-ins (and the sandbox) found into the gradebook.

    - the submission changed since it was last graded: the manual scores of the old version go;
    - it needs a human (ungradable, dead or uninterruptible kernel, sandbox verdict, integrity
      findings): every grade needs manual grading and the first solution cell's comment says
      ``NEEDS REVIEW (<reasons>): <details>``; integrity findings also hold every score at a
      manual 0, but only the first time this version is graded;
    - the same version graded again (``--force``): grades the instructor already reviewed stay
      reviewed (nbgrader would flag every manually scored grade again);
    - ``grading-state.json`` in the course root records the graded version.
    """

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        paths = _Paths(self)
        info = resources["nbgrader"]
        meta = _info(nb)
        started = meta.get("run_started")
        verdict = read_verdict(paths.autograded(info["student"], info["assignment"]), started) if started else None
        if verdict is not None:
            apply_verdict(nb, verdict)
        elif started and not meta.get("ungradable") and not any(
                r[0] in (KERNEL_DIED, UNINTERRUPTIBLE, NOT_RUN) for r in meta.get("review", [])):
            # The run happened but the sandbox said nothing about it: fail closed.
            add_review(nb, VERDICT_MISSING, "the sandbox left no verdict on this run; scores held at 0")
        trusted_side_broke = any(r[0] == VERDICT_MISSING for r in meta.get("review", []))
        sha, previous = meta.get("sha256"), meta.get("previous_sha256")
        first_time = sha is None or previous != sha
        reviews = [list(r) for r in meta.get("review", [])]
        # Where the outside check decides, the integrity scan is a report, not a hold.
        findings = [] if meta.get("outside_checked") else list(meta.get("integrity", []))
        if findings:
            reviews.append([INTEGRITY, plain(f"{len(findings)} line(s) to look at: " + "; ".join(findings))])
        first_solution = next((_nbgrader(c).get("grade_id") for c in nb.cells if _nbgrader(c).get("solution")), None)
        with Gradebook(info["db_url"]) as gradebook:
            record = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            if previous is not None and sha is not None and previous != sha:
                forget_old_review(record)
            if reviews:
                mark_for_review(record, reviews, first_solution,
                                hold=(bool(findings) and first_time) or trusted_side_broke)
            if not first_time:
                reviewed = set(meta.get("reviewed", []))
                for grade in record.grades:
                    if grade.name in reviewed and (grade.manual_score is not None or meta.get("previous_review")):
                        grade.needs_manual_grade = False
            gradebook.db.commit()
        record_state(paths.root, info["student"], info["assignment"], sha,
                     [r[0] for r in reviews], list(meta.get("notes", [])))
        if reviews:
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(
                f"**{REVIEW_PREFIX} ({'; '.join(r[0] for r in reviews)})**: this submission could not be "
                "graded automatically with confidence; the instructor will review it, and the scores "
                "below are not final.\n\n" + "\n".join(f"- {r[0]}: {r[1]}" for r in reviews)))
            nb.cells[0].id = "review-note-" + uuid.uuid4().hex[:8]
        for key in ("previous_sha256", "reviewed", "previous_review", "run_started"):
            meta.pop(key, None)
        meta["review"] = reviews
        return nb, resources


def apply_verdict(nb, verdict: dict) -> None:
    """Fold the sandbox's verdict into the notebook's bookkeeping."""
    reason = verdict.get("reason")
    if reason:
        if reason not in sandbox.LIMIT_REASONS:  # the course's words only
            reason = "sandbox"
        peak = verdict.get("peak_bytes")
        detail = f"the sandbox stopped the kernel ({reason})" + (
            f"; peak memory {peak / 2**20:.0f} MiB" if isinstance(peak, (int, float)) and not isinstance(peak, bool)
            else "")
        reviews = _info(nb).setdefault("review", [])
        # The sandbox knows better why the kernel died, stopped answering (a process at its
        # memory limit stalls in reclaim until the OOM killer ends it) or could not run at all
        # (a fork bomb leaves no process for the next cell).
        reviews[:] = [r for r in reviews if r[0] not in (KERNEL_DIED, UNINTERRUPTIBLE, NOT_RUN)]
        if not any(r[0] == reason for r in reviews):
            reviews.insert(0, [reason, detail])
    elif verdict.get("sandboxed") is False:
        add_note(nb, "the submission ran without the sandbox")


# --- the course's older plug-ins ------------------------------------------------------------------

class StderrIsNotFailure(NbGraderPreprocessor):
    """Keep warnings out of the score: move a test cell's stderr text to stdout before grading.

    nbgrader scores a test cell zero when it wrote anything to stderr, so a correct answer
    that triggers a library warning (or a progress bar) would lose its points. In this course a
    test fails only by raising; its stderr text stays visible in the feedback, marked.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stderr":
                    output["name"] = "stdout"
                    output["text"] = "".join(
                        f"[stderr] {line}" for line in output.get("text", "").splitlines(keepends=True)
                    )
        return cell, resources


class SkipDemoCells(NbGraderPreprocessor):
    """Blank the code of cells tagged ``skip-autograde`` before a submission is executed.

    Long demos (training runs, big plots) teach but are not graded; running them for every
    student would only slow autograding down. Graded cells must not depend on them. Only the
    source's tags count (RestoreFromSource puts them back), and a cell nbgrader grades or
    locks is never blanked: a test cell without output would score full marks.
    """

    def preprocess_cell(self, cell, resources, index):
        if (cell.cell_type == "code" and SKIP_AUTOGRADE_TAG in cell.metadata.get("tags", [])
                and not _nbgrader(cell)):
            cell.source = SKIPPED_SOURCE
            cell.outputs = []
            cell.execution_count = None
        return cell, resources


# --- feedback -----------------------------------------------------------------------------------

_BEGIN_HIDDEN = re.compile(r"BEGIN HIDDEN TESTS")
_END_HIDDEN = re.compile(r"END HIDDEN TESTS")


def hide_hidden_tests(text: str) -> tuple[str, bool]:
    """``text`` with every BEGIN/END HIDDEN TESTS region replaced by one comment line."""
    lines, out, hidden, found = text.split("\n"), [], False, False
    for line in lines:
        if _BEGIN_HIDDEN.search(line):
            hidden = found = True
            out.append(line[: len(line) - len(line.lstrip())] + HIDDEN_TESTS_SHOWN_AS)
        elif _END_HIDDEN.search(line) and hidden:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out), found


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback must not show hidden tests: the autograded notebook holds the source's test
    cells, hidden tests included, and nbgrader's generate_feedback renders them as they are.
    Replace each hidden region with one comment line, and cut the tracebacks of those cells
    to their last line (a traceback quotes the code around the failing line)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, found = hide_hidden_tests(cell.source)
        if found:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
