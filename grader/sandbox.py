"""A sandbox for each autograded notebook's kernel: bubblewrap for files and network, cgroups for limits.

nbgrader executes a submission with ``Execute`` (nbclient), which starts one Jupyter kernel per
notebook through a kernel manager. ``grader/nbgrader_config.py`` swaps in ``SandboxedExecute``,
whose kernel manager, ``SandboxedKernelManager``, starts the kernel inside ``bwrap``:

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
- a cgroup (``grader/cgroups.py``) caps memory (``GPT2_COURSE_SANDBOX_MEMORY``, default 3G) and
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
  kernel reports. ``grader/trusted.py`` checks the answers again outside the kernel, for the
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
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute

ENV_UNSANDBOXED = "GPT2_COURSE_UNSANDBOXED"
ENV_MEMORY = "GPT2_COURSE_SANDBOX_MEMORY"
ENV_PIDS = "GPT2_COURSE_SANDBOX_PIDS"
ENV_TIMEOUT = "GPT2_COURSE_NOTEBOOK_TIMEOUT"
ENV_DISK = "GPT2_COURSE_SANDBOX_DISK"
ENV_BWRAP = "GPT2_COURSE_BWRAP"  # path of bwrap (default: found on PATH); tests point it elsewhere

DEFAULT_MEMORY = "3G"
DEFAULT_PIDS = 512
DEFAULT_TIMEOUT = 1200.0
DEFAULT_DISK = "256M"
SMALL_TMPFS = 16 * 2**20  # HOME: a kernel writes a few config files there
COURSE_PACKAGES = ("gpt2ref", "quiz", "course")
SANDBOX_HOME = "/home/sandbox"
SANDBOX_UID = SANDBOX_GID = 65534  # nobody / nogroup: who the kernel is when the grader is root
# /etc files Python, glibc and fontconfig read (not the whole /etc: ssh/ssl keys, shadow, ...).
ETC_FILES = ("passwd", "group", "nsswitch.conf", "hosts", "localtime", "timezone", "os-release",
             "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "mime.types")
# Environment variables a kernel may see (everything else, tokens included, stays outside).
ENV_KEEP = ("LANG", "LANGUAGE", "TZ", "TERM", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TIKTOKEN_CACHE_DIR",
            "GPT2_COURSE_LANG", "JPY_SESSION_NAME", "PYDEVD_DISABLE_FILE_VALIDATION")
ENV_KEEP_PREFIXES = ("LC_", "NBGRADER_")

REASON_WALL_CLOCK = "wall clock"
REASON_MEMORY = "out of memory"
REASON_PIDS = "process limit"
REASON_DISK = "disk limit"
REASON_OUTPUT = "output limit"
# Every reason the course shows for a stopped run (a verdict with another word is not believed).
LIMIT_REASONS = (REASON_WALL_CLOCK, REASON_MEMORY, REASON_PIDS, REASON_DISK, REASON_OUTPUT)


class SandboxUnavailable(RuntimeError):
    """Student code cannot be sandboxed here; the message names the fix."""


# --- settings -----------------------------------------------------------------------------

def parse_bytes(text: str) -> int:
    """``"3G"``, ``"1.5GiB"``, ``"512M"``, ``"100000"`` -> bytes (K/M/G/T are powers of 1024)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{ENV_MEMORY}={text!r}: expected a size such as 3G, 512M or 1.5G")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " KMGT".index(unit.upper() or " "))


def memory_limit() -> int:
    return parse_bytes(os.environ.get(ENV_MEMORY) or DEFAULT_MEMORY)


def pids_limit() -> int:
    return int(os.environ.get(ENV_PIDS) or DEFAULT_PIDS)


def disk_limit() -> int:
    """Bytes the sandbox may write to its working folder (and, separately, to its /tmp)."""
    return parse_bytes(os.environ.get(ENV_DISK) or DEFAULT_DISK)


def notebook_timeout() -> float:
    return float(os.environ.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT)


def unsandboxed_requested() -> bool:
    return os.environ.get(ENV_UNSANDBOXED, "").strip().lower() in {"1", "true", "yes", "on"}


def bwrap_path() -> str | None:
    given = os.environ.get(ENV_BWRAP)
    return (given if os.access(given, os.X_OK) else None) if given else shutil.which("bwrap")


# --- can we sandbox here? -----------------------------------------------------------------

def setpriv_path() -> str | None:
    return shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")


