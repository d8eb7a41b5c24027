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
    """What one question's attempts add up to."""

    attempts: int
    first_correct: bool
    last_correct: bool
    last_chosen: int


def per_question(attempts: Iterable[Attempt], lesson: str | None = None) -> dict:
    """``{(lesson, question): QuestionProgress}`` in first-seen order."""
    grouped: dict[tuple[str, str | int], list[Attempt]] = {}
    for attempt in attempts:
        if lesson is not None and attempt.lesson != lesson:
            continue
        grouped.setdefault((attempt.lesson, attempt.question), []).append(attempt)
    return {
        key: QuestionProgress(
            attempts=len(items),
            first_correct=items[0].correct,
            last_correct=items[-1].correct,
            last_chosen=items[-1].chosen,
        )
        for key, items in grouped.items()
    }


@dataclass(frozen=True)
class StageScore:
    stage: str
    total: int  # questions of this stage in the quiz
    answered: int
    first_correct: int
    last_correct: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.first_correct / self.total if self.total else None


def stage_score(quiz: Quiz, stage: str, attempts: Iterable[Attempt], lesson: str) -> StageScore:
    """A stage's score over the whole lesson; an answer counts once, by its first try."""
    progress = per_question(attempts, lesson)
    indices = quiz.stage_indices(stage)
    found = [progress.get((lesson, quiz.key(i))) for i in indices]
    done = [p for p in found if p is not None]
    return StageScore(
        stage=stage,
        total=len(indices),
        answered=len(done),
        first_correct=sum(p.first_correct for p in done),
        last_correct=sum(p.last_correct for p in done),
    )
