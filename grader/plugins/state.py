"""The grading state, ``grading-state.json`` in the course root: which version (sha256) of each
submission was graded, when, and what it needed (review reasons, notes); and the sandbox's
verdict on a run, which ``grader.sandbox`` writes beside the autograded folder."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from grader import sandbox

# In the course root: (student, lesson) -> sha256 of the notebook when it was graded.
STATE_FILE = "grading-state.json"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_state(course_root: Path) -> dict:
    """{student: {lesson: {"sha256": ..., "graded_at": ..., "review": [...], "notes": [...]}}}."""
    path = Path(course_root) / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data.get("submissions", {}) if isinstance(data, dict) else {}


def state_entry(course_root: Path, student: str, lesson: str) -> dict:
    entry = read_state(course_root).get(student, {}).get(lesson)
    return entry if isinstance(entry, dict) else {}


def record_state(course_root: Path, student: str, lesson: str, sha256: str | None,
                 review: list[str], notes: list[str]) -> None:
    """Remember that this version of the submission was graded (atomically replaces the file)."""
    root = Path(course_root)
    state = read_state(root)
    state.setdefault(student, {})[lesson] = {
        "sha256": sha256,
        "graded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "review": list(review),
        "notes": list(notes),
    }
    tmp = root / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"version": 1, "submissions": state}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, root / STATE_FILE)


def read_verdict(autograded_dir: Path, not_before: float | None = None) -> dict | None:
    """The sandbox's verdict on the kernel that ran in ``autograded_dir``, or None. Only the file
    ``grader.sandbox`` writes *beside* the folder counts: nothing inside the submission's own
    folder is ever read as a verdict (a student could hand one in).
    ``not_before``: ignore a verdict file older than this (time.time()): it is an earlier run's."""
    path = sandbox.verdict_path(Path(autograded_dir))
    try:
        if not_before is not None and path.stat().st_mtime < not_before - 1:
            return None
        verdict = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return verdict if isinstance(verdict, dict) else None
