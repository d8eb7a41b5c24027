"""A JupyterLab server as Binder runs one, and ``MemoryLimitedSession``: that server idle in one
cgroup with a memory limit, beside each notebook's kernel (``grader.check_notebooks --memory-limit``)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from grader.sandbox.cgroups import Cgroup

MB = 1024**2


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLabServer:
    """``jupyter lab`` from this environment on 127.0.0.1, with a token and no browser, in ``workdir``."""

    def __init__(self, workdir: Path, preexec_fn: Callable[[], None] | None = None):
        self.workdir = workdir
        self.preexec_fn = preexec_fn
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.log_path = workdir / "jupyterlab.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        root_dir = self.workdir / "root"
        root_dir.mkdir(exist_ok=True)
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root_dir}",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = 120) -> None:
        env = dict(os.environ)
        env["JUPYTER_RUNTIME_DIR"] = str(self.workdir / "runtime")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env.pop("BROWSER", None)
        with open(self.log_path, "wb") as log:
            # Its own session: a Ctrl-C in the terminal reaches this program, which stops the server.
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=self.workdir, start_new_session=True, preexec_fn=self.preexec_fn,
            )
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise RuntimeError(f"JupyterLab exited at start-up (code {self.process.returncode}):\n{self.log_tail()}")
            try:
                self._get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}") from None
                time.sleep(0.25)
        # What a browser opening the session asks for first: the Lab page and its settings.
        for path in ("/lab", "/lab/api/settings", "/api/kernelspecs", "/api/contents"):
            try:
                self._get(path)
            except urllib.error.URLError:
                pass

    def _get(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stop(self, grace: float = 10) -> None:
        """SIGTERM to the server's PID, SIGKILL if it is still there after ``grace`` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.kill(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=grace)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


class MemoryLimitedSession:
    """One cgroup with ``memory_bytes`` holding an idle JupyterLab server and each notebook's kernel."""

    def __init__(self, memory_bytes: int):
        self.memory_bytes = memory_bytes
        self.cgroup: Cgroup | None = None
        self.server: JupyterLabServer | None = None
        self.idle_mb: float | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> MemoryLimitedSession:
        self._tmp = tempfile.TemporaryDirectory(prefix="check-notebooks-lab-")
        try:
            self.cgroup = Cgroup(f"check-notebooks-{os.getpid()}-{secrets.token_hex(3)}",
                                 memory_bytes=self.memory_bytes).__enter__()
            self.server = JupyterLabServer(Path(self._tmp.name), self.cgroup.preexec_fn())
            self.server.start()
            time.sleep(1)  # let start-up settle, then measure the server alone
            self.cgroup.reset_peak()
            self.idle_mb = self.cgroup.peak_bytes / MB
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            if self.server is not None:
                self.server.stop()
        finally:
            try:
                if self.cgroup is not None:
                    self.cgroup.__exit__(None, None, None)  # ends whatever is left (kernels)
            finally:
                if self._tmp is not None:
                    self._tmp.cleanup()

    def preexec_fn(self) -> Callable[[], None]:
        return self.cgroup.preexec_fn()
