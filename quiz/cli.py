"""``python -m quiz``: validate, lint, take and report on quizzes from a shell."""

from __future__ import annotations

import argparse
import sys
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from . import markdown
from .answers import ANSWERS_FILE, read_answers, save_answer
from .i18n import stage_name, tr
from .lint import LENGTH_BIAS_RATIO, check_pair, lint_quiz
from .loader import QuizError, load_quiz
from .progress import (
    PROGRESS_FILE,
    Attempt,
    append_attempt,
    asked_in,
    matched_gain,
    now_iso,
    per_question,
    read_attempts,
    read_records,
    stage_score,
)
from .schema import STAGES, Quiz
from .selection import primary_path, select
from .shuffle import LETTERS
from .static import question_meta

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

DESCRIPTION = "Validate, lint, take and report on gpt2-course lesson quizzes."
EPILOG = """\
exit codes:
  0  everything is fine
  1  problems found: an invalid or unreadable quiz file, a length-biased question or
     mismatched language editions (lint), no progress file (report)
  2  the command line itself is wrong (unknown command or option)

examples:
  python -m quiz validate lessons/                 every quiz*.json under lessons/
  python -m quiz lint lessons/35-gpt-model-assembly/quiz.json
  python -m quiz take lessons/35-gpt-model-assembly/quiz.json --stage pre
  python -m quiz report lessons/35-gpt-model-assembly/quiz-progress.jsonl
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m quiz",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    validate = commands.add_parser(
        "validate",
        help="check that quiz files follow the format (exit 1 if not)",
        description="Check quiz files against the format and print every problem found. "
        "A folder stands for every quiz*.json file under it.",
    )
    validate.add_argument("paths", nargs="+", metavar="PATH", help="quiz file or folder")

    lint = commands.add_parser(
        "lint",
        help="validate, then check answer positions, length bias, explanations",
        description=(
            "Validate, then report: where the correct answers sit in the file (count per "
            "slot A-F), how often the correct option is the longest, length-biased "
            f"questions (correct option strictly longest and >= {LENGTH_BIAS_RATIO}x the "
            "longest distractor, in characters), empty explanations, and whether "
            "quiz.json and quiz.en.json still match. Exit 1 on any error or length-biased "
            "question; empty explanations and a skewed spread are warnings only."
        ),
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help="quiz file or folder")

    take = commands.add_parser(
        "take",
        help="take a quiz in the terminal (answers read from standard input)",
        description="Take a quiz without Jupyter: options are shuffled (as in the notebook) "
        "and lettered; type a letter and Enter. Answers are saved to the progress file "
        "beside the quiz unless --no-save is given.",
    )
    take.add_argument("path", metavar="PATH", help="quiz file")
    take.add_argument(
        "--stage", choices=[*STAGES, "all"], default="all", help="which questions (default: all)"
    )
    take.add_argument("--lang", choices=["zh", "en"], help="language of the engine's words and edition")
    saving = take.add_mutually_exclusive_group()
    saving.add_argument("--progress", metavar="FILE", help=f"progress file (default: {PROGRESS_FILE} beside the quiz)")
    saving.add_argument("--no-save", action="store_true", help="do not record answers")

    report = commands.add_parser(
        "report",
        help="summarise a progress file: per stage and question, attempts and results",
        description=f"Summarise answers recorded in a progress file ({PROGRESS_FILE}). PATH "
        "may be the progress file, the folder holding it, or the quiz file beside it "
        "(then question totals and numbers come from the quiz).",
    )
    report.add_argument("path", metavar="PATH", help="progress file, its folder, or the quiz file")
    return parser


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")  # a non-UTF-8 console must not crash us
        except (AttributeError, ValueError):
            pass
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return cmd_validate(args.paths)
        if args.command == "lint":
            return cmd_lint(args.paths)
        if args.command == "take":
            return cmd_take(args, stdin or sys.stdin)
        return cmd_report(args.path)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS


# --- validate / lint -------------------------------------------------------------------


def expand(paths: Sequence[str]) -> tuple[list[Path], list[str]]:
    """Files named on the command line, with folders expanded to their quiz*.json files."""
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("quiz*.json") if ".ipynb_checkpoints" not in p.parts)
            if not found:
                errors.append(f"{path}: no quiz*.json files in this folder")
            files.extend(found)
        else:
            files.append(path)
    return files, errors


def _summary(quiz: Quiz) -> str:
    counts = [f"{len(quiz.stage_indices(s))} {s}" for s in STAGES if quiz.stage_indices(s)]
    n = len(quiz.questions)
    return f"{n} question{'s' if n != 1 else ''}: {', '.join(counts)}"


def cmd_validate(paths: Sequence[str]) -> int:
    files, errors = expand(paths)
    for error in errors:
        print(error)
    bad = len(errors)
    for path in files:
        try:
            quiz = load_quiz(path)
        except QuizError as exc:
            bad += 1
            print(exc)
            continue
        print(f"ok: {path} ({_summary(quiz)})")
    if bad:
        print(f"{bad} of {len(files) + len(errors)} failed validation", file=sys.stderr)
    return EXIT_PROBLEMS if bad else EXIT_OK


def cmd_lint(paths: Sequence[str]) -> int:
    files, errors = expand(paths)
    for error in errors:
        print(error)
    failed = len(errors)
    pairs_seen: set[Path] = set()
    for path in files:
        try:
            quiz = load_quiz(path)
        except QuizError as exc:
            failed += 1
            print(exc)
            print()
            continue
        report = lint_quiz(quiz)
        pair_key = primary_path(path).resolve()
        if pair_key not in pairs_seen:
            pairs_seen.add(pair_key)
            report.pair_problems = check_pair(path)
        n = report.total
        print(f"{path} ({_summary(quiz)})")
        spread = ", ".join(f"{slot} {count}" for slot, count in report.positions.items())
        print(f"  answer position in the file: {spread}")
        top_slot, top_count = max(report.positions.items(), key=lambda kv: kv[1])
        if n >= 3 and top_count * 2 > n:
            print(
                f"  note: {top_count}/{n} correct answers sit in slot {top_slot}; learners see "
                "options shuffled, but vary the file too"
            )
        print(f"  correct-is-longest {len(report.longest)}/{n}")
        print(f"  length-biased {len(report.biased)}/{n}")
        for check in report.biased:
            label = f"question {check.number}" + (f' (id "{check.question_id}")' if check.question_id else "")
            print(
                f"    {label}: the correct option has {check.correct_length} characters, the "
                f"longest distractor {check.longest_distractor} ({check.ratio:.2f}x)"
            )
        print(f"  empty explanations {len(report.empty_explanations)}/{n}")
        for number, qid in report.empty_explanations:
            label = f"question {number}" + (f' (id "{qid}")' if qid else "")
            print(f"    warning: {label} has an empty explanation")
        for problem in report.pair_problems:
            print(f"  error: {problem}")
        if report.failed:
            failed += 1
            reasons = []
            if report.biased:
                reasons.append(
                    f"{len(report.biased)} length-biased question(s): make the distractors as "
                    "long and specific as the right answer, or shorten it"
                )
            if report.pair_problems:
                reasons.append("the language editions do not match")
            print(f"  FAIL: {'; '.join(reasons)}")
        print()
    if failed:
        print(f"lint: {failed} of {len(files) + len(errors)} failed", file=sys.stderr)
    return EXIT_PROBLEMS if failed else EXIT_OK


# --- take --------------------------------------------------------------------------------


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _read_choice(stdin: TextIO, count: int, lang: str) -> int | None:
    """The position (0-based) the learner typed, or ``None`` at end of input."""
    letters = LETTERS[:count]
    while True:
        print(tr("take_prompt", lang, letters="/".join(letters)), end="", flush=True)
        line = stdin.readline()
        if not line:
            print()
            return None
        if not _is_tty(stdin):
            print(line.rstrip("\r\n"))  # piped input: show what was "typed"
        answer = unicodedata.normalize("NFKC", line).strip().upper().rstrip(".)")
        if len(answer) == 1 and answer in letters:
            return letters.index(answer)
        if answer.isdigit() and 1 <= int(answer) <= count:
            return int(answer) - 1
        print(tr("take_invalid", lang, letters=", ".join(letters)))


def cmd_take(args: argparse.Namespace, stdin: TextIO) -> int:
    stage = None if args.stage == "all" else args.stage
    try:
        selection = select(args.path, stage, lang=args.lang, progress_path=args.progress)
    except QuizError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEMS
    lang = selection.lang
    colon = tr("colon", lang)
    if selection.quiz.title:
        print(selection.quiz.title)
        print()
    if not selection.items:
        print(tr("take_none", lang))
        return EXIT_OK
    right = answered = graded = 0
    save_warned = False
    for item in selection.items:
        q = item.question
        print(f"[{question_meta(item, lang)}]")
        print(markdown.to_plain(q.question))
        for position, original in enumerate(item.order):
            print(f"  {LETTERS[position]}. {markdown.to_label(q.options[original])}")
        position = _read_choice(stdin, len(item.order), lang)
        if position is None:
            print(tr("take_stopped", lang))
            break
        chosen = item.order[position]
        answered += 1
        if not q.has_key:  # a course release: saved for grading on submission, no verdict
            if not args.no_save:
                try:
                    save_answer(selection.answers_path, selection.lesson, str(item.key), chosen)
                except OSError as exc:
                    print(f"warning: cannot save the answer to {selection.answers_path}: "
                          f"{exc.strerror or exc}", file=sys.stderr)
            print(tr("saved", lang, letter=LETTERS[position]))
            print()
            graded += 1
            continue
        correct = chosen == q.correct
        right += correct
        if item.stage == "pre":  # answered blind: the verdict waits for the post stage (quiz/README.md)
            print(tr("blind_saved", lang, letter=LETTERS[position]))
            print()
        else:
            print(tr("correct" if correct else "incorrect", lang))
            print(f"{tr('right_answer', lang)}{colon}{item.letter_of(q.correct)}. {markdown.to_label(q.correct_option)}")
            explanation = markdown.to_plain(q.explanation) or tr("no_explanation", lang)
            print(f"{tr('explanation', lang)}{colon}{explanation}")
            if item.asked_again and not args.no_save:  # the pre answer to the same question may show now
                earlier = per_question(read_attempts(selection.progress_path, warn=False), selection.lesson)
                before = earlier.get((selection.lesson, "pre", item.key))
                if before is not None:
                    verdict = tr("correct" if before.last_correct else "incorrect", lang)
                    print(tr("pre_was", lang, verdict=verdict))
            print()
        if not args.no_save:
            attempt = Attempt(
                time=now_iso(), lesson=selection.lesson, question=item.key, stage=item.stage,
                chosen=chosen, correct=correct, learner=selection.learner,
            )
            try:
                append_attempt(selection.progress_path, attempt)
            except OSError as exc:
                if not save_warned:
                    save_warned = True
                    print(
                        f"warning: cannot save answers to {selection.progress_path}: "
                        f"{exc.strerror or exc}",
                        file=sys.stderr,
                    )
    keyed = len([item for item in selection.items if item.question.has_key])
    if keyed and selection.stage != "pre":  # a pre-only run keeps its verdicts for the post stage
        print(tr("take_final", lang, right=right, total=keyed, answered=answered - graded))
    graded_total = len(selection.items) - keyed
    if graded_total:
        print(tr("graded_score", lang, stage=stage_name(selection.stage or "post", lang),
                 answered=graded, total=graded_total))
    return EXIT_OK


# --- report ------------------------------------------------------------------------------


def _quiz_beside(folder: Path) -> Quiz | None:
    """The quiz (primary edition) in the folder that holds a progress file, if any: the
    report then counts totals over the quiz, as the notebook does."""
    candidate = folder / "quiz.json"
    return load_quiz(candidate) if candidate.is_file() else None


def _locate_progress(path: Path) -> tuple[Path, Quiz | None]:
    if path.is_dir():
        return path / PROGRESS_FILE, _quiz_beside(path)
    if path.suffix == ".json":
        primary = primary_path(path)
        return path.resolve().parent / PROGRESS_FILE, load_quiz(primary if primary.is_file() else path)
    return path, _quiz_beside(path.resolve().parent)


def cmd_report(raw_path: str) -> int:
    try:
        progress, quiz = _locate_progress(Path(raw_path))
    except QuizError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEMS
    answers_file = progress.parent / ANSWERS_FILE
    keyless = quiz is not None and quiz.keyless
    if not progress.is_file() and not (keyless and answers_file.is_file()):
        print(f"{progress}: no progress file (no answers recorded yet?)", file=sys.stderr)
        return EXIT_PROBLEMS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = read_records(progress)
        attempts = [record for record in records if isinstance(record, Attempt)]
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    print(f"{progress}: {len(attempts)} recorded answer{'s' if len(attempts) != 1 else ''}")
    saved = None
    if keyless:
        found = read_answers(answers_file, str(quiz.lesson))
        saved = found.answers
        if found.problem:
            print(f"warning: {answers_file}: {found.problem}", file=sys.stderr)
    lessons: dict[str, list] = {}
    if keyless:
        lessons[str(quiz.lesson)] = []  # its graded answers are reported even before any check
    for record in records:  # answers and reveals, in the order they happened
        lessons.setdefault(record.lesson, []).append(record)
    for lesson, items in lessons.items():
        print()
        print(f"lesson {lesson}")
        known = quiz if quiz is not None and str(quiz.lesson) == lesson else None
        if known is None:
            print("  (no quiz file for this lesson beside the progress file: totals count answered questions only)")
        gain = matched_gain(known, items, lesson) if known is not None and known.stage_indices("pre") else None
        for stage in STAGES:
            in_stage = [a for a in items if a.stage == stage and isinstance(a, Attempt)]
            if not in_stage and not (known and asked_in(known, stage)):
                continue
            # pre answers are blind until the post stage asks them again: no right/wrong before that
            blind = stage == "pre" and gain is not None and gain.waiting
            _report_stage(stage, in_stage, known, lesson, saved, blind=blind)
        if gain is not None:
            print(_gain_line(gain))
    return EXIT_OK


def _gain_line(gain) -> str:
    """The pre -> post result on the matched questions answered blind, with Hake's ⟨g⟩."""
    before, after = gain.before, gain.after
    line = f"  pre -> post on the {gain.questions} matched question(s)"
    if gain.complete:
        g = gain.normalized
        line += (f", counting the {gain.counted} answered blind: before {before.first_correct}/{before.total}, "
                 f"after {after.first_correct}/{after.total}, {gain.points:+d} percentage points, "
                 "normalized gain <g> = " + ("n/a (full marks before)" if g is None else f"{g:.2f}"))
    elif gain.pending:
        line += f": incomplete ({gain.pending} still to answer before and after the lesson)"
    else:
        line += ": none answered blind, nothing to compare"
    if gain.left_out:
        line += f"; {gain.left_out} left out (answer seen before the post stage asked again, or not answered before it)"
    return line


