"""Prove that grading is honest: grade known submissions and compare with what they deserve.

For a lesson, ``SUBMISSIONS`` in ``grader/lessons/<slug>/grading.py`` lists submissions made from the solution:
one-bug mutants (each must fail exactly the tests named in ``fails``), correct but
differently written implementations (``fails`` empty), tampering (test cells retyped,
deleted, copied or re-tagged, grade ids and points edited) and submissions that cannot be
graded (a dead kernel, a loop that ignores the interrupt, a malformed file), which must say
NEEDS REVIEW with the right reason. Two submissions are always added: ``solution`` (full marks) and ``untouched``
(the student notebook as released: zero). Everything runs through real nbgrader commands
(generate_assignment, then autograde) in a temporary copy of the course.

    python -m grader.acceptance [SLUG ...]     prints the score table; exit 1 on any surprise
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from grader.build import POST_QUIZ_ID
from grader.catalog import COURSE_DIR, GRADER_DIR, lesson_dir, lesson_slugs, load_grading, proven, source_notebook
from grader.commands import CourseError, autograde, generate
from grader.orchestration.score_table import Status, format_score_table, integrity_findings, read_statuses
from grader.proofs.kernel_checks_pass import kernel_blind, make_kernel_checks_pass
from grader.proofs.submissions import ALL_TESTS, HarnessError, Submission, make_submission
from grader.proofs.tampering import tampering_submissions
from grader.sandbox.bwrap import course_package_dirs
from grader.trusted import load_probes
from grader.trusted.integrity import Finding
from quiz import load_quiz
from quiz.answers import ANSWERS_FILE


def load_submissions(slug: str, course_root: Path = COURSE_DIR) -> list[Submission]:
    """The solution, the untouched notebook, the lesson's ``SUBMISSIONS`` and the shared tampering
    submissions its ``TAMPERING`` asks for (``grader.proofs.tampering``)."""
    module = load_grading(lesson_dir(slug, course_root))
    extra: list[Submission] = list(getattr(module, "SUBMISSIONS", []))
    if getattr(module, "TAMPERING", None) is not None:
        source_nb = nbformat.read(source_notebook(slug, course_root), as_version=4)
        extra += tampering_submissions(module, extra, source_nb)
    return [
        Submission("solution", fails=set(), why="the instructor's solution"),
        Submission("untouched", fails=ALL_TESTS, why="the released notebook, nothing written", from_release=True),
        *extra,
    ]


def prepare_course(slug: str, root: Path, course_root: Path = COURSE_DIR) -> None:
    """A throw-away course at ``root`` holding only ``slug`` (config from the real course)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(GRADER_DIR / "nbgrader_config.py", root / "nbgrader_config.py")
    ignore = shutil.ignore_patterns("quiz-progress.jsonl", "quiz-answers.json", ".ipynb_checkpoints", "__pycache__")
    shutil.copytree(lesson_dir(slug, course_root), root / "lessons" / slug, ignore=ignore)  # its own lessons/
    shutil.copytree(source_notebook(slug, course_root).parent, source_notebook(slug, root).parent, ignore=ignore)


