"""grader.sandbox, tested as the attacker: real kernels in the sandbox try to get out.

Each test starts a kernel through ``BlockingSandboxedKernelManager`` (the same code as the
``SandboxedKernelManager`` nbgrader uses) with its working folder at
``<course>/autograded/alice/99-toy/`` of a made-up course, and runs hostile code in it. The
slow tests at the end go through ``nbgrader autograde`` on the toy course.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import sqlite3
import sys
import time
import uuid
from importlib.util import find_spec
from pathlib import Path

import nbformat
import pytest

from grader import commands, sandbox
from grader.orchestration import score_table
from grader.proofs.submissions import Submission, make_submission
from grader.sandbox import bwrap
from grader.sandbox import settings as sandbox_settings
from grader.sandbox.kernel import BlockingSandboxedKernelManager

REASON = sandbox.unavailable_reason()
needs_sandbox = pytest.mark.skipif(REASON is not None, reason=f"no sandbox here: {REASON}")
REPO = Path(__file__).resolve().parents[2]
SLUG = "99-toy"
CHECKS = Path(find_spec("course").submodule_search_locations[0]) / "checks.py"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Kernel:
    """A sandboxed kernel and a blocking client; ``run(code)`` -> (status, stdout + stderr, error)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.km = BlockingSandboxedKernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=str(workdir))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 60) -> tuple[str, str, str]:
        out, errors = [], []

        def hook(msg):
            content = msg["content"]
            if msg["msg_type"] == "stream":
                out.append(content["text"])
            elif msg["msg_type"] == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook)
        return reply["content"]["status"], "".join(out), "\n".join(errors)

    def value(self, expression: str):
        status, out, error = self.run(f"print(repr({expression}))")
        assert status == "ok", error
        return eval(out)  # noqa: S307 (our own test kernel's repr of plain data)

    def shutdown(self) -> dict:
        """Stop the kernel as nbclient does: shut it down if it is alive, then clean up anyway."""
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        self.km.cleanup_resources()
        return self.km.last_verdict


@pytest.fixture
def course(tmp_path):
    """A made-up course: source with hidden tests, a gradebook, bob's submission, alice's folder."""
    root = tmp_path / "grader"
    for folder in ("source", "submitted/bob", "submitted/alice", "autograded/alice"):
        (root / folder / SLUG).mkdir(parents=True)
    (root / "source" / SLUG / f"{SLUG}.ipynb").write_text('{"HIDDEN TESTS": "assert add(2, 2) == 4"}')
    (root / "submitted" / "bob" / SLUG / f"{SLUG}.ipynb").write_text('{"bob": "my answers"}')
    with sqlite3.connect(root / "gradebook.db") as db:
        db.execute("create table grade (student text, score real)")
        db.execute("insert into grade values ('alice', 0)")
    return root


@pytest.fixture
def kernel(course):
    started = []

    def start() -> Kernel:
        started.append(Kernel(course / "autograded" / "alice" / SLUG))
        return started[-1]

    yield start
    for k in started:
        k.shutdown()


def blocked(k: Kernel, statement: str) -> str:
    """Run ``statement`` in the kernel; return the name of the exception it raised (or fail)."""
    status, out, error = k.run(f"try:\n    {statement}\n    print('LEAK')\nexcept Exception as e:\n"
                               "    print(type(e).__name__)")
    assert status == "ok", error
    assert "LEAK" not in out, f"{statement!r} succeeded inside the sandbox"
    return out.strip()


# --- files --------------------------------------------------------------------------------

@needs_sandbox
def test_a_hidden_tests_and_other_students_are_out_of_reach(course, kernel):
    k = kernel()
    real_source = next((REPO / "nbgrader-course" / "source").glob("*/*.ipynb"))
    for path in [course / "source" / SLUG / f"{SLUG}.ipynb", course / "submitted" / "bob" / SLUG / f"{SLUG}.ipynb",
                 course / "submitted" / "alice" / SLUG, real_source, REPO / "grader" / "acceptance.py"]:
        assert blocked(k, f"open({str(path)!r}).read()") in {"FileNotFoundError", "IsADirectoryError"}
    assert k.value(f"__import__('os').listdir({str(course)!r})") == ["autograded"]
    # The repository shows only the installed course packages and the venv, read-only.
    assert set(k.value(f"__import__('os').listdir({str(REPO)!r})")) <= {"gpt2ref", "quiz", "course", ".venv"}


