"""Submissions downloaded from an LMS as one zip -> the course's submitted/ tree, with nbgrader zip_collect.

    python -m hub.zip_collect ZIP LESSON [--lms canvas|moodle] [--map ROSTER.csv] [--course-root DIR]
    make zip-collect ZIP=submissions.zip LESSON=35-gpt-model-assembly [LMS=moodle] [MAP=roster.csv]

The zip goes to ``<course>/downloaded/<lesson>/archive/`` and ``nbgrader zip_collect`` extracts it
and files each notebook as ``submitted/<student>/<lesson>/<lesson>.ipynb``, where nbgrader
autograde (``make autograde``) finds it. Which student a file belongs to comes from its name, as
the LMS writes it:

- Canvas ("Download Submissions"): ``<lastfirst>[_LATE]_<user id>_<submission id>_<file name>``,
  e.g. ``lovelaceada_12345_678901_35-gpt-model-assembly.ipynb`` (a resubmission may end ``-1.ipynb``);
- Moodle ("Download all submissions"): a folder per student,
  ``<Full Name>_<participant id>_assignsubmission_file_/<file name>`` (older Moodle: the same
  prefix on a flat file name).

The LMS's numeric id is looked up in ``--map``: a CSV with ``lms_id`` and ``username`` columns
(the class roster with an ``lms_id`` column works). Without a map, the name part must already be
the student's id. A student with several notebooks gets the newest (Canvas: the highest
submission id). Every file that cannot be matched to a student (unknown id, a name in
neither layout, not a notebook) is listed in the report with the reason, and is not collected.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

REPO_DIR = Path(__file__).resolve().parent.parent
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?P<late>_late)?_(?P<lms_id>\d+)_(?P<submission_id>\d+)_(?P<file>.+)$", re.I)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<lms_id>\d+)_assignsubmission_(?:file|onlinetext)_?$")
MOODLE_FLAT = re.compile(r"^(?P<name>.+)_(?P<lms_id>\d+)_assignsubmission_file_(?P<file>.+)$")
REPORT_NAME = "zip-collect-report.json"


def read_id_map(path: str | Path | None) -> dict[str, str]:
    """{lms id: username} from a CSV with ``lms_id`` and ``username`` columns."""
    if not path:
        return {}
    mapping = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if row.get("lms_id") and row.get("username"):
                mapping[row["lms_id"]] = row["username"].lower()
    return mapping


def parse_name(relative: str, lms: str) -> dict | None:
    """{name, lms_id, file, late} from a path inside the extracted zip, or None."""
    parts = Path(relative).parts
    base = parts[-1]
    if lms == "canvas":
        match = CANVAS.match(base)
        if match:
            return {"name": match["name"].lower(), "lms_id": match["lms_id"], "file": match["file"],
                    "late": bool(match["late"]), "submission_id": match["submission_id"]}
        return None
    for folder in parts[:-1]:
        match = MOODLE_FOLDER.match(folder)
        if match:
            return {"name": match["name"], "lms_id": match["lms_id"], "file": base, "late": False}
    match = MOODLE_FLAT.match(base)
    if match:
        return {"name": match["name"], "lms_id": match["lms_id"], "file": match["file"], "late": False}
    return None


class LmsCollector(FileNameCollectorPlugin):
    """nbgrader's collector plugin for Canvas and Moodle zips; records what it could not match.

    It looks at every extracted file once: a student with several notebooks (a Canvas
    resubmission, two files in one Moodle folder) gets the newest (Canvas: the highest
    submission id; otherwise the one named like the lesson's notebook, then the latest
    modified); the others are reported as not collected, with the one that was."""

    lms = Unicode("canvas", help="canvas or moodle").tag(config=True)
    id_map = Unicode("", help="CSV with lms_id and username columns").tag(config=True)
    notebook = Unicode("", help="the lesson's notebook name: every notebook a student handed in is filed under it").tag(config=True)
    extracted = Unicode("", help="the folder nbgrader extracted the zip into").tag(config=True)
    report = Unicode("", help="JSON file to write matched and unmatched files to").tag(config=True)

    _plan: dict | None = None

    def shown(self, path: str) -> str:
        """The file's path inside the zip (nbgrader extracts into a folder named after the zip)."""
        relative = Path(os.path.relpath(path, self.extracted)) if self.extracted else Path(os.path.basename(path))
        return str(Path(*relative.parts[1:])) if len(relative.parts) > 1 else str(relative)

    def decide(self, path: str) -> tuple[dict | None, dict]:
        """(nbgrader's answer or None, the report entry) for one extracted file, before choosing."""
        relative = self.shown(path)
        if not relative.endswith(".ipynb"):
            return None, {"file": relative, "reason": "not a notebook (.ipynb)"}
        parsed = parse_name(relative, self.lms)
        if parsed is None:
            return None, {"file": relative, "reason": f"the name is not in {self.lms}'s export layout"}
        mapping = read_id_map(self.id_map)
        student = mapping.get(parsed["lms_id"]) if mapping else parsed["name"]
        if not student:
            return None, {"file": relative, "reason": f"{self.lms} id {parsed['lms_id']} ({parsed['name']}) "
                          f"is not in {self.id_map}"}
        if not re.match(r"^[A-Za-z0-9_.@-]+$", student):
            return None, {"file": relative, "reason": f"{student!r} cannot be a student id"}
        file_id = self.notebook or parsed["file"]
        entry = {"file": relative, "student": student, "as": file_id, "handed_in_as": parsed["file"],
                 "late": parsed["late"]}
        rank = (int(parsed.get("submission_id") or 0), parsed["file"] == file_id, os.path.getmtime(path))
        return {"student_id": student, "file_id": file_id, "_rank": rank}, entry

    def plan(self) -> dict:
        """{absolute path: (nbgrader's answer or None, report entry)} for every extracted file."""
        if self._plan is not None:
            return self._plan
        plan, best = {}, {}
        for folder, _, files in os.walk(self.extracted):
            for name in sorted(files):
                path = os.path.join(folder, name)
                answer, entry = self.decide(path)
                plan[path] = (answer, entry)
                if answer is not None:
                    key = (answer["student_id"], answer["file_id"])
                    if key not in best or answer["_rank"] > plan[best[key]][0]["_rank"]:
                        best[key] = path
        for path, (answer, entry) in list(plan.items()):
            if answer is not None and best[(answer["student_id"], answer["file_id"])] != path:
                winner = plan[best[(answer["student_id"], answer["file_id"])]][1]["file"]
                plan[path] = (None, {"file": entry["file"], "reason": f"{answer['student_id']} handed in a newer "
                                     f"or better-named notebook: {winner} was collected"})
        data = {"matched": [e for a, e in plan.values() if a is not None],
                "unmatched": [e for a, e in plan.values() if a is None]}
        if self.report:
            Path(self.report).write_text(json.dumps(data, indent=2))
        self._plan = plan
        return plan

    def collect(self, submitted_file: str):
        answer, _ = self.plan().get(submitted_file) or self.decide(submitted_file)
        if answer is None:
            return None
        return {"student_id": answer["student_id"], "file_id": answer["file_id"]}


