"""The kernel-manager glue that starts each autograded notebook's Jupyter kernel in the sandbox
(``grader/sandbox/__init__.py``): ``SandboxedExecute``, nbgrader's ``Execute`` with
``SandboxedKernelManager``, and ``BlockingSandboxedKernelManager`` (tests, scripts)."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager, KernelManager
from jupyter_core.utils import run_sync
from nbgrader.preprocessors import Execute

from grader.sandbox import SandboxUnavailable, require_sandbox, verdict_path, write_json
from grader.sandbox.bwrap import (
    SANDBOX_GID,
    SANDBOX_UID,
    bwrap_argv,
    copy_plain_tree,
    disarm,
    filled_up,
    hand_over,
    mount_bounded,
    readonly_dirs,
    sandbox_env,
    unmount,
)
from grader.sandbox.cgroups import Cgroup
from grader.sandbox.settings import (
    REASON_DISK,
    REASON_MEMORY,
    REASON_PIDS,
    REASON_WALL_CLOCK,
    bwrap_path,
    disk_limit,
    memory_limit,
    notebook_timeout,
    pids_limit,
)


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
