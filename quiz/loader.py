"""Read a quiz file and turn every problem in it into a message a quiz author can act on.

pydantic does the validating (see :mod:`quiz.schema`); this module reads the JSON, runs
the models, and translates pydantic's errors into lines such as::

    lessons/35/quiz.json: question 3 (id "tying"), field "correct": expected an integer
    index into "options" (0 to 3), got true (a boolean)

All problems of a file are reported at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .schema import (
    COURSE_EDITION,
    LEGACY_KEYS,
    MAX_OPTIONS,
    MIN_OPTIONS,
    STAGES,
    CourseQuiz,
    Quiz,
    duplicate_ids,
)

QUESTION_KEYS = ("stage", "question", "options", "correct", "explanation", "id")
TOP_LEVEL_KEYS = ("lesson", "title", "questions", "edition")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a quiz file."""

    file: str
    detail: str
    question: int | None = None  # 1-based
    question_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.question is not None:
            label = f"question {self.question}"
            if self.question_id:
                label += f' (id "{self.question_id}")'
            parts.append(label)
        elif self.field is not None:
            parts.append("top level")
        if self.field is not None:
            parts.append(f'field "{self.field}"')
        where = ", ".join(parts) + ": " if parts else ""
        return f"{self.file}: {where}{self.detail}"


class QuizError(ValueError):
    """A quiz file could not be read or is not valid. ``problems`` lists every issue."""

    def __init__(self, problems: list[Problem] | str, file: str = "<quiz>"):
        if isinstance(problems, str):
            problems = [Problem(file=file, detail=problems)]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def _render_traceback_(self) -> list[str]:
        """How IPython shows the error in a notebook: the messages, not a stack trace."""
        return ["\x1b[31mQuizError\x1b[0m: the quiz file has problems:"] + [
            f"  {problem}" for problem in self.problems
        ]


def load_quiz(path: str | Path) -> Quiz:
    """Load and validate a quiz file; raise :class:`QuizError` naming every problem."""
    path = Path(path)
    name = str(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise QuizError("file not found", file=name) from None
    except IsADirectoryError:
        raise QuizError("is a directory, expected a quiz .json file", file=name) from None
    except OSError as exc:
        raise QuizError(f"cannot read the file ({exc.strerror or exc})", file=name) from None
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise QuizError(
            f"not UTF-8 text (bad byte at offset {exc.start}): save the file as UTF-8",
            file=name,
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise QuizError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", file=name
        ) from None
    quiz = parse_quiz(data, source=name)
    if quiz.lesson is None:
        # A bare list of questions names no lesson: the lesson's folder does.
        folder = path.resolve().parent.name or "lesson"
        quiz = quiz.model_copy(update={"lesson": folder})
    quiz._path = path
    return quiz


def parse_quiz(data: Any, source: str = "<quiz>") -> Quiz:
    """Validate already-parsed JSON data (an object or a list of questions)."""
    if isinstance(data, list):
        data = {"questions": data}
    elif not isinstance(data, dict):
        raise QuizError(
            "expected a JSON object with a \"questions\" list, or a list of questions; "
            f"got {_describe(data)}",
            file=source,
        )
    # A course release's file may withhold the key of its graded questions (see quiz.schema).
    model = CourseQuiz if data.get("edition") == COURSE_EDITION else Quiz
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = _translate(exc, data, source)
    raise QuizError(problems)


# --- error translation -------------------------------------------------------------


def _translate(exc: ValidationError, data: dict, source: str) -> list[Problem]:
    questions = data.get("questions")
    questions = questions if isinstance(questions, list) else []
    problems: list[Problem] = []
    seen: set[tuple] = set()
    for error in exc.errors(include_url=False):
        problem = _problem_for(error, questions, source)
        if problem is None:
            continue
        key = (problem.question, problem.field, problem.detail)
        if key not in seen:
            seen.add(key)
            problems.append(problem)
    # The model's duplicate-id check runs only once everything else is valid: do it on
    # the raw data too, so that one run reports every problem.
    if not any(p.field == "id" and "already used" in p.detail for p in problems):
        for qid, where in duplicate_ids(questions).items():
            numbers = ", ".join(str(i + 1) for i in where)
            for index in where[1:]:
                problems.append(
                    Problem(
                        source,
                        f'id "{qid}" is already used (questions {numbers}): '
                        "expected every id to be unique",
                        question=index + 1,
                        question_id=qid,
                        field="id",
                    )
                )
    problems.sort(key=lambda p: (p.question or 0, p.field or ""))
    return problems


def _problem_for(error: dict, questions: list, source: str) -> Problem | None:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}

    if kind == "duplicate_id":
        return _duplicate_id_problem(ctx, source)
    if not loc or loc[0] != "questions":
        return _top_level_problem(loc, kind, error, source)
    if len(loc) == 1:
        if kind == "missing":
            detail = 'missing required key "questions": expected the list of questions'
        elif kind == "too_short":
            detail = "expected at least one question, got an empty list"
        elif kind == "list_type":
            detail = f"expected a list of questions, got {_describe(error['input'])}"
        else:
            detail = error["msg"]
        return Problem(source, detail, field="questions")

    index = loc[1]
    raw = questions[index] if isinstance(index, int) and index < len(questions) else None
    qid = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None
    number = index + 1 if isinstance(index, int) else None
    rest = loc[2:]

    if not rest:
        if kind == "model_type":
            detail = (
                "expected an object with keys " + ", ".join(f'"{k}"' for k in QUESTION_KEYS[:5])
                + f" (and optionally \"id\"), got {_describe(error['input'])}"
            )
            return Problem(source, detail, question=number)
        if kind in ("half_key", "keyless_stage", "keyless_id"):
            field = {"half_key": ctx.get("missing"), "keyless_stage": "stage", "keyless_id": "id"}[kind]
            return Problem(source, error["msg"], question=number, question_id=qid, field=field)
        if kind == "correct_out_of_range":
            detail = (
                f"is {ctx['correct']}: expected a 0-based index into \"options\", from 0 to "
                f"{ctx['last']} (this question has {ctx['count']} options)"
            )
            return Problem(source, detail, question=number, question_id=qid, field="correct")
        return Problem(source, error["msg"], question=number, question_id=qid)

    field = rest[0]
    if kind == "extra_forbidden" and field in LEGACY_KEYS:
        new = LEGACY_KEYS[field]
        if isinstance(raw, dict) and new in raw:
            detail = f'legacy key "{field}" (now called "{new}", which is also present): remove it'
        else:
            detail = (
                f'legacy key "{field}": rename it to "{new}" '
                f"(old keys map to new ones: {', '.join(_legacy_map())})"
            )
        return Problem(source, detail, question=number, question_id=qid, field=field)
    if kind == "missing" and isinstance(raw, dict):
        legacy = next((old for old, new in LEGACY_KEYS.items() if new == field and old in raw), None)
        if legacy is not None:
            return None  # reported once, as the legacy key
    field_label = field if len(rest) == 1 else f"{field}[{rest[1]}]"
    detail = _field_detail(field, rest, kind, error, raw)
    return Problem(source, detail, question=number, question_id=qid, field=field_label)


