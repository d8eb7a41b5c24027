"""Where a lesson's files live. The one place that knows the list of lessons.

Each lesson's hand-written files sit together in ``grader/lessons/<slug>/``:

    lesson.py      the notebook as a plain-text script: prose, solutions, the kernel's checks
    grading.py     everything else that grades it: what the student must write (GRADED), the
                   outside check that decides the points (``grader.trusted``) and the made-up
                   submissions that prove it (``grader.acceptance``)
    quiz.json      the quiz in Simplified Chinese, and quiz.en.json in English
    (anything else is a file the student gets beside the notebook)

Everything else about a lesson is generated from that folder: the nbgrader source notebook
``nbgrader-course/source/<slug>/`` (``grader.build``) and the student version ``lessons/<slug>/``
(``grader.commands release``).

Two roots. The *course root* is nbgrader's folder (``CourseDirectory.root``): its
``nbgrader_config.py``, ``source/`` (tracked) and everything nbgrader writes (``gradebook.db``,
``release/``, ``submitted/``, ``autograded/``, ``feedback/``, ``grades.csv``; git-ignored).
The course's own is ``nbgrader-course/`` at the repository root (``COURSE_DIR``), outside this
package. The *authoring root* holds ``lessons/<slug>/``: ``grader/`` for the real course
(``authoring_root``). Every function below takes the course root; a course root with a
``lessons/`` folder of its own (the tests' temporary courses) is its own authoring root.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from grader.sandbox import intake

GRADER_DIR = Path(__file__).resolve().parent
REPO_DIR = GRADER_DIR.parent
STUDENT_LESSONS_DIR = REPO_DIR / "lessons"
# nbgrader's course root, beside this package in the repository (its data never inside grader/).
COURSE_DIR_NAME = "nbgrader-course"
COURSE_DIR = REPO_DIR / COURSE_DIR_NAME

AUTHORING_SCRIPT = "lesson.py"
GRADING_SCRIPT = "grading.py"
# Files of a lesson folder that only the instructor holds (never copied to source/ or lessons/).
INSTRUCTOR_ONLY = frozenset({AUTHORING_SCRIPT, GRADING_SCRIPT, "__pycache__"})


def authoring_root(course_root: Path = COURSE_DIR) -> Path:
    """The folder holding ``lessons/<slug>/`` for a course root: the course root itself when it
    has a ``lessons/`` folder, else the ``grader/`` beside it (a copy of the repository: the
    instructor's on the hub), else this package."""
    course_root = Path(course_root)
    if (course_root / "lessons").is_dir():
        return course_root
    beside = course_root.parent / GRADER_DIR.name
    return beside if (beside / "lessons").is_dir() else GRADER_DIR


def lesson_dir(slug: str, course_root: Path = COURSE_DIR) -> Path:
    """The folder of hand-written files of one lesson."""
    return authoring_root(course_root) / "lessons" / slug


def lesson_slugs(course_root: Path = COURSE_DIR) -> list[str]:
    """Every lesson, in course order: the folders of ``lessons/`` with a ``lesson.py``."""
    root = authoring_root(course_root) / "lessons"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / AUTHORING_SCRIPT).is_file() and p.name[:2].isdigit())


def authoring_script(slug: str, course_root: Path = COURSE_DIR) -> Path:
    return lesson_dir(slug, course_root) / AUTHORING_SCRIPT


def grading_script(slug: str, course_root: Path = COURSE_DIR) -> Path:
    return lesson_dir(slug, course_root) / GRADING_SCRIPT


def proven(slug: str, course_root: Path = COURSE_DIR) -> bool:
    """Whether the lesson's ``grading.py`` lists made-up submissions (``SUBMISSIONS``)."""
    return bool(getattr(load_grading(lesson_dir(slug, course_root)), "SUBMISSIONS", None))


def load_grading(lesson_folder: Path) -> ModuleType | None:
    """The lesson's ``grading.py`` as a module (None without one); a new module on each call."""
    path = Path(lesson_folder) / GRADING_SCRIPT
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"grader_lesson_{path.parent.name.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def student_files(slug: str, course_root: Path = COURSE_DIR) -> list[Path]:
    """Hand-written files the student gets beside the notebook (the quizzes, data files)."""
    folder = lesson_dir(slug, course_root)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name not in INSTRUCTOR_ONLY)


def source_dir(slug: str, course_root: Path = COURSE_DIR) -> Path:
    """nbgrader's source folder of the lesson (generated)."""
    return course_root / "source" / slug


def source_notebook(slug: str, course_root: Path = COURSE_DIR) -> Path:
    """The instructor notebook nbgrader releases from (generated; solutions and hidden tests included)."""
    return source_dir(slug, course_root) / f"{slug}.ipynb"


def unknown_slugs(slugs: list[str], course_root: Path = COURSE_DIR) -> list[str]:
    known = lesson_slugs(course_root)
    return [slug for slug in slugs if slug not in known]


def submissions(course_root: Path = COURSE_DIR) -> dict[str, list[str]]:
    """slug -> students with a folder submitted/<student>/<slug>/ (no link followed:
    a linked folder is listed under each lesson, for the intake gate to refuse)."""
    found: dict[str, list[str]] = {}
    lessons = lesson_slugs(course_root)
    for student, slug in intake.submission_folders(course_root):
        for one in (lessons if slug == "*" else [slug]):
            found.setdefault(one, []).append(student)
    return found


def submitted_notebook(course_root: Path, student: str, slug: str) -> Path:
    return course_root / "submitted" / student / slug / f"{slug}.ipynb"


def autograded_notebook(course_root: Path, student: str, slug: str) -> Path:
    return course_root / "autograded" / student / slug / f"{slug}.ipynb"
