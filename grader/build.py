"""Build the instructor notebooks from their authoring scripts.

Each lesson is written as a plain-text script, ``grader/lessons/<slug>/lesson.py``, which
is easy to read and review in a diff. This module turns it into the nbgrader source notebook
``nbgrader-course/source/<slug>/<slug>.ipynb`` (solutions and hidden tests included) and copies the
lesson's student files (quizzes, data) beside it; ``nbgrader generate_assignment`` then makes
the student version in ``lessons/<slug>/``.

Authoring format: cells are separated by header lines that start with ``# %%``.

    # %% [markdown]            a Markdown cell; every line starts with "#" (that mark is removed)
    # %%                       an ordinary code cell
    # %% [solution] id=NAME    an autograded answer cell (nbgrader "solution"); the code
                               between ### BEGIN SOLUTION / ### END SOLUTION is removed
                               from the student version
    # %% [tests] id=NAME points=N
                               an autograder test cell (locked, worth N points); the code
                               between ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS is
                               removed from the student version
    # %% [locked] id=NAME      a read-only code cell

Any header may add ``tags=a,b``; the tag ``skip-autograde`` marks a demo cell that
autograding blanks out (see ``grader.plugins.skip_demo_cells``). Lines before the first header are
the script's own comments and are not part of the notebook.

The graded post quiz is the build's, not the script's: right after the cell that shows the
post quiz (``show_quiz("quiz.json", stage="post")``) the build adds an autograder test cell
``post_quiz`` worth one point per ``post`` question of ``quiz.json``; and the quiz files copied
into the source folder (what ``nbgrader generate_assignment`` releases to a course) are the
course edition, whose ``post`` questions come without key and explanation
(``course_quiz_bytes``). The key stays in ``grader/lessons/<slug>/quiz.json``, where the
grading reads it (``grader.plugins.grading_execute``); the self-study copy in
``lessons/`` gets the full files (``self_study_files``, used by ``grader.commands release``).

It also writes the course root's ``nbgrader_config.py``, a copy of ``grader/nbgrader_config.py``
(nbgrader reads the configuration in its working directory, the course root: that file says why).

Usage: ``python -m grader.build [SLUG ...]`` writes the notebooks;
``python -m grader.build --check`` exits 1 if any written notebook (or the config's copy) is out of date.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.cli import exits_on
from grader.catalog import (
    COURSE_DIR,
    GRADER_DIR,
    REPO_DIR,
    authoring_script,
    lesson_dir,
    lesson_slugs,
    load_grading,
    source_dir,
    source_notebook,
    student_files,
)
from quiz.home import notebook_metadata
from quiz.schema import COURSE_EDITION, GRADED_STAGE

CELL_KINDS = ("code", "markdown", "solution", "tests", "locked")
#: The grade id of the generated cell that scores the post quiz (on the instructor's side).
POST_QUIZ_ID = "post_quiz"
# What each lesson asks the student to write, for the kernel's own-work checks (generated).
GRADED_LIST = REPO_DIR / "course" / "graded.json"
CONFIG_NAME = "nbgrader_config.py"
POST_QUIZ_CALL = re.compile(r"""show_quiz\(\s*["']quiz\.json["']\s*,\s*(?:stage\s*=\s*)?["']post["']\s*\)""")
POST_QUIZ_SOURCE = """\
# 课后小测计分 / The post quiz's score
# 课程作业中，上面课后小测保存的答案随作业一起提交，由教师一方评分；这个单元格的输出不计分。
# In a course, the answers saved above are handed in with the notebook and scored on the
# instructor's side; what this cell prints does not count.
from quiz import post_quiz_status
post_quiz_status("quiz.json")"""
QUIZ_FILE = re.compile(r"^quiz(\.[a-z]{2})?\.json$")
SKIP_AUTOGRADE_TAG = "skip-autograde"
_HEADER = re.compile(r"^# %%(?:\s+\[(?P<kind>[a-z]+)\])?(?P<options>.*)$")
_OPTION = re.compile(r"^(?P<key>[a-z_]+)=(?P<value>\S+)$")
_GRADE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


class AuthoringError(ValueError):
    """An authoring script breaks the format; the message names the file and line."""


@dataclass
class AuthoredCell:
    kind: str
    line: int  # 1-based line of the header, for error messages
    source_lines: list[str] = field(default_factory=list)
    grade_id: str | None = None
    points: float | None = None
    tags: list[str] = field(default_factory=list)
    generated: bool = False  # added by the build (not in the script): takes no cell number

    @property
    def source(self) -> str:
        lines = list(self.source_lines)
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        return "\n".join(lines)


def parse_authoring(text: str, filename: str = "<authoring>") -> list[AuthoredCell]:
    """Split an authoring script into cells and check every header."""
    cells: list[AuthoredCell] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header is None:
            if cells:
                cells[-1].source_lines.append(line)
            continue
        kind = header.group("kind") or "code"
        where = f"{filename}:{number}"
        if kind not in CELL_KINDS:
            raise AuthoringError(f"{where}: unknown cell kind [{kind}]; expected one of {', '.join(CELL_KINDS)}")
        cell = AuthoredCell(kind=kind, line=number)
        for option in header.group("options").split():
            match = _OPTION.match(option)
            if match is None:
                raise AuthoringError(f"{where}: cannot read option {option!r}; write key=value")
            key, value = match.group("key"), match.group("value")
            if key == "id":
                if not _GRADE_ID.match(value):
                    raise AuthoringError(f"{where}: id {value!r} may use letters, digits, '-' and '_' only")
                cell.grade_id = value
            elif key == "points":
                try:
                    cell.points = float(value)
                except ValueError:
                    raise AuthoringError(f"{where}: points={value!r} is not a number") from None
            elif key == "tags":
                cell.tags = [tag for tag in value.split(",") if tag]
            else:
                raise AuthoringError(f"{where}: unknown option {key!r}; expected id, points or tags")
        _check_header(cell, where)
        cells.append(cell)
    if not cells:
        raise AuthoringError(f"{filename}: no cells (cells start with a line '# %%')")
    for cell in cells:
        if cell.kind == "markdown":
            for offset, text_line in enumerate(cell.source_lines, start=1):
                if text_line.strip() and not text_line.startswith("#"):
                    raise AuthoringError(
                        f"{filename}:{cell.line + offset}: a Markdown line must start with '#': {text_line!r}"
                    )
    seen: dict[str, int] = {}
    for cell in cells:
        if cell.grade_id is not None:
            if cell.grade_id in seen:
                raise AuthoringError(
                    f"{filename}:{cell.line}: id {cell.grade_id!r} already used at line {seen[cell.grade_id]}"
                )
            seen[cell.grade_id] = cell.line
    return cells


def _check_header(cell: AuthoredCell, where: str) -> None:
    needs_id = cell.kind in ("solution", "tests", "locked")
    if needs_id and cell.grade_id is None:
        raise AuthoringError(f"{where}: a [{cell.kind}] cell needs id=NAME")
    if cell.kind == "tests" and (cell.points is None or cell.points <= 0):
        raise AuthoringError(f"{where}: a [tests] cell needs points=N with N > 0")
    if cell.kind != "tests" and cell.points is not None:
        raise AuthoringError(f"{where}: only [tests] cells carry points")


def _markdown_text(cell: AuthoredCell) -> str:
    lines = [line[2:] if line.startswith("# ") else line[1:] for line in cell.source_lines]
    return AuthoredCell(kind="markdown", line=cell.line, source_lines=lines).source


def _nbgrader_metadata(cell: AuthoredCell) -> dict | None:
    if cell.kind == "solution":
        flags = dict(grade=False, locked=False, solution=True)
    elif cell.kind == "tests":
        flags = dict(grade=True, locked=True, solution=False, points=cell.points)
    elif cell.kind == "locked":
        flags = dict(grade=False, locked=True, solution=False)
    else:
        return None
    return dict(flags, grade_id=cell.grade_id, schema_version=3, task=False)


def to_notebook(cells: list[AuthoredCell]) -> nbformat.NotebookNode:
    """The nbgrader source notebook for parsed authoring cells (deterministic)."""
    nb = nbformat.v4.new_notebook()
    # The kernel and its full language_info (quiz.home.NOTEBOOK_METADATA): with less, JupyterLab
    # fills it in when the kernel starts and the notebook opens already marked modified.
    nb.metadata = notebook_metadata()
    number = 0
    for cell in cells:
        # The build's own cells take no number, so that the script's cells keep their ids.
        number += not cell.generated
        if cell.kind == "markdown":
            node = nbformat.v4.new_markdown_cell(_markdown_text(cell))
        else:
            node = nbformat.v4.new_code_cell(cell.source)
        node.id = cell.grade_id or f"cell-{number:03d}"
        metadata = _nbgrader_metadata(cell)
        if metadata is not None:
            node.metadata["nbgrader"] = metadata
        if cell.tags:
            node.metadata["tags"] = list(cell.tags)
        nb.cells.append(node)
    nbformat.validate(nb)
    return nb


def strip_solution_markers(source: str) -> str:
    """A solution cell's code without its BEGIN/END SOLUTION marker lines (what a correct student hands in)."""
    return "\n".join(line for line in source.splitlines() if not _SOLUTION_MARKER.match(line))


def notebook_text(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def post_questions(slug: str, course_root: Path = COURSE_DIR) -> list[str]:
    """The ids of the ``post`` questions in the lesson's ``quiz.json`` (the instructor's key)."""
    from quiz import QuizError, load_quiz

    path = lesson_dir(slug, course_root) / "quiz.json"
    if not path.is_file():
        return []
    try:
        quiz = load_quiz(path)
    except QuizError as exc:
        raise AuthoringError(str(exc)) from None
    return [str(quiz.key(i)) for i in quiz.stage_indices(GRADED_STAGE)]


def add_post_quiz_cell(cells: list[AuthoredCell], points: int, filename: str = "<authoring>") -> list[AuthoredCell]:
    """``cells`` with the graded ``post_quiz`` test cell right after the post quiz's cell."""
    if points <= 0:
        return cells
    if any(cell.grade_id == POST_QUIZ_ID for cell in cells):
        raise AuthoringError(f"{filename}: id {POST_QUIZ_ID!r} is the build's own (the graded post quiz); rename it")
    shows = [i for i, cell in enumerate(cells) if cell.kind == "code" and POST_QUIZ_CALL.search(cell.source)]
    if len(shows) != 1:
        raise AuthoringError(
            f"{filename}: quiz.json has post questions, so the lesson needs exactly one code cell with "
            f'show_quiz("quiz.json", stage="post") (found {len(shows)}); the graded cell follows it')
    at = shows[0]
    graded = AuthoredCell(kind="tests", line=cells[at].line, source_lines=POST_QUIZ_SOURCE.splitlines(),
                          grade_id=POST_QUIZ_ID, points=float(points), generated=True)
    return cells[: at + 1] + [graded] + cells[at + 1:]


def course_quiz_bytes(raw: bytes, filename: str = "<quiz>") -> bytes:
    """The course edition of a quiz file: its ``post`` questions without key and explanation
    (``"edition": "course"``). The one place that strips keys; checked with the quiz loader."""
    from quiz import QuizError
    from quiz.loader import parse_quiz

    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except ValueError as exc:
        raise AuthoringError(f"{filename}: not a readable quiz file ({exc})") from None
    if isinstance(data, list):
        data = {"questions": data}
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise AuthoringError(f"{filename}: expected a quiz object with a list of questions")
    out = {key: value for key, value in data.items() if key not in ("questions", "edition")}
    out["edition"] = COURSE_EDITION
    out["questions"] = [
        {k: v for k, v in q.items() if not (isinstance(q, dict) and q.get("stage") == GRADED_STAGE
                                              and k in ("correct", "explanation"))}
        if isinstance(q, dict) else q
        for q in data["questions"]
    ]
    try:
        parse_quiz(out, source=filename)
    except QuizError as exc:
        raise AuthoringError(str(exc)) from None
    return (json.dumps(out, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def self_study_files(slug: str, course_root: Path = COURSE_DIR) -> dict[str, bytes]:
    """{file name: content} that the self-study copy (``lessons/<slug>/``) takes from the
    lesson folder instead of the course release: the quizzes with their keys."""
    return {path.name: path.read_bytes() for path in student_files(slug, course_root) if QUIZ_FILE.match(path.name)}


def build(slug: str, course_root: Path = COURSE_DIR) -> dict[Path, bytes]:
    """{path: content} of every generated file in ``<course root>/source/<slug>/``: the notebook built
    from the lesson's authoring script (plus the graded post quiz cell), and copies of its
    student files (data; the quizzes in their course edition, without the post keys)."""
    script = authoring_script(slug, course_root)
    if not script.exists():
        known = ", ".join(lesson_slugs(course_root)) or "none"
        raise AuthoringError(f"no authoring script {script}; known lessons: {known}")
    filename = f"lessons/{slug}/{script.name}"
    cells = parse_authoring(script.read_text(encoding="utf-8"), filename=filename)
    cells = add_post_quiz_cell(cells, len(post_questions(slug, course_root)), filename)
    files = {source_notebook(slug, course_root): notebook_text(to_notebook(cells)).encode("utf-8")}
    for path in student_files(slug, course_root):
        content = path.read_bytes()
        if QUIZ_FILE.match(path.name):
            content = course_quiz_bytes(content, f"lessons/{slug}/{path.name}")
        files[source_dir(slug, course_root) / path.name] = content
    return files


def stale_files(slug: str, course_root: Path = COURSE_DIR) -> list[Path]:
    """Generated files of ``slug`` that are missing or differ from what ``build`` makes."""
    return [path for path, content in build(slug, course_root).items()
            if not path.exists() or path.read_bytes() != content]


def graded_list(course_root: Path = COURSE_DIR) -> bytes:
    """``course/graded.json``: per lesson number, what the lesson asks the student to write
    (``GRADED`` in each ``grading.py``), for the kernel's own-work checks (``course.checks``)."""
    graded = {}
    for slug in lesson_slugs(course_root):
        names = getattr(load_grading(lesson_dir(slug, course_root)), "GRADED", None)
        if names:
            graded[str(int(slug[:2]))] = list(names)
    return (json.dumps(graded, indent=1, ensure_ascii=False) + "\n").encode()


def write_graded_list(course_root: Path = COURSE_DIR, target: Path = GRADED_LIST) -> list[Path]:
    """Write ``course/graded.json`` if it changed; returns the paths written."""
    content = graded_list(course_root)
    if target.exists() and target.read_bytes() == content:
        return []
    target.write_bytes(content)
    return [target]


def course_config(course_root: Path = COURSE_DIR) -> dict[Path, bytes]:
    """{path: content} of the course root's ``nbgrader_config.py``: ``grader/nbgrader_config.py`` as it is."""
    return {Path(course_root) / CONFIG_NAME: (GRADER_DIR / CONFIG_NAME).read_bytes()}


def write_course_config(course_root: Path = COURSE_DIR) -> list[Path]:
    """Write the course root's ``nbgrader_config.py`` if it differs; returns the paths written."""
    return _write_changed(course_config(course_root))


def write_if_changed(slug: str, course_root: Path = COURSE_DIR) -> list[Path]:
    """Build ``slug``'s source folder; write only the files that changed. Returns the paths written."""
    return _write_changed(build(slug, course_root))


def _write_changed(files: dict[Path, bytes]) -> list[Path]:
    written = []
    for path, content in files.items():
        if path.exists() and path.read_bytes() == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written


@exits_on(AuthoringError, status=2)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("slugs", nargs="*", help="lessons to build (default: all)")
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for slug in args.slugs or lesson_slugs():
        if args.check:
            stale += stale_files(slug)
        else:
            for path in write_if_changed(slug):
                print(f"wrote {path.relative_to(REPO_DIR)}")
    if args.check:
        stale += [] if GRADED_LIST.exists() and GRADED_LIST.read_bytes() == graded_list() else [GRADED_LIST]
        stale += [path for path, content in course_config().items()
                  if not path.exists() or path.read_bytes() != content]
    else:
        for path in write_graded_list() + write_course_config():
            print(f"wrote {path.relative_to(REPO_DIR)}")
    if stale:
        for path in stale:
            print(f"out of date: {path.relative_to(REPO_DIR)} (run `make notebooks`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
