"""Start and stop the class's JupyterHub on 127.0.0.1.

    python -m hub.run start [--state-dir DIR]   start it in the background, print the URL (PID in DIR/hub.pid)
    python -m hub.run stop  [--state-dir DIR]   stop it and everything it started (by PID)
    python -m hub.run serve [--state-dir DIR]   start, print the URL, stop on Ctrl-C (make hub)

Before starting: the proxy (npm, build/hub/), the students' environment (hub/env.py) and the
site's Jupyter settings must be there; ``make hub`` prepares them. JupyterHub runs as root
with LocalProcessSpawner: each single-user server runs as its user (uid, groups, home).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from course.cli import exits_on

from .site import COURSE_PARTS, REPO_DIR, Site

CONFIG = REPO_DIR / "hub" / "jupyterhub_config.py"
PID_FILE = "hub.pid"
LOG_FILE = "jupyterhub.log"
START_TIMEOUT_S = 120


class HubError(RuntimeError):
    pass


class Hub:
    """One running JupyterHub and the processes it started."""

    def __init__(self, site: Site):
        self.site = site
        self.process: subprocess.Popen | None = None
        self.known: dict[int, float] = {}  # pid -> create_time of every process seen under the hub

    @property
    def log_path(self) -> Path:
        return self.site.state_dir / LOG_FILE

    def read_log(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def start(self) -> str:
        site = self.site
        if os.geteuid() != 0:
            raise HubError("run the hub as root (as The Littlest JupyterHub does): each person's server "
                           "runs under their own system account")
        prepare(site)
        for needed, fix in ((site.proxy_command, "python -m hub.proxy"),
                            (site.env_dir / "bin" / "jupyterhub-singleuser", f"python -m hub.env {site.env_dir}"),
                            (site.jupyter_config_dir / "nbgrader_config.py", "python -m hub.roster ROSTER.csv")):
            if not Path(needed).exists():
                raise HubError(f"{needed} is missing; run `{fix}` (or `make hub`) first")
        site.state_dir.mkdir(parents=True, exist_ok=True)
        # Single-user servers read state/jupyter/ (and the instructor state/instructor/): they may
        # enter the folder, not list it; the hub's own files (log, database, secret, site.json)
        # are root's alone: the log names every submission folder.
        os.chmod(site.state_dir, 0o711)
        site.save()
        private_state(site)
        env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin",
                                        "/usr/sbin", "/sbin"]),
               "LANG": os.environ.get("LANG", "C.UTF-8"), "HOME": os.environ.get("HOME", "/root"),
               "GPT2_COURSE_HUB_STATE": str(site.state_dir)}
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600), "a")
        os.fchmod(log.fileno(), 0o600)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=site.state_dir, env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        (site.state_dir / PID_FILE).write_text(f"{self.process.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubError(f"JupyterHub exited (status {self.process.returncode}):\n{self.read_log()}")
            try:
                with urllib.request.urlopen(f"{site.url}/hub/api", timeout=5) as reply:
                    if reply.status == 200:
                        private_state(site)  # the database and the secret, now that they exist
                        self.remember()
                        return f"{site.url}/hub/login"
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise HubError(f"JupyterHub did not answer on {site.url} within {START_TIMEOUT_S}s:\n{self.read_log()}")

    def remember(self) -> None:
        """Note every process now under the hub (single-user servers, kernels, the proxy)."""
        import psutil

        pid = self.process.pid if self.process else read_pid(self.site)
        if pid is None:
            return
        try:
            root = psutil.Process(pid)
            for process in [root, *root.children(recursive=True)]:
                self.known[process.pid] = process.create_time()
        except psutil.Error:
            pass

    def remember_proxy(self) -> None:
        """The proxy by its PID file: a hub that died early leaves its proxy behind, unseen by remember()."""
        import psutil

        try:
            pid = int((self.site.state_dir / "jupyterhub-proxy.pid").read_text().strip())
            process = psutil.Process(pid)
            if any("configurable-http-proxy" in part for part in process.cmdline()):
                self.known.setdefault(pid, process.create_time())
        except (OSError, ValueError, psutil.Error):
            pass

    def stop(self, timeout: float = 30) -> list[int]:
        """SIGTERM the hub (it stops the servers and the proxy it started), then kill by PID whatever
        it left; returns the PIDs that had to be killed."""
        import psutil

        self.remember()
        self.remember_proxy()
        pid = self.process.pid if self.process else read_pid(self.site)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if self.process is not None:
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            else:
                deadline = time.monotonic() + timeout
                while psutil.pid_exists(pid) and time.monotonic() < deadline:
                    time.sleep(0.2)
        killed = []
        for known_pid, created in self.known.items():
            try:
                process = psutil.Process(known_pid)
                if abs(process.create_time() - created) < 0.01 and process.status() != psutil.STATUS_ZOMBIE:
                    process.kill()  # the same process (not a reused PID), still running
                    killed.append(known_pid)
            except psutil.Error:
                pass
        procs = []
        for known_pid in killed:
            try:
                procs.append(psutil.Process(known_pid))
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=10)
        (self.site.state_dir / PID_FILE).unlink(missing_ok=True)
        return killed

    def alive(self) -> list[int]:
        """PIDs of processes this hub started that still run."""
        import psutil

        alive = []
        for known_pid, created in self.known.items():
            try:
                process = psutil.Process(known_pid)
                # a killed orphan stays a zombie until PID 1 reaps it (containers often never do)
                if abs(process.create_time() - created) < 0.01 and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(known_pid)
            except psutil.Error:
                pass
        return alive


STATE_FILES = (LOG_FILE, "jupyterhub.sqlite", "jupyterhub_cookie_secret", "site.json", "new-passwords.csv",
               "jupyterhub-proxy.pid")


def private_state(site: Site) -> None:
    """The hub's own files in the state folder: readable by root only."""
    for name in (*STATE_FILES, PID_FILE):
        path = site.state_dir / name
        if path.is_file() and not path.is_symlink():
            os.chmod(path, 0o600)


