"""The students' Python environment: what every single-user server and its kernels run.

    python -m hub.env [TARGET]     build or refresh it (default /opt/gpt2-course/env)

The repository's ``.venv`` is the instructor's: it may sit where other accounts cannot read
(a repository under /root, or a Python under /root/.pyenv), and its course packages are an
editable install that points into the repository, ``grader/`` included. So the hub gets its
own environment, built like ``make setup`` builds ``.venv`` but:

- from a Python interpreter that an unprivileged account can run (checked by running it as
  ``nobody``);
- with the course installed as a wheel (``pip install .``: gpt2ref, quiz and course only,
  exactly what ``tests/test_student_package.py`` proves free of solutions and hidden tests);
- with ``requirements-hub.txt`` added (``jupyterhub-singleuser`` must match the hub);
- with the students' Jupyter settings (``course.jupyter_setup``: no Formgrader, Create
  Assignment or Course List) and GPT-2's tokenizer files (``course.offline_tokenizer``);
- readable (never writable) by every account.

It is rebuilt only when the requirement files, pyproject.toml or the course packages change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import bootstrap
from course.cli import exits_on

from .site import REPO_DIR

STAMP = ".gpt2-course-hub-env"
INPUTS = ("requirements.txt", "requirements-hub.txt", "pyproject.toml")
PACKAGES = ("gpt2ref", "quiz", "course")
NOBODY = 65534


class EnvError(RuntimeError):
    pass


def inputs_hash(repo: Path = REPO_DIR) -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        digest.update(name.encode() + b"\0" + (repo / name).read_bytes())
    for package in PACKAGES:
        for path in sorted((repo / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def runs_as_nobody(command: list[str]) -> bool:
    """Whether ``command`` succeeds for an unprivileged account (root only; True elsewhere)."""
    if os.geteuid() != 0:
        return True
    result = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command],
                            capture_output=True, cwd="/")
    return result.returncode == 0


def readable_python() -> str:
    """A Python 3.11-3.13 with venv that other accounts can run."""
    candidates = [sys.executable, getattr(sys, "_base_executable", ""), *(shutil.which(f"python3.{minor}") or ""
                  for minor in (11, 12, 13)), *(f"/usr/bin/python3.{minor}" for minor in (11, 12, 13))]
    seen = set()
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        real = os.path.realpath(candidate)
        if real in seen:
            continue
        seen.add(real)
        # What root sees; an account that cannot read the install may still start the binary and
        # silently fall back to another prefix (seen with a pyenv Python under /root), so compare.
        probe = ("import sys, venv, ensurepip; print(sys.base_prefix); "
                 "ok = (3, 11) <= sys.version_info[:2] <= (3, 13) and sys.prefix == sys.base_prefix")
        as_root = subprocess.run([real, "-c", probe + "; sys.exit(0 if ok else 1)"], capture_output=True,
                                 text=True, cwd="/")
        if as_root.returncode != 0:
            continue
        same = f"; sys.exit(0 if ok and sys.base_prefix == {as_root.stdout.strip()!r} else 1)"
        if runs_as_nobody([real, "-c", probe + same]):
            return real
    raise EnvError("no Python 3.11-3.13 with the venv module that other accounts can run; on Debian/Ubuntu: "
                   "apt-get install python3 python3-venv")


def is_current(target: Path) -> bool:
    stamp = target / STAMP
    return stamp.is_file() and stamp.read_text().strip() == inputs_hash() and (target / "bin" / "jupyterhub-singleuser").exists()


def _run(step: str, command: list[str], env: dict | None = None) -> None:
    print(f"gpt2-course hub env: {step}", flush=True)
    result = subprocess.run(command, cwd=REPO_DIR, env=env)
    if result.returncode != 0:
        raise EnvError(f"step '{step}' failed (exit status {result.returncode}): {' '.join(command)}")


def build(target: Path, force: bool = False) -> Path:
    """Create or refresh the environment at ``target``; return its Python."""
    target = Path(target).absolute()
    python = target / "bin" / "python"
    if not force and is_current(target):
        return python
    interpreter = readable_python()
    if not python.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _run(f"create {target} with {interpreter}", [interpreter, "-m", "venv", "--clear", str(target)])
    env = dict(os.environ, PATH=f"{target / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", VIRTUAL_ENV=str(target))
    env.pop("PYTHONPATH", None)
    bootstrap.install_torch(python, bootstrap.torch_pin((REPO_DIR / "requirements.txt").read_text()))
    _run("install the pinned packages", [str(python), "-m", "pip", "install", "--disable-pip-version-check",
                                         "-r", "requirements.txt", "-r", "requirements-hub.txt"], env)
    # A wheel of the course (not editable): the environment never points into the repository.
    _run("install the course packages", [str(python), "-m", "pip", "install", "--no-deps", "--force-reinstall",
                                         "--disable-pip-version-check", str(REPO_DIR)], env)
    _run("install GPT-2's tokenizer files", [str(python), "-m", "course.offline_tokenizer", "install"], env)
    _run("students' Jupyter settings", [str(python), "-m", "course.jupyter_setup"], env)
    make_readable(target)
    base = subprocess.run([str(python), "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                          text=True, cwd="/").stdout.strip()
    check = f"import sys, torch, nbgrader, jupyterhub, gpt2ref, quiz, course; sys.exit(sys.base_prefix != {base!r})"
    if not runs_as_nobody([str(python), "-c", check]):
        raise EnvError(f"{target} was built but an unprivileged account cannot import the course from it; "
                       "check the permissions of its parent folders")
    (target / STAMP).write_text(inputs_hash() + "\n")
    return python


def make_readable(root: Path) -> None:
    """go+rX on everything under ``root`` (never outside it)."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                continue
            extra = stat.S_IRGRP | stat.S_IROTH
            if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                extra |= stat.S_IXGRP | stat.S_IXOTH
            if mode & extra != extra:
                os.chmod(path, mode | extra)
    os.chmod(root, os.stat(root).st_mode | 0o055)


@exits_on(EnvError, bootstrap.BootstrapError)
def main(argv: list[str] | None = None) -> int:
    import argparse

    from .site import Site

    parser = argparse.ArgumentParser(prog="python -m hub.env", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", type=Path, default=Site().env_dir)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    print(build(args.target, args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
