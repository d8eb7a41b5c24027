"""Saved answers to the graded questions of a course release: ``quiz-answers.json``.

In a course release (``"edition": "course"``, see :mod:`quiz.schema`) the ``post`` questions
come without their key. The notebook cannot check them; it saves the learner's choice in a
small file beside the notebook, which nbgrader's submit hands in with it::

    {"version": 1, "lesson": "35-gpt-model-assembly", "stage": "post",
     "answers": {"untied-extra": 2, "random-gibberish": 0}}

Each answer is the ORIGINAL index of the chosen option in the quiz file (never the letter
the learner saw: options are shuffled per learner). Saving again replaces the answer.

The instructor's side scores the file against the key (``grader.plugins.grading_execute``), with
:func:`parse_answers`: plain data, size-capped, every problem a message, never an exception.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .schema import GRADED_STAGE

ANSWERS_FILE = "quiz-answers.json"
VERSION = 1
#: A real answers file is a few hundred bytes; anything far bigger is not one.
MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class SavedAnswers:
    """What an answers file holds: ``{question id: original option index}``, or why it cannot
    be used (``problem``; ``answers`` is then empty)."""

    answers: dict[str, int] = field(default_factory=dict)
    problem: str | None = None
    lesson: str | None = None


def answers_path_beside(path: str | Path) -> Path:
    """``quiz-answers.json`` in the folder of ``path`` (the progress file, or the quiz)."""
    return Path(path).parent / ANSWERS_FILE


def parse_answers(raw: bytes, lesson: str | None = None) -> SavedAnswers:
    """Validate the bytes of an answers file. ``lesson``: the lesson it must be for.

    Answers whose value is not a plain integer (``true`` is not an index) are dropped, as are
    keys that are not strings: the file itself stays usable."""
    if len(raw) > MAX_BYTES:
        return SavedAnswers(problem=f"the file has {len(raw)} bytes, more than the {MAX_BYTES} an answers file may have")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return SavedAnswers(problem="the file is not UTF-8 text")
    except (ValueError, RecursionError) as exc:
        return SavedAnswers(problem=f"the file is not valid JSON ({str(exc)[:80]})")
    if not isinstance(data, dict):
        return SavedAnswers(problem="the file does not hold a JSON object")
    if data.get("version") != VERSION:
        return SavedAnswers(problem=f"the file is not a version-{VERSION} answers file")
    if data.get("stage") != GRADED_STAGE:
        return SavedAnswers(problem=f"the file does not hold {GRADED_STAGE} answers")
    found = data.get("lesson")
    if not isinstance(found, str) or (lesson is not None and found != lesson):
        return SavedAnswers(problem=f"the file holds answers for another lesson ({str(found)[:80]!r})")
    answers = data.get("answers")
    if not isinstance(answers, dict):
        return SavedAnswers(problem='the file has no "answers" object')
    clean = {key: value for key, value in answers.items()
             if isinstance(key, str) and type(value) is int and 0 <= value < 64}
    return SavedAnswers(answers=clean, lesson=found)


def read_answers(path: str | Path, lesson: str | None = None) -> SavedAnswers:
    """The answers saved in ``path``; a missing file holds none (and no problem)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return SavedAnswers()
    except OSError as exc:
        return SavedAnswers(problem=f"cannot read the file ({exc.strerror or exc})")
    return parse_answers(raw, lesson)


def _write(path: Path, lesson: str, answers: dict[str, int]) -> None:
    data = {"version": VERSION, "lesson": lesson, "stage": GRADED_STAGE, "answers": answers}
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_answer(path: str | Path, lesson: str, key: str, chosen: int) -> None:
    """Record (or replace) the answer to question ``key``; raises ``OSError`` when the file
    cannot be written. A file for another lesson, or one that cannot be read, is started afresh."""
    path = Path(path)
    current = read_answers(path, lesson)
    answers = dict(current.answers) if current.problem is None else {}
    answers[key] = int(chosen)
    _write(path, lesson, answers)


def remove_answers(path: str | Path, lesson: str, keys) -> int:
    """Forget the answers to ``keys``; return how many went."""
    path = Path(path)
    current = read_answers(path, lesson)
    if current.problem is not None:
        return 0
    kept = {key: value for key, value in current.answers.items() if key not in set(keys)}
    removed = len(current.answers) - len(kept)
    if removed:
        _write(path, lesson, kept)
    return removed
