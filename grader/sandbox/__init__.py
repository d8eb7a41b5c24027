"""A sandbox for each autograded notebook's kernel: bubblewrap for files and network, cgroups for limits.

nbgrader executes a submission with ``Execute`` (nbclient), which starts one Jupyter kernel per
notebook through a kernel manager. ``grader/nbgrader_config.py`` swaps in ``SandboxedExecute``,
whose kernel manager, ``SandboxedKernelManager`` (both in ``grader/sandbox/kernel.py``), starts the
kernel inside ``bwrap`` (the command line and its mounts: ``grader/sandbox/bwrap.py``; the settings below:
``grader/sandbox/settings.py``):

- no network (``--unshare-net``: a private loopback only), its own PID, IPC and UTS namespaces,
  a new terminal session, and it dies with the grader;
- it is not root: a grader running as root starts it as ``nobody`` (uid/gid 65534, through
  ``setpriv``), without capabilities and with ``no_new_privs``. bwrap alone is not enough: a
  uid 0 process keeps write access to the host's ``/proc/sys`` even with every capability
  dropped (``kernel/core_pattern`` there runs a program as root on the host). Its working folder
  is handed to that uid while it runs and given back afterwards;
- it sees only what Python needs, read-only: ``/usr`` and a few files of ``/etc``, the base
  Python install, the virtual environment and the folders of the installed course packages
  (``gpt2ref``, ``quiz``, ``course``). Not the repository, not ``grader/`` (solutions, hidden
  tests, the gradebook), not other students' ``submitted/`` or ``autograded/`` folders;
- it may write only to its working folder, a fresh ``/tmp`` and ``/dev/shm`` and a fresh,
  empty ``HOME``, each of bounded size. The working folder it sees at
  ``autograded/<student>/<lesson>/`` is a *copy* of that folder on a tmpfs of
  ``GPT2_COURSE_SANDBOX_DISK`` bytes (default 256M; the tmpfs also holds its sockets), mounted by
  the grader (root) and thrown away with the kernel: what it writes there never reaches the real
  folder or the host's disk (``mount_bounded``). All of them are in memory, so they also count
  against the memory limit; a run that fills its folder gets the verdict "disk limit";
- the working folder is not on ``sys.path`` (``PYTHONSAFEPATH``, IPython's ``ignore_cwd``), so a
  ``course/`` folder handed in beside the notebook cannot replace the real ``course`` package;
- Jupyter talks to it over ZMQ on Unix sockets in a private folder (``transport = "ipc"``);
- a cgroup (``grader/sandbox/cgroups.py``) caps memory (``GPT2_COURSE_SANDBOX_MEMORY``, default 3G) and
  processes (``GPT2_COURSE_SANDBOX_PIDS``, default 512); every process left in it is killed when
  the kernel is shut down, detached ``setsid`` children included;
- a wall clock per notebook (``GPT2_COURSE_NOTEBOOK_TIMEOUT`` seconds, default 1200), on top of
  nbgrader's per-cell timeout, kills every process of the kernel when it runs out.

After the kernel is gone, the trusted side removes whatever is in the real folder that is not a
plain file or folder (a symlink there would make nbgrader write the graded notebook, or chmod,
through it onto a host file), and writes a verdict (``verdict_path``/``read_verdict``):
``{"sandboxed": true, "reason": null | "wall clock" | "out of memory" | "process limit" | "disk limit",
"peak_bytes": ..., ...}`` ("process limit": a fork was refused, ``Cgroup.pids_limit_hit``). It lies *beside* the working folder, as
``autograded/<student>/.<lesson>.sandbox-verdict.json``: out of the kernel's reach, and not
deleted by nbgrader, which removes the working folder of a notebook whose kernel died.

``make autograde`` (``grader.commands.autograde``) calls ``require_sandbox`` first and refuses
to run when bwrap or cgroups are missing. ``GPT2_COURSE_UNSANDBOXED=1`` runs the plain kernel
instead (loud warning; the verdict says ``"sandboxed": false``).

What the sandbox does not protect against
-----------------------------------------
- CPU time: a kernel may keep the shared cores busy until the per-cell timeout or the wall
  clock stops it; there is no CPU quota.
- Disk space when the grader is not root: the working folder cannot be mounted as a bounded
  tmpfs then, and is an ordinary folder on the host's disk.
- Lying about its own results: the kernel runs the test cells, so code that patches the checks
  (an IPython input transformer, monkeypatching ``course.checks``) still changes what the
  kernel reports. ``grader/trusted/__init__.py`` checks the answers again outside the kernel, for the
  lessons that have probes; elsewhere the integrity scan reports such code and holds the scores.
- Bugs in Linux, bubblewrap or the Python stack that let a process out of its namespaces. There
  is no seccomp filter, and the kernel may create user namespaces of its own.
- Other processes running as ``nobody`` are out of its reach only through the PID namespace and
  the mounts. A grader that is not root cannot switch uid: the kernel then runs as the grader
  (seeing only the same bound folders), which has been tried less than running as root.
- Reading what it is given: world-readable system files under ``/usr``, the bound ``/etc``
  files, the whole virtual environment and the course packages, and the hidden tests of its
  own notebook (they run in this very kernel).
- A grader that is not root and has no delegated cgroups cannot sandbox at all (it refuses).

This module: whether a sandbox can be had here (``require_sandbox``), the verdict files, and
``run_sandboxed``, a plain command (not a kernel) in the same sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from grader.sandbox import cgroups
from grader.sandbox.bwrap import (
    SANDBOX_GID,
    SANDBOX_UID,
    bwrap_argv,
    bwrap_works,
    copy_plain_tree,
    filled_up,
    hand_over,
    mount_bounded,
    sandbox_env,
    setpriv_path,
    unmount,
)
from grader.sandbox.settings import (
    ENV_BWRAP,
    ENV_UNSANDBOXED,
    REASON_DISK,
    REASON_MEMORY,
    REASON_PIDS,
    REASON_WALL_CLOCK,
    bwrap_path,
    disk_limit,
    memory_limit,
    pids_limit,
    unsandboxed_requested,
)


class SandboxUnavailable(RuntimeError):
    """Student code cannot be sandboxed here; the message names the fix."""


# --- can we sandbox here? -----------------------------------------------------------------

def unavailable_reason() -> str | None:
    """Why kernels cannot be sandboxed on this machine, or None when they can."""
    bwrap = bwrap_path()
    if bwrap is None:
        where = os.environ.get(ENV_BWRAP)
        return f"bubblewrap not found ({ENV_BWRAP}={where} is not executable)" if where else \
            "bubblewrap (bwrap) is not installed"
    if os.geteuid() == 0 and setpriv_path() is None:
        return "setpriv (util-linux) is not installed: it makes the kernel drop root"
    if problem := bwrap_works(bwrap, os.geteuid() == 0):
        return problem
    if problem := cgroups.unavailable_reason():
        return f"cgroups unavailable: {problem}"
    return None


def refusal(reason: str) -> str:
    return (
        f"refusing to run student code without a sandbox: {reason}.\n"
        "Fix: install bubblewrap (`apt-get install bubblewrap`) and grade as root, or with cgroups "
        "delegated to you (memory and pids controllers, cgroup v1 or v2).\n"
        f"Only for code you trust: {ENV_UNSANDBOXED}=1 grades without a sandbox (results are marked unsandboxed)."
    )


def require_sandbox(error: type[Exception] = SandboxUnavailable) -> bool:
    """True when kernels will be sandboxed; False (after a loud warning) when the instructor set
    ``GPT2_COURSE_UNSANDBOXED=1``; otherwise raises ``error`` with the fix."""
    if unsandboxed_requested():
        print("\n" + "!" * 78 + f"\nWARNING: {ENV_UNSANDBOXED}=1: student code runs WITHOUT a sandbox, with every file "
              "of this\naccount in reach (hidden tests, the gradebook, other submissions). Results are marked\n"
              "unsandboxed. Do this only for code you trust.\n" + "!" * 78 + "\n", file=sys.stderr, flush=True)
        return False
    if reason := unavailable_reason():
        raise error(refusal(reason))
    return True


# --- the verdict -------------------------------------------------------------------------

def verdict_path(workdir: str | Path) -> Path:
    """Where the verdict of the kernel that ran in ``workdir`` is written (beside it)."""
    workdir = Path(workdir)
    return workdir.parent / f".{workdir.name}.sandbox-verdict.json"


def read_verdict(workdir: str | Path) -> dict | None:
    """The verdict of the last kernel that ran in ``workdir`` (e.g. autograded/<student>/<lesson>)."""
    try:
        return json.loads(verdict_path(workdir).read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


# --- a plain command in the same sandbox ----------------------------------------------------------

def run_sandboxed(command: list[str], workdir: str, timeout: float, extra_ro: list[str] = (),
                  overlays: list[tuple[str, str]] = (), unsandboxed_env: dict[str, str] | None = None,
                  keep: tuple[str, ...] = ()) -> dict:
    """Run ``command`` (not a kernel) in the sandbox kernels get: it sees ``workdir`` as its one
    writable folder, but writes to a copy of it on a tmpfs of bounded size (root; handed to
    ``nobody`` while it runs); the files named in ``keep`` are copied back to ``workdir``
    afterwards (plain files only). Memory and process limits, ``timeout`` seconds of wall clock.
    Returns {"returncode", "reason" (None | "wall clock" | "out of memory" | "process limit" |
    "disk limit"), "output" (its last 4000 characters of stdout+stderr), "elapsed_s"}.
    Without a sandbox (``GPT2_COURSE_UNSANDBOXED=1``) it runs as a plain subprocess, with
    ``unsandboxed_env`` added to its environment (overlays cannot be mounted there)."""
    workdir = os.path.realpath(workdir)
    started = time.monotonic()
    env = sandbox_env(os.environ)
    if unsandboxed_requested():  # the instructor was warned when grading started
        return _run_unsandboxed(command, workdir, timeout, {**env, **(unsandboxed_env or {})}, started)
    if problem := unavailable_reason():
        raise SandboxUnavailable(refusal(problem))
    as_root = os.geteuid() == 0
    private = tempfile.mkdtemp(prefix="gpt2-sandbox-")
    bounded = False
    try:
        # What the command writes goes to a bounded copy of workdir; only ``keep`` comes back.
        bounded = mount_bounded(private, disk_limit())
        work = os.path.join(private, "work")
        copy_plain_tree(workdir, work)
        argv = bwrap_argv(bwrap_path(), workdir, os.path.join(private, "sock"), list(extra_ro), as_root,
                          list(overlays), workdir_source=work) + list(command)
        os.mkdir(os.path.join(private, "sock"))
        reason, output, code = _run_in_cgroup(argv, workdir, env, timeout, private, as_root)
        if reason is None and bounded and filled_up(private):
            reason = REASON_DISK
        _copy_back(work, workdir, keep)
    finally:
        if bounded:
            unmount(private)
        shutil.rmtree(private, ignore_errors=True)
    return {"returncode": code, "reason": reason, "output": output,
            "elapsed_s": round(time.monotonic() - started, 3), "sandboxed": True}


def _run_unsandboxed(command: list[str], workdir: str, timeout: float, env: dict[str, str], started: float) -> dict:
    """``run_sandboxed`` without a sandbox: a plain subprocess in its own session."""
    try:
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)
        return {"returncode": done.returncode, "reason": None, "output": (done.stdout + done.stderr)[-4000:],
                "elapsed_s": round(time.monotonic() - started, 3), "sandboxed": False}
    except subprocess.TimeoutExpired as exc:
        return {"returncode": None, "reason": REASON_WALL_CLOCK, "output": str(exc.output or "")[-4000:],
                "elapsed_s": round(time.monotonic() - started, 3), "sandboxed": False}


def _run_in_cgroup(argv: list[str], workdir: str, env: dict[str, str], timeout: float, private: str,
                   as_root: bool) -> tuple[str | None, str, int | None]:
    """Run ``argv`` (bwrap and the command) in a fresh cgroup with the memory and process limits,
    ``private`` handed to ``nobody`` first when root: (reason it was stopped, last 4000
    characters of its output, return code)."""
    reason, output, code = None, "", None
    with cgroups.Cgroup(f"run-{uuid.uuid4().hex[:12]}", memory_bytes=memory_limit(), max_pids=pids_limit()) as group:
        if as_root:
            hand_over(private, SANDBOX_UID, SANDBOX_GID)
        try:
            process = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, preexec_fn=group.preexec_fn())
            try:
                out, _ = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                reason = REASON_WALL_CLOCK
                group.kill_all()
                out, _ = process.communicate()
            output, code = out.decode(errors="replace")[-4000:], process.returncode
            if reason is None and group.oom_killed:
                reason = REASON_MEMORY
            elif reason is None and group.pids_limit_hit:
                reason = REASON_PIDS
        finally:
            group.kill_all()
    return reason, output, code


def _copy_back(work: str, workdir: str, keep: tuple[str, ...]) -> None:
    """Copy the plain files named in ``keep`` from the sandbox's copy ``work`` back to ``workdir``."""
    for name in keep:
        path = os.path.join(work, name)
        if os.path.isfile(path) and not os.path.islink(path):
            shutil.copyfile(path, os.path.join(workdir, name), follow_symlinks=False)