@needs_sandbox
def test_b_the_gradebook_cannot_be_opened_or_written(course, kernel):
    k = kernel()
    gradebook = course / "gradebook.db"
    before = sha256(gradebook)
    assert blocked(k, f"open({str(gradebook)!r}, 'r+b')") == "FileNotFoundError"
    wipe = f"__import__('sqlite3').connect({str(gradebook)!r}).execute('delete from grade').connection.commit()"
    assert blocked(k, wipe) == "OperationalError"
    assert blocked(k, f"open({str(course / 'gradebook-new.db')!r}, 'w')") in {"PermissionError", "OSError"}
    k.shutdown()
    assert sha256(gradebook) == before and not (course / "gradebook-new.db").exists()


@needs_sandbox
def test_c_the_installed_course_package_is_read_only(kernel):
    before = sha256(CHECKS)
    k = kernel()
    denied = {"OSError", "PermissionError"}  # a read-only mount (EROFS), and not the owner anyway
    assert blocked(k, f"open({str(CHECKS)!r}, 'a').write('\\nexpect_equal = lambda *a, **k: None\\n')") in denied
    assert blocked(k, f"__import__('os').remove({str(CHECKS)!r})") in denied
    assert blocked(k, "open(__import__('site').getsitepackages()[0] + '/evil.pth', 'w')") in denied
    k.shutdown()
    assert sha256(CHECKS) == before


@needs_sandbox
def test_nothing_the_kernel_writes_in_its_folder_reaches_the_real_one(course, kernel):
    # nbgrader writes the graded notebook into this folder (and chmods its files) after the kernel:
    # a symlink named like the notebook would make it overwrite a host file. The kernel writes
    # to a bounded copy of the folder, thrown away with it: none of it lands in the real folder.
    victim = course.parent / "victim.txt"
    victim.write_text("precious\n")
    k = kernel()
    before = sorted(p.name for p in k.workdir.iterdir())
    status, _, error = k.run(f"import os\nos.symlink({str(victim)!r}, '{SLUG}.ipynb')\nos.mkfifo('pipe')\n"
                             "os.makedirs('sub')\nos.symlink('/', 'sub/root')\nopen('answer.txt', 'w').write('42')\n"
                             "print(sorted(os.listdir('.')))")
    assert status == "ok", error
    verdict = k.shutdown()
    assert verdict["removed"] == []
    assert sorted(p.name for p in k.workdir.iterdir()) == before
    assert not any(p.is_symlink() for p in k.workdir.rglob("*"))
    assert victim.read_text() == "precious\n"


@needs_sandbox
def test_its_folder_and_tmp_are_bounded_so_the_host_disk_is_never_filled(course, kernel, monkeypatch):
    monkeypatch.setenv(sandbox_settings.ENV_DISK, "16M")
    free_before = shutil.disk_usage(course).free
    k = kernel()
    code = ("import errno\nblock = b'0' * 2**20\nfor where in ('filler.bin', '/tmp/filler.bin', '/dev/shm/f'):\n"
            "    try:\n        with open(where, 'wb') as h:\n            for _ in range(64):\n                h.write(block)\n"
            "        print('LEAK', where)\n    except OSError as e:\n        print(errno.errorcode[e.errno])")
    status, out, error = k.run(code)
    assert status == "ok", error
    assert "LEAK" not in out and out.split() == ["ENOSPC", "ENOSPC", "ENOSPC"], out
    verdict = k.shutdown()
    assert verdict["reason"] == sandbox_settings.REASON_DISK
    assert free_before - shutil.disk_usage(course).free < 32 * 2**20


# --- network, processes, privileges ----------------------------------------------------------

@needs_sandbox
def test_d_no_network_not_even_the_hosts_loopback(kernel):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        k = kernel()
        assert blocked(k, f"__import__('socket').create_connection(('127.0.0.1', {port}), timeout=5)") \
            == "ConnectionRefusedError"
        assert blocked(k, "__import__('socket').create_connection(('1.1.1.1', 80), timeout=5)") == "OSError"
        with pytest.raises(socket.timeout):
            listener.accept()


