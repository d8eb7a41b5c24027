"""The students' Jupyter settings: widget state saved, nbgrader's instructor tools off,
the same call from bootstrap.py and Binder's postBuild."""

from __future__ import annotations

import json
from pathlib import Path

from course import jupyter_setup as js

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_configure_writes_save_state_and_disables_instructor_tools(tmp_path):
    written = js.configure(tmp_path)
    assert all(p.is_file() for p in written)
    overrides = _load(tmp_path / "share/jupyter/lab/settings/overrides.json")
    assert overrides["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    disabled = _load(tmp_path / "etc/jupyter/labconfig/page_config.json")["disabledExtensions"]
    assert disabled == {
        "@jupyter/nbgrader:formgrader": True,
        "@jupyter/nbgrader:create-assignment": True,
        "@jupyter/nbgrader:course-list": True,
    }
    server = _load(tmp_path / "etc/jupyter/jupyter_server_config.d" / js.SERVER_CONFIG_NAME)
    extensions = server["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.course_list"] is False
    assert extensions["nbgrader.server_extensions.validate_assignment"] is True
    assert extensions["nbgrader.server_extensions.assignment_list"] is True
    # nbgrader's own config.d file enables everything; ours must load after it
    assert js.SERVER_CONFIG_NAME > "nbgrader.json"


def test_configure_installs_the_open_feedback_plugin_where_jupyterlab_finds_it(tmp_path):
    from jupyterlab_server.config import get_federated_extensions

    js.configure(tmp_path)
    found = get_federated_extensions([str(tmp_path / "share/jupyter/labextensions")])
    assert list(found) == ["@gpt2-course/open-feedback"]
    entry = found["@gpt2-course/open-feedback"]["jupyterlab"]["_build"]
    assert entry["extension"] == "./extension"
    script = (tmp_path / "share/jupyter/labextensions/@gpt2-course/open-feedback" / entry["load"]).read_text()
    assert "filebrowser:go-to-path" in script and "HTML Viewer" in script


def test_configure_merges_and_is_idempotent(tmp_path):
    overrides = tmp_path / "share/jupyter/lab/settings/overrides.json"
    overrides.parent.mkdir(parents=True)
    overrides.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
                                     js.WIDGET_MANAGER_PLUGIN: {"saveState": False}}))
    page = tmp_path / "etc/jupyter/labconfig/page_config.json"
    page.parent.mkdir(parents=True)
    page.write_text(json.dumps({"disabledExtensions": {"other:plugin": True,
                                                       "@jupyter/nbgrader:validate-assignment": True}}))
    js.configure(tmp_path)
    first = [p.read_text() for p in (overrides, page)]
    js.configure(tmp_path)
    assert [p.read_text() for p in (overrides, page)] == first
    data = _load(overrides)
    assert data["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert data[js.WIDGET_MANAGER_PLUGIN]["saveState"] is True
    disabled = _load(page)["disabledExtensions"]
    assert disabled["other:plugin"] is True
    assert "@jupyter/nbgrader:validate-assignment" not in disabled  # students validate their work


def test_bootstrap_and_binder_both_run_it():
    import bootstrap

    assert bootstrap.JUPYTER_SETUP_ARGS == ["-m", "course.jupyter_setup"]
    assert "python -m course.jupyter_setup" in (ROOT / "postBuild").read_text()
    source = (ROOT / "bootstrap.py").read_text()
    assert source.count("configure_jupyter(python)") == 2  # fresh install and up-to-date venv


def test_setup_says_only_what_it_changed(tmp_path, capsys):
    """Every `make` target runs the setup: a second run with nothing to change prints nothing."""
    assert js.main([str(tmp_path)]) == 0
    first = capsys.readouterr().out
    assert first.count("gpt2-course: wrote") == 5  # three settings files, the lab plugin's two files
    assert js.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
