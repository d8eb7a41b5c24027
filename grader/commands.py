"""The instructor's commands, one each: release, autograde, feedback, export.

    python -m grader.commands release [SLUG ...]    grader/lessons/<slug>/ -> source notebooks ->
                                                    student notebooks (nbgrader-course/release/, copied to lessons/)
    python -m grader.commands autograde [--force] [--jobs N] [SLUG ...]
                                                    grade every new or changed nbgrader-course/submitted/<student>/<slug>/
    python -m grader.commands feedback [SLUG ...]   HTML feedback in nbgrader-course/feedback/<student>/<slug>/
    python -m grader.commands export                nbgrader-course/grades.csv

``make release``, ``make autograde``, ``make feedback`` and ``make export`` call these.
Without SLUG a command covers every lesson (``grader.catalog``). They work on nbgrader's course
root ``nbgrader-course/`` (``grader.catalog.COURSE_DIR``); the functions take another one.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from course.cli import exits_on
from grader import build, sandbox
from grader.catalog import (
    COURSE_DIR,
    REPO_DIR,
    STUDENT_LESSONS_DIR,
    lesson_slugs,
    source_notebook,
    submissions,
    unknown_slugs,
)
from grader.orchestration import parallel
from grader.orchestration.bookkeeping import after_nbgrader, to_grade
from grader.orchestration.score_table import (
    Status,
    format_integrity_report,
    format_notes,
    format_score_table,
    integrity_findings,
    read_scores,
    read_statuses,
)
from grader.plugins.outside_check import PROBE_SEED_ENV
from grader.plugins.reviews import submission_review
from grader.plugins.state import read_state
from grader.sandbox import intake
from quiz import home
from quiz.answers import ANSWERS_FILE


class CourseError(RuntimeError):
    """A course command cannot go on; the message says what to do."""


def nbgrader_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment nbgrader runs in: ``env`` (default: ours), this interpreter's bin/ first
    on PATH (nbgrader starts `alembic` and kernels through it) and the repository for
    nbgrader_config.py, which imports this package (not installed) from there."""
    full_env = dict(os.environ if env is None else env)
    full_env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + full_env.get("PATH", "")
    full_env["GPT2_COURSE_REPO"] = str(REPO_DIR)
    return full_env


def nbgrader(args: list[str], course_root: Path = COURSE_DIR, env: dict[str, str] | None = None,
             capture: bool = False) -> subprocess.CompletedProcess:
    """Run one nbgrader command with ``course_root`` as the working directory (its config is read
    there: for the course's own root, the copy of ``grader/nbgrader_config.py`` is brought up to date first)."""
    if Path(course_root) == COURSE_DIR:
        build.write_course_config(course_root)
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_root,
        env=nbgrader_env(env),
        text=True,
        capture_output=capture,
    )


def _check_slugs(slugs: list[str], course_root: Path = COURSE_DIR) -> list[str]:
    known = lesson_slugs(course_root)
    if unknown := unknown_slugs(slugs, course_root):
        raise CourseError(f"unknown lesson(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return slugs or known


def generate(slug: str, course_root: Path = COURSE_DIR, capture: bool = False) -> Path:
    """``nbgrader generate_assignment`` for one lesson; returns the release folder.

    Answers the instructor saved while trying the source notebook's post quiz
    (``quiz-answers.json`` in the source folder) are removed first: nbgrader would release them
    to every student (and copy them over each submission's own when autograding)."""
    stray = source_notebook(slug, course_root).parent / ANSWERS_FILE
    if stray.is_file() or stray.is_symlink():
        stray.unlink()
        print(f"removed {stray}: saved answers are never released", file=sys.stderr)
    result = nbgrader(["generate_assignment", slug, "--force"], course_root, capture=capture)
    if result.returncode != 0:
        detail = (result.stdout or "") + (result.stderr or "") if capture else ""
        raise CourseError(f"nbgrader generate_assignment {slug} failed{':' if detail else ''}\n{detail}")
    return course_root / "release" / slug


def release(slugs: list[str], course_root: Path = COURSE_DIR, lessons_dir: Path = STUDENT_LESSONS_DIR) -> None:
    """Rebuild the source folders, generate the student versions and copy them to lessons/.

    ``nbgrader-course/release/<slug>/`` is the course edition (what the hub releases: the post quiz
    without its key, graded on submission); ``lessons/<slug>/`` is the self-study edition, the
    same notebook with the quizzes as written (every key: instant feedback)."""
    for slug in _check_slugs(slugs, course_root):
        for path in build.write_if_changed(slug, course_root):
            print(f"rebuilt {path}")
    if course_root == COURSE_DIR:  # the course's own lessons: their GRADED lists, for course.checks
        for path in build.write_graded_list(course_root) + build.write_course_config(course_root):
            print(f"rebuilt {path}")
    for slug in _check_slugs(slugs, course_root):
        released = generate(slug, course_root)
        target = lessons_dir / slug
        target.mkdir(parents=True, exist_ok=True)
        produced = set()
        for path in sorted(released.rglob("*")):
            if path.is_file():
                rel = path.relative_to(released)
                produced.add(rel)
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target / rel)
        # Self-study keeps the keys: the quizzes as written, not the course edition nbgrader released.
        for name, content in build.self_study_files(slug, course_root).items():
            (target / name).write_bytes(content)
            produced.add(Path(name))
        # Never delete what a learner keeps in lessons/ (quiz progress, their own notes).
        others = sorted(
            str(p.relative_to(target)) for p in target.rglob("*")
            if p.is_file() and p.relative_to(target) not in produced and ".ipynb_checkpoints" not in p.parts
        )
        print(f"released {slug} -> {target} ({len(produced)} files)"
              + (f"; left untouched: {', '.join(others)}" if others else ""))
    # The course home lists the lesson folders present: keep it in step with them.
    print(f"course home: {home.write_home(lessons_dir)}")


