"""Answers, one JSON line per check, in a sidecar file beside the quiz.

Written from the kernel, so it works wherever a notebook runs (JupyterLab, Notebook 7,
VS Code, Binder). Writes are append-only, one ``write`` per record, flushed and fsynced;
reading skips (with a warning) any line that is not a valid record, so a damaged file
never stops a lesson.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, ValidationError

from .schema import Quiz, Stage

PROGRESS_FILE = "quiz-progress.jsonl"


class Attempt(BaseModel):
    """One press of "check": which original option the learner chose, and whether it was right."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    time: str
    lesson: str
    question: str | StrictInt
    stage: Stage
    chosen: StrictInt
    correct: StrictBool
    learner: str | None = None


def default_progress_path(quiz_path: str | Path) -> Path:
    """``quiz-progress.jsonl`` in the folder that holds the quiz file."""
    return Path(quiz_path).resolve().parent / PROGRESS_FILE


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def append_attempt(path: str | Path, attempt: Attempt) -> None:
    """Append one record as a JSON line; raises ``OSError`` if the file cannot be written."""
    path = Path(path)
    line = json.dumps(attempt.model_dump(exclude_none=True), ensure_ascii=False) + "\n"
    data = line.encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # A line cut short earlier (power loss, full disk) must not swallow this one.
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as reader:
                reader.seek(size - 1)
                if reader.read(1) != b"\n":
                    data = b"\n" + data
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_attempts(path: str | Path, *, warn: bool = True) -> list[Attempt]:
    """Every valid record in the sidecar, in file order; a missing file gives ``[]``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    attempts: list[Attempt] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            attempts.append(Attempt.model_validate(json.loads(line.decode("utf-8"))))
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError, TypeError) as exc:
            if warn:
                reason = type(exc).__name__ if not isinstance(exc, ValidationError) else "not a quiz record"
                warnings.warn(
                    f"{path}: line {number} skipped ({reason})", RuntimeWarning, stacklevel=2
                )
    return attempts


@dataclass(frozen=True)
class QuestionProgress:
    """What one question's attempts in one stage add up to."""

    attempts: int
    first_correct: bool
    last_correct: bool
    last_chosen: int


def per_question(attempts: Iterable[Attempt], lesson: str | None = None) -> dict:
    """``{(lesson, stage, question): QuestionProgress}`` in first-seen order.

    The stage is part of the key: the ``post`` stage re-asks the ``pre`` questions, and
    those two answers to the same question are counted apart.
    """
    grouped: dict[tuple[str, str, str | int], list[Attempt]] = {}
    for attempt in attempts:
        if lesson is not None and attempt.lesson != lesson:
            continue
        grouped.setdefault((attempt.lesson, attempt.stage, attempt.question), []).append(attempt)
    return {
        key: QuestionProgress(
            attempts=len(items),
            first_correct=items[0].correct,
            last_correct=items[-1].correct,
            last_chosen=items[-1].chosen,
        )
        for key, items in grouped.items()
    }


def asked_in(quiz: Quiz, stage: str) -> list[int]:
    """The questions (0-based indices) that ``stage`` asks, in the order it asks them.

    ``post`` first re-asks every ``pre`` question (the matched items of the pre/post
    comparison), then asks its own; ``pre`` and ``check`` ask their own questions.
    """
    if stage == "post":
        return quiz.stage_indices("pre") + quiz.stage_indices("post")
    return quiz.stage_indices(stage)


@dataclass(frozen=True)
class StageScore:
    stage: str
    total: int  # questions this stage asks and can check (with their key)
    answered: int
    first_correct: int
    last_correct: int
    graded_total: int = 0  # questions asked without their key (a course release): graded on submission
    graded_answered: int = 0  # of those, how many have a saved answer (``quiz.answers``)

    @property
    def percent(self) -> float | None:
        return 100.0 * self.first_correct / self.total if self.total else None


def _score(label: str, found: list[QuestionProgress | None]) -> StageScore:
    done = [p for p in found if p is not None]
    return StageScore(
        stage=label,
        total=len(found),
        answered=len(done),
        first_correct=sum(p.first_correct for p in done),
        last_correct=sum(p.last_correct for p in done),
    )


def stage_score(quiz: Quiz, stage: str, attempts: Iterable[Attempt], lesson: str,
                saved: dict | None = None) -> StageScore:
    """A stage's score over the whole lesson; an answer counts once, by its first try.

    The one place that counts answers: the notebook widget, the course home and
    ``python -m quiz report`` all call it, so they always agree. Questions without their key
    (a course release) are not scored here: ``graded_total`` counts them and
    ``graded_answered`` those with an answer in ``saved`` (``{id: option}``, see
    :mod:`quiz.answers`).
    """
    progress = per_question(attempts, lesson)
    asked = asked_in(quiz, stage)
    keyed = [i for i in asked if quiz.questions[i].has_key]
    keyless = [i for i in asked if not quiz.questions[i].has_key]
    score = _score(stage, [progress.get((lesson, stage, quiz.key(i))) for i in keyed])
    if not keyless:
        return score
    saved = saved or {}
    answered = sum(1 for i in keyless if quiz.key(i) in saved)
    return StageScore(score.stage, score.total, score.answered, score.first_correct, score.last_correct,
                      graded_total=len(keyless), graded_answered=answered)


@dataclass(frozen=True)
class MatchedGain:
    """The pre/post comparison on the matched items: the ``pre`` questions, asked before
    the lesson and again (options reshuffled) in the ``post`` stage."""

    before: StageScore
    after: StageScore

    @property
    def complete(self) -> bool:
        total = self.before.total
        return total > 0 and self.before.answered == total and self.after.answered == total

    @property
    def points(self) -> int | None:
        """Percentage points gained (negative: lost), once both rounds are complete."""
        if not self.complete:
            return None
        return round(self.after.percent) - round(self.before.percent)


def matched_gain(quiz: Quiz, attempts: Iterable[Attempt], lesson: str) -> MatchedGain:
    progress = per_question(attempts, lesson)
    keys = [quiz.key(i) for i in quiz.stage_indices("pre")]
    return MatchedGain(
        before=_score("pre", [progress.get((lesson, "pre", key)) for key in keys]),
        after=_score("post", [progress.get((lesson, "post", key)) for key in keys]),
    )


def remove_attempts(path: str | Path, lesson: str, items: Iterable[tuple[str, str | int]]) -> int:
    """Delete the records of ``lesson`` whose ``(stage, question)`` is in ``items``; return
    how many went. Lines that are not valid records are kept as they are. The file is
    replaced atomically (written beside it, then renamed)."""
    path = Path(path)
    wanted = set(items)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return 0
    kept: list[bytes] = []
    removed = 0
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            attempt = Attempt.model_validate(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError, TypeError):
            kept.append(line)
            continue
        if attempt.lesson == lesson and (attempt.stage, attempt.question) in wanted:
            removed += 1
        else:
            kept.append(line)
    if removed:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        data = b"".join(line + b"\n" for line in kept)
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return removed