def processes_with(marker: str) -> list[int]:
    """Host PIDs of live processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                if "\nState:\tZ" not in (entry / "status").read_text():
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


@needs_sandbox
def test_e_detached_children_die_with_the_kernel(kernel):
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    k = kernel()
    sleeper = f"[sys.executable, '-c', 'import time; time.sleep(1000)', {marker!r}]"
    status, _, error = k.run(f"import subprocess, sys\nsubprocess.Popen(['setsid', *{sleeper}])\n"
                             f"subprocess.Popen({sleeper}, start_new_session=True)")
    assert status == "ok", error
    deadline = time.monotonic() + 10
    while len(processes_with(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(processes_with(marker)) == 2
    k.shutdown()
    assert processes_with(marker) == []


@needs_sandbox
def test_not_root_no_capabilities_and_no_way_to_change_the_system(kernel):
    # As uid 0, even without capabilities, a process could write the host's /proc/sys (a
    # core_pattern there runs a program as root on the host): the kernel must be somebody else.
    k = kernel()
    if os.geteuid() == 0:
        assert k.value("__import__('os').getresuid()") == (bwrap.SANDBOX_UID,) * 3
    status = k.value("open('/proc/self/status').read()")
    assert "CapPrm:\t0000000000000000" in status and "CapEff:\t0000000000000000" in status
    assert "CapAmb:\t0000000000000000" in status and "NoNewPrivs:\t1" in status
    assert k.value("__import__('os').access('/proc/sys/kernel/core_pattern', __import__('os').W_OK)") is False
    # Harmless even if it got through: the sandbox has its own UTS namespace.
    assert blocked(k, "open('/proc/sys/kernel/domainname', 'w').write('sandbox')") == "PermissionError"
    assert k.value("__import__('os').access('/proc/sysrq-trigger', __import__('os').W_OK)") is False
    assert k.value("__import__('os').path.exists('/sys/fs/cgroup')") is False
    assert k.value("__import__('os').path.exists('/etc/shadow')") is False
    # Its own PID namespace: only the kernel and what it started.
    assert len(k.value("[p for p in __import__('os').listdir('/proc') if p.isdigit()]")) < 5


# --- limits -------------------------------------------------------------------------------

@needs_sandbox
def test_a_fork_bomb_stops_at_the_process_limit(kernel, monkeypatch):
    monkeypatch.setenv(sandbox_settings.ENV_PIDS, "40")
    k = kernel()
    status, out, error = k.run("import subprocess\nstarted = []\ntry:\n    for _ in range(200):\n"
                               "        started.append(subprocess.Popen(['sleep', '1000']))\n"
                               "except OSError as e:\n    print(type(e).__name__)\nprint(len(started))")
    assert status == "ok", error
    refused, count = out.split()
    assert refused == "BlockingIOError" and int(count) < 40
    assert k.value("1 + 1") == 2, "the kernel itself survives"
    assert k.shutdown()["pids_limit"] == 40


@needs_sandbox
def test_f_over_the_memory_limit_the_kernel_dies_and_the_verdict_says_why(course, kernel, monkeypatch):
    monkeypatch.setenv(sandbox_settings.ENV_MEMORY, "1G")
    k = kernel()
    assert k.value("1 + 1") == 2
    with pytest.raises(TimeoutError):  # no reply ever comes: the OOM killer ended the kernel
        k.run("b = b'x' * (1536 * 1024**2)\nprint('survived')", timeout=10)
    deadline = time.monotonic() + 10
    while k.km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not k.km.is_alive()
    verdict = k.shutdown()
    assert verdict["reason"] == "out of memory" and verdict["sandboxed"] is True
    assert verdict["memory_limit_bytes"] == 1024**3 and verdict["peak_bytes"] <= 1024**3
    assert sandbox.read_verdict(k.workdir) == verdict, "the verdict is on disk, beside the folder"
    assert sandbox.verdict_path(k.workdir) == course / "autograded" / "alice" / f".{SLUG}.sandbox-verdict.json"


@needs_sandbox
def test_i_the_wall_clock_kills_a_loop_that_ignores_interrupts(kernel, monkeypatch):
    monkeypatch.setenv(sandbox_settings.ENV_TIMEOUT, "4")
    k = kernel()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        k.run("while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n"
              "        pass", timeout=3)
    k.km.interrupt_kernel()  # what nbgrader does at the cell timeout: not enough here
    while k.km.is_alive() and time.monotonic() - started < 20:
        time.sleep(0.1)
    assert not k.km.is_alive()
    assert time.monotonic() - started < 15
    verdict = k.shutdown()
    assert verdict["reason"] == "wall clock" and verdict["wall_clock_s"] == 4


@needs_sandbox
def test_an_interrupt_stops_a_cell_and_the_kernel_goes_on(kernel):
    # nbgrader interrupts a cell that runs past its timeout and grades the rest of the notebook.
    k = kernel()
    msg_id = k.kc.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(100)")
    deadline = time.monotonic() + 60  # a busy machine may take a while to start the cell
    while time.monotonic() < deadline:  # interrupt only once the cell runs (earlier, nothing is stopped)
        message = k.kc.get_iopub_msg(timeout=60)
        if (message["parent_header"].get("msg_id") == msg_id and message["msg_type"] == "stream"
                and "sleeping" in message["content"]["text"]):
            break
    time.sleep(0.3)
    k.km.interrupt_kernel()
    reply = k.kc.get_shell_msg(timeout=10)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    assert k.value("6 * 7") == 42


# --- what a normal notebook needs ---------------------------------------------------------------

@needs_sandbox
def test_g_a_course_folder_beside_the_notebook_does_not_shadow_the_package(course, kernel):
    fake = course / "autograded" / "alice" / SLUG / "course"
    fake.mkdir()
    (fake / "__init__.py").write_text("FAKE = True\n")
    (fake / "checks.py").write_text("def expect_equal(*args, **kwargs):\n    pass\n")
    k = kernel()
    assert k.value("__import__('course').__file__") == str(CHECKS.parent / "__init__.py")
    assert k.value("hasattr(__import__('course'), 'FAKE')") is False
    assert blocked(k, "__import__('course.checks', fromlist=['x']).expect_equal(1, 2, 'x')") == "CheckFailed"
    assert "" not in k.value("__import__('sys').path") and str(k.workdir) not in k.value("__import__('sys').path")


@needs_sandbox
def test_h_home_and_tmp_are_fresh_and_stay_inside(kernel):
    k = kernel()
    home = k.value("__import__('os').environ['HOME']")
    assert home == bwrap.SANDBOX_HOME and not Path(home).exists()
    assert set(k.value("__import__('os').listdir(__import__('os').path.expanduser('~'))")) <= {".ipython", ".cache"}
    private = Path(k.km.connection_file).parent
    # besides the kernel's private folder and its submission: the folders that lead to the read-only
    # course packages and environment, when the repository or venv itself lives under /tmp (a clone there)
    bound = {Path(p).resolve().parts[2] for p in (REPO, sys.prefix) if Path(p).resolve().parts[1:2] == ("tmp",)}
    assert set(k.value("__import__('os').listdir('/tmp')")) <= {private.name, k.workdir.parts[2], *bound}
    name = f"sandbox-test-{uuid.uuid4().hex}"
    status, _, error = k.run(f"import os\nopen(f'/tmp/{name}', 'w').write('x')\n"
                             f"open(os.path.expanduser('~/{name}'), 'w').write('x')")
    assert status == "ok", error
    env = k.value("dict(__import__('os').environ)")
    assert not {"GPT2_COURSE_REPO", "PYTEST_CURRENT_TEST"} & set(env) and env["PYTHONSAFEPATH"] == "1"
    k.shutdown()
    assert not Path(f"/tmp/{name}").exists() and not (Path.home() / name).exists()
    assert not private.exists()


@needs_sandbox
def test_j_torch_and_the_course_packages_work(kernel):
    k = kernel()
    status, out, error = k.run(
        "import torch, gpt2ref, quiz, course\nfrom course.checks import expect_equal\n"
        "torch.manual_seed(0)\nx = torch.randn(64, 64)\n"
        "expect_equal(torch.allclose(x @ torch.eye(64), x), True, 'x @ I == x')\n"
        "print('sum', round(float((x @ x.T).trace()), 3), torch.__version__)", timeout=120)
    assert status == "ok", error
    assert out.startswith("sum ")
    verdict = k.shutdown()
    assert verdict["reason"] is None and verdict["sandboxed"] is True


# --- refusing, and the explicit opt-out -------------------------------------------------------

def test_without_bwrap_autograde_and_the_kernel_manager_refuse(toy_course, monkeypatch, tmp_path):
    monkeypatch.setenv(sandbox_settings.ENV_BWRAP, str(tmp_path / "no-bwrap"))
    monkeypatch.delenv(sandbox_settings.ENV_UNSANDBOXED, raising=False)
    assert "bubblewrap not found" in sandbox.unavailable_reason()
    with pytest.raises(commands.CourseError, match="apt-get install bubblewrap"):
        commands.autograde([SLUG], course_root=toy_course, quiet=True)
    km = BlockingSandboxedKernelManager(kernel_name="python3")
    fix = f"apt-get install bubblewrap.*\n.*{sandbox_settings.ENV_UNSANDBOXED}=1"
    with pytest.raises(sandbox.SandboxUnavailable, match=fix):
        km.start_kernel(cwd=str(tmp_path))
    assert not km.has_kernel


def test_unsandboxed_on_request_runs_the_plain_kernel_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(sandbox_settings.ENV_BWRAP, str(tmp_path / "no-bwrap"))
    monkeypatch.setenv(sandbox_settings.ENV_UNSANDBOXED, "1")
    workdir = tmp_path / "autograded" / "alice" / SLUG
    workdir.mkdir(parents=True)
    assert sandbox.require_sandbox() is False
    assert "WITHOUT a sandbox" in capsys.readouterr().err
    k = Kernel(workdir)
    try:
        assert k.value("__import__('os').path.exists(" + repr(str(REPO / "grader")) + ")") is True
    finally:
        verdict = k.shutdown()
    assert verdict["sandboxed"] is False and verdict["reason"] is None
    assert sandbox.read_verdict(workdir)["sandboxed"] is False


def test_memory_sizes():
    assert sandbox_settings.parse_bytes("3G") == 3 * 1024**3
    assert sandbox_settings.parse_bytes("1.5GiB") == 1536 * 1024**2
    assert sandbox_settings.parse_bytes("512m") == 512 * 1024**2
    assert sandbox_settings.parse_bytes("4096") == 4096
    with pytest.raises(ValueError, match="GPT2_COURSE_SANDBOX_MEMORY"):
        sandbox_settings.parse_bytes("lots")


# --- end to end: nbgrader autograde on the toy course --------------------------------------------

def hand_in(root: Path, submissions: dict[str, Submission]) -> None:
    release_dir = commands.generate(SLUG, root, capture=True)
    source_nb = nbformat.read(root / "source" / SLUG / f"{SLUG}.ipynb", as_version=4)
    release_nb = nbformat.read(release_dir / f"{SLUG}.ipynb", as_version=4)
    for name, sub in submissions.items():
        target = root / "submitted" / name / SLUG
        shutil.copytree(release_dir, target)
        nbformat.write(make_submission(source_nb, release_nb, sub), target / f"{SLUG}.ipynb")


def hostile_code(root: Path) -> str:
    """A student's answer cell that tries everything, printing LEAK for each success."""
    attempts = {
        "read hidden tests": f"open({str(root / 'source' / SLUG / (SLUG + '.ipynb'))!r}).read()",
        "read ana's notebook": f"open({str(root / 'submitted' / 'ana' / SLUG / (SLUG + '.ipynb'))!r}).read()",
        "write the gradebook": f"open({str(root / 'gradebook.db')!r}, 'r+b').write(b'garbage')",
        "drop into the course": f"open({str(root / 'owned.txt')!r}, 'w').write('x')",
        "patch course.checks": f"open({str(CHECKS)!r}, 'a').write('# owned')",
        "phone home": "__import__('socket').create_connection(('127.0.0.1', 22), timeout=2)",
    }
    lines = ["import os, subprocess"]
    for what, statement in attempts.items():
        lines += ["try:", f"    {statement}", f"    print('LEAK', {what!r})", "except Exception as e:",
                  f"    print('BLOCKED', {what!r}, type(e).__name__)"]
    # Once the kernel is gone nbgrader writes the graded notebook here: make that land on the source.
    lines += [f"os.remove({SLUG + '.ipynb'!r})",
              f"os.symlink({str(root / 'source' / SLUG / (SLUG + '.ipynb'))!r}, {SLUG + '.ipynb'!r})",
              "subprocess.Popen(['setsid', 'sleep', '1000'])",
              "def add(a, b):", "    return a + b"]
    return "\n".join(lines)


