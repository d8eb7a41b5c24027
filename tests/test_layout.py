"""The layout README describes is the layout git holds, and the student side never reaches
into the instructor side."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDENT_SIDE = ("gpt2ref", "quiz", "course", "lessons")


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if (ROOT / line).exists()]


def readme_layout() -> dict[str, str]:
    """{folder: description} from the code block after README's "Layout" line."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Layout — who owns what:\s*```\n(.*?)```", readme, re.S)
    assert block, "README has no layout block"
    rows = [line.split(None, 1) for line in block.group(1).splitlines() if line.strip()]
    return {row[0].rstrip("/").replace("<lesson>", "*"): row[1] for row in rows}


def test_every_folder_in_the_readme_layout_exists():
    for folder in readme_layout():
        assert list(ROOT.glob(folder)), f"README's layout names {folder}/, which does not exist"


def test_every_top_level_folder_is_in_the_readme_layout():
    listed = {folder.split("/")[0] for folder in readme_layout()}
    top = {path.split("/")[0] for path in tracked_files() if "/" in path}
    missing = sorted(top - listed - {".ci", "docs"})
    assert missing == [], f"folders README's layout does not explain: {missing}"


def test_each_lesson_keeps_its_hand_written_files_together():
    files = tracked_files()
    lessons = sorted({p.split("/")[2] for p in files if p.startswith("grader/lessons/")})
    assert len(lessons) == 8
    for slug in lessons:
        assert {p.split("/")[-1] for p in files if p.startswith(f"grader/lessons/{slug}/")} >= {
            "lesson.py", "grading.py", "quiz.json", "quiz.en.json"}
    # Nothing hand-written elsewhere: nbgrader-course/source/ holds exactly what the lesson folders generate.
    assert not [p for p in files if p.startswith(("grader/authoring/", "grader/mutants/", "grader/reference/"))]


def test_the_student_side_never_imports_the_instructor_side():
    offenders = []
    for path in tracked_files():
        if path.startswith(STUDENT_SIDE) and path.endswith((".py", ".ipynb", ".json")):
            text = (ROOT / path).read_text(encoding="utf-8")
            if re.search(r"\bgrader\.reference\b|^\s*(from|import) grader\b|\"(from|import) grader\b", text, re.M):
                offenders.append(path)
    assert offenders == []