@dataclass
class Outcome:
    submission: Submission
    grades: dict | None  # grade id -> (score, max)
    findings: list[Finding] = field(default_factory=list)
    status: Status | None = None
    outside_checked: bool = False  # the lesson has an outside check: the integrity scan reports, it does not hold

    @property
    def expected_review(self) -> set[str]:
        held = self.submission.flagged and not self.outside_checked
        return set(self.submission.review) | ({"integrity scan"} if held else set())

    @property
    def failed(self) -> set[str]:
        return {name for name, (score, maximum) in (self.grades or {}).items() if score < maximum}

    @property
    def expected_failed(self) -> set[str]:
        if self.submission.fails == ALL_TESTS:
            return set(self.grades or {})
        return set(self.submission.fails)

    def problem(self) -> str | None:
        if bool(self.findings) != self.submission.flagged:
            if self.findings:
                return f"{self.submission.name}: flagged by the integrity scan: " + "; ".join(map(str, self.findings))
            return f"{self.submission.name}: should be flagged by the integrity scan but was not"
        if self.grades is None:
            return f"{self.submission.name}: not graded at all"
        if self.status is not None:
            shown = set(self.status.review) if self.status.needs_review else set()
            if shown != self.expected_review:
                want = f"NEEDS REVIEW ({'; '.join(sorted(self.expected_review))})" if self.expected_review else "graded"
                return f"{self.submission.name}: expected {want}, got {self.status.label}"
        if self.submission.fails == ALL_TESTS and sum(s for s, _ in self.grades.values()) != 0:
            return f"{self.submission.name}: expected zero, got some points"
        unknown = (self.expected_failed | set(self.submission.scores)) - set(self.grades)
        if unknown:
            return f"{self.submission.name}: expects results of unknown tests {sorted(unknown)}"
        wrong = [f"{name} scored {self.grades[name][0]:g}, expected {want:g}"
                 for name, want in sorted(self.submission.scores.items()) if abs(self.grades[name][0] - want) > 1e-6]
        if wrong:
            return f"{self.submission.name}: " + "; ".join(wrong)
        if self.failed != self.expected_failed:
            extra = sorted(self.failed - self.expected_failed)
            missed = sorted(self.expected_failed - self.failed)
            parts = []
            if extra:
                parts.append(f"also failed {extra}")
            if missed:
                parts.append(f"should have failed {missed} but passed")
            return f"{self.submission.name}: " + "; ".join(parts)
        return None


class Tampering(HarnessError):
    """Grading changed something no submission may change."""


def fingerprint(paths: list[Path]) -> dict[str, str]:
    """sha256 of every file under ``paths``: the course code, the sources, the submissions."""
    found = {}
    for top in paths:
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()) if top.exists() else []
        for path in files:
            if "__pycache__" not in path.parts:
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def gradebook_rows(root: Path, slug: str, student: str) -> list:
    """Everything the gradebook holds about one student's submission of ``slug``."""
    with Gradebook("sqlite:///" + str(root / "gradebook.db")) as gradebook:
        notebook = gradebook.find_submission_notebook(slug, slug, student)
        return sorted([(g.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade) for g in notebook.grades]
                      + [(c.name, c.auto_comment, c.manual_comment) for c in notebook.comments], key=str)


def post_quiz_key(root: Path, slug: str) -> tuple[str, dict[str, int]]:
    """(lesson name, {post question id: correct option}) from the instructor's ``lessons/<slug>/quiz.json``."""
    path = lesson_dir(slug, root) / "quiz.json"
    if not path.is_file():
        return slug, {}
    quiz = load_quiz(path)
    return str(quiz.lesson), {str(quiz.key(i)): quiz.questions[i].correct for i in quiz.stage_indices("post")}


def answers_text(lesson: str, answers: dict) -> str:
    """A ``quiz-answers.json`` as the notebook writes it (``quiz.answers``), for these answers."""
    return json.dumps({"version": 1, "lesson": lesson, "stage": "post", "answers": answers}, indent=1) + "\n"


def write_files(target: Path, root: Path, slug: str, sub: Submission) -> None:
    """The files ``sub`` hands in beside its notebook: its post quiz answers, then ``files``."""
    lesson, key = post_quiz_key(root, slug)
    answers = sub.quiz_answers(key)
    if answers is not None:
        (target / ANSWERS_FILE).write_text(answers_text(lesson, answers))
    for name, text in sub.files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)


def _hand_in(root: Path, release_dir: Path, source_nb, release_nb, slug: str, sub: Submission) -> None:
    target = root / "submitted" / sub.name / slug
    shutil.copytree(release_dir, target)  # quiz files and anything else released
    write_files(target, root, slug, sub)
    if sub.raw is not None:
        (target / f"{slug}.ipynb").write_text(sub.raw)
    else:
        nbformat.write(make_submission(source_nb, release_nb, sub), target / f"{slug}.ipynb")


