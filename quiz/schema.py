"""The quiz file format as pydantic models.

A quiz file is either ``{"lesson": str, "title": str, "questions": [...]}`` or just the
list of questions. Every question has a ``stage`` (``pre``, ``check`` or ``post``), the
``question`` text, 2 to 6 distinct ``options``, the 0-based index of the ``correct``
option, an ``explanation`` (may be empty) and an optional ``id``.

A file for a course release (``"edition": "course"``, written by the course build from the
full file) may withhold the key of its ``post`` questions: such a question has neither
``correct`` nor ``explanation``, and needs an ``id`` (its saved answer is filed under it; see
:mod:`quiz.answers`). It is graded on the instructor's side, after submission.

The models validate strictly (no type coercion: ``true`` is not an index, ``"1"`` is not
an index) and forbid unknown keys. Problems found by our own validators carry custom
pydantic error types (``blank_text``, ``duplicate_option``, ...) so that
:mod:`quiz.loader` can turn them into messages for quiz authors.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Stage = Literal["pre", "check", "post"]
STAGES: tuple[str, ...] = ("pre", "check", "post")
#: The ``edition`` of a file whose graded questions come without their key.
COURSE_EDITION = "course"
#: The stage whose questions a course release asks without the key (graded on submission).
GRADED_STAGE = "post"
MIN_OPTIONS = 2
MAX_OPTIONS = 6
#: Keys of an older draft format, and the key each one is now called.
LEGACY_KEYS = {"q": "question", "choices": "options", "answer": "correct"}

#: A question's key: its ``id`` if it has one, else its 0-based position in the file.
QuestionKey = str | int


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank_text", "must not be empty or whitespace-only")
    return text


NonBlankText = Annotated[str, AfterValidator(_not_blank)]


def _normalised(text: str) -> str:
    return " ".join(text.split())


class Question(BaseModel):
    """One multiple-choice question."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    stage: Stage
    question: NonBlankText
    options: list[NonBlankText] = Field(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)
    correct: StrictInt
    explanation: str
    id: NonBlankText | None = None

    @field_validator("options")
    @classmethod
    def _options_distinct(cls, options: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        for position, option in enumerate(options):
            key = _normalised(option)
            if key in seen:
                raise PydanticCustomError(
                    "duplicate_option",
                    "options {first} and {second} have the same text: every option must "
                    "be different",
                    {"first": seen[key], "second": position, "text": option.strip()},
                )
            seen[key] = position
        return options

    @model_validator(mode="after")
    def _correct_in_range(self) -> Question:
        count = len(self.options)
        if self.correct is not None and not 0 <= self.correct < count:
            raise PydanticCustomError(
                "correct_out_of_range",
                "correct is {correct}, but there are only {count} options: expected a "
                "0-based index from 0 to {last}",
                {"correct": self.correct, "count": count, "last": count - 1},
            )
        return self

    @property
    def has_key(self) -> bool:
        """False for a question whose key is withheld (graded after submission)."""
        return self.correct is not None

    @property
    def correct_option(self) -> str | None:
        return self.options[self.correct] if self.correct is not None else None


class CourseQuestion(Question):
    """A question of a course-release file: a ``post`` question may come without its key
    (no ``correct``, no ``explanation``); every other question is as in :class:`Question`."""

    correct: StrictInt | None = None
    explanation: str | None = None

    @model_validator(mode="after")
    def _key_withheld_properly(self) -> CourseQuestion:
        if (self.correct is None) != (self.explanation is None):
            missing = "explanation" if self.explanation is None else "correct"
            raise PydanticCustomError(
                "half_key",
                "has {present} but no {missing}: a question keeps both, or (a graded post "
                "question of a course release) neither",
                {"present": "correct" if missing == "explanation" else "explanation", "missing": missing},
            )
        if self.correct is None:
            if self.stage != GRADED_STAGE:
                raise PydanticCustomError(
                    "keyless_stage",
                    "has no key, but only {graded} questions may withhold it (stage is {stage})",
                    {"graded": GRADED_STAGE, "stage": self.stage},
                )
            if self.id is None:
                raise PydanticCustomError(
                    "keyless_id", "has no key and no id: a graded question needs an id", {}
                )
        return self


def duplicate_ids(questions: list) -> dict[str, list[int]]:
    """Ids used by more than one question, with the 0-based positions that use them.

    Works on validated :class:`Question` objects and on raw dicts alike, so the loader
    can report duplicates even when other parts of the file are invalid.
    """
    positions: dict[str, list[int]] = {}
    for index, item in enumerate(questions):
        qid = item.id if isinstance(item, Question) else (
            item.get("id") if isinstance(item, dict) else None
        )
        if isinstance(qid, str) and qid.strip():
            positions.setdefault(qid, []).append(index)
    return {qid: where for qid, where in positions.items() if len(where) > 1}


class Quiz(BaseModel):
    """A lesson's quiz: its questions in file order."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    lesson: NonBlankText | None = None
    title: str | None = None
    edition: Literal["full"] | None = None
    questions: list[Question] = Field(min_length=1)

    _path: object = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _ids_unique(self) -> Quiz:
        dupes = duplicate_ids(self.questions)
        if dupes:
            qid, where = next(iter(dupes.items()))
            raise PydanticCustomError(
                "duplicate_id",
                "id {qid} is used by questions {numbers}: ids must be unique",
                {"qid": qid, "numbers": ", ".join(str(i + 1) for i in where)},
            )
        return self

    @property
    def path(self):
        """The file this quiz was loaded from (a :class:`pathlib.Path`), or ``None``."""
        return self._path

    def key(self, index: int) -> QuestionKey:
        """The key progress records use for question ``index``: its id, else the index."""
        question = self.questions[index]
        return question.id if question.id is not None else index

    def index_of(self, key: QuestionKey) -> int | None:
        """The 0-based position of the question with this id (or index), else ``None``."""
        if isinstance(key, bool):
            return None
        if isinstance(key, int):
            return key if 0 <= key < len(self.questions) else None
        for index, question in enumerate(self.questions):
            if question.id == key:
                return index
        return None

    def stage_indices(self, stage: str) -> list[int]:
        return [i for i, q in enumerate(self.questions) if q.stage == stage]

    @property
    def keyless(self) -> bool:
        """Whether some question withholds its key (a course release)."""
        return any(not q.has_key for q in self.questions)


class CourseQuiz(Quiz):
    """A quiz file of a course release (``"edition": "course"``): its ``post`` questions may
    come without their key (:class:`CourseQuestion`)."""

    edition: Literal["course"]
    questions: list[CourseQuestion] = Field(min_length=1)
