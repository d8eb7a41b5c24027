"""The instructor's side of the class loop, each step as the account that owns it.

    python -m hub.course release   SLUG      generate_assignment + release_assignment (as the instructor)
    python -m hub.course collect   SLUG      nbgrader collect (as the instructor)
    python -m hub.course autograde SLUG...   the sandboxed autograde (grader.commands.autograde) as root,
                                             on the instructor's course root; files handed back to them
    python -m hub.course feedback  SLUG      generate_feedback + release_feedback (as the instructor)
    python -m hub.course loop      SLUG      collect, autograde, feedback in one go
    (option --state-dir DIR on each: the hub's state folder, default /srv/gpt2-course)

Everything but autograde runs nbgrader's own commands with the instructor's uid, groups, home
and Jupyter config, from the students' environment, exactly as the instructor's terminal in
JupyterHub would. Autograde runs as root because the grading sandbox needs it (bubblewrap as
``nobody``, cgroups: grader/sandbox/__init__.py); it grades with this repository's ``grader`` code and
``.venv``, then gives every file it wrote in the course back to the instructor. Formgrader (in
the instructor's JupyterLab on the hub) shows the same gradebook.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

from .site import Site


class CourseError(RuntimeError):
    pass


def is_instructor(site: Site, user: str) -> bool:
    try:
        return user in grp.getgrnam(site.instructors_group).gr_mem
    except KeyError:
        return False


def jupyter_config_path(site: Site, user: str) -> str:
    """JUPYTER_CONFIG_PATH of an account: the instructor's extra config first."""
    paths = [site.jupyter_config_dir]
    if is_instructor(site, user):
        paths.insert(0, site.instructor_config_dir)
    return os.pathsep.join(str(p) for p in paths)


