"""``show_quiz``: put a quiz in a notebook cell."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .schema import QuestionKey
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
