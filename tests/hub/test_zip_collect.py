"""Submissions from an LMS zip: filed under submitted/ by nbgrader zip_collect, then graded.

Canvas and Moodle name the files in their exports differently (hub/zip_collect.py); the test
builds a zip in each layout from the toy lesson (tests/grader/fixtures/toy-course): a correct
notebook, a buggy one, a late resubmission, and files that must be reported as unmatched.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import acceptance, build, catalog, commands
from grader.proofs.submissions import make_submission
from hub import zip_collect

SLUG = "99-toy"
FIXTURE = catalog.REPO_DIR / "tests" / "grader" / "fixtures" / "toy-course"


@pytest.fixture
def toy(tmp_path) -> Path:
    root = tmp_path / "grader"
    shutil.copytree(FIXTURE, root)
    shutil.copy(catalog.GRADER_DIR / "nbgrader_config.py", root / "nbgrader_config.py")
    build.write_if_changed(SLUG, root)
    return root


def _notebooks(root: Path) -> tuple[str, str]:
    release = commands.generate(SLUG, root, capture=True)
    source_nb = nbformat.read(catalog.source_notebook(SLUG, root), as_version=4)
    release_nb = nbformat.read(release / f"{SLUG}.ipynb", as_version=4)
    subs = {s.name: s for s in acceptance.load_submissions(SLUG, root)}
    good = make_submission(source_nb, release_nb, subs["solution"])
    bad = make_submission(source_nb, release_nb, subs["add-subtracts"])
    return nbformat.writes(good), nbformat.writes(bad)


def _roster(path: Path) -> Path:
    path.write_text("username,role,lms_id\nana,student,1001\nben,student,1002\ncho,student,1003\n")
    return path


def test_parse_canvas_and_moodle_names():
    assert zip_collect.parse_name("lovelaceada_12345_678901_35-gpt-model-assembly.ipynb", "canvas") == {
        "name": "lovelaceada", "lms_id": "12345", "file": "35-gpt-model-assembly.ipynb", "late": False,
        "submission_id": "678901"}
    assert zip_collect.parse_name("lovelaceada_LATE_12345_678902_35-gpt-model-assembly-1.ipynb", "canvas")["late"]
    assert zip_collect.parse_name("Ada Lovelace_4242_assignsubmission_file_/work.ipynb", "moodle") == {
        "name": "Ada Lovelace", "lms_id": "4242", "file": "work.ipynb", "late": False}
    assert zip_collect.parse_name("Ada Lovelace_4242_assignsubmission_file_work.ipynb", "moodle")["lms_id"] == "4242"
    assert zip_collect.parse_name("notes.ipynb", "canvas") is None
    assert zip_collect.parse_name("notes.ipynb", "moodle") is None


@pytest.mark.slow
def test_canvas_zip_is_collected_and_graded(toy, tmp_path, capsys):
    good, bad = _notebooks(toy)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"anaana_1001_5001_{SLUG}.ipynb", good)
        zf.writestr(f"benben_1002_5002_{SLUG}.ipynb", bad)
        zf.writestr(f"benben_LATE_1002_5003_{SLUG}-1.ipynb", bad)  # a resubmission, same bug
        zf.writestr(f"strangerx_9999_5004_{SLUG}.ipynb", good)  # not in the roster
        zf.writestr("README.txt", "exported by the LMS")  # not a notebook
        zf.writestr(f"{SLUG}.ipynb", good)  # no student in the name
    report = zip_collect.zip_collect(archive, SLUG, toy, "canvas", _roster(tmp_path / "roster.csv"))
    printed = capsys.readouterr().out
    assert {m["student"] for m in report["matched"]} == {"ana", "ben"}
    unmatched = {u["file"]: u["reason"] for u in report["unmatched"]}
    assert set(unmatched) == {f"strangerx_9999_5004_{SLUG}.ipynb", "README.txt", f"{SLUG}.ipynb",
                              f"benben_1002_5002_{SLUG}.ipynb"}, unmatched
    assert "9999" in unmatched[f"strangerx_9999_5004_{SLUG}.ipynb"]
    assert f"benben_LATE_1002_5003_{SLUG}-1.ipynb was collected" in unmatched[f"benben_1002_5002_{SLUG}.ipynb"]
    assert "NOT COLLECTED: 4 file(s)" in printed and "strangerx_9999" in printed
    for student in ("ana", "ben"):
        assert (toy / "submitted" / student / SLUG / f"{SLUG}.ipynb").is_file()
    assert not (toy / "submitted" / "strangerx").exists()

    scores = commands.autograde([SLUG], course_root=toy, quiet=True)
    assert scores[("ana", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert scores[("ben", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}


@pytest.mark.slow
def test_moodle_zip_folders_are_collected(toy, tmp_path):
    good, _ = _notebooks(toy)
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"Cho Chen_1003_assignsubmission_file_/{SLUG}.ipynb", good)
        zf.writestr("Ana Ana_1001_assignsubmission_file_/my work.ipynb", good)  # renamed by the student
        zf.writestr("Dan Dee_7777_assignsubmission_file_/x.ipynb", good)  # not in the roster
    report = zip_collect.zip_collect(archive, SLUG, toy, "moodle", _roster(tmp_path / "roster.csv"), quiet=True)
    assert sorted(m["student"] for m in report["matched"]) == ["ana", "cho"]
    assert [u["file"] for u in report["unmatched"]] == ["Dan Dee_7777_assignsubmission_file_/x.ipynb"]
    assert (toy / "submitted" / "ana" / SLUG / f"{SLUG}.ipynb").is_file(), "filed under the lesson's notebook name"
    saved = json.loads((toy / "downloaded" / SLUG / zip_collect.REPORT_NAME).read_text())
    assert saved == report
