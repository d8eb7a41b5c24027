"""``show_quiz``: put a quiz in a notebook cell."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .answers import ANSWERS_FILE, read_answers
from .i18n import tr
from .schema import GRADED_STAGE, QuestionKey
from .selection import select
from .widgets import QuizView


def widgets_available() -> bool:
    """True inside a Jupyter kernel (a front end may draw widgets); False in a plain
    IPython terminal, a script, or while nbgrader autogrades (static output only)."""
    if os.environ.get("NBGRADER_EXECUTION"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show_quiz(
    path: str | Path,
    stage: str | None = "pre",
    *,
    ids: Sequence[QuestionKey] | None = None,
    lang: str | None = None,
    progress_path: str | Path | None = None,
) -> None:
    """Show a lesson's quiz in the notebook.

    ``stage``: "pre", "check" or "post" (``None``: every stage). ``ids``: show just these
    questions (ids, or 0-based ints), whatever their stage. ``lang``: "zh" or "en" for the
    engine's words (and the edition, when ``quiz.en.json`` exists); default: the quiz's
    own language. ``progress_path``: the answers file (default: ``quiz-progress.jsonl``
    beside the quiz). Raises :class:`~quiz.QuizError` for a bad quiz file or unknown ids.
    """
    from IPython.display import display

    request = {"path": path, "stage": stage, "ids": ids, "progress_path": progress_path}
    selection = select(**request, lang=lang)
    display(QuizView(selection, interactive=widgets_available(), request=request))


class PostQuizUnanswered(Exception):
    """Raised by ``post_quiz_status`` under nbgrader's Validate while graded questions have no
    saved answer: Validate then reports the cell as failing, with which questions are missing."""


def post_quiz_status(path: str | Path = "quiz.json", *, lang: str | None = None,
                     progress_path: str | Path | None = None) -> None:
    """Print where the graded post quiz stands; never raises for missing answers, and returns
    nothing (a value left in a graded cell would be read by nbgrader as points).

    In a course release (the post questions come without their key): how many answers are
    saved in ``quiz-answers.json``, which are missing, and that they are scored on submission
    (by the instructor's side: this cell's output in the student's kernel does not count). In
    self-study (full keys): that the post quiz was checked above and counts only in a course.
    """
    selection = select(path, GRADED_STAGE, lang=lang, progress_path=progress_path)
    lang = selection.lang
    graded = [item for item in selection.items if not item.question.has_key]
    if not graded:
        message = tr("status_self_study", lang)
    else:
        saved = read_answers(selection.answers_path, selection.lesson)
        lines = []
        if saved.problem is not None:
            lines.append(tr("status_problem", lang, file=ANSWERS_FILE, problem=saved.problem))
        missing = [str(item.key) for item in graded if str(item.key) not in saved.answers]
        lines.append(tr("status_course", lang, answered=len(graded) - len(missing), total=len(graded),
                        file=ANSWERS_FILE))
        if missing:
            lines.append(tr("status_missing", lang, ids=", ".join(missing)))
        message = "\n".join(lines)
        if missing and os.environ.get("NBGRADER_EXECUTION") == "validate":
            # nbgrader's Validate: an unanswered graded question is worth a warning before submitting
            # (the message names the questions, never an answer).
            raise PostQuizUnanswered(message)
    print(message)
