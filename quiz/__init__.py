"""The gpt2-course quiz engine: load, validate, show and take lesson quizzes.

In a lesson notebook::

    from quiz import show_quiz
    show_quiz("quiz.json", "pre")              # the pre-lesson questions
    show_quiz("quiz.json", ids=["tying"])      # one check question, where the idea lands
    show_quiz("quiz.json", "post")             # post-lesson questions + pre/post summary

From a shell: ``python -m quiz --help``.
"""

from .i18n import set_language
from .loader import Problem, QuizError, load_quiz
from .notebook import post_quiz_status, show_quiz
from .progress import Attempt
from .schema import Question, Quiz, Stage

__all__ = [
    "Attempt",
    "Problem",
    "Question",
    "Quiz",
    "QuizError",
    "Stage",
    "course_progress",
    "language_picker",
    "load_quiz",
    "post_quiz_status",
    "set_language",
    "show_quiz",
]


def __getattr__(name: str):
    # Lazy, so that `python -m quiz.home` does not import quiz.home twice.
    if name in ("course_progress", "language_picker"):
        from . import home

        return getattr(home, name)
    raise AttributeError(f"module 'quiz' has no attribute {name!r}")