def autograde(slugs: list[str], course_root: Path = COURSE_DIR, quiet: bool = False,
              env: dict[str, str] | None = None, force: bool = False, jobs: int | None = None,
              keep_runs: Path | None = None, progress: bool | None = None) -> dict:
    """Autograde the new and changed submissions of the given lessons; print the table.

    Returns {(student, slug): {test: (score, max)}} (None for a submission the gradebook does
    not know). A submission graded before in this very version (``grading-state.json`` in the
    course root) is skipped unless ``force``, so the instructor's manual scores and reviews
    stay. ``jobs`` notebooks run at once (default: the number of cores; ``grader.orchestration.parallel``),
    and only this process writes the gradebook; ``keep_runs``: keep the workers' saved runs
    (with their timings) in this folder. The bookkeeping itself happens inside nbgrader (``grader/plugins/``): a
    submission that cannot be graded honestly is marked NEEDS REVIEW, and one in which
    ``grader.trusted.integrity`` finds code that could game the tests is held at zero (manual scores
    the instructor changes in formgrader) the first time that version is graded.
    """
    if jobs is not None and jobs < 1:
        raise CourseError(f"--jobs {jobs}: give at least 1 (the number of notebooks run at once)")
    sandbox.require_sandbox(CourseError)  # no bwrap/cgroups: refuse, unless GPT2_COURSE_UNSANDBOXED=1
    slugs = _gate_submissions(slugs, course_root, quiet)
    found = submissions(course_root)
    for slug in slugs:
        todo, unchanged = to_grade(course_root, slug, found[slug], force)
        if unchanged and not quiet:
            print(f"{slug}: {len(unchanged)} submission(s) unchanged since graded, kept as they are "
                  "(--force regrades them)", flush=True)
        if todo:
            _grade_lesson(course_root, slug, todo, unchanged, env, jobs, quiet, keep_runs, progress)
    scores = read_scores(course_root, slugs)
    if not quiet:
        statuses = read_statuses(course_root, slugs)
        print(format_score_table(scores, statuses))
        print(format_notes(statuses))
        print(format_integrity_report(integrity_findings(course_root, slugs), statuses))
    return scores


def _gate_submissions(slugs: list[str], course_root: Path, quiet: bool) -> list[str]:
    """The lessons of ``slugs`` (none: every lesson) that have submissions, each one's passed
    through the intake gate."""
    found = submissions(course_root)
    slugs = [s for s in _check_slugs(slugs, course_root) if s in found]
    if not slugs:
        raise CourseError(
            f"no submissions under {course_root / 'submitted'}; expected "
            "submitted/<student>/<lesson>/<lesson>.ipynb (nbgrader collect, or copy them there)"
        )
    if (odd := intake.odd_folders(course_root)) and not quiet:
        print(f"not graded: {len(odd)} folder(s) under {course_root / 'submitted'} whose names are not "
              f"student ids ({', '.join(odd[:5])}{', ...' if len(odd) > 5 else ''})", file=sys.stderr)
    for slug in slugs:
        # Before anything reads them: only plain files within the caps (grader/sandbox/intake.py).
        intake.gate_lesson(course_root, slug)
    return slugs


def _grade_lesson(course_root: Path, slug: str, todo: list[str], unchanged: list[str], env: dict[str, str] | None,
                  jobs: int | None, quiet: bool, keep_runs: Path | None, progress: bool | None) -> None:
    """``nbgrader autograde`` of the submissions ``todo`` of ``slug`` (a parent and its workers,
    ``grader.orchestration.parallel``), then the bookkeeping nbgrader could not do."""
    # The gradebook must know the lesson; generating it (into release/) records it.
    generate(slug, course_root, capture=True)
    at_once = jobs or parallel.default_jobs()
    if not quiet:
        print(f"autograding {slug}: {len(todo)} submission(s), {min(at_once, len(todo))} at a time ...", flush=True)
    args = ["autograde", slug, "--force"]
    if unchanged:
        args.append("--CourseDirectory.student_id_exclude=" + ",".join(unchanged))
    started = time.time()
    # One seed per run for the outside checks, shared by the workers and the parent.
    env = {**(os.environ if env is None else env), PROBE_SEED_ENV: str(secrets.randbelow(2**31))}
    workers = parallel.start_workers(course_root, slug, todo, at_once, nbgrader_env(env),
                                     [sys.executable, "-m", "nbgrader"],
                                     quiet=not progress if progress is not None else quiet)
    if workers is not None:
        args += workers.nbgrader_args()
    returncode = _run_parent(course_root, slug, args, env, workers, quiet, keep_runs)
    if returncode != 0 and not quiet:
        print(f"warning: nbgrader autograde {slug} reported errors (see above); "
              "the other submissions were still graded", file=sys.stderr)
    after_nbgrader(course_root, slug, todo, started)


