"""The instructor's JupyterLab: nbgrader's Formgrader and Create Assignment for this course.

    python -m grader.formgrader [--port N] [--no-browser]     (make formgrader)

The students' environment switches nbgrader's instructor tools off (``course.jupyter_setup``:
students see Validate and the Assignment List only). This starts JupyterLab in ``nbgrader-course/``
(the course root, so Formgrader finds ``nbgrader_config.py``) with those tools on again, for
this server only: a private Jupyter config folder, which Jupyter reads before the
environment's, enables them; nothing in the environment changes.

What students wrote or printed never runs in this server's pages (it would run with the
instructor's session): the server renders submissions with HTML sanitizing on
(``HTMLExporter.sanitize_html`` and ``grader.plugins.inert``'s filters, also set in
``nbgrader_config.py``) and sends Formgrader's submission page with a Content-Security-Policy
(``grader.orchestration.formgrader_csp``, a server extension only this server loads).
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
from grader.catalog import COURSE_DIR, REPO_DIR

# Student content stays inert in the instructor's pages (grader/plugins/inert.py, grader/orchestration/formgrader_csp.py).
SAFETY_SERVER_EXTENSIONS = ("grader.orchestration.formgrader_csp",)
SAFETY_EXPORTER_SETTINGS = (
    ("sanitize_html", "True"),
    ("filters", "clean_html=grader.plugins.inert.clean_html"),
    ("filters", "strip_files_prefix=grader.plugins.inert.strip_files_prefix"),
)


def write_instructor_config(config_dir: Path) -> None:
    """JupyterLab page settings that turn nbgrader's instructor plugins back on. With
    ``JUPYTER_PREFER_ENV_PATH=0`` (``instructor_environment``) ``config_dir`` outranks the environment's."""
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {plugin: False for plugin in INSTRUCTOR_LAB_PLUGINS}}, indent=2))


def lab_command(port: int | None, open_browser: bool, token: str | None = None,
                course_root: Path = COURSE_DIR) -> list[str]:
    command = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--ServerApp.root_dir={course_root}",
               "--LabApp.default_url=/formgrader"]
    # Server extensions on the command line: it outranks every config file.
    command += [f"--ServerApp.jpserver_extensions={name}=True" for name in INSTRUCTOR_SERVER_EXTENSIONS]
    command += [f"--ServerApp.jpserver_extensions={name}=True" for name in SAFETY_SERVER_EXTENSIONS]
    # Formgrader renders submissions with an HTMLExporter built from this server's config.
    command += [f"--HTMLExporter.{name}={value}" for name, value in SAFETY_EXPORTER_SETTINGS]
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
    # The server imports grader.orchestration.formgrader_csp and grader.plugins.inert (the grader package is not installed).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    # nbgrader shells out to `alembic`: this interpreter's bin/ first.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def start(config_dir: Path, port: int | None = None, open_browser: bool = True,
          token: str | None = None, course_root: Path = COURSE_DIR, **popen_options) -> subprocess.Popen:
    """Start the instructor's JupyterLab on ``course_root`` (the caller stops it)."""
    write_instructor_config(config_dir)
    return subprocess.Popen(lab_command(port, open_browser, token, course_root), cwd=course_root,
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