def prepare(site: Site) -> None:
    """The exchange and the Jupyter settings every account reads (again, so they match site.json)."""
    from . import course, roster

    roster.setup_exchange(site)
    try:
        instructor = course.instructor_of(site)
    except course.CourseError:
        instructor = None
    roster.write_jupyter_config(site, instructor)


def repository_warning() -> str | None:
    """Students must not read grader/ (solutions, hidden tests) nor nbgrader-course/ (source
    notebooks, and any gradebook or submissions graded here): say so if other accounts can."""
    from .env import runs_as_nobody

    for part in COURSE_PARTS:
        probe = REPO_DIR / part / "nbgrader_config.py"
        if runs_as_nobody(["test", "-r", str(probe)]):
            return (f"other accounts can read {REPO_DIR / part} (solutions, hidden tests, mutants, submissions); "
                    f"students need only the environment: chmod 700 {REPO_DIR} (or a parent folder)")
    return None


def read_pid(site: Site) -> int | None:
    try:
        return int((site.state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


@exits_on(HubError)
def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hub.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop", "serve"))
    parser.add_argument("--state-dir", type=Path, default=Site().state_dir)
    parser.add_argument("--allow-readable-repository", action="store_true",
                        help="start even if students' accounts can read grader/ or nbgrader-course/ "
                             "(a demo without real students)")
    args = parser.parse_args(argv)
    site = Site.load(args.state_dir) if (args.state_dir / "site.json").exists() else Site(state_dir=args.state_dir)
    hub = Hub(site)
    if args.command == "stop":
        killed = hub.stop()
        print("hub stopped" + (f"; killed leftover PIDs {killed}" if killed else ""))
        return 0
    if warning := repository_warning():
        if not args.allow_readable_repository:
            print(f"error: refusing to start: {warning}\n(a demo without real students: "
                  "--allow-readable-repository, or make hub HUB_ARGS=--allow-readable-repository)",
                  file=sys.stderr, flush=True)
            return 2
        print(f"WARNING: {warning}", flush=True)
    url = hub.start()
    print(f"JupyterHub for {site.course_id}: {url}   (log: {hub.log_path})", flush=True)
    if args.command == "start":
        return 0
    print("Ctrl-C stops it.", flush=True)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C, and SIGTERM (a service manager, kill PID); a shell's background job ignores SIGINT
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        while hub.process.poll() is None:
            hub.remember()
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    hub.stop()
    print("hub stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
