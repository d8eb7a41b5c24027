"""The intake gate: nothing of a submission folder reaches nbgrader, root or a kernel unless it
is a plain file of a plain folder, within a few caps.

Submissions reach ``nbgrader-course/submitted/<student>/<lesson>/`` by many roads (``nbgrader collect``,
``make zip-collect``, an instructor's copy, rsync from an LMS), and nbgrader, running as root,
copies whatever it finds there with ``shutil.copy``, which follows links: a link named like an
ordinary file would bring ``/etc/shadow``, the gradebook or another student's notebook in as this
student's work. So before nbgrader reads a submission, ``gate()``:

1. moves the folder as it was handed in to ``nbgrader-course/intake/<student>/<lesson>/raw-<time>/``
   (a rename: nothing is read, followed or lost; the instructor can look at it there);
2. copies into a fresh ``submitted/<student>/<lesson>/`` only regular files, each opened with
   ``O_NOFOLLOW`` relative to its already-opened parent folder (so no link, on any path
   component, is ever followed), checked with ``fstat`` to be a regular file, and read up to a
   cap; links, FIFOs, sockets, devices, files over ``MAX_FILE_BYTES``, files past
   ``MAX_FILES`` or ``MAX_TOTAL_BYTES``, names of an odd shape and folders deeper than
   ``MAX_DEPTH`` are *not copied*; at most ``MAX_ENTRIES`` entries are even looked at, so what
   one submission holds (20,000 files) costs the class a bounded time;
3. writes ``nbgrader-course/intake/<student>/<lesson>/report.json``: what was refused and why, and a
   listing of the clean folder. A folder that still matches that listing is not gated again
   (the parent and worker ``nbgrader autograde`` processes each call the gate).

``RestoreFromSource`` reads the report: no report (the gate did not run, or failed) or a
notebook that was refused makes the submission ungradable (``NEEDS REVIEW (intake)``, held at
0); other refused entries are listed, by a name reduced to harmless characters, and the
submission is ``NEEDS REVIEW (intake)``.

The gate runs from ``make autograde`` (``grader.commands``) before anything else reads the
submissions, and as nbgrader's ``pre_convert_hook`` (``nbgrader_config.py``), so a plain
``nbgrader autograde`` goes through it too. nbgrader swallows an exception in that hook, so the
hook never raises: if gating fails, the folder is moved aside and replaced by an empty one.

Written here rather than with a library: ``shutil.copytree(symlinks=True)`` still follows a
link in a parent path and has no caps; the gate needs both.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

INTAKE_DIR = "intake"
REPORT = "report.json"
MAX_FILES = 200
MAX_ENTRIES = 2000
MAX_DEPTH = 4
MAX_FILE_BYTES = 32 * 2**20
MAX_TOTAL_BYTES = 64 * 2**20
# A name the gate copies: word characters (any script) and a few harmless marks; no control
# characters, separators, quotes, '<', '>' or '&', and not hidden.
NAME_SHAPE = re.compile(r"[^\W_][\w .,+()@=~-]{0,127}|_[\w .,+()@=~-]{0,127}")
# What the course itself never grades (nbgrader's CourseDirectory.ignore): left out, not reported.
IGNORED = re.compile(r"\.ipynb_checkpoints|__pycache__|.*\.pyc|.*\.?quiz-progress\.jsonl|feedback")
# An id usable as a folder name of ours (students, lessons).
ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}")

LINK, SPECIAL, TOO_BIG, TOO_MANY, BAD_NAME, TOO_DEEP, UNREADABLE, NOT_LOOKED_AT = (
    "a link", "not a regular file", "over the size limit", "over the file count or byte limit",
    "a name the course does not accept", "too deep", "could not be read", "not looked at (entry limit)")
# Why the whole folder could not be taken in.
FOLDER_IS_LINK = "the submission folder is a link"
GATE_FAILED = "the intake gate failed"


@dataclass
class Report:
    """What the gate did with one submission folder (``report.json``)."""

    student: str
    lesson: str
    gated_at: float = 0.0
    refused: list = field(default_factory=list)  # [[shown name, why], ...]
    more_refused: int = 0  # refused entries past the ones listed
    copied: int = 0
    copied_bytes: int = 0
    problem: str | None = None  # the whole folder was refused (course vocabulary)
    raw: str | None = None  # where the folder as handed in was put (relative to the course root)
    listing: list = field(default_factory=list)  # the clean folder: [[relpath, size, mtime_ns], ...]

    def refused_notebook(self, notebook: str) -> bool:
        return any(name == shown_name(notebook) for name, _ in self.refused)


def shown_name(name: str) -> str:
    """A student's file name as the course shows it: harmless characters only, 60 at most."""
    kept = "".join(ch if (ch.isalnum() or ch in "._+-") else "_" for ch in name)
    return kept[:60] + ("..." if len(kept) > 60 else "") or "_"


def valid_id(value: str) -> bool:
    return bool(ID_SHAPE.fullmatch(value or ""))


