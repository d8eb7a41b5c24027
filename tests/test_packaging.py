"""One list of dependencies for Binder and CI; the commands README promises exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def test_every_runtime_requirement_is_pinned_exactly():
    for line in requirement_lines(ROOT / "requirements.txt"):
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line), f"not pinned with ==: {line}"


def test_torch_is_the_cpu_build():
    pins = dict(line.split("==") for line in requirement_lines(ROOT / "requirements.txt"))
    assert pins["torch"].endswith("+cpu"), "Binder must not pull the multi-GB CUDA build"


def test_binder_installs_exactly_the_ci_list():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-r requirements.txt" in pip_section
    assert "-e ." in pip_section
    # Anything else in the pip section would be a second, drifting list (the CPU index is a source, not a package).
    others = [e for e in pip_section if e not in ("-r requirements.txt", "-e .") and not e.startswith("--extra-index-url")]
    assert others == [], f"packages listed outside requirements.txt: {others}"
    assert any("download.pytorch.org/whl/cpu" in e for e in pip_section)
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert set(conda) <= {"pip"} | {d for d in conda if d.startswith("python=")}, f"conda packages drift: {conda}"
    python = next(d for d in conda if d.startswith("python="))
    wheel_tag = "cp" + python.split("=")[1].replace(".", "")
    assert wheel_tag == "cp311", "the pinned torch wheel is built for CPython 3.11"


def test_ci_installs_the_same_list_plus_test_tools():
    dev = requirement_lines(ROOT / "requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -r requirements-dev.txt -e ." in makefile
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def test_binder_sets_up_the_offline_tokenizer():
    assert "python -m course.offline_tokenizer install" in (ROOT / "postBuild").read_text()
    assert "$(PY) -m course.offline_tokenizer install" in (ROOT / "Makefile").read_text()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must call `make test`"
    for command in ("make lab", "make test", "make release", "make autograde", "make feedback", "make export"):
        assert command in readme, f"README does not document `{command}`"
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "lab", "test", "test-fast", "check-notebooks", "bench", "release", "autograde",
                   "feedback", "export"):
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"Makefile has no `{target}` target"