def _run_parent(course_root: Path, slug: str, args: list[str], env: dict[str, str],
                workers: parallel.Workers | None, quiet: bool, keep_runs: Path | None) -> int:
    """The parent ``nbgrader autograde`` (the only writer of the gradebook), which grades each of
    the workers' runs as it lands; its return code. Quiet: its output goes to a log file."""
    log = open(course_root / f"autograde-{slug}.log", "w") if quiet else None
    parent = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course_root,
                              env=nbgrader_env(env), stdout=log, stderr=subprocess.STDOUT if log else None)
    try:
        if workers is not None:
            workers.wait()  # meanwhile the parent grades each run as it lands
        returncode = parent.wait()
    except BaseException:
        parent.kill()
        parent.wait()
        if workers is not None:
            workers.stop()
        raise
    finally:
        if log is not None:
            log.close()
        if workers is not None:
            if keep_runs is not None:  # the benchmark reads the workers' timings
                shutil.copytree(workers.cache, Path(keep_runs) / slug, dirs_exist_ok=True)
            workers.clean_up()
    return returncode


def feedback(slugs: list[str], course_root: Path = COURSE_DIR) -> Path:
    """HTML feedback for every autograded submission of the given lessons (hidden tests not shown)."""
    graded = course_root / "autograded"
    slugs = [s for s in _check_slugs(slugs, course_root) if any(graded.glob(f"*/{s}"))]
    if not slugs:
        raise CourseError(f"nothing autograded under {graded}; run `make autograde` first")
    missing = []
    for slug in slugs:
        result = nbgrader(["generate_feedback", slug, "--force"], course_root)
        for notebook in sorted(graded.glob(f"*/{slug}/{slug}.ipynb")):
            student = notebook.parent.parent.name
            if not (course_root / "feedback" / student / slug / f"{slug}.html").exists():
                missing.append(f"{student} / {slug}")
        if result.returncode != 0 and not missing:
            raise CourseError(f"nbgrader generate_feedback {slug} failed (see above)")
    if missing:
        raise CourseError("no feedback for: " + ", ".join(missing) + " (see nbgrader's messages above)")
    print(f"feedback written under {course_root / 'feedback'}")
    return course_root / "feedback"


def export(course_root: Path = COURSE_DIR) -> Path:
    """Every grade in the gradebook, one row per student and lesson, to grades.csv: nbgrader's
    columns, and ``status`` (graded, NEEDS REVIEW (<reason>), reviewed (<reason>), not submitted)."""
    if not (course_root / "gradebook.db").exists():
        raise CourseError(f"no gradebook at {course_root / 'gradebook.db'}; run `make autograde` first")
    target = course_root / "grades.csv"
    result = nbgrader(["export", f"--CsvExportPlugin.to={target}"], course_root)
    if result.returncode != 0:
        raise CourseError("nbgrader export failed (see above)")
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
        fields = list(rows[0].keys()) if rows else []
    state = read_state(course_root)
    with Gradebook("sqlite:///" + str(course_root / "gradebook.db")) as gradebook:
        for row in rows:
            slug, student = row.get("assignment", ""), row.get("student_id", "")
            try:
                submission = gradebook.find_submission(slug, student)
            except MissingEntry:
                row["status"] = "not submitted"
                continue
            reasons, pending = [], False
            for notebook in submission.notebooks:
                found, waiting = submission_review(notebook)
                reasons += [r for r in found if r not in reasons]
                pending |= waiting
            if not reasons and (state.get(student, {}).get(slug) or {}).get("review"):
                reasons = list(state[student][slug]["review"])
                pending = any(g.needs_manual_grade for nb in submission.notebooks for g in nb.grades)
            row["status"] = Status(tuple(reasons), pending).label
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*fields, "status"] if fields else ["status"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"grades written to {target}")
    return target


@exits_on(CourseError, build.AuthoringError)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.commands", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("release", "autograde", "feedback"):
        p = sub.add_parser(name)
        p.add_argument("slugs", nargs="*", help="lessons (default: all)")
        if name == "autograde":
            p.add_argument("--force", action="store_true",
                           help="regrade submissions already graded in this version too")
            p.add_argument("--jobs", type=int, default=None, metavar="N",
                           help=f"notebooks run at once (default: the number of cores, {parallel.default_jobs()} here)")
    sub.add_parser("export")
    args = parser.parse_args(argv)
    if args.command == "release":
        release(args.slugs)
    elif args.command == "autograde":
        autograde(args.slugs, force=args.force, jobs=args.jobs)
    elif args.command == "feedback":
        feedback(args.slugs)
    else:
        export()
    return 0


if __name__ == "__main__":
    sys.exit(main())