def account_env(site: Site, user: str) -> dict[str, str]:
    """The environment an account's processes get (its single-user server, or a command run for it)."""
    account = pwd.getpwnam(user)
    env = {
        "HOME": account.pw_dir,
        "USER": user,
        "LOGNAME": user,
        "SHELL": account.pw_shell or "/bin/bash",
        "PATH": os.pathsep.join([str(site.env_dir / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "JUPYTER_CONFIG_PATH": jupyter_config_path(site, user),
        "VIRTUAL_ENV": str(site.env_dir),
    }
    paths = []
    if site.ngshare_port:
        paths.append(str(site.ngshare_path))  # ngshare_exchange (installed apart: hub/ngshare.py)
    if is_instructor(site, user):
        paths.append(str(site.course_repo(user)))  # grader.* for Formgrader (the course's config, its policy)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update({k: str(v) for k, v in site.extra_env.items()})
    return env


def as_account(site: Site, user: str, command: list[str], cwd: Path | None = None, check: bool = False,
               input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` with ``user``'s uid, gid and groups (root only); ``env`` adds variables."""
    account = pwd.getpwnam(user)
    full = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups", "--", *command]
    result = subprocess.run(full, cwd=cwd or account.pw_dir, env={**account_env(site, user), **(env or {})},
                            text=True, capture_output=True, input=input)
    if check and result.returncode != 0:
        raise CourseError(f"{user}: {' '.join(command)} failed (exit status {result.returncode}):\n"
                          f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def nbgrader_as(site: Site, user: str, args: list[str], cwd: Path | None = None,
                check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` as ``user``; an instructor's run starts in their course root."""
    if cwd is None and is_instructor(site, user):
        cwd = site.course_root(user)
    return as_account(site, user, [str(site.env_dir / "bin" / "nbgrader"), *args], cwd=cwd, check=check, env=env)


def instructor_of(site: Site) -> str:
    try:
        members = grp.getgrnam(site.instructors_group).gr_mem
    except KeyError:
        members = []
    if len(members) != 1:
        raise CourseError(f"expected one account in {site.instructors_group}, found {members or 'none'}; "
                          "run `make hub-users ROSTER=...` first")
    return members[0]


def release(site: Site, slug: str, instructor: str | None = None) -> None:
    instructor = instructor or instructor_of(site)
    # Post-quiz answers the instructor saved while trying the source notebook are never released.
    stray = site.course_root(instructor) / "source" / slug / "quiz-answers.json"
    if stray.is_file() or stray.is_symlink():
        stray.unlink()
    nbgrader_as(site, instructor, ["generate_assignment", slug, "--force"], check=True)
    nbgrader_as(site, instructor, ["release_assignment", slug, "--force"], check=True)
    inbound = site.exchange_root / site.course_id / "inbound"
    if inbound.is_dir() and not inbound.is_symlink():
        # Sticky: a student may add a submission, never rename or delete a classmate's.
        os.chmod(inbound, os.stat(inbound).st_mode | stat.S_ISVTX)
    print(f"released {slug} into {site.exchange_root / site.course_id / 'outbound' / slug}")


def collect(site: Site, slug: str, instructor: str | None = None) -> str:
    instructor = instructor or instructor_of(site)
    result = nbgrader_as(site, instructor, ["collect", slug, "--update"], check=True)
    return result.stdout + result.stderr


def give_back(site: Site, instructor: str) -> None:
    """Every file under the instructor's course copy owned by them again (autograde ran as root)."""
    account = pwd.getpwnam(instructor)
    for folder, dirs, files in os.walk(site.course_repo(instructor)):
        for name in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
            os.lchown(name, account.pw_uid, account.pw_gid)


def autograde(site: Site, slugs: list[str], instructor: str | None = None, quiet: bool = False,
              env: dict | None = None, force: bool = False) -> dict:
    """The sandboxed autograde on the instructor's course root (root only)."""
    from grader import commands

    if os.geteuid() != 0:
        raise CourseError("autograde runs as root: the grading sandbox (bubblewrap, cgroups) needs it")
    instructor = instructor or instructor_of(site)
    try:
        return commands.autograde(slugs, course_root=site.course_root(instructor), quiet=quiet, env=env, force=force)
    finally:
        give_back(site, instructor)


def feedback(site: Site, slug: str, instructor: str | None = None) -> None:
    instructor = instructor or instructor_of(site)
    nbgrader_as(site, instructor, ["generate_feedback", slug, "--force"], check=True)
    nbgrader_as(site, instructor, ["release_feedback", slug], check=True)
    private_feedback(site, slug, instructor)
    print(f"feedback for {slug} released; students fetch it from the Assignment List")


def private_feedback(site: Site, slug: str, instructor: str) -> list[Path]:
    """Each released feedback page readable by its own student (and the instructor) only.

    nbgrader releases ``<exchange>/<course>/feedback/<hash>.html`` world-readable, the hash of a
    secret only the student and the instructor hold being the only lock; a name that leaks (a
    log, a shared screen) would open it to anyone. Root gives each page to its student, group the
    instructor's, mode 0640."""
    from nbgrader.utils import notebook_hash

    if site.ngshare_port:
        return []
    released = site.exchange_root / site.course_id / "feedback"
    group = pwd.getpwnam(instructor).pw_gid
    done = []
    for page in sorted((site.course_root(instructor) / "feedback").glob(f"*/{slug}/*.html")):
        student = page.parent.parent.name
        try:
            secret = (page.parent / "submission_secret.txt").read_text()
            uid = pwd.getpwnam(student).pw_uid
        except (OSError, KeyError):
            continue
        target = released / f"{notebook_hash(secret=secret, notebook_id=page.stem)}.html"
        if target.is_file() and not target.is_symlink():
            os.chown(target, uid, group)
            os.chmod(target, 0o640)
            done.append(target)
    return done


def main(argv: list[str] | None = None) -> int:
    import argparse

    from grader.commands import CourseError as GraderError

    parser = argparse.ArgumentParser(prog="python -m hub.course", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("release", "collect", "autograde", "feedback", "loop"))
    parser.add_argument("slugs", nargs="+")
    parser.add_argument("--state-dir", type=Path, default=Site().state_dir)
    parser.add_argument("--force", action="store_true", help="autograde: regrade unchanged submissions too")
    args = parser.parse_args(argv)
    site = Site.load(args.state_dir)
    try:
        for slug in args.slugs:
            if args.command == "release":
                release(site, slug)
            if args.command in ("collect", "loop"):
                print(collect(site, slug))
        if args.command in ("autograde", "loop"):
            autograde(site, args.slugs, force=args.force)
        if args.command in ("feedback", "loop"):
            for slug in args.slugs:
                feedback(site, slug)
    except (CourseError, GraderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
