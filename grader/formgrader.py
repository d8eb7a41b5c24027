"""The instructor's JupyterLab: nbgrader's Formgrader and Create Assignment for this course.

    python -m grader.formgrader [--port N] [--no-browser]     (make formgrader)

The students' environment switches nbgrader's instructor tools off (``course.jupyter_setup``:
students see Validate and the Assignment List only). This starts JupyterLab in ``grader/``
(the course root, so Formgrader finds ``nbgrader_config.py``) with those tools on again, for
this server only: a private Jupyter config folder, which Jupyter reads before the
environment's, enables them; nothing in the environment changes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from course.jupyter_setup import INSTRUCTOR_LAB_PLUGINS, INSTRUCTOR_SERVER_EXTENSIONS

from .catalog import GRADER_DIR, REPO_DIR


def write_instructor_config(config_dir: Path) -> None:
    """JupyterLab page settings that turn nbgrader's instructor plugins back on. With
    ``JUPYTER_PREFER_ENV_PATH=0`` (``instructor_environment``) ``config_dir`` outranks the environment's."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {plugin: False for plugin in INSTRUCTOR_LAB_PLUGINS}}, indent=2))


def lab_command(port: int | None, open_browser: bool, token: str | None = None) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--ServerApp.root_dir={GRADER_DIR}",
               "--LabApp.default_url=/formgrader"]
    # Server extensions on the command line: it outranks every config file.
    command += [f"--ServerApp.jpserver_extensions={name}=True" for name in INSTRUCTOR_SERVER_EXTENSIONS]
    if port is not None:
        command += [f"--port={port}", "--port-retries=0"]
    if not open_browser:
        command.append("--no-browser")
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if os.name == "posix" and os.geteuid() == 0:
        command.append("--allow-root")  # containers and The Littlest JupyterHub run as root
    return command


def instructor_environment(config_dir: Path) -> dict[str, str]:
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_PREFER_ENV_PATH="0",
               GPT2_COURSE_REPO=str(REPO_DIR))
    # nbgrader shells out to `alembic`: this interpreter's bin/ first.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def start(config_dir: Path, port: int | None = None, open_browser: bool = True,
          token: str | None = None, **popen_options) -> subprocess.Popen:
    """Start the instructor's JupyterLab (the caller stops it)."""
    write_instructor_config(config_dir)
    return subprocess.Popen(lab_command(port, open_browser, token), cwd=GRADER_DIR,
                            env=instructor_environment(config_dir), **popen_options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.formgrader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: Jupyter's choice)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gpt2-course-instructor-") as config_dir:
        server = start(Path(config_dir), args.port, not args.no_browser)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.terminate()
            return server.wait()


if __name__ == "__main__":
    sys.exit(main())
