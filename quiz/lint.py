"""Quality checks beyond validity: answer-position spread, length bias, empty explanations,
and whether a Chinese file and its English edition still match question for question."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .loader import Problem, QuizError, load_quiz
from .schema import Quiz
from .selection import EN_SUFFIX, english_path, primary_path
from .shuffle import LETTERS

#: A correct option this many times longer than the longest distractor gives itself away.
LENGTH_BIAS_RATIO = 1.25


@dataclass(frozen=True)
class LengthCheck:
    number: int  # 1-based
    question_id: str | None
    correct_length: int
    longest_distractor: int

    @property
    def is_longest(self) -> bool:
        return self.correct_length > self.longest_distractor

    @property
    def ratio(self) -> float:
        return self.correct_length / max(1, self.longest_distractor)

    @property
    def is_biased(self) -> bool:
        return self.is_longest and self.correct_length >= LENGTH_BIAS_RATIO * self.longest_distractor


@dataclass
class LintReport:
    total: int
    positions: dict[str, int]  # slot letter -> how many correct answers sit there in the file
    lengths: list[LengthCheck]
    empty_explanations: list[tuple[int, str | None]]
    pair_problems: list[Problem] = field(default_factory=list)

    @property
    def biased(self) -> list[LengthCheck]:
        return [c for c in self.lengths if c.is_biased]

    @property
    def longest(self) -> list[LengthCheck]:
        return [c for c in self.lengths if c.is_longest]

    @property
    def failed(self) -> bool:
        return bool(self.biased or self.pair_problems)


def lint_quiz(quiz: Quiz) -> LintReport:
    widest = max(len(q.options) for q in quiz.questions)
    positions = {LETTERS[i]: 0 for i in range(widest)}
    lengths: list[LengthCheck] = []
    empty: list[tuple[int, str | None]] = []
    for number, q in enumerate(quiz.questions, start=1):
        if not q.has_key:  # a course release withholds it: nothing to check here
            continue
        positions[LETTERS[q.correct]] += 1
        distractors = [len(o) for i, o in enumerate(q.options) if i != q.correct]
        lengths.append(LengthCheck(number, q.id, len(q.correct_option), max(distractors)))
        if not q.explanation.strip():
            empty.append((number, q.id))
    return LintReport(len(quiz.questions), positions, lengths, empty)


def check_pair(path: Path) -> list[Problem]:
    """Compare a quiz file with its other edition (``quiz.json`` ↔ ``quiz.en.json``), if any.

    Both editions share progress records and option order, so they must agree on the
    number of questions, ids, stages, option counts and the correct index.
    """
    primary, english = primary_path(path), english_path(path)
    other = english if not path.name.endswith(EN_SUFFIX) else primary
    if not other.is_file() or not primary.is_file():
        return []
    try:
        main, translated = load_quiz(primary), load_quiz(english)
    except QuizError:
        return []  # reported when that file itself is validated
    name = str(english)
    problems: list[Problem] = []
    if len(main.questions) != len(translated.questions):
        problems.append(
            Problem(
                name,
                f"has {len(translated.questions)} questions but {primary.name} has "
                f"{len(main.questions)}: expected the same questions in the same order",
            )
        )
    for index, (a, b) in enumerate(zip(main.questions, translated.questions)):
        for attribute in ("id", "stage", "correct"):
            if getattr(a, attribute) != getattr(b, attribute):
                problems.append(
                    Problem(
                        name,
                        f"is {getattr(b, attribute)!r} but {getattr(a, attribute)!r} in "
                        f"{primary.name}: expected the editions to match",
                        question=index + 1, question_id=b.id, field=attribute,
                    )
                )
        if len(a.options) != len(b.options):
            problems.append(
                Problem(
                    name,
                    f"has {len(b.options)} options but {len(a.options)} in {primary.name}: "
                    "expected the same options in the same order",
                    question=index + 1, question_id=b.id, field="options",
                )
            )
    return problems
