"""NEEDS REVIEW: the reasons a submission needs a human, how the plug-ins note them in the
notebook (``add_review``, ``add_note``) and how they land in the gradebook: every grade of the
submission needs manual grading, and the first solution cell's auto comment says
``NEEDS REVIEW (<reasons>): <details>`` (formgrader and the feedback show it)."""

from __future__ import annotations

import re

from grader.plugins.cells import course_info, plain

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


# --- in the notebook ----------------------------------------------------------------------------

def add_review(nb, reason: str, detail: str) -> None:
    """Record in the notebook that it needs a human, and why (``reason``: one of the course's
    reasons above; ``detail`` is shown through ``plain``)."""
    reviews = course_info(nb).setdefault("review", [])
    if not any(r[0] == reason for r in reviews):
        reviews.append([plain(reason, 60), plain(detail)])


def add_note(nb, note: str) -> None:
    course_info(nb).setdefault("notes", []).append(plain(note))


# --- in the gradebook -----------------------------------------------------------------------------

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
