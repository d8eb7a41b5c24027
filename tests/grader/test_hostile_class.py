"""A class of the toy lesson graded with `make autograde`'s code: a correct submission, an honest
weak one, and attacks on what lies *around* the sandbox (links handed in, forged verdicts, a
silenced kernel that breaks the outside check, countless files, huge output, a full disk, a fork
bomb, active HTML). Written as attacks first: each broke the grading before the intake gate,
fail-closed outside check and byte limits existed.

Every honest score must be exact; every attack scores at most its honest work or is held at 0
for review with the right reason; nothing of the secret file, the gradebook or another student's
notebook reaches ``autograded/`` or the feedback; the host's disk does not fill.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from grader import acceptance, commands, sandbox
from grader.orchestration import score_table
from grader.proofs.submissions import Submission
from grader.sandbox import intake
from grader.sandbox import settings as sandbox_settings

from .conftest import SLUG
from .test_parallel import _submit

needs_sandbox = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                   reason=f"no sandbox here: {sandbox.unavailable_reason()}")

SECRET = "root:$6$HOSTILE-SHADOW-LINE:19000:0:99999:7:::"
RIGHT = {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
ADD_WRONG = {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}


def with_cell(source: str, kind: str = "code"):
    """A transform: one more ordinary cell at the end of the notebook."""
    def transform(nb):
        new = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        nb.cells.append(new)
        return nb
    return transform


ATTACKS = {
    # Links named like ordinary files: their targets must never be copied in as root.
    "links": Submission("links", fails=set(), transform=with_cell(
        "for name in ('notes.txt', 'gradebook.db', 'key.json'):\n"
        "    try:\n        print(open(name, errors='replace').read()[:200])\n"
        "    except OSError as exc:\n        print('no', name)")),
    # Checks silenced in the kernel, and the outside check handed a JSON list instead of an object.
    "silenced-broken-check": Submission("silenced-broken-check", fails=set(), cells={
        "add": "import course.checks, atexit\n"
               "vars(course.checks).update(expect_equal=lambda *a, **k: None)\n"
               "atexit.register(lambda: open('out.json', 'w').write('[]'))\n"
               "def add(a, b):\n    return a - b"}),
    # One cell prints 20 MiB; another writes past the disk limit into its folder and /tmp.
    "huge-output": Submission("huge-output", fails=set(), transform=with_cell(
        "print('x' * (20 * 2**20))")),
    "disk-filler": Submission("disk-filler", fails=set(), transform=with_cell(
        "block = b'0' * 2**20\n"
        "for where in ('filler.bin', '/tmp/filler.bin'):\n"
        "    try:\n"
        "        with open(where, 'wb') as handle:\n"
        "            for _ in range(400):\n                handle.write(block)\n"
        "    except OSError as exc:\n        print('stopped:', type(exc).__name__)")),
    # Active content for the instructor's browser: in markdown and in outputs.
    "active-html": Submission("active-html", fails=set(), transform=lambda nb: with_cell(
        "from IPython.display import HTML, Javascript, display\n"
        "display(HTML('<img src=x onerror=\"fetch(`/api/contents`)\"><script>fetch(\"/api/contents\")</script>'))\n"
        "display(Javascript('fetch(\"/api/contents\")'))")(with_cell(
            "<img src=x onerror=\"fetch('/api/contents')\"> <script>alert(1)</script>", "markdown")(nb))),
}


def _plant(root: Path, secret: Path) -> None:
    links = root / "submitted" / "links" / SLUG
    (links / "notes.txt").symlink_to(secret)
    (links / "gradebook.db").symlink_to(root / "gradebook.db")
    (links / "key.json").symlink_to(root / "lessons" / SLUG / "quiz.json")
    # A notebook that is a link to another student's submitted notebook.
    borrowed = root / "submitted" / "borrower" / SLUG
    borrowed.mkdir(parents=True)
    (borrowed / f"{SLUG}.ipynb").symlink_to(root / "submitted" / "solution" / SLUG / f"{SLUG}.ipynb")
    # A forged verdict handed in with the notebook, and 20,000 small files.
    forged = root / "submitted" / "forged-verdict" / SLUG
    (forged / ".sandbox-verdict.json").write_text(json.dumps(
        {"sandboxed": True, "reason": "<img src=x onerror=alert(1)>", "peak_bytes": 1}))
    many = root / "submitted" / "many-files" / SLUG / "many"
    many.mkdir()
    for i in range(20_000):
        (many / f"f{i}").write_bytes(b"1")


@needs_sandbox
@pytest.mark.slow
def test_a_hostile_class_is_graded_exactly_and_fails_closed(toy_course, monkeypatch, tmp_path, grading_tables):
    monkeypatch.setenv("GPT2_COURSE_CELL_TIMEOUT", "60")
    monkeypatch.setenv(sandbox_settings.ENV_DISK, "64M")
    root = toy_course
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    honest = ["solution", "add-subtracts", "forged-verdict", "many-files"]
    # The toy lesson's own hostile roster gives the honest ones; the attacks are added here.
    real_load = acceptance.load_submissions
    monkeypatch.setattr(acceptance, "load_submissions", lambda slug, course_root: [
        *real_load(slug, course_root), *ATTACKS.values(),
        Submission("forged-verdict", fails=set()), Submission("many-files", fails=set())])
    _submit(root, [*honest, *ATTACKS])
    _plant(root, secret)
    free_before = shutil.disk_usage(root).free
    tmp_before = set(Path(tempfile.gettempdir()).glob("gpt2-sandbox-*"))

    started = time.monotonic()
    scores = commands.autograde([SLUG], course_root=root, quiet=True, jobs=2)
    took = time.monotonic() - started
    status = score_table.read_statuses(root, [SLUG])
    commands.feedback([SLUG], root)
    table = score_table.format_score_table(scores, status)
    (grading_tables / "hostile-class-toy.txt").write_text(f"hostile class (toy lesson), {took:.0f} s\n{table}\n")

    # Honest work: exact, and not under review.
    assert scores[("solution", SLUG)] == RIGHT and status[("solution", SLUG)].label == "graded"
    assert scores[("add-subtracts", SLUG)] == ADD_WRONG and status[("add-subtracts", SLUG)].label == "graded"
    # Links: never followed; the work itself is graded, the folder flagged.
    assert scores[("links", SLUG)] == RIGHT
    assert status[("links", SLUG)].label == "NEEDS REVIEW (intake)"
    assert scores[("borrower", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert status[("borrower", SLUG)].label == "NEEDS REVIEW (intake)"
    # A forged verdict is not read; its name alone sends the folder to review.
    assert scores[("forged-verdict", SLUG)] == RIGHT
    assert status[("forged-verdict", SLUG)].label == "NEEDS REVIEW (intake)"
    assert scores[("many-files", SLUG)] == RIGHT and status[("many-files", SLUG)].label == "NEEDS REVIEW (intake)"
    # The trusted side broke: every test it covers is 0 pending review, never the kernel's word.
    assert scores[("silenced-broken-check", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0),
                                                       "post_quiz": (2.0, 2.0)}
    assert "outside check" in status[("silenced-broken-check", SLUG)].review
    # Limits: named, and the work still graded.
    assert scores[("huge-output", SLUG)] == RIGHT
    assert status[("huge-output", SLUG)].label == "NEEDS REVIEW (output limit)"
    assert scores[("disk-filler", SLUG)] == RIGHT
    assert status[("disk-filler", SLUG)].label == "NEEDS REVIEW (disk limit)"
    assert scores[("active-html", SLUG)] == RIGHT

    graded = root / "autograded"
    everything = b"".join(p.read_bytes() for p in graded.rglob("*") if p.is_file() and not p.is_symlink())
    everything += b"".join(p.read_bytes() for p in (root / "feedback").rglob("*") if p.is_file())
    assert b"HOSTILE-SHADOW-LINE" not in everything
    assert not any(p.is_symlink() for p in graded.rglob("*"))
    assert not (graded / "links" / SLUG / "gradebook.db").exists()
    assert (graded / "huge-output" / SLUG / f"{SLUG}.ipynb").stat().st_size < 6 * 2**20
    for student in ATTACKS:
        # Active content: what is rendered (markdown, outputs), not the code, which is shown as text.
        nb = nbformat.read(graded / student / SLUG / f"{SLUG}.ipynb", as_version=4)
        rendered = json.dumps([c.source for c in nb.cells if c.cell_type != "code"]
                              + [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])])
        assert "onerror" not in rendered.lower() and "<script" not in rendered.lower(), student
        assert "application/javascript" not in rendered, student
        html = (root / "feedback" / student / SLUG / f"{SLUG}.html").read_text()
        assert not re.search(r"<[a-z][^<>]*\son[a-z]+\s*=", html, re.I), student
        assert "<script>fetch" not in html and "<script>alert" not in html, student
    # The disk: the 2 x 400 MiB the filler tried did not land on the host.
    assert free_before - shutil.disk_usage(root).free < 200 * 2**20
    assert set(Path(tempfile.gettempdir()).glob("gpt2-sandbox-*")) == tmp_before, "no sandbox folder left behind"
    # The review words are the course's own.
    state = json.loads((root / "grading-state.json").read_text())["submissions"]
    assert "onerror" not in json.dumps(state)
    report = intake.read_report(root, "links", SLUG)
    assert dict(report.refused) == {"notes.txt": intake.LINK, "gradebook.db": intake.LINK, "key.json": intake.LINK}


@needs_sandbox
@pytest.mark.slow
def test_a_fork_bomb_is_reported_as_the_process_limit(toy_course, monkeypatch):
    monkeypatch.setenv("GPT2_COURSE_CELL_TIMEOUT", "30")
    monkeypatch.setenv(sandbox_settings.ENV_PIDS, "64")
    bomb = Submission("fork-bomb", fails=set(), transform=with_cell(
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"))
    real_load = acceptance.load_submissions
    monkeypatch.setattr(acceptance, "load_submissions", lambda slug, course_root: [*real_load(slug, course_root), bomb])
    _submit(toy_course, ["fork-bomb"])
    before = set(Path(tempfile.gettempdir()).glob("gpt2-sandbox-*"))
    scores = commands.autograde([SLUG], course_root=toy_course, quiet=True, jobs=1)
    status = score_table.read_statuses(toy_course, [SLUG])[("fork-bomb", SLUG)]
    assert "process limit" in status.review, status.label
    assert "could not run the notebook" not in status.review
    assert scores[("fork-bomb", SLUG)]["test_add"] == (2.0, 2.0), "the cells before the bomb still count"
    assert set(Path(tempfile.gettempdir()).glob("gpt2-sandbox-*")) == before
