"""The intake gate (grader/sandbox/intake.py): attacks first. A submission folder may hold links, FIFOs,
odd names, huge or countless files; none of it may be followed as root, and what one submission
holds must not slow the class down."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from grader.sandbox import intake

SLUG = "99-toy"


def course(tmp_path: Path) -> Path:
    root = tmp_path / "grader"
    (root / "submitted").mkdir(parents=True)
    return root


def hand_in(root: Path, student: str, files: dict[str, bytes] | None = None) -> Path:
    folder = root / "submitted" / student / SLUG
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), folder / f"{SLUG}.ipynb")
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return folder


def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "shadow"
    path.parent.mkdir()
    path.write_text("root:$6$SECRET-HASH:19000:0:99999:7:::\n")
    return path


def tree_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink())


def test_links_are_never_followed_and_are_reported_by_name(tmp_path):
    root = course(tmp_path)
    target = secret(tmp_path)
    folder = hand_in(root, "ana", {"data.txt": b"my own data\n"})
    (folder / "notes.txt").symlink_to(target)
    (folder / "gradebook.db").symlink_to(root / "gradebook.db")
    (folder / "sub").mkdir()
    (folder / "sub" / "deep.txt").symlink_to(target)
    (folder / "linked-dir").symlink_to(target.parent, target_is_directory=True)
    os.mkfifo(folder / "pipe")

    report = intake.gate(root, "ana", SLUG)

    clean = root / "submitted" / "ana" / SLUG
    assert b"SECRET-HASH" not in tree_bytes(clean)
    assert not any(p.is_symlink() for p in clean.rglob("*"))
    assert (clean / "data.txt").read_bytes() == b"my own data\n"
    assert (clean / f"{SLUG}.ipynb").is_file()
    refused = dict(report.refused)
    assert refused == {"notes.txt": intake.LINK, "gradebook.db": intake.LINK, "sub_deep.txt": intake.LINK,
                       "linked-dir": intake.LINK, "pipe": intake.SPECIAL}
    # Nothing lost: the folder as handed in is kept for the instructor, links and all.
    raw = root / report.raw
    assert (raw / "notes.txt").is_symlink() and raw.parent == intake.intake_folder(root, "ana", SLUG)
    assert intake.read_report(root, "ana", SLUG).refused == report.refused


def test_a_notebook_that_is_a_link_is_replaced_by_an_empty_one(tmp_path):
    root = course(tmp_path)
    other = hand_in(root, "bob")
    folder = root / "submitted" / "eve" / SLUG
    folder.mkdir(parents=True)
    (folder / f"{SLUG}.ipynb").symlink_to(other / f"{SLUG}.ipynb")

    report = intake.gate(root, "eve", SLUG)

    clean = folder / f"{SLUG}.ipynb"
    assert not clean.is_symlink()
    assert json.loads(clean.read_text())["cells"] == [], "never graded as its target"
    assert report.refused_notebook(f"{SLUG}.ipynb")


@pytest.mark.parametrize("what", ["student", "lesson"])
def test_a_linked_submission_folder_is_refused_whole(tmp_path, what):
    root = course(tmp_path)
    bob = hand_in(root, "bob")
    if what == "lesson":
        (root / "submitted" / "eve").mkdir()
        (root / "submitted" / "eve" / SLUG).symlink_to(bob, target_is_directory=True)
    else:
        (root / "submitted" / "eve").symlink_to(bob.parent, target_is_directory=True)

    assert ("eve", SLUG if what == "lesson" else "*") in intake.submission_folders(root)
    report = intake.gate(root, "eve", SLUG)

    assert report.problem == intake.FOLDER_IS_LINK
    eve = root / "submitted" / "eve"
    assert not eve.is_symlink() and not (eve / SLUG).is_symlink()
    assert json.loads((eve / SLUG / f"{SLUG}.ipynb").read_text())["cells"] == []
    assert (bob / f"{SLUG}.ipynb").is_file(), "the other student's work is untouched"


def test_caps_on_size_count_names_and_depth(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_FILE_BYTES", 1000)
    monkeypatch.setattr(intake, "MAX_FILES", 3)
    root = course(tmp_path)
    folder = hand_in(root, "ana", {"big.bin": b"x" * 1001, "a.txt": b"a", "b.txt": b"b", "c.txt": b"c",
                                   "d1/d2/d3/d4/d5.txt": b"deep", ".sandbox-verdict.json": b"{}",
                                   "bad<img src=x onerror=alert(1)>.txt": b"x"})
    (folder / f"{SLUG}.ipynb").write_bytes(b"{}")  # a tiny notebook: 1 of the 3 files

    report = intake.gate(root, "ana", SLUG)

    why = dict(report.refused)
    assert why["big.bin"] == intake.TOO_BIG
    assert why[".sandbox-verdict.json"] == intake.BAD_NAME, "a hidden file is never taken in"
    assert why["d1_d2_d3_d4"] == intake.TOO_DEEP
    assert intake.TOO_MANY in why.values()
    assert any(name.startswith("bad_img_src_x_onerror_alert_1__") for name in why), why
    assert all(set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789._+-_") for name in why)
    assert report.copied == 3
    assert not (root / "submitted" / "ana" / SLUG / ".sandbox-verdict.json").exists()


def test_twenty_thousand_files_cost_the_class_little(tmp_path):
    root = course(tmp_path)
    folder = hand_in(root, "ana")
    many = folder / "many"
    many.mkdir()
    for i in range(20_000):
        (many / f"f{i}").write_bytes(b"1")

    started = time.monotonic()
    report = intake.gate(root, "ana", SLUG)
    took = time.monotonic() - started

    clean = root / "submitted" / "ana" / SLUG
    copied = sum(1 for p in clean.rglob("*") if p.is_file())
    assert copied <= intake.MAX_FILES + 1
    assert report.more_refused > 0
    assert took < 10, f"the gate took {took:.1f} s"  # measured ~0.5 s here: a loose bound, not a benchmark


def test_a_clean_folder_is_not_gated_twice_and_a_new_hand_in_is(tmp_path):
    root = course(tmp_path)
    hand_in(root, "ana", {"data.txt": b"1"})
    first = intake.gate(root, "ana", SLUG)
    again = intake.gate(root, "ana", SLUG)
    assert again.gated_at == first.gated_at, "already the gate's copy"
    folder = root / "submitted" / "ana" / SLUG
    (folder / "notes.txt").symlink_to(secret(tmp_path))
    third = intake.gate(root, "ana", SLUG)
    assert third.gated_at != first.gated_at and dict(third.refused) == {"notes.txt": intake.LINK}
    assert not (folder / "notes.txt").exists()


def test_the_nbgrader_hook_never_raises_and_fails_closed(tmp_path, monkeypatch):
    root = course(tmp_path)
    folder = hand_in(root, "ana")

    def broken(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(intake, "_take_in", broken)
    intake.nbgrader_hook(assignment=SLUG, student="*", notebooks=[str(folder / f"{SLUG}.ipynb")])
    report = intake.read_report(root, "ana", SLUG)
    assert report.problem == intake.GATE_FAILED
    assert json.loads((folder / f"{SLUG}.ipynb").read_text())["cells"] == []


def test_folders_whose_names_are_not_student_ids_are_named_not_graded(tmp_path):
    root = course(tmp_path)
    hand_in(root, "ana")
    (root / "submitted" / "<script>x").mkdir()
    assert intake.submission_folders(root) == [("ana", SLUG)]
    assert intake.odd_folders(root) == ["_script_x"]
