"""MarkForReview: after nbgrader's SaveAutoGrades, what the earlier plug-ins and the sandbox
found goes into the gradebook (NEEDS REVIEW, the integrity hold) and ``grading-state.json``."""

from __future__ import annotations

import uuid

import nbformat
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from grader.plugins.cells import course_info, nbgrader_of, plain
from grader.plugins.paths import Paths
from grader.plugins.reviews import (
    INTEGRITY,
    KERNEL_DIED,
    NOT_RUN,
    REVIEW_PREFIX,
    UNINTERRUPTIBLE,
    VERDICT_MISSING,
    add_note,
    add_review,
    forget_old_review,
    mark_for_review,
)
from grader.plugins.state import read_verdict, record_state
from grader.sandbox import settings as sandbox_settings


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
        paths = Paths(self)
        info = resources["nbgrader"]
        meta = course_info(nb)
        _fold_verdict(nb, paths, info)
        trusted_side_broke = any(r[0] == VERDICT_MISSING for r in meta.get("review", []))
        sha, previous = meta.get("sha256"), meta.get("previous_sha256")
        first_time = sha is None or previous != sha
        reviews = [list(r) for r in meta.get("review", [])]
        # Where the outside check decides, the integrity scan is a report, not a hold.
        findings = [] if meta.get("outside_checked") else list(meta.get("integrity", []))
        if findings:
            reviews.append([INTEGRITY, plain(f"{len(findings)} line(s) to look at: " + "; ".join(findings))])
        _update_gradebook(nb, info, reviews, (bool(findings) and first_time) or trusted_side_broke, first_time)
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


def _fold_verdict(nb, paths: Paths, info: dict) -> None:
    """The sandbox's verdict on this run into the notebook's reviews; a run it said nothing about
    is held (NEEDS REVIEW (sandbox verdict missing)), fail closed."""
    meta = course_info(nb)
    started = meta.get("run_started")
    verdict = read_verdict(paths.autograded(info["student"], info["assignment"]), started) if started else None
    if verdict is not None:
        apply_verdict(nb, verdict)
    elif started and not meta.get("ungradable") and not any(
            r[0] in (KERNEL_DIED, UNINTERRUPTIBLE, NOT_RUN) for r in meta.get("review", [])):
        # The run happened but the sandbox said nothing about it: fail closed.
        add_review(nb, VERDICT_MISSING, "the sandbox left no verdict on this run; scores held at 0")


def _update_gradebook(nb, info: dict, reviews: list[list[str]], hold: bool, first_time: bool) -> None:
    """The submission's record in the gradebook: the old version's manual scores go, NEEDS REVIEW
    (``hold``: every score a manual 0), and grades already reviewed in this version stay reviewed."""
    meta = course_info(nb)
    sha, previous = meta.get("sha256"), meta.get("previous_sha256")
    first_solution = next((nbgrader_of(c).get("grade_id") for c in nb.cells if nbgrader_of(c).get("solution")), None)
    with Gradebook(info["db_url"]) as gradebook:
        record = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
        if previous is not None and sha is not None and previous != sha:
            forget_old_review(record)
        if reviews:
            mark_for_review(record, reviews, first_solution, hold=hold)
        if not first_time:
            reviewed = set(meta.get("reviewed", []))
            for grade in record.grades:
                if grade.name in reviewed and (grade.manual_score is not None or meta.get("previous_review")):
                    grade.needs_manual_grade = False
        gradebook.db.commit()


def apply_verdict(nb, verdict: dict) -> None:
    """Fold the sandbox's verdict into the notebook's bookkeeping."""
    reason = verdict.get("reason")
    if reason:
        if reason not in sandbox_settings.LIMIT_REASONS:  # the course's words only
            reason = "sandbox"
        peak = verdict.get("peak_bytes")
        detail = f"the sandbox stopped the kernel ({reason})" + (
            f"; peak memory {peak / 2**20:.0f} MiB" if isinstance(peak, (int, float)) and not isinstance(peak, bool)
            else "")
        reviews = course_info(nb).setdefault("review", [])
        # The sandbox knows better why the kernel died, stopped answering (a process at its
        # memory limit stalls in reclaim until the OOM killer ends it) or could not run at all
        # (a fork bomb leaves no process for the next cell).
        reviews[:] = [r for r in reviews if r[0] not in (KERNEL_DIED, UNINTERRUPTIBLE, NOT_RUN)]
        if not any(r[0] == reason for r in reviews):
            reviews.insert(0, [reason, detail])
    elif verdict.get("sandboxed") is False:
        add_note(nb, "the submission ran without the sandbox")
