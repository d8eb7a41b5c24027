"""Which quiz file, which questions, in which order: everything a view needs to draw.

Shared by the widget view, the static fallback and the terminal quiz, so all three show
a learner the same edition, the same questions and the same option order.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .answers import answers_path_beside
from .i18n import detect_language, normalize_language, preferred_language
from .loader import QuizError, load_quiz
from .progress import asked_in, default_progress_path
from .schema import STAGES, Question, QuestionKey, Quiz
from .shuffle import LETTERS, learner_id, option_order

EN_SUFFIX = ".en.json"


def primary_path(path: Path) -> Path:
    """``quiz.en.json`` → ``quiz.json``; any other path is its own primary."""
    if path.name.endswith(EN_SUFFIX):
        return path.with_name(path.name[: -len(EN_SUFFIX)] + ".json")
    return path


def english_path(path: Path) -> Path:
    """``quiz.json`` → ``quiz.en.json`` (the English edition beside it)."""
    primary = primary_path(path)
    return primary.with_name(primary.name[: -len(".json")] + EN_SUFFIX)


def choose_edition(path: Path, lang: str | None) -> Path:
    """The file to show for the wanted language: the English sibling when English is
    wanted and exists, the primary file when Chinese is wanted and exists, else ``path``."""
    wanted = lang or preferred_language()
    if wanted == "en" and not path.name.endswith(EN_SUFFIX):
        candidate = english_path(path)
        return candidate if candidate.is_file() else path
    if wanted == "zh" and path.name.endswith(EN_SUFFIX):
        candidate = primary_path(path)
        return candidate if candidate.is_file() else path
    return path


@dataclass(frozen=True)
class ShownQuestion:
    """One question as this learner sees it."""

    index: int  # 0-based position in the file
    key: QuestionKey  # id, else index: what progress records use
    question: Question
    order: tuple[int, ...]  # order[position] = original option index
    stage: str = ""  # the stage that asks it (answers are recorded under it); "" = its own
    place: int = 0  # 1-based place among the questions its stage asks (0: unknown, the file position is used)

    def __post_init__(self) -> None:
        if not self.stage:
            object.__setattr__(self, "stage", self.question.stage)

    @property
    def asked_again(self) -> bool:
        """A ``pre`` question re-asked in the ``post`` stage (a matched item)."""
        return self.stage != self.question.stage

    @property
    def number(self) -> int:
        """The number the learner sees: its place in the stage that asks it (the post stage numbers
        the pre questions it asks again 1, 2, … and then its own), so numbers never jump."""
        return self.place or self.index + 1

    def position_of(self, original: int) -> int:
        return self.order.index(original)

    def letter_of(self, original: int) -> str:
        return LETTERS[self.position_of(original)]

    @property
    def letters(self) -> str:
        return LETTERS[: len(self.order)]


@dataclass
class QuizSelection:
    quiz: Quiz
    lesson: str  # the primary edition's lesson: both editions share progress
    lang: str  # UI language
    items: list[ShownQuestion]
    progress_path: Path
    learner: str
    stage: str | None = None
    stages: list[str] = field(default_factory=list)  # stages among the items, in order

    @property
    def source(self) -> Path:
        return Path(self.quiz.path) if self.quiz.path is not None else Path("quiz.json")

    @property
    def answers_path(self) -> Path:
        """Where the answers to questions without their key are saved (a course release):
        ``quiz-answers.json`` beside the progress file, i.e. beside the notebook."""
        return answers_path_beside(self.progress_path)


def select(
    path: str | Path,
    stage: str | None = "pre",
    *,
    ids: Sequence[QuestionKey] | None = None,
    lang: str | None = None,
    progress_path: str | Path | None = None,
    learner: str | None = None,
) -> QuizSelection:
    """Resolve the edition, load it, pick the questions, shuffle their options."""
    lang = normalize_language(lang)
    if stage is not None and stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)} or None")
    requested = Path(path)
    shown_path = choose_edition(requested, lang)
    quiz = load_quiz(shown_path)
    lesson = _shared_lesson(quiz, shown_path)
    picked = _pick(quiz, stage, ids)
    who = learner if learner is not None else learner_id()
    items = []
    for i, asking in picked:
        again = asking if asking != quiz.questions[i].stage else None
        order = option_order(len(quiz.questions[i].options), who, lesson, quiz.key(i), asked_again=again)
        place = asked_in(quiz, asking).index(i) + 1
        items.append(
            ShownQuestion(index=i, key=quiz.key(i), question=quiz.questions[i], order=tuple(order), stage=asking,
                          place=place)
        )
    ui_lang = lang or detect_language(q.question for q in quiz.questions)
    stages = [s for s in STAGES if any(item.stage == s for item in items)]
    return QuizSelection(
        quiz=quiz,
        lesson=lesson,
        lang=ui_lang,
        items=items,
        progress_path=Path(progress_path) if progress_path is not None
        else default_progress_path(shown_path),
        learner=who,
        stage=stage,
        stages=stages,
    )


def _shared_lesson(quiz: Quiz, shown: Path) -> str:
    """The lesson name under which answers are stored and options shuffled.

    An English edition uses its primary file's lesson, so that ``quiz.json`` and
    ``quiz.en.json`` share progress and option order even if one of them names no lesson.
    """
    primary = primary_path(shown)
    if primary != shown and primary.is_file():
        try:
            main = load_quiz(primary)
        except QuizError as exc:
            warnings.warn(f"quiz: cannot read {primary} to share progress with it: {exc}", stacklevel=3)
        else:
            if [main.key(i) for i in range(len(main.questions))] != [
                quiz.key(i) for i in range(len(quiz.questions))
            ]:
                warnings.warn(
                    f"quiz: {shown} and {primary} do not have the same question ids; "
                    "run `python -m quiz lint` on them",
                    stacklevel=3,
                )
            return str(main.lesson)
    return str(quiz.lesson)


def _pick(quiz: Quiz, stage: str | None, ids: Iterable[QuestionKey] | None) -> list[tuple[int, str]]:
    """``(question index, stage that asks it)`` pairs: a stage asks what
    :func:`~quiz.progress.asked_in` says (``post`` re-asks the ``pre`` questions first);
    ``stage=None`` asks every stage in turn; ``ids`` ask each question in its own stage."""
    if ids is None:
        stages = STAGES if stage is None else (stage,)
        return [(i, s) for s in stages for i in asked_in(quiz, s)]
    if isinstance(ids, (str, int)):
        ids = [ids]
    name = str(quiz.path) if quiz.path is not None else "<quiz>"
    picked: list[int] = []
    problems: list[str] = []
    for key in ids:
        if isinstance(key, bool) or not isinstance(key, (str, int)):
            problems.append(f"ids: {key!r} is neither a question id (str) nor a 0-based index (int)")
            continue
        index = quiz.index_of(key)
        if index is None:
            if isinstance(key, int):
                problems.append(
                    f"ids: index {key} is out of range: the quiz has {len(quiz.questions)} "
                    f"questions (0 to {len(quiz.questions) - 1})"
                )
            else:
                known = ", ".join(repr(q.id) for q in quiz.questions if q.id) or "none"
                problems.append(f"ids: no question has the id {key!r} (ids in this file: {known})")
            continue
        if index not in picked:
            picked.append(index)
    if problems:
        raise QuizError("; ".join(problems), file=name)
    return [(i, quiz.questions[i].stage) for i in picked]