def _field_detail(field: str, rest: tuple, kind: str, error: dict, raw: Any) -> str:
    value = error.get("input")
    if kind == "missing":
        return f'missing required key "{field}": expected {_expectation(field, raw)}'
    if kind == "extra_forbidden":
        allowed = ", ".join(f'"{k}"' for k in QUESTION_KEYS)
        return f'unknown key "{field}": a question has only the keys {allowed}'
    if kind == "blank_text":
        what = "option text" if field == "options" else "text"
        return f"{what} is empty or whitespace-only: expected non-empty text"
    if kind == "duplicate_option":
        ctx = error.get("ctx") or {}
        return (
            f"options {ctx.get('first')} and {ctx.get('second')} (0-based) are the same text "
            f"{json.dumps(ctx.get('text', ''), ensure_ascii=False)}: expected every option "
            "to be different"
        )
    if field == "options":
        if len(rest) > 1:
            return f"expected option text (a string), got {_describe(value)}"
        if kind in ("too_short", "too_long"):
            count = len(value) if isinstance(value, list) else "?"
            return f"expected {MIN_OPTIONS} to {MAX_OPTIONS} options, got {count}"
        if kind == "list_type":
            return f"expected a list of {MIN_OPTIONS} to {MAX_OPTIONS} strings, got {_describe(value)}"
        return error["msg"]
    if field == "correct":
        return f"expected {_expectation('correct', raw)}, got {_describe(value)}"
    if field == "stage":
        stages = ", ".join(f'"{s}"' for s in STAGES)
        return f"expected one of {stages}, got {_describe(value)}"
    if kind == "string_type":
        return f"expected a string, got {_describe(value)}"
    return error["msg"]


def _expectation(field: str, raw: Any) -> str:
    if field == "correct":
        options = raw.get("options") if isinstance(raw, dict) else None
        if isinstance(options, list) and MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            return f'an integer index into "options" (0 to {len(options) - 1})'
        return 'an integer index into "options" (0-based)'
    return {
        "stage": "one of " + ", ".join(f'"{s}"' for s in STAGES),
        "question": "the question text (a string)",
        "options": f"a list of {MIN_OPTIONS} to {MAX_OPTIONS} option strings",
        "explanation": 'a string (it may be empty: "")',
    }.get(field, "a value")


def _duplicate_id_problem(ctx: dict, source: str) -> Problem:
    qid = str(ctx.get("qid", ""))
    numbers = str(ctx.get("numbers", ""))
    last = numbers.split(",")[-1].strip()
    return Problem(
        source,
        f'id "{qid}" is already used (questions {numbers}): expected every id to be unique',
        question=int(last) if last.isdigit() else None,
        question_id=qid or None,
        field="id",
    )


def _top_level_problem(loc: tuple, kind: str, error: dict, source: str) -> Problem:
    field = str(loc[0]) if loc else None
    if kind == "extra_forbidden":
        allowed = ", ".join(f'"{k}"' for k in TOP_LEVEL_KEYS)
        detail = f'unknown key "{field}": a quiz file has only the keys {allowed}'
    elif kind == "missing":
        detail = 'missing required key "questions": expected the list of questions'
    elif kind == "blank_text":
        detail = "is empty or whitespace-only: expected non-empty text"
    elif kind == "string_type":
        detail = f"expected a string, got {_describe(error.get('input'))}"
    elif field == "edition":
        detail = (f'expected "full" or "{COURSE_EDITION}" (a course release, whose graded post '
                  f"questions may withhold their key), got {_describe(error.get('input'))}")
    else:
        detail = error["msg"]
    return Problem(source, detail, field=field)


def _legacy_map() -> list[str]:
    return [f"{old}\u2192{new}" for old, new in LEGACY_KEYS.items()]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{json.dumps(value)} (a boolean)"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"{json.dumps(value)} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{json.dumps(shown, ensure_ascii=False)} (a string)"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


__all__ = ["Problem", "QuizError", "load_quiz", "parse_quiz"]