def run_acceptance(slug: str, workdir: Path, cell_timeout: int = 60, log=print,
                   course_root: Path = COURSE_DIR, kernel_checks_pass: bool = False) -> list[Outcome]:
    """Grade every submission of ``slug`` in a course under ``workdir``; return the outcomes.

    First the solution alone, then everyone else; grading the others must leave the installed
    course code, the instructor's files, every submitted file and the solution's gradebook rows
    exactly as they were (``Tampering`` otherwise). ``kernel_checks_pass``: every in-kernel
    check always passes (``make_kernel_checks_pass``), and the submissions are ``kernel_blind``'s."""
    root = workdir / f"course-{slug}"
    if root.exists():
        raise HarnessError(f"{root} already exists; use an empty folder")
    root.mkdir(parents=True)
    prepare_course(slug, root, course_root)
    if kernel_checks_pass:
        make_kernel_checks_pass(slug, root)
    release_dir = generate(slug, root, capture=True)
    source_nb = nbformat.read(source_notebook(slug, root), as_version=4)
    release_nb = nbformat.read(release_dir / f"{slug}.ipynb", as_version=4)
    subs = load_submissions(slug, course_root)
    if kernel_checks_pass:
        graded = [c.metadata.nbgrader for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        subs = kernel_blind(subs, {c.id for c in source_nb.cells if c.metadata.get("nbgrader", {}).get("solution")},
                            [m["grade_id"] for m in graded if m["grade_id"] != POST_QUIZ_ID])
    first = next(sub for sub in subs if sub.name == "solution")
    env = dict(os.environ, GPT2_COURSE_CELL_TIMEOUT=str(cell_timeout))
    _hand_in(root, release_dir, source_nb, release_nb, slug, first)
    autograde([slug], root, quiet=True, env=env)
    honest_rows = gradebook_rows(root, slug, first.name)
    for sub in subs:
        if sub is not first:
            _hand_in(root, release_dir, source_nb, release_nb, slug, sub)
    guarded = [root / "source", root / "lessons", root / "nbgrader_config.py", root / "submitted",
               *map(Path, course_package_dirs())]
    before = fingerprint(guarded)
    log(f"[{slug}] autograding {len(subs) - 1} more submissions ...")
    scores = autograde([slug], root, quiet=True, env=env)
    changed = sorted(path for path, digest in fingerprint(guarded).items() if before.get(path) != digest)
    changed += sorted(set(before) - set(fingerprint(guarded)))
    if changed:
        raise Tampering(f"grading {slug} changed files no submission may change: {', '.join(changed[:10])}")
    if gradebook_rows(root, slug, first.name) != honest_rows:
        raise Tampering(f"grading the other submissions of {slug} changed {first.name}'s rows in the gradebook")
    flagged = integrity_findings(root, [slug])
    statuses = read_statuses(root, [slug])
    outside = load_probes(lesson_dir(slug, root)) is not None
    return [Outcome(sub, scores.get((sub.name, slug)), flagged.get((sub.name, slug), []),
                    statuses.get((sub.name, slug)), outside) for sub in subs]


def report(slug: str, outcomes: list[Outcome]) -> str:
    table = format_score_table({(o.submission.name, slug): o.grades for o in outcomes},
                               {(o.submission.name, slug): o.status for o in outcomes if o.status is not None})
    flagged = [o.submission.name for o in outcomes if o.findings]
    if flagged:
        held = not any(o.outside_checked for o in outcomes)
        table += (f"\nreported by the integrity scan{' (scores held at zero)' if held else ''}: " + ", ".join(flagged))
    problems = [p for p in (o.problem() for o in outcomes) if p]
    lines = [f"== grading acceptance: {slug} ==", table]
    lines += [f"PROBLEM {p}" for p in problems] or ["every submission scored as expected"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.acceptance", description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="lessons (default: every lesson with a mutants file)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (autograded notebooks, logs)")
    parser.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell (default 60)")
    parser.add_argument("--kernel-checks-pass", action="store_true",
                        help="replace every in-kernel check with one that always passes: wrong answers must still "
                             "lose exactly their points (decided outside the kernel)")
    args = parser.parse_args(argv)
    slugs = args.slugs or [slug for slug in lesson_slugs() if proven(slug)]
    all_ok = True
    with tempfile.TemporaryDirectory(prefix="gpt2-course-acceptance-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for slug in slugs:
            try:
                outcomes = run_acceptance(slug, workdir, args.cell_timeout, kernel_checks_pass=args.kernel_checks_pass)
            except (HarnessError, CourseError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(report(slug, outcomes), flush=True)
            all_ok &= not any(o.problem() for o in outcomes)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
