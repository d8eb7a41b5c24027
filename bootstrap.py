"""Build the course's virtual environment and run the course from it, on Linux, macOS and Windows.

    python -m bootstrap setup        create .venv/ and install the pinned packages (when they changed)
    python -m bootstrap lab          setup, then JupyterLab on lessons/
    python -m bootstrap test         setup, then the whole test suite (extra arguments go to pytest)
    python -m bootstrap test-fast    setup, then the quick subset (no slow or browser tests)

Run it from the repository root with Python 3.11, 3.12 or 3.13 (on Windows: ``py -m bootstrap lab``).
The Makefile's ``setup``, ``lab``, ``test`` and ``test-fast`` targets call this module, so
``make lab`` and ``py -m bootstrap lab`` do the same thing.

torch is installed first, on its own: on Linux from PyTorch's CPU index (PyPI's Linux wheel
pulls several GB of CUDA libraries that a laptop cannot use), on macOS and Windows from PyPI,
whose wheels there are CPU builds. Everything else comes from ``requirements-dev.txt``.

Standard library only: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
import venv
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP_NAME = ".installed"
# A change to any of these files means the environment must be installed again.
INSTALL_INPUTS = ("requirements.txt", "requirements-dev.txt", "requirements-hub.txt", "pyproject.toml")
OLDEST_PYTHON = (3, 11)
NEWEST_PYTHON = (3, 13)
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT_S = 3.0
# The torch install is the one call that may touch PyTorch's index: fail fast, not after minutes.
TORCH_PIP_OPTIONS = ["--retries", "1", "--timeout", "15"]
# After torch: the pinned list plus test tools, the course itself (editable), then GPT-2's tokenizer files.
PINNED_INSTALL_ARGS = ["install", "-r", "requirements-dev.txt", "-e", "."]
TOKENIZER_ARGS = ["-m", "course.offline_tokenizer", "install"]
# Students' Jupyter settings in the venv (widget state saved, instructor tools off): every setup.
JUPYTER_SETUP_ARGS = ["-m", "course.jupyter_setup"]
COMMANDS = ("setup", "lab", "test", "test-fast")
HOME_URL = "--LabApp.default_url=/lab/tree/00-start-here.ipynb"


class BootstrapError(Exception):
    """A problem the user can fix; main() prints the message without a traceback."""


def say(message: str) -> None:
    print(f"gpt2-course: {message}", flush=True)


# --- the Python that runs this file ----------------------------------------------------------


def python_version_problem(version: tuple[int, ...], command: str = "setup") -> str | None:
    """Why this Python cannot build the course's environment, with the fix; None when it can."""
    if OLDEST_PYTHON <= tuple(version[:2]) <= NEWEST_PYTHON:
        return None
    found = ".".join(str(part) for part in version[:3])
    if tuple(version[:2]) < OLDEST_PYTHON:
        why = f"Python {found} is too old: numpy 2.4 and other pinned packages need Python 3.11 or newer."
    else:
        why = f"Python {found} is newer than the pinned packages support (Python 3.11 to 3.13)."
    return (
        f"{why}\n"
        "Install Python 3.11, 3.12 or 3.13 and run this with it, for example:\n"
        f"    python3.11 -m bootstrap {command}     (Linux, macOS)\n"
        f"    py -3.13 -m bootstrap {command}       (Windows)\n"
        f"    make {command} PYTHON=python3.11      (with make)"
    )


def platform_problem(system: str, machine: str, mac_release: str = "") -> str | None:
    """Why PyTorch's wheels cannot install on this machine (``system`` is a ``sys.platform`` value)."""
    machine = machine.lower()
    if system == "darwin" and machine == "x86_64":
        return ("PyTorch publishes no macOS wheels for Intel (x86_64) Python. On an Apple silicon Mac, "
                "use a native arm64 Python rather than one running under Rosetta; on an Intel Mac, use Binder.")
    if system == "darwin" and mac_release and int(mac_release.split(".")[0]) < 14:
        return f"PyTorch's macOS wheels need macOS 14 or newer (this is macOS {mac_release}); update macOS or use Binder."
    if system == "win32" and machine in ("arm64", "aarch64"):
        return "PyTorch publishes no wheels for Windows on ARM; use Binder (see README.md)."
    return None


def format_command(command: list[str]) -> str:
    """A command line the user can paste into their shell."""
    return subprocess.list2cmdline(command) if os.name == "nt" else shlex.join(command)


def rerun_hint(command: str) -> str:
    """The command the user typed to get here, as best we can tell."""
    if os.environ.get("MAKELEVEL"):
        return f"make {command}"
    python = "py" if os.name == "nt" else Path(sys.executable).name
    return f"{python} -m bootstrap {command}"


# --- the virtual environment -----------------------------------------------------------------


