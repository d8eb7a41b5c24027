"""Tests run against a throw-away user state (tests/conftest.py), never the real home's.

``test_kernels_and_subprocesses_see_only_the_throwaway_state`` starts a Jupyter kernel and a
plain Python subprocess, as the quiz and browser tests do, and checks that they show the
Chinese edition, use a learner id of their own and save into the throw-away folders. Against
the real home alone that proves little (it may hold nothing), so
``test_a_person_s_saved_state_changes_nothing_and_stays_untouched`` runs it in a nested
pytest (with an xdist worker, as ``make test`` does) whose HOME is a fake real home that
holds an English preference, another learner id, a stale JupyterLab workspace and an IPython
startup file that asks for English, with English and a learner id in the environment too;
the probe must pass, and every planted file must keep its content and mtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_QUIZ = REPO / "tests" / "quiz" / "fixtures" / "demo-lesson" / "quiz.json"
REAL_HOME_VAR = "GPT2_COURSE_TEST_REAL_HOME"
REPORT_VAR = "GPT2_COURSE_TEST_USER_STATE_REPORT"  # where the probe writes what it saw
PLANTED_LEARNER = "planted-learner"

# What a kernel or a subprocess sees: one JSON line on stdout. Selecting a quiz without a
# learner stores a learner id; set_language saves a preference (as the language buttons do).
PROBE_CODE = f"""
import json, os, sys
sys.path.insert(0, {str(REPO)!r})
import quiz
from quiz.i18n import preferred_language, settings_path
from quiz.selection import select
from quiz.shuffle import learner_id_path
seen = select({str(DEMO_QUIZ)!r}, "pre")
preferred = preferred_language()
quiz.set_language("en")
print(json.dumps({{
    "home": os.path.expanduser("~"), "edition": seen.source.name, "lang": seen.lang,
    "preferred": preferred, "learner": seen.learner,
    "settings": str(settings_path()), "learner_file": str(learner_id_path()),
    "env_lang": os.environ.get("GPT2_COURSE_LANG"),
}}))
"""


def _last_json_line(text: str) -> dict:
    """The last line of ``text`` that is a JSON object (the probe's report)."""
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines, f"no report in the output:\n{text}"
    return json.loads(lines[-1])


def _run_in_kernel(code: str, cwd: Path) -> dict:
    """Run ``code`` in a new ``python3`` Jupyter kernel started from this process's environment."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(cwd), startup_timeout=120)
    chunks: list[str] = []

    def keep_stdout(message):
        if message["header"]["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            chunks.append(message["content"]["text"])

    try:
        reply = client.execute_interactive(code, timeout=120, output_hook=keep_stdout)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return _last_json_line("".join(chunks))


def _run_in_subprocess(code: str, cwd: Path) -> dict:
    """Run ``code`` in a plain ``python -c`` subprocess that inherits this process's environment."""
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return _last_json_line(result.stdout)


def _inside(path: str | Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies under it."""
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_kernels_and_subprocesses_see_only_the_throwaway_state(tmp_path):
    """A kernel and a subprocess started by a test show the Chinese edition, use no learner id
    of the real home, and save their language and learner id under the throw-away home."""
    real_home = Path(os.environ[REAL_HOME_VAR])
    home = Path.home()
    assert not _inside(home, real_home) and not _inside(real_home, home), (home, real_home)
    planted = real_home / ".config" / "gpt2-course" / "learner-id"
    real_learner = planted.read_text(encoding="utf-8").strip() if planted.is_file() else None
    seen = {}
    for where, run in (("kernel", _run_in_kernel), ("subprocess", _run_in_subprocess)):
        report = seen[where] = run(PROBE_CODE, tmp_path)
        assert (report["edition"], report["lang"]) == ("quiz.json", "zh"), (where, report)
        assert report["preferred"] is None and report["env_lang"] is None, (where, report)
        assert report["learner"] != real_learner, (where, report)
        for key in ("home", "settings", "learner_file"):
            assert _inside(report[key], home) and not _inside(report[key], real_home), (where, key, report)
        # what it saved went to the throw-away folders; forget the language for the next run
        assert Path(report["learner_file"]).read_text(encoding="utf-8").strip() == report["learner"]
        saved = Path(report["settings"])
        assert json.loads(saved.read_text(encoding="utf-8")) == {"language": "en"}
        saved.unlink()
    if os.environ.get(REPORT_VAR):
        Path(os.environ[REPORT_VAR]).write_text(json.dumps({"real_home": str(real_home), **seen}), encoding="utf-8")


def _plant_personal_state(home: Path) -> None:
    """What a learner who picked English leaves in their home, plus an IPython startup file
    that would switch every kernel to English."""
    config = home / ".config" / "gpt2-course"
    config.mkdir(parents=True)
    (config / "settings.json").write_text('{"language": "en"}\n', encoding="utf-8")
    (config / "learner-id").write_text(PLANTED_LEARNER + "\n", encoding="utf-8")
    workspaces = home / ".jupyter" / "lab" / "workspaces"
    workspaces.mkdir(parents=True)
    stale = {"data": {"layout-restorer:data": {"main": {"current": "notebook:gone.ipynb"}}},
             "metadata": {"id": "default"}}
    (workspaces / "default-37a8.jupyterlab-workspace").write_text(json.dumps(stale), encoding="utf-8")
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-english.py").write_text('import os\nos.environ["GPT2_COURSE_LANG"] = "en"\n', encoding="utf-8")


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its content and mtime (ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _shell_environment(fake_home: Path) -> dict[str, str]:
    """This environment as a fresh shell of the fake home's owner would have it: the
    throw-away variables tests/conftest.py set are gone, HOME is the fake home, and the
    person's own choices (English, a learner id) are set."""
    conftest_set = ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "JUPYTER_CONFIG_DIR",
                    "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTERLAB_SETTINGS_DIR",
                    "JUPYTERLAB_WORKSPACES_DIR", "IPYTHONDIR", REAL_HOME_VAR)
    env = {name: value for name, value in os.environ.items() if name not in conftest_set}
    return {**env, "HOME": str(fake_home), "GPT2_COURSE_LANG": "en", "QUIZ_LEARNER": PLANTED_LEARNER}


def test_a_person_s_saved_state_changes_nothing_and_stays_untouched(tmp_path):
    """With English and another learner saved in (and exported by) the person's home, the probe
    above still sees Chinese and its own learner, and the home's files keep content and mtime."""
    fake_home = tmp_path / "real-home"
    _plant_personal_state(fake_home)
    before = _snapshot(fake_home)
    report = tmp_path / "report.json"
    probe = f"{Path(__file__).relative_to(REPO)}::test_kernels_and_subprocesses_see_only_the_throwaway_state"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", probe, "-n", "1", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'basetemp'}"],
        cwd=REPO, env={**_shell_environment(fake_home), REPORT_VAR: str(report)},
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    seen = json.loads(report.read_text(encoding="utf-8"))
    assert seen["real_home"] == str(fake_home)
    for where in ("kernel", "subprocess"):
        assert (seen[where]["lang"], seen[where]["learner"] != PLANTED_LEARNER) == ("zh", True), seen[where]
    assert _snapshot(fake_home) == before, "a test changed files in the real home"
