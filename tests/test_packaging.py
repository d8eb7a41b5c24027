"""One list of dependencies for Binder and CI; the commands README promises exist; the list
installs on Linux, macOS and Windows; bootstrap.py (behind `make setup`) decides correctly."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def load_bootstrap():
    """bootstrap.py is a stand-alone script at the repository root, not part of the package."""
    spec = importlib.util.spec_from_file_location("bootstrap", ROOT / "bootstrap.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bootstrap = load_bootstrap()


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


def pinned_versions() -> dict[str, str]:
    return dict(line.split("==") for line in requirement_lines(ROOT / "requirements.txt"))


def test_torch_pin_has_no_local_label():
    # `+cpu` exists only on PyTorch's own index: pip on a stock laptop (and every macOS or
    # Windows machine) cannot resolve it. The CPU build is chosen by where torch is installed from.
    pins = pinned_versions()
    assert re.fullmatch(r"\d+(\.\d+)*", pins["torch"]), f"torch pin must be a plain release: {pins['torch']}"
    assert not [name for name, version in pins.items() if "+" in version]


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
    version = tuple(int(part) for part in python.split("=")[1].split("."))
    assert bootstrap.python_version_problem(version) is None, f"Binder's {python} is outside what the pins support"


def test_supported_pythons_agree():
    # numpy 2.4 has no wheels for 3.10: requires-python, bootstrap.py's check and README say the same.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    oldest = ".".join(map(str, bootstrap.OLDEST_PYTHON))
    assert pyproject["project"]["requires-python"] == f">={oldest}"
    newest = ".".join(map(str, bootstrap.NEWEST_PYTHON))
    assert f"Python {oldest}–{newest}" in (ROOT / "README.md").read_text()


def test_ci_installs_the_same_list_plus_test_tools():
    dev = requirement_lines(ROOT / "requirements-dev.txt")
    assert dev[0] == "-r requirements.txt"
    assert bootstrap.PINNED_INSTALL_ARGS == ["install", "-r", "requirements-dev.txt", "-e", "."]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def test_binder_sets_up_the_offline_tokenizer():
    assert "python -m course.offline_tokenizer install" in (ROOT / "postBuild").read_text()
    assert bootstrap.TOKENIZER_ARGS == ["-m", "course.offline_tokenizer", "install"]


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


def test_make_and_windows_users_run_the_same_bootstrap():
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    for target in bootstrap.COMMANDS:
        recipe = re.search(rf"^{re.escape(target)}:.*\n\t(.+)$", makefile, re.M)
        assert recipe and recipe.group(1) == f"$(PYTHON) -m bootstrap {target}", f"`make {target}` must call bootstrap"
    for target in ("check-notebooks", "bench", "notebooks", "release", "autograde", "feedback", "export"):
        assert re.search(rf"^{re.escape(target)}: setup$", makefile, re.M), f"`make {target}` must depend on setup"
    for command in ("py -m bootstrap lab", "py -m bootstrap test"):
        assert command in readme, f"README does not give Windows users `{command}`"


# --- bootstrap.py: the decisions behind `make setup` -------------------------------------------

PIN = pinned_versions()["torch"]


def test_linux_takes_torch_from_the_cpu_index_when_it_answers():
    args = bootstrap.torch_install_args("linux", True, PIN)
    assert args[args.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert args[-1] == f"torch=={PIN}"
    assert "--no-deps" in args, "torch goes in alone; its dependencies come with the pinned list"
    assert int(args[args.index("--retries") + 1]) <= 2


def test_unreachable_cpu_index_is_left_out():
    # An unreachable index costs pip ~8.6 s of red retry warnings per package looked up.
    args = bootstrap.torch_install_args("linux", False, PIN)
    assert not [a for a in args if "index" in a or "download.pytorch.org" in a]
    assert args[-1] == f"torch=={PIN}"


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_take_torch_from_pypi(platform):
    # PyPI's macOS and Windows wheels are CPU builds already.
    args = bootstrap.torch_install_args(platform, True, PIN)
    assert not [a for a in args if "index" in a]
    assert args[-1] == f"torch=={PIN}"


def test_torch_version_is_read_from_requirements_only():
    assert bootstrap.torch_pin((ROOT / "requirements.txt").read_text()) == PIN
    assert PIN not in (ROOT / "bootstrap.py").read_text(), "bootstrap.py must not repeat the torch version"
    with pytest.raises(bootstrap.BootstrapError, match="torch=="):
        bootstrap.torch_pin("numpy==2.4.6\n")


def test_a_local_cpu_build_satisfies_the_pin():
    assert bootstrap.same_release("2.13.0+cpu", "2.13.0")
    assert bootstrap.same_release("2.13.0", "2.13.0")
    assert not bootstrap.same_release("2.12.1+cpu", "2.13.0")
    assert not bootstrap.same_release(None, "2.13.0")


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 12, 7), (3, 13, 1)])
def test_supported_pythons_pass_the_check(version):
    assert bootstrap.python_version_problem(version) is None


@pytest.mark.parametrize("version, words", [((3, 10, 13), "too old"), ((3, 14, 0), "newer than")])
def test_unsupported_python_is_told_the_fix(version, words):
    message = bootstrap.python_version_problem(version, "lab")
    assert words in message
    assert ".".join(map(str, version)) in message
    for fix in ("python3.11 -m bootstrap lab", "py -3.13 -m bootstrap lab", "make lab PYTHON=python3.11"):
        assert fix in message


@pytest.mark.parametrize("system, machine, mac_release", [
    ("darwin", "x86_64", "14.5"), ("darwin", "arm64", "13.6"), ("win32", "ARM64", ""),
])
def test_machines_without_torch_wheels_are_told_before_installing(system, machine, mac_release):
    assert "Binder" in bootstrap.platform_problem(system, machine, mac_release)


@pytest.mark.parametrize("system, machine, mac_release", [
    ("linux", "x86_64", ""), ("linux", "aarch64", ""), ("darwin", "arm64", "14.0"), ("win32", "AMD64", ""),
])
def test_machines_with_torch_wheels_pass(system, machine, mac_release):
    assert bootstrap.platform_problem(system, machine, mac_release) is None


def test_old_python_gets_a_message_not_a_traceback():
    # What `python3.10 -m bootstrap setup` does, without needing a Python 3.10 on the machine.
    code = "import sys; sys.version_info = (3, 10, 13, 'final', 0); import bootstrap; sys.exit(bootstrap.main(['setup']))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Python 3.10.13 is too old" in result.stderr
    assert "Traceback" not in result.stderr


def copy_install_inputs(destination: Path) -> None:
    for name in bootstrap.INSTALL_INPUTS:
        (destination / name).write_bytes((ROOT / name).read_bytes())


def test_changed_requirements_trigger_a_reinstall(tmp_path):
    copy_install_inputs(tmp_path)
    venv_dir = tmp_path / ".venv"
    venv_dir.mkdir()
    digest = bootstrap.install_inputs_hash(tmp_path)
    assert bootstrap.needs_install(venv_dir, digest), "no stamp yet: install"
    bootstrap.write_stamp(venv_dir, digest)
    assert not bootstrap.needs_install(venv_dir, bootstrap.install_inputs_hash(tmp_path))
    for name in bootstrap.INSTALL_INPUTS:
        path = tmp_path / name
        original = path.read_text()
        path.write_text(original + "\n# changed\n")
        assert bootstrap.needs_install(venv_dir, bootstrap.install_inputs_hash(tmp_path)), f"{name} changed"
        path.write_text(original)
    assert not bootstrap.needs_install(venv_dir, bootstrap.install_inputs_hash(tmp_path))


def test_failed_step_says_which_and_how_to_retry():
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    with pytest.raises(bootstrap.BootstrapError) as error:
        bootstrap.run_step("install the pinned packages", failing)
    message = str(error.value)
    assert "step 'install the pinned packages' failed (exit status 3)" in message
    assert bootstrap.format_command(failing) in message
    assert "-m bootstrap setup" in message or "make setup" in message


def test_venv_programs_on_each_platform():
    venv_dir = Path("/course/.venv")
    assert bootstrap.venv_executable(venv_dir, "python", windows=True) == venv_dir / "Scripts" / "python.exe"
    assert bootstrap.venv_executable(venv_dir, "jupyter", windows=False) == venv_dir / "bin" / "jupyter"


def test_children_find_the_venv_programs_first():
    env = bootstrap.child_environment(ROOT / ".venv")
    assert env["PATH"].split(os.pathsep)[0] == str(bootstrap.venv_bin(ROOT / ".venv"))
    assert env["VIRTUAL_ENV"] == str(ROOT / ".venv")


def test_lab_and_test_commands():
    venv_dir = ROOT / ".venv"
    lab = bootstrap.lab_command(venv_dir, as_root=False)
    assert lab[1:] == ["lab", "--notebook-dir=lessons", "--LabApp.default_url=/lab/tree/00-start-here.ipynb"]
    assert (bootstrap.ROOT / "lessons" / "00-start-here.ipynb").is_file()
    assert bootstrap.lab_command(venv_dir, as_root=True)[-1] == "--allow-root"
    python = bootstrap.venv_executable(venv_dir, "python")
    assert bootstrap.pytest_command(python, fast=False, extra=["-k", "bpe"])[1:] == ["-m", "pytest", "-n", "auto", "-k", "bpe"]
    fast = bootstrap.pytest_command(python, fast=True, extra=[])
    assert fast[1:] == ["-m", "pytest", "-m", "not slow and not browser"]


def test_reachability_probe_is_quick_and_honest():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        open_port = server.getsockname()[1]
        assert bootstrap.can_connect("127.0.0.1", open_port, timeout=3)
    start = time.monotonic()
    assert not bootstrap.can_connect("127.0.0.1", open_port, timeout=3), "nothing listens there any more"
    assert not bootstrap.can_connect("no-such-host.invalid", 443, timeout=1)
    assert time.monotonic() - start < 5


# --- requirements.txt resolves for the platforms students use ---------------------------------
# uv resolves for a target platform with that platform's environment markers (pip's
# `--platform` keeps the host's). It reads PyPI itself: network needed, and a failure fails.

PLATFORMS = {
    "linux": "x86_64-unknown-linux-gnu",
    "macos-arm64": "aarch64-apple-darwin",  # with MACOSX_DEPLOYMENT_TARGET=14.0, torch's macOS floor
    "windows": "x86_64-pc-windows-msvc",
}
UV_CACHE = ROOT / "build" / "uv-cache"


def uv_compile(requirements: Path, platform: str, python: str) -> subprocess.CompletedProcess:
    from uv import find_uv_bin

    env = {key: value for key, value in os.environ.items() if not key.startswith("UV_")}
    env["MACOSX_DEPLOYMENT_TARGET"] = "14.0"
    command = [
        find_uv_bin(), "pip", "compile", str(requirements),
        "--python-platform", platform, "--python-version", python,
        "--index-url", "https://pypi.org/simple", "--cache-dir", str(UV_CACHE),
        "--no-config", "--no-python-downloads", "--no-header", "--no-annotate", "--quiet",
    ]
    return subprocess.run(command, cwd=requirements.parent, env=env, capture_output=True, text=True, timeout=600)


def resolved_versions(output: str) -> dict[str, str]:
    pins = [line.strip().split("==", 1) for line in output.splitlines() if "==" in line]
    return {name.lower(): version for name, version in pins}


@pytest.mark.slow
@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
@pytest.mark.parametrize("system", sorted(PLATFORMS))
def test_requirements_resolve_on_every_platform(system, python):
    result = uv_compile(ROOT / "requirements.txt", PLATFORMS[system], python)
    assert result.returncode == 0, f"requirements.txt does not resolve for {system} / Python {python}:\n{result.stderr}"
    versions = resolved_versions(result.stdout)
    assert versions["torch"] == PIN
    assert not {name: v for name, v in versions.items() if "+" in v}, "a local version label cannot come from PyPI"
    if system == "linux":
        # Why bootstrap.py and Binder install torch from PyTorch's CPU index on Linux.
        assert any(name.startswith("nvidia-") for name in versions), "PyPI's Linux torch is the CUDA build"


@pytest.mark.slow
def test_a_cpu_local_label_does_not_resolve_on_windows(tmp_path):
    # The pin this repository used to have: proof that the check above can fail.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"torch=={PIN}+cpu\n")
    result = uv_compile(requirements, PLATFORMS["windows"], "3.11")
    assert result.returncode != 0
    assert f"torch=={PIN}+cpu" in result.stderr