def venv_bin(venv_dir: Path, windows: bool = os.name == "nt") -> Path:
    return venv_dir / ("Scripts" if windows else "bin")


def venv_executable(venv_dir: Path, name: str, windows: bool = os.name == "nt") -> Path:
    """A program inside the venv: ``bin/python`` on POSIX, ``Scripts\\python.exe`` on Windows."""
    return venv_bin(venv_dir, windows) / (f"{name}.exe" if windows else name)


def child_environment(venv_dir: Path) -> dict[str, str]:
    """os.environ with the venv activated: its programs first on PATH (nbgrader runs `alembic`)."""
    env = dict(os.environ)
    env["PATH"] = str(venv_bin(venv_dir)) + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = str(venv_dir)
    env.pop("PYTHONHOME", None)
    return env


def create_venv(venv_dir: Path) -> None:
    say(f"creating {venv_dir.name}/ with Python {sys.version.split()[0]} ({sys.executable})")
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    except (OSError, subprocess.CalledProcessError) as error:
        shutil.rmtree(venv_dir, ignore_errors=True)
        raise BootstrapError(
            f"could not create {venv_dir}: {error}\n"
            "On Debian or Ubuntu, install the venv module first "
            f"(sudo apt install python{sys.version_info.major}.{sys.version_info.minor}-venv)."
        ) from error


# --- when to install -------------------------------------------------------------------------


def install_inputs_hash(root: Path) -> str:
    """SHA-256 over the files that decide what gets installed."""
    digest = hashlib.sha256()
    for name in INSTALL_INPUTS:
        path = root / name
        if not path.is_file():
            raise BootstrapError(f"{path} is missing; run this from the repository root of a full checkout")
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def needs_install(venv_dir: Path, inputs_hash: str) -> bool:
    """True unless the last successful setup installed exactly these inputs."""
    stamp = venv_dir / STAMP_NAME
    return not stamp.is_file() or stamp.read_text().strip() != inputs_hash


def write_stamp(venv_dir: Path, inputs_hash: str) -> None:
    (venv_dir / STAMP_NAME).write_text(inputs_hash + "\n")


# --- torch -----------------------------------------------------------------------------------


def torch_pin(requirements_text: str) -> str:
    """The version in ``torch==X`` from requirements.txt (the only place it is written)."""
    match = re.search(r"^\s*torch\s*==\s*([^\s#;]+)", requirements_text, re.M)
    if not match:
        raise BootstrapError("requirements.txt has no `torch==<version>` line")
    return match.group(1)


def torch_install_args(system: str, index_reachable: bool, pin: str) -> list[str]:
    """pip arguments that install torch alone: the CPU build from PyTorch's index on Linux.

    ``system`` is a ``sys.platform`` value. PyTorch's CPU index satisfies ``torch==X``
    with ``X+cpu``. When it cannot be reached, pip's configured sources are used as they are.
    Dependencies come later, with the rest of the pinned list.
    """
    args = ["install", "--no-deps", *TORCH_PIP_OPTIONS]
    if system.startswith("linux") and index_reachable:
        args += ["--index-url", CPU_INDEX]
    return args + [f"torch=={pin}"]


def proxy_in_use(host: str) -> bool:
    """pip would reach ``host`` through an HTTPS proxy, so a direct connection says nothing."""
    return "https" in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)


