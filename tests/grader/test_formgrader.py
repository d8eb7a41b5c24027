"""The instructor's JupyterLab has Formgrader; the students' environment does not."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from grader import formgrader
from tests.support import free_port

TOKEN = "gpt2-course-formgrader-test"



def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def page_config(lab_page: str) -> dict:
    """The JSON JupyterLab embeds in its page (``<script id="jupyter-config-data">``)."""
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', lab_page, re.S)
    assert match, "no jupyter-config-data in the lab page"
    return json.loads(match.group(1))


def wait_until_up(base: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited"
        try:
            if get(f"{base}/api/status?token={TOKEN}")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("the server did not start")


def serve(start_server, tmp_path: Path):
    port = free_port()
    server = start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server)
        return base, server
    except BaseException:
        server.kill()
        server.wait()
        raise


def test_instructor_config_turns_the_tools_back_on(tmp_path):
    formgrader.write_instructor_config(tmp_path)
    page = (tmp_path / "labconfig" / "page_config.json").read_text()
    assert '"@jupyter/nbgrader:formgrader": false' in page
    command = formgrader.lab_command(8888, open_browser=False)
    assert "--ip=127.0.0.1" in command and "--no-browser" in command
    assert "--ServerApp.jpserver_extensions=nbgrader.server_extensions.formgrader=True" in command


@pytest.mark.slow
def test_formgrader_only_in_the_instructor_lab(tmp_path):
    log = tmp_path / "instructor.log"

    def instructor(port):
        return formgrader.start(tmp_path / "config", port=port, open_browser=False, token=TOKEN,
                                stdout=subprocess.DEVNULL, stderr=log.open("w"))

    def student(port):
        # What `make lab` gives a student: the environment's own settings (course.jupyter_setup).
        return subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
             "--no-browser", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    for role, start_server, expected in (("instructor", instructor, 200), ("student", student, 404)):
        base, server = serve(start_server, tmp_path)
        try:
            status, page = get(f"{base}/formgrader?token={TOKEN}")
            assert status == expected, f"{role}: /formgrader answered {status}"
            lab_status, lab_page = get(f"{base}/lab?token={TOKEN}")
            assert lab_status == 200
            disabled = "@jupyter/nbgrader:formgrader" in page_config(lab_page).get("disabledExtensions", [])
            assert disabled == (role == "student"), f"{role}: formgrader plugin disabled={disabled}"
            if role == "instructor":
                status, manage = get(f"{base}/formgrader/manage_assignments?token={TOKEN}")
                assert status == 200 and "Manage Assignments" in manage
                assert "c.Autograde" not in manage and "pre_convert_hook" not in manage, "the config is on show"
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert "not serializable" not in log.read_text(), "Formgrader's debug panel still tries to show the config"
