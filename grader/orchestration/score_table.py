"""Where the graded submissions stand, read from the gradebook, and the tables
``grader.commands autograde`` prints: scores, NEEDS REVIEW, notes, the integrity scan."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from grader.catalog import source_notebook, submissions, submitted_notebook
from grader.plugins.reviews import submission_review
from grader.plugins.state import read_state
from grader.trusted.integrity import scan


@dataclass
class Status:
    """Where a graded submission stands."""

    review: tuple[str, ...] = ()  # why it needs a human (empty: graded normally)
    pending: bool = False  # some grade still waits for the instructor
    notes: tuple[str, ...] = ()  # what the restore from the source changed
    graded: bool = True  # the gradebook knows the submission

    @property
    def needs_review(self) -> bool:
        return bool(self.review) and self.pending

    @property
    def label(self) -> str:
        if not self.graded:
            return "not graded"
        if self.needs_review:
            return f"NEEDS REVIEW ({'; '.join(self.review)})"
        return f"reviewed ({'; '.join(self.review)})" if self.review else "graded"


def read_statuses(course_root: Path, slugs: list[str]) -> dict:
    """{(student, slug): Status} from the gradebook (NEEDS REVIEW comments, grades still to grade
    by hand) and grading-state.json (notes)."""
    state = read_state(course_root)
    statuses: dict = {}
    with Gradebook("sqlite:///" + str(course_root / "gradebook.db")) as gradebook:
        for slug in slugs:
            for student in submissions(course_root).get(slug, []):
                entry = state.get(student, {}).get(slug) or {}
                try:
                    record = gradebook.find_submission_notebook(slug, slug, student)
                except MissingEntry:
                    statuses[(student, slug)] = Status(graded=False)
                    continue
                reasons, pending = submission_review(record)
                if not reasons and entry.get("review"):  # a lesson without solution cells has no comment
                    reasons, pending = list(entry["review"]), any(g.needs_manual_grade for g in record.grades)
                statuses[(student, slug)] = Status(tuple(reasons), pending, tuple(entry.get("notes") or ()))
    return statuses


def read_scores(course_root: Path, slugs: list[str]) -> dict:
    """{(student, slug): {grade_id: (score, max_score)}} from the gradebook."""
    scores: dict = {}
    with Gradebook("sqlite:///" + str(course_root / "gradebook.db")) as gradebook:
        for slug in slugs:
            for student in submissions(course_root).get(slug, []):
                try:
                    notebook = gradebook.find_submission_notebook(slug, slug, student)
                except MissingEntry:
                    scores[(student, slug)] = None  # not graded: nbgrader could not run it
                    continue
                scores[(student, slug)] = {g.name: (g.score, g.max_score) for g in notebook.grades}
    return scores


def integrity_findings(course_root: Path, slugs: list[str]) -> dict:
    """{(student, slug): [Finding, ...]} for every submission with code that could game the tests."""
    flagged = {}
    for slug in slugs:
        source = nbformat.read(source_notebook(slug, course_root), as_version=4)
        for student in submissions(course_root).get(slug, []):
            path = submitted_notebook(course_root, student, slug)
            try:
                findings = scan(nbformat.read(path, as_version=4), source)
            except Exception:  # noqa: BLE001 (an unreadable notebook is NEEDS REVIEW already)
                continue
            if findings:
                flagged[(student, slug)] = findings
    return flagged


def format_integrity_report(flagged: dict, statuses: dict | None = None) -> str:
    if not flagged:
        return "integrity scan: nothing suspicious in the submissions"
    lines = ["integrity scan: code that could game the tests, for you to read. In a lesson checked from "
             "outside the notebook (grader/lessons/<lesson>/grading.py) the scores stand on that check; in the "
             "others the first grading of a version is HELD AT ZERO and NEEDS REVIEW (if innocent, set the "
             "scores in formgrader):"]
    for (student, slug), findings in flagged.items():
        status = (statuses or {}).get((student, slug))
        suffix = f" [{status.label}]" if status is not None else ""
        # Printable characters only: the finding quotes the student's code (no terminal escapes).
        lines += ["".join(ch for ch in f"  {student} / {slug}{suffix}: {finding}" if ch.isprintable())
                  for finding in findings]
    return "\n".join(lines)


def format_notes(statuses: dict) -> str:
    lines = [f"  {student} / {slug}: {note}" for (student, slug), status in statuses.items() for note in status.notes]
    return "\n".join(["restored from the source before grading:", *lines]) if lines else ""


def format_score_table(scores: dict, statuses: dict | None = None) -> str:
    rows = [("student", "lesson", "score", "failed tests")]
    for (student, slug), grades in scores.items():
        status = (statuses or {}).get((student, slug))
        if grades is None:
            rows.append((student, slug, "-", "NOT GRADED (see the autograde log)"))
            continue
        got = sum(score for score, _ in grades.values())
        total = sum(maximum for _, maximum in grades.values())
        failed = ", ".join(name for name, (score, maximum) in grades.items() if score < maximum) or "-"
        if status is not None and status.needs_review:
            rows.append((student, slug, status.label, f"so far {got:g}/{total:g}; failed: {failed}"))
        else:
            extra = f" ({status.label})" if status is not None and status.review else ""
            rows.append((student, slug, f"{got:g}/{total:g}", failed + extra))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows
    )
