"""The bubblewrap command line a sandboxed process starts with, and the folders it sees: which host
paths are bound (read-only), the tmpfs of bounded size its working folder is copied onto, the
environment it gets, and the uid it runs as. ``grader/sandbox/__init__.py`` describes the whole sandbox."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from grader.sandbox.settings import disk_limit

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


def setpriv_path() -> str | None:
    return shutil.which("setpriv", path="/usr/bin:/bin:/usr/sbin:/sbin")


@lru_cache(maxsize=8)
def bwrap_works(bwrap: str, as_root: bool) -> str | None:
    """None when ``bwrap`` can create the namespaces (and drop to ``nobody``) as we do, else why not."""
    argv = [bwrap, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", *_caps(as_root),
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", *_become_nobody(as_root), "true"]
    try:
        probe = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{bwrap} cannot run: {exc}"
    return None if probe.returncode == 0 else f"{bwrap} fails here: {probe.stderr.strip()}"


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
