"""Jupyter settings for the students' environment, written into one Python environment.

    python -m course.jupyter_setup            configure sys.prefix (the running environment)
    python -m course.jupyter_setup PREFIX     configure another environment

``bootstrap.py setup`` (so ``make lab``) and Binder's ``postBuild`` both run this, so a
laptop and Binder get the same settings:

- ipywidgets saves widget state into the notebook when it is saved
  (``<prefix>/share/jupyter/lab/settings/overrides.json``), so that after a page reload a
  quiz is drawn from the saved state instead of "Error displaying widget: model not found".
- The instructor's nbgrader tools (Formgrader, Create Assignment, Course List) are switched
  off, in JupyterLab (``<prefix>/etc/jupyter/labconfig/page_config.json``) and in the server
  (``<prefix>/etc/jupyter/jupyter_server_config.d/``); Validate and the Assignment List stay.
- The course's JupyterLab plugin ``@gpt2-course/open-feedback`` (``course/labextension/``) goes
  into ``<prefix>/share/jupyter/labextensions/``: the Assignment List's "(view feedback)" then
  opens the feedback page instead of only moving the file browser to its folder.

Every write merges into what the file already holds, so running this again changes nothing.
Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

WIDGET_MANAGER_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"
# Instructor-only parts of nbgrader's JupyterLab extension.
INSTRUCTOR_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
# What students keep: checking their work, and fetching/submitting assignments.
STUDENT_LAB_PLUGINS = ("@jupyter/nbgrader:validate-assignment", "@jupyter/nbgrader:assignment-list")
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)
STUDENT_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
)
# Loaded after nbgrader.json (config.d files load in name order; the last one wins).
SERVER_CONFIG_NAME = "zz-gpt2-course-student.json"


LAB_EXTENSION = Path(__file__).resolve().parent / "labextension"
LAB_EXTENSION_NAME = "@gpt2-course/open-feedback"


def lab_extension_path(prefix: Path) -> Path:
    return prefix / "share" / "jupyter" / "labextensions" / LAB_EXTENSION_NAME


def lab_extension_files(prefix: Path) -> list[tuple[Path, Path]]:
    """(shipped file, installed file) for each file of the course's JupyterLab plugin."""
    return [(path, lab_extension_path(prefix) / path.relative_to(LAB_EXTENSION))
            for path in sorted(LAB_EXTENSION.rglob("*")) if path.is_file()]


def overrides_path(prefix: Path) -> Path:
    return prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def page_config_path(prefix: Path) -> Path:
    return prefix / "etc" / "jupyter" / "labconfig" / "page_config.json"


def server_config_path(prefix: Path) -> Path:
    return prefix / "etc" / "jupyter" / "jupyter_server_config.d" / SERVER_CONFIG_NAME


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise SystemExit(f"course.jupyter_setup: cannot read {path}: {error}") from error
    if not isinstance(data, dict):
        raise SystemExit(f"course.jupyter_setup: {path} does not hold a JSON object")
    return data


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def configure(prefix: str | Path = sys.prefix) -> list[Path]:
    """Write the students' Jupyter settings into the environment at ``prefix``; return the files."""
    prefix = Path(prefix)

    overrides = _read_json(overrides_path(prefix))
    overrides.setdefault(WIDGET_MANAGER_PLUGIN, {})["saveState"] = True
    _write_json(overrides_path(prefix), overrides)

    page_config = _read_json(page_config_path(prefix))
    disabled = page_config.setdefault("disabledExtensions", {})
    for plugin in INSTRUCTOR_LAB_PLUGINS:
        disabled[plugin] = True
    for plugin in STUDENT_LAB_PLUGINS:
        disabled.pop(plugin, None)
    _write_json(page_config_path(prefix), page_config)

    server = _read_json(server_config_path(prefix))
    extensions = server.setdefault("ServerApp", {}).setdefault("jpserver_extensions", {})
    extensions.update({name: False for name in INSTRUCTOR_SERVER_EXTENSIONS})
    extensions.update({name: True for name in STUDENT_SERVER_EXTENSIONS})
    _write_json(server_config_path(prefix), server)

    for shipped, installed in lab_extension_files(prefix):
        installed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, installed)
    return written_paths(prefix)


def written_paths(prefix: Path) -> list[Path]:
    return [overrides_path(prefix), page_config_path(prefix), server_config_path(prefix),
            *(installed for _, installed in lab_extension_files(prefix))]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m course.jupyter_setup [PREFIX]", file=sys.stderr)
        return 2
    prefix = Path(args[0] if args else sys.prefix)
    paths = written_paths(prefix)
    before = {path: path.read_bytes() if path.is_file() else None for path in paths}
    for path in configure(prefix):
        if before.get(path) != path.read_bytes():  # quiet when nothing changed (every `make` target runs it)
            print(f"gpt2-course: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