def can_connect(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to host:port opens within ``timeout`` seconds (DNS included)."""
    opened = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                opened.append(True)
        except OSError:
            pass

    # getaddrinfo has no timeout of its own; a daemon thread bounds the whole probe.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(opened)


def cpu_index_reachable() -> bool:
    host = urlsplit(CPU_INDEX).hostname or ""
    return proxy_in_use(host) or can_connect(host)


def installed_version(python: Path, distribution: str) -> str | None:
    """The version of ``distribution`` installed for ``python``, or None."""
    code = (
        "import importlib.metadata as m, sys\n"
        "try:\n    print(m.version(sys.argv[1]))\n"
        "except m.PackageNotFoundError:\n    pass\n"
    )
    result = subprocess.run([str(python), "-c", code, distribution], capture_output=True, text=True)
    return result.stdout.strip() or None


def same_release(installed: str | None, pin: str) -> bool:
    """``X+cpu`` satisfies ``==X``, as it does for pip."""
    return installed is not None and installed.split("+", 1)[0] == pin.split("+", 1)[0]


def install_torch(python: Path, pin: str) -> None:
    installed = installed_version(python, "torch")
    if same_release(installed, pin):
        say(f"torch {installed} is already installed")
        return
    on_linux = sys.platform.startswith("linux")
    reachable = on_linux and cpu_index_reachable()
    if reachable:
        say(f"installing torch {pin}, the CPU build, from PyTorch's CPU index")
    elif on_linux:
        say(f"PyTorch's CPU index ({CPU_INDEX}) is unreachable; torch {pin} comes from the configured pip sources.")
    else:
        say(f"installing torch {pin} from the configured pip sources (PyPI's wheels here are CPU builds)")
    run_step("install torch", [str(python), "-m", "pip", *torch_install_args(sys.platform, reachable, pin)])


# --- setup -----------------------------------------------------------------------------------


def run_step(step: str, command: list[str], cwd: Path = ROOT) -> None:
    """Run one setup step; on failure say which step failed and how to retry."""
    try:
        returncode = subprocess.run(command, cwd=cwd, env=child_environment(VENV)).returncode
    except OSError as error:
        raise BootstrapError(f"step '{step}' could not start: {error}") from error
    if returncode != 0:
        raise BootstrapError(
            f"step '{step}' failed (exit status {returncode}); the messages above say why.\n"
            f"Retry the step alone:   {format_command(command)}\n"
            f"or the whole setup:     {rerun_hint('setup')}"
        )


def configure_jupyter(python: Path) -> None:
    """course.jupyter_setup in the venv; cheap and idempotent, so it runs on every setup."""
    run_step("configure Jupyter for students", [str(python), *JUPYTER_SETUP_ARGS])


def setup(command: str = "setup") -> Path:
    """Create and fill .venv/ if needed; return the venv's Python."""
    problem = python_version_problem(sys.version_info, command) or platform_problem(
        sys.platform, platform.machine(), platform.mac_ver()[0])
    if problem:
        raise BootstrapError(problem)
    python = venv_executable(VENV, "python")
    inputs_hash = install_inputs_hash(ROOT)
    if python.is_file() and not needs_install(VENV, inputs_hash):
        configure_jupyter(python)
        return python
    if not python.is_file():
        create_venv(VENV)
    else:
        say("requirements changed since the last setup: installing again")
    run_step("upgrade pip", [str(python), "-m", "pip", "install", "--upgrade", "pip"])
    install_torch(python, torch_pin((ROOT / "requirements.txt").read_text()))
    run_step("install the pinned packages", [str(python), "-m", "pip", *PINNED_INSTALL_ARGS])
    run_step("install GPT-2's tokenizer files", [str(python), *TOKENIZER_ARGS])
    configure_jupyter(python)
    write_stamp(VENV, inputs_hash)
    say(f"setup complete: {VENV}")
    return python


# --- lab and tests ---------------------------------------------------------------------------


def running_as_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def lab_command(venv_dir: Path, as_root: bool) -> list[str]:
    # Jupyter refuses to start as root (containers) unless told explicitly.
    # Opens on the course home (lessons/00-start-here.ipynb, written by `python -m quiz.home`).
    command = [str(venv_executable(venv_dir, "jupyter")), "lab", "--notebook-dir=lessons", HOME_URL]
    return command + ["--allow-root"] if as_root else command


def pytest_command(python: Path, fast: bool, extra: list[str]) -> list[str]:
    if fast:
        return [str(python), "-m", "pytest", "-m", "not slow and not browser", *extra]
    return [str(python), "-m", "pytest", "-n", "auto", *extra]


def hand_over(command: list[str]) -> int:
    """Run ``command`` in the foreground, as if the user had typed it, and return its exit status."""
    env = child_environment(VENV)
    if os.name == "posix":
        # Replacing this process lets Ctrl-C and the exit status belong to Jupyter or pytest alone.
        sys.stdout.flush()
        try:
            os.execve(command[0], command, env)
        except OSError as error:
            raise BootstrapError(f"could not start {command[0]}: {error}; run {rerun_hint('setup')}") from error
    try:
        child = subprocess.Popen(command, cwd=ROOT, env=env)
    except OSError as error:
        raise BootstrapError(f"could not start {command[0]}: {error}; run {rerun_hint('setup')}") from error
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got Ctrl-C too and decides when to stop


USAGE = """usage: python -m bootstrap {setup|lab|test|test-fast} [pytest arguments]
  setup      create .venv/ and install the pinned packages (only when they changed)
  lab        setup, then open the lessons in JupyterLab
  test       setup, then the whole test suite (what CI runs)
  test-fast  setup, then the quick subset (no notebook execution, nbgrader or browser)"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    command, extra = args[0], args[1:]
    if command in ("setup", "lab") and extra:
        print(f"`{command}` takes no arguments\n{USAGE}", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    try:
        python = setup(command)
        if command == "lab":
            return hand_over(lab_command(VENV, running_as_root()))
        if command in ("test", "test-fast"):
            return hand_over(pytest_command(python, command == "test-fast", extra))
        return 0
    except BootstrapError as error:
        print(f"gpt2-course: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ngpt2-course: interrupted; run the same command again to continue.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