@needs_sandbox
@pytest.mark.slow
def test_nbgrader_autograde_contains_a_hostile_submission(toy_course, monkeypatch):
    monkeypatch.setenv(sandbox_settings.ENV_MEMORY, "1G")
    monkeypatch.setenv(sandbox_settings.ENV_TIMEOUT, "20")
    loop = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass"
    hand_in(toy_course, {
        "ana": Submission("ana", fails=set()),
        "mallory": Submission("mallory", fails=set(), cells={"add": hostile_code(toy_course)}),
        "hog": Submission("hog", fails=set(), cells={"add": "hog = b'x' * (1536 * 1024**2)"}),
        "looper": Submission("looper", fails=set(), cells={"add": loop}),
    })
    protected = [toy_course / "source" / SLUG / f"{SLUG}.ipynb",
                 toy_course / "submitted" / "ana" / SLUG / f"{SLUG}.ipynb", CHECKS]
    before = {path: sha256(path) for path in protected}

    scores = commands.autograde([SLUG], course_root=toy_course, quiet=True)

    assert scores[("ana", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert scores[("mallory", SLUG)] is not None, "the hostile submission is still graded"
    assert {path: sha256(path) for path in protected} == before
    assert not (toy_course / "owned.txt").exists()
    graded = (toy_course / "autograded" / "mallory" / SLUG / f"{SLUG}.ipynb")
    assert not graded.is_symlink()
    printed = "".join(output.get("text", "") for cell in nbformat.read(graded, as_version=4).cells
                      for output in cell.get("outputs", []))
    assert "LEAK" not in printed and printed.count("BLOCKED") == 6, printed
    verdicts = {student: sandbox.read_verdict(toy_course / "autograded" / student / SLUG)
                for student in ("ana", "mallory", "hog", "looper")}
    assert {student: (v["sandboxed"], v["reason"]) for student, v in verdicts.items()} == {
        "ana": (True, None), "mallory": (True, None), "hog": (True, "out of memory"), "looper": (True, "wall clock")}
    for student in ("hog", "looper"):  # nothing they did scores
        assert all(score == 0 for score, _ in (scores[(student, SLUG)] or {"-": (0, 0)}).values())
    assert sandbox.read_verdict(toy_course / "autograded" / "mallory" / SLUG)["removed"] == [], \
        "what the kernel wrote stayed in its bounded copy of the folder"
    with sqlite3.connect(toy_course / "gradebook.db") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)


@pytest.mark.slow
def test_plain_nbgrader_autograde_refuses_without_bwrap(toy_course, monkeypatch, tmp_path):
    hand_in(toy_course, {"ana": Submission("ana", fails=set())})
    monkeypatch.setenv(sandbox_settings.ENV_BWRAP, str(tmp_path / "no-bwrap"))
    monkeypatch.delenv(sandbox_settings.ENV_UNSANDBOXED, raising=False)
    result = commands.nbgrader(["autograde", SLUG, "--force"], toy_course, capture=True)
    assert "apt-get install bubblewrap" in result.stdout + result.stderr
    grades = score_table.read_scores(toy_course, [SLUG])[("ana", SLUG)]
    assert grades is None or all(score == 0 for score, _ in grades.values()), "nothing ran, nothing scored"


@pytest.mark.slow
def test_autograde_without_bwrap_runs_when_told_to_and_marks_the_result(toy_course, monkeypatch, tmp_path):
    hand_in(toy_course, {"ana": Submission("ana", fails=set())})
    monkeypatch.setenv(sandbox_settings.ENV_BWRAP, str(tmp_path / "no-bwrap"))
    monkeypatch.setenv(sandbox_settings.ENV_UNSANDBOXED, "1")
    scores = commands.autograde([SLUG], course_root=toy_course, quiet=True)
    assert scores[("ana", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert sandbox.read_verdict(toy_course / "autograded" / "ana" / SLUG)["sandboxed"] is False
    assert "WITHOUT a sandbox" in (toy_course / f"autograde-{SLUG}.log").read_text()