def intake_folder(course_root: Path, student: str, lesson: str) -> Path:
    return Path(course_root) / INTAKE_DIR / student / lesson


def read_report(course_root: Path, student: str, lesson: str) -> Report | None:
    """The gate's report on this submission, or None (never gated, or unreadable)."""
    if not (valid_id(student) and valid_id(lesson)):
        return None
    try:
        data = json.loads((intake_folder(course_root, student, lesson) / REPORT).read_text())
        return Report(**data)
    except (OSError, ValueError, TypeError):
        return None


# --- walking without following ---------------------------------------------------------------

class _Copier:
    """Copies regular files from an opened folder into ``dest``, within the caps."""

    def __init__(self, dest: Path):
        self.dest = dest
        self.report_refused: list = []
        self.more = 0
        self.seen = 0
        self.files = 0
        self.bytes = 0

    def refuse(self, relpath: str, why: str) -> None:
        if len(self.report_refused) < 50:
            self.report_refused.append([shown_name(relpath), why])
        else:
            self.more += 1

    def walk(self, dir_fd: int, rel: str, depth: int) -> None:
        try:
            names = sorted(os.listdir(dir_fd))
        except OSError:
            self.refuse(rel or ".", UNREADABLE)
            return
        # The files of a folder before its subfolders: what lies at the top (the notebook, the
        # quiz answers) is always looked at, however much a subfolder holds.
        folders = []
        for name in names:
            relpath = f"{rel}/{name}" if rel else name
            self.seen += 1
            if self.seen > MAX_ENTRIES:
                self.more += 1
                continue
            if IGNORED.fullmatch(name):
                continue
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                self.refuse(relpath, UNREADABLE)
                continue
            if not NAME_SHAPE.fullmatch(name):
                self.refuse(relpath, BAD_NAME)
            elif stat.S_ISLNK(info.st_mode):
                self.refuse(relpath, LINK)
            elif stat.S_ISDIR(info.st_mode):
                if depth >= MAX_DEPTH:
                    self.refuse(relpath, TOO_DEEP)
                else:
                    folders.append((name, relpath))
            elif not stat.S_ISREG(info.st_mode):
                self.refuse(relpath, SPECIAL)
            elif info.st_size > MAX_FILE_BYTES:
                self.refuse(relpath, TOO_BIG)
            elif self.files >= MAX_FILES or self.bytes + info.st_size > MAX_TOTAL_BYTES:
                self.refuse(relpath, TOO_MANY)
            else:
                self.copy(dir_fd, name, relpath)
        for name, relpath in folders:
            try:
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            except OSError:
                self.refuse(relpath, UNREADABLE)
                continue
            try:
                (self.dest / relpath).mkdir(mode=0o755, exist_ok=True)
                self.walk(child, relpath, depth + 1)
            finally:
                os.close(child)

    def copy(self, dir_fd: int, name: str, relpath: str) -> None:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
        except OSError:
            self.refuse(relpath, UNREADABLE)
            return
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the lstat
                self.refuse(relpath, SPECIAL)
                return
            budget = min(MAX_FILE_BYTES, MAX_TOTAL_BYTES - self.bytes) + 1
            chunks, size = [], 0
            while size < budget and (chunk := os.read(fd, min(1 << 20, budget - size))):
                chunks.append(chunk)
                size += len(chunk)
            if size >= budget:  # grew since the lstat
                self.refuse(relpath, TOO_BIG)
                return
            out = os.open(self.dest / relpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(out, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            self.files += 1
            self.bytes += size
        except OSError:
            self.refuse(relpath, UNREADABLE)
        finally:
            os.close(fd)


def listing(folder: Path) -> list | None:
    """[[relpath, size, mtime_ns], ...] of the plain files and folders under ``folder`` (no link
    followed, at most MAX_ENTRIES entries), or None if anything else is there or the walk is too big."""
    found: list = []
    try:
        top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None

    def walk(dir_fd: int, rel: str) -> bool:
        for name in sorted(os.listdir(dir_fd)):
            if len(found) >= MAX_ENTRIES:
                return False
            relpath = f"{rel}/{name}" if rel else name
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                found.append([relpath + "/", 0, 0])
                child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
                try:
                    if not walk(child, relpath):
                        return False
                finally:
                    os.close(child)
            elif stat.S_ISREG(info.st_mode):
                found.append([relpath, info.st_size, info.st_mtime_ns])
            else:
                return False
        return True

    try:
        return found if walk(top, "") else None
    except OSError:
        return None
    finally:
        os.close(top)


# --- the gate ------------------------------------------------------------------------------

def _is_plain_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def gate(course_root: Path, student: str, lesson: str, notebook: str | None = None) -> Report:
    """Take ``submitted/<student>/<lesson>/`` in through the gate (see the module docstring),
    unless it is already the gate's clean copy. ``notebook``: the notebook's file name (default
    ``<lesson>.ipynb``); if it was refused, an empty notebook takes its place, so that nbgrader
    grades the submission as ungradable rather than skipping it."""
    root = Path(course_root)
    if not (valid_id(student) and valid_id(lesson)):
        raise ValueError(f"not a student/lesson id the course accepts: {shown_name(student)}/{shown_name(lesson)}")
    notebook = notebook or f"{lesson}.ipynb"
    submitted = root / "submitted"
    folder = submitted / student / lesson
    previous = read_report(root, student, lesson)
    if previous is not None and previous.problem is None and _is_plain_dir(submitted / student) \
            and listing(folder) == previous.listing:
        return previous
    record = intake_folder(root, student, lesson)
    record.mkdir(parents=True, exist_ok=True)
    report = Report(student, lesson, gated_at=time.time())
    try:
        _take_in(root, submitted, student, lesson, notebook, record, report)
    except Exception:  # noqa: BLE001 (fail closed: an empty folder, the submission held for review)
        report.problem = GATE_FAILED
        _replace_with_empty(root, folder, record, report, notebook)
    report.listing = listing(folder) or []
    _write_report(record, report)
    return report


def _take_in(root: Path, submitted: Path, student: str, lesson: str, notebook: str, record: Path,
             report: Report) -> None:
    student_dir = submitted / student
    if not _is_plain_dir(student_dir):  # a link to another student's folder, or to '/'
        stamp = _stamp()
        os.rename(student_dir, record.parent / f"raw-student-folder-{stamp}")
        student_dir.mkdir(mode=0o755)
        report.problem = FOLDER_IS_LINK
    folder = student_dir / lesson
    if os.path.lexists(folder) and not _is_plain_dir(folder):
        report.problem = FOLDER_IS_LINK
    raw = record / f"raw-{_stamp()}"
    if os.path.lexists(folder):
        os.rename(folder, raw)
        report.raw = str(raw.relative_to(root))
    folder.mkdir(mode=0o755)
    if report.problem is None and raw.exists() and _is_plain_dir(raw):
        copier = _Copier(folder)
        top = os.open(raw, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            copier.walk(top, "", 1)
        finally:
            os.close(top)
        report.refused, report.more_refused = copier.report_refused, copier.more
        report.copied, report.copied_bytes = copier.files, copier.bytes
    if (report.problem is not None or report.refused_notebook(notebook)) or (
            os.path.lexists(raw / notebook) and not (folder / notebook).exists()):
        _empty_notebook(folder / notebook)


def _replace_with_empty(root: Path, folder: Path, record: Path, report: Report, notebook: str) -> None:
    try:
        if os.path.lexists(folder):
            os.rename(folder, record / f"raw-failed-{_stamp()}")
        folder.mkdir(mode=0o755, parents=True, exist_ok=True)
        _empty_notebook(folder / notebook)
    except OSError:
        pass


def _empty_notebook(path: Path) -> None:
    if os.path.lexists(path):
        os.unlink(path)
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"-{time.time_ns() % 10**9:09d}"


def _write_report(record: Path, report: Report) -> None:
    tmp = record / f".{REPORT}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(asdict(report), indent=1))
    os.replace(tmp, record / REPORT)


def submission_folders(course_root: Path) -> list[tuple[str, str]]:
    """(student, lesson) of every entry under ``submitted/`` (links included: the gate deals
    with them), without following any link."""
    found = []
    submitted = Path(course_root) / "submitted"
    if not _is_plain_dir(submitted):
        return found
    for student in sorted(os.listdir(submitted)):
        if not valid_id(student):
            continue
        student_dir = submitted / student
        if not _is_plain_dir(student_dir):
            found.append((student, "*"))
            continue
        for lesson in sorted(os.listdir(student_dir)):
            if valid_id(lesson):
                found.append((student, lesson))
    return found


def odd_folders(course_root: Path) -> list[str]:
    """Entries under ``submitted/`` whose names are not ids the course accepts (shown names):
    never graded, and said so."""
    submitted = Path(course_root) / "submitted"
    if not _is_plain_dir(submitted):
        return []
    return [shown_name(name) for name in sorted(os.listdir(submitted)) if not valid_id(name)]


def gate_lesson(course_root: Path, lesson: str) -> dict[str, Report]:
    """Gate every submission of ``lesson``; {student: report}."""
    reports = {}
    for student, found in submission_folders(course_root):
        if found in (lesson, "*"):
            reports[student] = gate(course_root, student, lesson)
    return reports


def nbgrader_hook(assignment=None, student=None, notebooks=None, **_):
    """nbgrader's ``Autograde.pre_convert_hook``: gate the folder of the notebooks about to be
    graded. Never raises (nbgrader would only log it and go on with the folder as it is)."""
    try:
        if not notebooks:
            return
        folder = Path(notebooks[0]).parent
        lesson, student_id = folder.name, folder.parent.name
        course_root = folder.parent.parent.parent
        gate(course_root, student_id, lesson, Path(notebooks[0]).name)
    except Exception:  # noqa: BLE001 (RestoreFromSource finds no report: ungradable, held)
        pass