def _report_stage(stage: str, attempts: list[Attempt], quiz: Quiz | None, lesson: str,
                  saved: dict | None = None, *, blind: bool = False) -> None:
    by_question: dict[object, list[Attempt]] = {}
    for attempt in attempts:
        by_question.setdefault(attempt.question, []).append(attempt)
    graded = None
    if quiz is not None:
        score = stage_score(quiz, stage, attempts, lesson, saved)  # what the notebook shows
        answered, total, first, last = score.answered, score.total, score.first_correct, score.last_correct
        if score.graded_total:
            graded = f"answered {score.graded_answered}/{score.graded_total}, graded on submission"
    else:
        answered = total = len(by_question)
        first = sum(group[0].correct for group in by_question.values())
        last = sum(group[-1].correct for group in by_question.values())
    if blind:
        print(f"  {stage}: answered {answered}/{total}; right or wrong shows once the post stage has asked them again")
    elif total or graded is None:
        print(
            f"  {stage}: answered {answered}/{total}, right on the first try {first}/{total}, "
            f"last answer right {last}/{total}"
        )
    if graded is not None:
        print(f"  {stage} without the key ({ANSWERS_FILE}): {graded}")
    if not by_question:
        return
    rows = [("question", "attempts", "last answer", "first try")]
    for key, group in by_question.items():
        rows.append(
            (
                _question_label(key, quiz),
                str(len(group)),
                "hidden" if blind else "right" if group[-1].correct else "wrong",
                "hidden" if blind else "right" if group[0].correct else "wrong",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("    " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _question_label(key, quiz: Quiz | None) -> str:
    index = quiz.index_of(key) if quiz is not None else None
    if isinstance(key, int):
        return f"#{key + 1}"
    return f"#{index + 1} {key}" if index is not None else str(key)
