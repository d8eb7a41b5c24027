"""The graded post quiz, scored on the trusted side.

In a course release the ``post`` questions come without their key (``grader.build``); the
student's notebook saves their choices in ``quiz-answers.json`` beside it (``quiz.answers``),
and nbgrader's submit and collect bring that file in with the notebook. After the student's
kernel has run the notebook, ``GradingExecute`` (``grader.plugins.grading_execute``) calls
:func:`score_cell` for the build's ``post_quiz`` test cell: it reads the answers from the
*submitted* folder (the kernel only ever sees its own copy in ``autograded/``, and whatever it
wrote there is ignored), scores them against the instructor's key,
``grader/lessons/<slug>/quiz.json`` (never inside the sandbox), and replaces the cell's outputs
with one line per question and a numeric ``execute_result``, which nbgrader scores as partial
credit (``nbgrader.utils.determine_grade``). What the kernel printed there does not count.

A missing, oversized, unreadable or malformed answers file scores 0 for this cell only, with the
reason in the feedback. A key that cannot be read is the instructor's problem: the cell scores 0
and the submission NEEDS REVIEW.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.catalog import lesson_dir
from quiz import QuizError, load_quiz
from quiz.answers import ANSWERS_FILE, MAX_BYTES, parse_answers
from quiz.schema import GRADED_STAGE


@dataclass
class QuizScore:
    score: float
    points: float
    lines: list[str] = field(default_factory=list)
    right: int = 0
    total: int = 0

    def outputs(self, execution_count=None) -> list:
        """The cell's outputs: what happened, then the score nbgrader reads."""
        text = "\n".join(self.lines) + "\n"
        return [nbformat.v4.new_output("stream", name="stdout", text=text),
                nbformat.v4.new_output("execute_result", data={"text/plain": f"{self.score:g}"},
                                       execution_count=execution_count)]


class KeyUnusable(RuntimeError):
    """The instructor's key cannot be used."""


def load_key(course_root: Path, slug: str) -> tuple[str, list[tuple[str, int]]]:
    """(lesson name, [(question id, correct option)]) of the lesson's post questions, from the
    instructor's ``grader/lessons/<slug>/quiz.json`` (``grader.catalog.lesson_dir``)."""
    path = lesson_dir(slug, Path(course_root)) / "quiz.json"
    try:
        quiz = load_quiz(path)
    except QuizError as exc:
        raise KeyUnusable(f"cannot read the key {path}: {str(exc).splitlines()[0]}") from None
    key = []
    for index in quiz.stage_indices(GRADED_STAGE):
        question = quiz.questions[index]
        if not question.has_key:
            raise KeyUnusable(f"{path} has no key for post question {quiz.key(index)!r} (is it a course edition?)")
        key.append((str(quiz.key(index)), question.correct))
    if not key:
        raise KeyUnusable(f"{path} has no post questions")
    return str(quiz.lesson), key


def read_submitted(folder: Path) -> tuple[bytes | None, str | None]:
    """(bytes, None) of ``folder/quiz-answers.json``, or (None, why not). Never follows a
    symbolic link, never opens anything but a plain file, never reads more than the cap."""
    path = Path(folder) / ANSWERS_FILE
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, f"no {ANSWERS_FILE} was handed in (the post quiz's Save buttons write it beside the notebook)"
    except OSError as exc:
        if path.is_symlink():
            return None, f"{ANSWERS_FILE} is a symbolic link, not a file"
        return None, f"{ANSWERS_FILE} cannot be read ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, f"{ANSWERS_FILE} is not a plain file"
        if info.st_size > MAX_BYTES:
            return None, f"{ANSWERS_FILE} has {info.st_size} bytes, more than the {MAX_BYTES} an answers file may have"
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), None
    except OSError as exc:
        return None, f"{ANSWERS_FILE} cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)


def score_answers(lesson: str, key: list[tuple[str, int]], raw: bytes | None, problem: str | None,
                  points: float) -> QuizScore:
    """Score the bytes of an answers file (or the reason there are none) against ``key``."""
    total = len(key)
    if problem is None and raw is None:
        problem = f"no {ANSWERS_FILE} was handed in"
    if problem is None:
        saved = parse_answers(raw, lesson)
        problem = None if saved.problem is None else f"{ANSWERS_FILE} cannot be used: {saved.problem}"
    if problem is not None:
        return QuizScore(0.0, points, [f"post quiz: 0/{total} correct: {problem}"], 0, total)
    lines, right = [], 0
    for qid, correct in key:
        chosen = saved.answers.get(qid)
        if chosen is None:
            lines.append(f"  {qid}: no answer saved")
        elif chosen == correct:
            right += 1
            lines.append(f"  {qid}: right")
        else:
            lines.append(f"  {qid}: wrong")
    score = round(points * right / total, 4)
    return QuizScore(score, points, [f"post quiz: {right}/{total} correct"] + lines, right, total)


def score_cell(cell, course_root: Path, slug: str, submitted_folder: Path) -> str | None:
    """Replace the ``post_quiz`` cell's outputs with its trusted score. Returns a NEEDS REVIEW
    detail when the instructor's key cannot be used (the cell then scores 0), else None."""
    points = float(cell.metadata.get("nbgrader", {}).get("points") or 0)
    try:
        lesson, key = load_key(course_root, slug)
    except KeyUnusable as exc:
        cell.outputs = [nbformat.v4.new_output(
            "error", ename="PostQuizKeyMissing", evalue=f"the post quiz could not be scored: {exc}",
            traceback=[f"PostQuizKeyMissing: the post quiz could not be scored: {exc}"])]
        return str(exc)
    raw, problem = read_submitted(submitted_folder)
    result = score_answers(lesson, key, raw, problem, points)
    cell.outputs = result.outputs(cell.get("execution_count"))
    return None
