"""The instructor's commands, one each: release, autograde, feedback, export.

    python -m grader.commands release [SLUG ...]    grader/lessons/<slug>/ -> source notebooks ->
                                                    student notebooks (grader/release/, copied to lessons/)
    python -m grader.commands autograde [SLUG ...]  grade every grader/submitted/<student>/<slug>/
    python -m grader.commands feedback [SLUG ...]   HTML feedback in grader/feedback/<student>/<slug>/
    python -m grader.commands export                grader/grades.csv

``make release``, ``make autograde``, ``make feedback`` and ``make export`` call these.
Without SLUG a command covers every lesson (``grader.catalog``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import build
from .catalog import GRADER_DIR, REPO_DIR, STUDENT_LESSONS_DIR, lesson_slugs, source_notebook, unknown_slugs


class CourseError(RuntimeError):
    """A course command cannot go on; the message says what to do."""


def nbgrader(args: list[str], course_root: Path = GRADER_DIR, env: dict[str, str] | None = None,
             capture: bool = False) -> subprocess.CompletedProcess:
    """Run one nbgrader command with ``course_root`` as the working directory (its config is read there)."""
    full_env = dict(os.environ if env is None else env)
    # nbgrader starts `alembic` and kernels through PATH: put this interpreter's bin/ first.
    full_env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + full_env.get("PATH", "")
    # nbgrader_config.py imports this package (not installed) from the repository.
    full_env["GPT2_COURSE_REPO"] = str(REPO_DIR)
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_root,
        env=full_env,
        text=True,
        capture_output=capture,
    )


def _check_slugs(slugs: list[str], course_root: Path = GRADER_DIR) -> list[str]:
    known = lesson_slugs(course_root)
    if unknown := unknown_slugs(slugs, course_root):
        raise CourseError(f"unknown lesson(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return slugs or known


def generate(slug: str, course_root: Path = GRADER_DIR, capture: bool = False) -> Path:
    """``nbgrader generate_assignment`` for one lesson; returns the release folder."""
    result = nbgrader(["generate_assignment", slug, "--force"], course_root, capture=capture)
    if result.returncode != 0:
        detail = (result.stdout or "") + (result.stderr or "") if capture else ""
        raise CourseError(f"nbgrader generate_assignment {slug} failed{':' if detail else ''}\n{detail}")
    return course_root / "release" / slug


def release(slugs: list[str], course_root: Path = GRADER_DIR, lessons_dir: Path = STUDENT_LESSONS_DIR) -> None:
    """Rebuild the source folders, generate the student versions and copy them to lessons/."""
    for slug in _check_slugs(slugs, course_root):
        for path in build.write_if_changed(slug, course_root):
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
        # Never delete what a learner keeps in lessons/ (quiz progress, their own notes).
        others = sorted(
            str(p.relative_to(target)) for p in target.rglob("*")
            if p.is_file() and p.relative_to(target) not in produced and ".ipynb_checkpoints" not in p.parts
        )
        print(f"released {slug} -> {target} ({len(produced)} files)"
              + (f"; left untouched: {', '.join(others)}" if others else ""))


def submissions(course_root: Path = GRADER_DIR) -> dict[str, list[str]]:
    """slug -> students with a folder grader/submitted/<student>/<slug>/."""
    found: dict[str, list[str]] = {}
    submitted = course_root / "submitted"
    if submitted.is_dir():
        for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
            for lesson_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
                found.setdefault(lesson_dir.name, []).append(student_dir.name)
    return found


def autograde(slugs: list[str], course_root: Path = GRADER_DIR, quiet: bool = False,
              env: dict[str, str] | None = None) -> dict:
    """Autograde every submission of the given lessons, then hold the scores of flagged ones.

    Returns {(student, slug): {test: (score, max)}} (None for a notebook nbgrader could not
    grade). A submission in which ``grader.integrity`` finds code that could game the tests
    has its scores held at zero (as manual scores, which the instructor can change in
    nbgrader's formgrader after reviewing the lines printed here).
    """
    found = submissions(course_root)
    slugs = [s for s in _check_slugs(slugs, course_root) if s in found]
    if not slugs:
        raise CourseError(
            f"no submissions under {course_root / 'submitted'}; expected "
            "submitted/<student>/<lesson>/<lesson>.ipynb (nbgrader collect, or copy them there)"
        )
    for slug in slugs:
        # The gradebook must know the lesson; generating it (into grader/release/) records it.
        generate(slug, course_root, capture=True)
        if not quiet:
            print(f"autograding {slug}: {len(found[slug])} submission(s) ...", flush=True)
        result = nbgrader(["autograde", slug, "--force"], course_root, env=env, capture=quiet)
        if quiet:
            (course_root / f"autograde-{slug}.log").write_text((result.stdout or "") + (result.stderr or ""))
        elif result.returncode != 0:
            print(f"warning: nbgrader autograde {slug} reported errors (see above); "
                  "the other submissions were still graded", file=sys.stderr)
    flagged = integrity_findings(course_root, slugs)
    hold_scores(course_root, flagged)
    scores = read_scores(course_root, slugs)
    if not quiet:
        print(format_score_table(scores))
        print(format_integrity_report(flagged))
    return scores


def integrity_findings(course_root: Path, slugs: list[str]) -> dict:
    """{(student, slug): [Finding, ...]} for every submission with code that could game the tests."""
    import nbformat

    from .integrity import scan

    flagged = {}
    for slug in slugs:
        source = nbformat.read(source_notebook(slug, course_root), as_version=4)
        for student in submissions(course_root).get(slug, []):
            path = course_root / "submitted" / student / slug / f"{slug}.ipynb"
            try:
                findings = scan(nbformat.read(path, as_version=4), source)
            except Exception as exc:  # noqa: BLE001 (nbgrader reports unreadable notebooks itself)
                print(f"integrity scan: cannot read {path}: {exc}", file=sys.stderr)
                continue
            if findings:
                flagged[(student, slug)] = findings
    return flagged


def hold_scores(course_root: Path, flagged: dict) -> None:
    """Set every grade of each flagged submission to a manual score of 0."""
    from nbgrader.api import Gradebook, MissingEntry

    if not flagged:
        return
    with Gradebook("sqlite:///" + str(course_root / "gradebook.db")) as gradebook:
        for student, slug in flagged:
            try:
                notebook = gradebook.find_submission_notebook(slug, slug, student)
            except MissingEntry:
                continue
            for grade in notebook.grades:
                grade.manual_score = 0.0
        gradebook.db.commit()


def format_integrity_report(flagged: dict) -> str:
    if not flagged:
        return "integrity scan: nothing suspicious in the submissions"
    lines = ["integrity scan: scores HELD AT ZERO until you review these lines "
             "(code that could game the tests; change the scores in formgrader if it is innocent):"]
    for (student, slug), findings in flagged.items():
        lines += [f"  {student} / {slug}: {finding}" for finding in findings]
    return "\n".join(lines)


def read_scores(course_root: Path, slugs: list[str]) -> dict:
    """{(student, slug): {grade_id: (score, max_score)}} from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict = {}
    with Gradebook("sqlite:///" + str(course_root / "gradebook.db")) as gradebook:
        for slug in slugs:
            for student in submissions(course_root).get(slug, []):
                try:
                    notebook = gradebook.find_submission_notebook(slug, slug, student)
                except MissingEntry:
                    scores[(student, slug)] = None  # not graded: nbgrader could not run it
                    continue
                scores[(student, slug)] = {g.name: (g.score, g.max_score) for g in notebook.grades}
    return scores


def format_score_table(scores: dict) -> str:
    rows = [("student", "lesson", "score", "failed tests")]
    for (student, slug), grades in scores.items():
        if grades is None:
            rows.append((student, slug, "-", "NOT GRADED (see the autograde log)"))
            continue
        got = sum(score for score, _ in grades.values())
        total = sum(maximum for _, maximum in grades.values())
        failed = [name for name, (score, maximum) in grades.items() if score < maximum]
        rows.append((student, slug, f"{got:g}/{total:g}", ", ".join(failed) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths)) + "  " + row[3] for row in rows
    )