@lru_cache(maxsize=8)
def _bwrap_works(bwrap: str, as_root: bool) -> str | None:
    """None when ``bwrap`` can create the namespaces (and drop to ``nobody``) as we do, else why not."""
    argv = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", *_caps(as_root),
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", *_become_nobody(as_root), "true"]
    try:
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} cannot run: {exc}"
    return None if probe.returncode == 0 else f"{bwrap} fails here: {probe.stderr.strip()}"


def unavailable_reason() -> str | None:
    """Why kernels cannot be sandboxed on this machine, or None when they can."""
    bwrap = bwrap_path()
    if bwrap is None:
        where = os.environ.get(ENV_BWRAP)
        return f"bubblewrap not found ({ENV_BWRAP}={where} is not executable)" if where else \
            "bubblewrap (bwrap) is not installed"
    if os.geteuid() == 0 and setpriv_path() is None:
        return "setpriv (util-linux) is not installed: it makes the kernel drop root"
    if problem := _bwrap_works(bwrap, os.geteuid() == 0):
        return problem
    try:
        from . import cgroups
    except ImportError as exc:
        return f"grader/cgroups.py cannot be imported ({exc})"
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


# --- the sandbox itself -------------------------------------------------------------------

def course_package_dirs() -> list[str]:
    """Where the installed course packages really live (an editable install points into the repo)."""
    dirs = []
    for name in COURSE_PACKAGES:
        spec = find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += [os.path.realpath(p) for p in spec.submodule_search_locations]
    return dirs


def readonly_dirs() -> list[str]:
    """Host folders bound read-only at the same path: Python, the venv, the course packages."""
    found = [os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)] + course_package_dirs()
    return list(dict.fromkeys(found))


def _caps(as_root: bool) -> list[str]:
    if not as_root:
        return ["--cap-drop", "ALL"]
    # Only what setpriv needs to become nobody, and bwrap to enter the folder that nobody owns
    # now; the change of uid then clears every capability (the tests check CapPrm/CapEff).
    return ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--cap-add", "CAP_DAC_READ_SEARCH"]


def _become_nobody(as_root: bool) -> list[str]:
    if not as_root:
        return []
    return [setpriv_path(), f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}", "--clear-groups",
            "--inh-caps=-all", "--"]


def _ancestors(paths: list[str]) -> list[str]:
    found = {str(parent) for path in paths for parent in Path(path).parents if str(parent) != "/"}
    return sorted(found, key=lambda p: p.count("/"))


def bwrap_argv(bwrap: str, workdir: str, private: str, extra_ro: list[str] = (), as_root: bool = True,
               overlays: list[tuple[str, str]] = (), workdir_source: str | None = None) -> list[str]:
    """The command line (bwrap, then setpriv when root) that the kernel command is appended to.
    ``overlays``: (host path, sandbox path) pairs bound read-only *over* what is there (e.g. a
    course package with the graded parts taken out). ``workdir_source``: the host folder seen as
    ``workdir`` inside (default: ``workdir`` itself), e.g. a size-limited copy of it."""
    readonly = [*readonly_dirs(), *extra_ro]
    disk = str(disk_limit())
    argv = [
        bwrap,
        "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "sandbox",
        "--die-with-parent",  # the kernel dies when the grader does
        "--new-session",  # no TIOCSTI into the grader's terminal
        *_caps(as_root),
        "--proc", "/proc", "--dev", "/dev",  # a /proc of its own PID namespace; null, zero, urandom
        # Fresh and in memory (charged to the memory limit); HOME and /dev/shm writable by nobody.
        # Each with a size: a full /tmp stops the writer, never the host.
        "--perms", "1777", "--size", disk, "--tmpfs", "/tmp",
        "--perms", "1777", "--size", disk, "--tmpfs", "/dev/shm",
        "--perms", "0777", "--size", str(SMALL_TMPFS), "--tmpfs", SANDBOX_HOME,
        "--ro-bind", "/usr", "/usr",  # system libraries and tools
    ]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):  # merged /usr: symlinks
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for name in ETC_FILES:
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for folder in _ancestors([*readonly, private, workdir]):  # e.g. /root is 0700 on the host
        argv += ["--perms", "0755", "--dir", folder]
    for path in readonly:  # Python, the venv, course packages, weights
        argv += ["--ro-bind", path, path]
    for source, target in overlays:  # later mounts hide earlier ones at the same place
        argv += ["--ro-bind", source, target]
    argv += [
        "--bind", private, private,  # the connection file and the ZMQ sockets
        "--bind", workdir_source or workdir, workdir,  # the submission's own folder (a bounded copy)
        "--remount-ro", "/",  # the sandbox's own root folder (skeleton of the mounts above)
        "--chdir", workdir,
        # ipykernel quits when the PID in JPY_PARENT_PID is not its parent: a host PID never is in
        # here. 1 switches that watch off (--die-with-parent does the job) and its console notice.
        "--setenv", "JPY_PARENT_PID", "1",
        "--",
        *_become_nobody(as_root),
    ]
    return argv


