"""Quick checks of the class setup (no accounts, no hub): roster parsing, the site file,
JupyterHub's configuration, the pinned hub requirements and CI's installation of the proxy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub import roster
from hub.site import REPO_DIR, Site


def test_roster_reads_people_and_reports_every_problem(tmp_path):
    good = tmp_path / "class.csv"
    good.write_text("Username,Role,first_name,last_name,email,password\n"
                    "teacher,instructor,Ada,Lovelace,ada@example.org,\n"
                    "S001,,Alan,Turing,,secret\n\n")
    people = roster.read_roster(good)
    assert [(p.username, p.role, p.password) for p in people] == [("teacher", "instructor", ""), ("s001", "student", "secret")]

    bad = tmp_path / "bad.csv"
    bad.write_text("username,role\nroot;rm,student\ns1,teacher\ns1,student\n")
    with pytest.raises(roster.RosterError) as error:
        roster.read_roster(bad)
    message = str(error.value)
    assert "line 2" in message and "line 3" in message and "line 4: s1 appears twice" in message
    marked_up = tmp_path / "marked-up.csv"
    marked_up.write_text("username,first_name,last_name,email\n"
                         "s1,<script>alert(1)</script>,Lee,\n"
                         "s2,Zoë,O'Brien,zoe@example.org\n"
                         "s3,王,小明,\"x\"\"onmouseover=1\"\n")
    with pytest.raises(roster.RosterError) as error:
        roster.read_roster(marked_up)
    message = str(error.value)
    assert "line 2: first_name of s1" in message and "line 4: email of s3" in message and "s2" not in message
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("name,role\nx,student\n")
    with pytest.raises(roster.RosterError, match="username"):
        roster.read_roster(nameless)


def test_site_file_round_trip(tmp_path):
    site = Site(state_dir=tmp_path, port=1234, extra_env={"A": "1"})
    site.save()
    loaded = Site.load(tmp_path)
    assert loaded == site and isinstance(loaded.env_dir, Path)
    assert loaded.exchange_root == loaded.exchange_gate / "exchange"


def test_jupyterhub_config_is_loopback_pam_and_per_user(tmp_path, monkeypatch):
    from traitlets.config import Config

    site = Site(state_dir=tmp_path, env_dir=tmp_path / "env", port=18000, hub_port=18081, proxy_api_port=18001)
    site.save()
    monkeypatch.setenv("GPT2_COURSE_HUB_STATE", str(tmp_path))
    config = Config()
    code = (REPO_DIR / "hub" / "jupyterhub_config.py").read_text()
    exec(compile(code, "jupyterhub_config.py", "exec"), {"get_config": lambda: config, "__file__": str(REPO_DIR / "hub" / "jupyterhub_config.py")})
    assert config.JupyterHub.bind_url == "http://127.0.0.1:18000"
    assert config.JupyterHub.hub_ip == "127.0.0.1"
    assert config.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18001"
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.JupyterHub.spawner_class == "localprocess"
    assert config.Spawner.cmd == [str(tmp_path / "env" / "bin" / "jupyterhub-singleuser")]
    assert config.Spawner.ip == "127.0.0.1"
    assert config.Spawner.env_keep == []
    assert config.Authenticator.admin_users == set()
    assert config.Authenticator.allowed_groups == {site.students_group, site.instructors_group}


def test_hub_requirements_are_pinned_and_installed_by_setup():
    lines = [line.strip() for line in (REPO_DIR / "requirements-hub.txt").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][^\s]*", line) for line in lines), lines
    assert "-r requirements-hub.txt" in (REPO_DIR / "requirements-dev.txt").read_text().splitlines()
    assert "jupyterhub" not in (REPO_DIR / "requirements.txt").read_text(), "Binder's runtime list stays as it is"


def test_ci_installs_what_the_hub_test_needs():
    ci = (REPO_DIR / ".ci" / "run").read_text()
    assert "nodejs" in ci and "npm" in ci and "python3-venv" in ci
    assert "make hub-proxy" in ci and "REQUIRE_HUB=1" in ci
    makefile = (REPO_DIR / "Makefile").read_text()
    assert re.search(r"^hub: ", makefile, re.M) and re.search(r"^zip-collect: ", makefile, re.M)


def test_kubernetes_plan_files_are_consistent():
    import json

    import yaml

    from course.jupyter_setup import INSTRUCTOR_LAB_PLUGINS, INSTRUCTOR_SERVER_EXTENSIONS

    k8s = REPO_DIR / "hub" / "k8s"
    values = yaml.safe_load((k8s / "values.yaml").read_text())
    assert "ngshare" in values["hub"]["services"]
    assert "access:services" in values["hub"]["loadRoles"]["user"]["scopes"]
    assert values["singleuser"]["storage"]["type"] == "dynamic"
    page = json.loads((k8s / "instructor" / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {plugin: False for plugin in INSTRUCTOR_LAB_PLUGINS}
    server = json.loads((k8s / "instructor" / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {name: True for name in INSTRUCTOR_SERVER_EXTENSIONS}
    # the image is built from the student side only: never grader/ (solutions, hidden tests)
    archive = next(line for line in (k8s / "build-image.sh").read_text().splitlines() if "git archive" in line)
    assert "grader" not in archive and "hub" not in archive.split("HEAD", 1)[1]
    assert "ngshare" in (k8s / "jupyter" / "nbgrader_config.py").read_text()
    assert "/services/ngshare')" in (k8s / "jupyter" / "nbgrader_config.py").read_text().replace('"', "'")  # no trailing slash


def test_make_hub_refuses_while_students_could_read_the_instructors_files(tmp_path, monkeypatch, capsys):
    from hub import run

    monkeypatch.setattr(run, "repository_warning", lambda: "other accounts can read /course/grader")
    started = []
    monkeypatch.setattr(run.Hub, "start", lambda self: started.append(self) or "http://127.0.0.1:1/")
    assert run.main(["start", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "refusing to start: other accounts can read /course/grader" in err
    assert "--allow-readable-repository" in err
    assert not started, "nothing may start"


def _lowest_node(engines: str) -> tuple[int, ...] | None:
    """The lowest Node version an ``engines.node`` range such as ">= 18", ">=20.0.0" or
    "^16 || ^18 || >=20" accepts (the lowest of its alternatives)."""
    found = []
    for alternative in (engines or "").split("||"):
        match = re.match(r"\s*(?:>=|\^|~|=)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", alternative)
        if match:
            found.append(tuple(int(part or 0) for part in match.groups()))
    return min(found) if found else None


def test_the_proxy_runs_on_the_node_that_debian_12_ships():
    """configurable-http-proxy and everything it pulls in accept Node 18.19 (Debian 12, Ubuntu
    24.04): no EBADENGINE warning on the machines the class is meant for."""
    import json

    from hub import proxy

    modules = REPO_DIR / "build" / "hub" / "node_modules"
    if not (modules / "configurable-http-proxy").is_dir():
        pytest.skip("the proxy is not installed (make hub-proxy)")
    assert json.loads((modules / "configurable-http-proxy" / "package.json").read_text())["version"] == proxy.VERSION
    too_new = {}
    for manifest in modules.glob("**/package.json"):
        try:
            data = json.loads(manifest.read_text())
        except ValueError:
            continue
        lowest = _lowest_node((data.get("engines") or {}).get("node", "") if isinstance(data.get("engines"), dict) else "")
        if lowest is not None and lowest > (18, 19, 0):
            too_new[data.get("name", str(manifest))] = data["engines"]["node"]
    assert not too_new, too_new