def feedback(slugs: list[str], course_root: Path = GRADER_DIR) -> Path:
    """HTML feedback for every autograded submission of the given lessons."""
    graded = course_root / "autograded"
    slugs = [s for s in _check_slugs(slugs, course_root) if any(graded.glob(f"*/{s}"))]
    if not slugs:
        raise CourseError(f"nothing autograded under {graded}; run `make autograde` first")
    for slug in slugs:
        result = nbgrader(["generate_feedback", slug, "--force"], course_root)
        if result.returncode != 0:
            raise CourseError(f"nbgrader generate_feedback {slug} failed (see above)")
    print(f"feedback written under {course_root / 'feedback'}")
    return course_root / "feedback"


def export(course_root: Path = GRADER_DIR) -> Path:
    """Every grade in the gradebook, one row per student and lesson, to grades.csv."""
    if not (course_root / "gradebook.db").exists():
        raise CourseError(f"no gradebook at {course_root / 'gradebook.db'}; run `make autograde` first")
    target = course_root / "grades.csv"
    result = nbgrader(["export", f"--CsvExportPlugin.to={target}"], course_root)
    if result.returncode != 0:
        raise CourseError("nbgrader export failed (see above)")
    print(f"grades written to {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.commands", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("release", "autograde", "feedback"):
        p = sub.add_parser(name)
        p.add_argument("slugs", nargs="*", help="lessons (default: all)")
    sub.add_parser("export")
    args = parser.parse_args(argv)
    try:
        if args.command == "release":
            release(args.slugs)
        elif args.command == "autograde":
            autograde(args.slugs)
        elif args.command == "feedback":
            feedback(args.slugs)
        else:
            export()
    except (CourseError, build.AuthoringError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