def zip_collect(zip_path: Path, slug: str, course_root: Path, lms: str = "canvas",
                id_map: Path | None = None, quiet: bool = False) -> dict:
    """Collect ``zip_path`` into ``course_root/submitted/``; return {"matched": [...], "unmatched": [...]}."""
    from grader.commands import CourseError, generate, nbgrader

    if lms not in ("canvas", "moodle"):
        raise CourseError(f"--lms must be canvas or moodle, not {lms!r}")
    downloaded = course_root / "downloaded" / slug
    archive, extracted = downloaded / "archive", downloaded / "extracted"
    shutil.rmtree(archive, ignore_errors=True)
    archive.mkdir(parents=True)
    shutil.copy(zip_path, archive / Path(zip_path).name)
    report = downloaded / REPORT_NAME
    report.unlink(missing_ok=True)
    generate(slug, course_root, capture=True)  # zip_collect checks notebook names against release/
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    result = nbgrader(["zip_collect", slug, "--force", "--collector=hub.zip_collect.LmsCollector",
                       f"--LmsCollector.lms={lms}", f"--LmsCollector.id_map={id_map or ''}",
                       f"--LmsCollector.notebook={slug}.ipynb", f"--LmsCollector.extracted={extracted}",
                       f"--LmsCollector.report={report}"], course_root, env=env, capture=True)
    if result.returncode != 0:
        raise CourseError(f"nbgrader zip_collect {slug} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    data = json.loads(report.read_text()) if report.exists() else {"matched": [], "unmatched": []}
    if not quiet:
        print(format_report(data, slug, course_root))
    return data


def format_report(data: dict, slug: str, course_root: Path) -> str:
    lines = [f"zip_collect {slug}: {len(data['matched'])} notebook(s) filed under {course_root / 'submitted'}"]
    lines += [f"  {m['student']:20s} <- {m['file']}" + (" (LATE)" if m.get("late") else "") for m in data["matched"]]
    if data["unmatched"]:
        lines.append(f"NOT COLLECTED: {len(data['unmatched'])} file(s) could not be matched to a student:")
        lines += [f"  {u['file']}: {u['reason']}" for u in data["unmatched"]]
    else:
        lines.append("every file was matched to a student")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from grader.catalog import COURSE_DIR
    from grader.commands import CourseError

    parser = argparse.ArgumentParser(prog="python -m hub.zip_collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", type=Path)
    parser.add_argument("lesson")
    parser.add_argument("--lms", default="canvas", choices=("canvas", "moodle"))
    parser.add_argument("--map", type=Path, help="CSV with lms_id and username columns")
    parser.add_argument("--course-root", type=Path, default=COURSE_DIR)
    args = parser.parse_args(argv)
    try:
        data = zip_collect(args.zip, args.lesson, args.course_root, args.lms, args.map)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 2 if data["unmatched"] else 0


if __name__ == "__main__":
    sys.exit(main())
