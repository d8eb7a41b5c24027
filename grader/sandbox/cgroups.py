"""Memory and process limits for a group of processes, with Linux cgroups (v1 or v2).

    with Cgroup("grade-alice-35", memory_bytes=2 * 1024**3, max_pids=256) as group:
        proc = subprocess.Popen(cmd, preexec_fn=group.preexec_fn())
        proc.wait()
        print(group.peak_bytes, group.oom_killed)
    # every process still in the group is killed here, and the group is removed

A memory limit set this way is the one the kernel enforces on Binder, JupyterHub or Docker
containers: the group's processes together (page cache included) may not go over it, and
when they do the kernel's OOM killer ends one of them with SIGKILL. ``RLIMIT_AS`` is no
substitute for PyTorch, which reserves far more address space than it touches.

Where the groups live:

- cgroup v1 (controllers mounted one per folder): ``/sys/fs/cgroup/memory/gpt2-course/<name>``
  and ``/sys/fs/cgroup/pids/gpt2-course/<name>``;
- cgroup v2 (one unified hierarchy, ``/sys/fs/cgroup/cgroup.controllers`` exists):
  ``/sys/fs/cgroup/gpt2-course/<name>``, with the memory and pids controllers enabled for
  ``gpt2-course/``.

The parent ``gpt2-course/`` folder is created on first use and left in place (other groups,
of other runs, may be in it). Creating groups there needs root (or a delegated hierarchy).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "gpt2-course"

_FIX = (
    "run as root (e.g. with sudo) on a Linux machine whose /sys/fs/cgroup is writable "
    "(in a container: give it its own writable cgroup, e.g. `docker run --cgroupns=private` "
    "on cgroup v2, or run the command on the host)"
)


class CgroupUnavailable(RuntimeError):
    """Memory and process limits cannot be set on this machine; the message says how to fix that."""


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: str) -> None:
    # One write() call: cgroup files reject values that arrive in pieces.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _version() -> int | None:
    """2 for a unified hierarchy, 1 when v1 memory and pids controllers are mounted, else None."""
    if (CGROUP_ROOT / "cgroup.controllers").is_file():
        return 2
    if (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").is_file() and (CGROUP_ROOT / "pids" / "cgroup.procs").is_file():
        return 1
    return None


def _parents(version: int) -> list[Path]:
    if version == 1:
        return [CGROUP_ROOT / "memory" / PARENT, CGROUP_ROOT / "pids" / PARENT]
    return [CGROUP_ROOT / PARENT]


def _prepare_parents(version: int) -> None:
    """Create ``gpt2-course/`` (and on v2 enable memory+pids below it). Raises OSError or CgroupUnavailable."""
    if version == 1:
        for parent in _parents(1):
            parent.mkdir(exist_ok=True)
        return
    available = _read(CGROUP_ROOT / "cgroup.controllers").split()
    missing = [c for c in ("memory", "pids") if c not in available]
    if missing:
        raise CgroupUnavailable(
            f"the cgroup v2 hierarchy at {CGROUP_ROOT} lacks the {' and '.join(missing)} controller(s); "
            f"{_FIX}"
        )
    # Controllers must be enabled in every folder above a group that uses them.
    parent = CGROUP_ROOT / PARENT
    _enable_memory_and_pids(CGROUP_ROOT)
    parent.mkdir(exist_ok=True)
    _enable_memory_and_pids(parent)


def _enable_memory_and_pids(folder: Path) -> None:
    if not {"memory", "pids"} <= set(_read(folder / "cgroup.subtree_control").split()):
        _write(folder / "cgroup.subtree_control", "+memory +pids")


def unavailable_reason() -> str | None:
    """None when memory and process limits can be set here; otherwise why not, and the fix."""
    if not sys.platform.startswith("linux"):
        return f"memory limits need Linux cgroups, and this is {sys.platform}; run on Linux (a VM or container will do)"
    version = _version()
    if version is None:
        return (
            f"no cgroup memory and pids controllers under {CGROUP_ROOT} (neither cgroup v2's "
            f"cgroup.controllers nor v1's memory/ and pids/ folders); mount cgroups there, or {_FIX}"
        )
    try:
        _prepare_parents(version)
    except CgroupUnavailable as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot create cgroups under {CGROUP_ROOT} (cgroup v{version}): {exc.strerror or exc}; {_FIX}"
    for parent in _parents(version):
        if not os.access(parent, os.W_OK):
            return f"cannot create cgroups in {parent} (cgroup v{version}): permission denied; {_FIX}"
    return None


class Cgroup:
    """A leaf cgroup with an optional memory limit and process-count limit; a context manager.

    ``__enter__`` creates the group, ``__exit__`` kills every process still in it (children
    that detached with ``setsid`` included: a new session does not leave the cgroup) and
    removes it. Put processes in with ``preexec_fn()`` (before they run any code) or ``add()``.
    """

    def __init__(self, name: str, memory_bytes: int | None = None, max_pids: int | None = None):
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"invalid cgroup name {name!r}: use a single folder name")
        if memory_bytes is not None and memory_bytes <= 0:
            raise ValueError(f"memory_bytes must be positive, not {memory_bytes}")
        if max_pids is not None and max_pids <= 0:
            raise ValueError(f"max_pids must be positive, not {max_pids}")
        self.name = name
        self.memory_bytes = memory_bytes
        self.max_pids = max_pids
        self.version: int | None = None
        self._dirs: list[Path] = []  # v1: [memory, pids]; v2: [the group]
        self._peak_fd: int | None = None  # v2: memory.peak opened for a per-fd reset

    # -- where things are -------------------------------------------------------------
    @property
    def path(self) -> Path:
        """The group's folder (v1: the one under the memory controller)."""
        self._require_entered()
        return self._dirs[0]

    @property
    def paths(self) -> list[Path]:
        """Every folder of the group (v1: memory and pids; v2: one)."""
        self._require_entered()
        return list(self._dirs)

    def _require_entered(self) -> None:
        if not self._dirs:
            raise RuntimeError(f"cgroup {self.name!r} is not created: use it as a context manager")

    # -- life cycle ---------------------------------------------------------------------
    def __enter__(self) -> Cgroup:
        reason = unavailable_reason()
        if reason is not None:
            raise CgroupUnavailable(reason)
        self.version = _version()
        dirs = [parent / self.name for parent in _parents(self.version)]
        for folder in dirs:
            if folder.exists():
                self._remove_stale(folder)
        created: list[Path] = []
        try:
            for folder in dirs:
                folder.mkdir()
                created.append(folder)
            self._dirs = dirs
            self._set_limits()
        except BaseException:
            self._dirs = created
            self.kill_all()
            self._remove_dirs()
            self._dirs = []
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if not self._dirs:
            return
        try:
            self.kill_all()
        finally:
            if self._peak_fd is not None:
                os.close(self._peak_fd)
                self._peak_fd = None
            self._remove_dirs()
            self._dirs = []

    def _remove_stale(self, folder: Path) -> None:
        procs = _read(folder / "cgroup.procs").split()
        if procs:
            raise FileExistsError(
                errno.EEXIST,
                f"cgroup {folder} already exists and holds processes {', '.join(procs)}: "
                f"use another name, or end them and remove the folder",
            )
        folder.rmdir()

    def _set_limits(self) -> None:
        if self.version == 1:
            memory, pids = self._dirs
            if self.memory_bytes is not None:
                _write(memory / "memory.limit_in_bytes", str(self.memory_bytes))
                # With swap accounting, memory + swap gets the same limit: no escaping into swap.
                if (memory / "memory.memsw.limit_in_bytes").exists():
                    _write(memory / "memory.memsw.limit_in_bytes", str(self.memory_bytes))
            if self.max_pids is not None:
                _write(pids / "pids.max", str(self.max_pids))
        else:
            (group,) = self._dirs
            if self.memory_bytes is not None:
                _write(group / "memory.max", str(self.memory_bytes))
                if (group / "memory.swap.max").exists():
                    _write(group / "memory.swap.max", "0")
            if self.max_pids is not None:
                _write(group / "pids.max", str(self.max_pids))

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL everything in the group until it is empty (new forks included)."""
        if self.version == 2 and self._dirs and (self._dirs[0] / "cgroup.kill").exists():
            try:
                _write(self._dirs[0] / "cgroup.kill", "1")
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while True:
            pids = self._pids_or_empty()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"cgroup {self.name!r}: processes {pids} survive SIGKILL")
            time.sleep(0.02)

    def _remove_dirs(self, timeout: float = 10.0) -> None:
        for folder in self._dirs:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    # EBUSY for a moment while the kernel finishes tearing down killed processes.
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)

    # -- processes ----------------------------------------------------------------------
    def _procs_files(self) -> list[Path]:
        self._require_entered()
        return [folder / "cgroup.procs" for folder in self._dirs]

    def add(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) into the group. Its later children stay in it."""
        for procs in self._procs_files():
            _write(procs, str(pid))

    def preexec_fn(self) -> Callable[[], None]:
        """A ``subprocess.Popen(preexec_fn=...)`` that moves the child into the group before exec."""
        targets = [os.fsencode(p) for p in self._procs_files()]

        def move_into_group() -> None:
            pid = str(os.getpid()).encode()
            for target in targets:
                fd = os.open(target, os.O_WRONLY)
                try:
                    os.write(fd, pid)
                finally:
                    os.close(fd)

        return move_into_group

    def _pids_or_empty(self) -> list[int]:
        found: set[int] = set()
        for procs in [folder / "cgroup.procs" for folder in self._dirs]:
            try:
                found.update(int(line) for line in _read(procs).split())
            except FileNotFoundError:
                pass
        return sorted(found)

    def pids(self) -> list[int]:
        """The processes now in the group."""
        self._require_entered()
        return self._pids_or_empty()

    # -- memory -------------------------------------------------------------------------
    @property
    def memory_path(self) -> Path:
        self._require_entered()
        return self._dirs[0]

    @property
    def usage_bytes(self) -> int | None:
        """Memory charged to the group now (page cache included)."""
        name = "memory.usage_in_bytes" if self.version == 1 else "memory.current"
        try:
            return int(_read(self.memory_path / name))
        except FileNotFoundError:
            return None

    @property
    def peak_bytes(self) -> int | None:
        """The most memory the group has held since it was created or since ``reset_peak()``.

        v1: ``memory.max_usage_in_bytes``; v2: ``memory.peak`` (Linux 5.19+), None without it.
        """
        if self.version == 1:
            return int(_read(self.memory_path / "memory.max_usage_in_bytes"))
        if self._peak_fd is not None:
            os.lseek(self._peak_fd, 0, os.SEEK_SET)
            return int(os.read(self._peak_fd, 64))
        try:
            return int(_read(self.memory_path / "memory.peak"))
        except FileNotFoundError:
            return None

    def reset_peak(self) -> None:
        """Start ``peak_bytes`` again from the memory in use now.

        v1 writes 0 to ``memory.max_usage_in_bytes``. v2 resets ``memory.peak`` where the
        kernel supports it (Linux 6.12+: the reset holds for the file descriptor that wrote
        it, which this object keeps open); on older kernels the peak keeps counting.
        """
        if self.version == 1:
            _write(self.memory_path / "memory.max_usage_in_bytes", "0")
            return
        peak_file = self.memory_path / "memory.peak"
        if not peak_file.exists():
            return
        try:
            fd = os.open(peak_file, os.O_RDWR)
        except OSError:
            return  # read-only memory.peak: this kernel cannot reset it
        try:
            os.write(fd, b"reset\n")
        except OSError:
            os.close(fd)
            return
        if self._peak_fd is not None:
            os.close(self._peak_fd)
        self._peak_fd = fd

    @property
    def oom_kills(self) -> int:
        """How many processes of the group the OOM killer has ended (v1 without that counter: times the limit was hit)."""
        if self.version == 1:
            fields = dict(line.split() for line in _read(self.memory_path / "memory.oom_control").splitlines() if line.strip())
            if "oom_kill" in fields:
                return int(fields["oom_kill"])
            return int(_read(self.memory_path / "memory.failcnt"))
        fields = dict(line.split() for line in _read(self.memory_path / "memory.events").splitlines() if line.strip())
        return int(fields.get("oom_kill", 0))

    @property
    def pids_limit_hits(self) -> int:
        """How many times a fork or clone in the group was refused because of ``max_pids``
        (``pids.events``: ``max N``, in both cgroup versions)."""
        pids_dir = self._dirs[-1] if self.version == 1 else self._dirs[0]
        try:
            fields = dict(line.split() for line in _read(pids_dir / "pids.events").splitlines() if line.strip())
        except FileNotFoundError:
            return 0
        return int(fields.get("max", 0))

    @property
    def pids_limit_hit(self) -> bool:
        """True once the process limit refused a new process of this group."""
        return self.pids_limit_hits > 0

    @property
    def oom_killed(self) -> bool:
        """True once the OOM killer has ended a process of this group."""
        return self.oom_kills > 0
