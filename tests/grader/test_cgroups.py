"""grader.sandbox.cgroups: real memory and process limits (as root on Linux; skipped where cgroups cannot be set)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader.sandbox import cgroups
from grader.sandbox.cgroups import Cgroup, CgroupUnavailable

MB = 1024**2
REASON = cgroups.unavailable_reason()
needs_cgroups = pytest.mark.skipif(REASON is not None, reason=f"cgroups unavailable here: {REASON}")


def unique(name: str) -> str:
    return f"test-{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def is_gone(pid: int) -> bool:
    """The process has ended: no /proc entry, or a zombie waiting for its (init) parent to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status or "\nState:\tX" in status


def python(code: str, group: Cgroup, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], preexec_fn=group.preexec_fn(),
                          capture_output=True, text=True, timeout=120, **kw)


@needs_cgroups
def test_a_process_over_the_memory_limit_is_oom_killed():
    with Cgroup(unique("oom"), memory_bytes=512 * MB) as group:
        assert not group.oom_killed
        done = python("b = b'x' * (900 * 1024**2); print('survived')", group)
        assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)
        assert "survived" not in done.stdout
        assert group.oom_killed
        assert group.oom_kills >= 1
        assert group.peak_bytes <= 512 * MB


@needs_cgroups
def test_the_same_allocation_fits_without_a_tight_limit():
    # The control for the test above: 900 MB is fine in a 2 GB group.
    with Cgroup(unique("fits"), memory_bytes=2048 * MB) as group:
        done = python("b = b'x' * (900 * 1024**2); print('survived')", group)
        assert done.returncode == 0 and "survived" in done.stdout, done.stderr
        assert not group.oom_killed


@needs_cgroups
def test_forking_stops_at_max_pids():
    code = (
        "import subprocess\n"
        "started = failed = 0\n"
        "for _ in range(60):\n"
        "    try:\n"
        "        subprocess.Popen(['sleep', '1000'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "        started += 1\n"
        "    except OSError:\n"
        "        failed += 1\n"
        "print(started, failed)\n"
    )
    with Cgroup(unique("pids"), max_pids=16) as group:
        assert not group.pids_limit_hit
        done = python(code, group)
        assert done.returncode == 0, done.stderr
        assert group.pids_limit_hits >= 45, "every refused fork is counted (what the sandbox reports)"
        started, failed = map(int, done.stdout.split())
        assert started == 15, "the python process itself is the 16th"
        assert failed == 45
        leftovers = group.pids()
        assert len(leftovers) == 15, leftovers  # the sleeps outlive their parent, still in the group
    assert all(is_gone(pid) for pid in leftovers)


@needs_cgroups
def test_peak_bytes_sees_an_allocation_and_reset_peak_forgets_it():
    with Cgroup(unique("peak"), memory_bytes=1024 * MB) as group:
        group.reset_peak()
        assert group.peak_bytes < 50 * MB
        done = python("import time; b = b'x' * (200 * 1024**2); time.sleep(0.2)", group)
        assert done.returncode == 0, done.stderr
        peak = group.peak_bytes
        assert 200 * MB <= peak < 320 * MB, peak / MB
        group.reset_peak()
        assert group.peak_bytes < 100 * MB, "the process has exited: the new peak is what is left"


@needs_cgroups
def test_exit_kills_leftover_processes_even_in_a_new_session_and_removes_the_group():
    with Cgroup(unique("leftover")) as group:
        paths = group.paths
        # `setsid -f` forks: the sleep is in a new session, orphaned, and not our child.
        subprocess.run(["setsid", "-f", "sleep", "1000"], preexec_fn=group.preexec_fn(), check=True)
        plain = subprocess.Popen(["sleep", "1000"], preexec_fn=group.preexec_fn())
        deadline = time.monotonic() + 5
        while len(group.pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = group.pids()
        assert plain.pid in pids and len(pids) == 2, pids
        assert all(p.is_dir() for p in paths)
    assert plain.wait(timeout=5) == -signal.SIGKILL
    assert all(is_gone(pid) for pid in pids), [Path(f"/proc/{p}/status").read_text() for p in pids if not is_gone(p)]
    assert not any(p.exists() for p in paths)


@needs_cgroups
def test_add_moves_a_running_process_in():
    sleeper = subprocess.Popen(["sleep", "1000"])
    try:
        with Cgroup(unique("add")) as group:
            group.add(sleeper.pid)
            assert group.pids() == [sleeper.pid]
        assert sleeper.wait(timeout=5) == -signal.SIGKILL
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_without_cgroups_the_reason_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", tmp_path)  # an empty folder: no controllers
    reason = cgroups.unavailable_reason()
    assert reason is not None and "root" in reason and str(tmp_path) in reason
    with pytest.raises(CgroupUnavailable, match="root"):
        with Cgroup("never-created"):
            pass


def test_bad_arguments_are_refused():
    for kwargs in ({"name": "a/b"}, {"name": ".."}, {"name": ""}, {"name": "x", "memory_bytes": 0},
                   {"name": "x", "max_pids": -1}):
        with pytest.raises(ValueError):
            Cgroup(**kwargs)
    with pytest.raises(RuntimeError, match="context manager"):
        Cgroup("not-entered").pids()