def hand_over(folder: str, uid: int, gid: int) -> None:
    """chown ``folder`` and everything in it (never following symlinks) to ``uid:gid``."""
    os.lchown(folder, uid, gid)
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), uid, gid)


def sandbox_env(env: dict[str, str]) -> dict[str, str]:
    """The kernel's environment: a few harmless variables from ``env`` plus the sandbox's own."""
    kept = {k: v for k, v in env.items() if k in ENV_KEEP or k.startswith(ENV_KEEP_PREFIXES)}
    return {
        **kept,
        "PATH": os.pathsep.join([os.path.join(sys.prefix, "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": SANDBOX_HOME,
        "TMPDIR": "/tmp",
        "PYTHONSAFEPATH": "1",  # the working folder is not on sys.path
        "PYTHONDONTWRITEBYTECODE": "1",
        "HF_HUB_OFFLINE": "1",  # no network: fail at once instead of retrying
        "MPLCONFIGDIR": "/tmp/matplotlib",
    }


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


def disarm(workdir: str) -> list[str]:
    """Remove everything under ``workdir`` that is neither a plain file nor a folder (symlinks,
    FIFOs, sockets): nbgrader writes and chmods files there after the kernel is gone."""
    removed = []
    for parent, dirs, files in os.walk(workdir):
        for name in dirs + files:
            path = os.path.join(parent, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                os.unlink(path)
                removed.append(os.path.relpath(path, workdir))
    return removed


def mount_bounded(folder: str, size: int) -> bool:
    """Mount a tmpfs of ``size`` bytes on ``folder`` (root only), so that what a sandbox writes
    there stops at that size instead of filling the host's disk; its pages are charged to the
    memory cgroup of whoever writes them. False (nothing mounted) when not root or when mounting
    fails: the folder is then an ordinary, unbounded one (README says so)."""
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755,nosuid,nodev",
                           "gpt2-sandbox", folder], capture_output=True)
    return done.returncode == 0


def unmount(folder: str) -> None:
    """Undo ``mount_bounded`` (lazily: nothing can keep it busy once the sandbox is gone)."""
    subprocess.run(["umount", "--lazy", folder], capture_output=True)


def filled_up(folder: str) -> bool:
    """True when the bounded folder has (nearly) no room left: the sandbox hit its disk limit."""
    try:
        info = os.statvfs(folder)
    except OSError:
        return False
    return info.f_blocks > 0 and info.f_bavail * info.f_frsize < 64 * 1024


def copy_plain_tree(source: str, target: str) -> None:
    """Copy the plain files and folders under ``source`` into ``target`` (links and anything
    else are left out; the intake gate has already refused them)."""
    for parent, dirs, files in os.walk(source):
        rel = os.path.relpath(parent, source)
        os.makedirs(os.path.join(target, rel), exist_ok=True)
        for name in files:
            path = os.path.join(parent, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                shutil.copy2(path, os.path.join(target, rel, name), follow_symlinks=False)
        dirs[:] = [d for d in dirs if stat.S_ISDIR(os.lstat(os.path.join(parent, d)).st_mode)]


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


class _SandboxMixin:
    """Kernel-manager part shared by the async (nbgrader) and blocking (tests, scripts) managers."""

    _sandboxed = None  # True/False once a kernel was started
    _as_root = False  # the grader is root: the kernel becomes nobody
    _group = None  # the kernel's cgroups.Cgroup
    _private = None  # folder with the connection file, the sockets and the copy of the workdir
    _bounded = False  # _private is a tmpfs of bounded size
    _workdir = None  # the folder the kernel may write
    _own_workdir = None  # ... when we made it (no cwd given)
    _watchdog = None
    _timeout = None
    _reason = None
    _started = None
    _launched = False  # a kernel was launched and its cleanup has not run yet
    last_verdict = None  # the verdict of the last kernel, also when none was written to disk

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None and self._sandboxed:
            # The kernel is in its own session: a SIGINT to bwrap's process group would stop the
            # sandbox instead. Ask the kernel to interrupt itself over the control channel.
            spec.interrupt_mode = "message"
        return spec

    async def _async_pre_start_kernel(self, **kw):
        if self._sandboxed is None:
            self._sandboxed = require_sandbox()
        cwd = kw.get("cwd")
        self._workdir = os.path.realpath(cwd) if cwd else None
        if not self._sandboxed:
            return await super()._async_pre_start_kernel(**kw)
        if self._workdir is None:
            self._own_workdir = self._workdir = tempfile.mkdtemp(prefix="gpt2-sandbox-cwd-")
            kw["cwd"] = self._workdir
        self._check_workdir(self._workdir)
        self._as_root = os.geteuid() == 0
        if self._private is None:
            self._private = tempfile.mkdtemp(prefix="gpt2-sandbox-")
            # All the kernel may write on the host: its sockets and a copy of its folder, on a
            # tmpfs of bounded size (root); the real folder is not bound at all.
            self._bounded = mount_bounded(self._private, disk_limit())
            copy_plain_tree(self._workdir, os.path.join(self._private, "work"))
        self.transport = "ipc"
        self.connection_file = os.path.join(self._private, "kernel.json")
        self.ip = os.path.join(self._private, "kernel-ipc")
        cmd, kw = await super()._async_pre_start_kernel(**kw)  # writes the connection file
        if os.path.basename(cmd[0]).startswith("python") and "ipykernel_launcher" in cmd:
            cmd = [*cmd, "--InteractiveShellApp.ignore_cwd=True"]
        kw["env"] = sandbox_env(kw.get("env") or os.environ)
        extra_ro = []
        weights = os.environ.get("GPT2_COURSE_WEIGHTS")
        if weights and os.path.exists(weights):  # lesson 37's real GPT-2 checkpoint, read-only
            extra_ro.append(os.path.realpath(weights))
            kw["env"]["GPT2_COURSE_WEIGHTS"] = extra_ro[-1]
        cmd = bwrap_argv(bwrap_path(), self._workdir, self._private, extra_ro, self._as_root,
                         workdir_source=os.path.join(self._private, "work")) + cmd
        from .cgroups import Cgroup

        group = Cgroup(f"kernel-{uuid.uuid4().hex[:12]}", memory_bytes=memory_limit(), max_pids=pids_limit())
        self._group = group.__enter__()
        kw["preexec_fn"] = group.preexec_fn()  # bwrap joins the group before it execs
        if self._as_root:
            hand_over(self._private, SANDBOX_UID, SANDBOX_GID)
        return cmd, kw

    def _check_workdir(self, workdir: str) -> None:
        """The folder bound read-write must not contain anything the kernel must not reach."""
        for path in [os.getcwd(), *readonly_dirs()]:
            if Path(os.path.realpath(path)).is_relative_to(workdir):
                raise SandboxUnavailable(f"refusing to let a kernel write {workdir}: it contains {path}")

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        self._launched = True
        self._reason = None
        self._started = time.monotonic()
        self._timeout = notebook_timeout()
        try:
            await super()._async_launch_kernel(kernel_cmd, **kw)
        except BaseException:
            await self._async_cleanup_resources()
            raise
        self._watchdog = threading.Timer(self._timeout, self._wall_clock_expired)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _wall_clock_expired(self) -> None:
        self._reason = REASON_WALL_CLOCK
        self.log.warning("kernel in %s ran past the wall clock (%ss): killing it", self._workdir, self._timeout)
        self._kill_everything()

    def _kill_everything(self) -> None:
        """SIGKILL every process of the kernel (its whole cgroup, or its process group)."""
        group = self._group
        if group is not None:
            try:
                group.kill_all()
            except (OSError, RuntimeError):  # removed meanwhile: nothing left to kill
                pass
        elif getattr(self.provisioner, "pgid", None):
            try:
                os.killpg(self.provisioner.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        """After the kernel has exited: end what is left, check the folder, write the verdict.

        Runs once per launch: nbclient calls it again after ``shutdown_kernel`` (and alone, when
        the kernel had died)."""
        await super()._async_cleanup_resources(restart=restart)
        if not self._launched and self._group is None:
            return
        self._launched = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        verdict = {"sandboxed": bool(self._sandboxed), "reason": self._reason, "peak_bytes": None,
                   "elapsed_s": round(time.monotonic() - self._started, 3) if self._started else None,
                   "wall_clock_s": self._timeout}
        if self._group is not None:
            group, self._group = self._group, None
            try:  # read before the group is removed (the kernel itself has exited by now)
                verdict.update(peak_bytes=group.peak_bytes, memory_limit_bytes=group.memory_bytes,
                               pids_limit=group.max_pids)
                if verdict["reason"] is None and group.oom_killed:
                    verdict["reason"] = REASON_MEMORY
                elif verdict["reason"] is None and group.pids_limit_hit:
                    verdict["reason"] = REASON_PIDS
            finally:
                group.__exit__(None, None, None)  # kills whatever is left (setsid children too), removes it
        if verdict["reason"] is None and self._bounded and filled_up(self._private):
            verdict["reason"] = REASON_DISK
        if self._bounded:
            verdict["disk_limit_bytes"] = disk_limit()
        if self._workdir and os.path.isdir(self._workdir) and not self._own_workdir:
            verdict["removed"] = disarm(self._workdir)
            write_json(verdict_path(self._workdir), verdict)
        self.last_verdict = verdict
        if not restart:
            if self._private and self._bounded:
                unmount(self._private)
            for folder in (self._private, self._own_workdir):
                if folder:
                    shutil.rmtree(folder, ignore_errors=True)
            self._private = self._own_workdir = None
            self._bounded = False


# jupyter_client binds its public methods to KernelManager's own _async_* functions when the class
# is made (``cleanup_resources = KernelManager._async_cleanup_resources``): bind ours again, or
# nbclient's ``km.cleanup_resources()`` after a kernel died would skip the verdict and the cgroup.
class SandboxedKernelManager(_SandboxMixin, AsyncKernelManager):
    """The kernel manager nbgrader's ``Execute`` uses (async, as nbclient needs)."""

    pre_start_kernel = _SandboxMixin._async_pre_start_kernel
    _launch_kernel = _SandboxMixin._async_launch_kernel
    cleanup_resources = _SandboxMixin._async_cleanup_resources


class BlockingSandboxedKernelManager(_SandboxMixin, KernelManager):
    """The same sandbox with a blocking API: ``start_kernel()``, ``client()``, ``shutdown_kernel()``."""

    pre_start_kernel = run_sync(_SandboxMixin._async_pre_start_kernel)
    _launch_kernel = run_sync(_SandboxMixin._async_launch_kernel)
    cleanup_resources = run_sync(_SandboxMixin._async_cleanup_resources)


class SandboxedExecute(Execute):
    """nbgrader's ``Execute`` with ``SandboxedKernelManager``.

    ``Execute.__init__`` passes ``kernel_manager_class=AsyncKernelManager`` as a keyword, which
    wins over ``c.Execute.kernel_manager_class`` in the config: hence this subclass (list it in
    ``c.Autograde.autograde_preprocessors`` instead of ``Execute``; ``c.Execute.*`` still applies).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)


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
    from .cgroups import Cgroup

    workdir = os.path.realpath(workdir)
    started = time.monotonic()
    env = sandbox_env(os.environ)
    if unsandboxed_requested():  # the instructor was warned when grading started
        try:
            done = subprocess.run(command, cwd=workdir, env={**env, **(unsandboxed_env or {})}, capture_output=True, text=True,
                                  timeout=timeout, start_new_session=True)
            return {"returncode": done.returncode, "reason": None, "output": (done.stdout + done.stderr)[-4000:],
                    "elapsed_s": round(time.monotonic() - started, 3), "sandboxed": False}
        except subprocess.TimeoutExpired as exc:
            return {"returncode": None, "reason": REASON_WALL_CLOCK, "output": str(exc.output or "")[-4000:],
                    "elapsed_s": round(time.monotonic() - started, 3), "sandboxed": False}
    if problem := unavailable_reason():
        raise SandboxUnavailable(refusal(problem))
    as_root = os.geteuid() == 0
    private = tempfile.mkdtemp(prefix="gpt2-sandbox-")
    reason, output, code = None, "", None
    bounded = False
    try:
        # What the command writes goes to a bounded copy of workdir; only ``keep`` comes back.
        bounded = mount_bounded(private, disk_limit())
        work = os.path.join(private, "work")
        copy_plain_tree(workdir, work)
        argv = bwrap_argv(bwrap_path(), workdir, os.path.join(private, "sock"), list(extra_ro), as_root,
                          list(overlays), workdir_source=work) + list(command)
        os.mkdir(os.path.join(private, "sock"))
        with Cgroup(f"run-{uuid.uuid4().hex[:12]}", memory_bytes=memory_limit(), max_pids=pids_limit()) as group:
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
        if reason is None and bounded and filled_up(private):
            reason = REASON_DISK
        for name in keep:
            path = os.path.join(work, name)
            if os.path.isfile(path) and not os.path.islink(path):
                shutil.copyfile(path, os.path.join(workdir, name), follow_symlinks=False)
    finally:
        if bounded:
            unmount(private)
        shutil.rmtree(private, ignore_errors=True)
    return {"returncode": code, "reason": reason, "output": output,
            "elapsed_s": round(time.monotonic() - started, 3), "sandboxed": True}
