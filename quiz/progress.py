"""Answers, one JSON line per check, in a sidecar file beside the quiz.

Written from the kernel, so it works wherever a notebook runs (JupyterLab, Notebook 7,
VS Code, Binder). Writes are append-only, one ``write`` per record, flushed and fsynced;
reading skips (with a warning) any line that is not a valid record, so a damaged file
never stops a lesson.

Two kinds of record: an :class:`Attempt` (one press of "check") and a :class:`Reveal` (the
learner asked to see the verdict of a ``pre`` question before answering it again in the
``post`` stage, which takes that question out of the pre/post gain). The order of the lines
is the order things happened: :func:`matched_gain` relies on it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

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


class Reveal(BaseModel):
    """The learner asked to see a ``pre`` question's verdict and explanation now, before the
    ``post`` stage asked it again: from then on that question is not answered blind, so it
    leaves the pre/post gain (:func:`matched_gain`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    time: str
    lesson: str
    question: str | StrictInt
    stage: Stage
    event: Literal["reveal"] = "reveal"
    learner: str | None = None


#: What a progress file holds, line by line.
Record = Attempt | Reveal


def default_progress_path(quiz_path: str | Path) -> Path:
    """``quiz-progress.jsonl`` in the folder that holds the quiz file."""
    return Path(quiz_path).resolve().parent / PROGRESS_FILE


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def append_attempt(path: str | Path, attempt: Record) -> None:
    """Append one record (an attempt or a reveal) as a JSON line; raises ``OSError`` if the
    file cannot be written."""
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


append_record = append_attempt


def _parse_record(line: bytes) -> Record:
    data = json.loads(line.decode("utf-8"))
    if isinstance(data, dict) and data.get("event") == "reveal":
        return Reveal.model_validate(data)
    return Attempt.model_validate(data)


def read_records(path: str | Path, *, warn: bool = True) -> list[Record]:
    """Every valid record in the sidecar (attempts and reveals), in file order; a missing
    file gives ``[]``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    attempts: list[Record] = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            attempts.append(_parse_record(line))
        except (UnicodeDecodeError, json.JSONDecodeError, ValidationError, TypeError) as exc:
            if warn:
                reason = type(exc).__name__ if not isinstance(exc, ValidationError) else "not a quiz record"
                warnings.warn(
                    f"{path}: line {number} skipped ({reason})", RuntimeWarning, stacklevel=2
                )
    return attempts


def read_attempts(path: str | Path, *, warn: bool = True) -> list[Attempt]:
    """Every valid answer in the sidecar, in file order (reveals left out); ``[]`` if missing."""
    return [record for record in read_records(path, warn=warn) if isinstance(record, Attempt)]


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
        if not isinstance(attempt, Attempt) or (lesson is not None and attempt.lesson != lesson):
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


#: Where a matched item stands (see :func:`matched_items`).
COUNTED = "counted"  # answered blind before the lesson, then again in the post stage: in the gain
WAITING = "waiting"  # answered blind before the lesson; the post stage has not asked it yet
UNANSWERED = "unanswered"  # not answered yet in either stage
REVEALED = "revealed"  # its verdict was shown on request before the post stage asked it: left out
LATE = "late"  # first answered in the pre stage only after the post stage (or never): left out
LEFT_OUT = (REVEALED, LATE)


@dataclass(frozen=True)
class MatchedItem:
    """One ``pre`` question and its two rounds."""

    key: str | int
    status: str
    before: bool | None = None  # first try in the pre stage right?
    after: bool | None = None  # first try when the post stage asked it again right?

    @property
    def blind(self) -> bool:
        """Its pre answer was given blind and stays in the gain (now or once the post stage asks it)."""
        return self.status in (COUNTED, WAITING)

    @property
    def verdict_due(self) -> bool:
        """The pre card may show its verdict: the post stage has asked it again, or the
        learner asked to see it (a pre answer given after the post twin is no longer blind)."""
        return self.status in (COUNTED, REVEALED, LATE)


def matched_items(quiz: Quiz, records: Iterable[Record], lesson: str) -> list[MatchedItem]:
    """Each ``pre`` question's standing, from the records in the order they happened.

    A pre answer counts in the gain only if it was given **blind**: its first try came before
    the post stage's first try at the same question (the post stage shows the verdict), and the
    learner did not ask to see its verdict before that (a :class:`Reveal`).
    """
    wanted = {quiz.key(i) for i in quiz.stage_indices("pre")}
    first: dict[tuple[str, object], tuple[int, Record]] = {}
    for position, record in enumerate(records):
        if record.lesson != lesson or record.question not in wanted:
            continue
        kind = "reveal" if isinstance(record, Reveal) else record.stage
        first.setdefault((kind, record.question), (position, record))
    items = []
    for i in quiz.stage_indices("pre"):
        key = quiz.key(i)
        pre, post, reveal = (first.get((kind, key)) for kind in ("pre", "post", "reveal"))
        before = pre[1].correct if pre else None
        after = post[1].correct if post else None
        if pre is None:
            status = UNANSWERED if post is None else LATE
        elif post is not None and post[0] < pre[0]:
            status = LATE
        elif reveal is not None and (post is None or reveal[0] < post[0]):
            status = REVEALED
        elif post is None:
            status = WAITING
        else:
            status = COUNTED
        items.append(MatchedItem(key, status, before, after))
    return items


@dataclass(frozen=True)
class MatchedGain:
    """The pre/post comparison on the matched items: the ``pre`` questions, asked before the
    lesson and again (options reshuffled) in the ``post`` stage, counting only the items whose
    pre answer was given blind (:func:`matched_items`)."""

    items: tuple[MatchedItem, ...]

    def _score(self, stage: str, attribute: str) -> StageScore:
        counted = [item for item in self.items if item.status == COUNTED]
        return StageScore(stage=stage, total=len(counted), answered=len(counted),
                          first_correct=sum(bool(getattr(item, attribute)) for item in counted),
                          last_correct=0)

    @property
    def before(self) -> StageScore:
        """The counted items' first tries before the lesson."""
        return self._score("pre", "before")

    @property
    def after(self) -> StageScore:
        """The counted items' first tries when the post stage asked them again."""
        return self._score("post", "after")

    @property
    def questions(self) -> int:
        """How many ``pre`` questions the quiz has (matched items, counted or not)."""
        return len(self.items)

    @property
    def counted(self) -> int:
        return sum(item.status == COUNTED for item in self.items)

    @property
    def left_out(self) -> int:
        """Items out of the gain: verdict seen on request, or not answered before the post stage."""
        return sum(item.status in LEFT_OUT for item in self.items)

    @property
    def revealed(self) -> int:
        return sum(item.status == REVEALED for item in self.items)

    @property
    def waiting(self) -> int:
        """Items answered blind whose verdict waits for the post stage: while there are any, no
        count of right pre answers may be shown (it would give the verdicts away)."""
        return sum(item.status == WAITING for item in self.items)

    @property
    def pending(self) -> int:
        """Items that may still enter the gain: not answered yet, or waiting for the post stage."""
        return sum(item.status in (UNANSWERED, WAITING) for item in self.items)

    @property
    def complete(self) -> bool:
        """Nothing pending and at least one item counted."""
        return self.pending == 0 and self.counted > 0

    @property
    def points(self) -> int | None:
        """Percentage points gained (negative: lost) on the counted items, once complete."""
        if not self.complete:
            return None
        return round(self.after.percent) - round(self.before.percent)

    @property
    def normalized(self) -> float | None:
        """Hake's normalized gain ⟨g⟩ = (post − pre) / (100 − pre), in percent of the counted
        items, once complete: the share of what there was to learn that was learned. ``None``
        before that, and when the pre score is already 100 % (nothing left to gain)."""
        if not self.complete:
            return None
        pre, post = self.before.percent, self.after.percent
        if pre >= 100:
            return None
        return (post - pre) / (100 - pre)


def matched_gain(quiz: Quiz, records: Iterable[Record], lesson: str) -> MatchedGain:
    return MatchedGain(tuple(matched_items(quiz, list(records), lesson)))


def remove_attempts(path: str | Path, lesson: str, items: Iterable[tuple[str, str | int]]) -> int:
    """Delete the records of ``lesson`` whose ``(stage, question)`` is in ``items`` (answers and
    reveals); return how many went. Lines that are not valid records are kept as they are. The
    file is replaced atomically (written beside it, then renamed)."""
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
            attempt = _parse_record(line)
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
