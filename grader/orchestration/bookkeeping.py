"""The grading bookkeeping ``grader.commands autograde`` does around nbgrader: which submissions
must be graded (``grading-state.json``), and afterwards what nbgrader's own pipeline
(``grader/plugins/``) could not record."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from grader.catalog import autograded_notebook, source_notebook, submitted_notebook
from grader.plugins.mark_for_review import apply_verdict
from grader.plugins.reviews import NBGRADER_FAILED, forget_old_review, mark_for_review
from grader.plugins.state import file_sha256, read_state, read_verdict, record_state, state_entry


def to_grade(course_root: Path, slug: str, students: list[str], force: bool = False) -> tuple[list[str], list[str]]:
    """(students whose submission of ``slug`` must be graded, students already graded in this version).

    A submission is skipped when ``grading-state.json`` says this very file (sha256) was graded
    and its result is still there, so an instructor's manual scores and reviews stay as they are.
    """
    state = read_state(course_root)
    todo, unchanged = [], []
    for student in students:
        entry = state.get(student, {}).get(slug) or {}
        path = submitted_notebook(course_root, student, slug)
        try:
            sha = file_sha256(path)
        except OSError:
            sha = None
        done = (autograded_notebook(course_root, student, slug).exists()
                or NBGRADER_FAILED in (entry.get("review") or []))
        if not force and sha is not None and entry.get("sha256") == sha and done:
            unchanged.append(student)
        else:
            todo.append(student)
    return todo, unchanged


def after_nbgrader(course_root: Path, slug: str, students: list[str], started: float) -> None:
    """What nbgrader's own pipeline could not record: a submission nbgrader failed on (no graded
    notebook, no state entry) and a sandbox verdict written after the grading.

    Both become NEEDS REVIEW in the gradebook (a failed submission keeps no stale scores)."""
    first_solution = first_solution_id(course_root, slug)
    with Gradebook("sqlite:///" + str(course_root / "gradebook.db")) as gradebook:
        for student in students:
            path = submitted_notebook(course_root, student, slug)
            if not path.exists():
                continue  # nothing submitted: nbgrader did not look at it either
            try:
                sha = file_sha256(path)
            except OSError:
                sha = None  # not a readable file (a folder named like the notebook, ...)
            entry = state_entry(course_root, student, slug)
            try:
                record = gradebook.find_submission_notebook(slug, slug, student)
            except MissingEntry:
                record = None
            if sha is None or entry.get("sha256") != sha or not autograded_notebook(course_root, student, slug).exists():
                # nbgrader failed on it before our bookkeeping ran.
                reviews = [[NBGRADER_FAILED, f"see the autograde log of {slug}"]]
                if record is not None:
                    if entry.get("sha256") not in (None, sha):
                        forget_old_review(record)
                    for grade in record.grades:
                        grade.auto_score = 0.0  # never the scores of an earlier version
                    mark_for_review(record, reviews, first_solution)
                record_state(course_root, student, slug, sha, [NBGRADER_FAILED], [])
                continue
            verdict = read_verdict(course_root / "autograded" / student / slug, not_before=started)
            if verdict and verdict.get("reason"):
                holder = nbformat.v4.new_notebook()
                apply_verdict(holder, verdict)  # the reason in the course's words
                reviews = holder.metadata["gpt2_course"]["review"]
                if reviews[0][0] in (entry.get("review") or []):
                    continue
                if record is not None:
                    mark_for_review(record, reviews, first_solution)
                record_state(course_root, student, slug, sha, [*(entry.get("review") or []), reviews[0][0]],
                             entry.get("notes") or [])
        gradebook.db.commit()


def first_solution_id(course_root: Path, slug: str) -> str | None:
    """The grade id of the lesson's first solution cell (where a NEEDS REVIEW comment goes)."""
    try:
        source = nbformat.read(source_notebook(slug, course_root), as_version=4)
    except (OSError, ValueError):
        return None
    return next((c.metadata["nbgrader"].get("grade_id") for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")), None)
