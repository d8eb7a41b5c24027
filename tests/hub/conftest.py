"""A throw-away class on a real JupyterHub: accounts, groups, exchange and hub, all removed afterwards.

``classroom`` (module scope) builds a ``hub.site.Site`` under a temporary folder with its own
group names (prefix ``g2t<random>``), creates one instructor and three students with random
passwords (hub/roster.py), starts JupyterHub on random loopback ports (hub/run.py) and, at the
end, stops it, checks that no process it started is left (by PID), and deletes the accounts,
their homes, the groups and the folder.

Needs root (useradd, the grading sandbox), setpriv, bubblewrap, Node/npm for the proxy and a
students' environment other accounts can read (build/hub/user-env, or $GPT2_COURSE_HUB_TEST_ENV
where the repository is private; built once by hub/env.py, ~2-3 minutes). Without one of them the tests skip with the reason; with REQUIRE_HUB=1 (CI)
they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hub import env as hub_env
from hub import proxy, roster
from hub.run import Hub
from hub.site import HUB_BUILD_DIR, Site
from tests import support
from tests.support import free_port

SLUG = "35-gpt-model-assembly"
# The students' environment the tests build once and reuse. Every account must be able to read it:
# where the repository itself is private (e.g. under /root), point this somewhere readable.
USER_ENV = Path(os.environ.get("GPT2_COURSE_HUB_TEST_ENV", HUB_BUILD_DIR / "user-env")).absolute()


def require(problem: str | None) -> None:
    support.require(problem, "REQUIRE_HUB", "the hub test")


def hub_prerequisites() -> Path:
    """Everything the class needs on this machine; returns the students' environment."""
    if os.name != "posix" or os.geteuid() != 0:
        require("needs root: it creates system accounts, as The Littlest JupyterHub does")
    for tool in ("useradd", "userdel", "groupadd", "chpasswd", "setpriv", "bwrap"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            require(f"{tool} is missing (apt-get install passwd util-linux bubblewrap)")
    import fcntl

    HUB_BUILD_DIR.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers share build/hub/: one builds, the others wait
    with open(HUB_BUILD_DIR / ".test-setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            proxy.ensure()
        except proxy.ProxyError as error:
            require(str(error))
        try:
            return hub_env.build(USER_ENV)
        except hub_env.EnvError as error:
            require(f"the students' environment: {error}")


@dataclass
class Classroom:
    site: Site
    hub: Hub
    instructor: str
    students: list[str]
    passwords: dict[str, str]
    base: Path
    notes: list[str] = field(default_factory=list)

    @property
    def course_root(self) -> Path:
        return self.site.course_root(self.instructor)

    def home(self, user: str) -> Path:
        import pwd

        return Path(pwd.getpwnam(user).pw_dir)


@contextlib.contextmanager
def open_classroom(students: int = 3, ngshare: bool = False):
    """A class with its own groups, accounts, exchange and running hub; all removed on exit."""
    hub_prerequisites()
    prefix = "g2t" + secrets.token_hex(3)
    base = Path(tempfile.mkdtemp(prefix="gpt2-course-hub-", dir="/tmp"))
    os.chmod(base, 0o755)  # single-user servers read base/state/jupyter
    site = Site(
        state_dir=base / "state", env_dir=USER_ENV, exchange_gate=base / "nbgrader",
        port=free_port(), hub_port=free_port(), proxy_api_port=free_port(),
        course_group=f"{prefix}-course", students_group=f"{prefix}-students",
        instructors_group=f"{prefix}-instructors",
        ngshare_port=free_port() if ngshare else 0, ngshare_path=USER_ENV.parent / "ngshare",
        extra_env={"GPT2_COURSE_LANG": "en"},
    )
    instructor = f"{prefix}-teach"
    names = [f"{prefix}-s{i}" for i in range(1, students + 1)]
    people = [roster.Person(instructor, "instructor", "Ada", "Lovelace"),
              *(roster.Person(name, "student", "Student", str(i)) for i, name in enumerate(names, 1))]
    for person in people:
        person.password = secrets.token_urlsafe(12)
    hub = Hub(site)
    try:
        if ngshare:
            import fcntl

            from hub import ngshare as hub_ngshare

            with open(HUB_BUILD_DIR / ".test-setup.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                hub_ngshare.install(site)
        passwords = roster.apply(site, people)
        hub.start()
        yield Classroom(site, hub, instructor, names, passwords, base)
    finally:
        killed = hub.stop()
        left = hub.alive()
        for person in people:
            roster.remove_account(person.username)
        for group in (site.course_group, site.students_group, site.instructors_group):
            roster.remove_group(group)
        shutil.rmtree(base, ignore_errors=True)
        assert not left, f"processes the hub started still run after stop: {left}"
        if killed:
            print(f"hub stop had to kill leftover PIDs {killed}")


@pytest.fixture(scope="module")
def classroom():
    with open_classroom(3) as room:
        yield room


@pytest.fixture(scope="module")
def ngshare_classroom():
    with open_classroom(2, ngshare=True) as room:
        yield room


# --- logging in over HTTP, as a browser would ------------------------------------------------

def login(site: Site, user: str, password: str, timeout: float = 240):
    """A requests session logged in to the hub, with the user's server started."""
    import requests

    session = requests.Session()
    session.get(f"{site.url}/hub/login", timeout=30)
    reply = session.post(f"{site.url}/hub/login", timeout=timeout, data={
        "username": user, "password": password, "_xsrf": session.cookies.get("_xsrf", "")})
    assert reply.status_code == 200, f"login of {user}: {reply.status_code}"
    assert "/hub/login" not in reply.url, f"login of {user} refused"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lab = session.get(f"{site.url}/user/{user}/lab", timeout=60)
        if lab.status_code == 200 and "jupyter-config-data" in lab.text:
            return session
        time.sleep(2)
    raise AssertionError(f"the server of {user} did not start")


def disabled_lab_plugins(lab_page: str) -> set[str]:
    import json

    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab_page, re.S)
    assert match, "no jupyter-config-data in the lab page"
    disabled = json.loads(match.group(1)).get("disabledExtensions", [])
    return set(disabled if isinstance(disabled, list) else [k for k, v in disabled.items() if v])


def api_token(site: Site, user: str, password: str) -> str:
    """A JupyterHub API token of ``user`` (what a single-user server has as JUPYTERHUB_API_TOKEN)."""
    session = login(site, user, password)
    reply = session.post(f"{site.url}/hub/api/users/{user}/tokens", json={"note": "test", "expires_in": 3600},
                         headers={"X-XSRFToken": session.cookies.get("_xsrf", "", path="/hub/")}, timeout=30)
    assert reply.status_code in (200, 201), (reply.status_code, reply.text)
    return reply.json()["token"]
