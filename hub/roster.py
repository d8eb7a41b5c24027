"""A class's accounts from a CSV roster: one system account per person, homes private (0700).

    python -m hub.roster ROSTER.csv [--instructor NAME] [--state-dir DIR]     (make hub-users ROSTER=...)

The CSV has a header row; ``username`` is required, the rest optional:

    username,role,first_name,last_name,email,password
    teacher,instructor,Ada,Lovelace,,
    s001,student,Alan,Turing,alan@example.org,

- ``role`` is ``student`` (default) or ``instructor``; ``--instructor NAME`` adds one more.
- An empty ``password`` gets a random one; every password set this run is written to
  ``<state_dir>/new-passwords.csv`` (root only, 0600) to hand out. Accounts that exist keep
  their password unless the CSV gives one.
- Everyone joins the course group (``gpt2-course``: the only accounts that can reach the
  exchange), and ``gpt2-course-students`` or ``gpt2-course-instructors``.
- The instructor gets the course, owned by them in ``~/gpt2-course/`` (0700): a copy of
  ``grader/`` (the lessons' authoring files, the course's code) and of ``nbgrader-course/``, the
  nbgrader course root (its configuration and source notebooks; the gradebook and submissions
  land there), and the students are added to its gradebook.
JupyterHub logs people in with these system accounts and passwords (PAMAuthenticator).
Run as root.
"""

from __future__ import annotations

import csv
import grp
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course.cli import exits_on

from .site import COURSE_PARTS, REPO_DIR, Site

USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Names and e-mail addresses go into the gradebook and from there into Formgrader's pages, above
# the student's notebook, where grader/orchestration/formgrader_csp.py trusts every <script>: no markup in them.
MARKUP = re.compile(r"[<>&\"`\x00-\x1f\x7f]")
ROLES = ("student", "instructor")
# Working data of a course that is never copied into a new instructor's copy of the course.
COURSE_IGNORE = ("submitted", "autograded", "feedback", "release", "downloaded", "intake", "gradebook.db",
                 "grading-state.json", "grades.csv", "autograde-*.log", "__pycache__", "*.pyc", ".ipynb_checkpoints",
                 "*quiz-progress.jsonl", "quiz-answers.json")


class RosterError(ValueError):
    pass


@dataclass
class Person:
    username: str
    role: str = "student"
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    password: str = ""


def read_roster(path: Path) -> list[Person]:
    """Parse and check the CSV; every problem is reported at once, with its line number."""
    people, problems, seen = [], [], set()
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "username" not in [f.strip().lower() for f in reader.fieldnames]:
            raise RosterError(f"{path}: the header row must name a 'username' column")
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            name, role = row.get("username", "").lower(), (row.get("role") or "student").lower()
            if not name:
                continue
            if not USERNAME.match(name):
                problems.append(f"line {line}: {name!r} is not a valid account name (a-z, 0-9, _ and -, at most 32)")
            if role not in ROLES:
                problems.append(f"line {line}: role {role!r} must be student or instructor")
            if name in seen:
                problems.append(f"line {line}: {name} appears twice")
            for column in ("first_name", "last_name", "email"):
                if MARKUP.search(row.get(column, "")):
                    problems.append(f"line {line}: {column} of {name} holds one of < > & \" ` or a control "
                                    "character (names are shown in the instructor's browser)")
            seen.add(name)
            people.append(Person(name, role, row.get("first_name", ""), row.get("last_name", ""),
                                 row.get("email", ""), row.get("password", "")))
    if problems:
        raise RosterError(f"{path}:\n  " + "\n  ".join(problems))
    return people


# --- system accounts ------------------------------------------------------------------------

def _run(command: list[str], input: str | None = None) -> None:
    result = subprocess.run(command, input=input, text=True, capture_output=True)
    if result.returncode != 0:
        raise RosterError(f"{' '.join(command[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run(["groupadd", name])
        return grp.getgrnam(name).gr_gid


def ensure_account(site: Site, person: Person) -> tuple[bool, str | None]:
    """Create (or update) the account; returns (created, password set now or None)."""
    groups = [site.course_group, site.instructors_group if person.role == "instructor" else site.students_group]
    for group in groups:
        ensure_group(group)
    try:
        pwd.getpwnam(person.username)
        created = False
        _run(["usermod", "-a", "-G", ",".join(groups), person.username])
    except KeyError:
        comment = " ".join(filter(None, [person.first_name, person.last_name]))
        _run(["useradd", "--create-home", "--base-dir", str(site.home_base), "--shell", "/bin/bash",
              "--user-group", "--groups", ",".join(groups), "--comment", comment, person.username])
        created = True
    home = Path(pwd.getpwnam(person.username).pw_dir)
    os.chmod(home, 0o700)  # nobody else reads a student's work
    write_shell_profile(site, person.username)
    password = person.password or (secrets.token_urlsafe(12) if created else None)
    if password:
        _run(["chpasswd"], input=f"{person.username}:{password}\n")
    return created, password


def remove_account(username: str) -> None:
    """Delete an account and its home (tests clean up with this)."""
    try:
        pwd.getpwnam(username)
    except KeyError:
        return
    import psutil

    uid = pwd.getpwnam(username).pw_uid
    for process in psutil.process_iter(["uids"]):  # that account's processes only, by PID
        try:
            if process.info["uids"] and process.info["uids"].real == uid:
                process.kill()
        except psutil.Error:
            pass
    _run(["userdel", "--remove", username])


def remove_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        return
    _run(["groupdel", name])


# --- the exchange and the course ------------------------------------------------------------

PROFILE_BEGIN = "# >>> gpt2-course (written by hub/roster.py) >>>"
PROFILE_END = "# <<< gpt2-course <<<"


def write_shell_profile(site: Site, username: str) -> Path:
    """A login shell of the account (``su - s002``, ssh) gets what its Jupyter server gets: the
    course environment first on PATH (``nbgrader``, ``python``) and the class's Jupyter config.
    One marked block in ``~/.profile``, replaced on every update."""
    from .course import account_env, as_account

    profile = Path(pwd.getpwnam(username).pw_dir) / ".profile"
    env = account_env(site, username)
    block = "\n".join([PROFILE_BEGIN,
                       f"export PATH={shlex.quote(str(site.env_dir / 'bin'))}:\"$PATH\"",
                       f"export JUPYTER_CONFIG_PATH={shlex.quote(env['JUPYTER_CONFIG_PATH'])}",
                       f"export VIRTUAL_ENV={shlex.quote(str(site.env_dir))}",
                       *(f"export PYTHONPATH={shlex.quote(env['PYTHONPATH'])}" for _ in [1] if "PYTHONPATH" in env),
                       PROFILE_END])
    # Read and written as the account itself: the home is the student's, and root following a
    # link they left there would read or overwrite someone else's file.
    found = as_account(site, username, ["cat", str(profile)])
    text = found.stdout if found.returncode == 0 else ""
    if PROFILE_BEGIN in text and PROFILE_END in text:
        head, _, rest = text.partition(PROFILE_BEGIN)
        text = head + block + rest.partition(PROFILE_END)[2]
    else:
        text = text + ("\n" if text and not text.endswith("\n") else "") + block + "\n"
    as_account(site, username, ["tee", str(profile)], input=text, check=True)
    return profile


def setup_exchange(site: Site) -> Path:
    """``exchange_gate`` root:<course group> 0750 around nbgrader's exchange (0777 + sticky inside)."""
    gid = ensure_group(site.course_group)
    site.exchange_gate.mkdir(parents=True, exist_ok=True)
    os.chown(site.exchange_gate, 0, gid)
    os.chmod(site.exchange_gate, 0o750)
    site.exchange_root.mkdir(exist_ok=True)
    os.chown(site.exchange_root, 0, gid)
    # nbgrader wants the root writable by all (it checks o+rwx); the gate keeps everyone else out,
    # and the sticky bit keeps students from renaming the instructor's course folder.
    os.chmod(site.exchange_root, 0o1777)
    return site.exchange_root


def write_jupyter_config(site: Site, instructor: str | None) -> None:
    """The nbgrader settings every account reads, and the instructor's extra config."""
    from course.jupyter_setup import INSTRUCTOR_SERVER_EXTENSIONS
    from grader.formgrader import write_instructor_config

    common = site.jupyter_config_dir
    common.mkdir(parents=True, exist_ok=True)
    (common / "nbgrader_config.py").write_text(
        "# Written by hub/roster.py: the class's nbgrader exchange (see hub/site.py).\n"
        "c = get_config()  # noqa: F821\n"
        f"c.Exchange.root = {str(site.exchange_root)!r}\n"
        f"c.CourseDirectory.course_id = {site.course_id!r}\n"
        "# Validate in the student's own server: GPT-2 cells need more than 30 s on a small machine.\n"
        "c.Execute.timeout = 300\n"
        + ("" if site.ngshare_port else
           "# Each submission folder private to its student and the instructor (course/exchange.py).\n"
           "c.ExchangeFactory.submit = 'course.exchange.PrivateSubmit'\n")
    )
    if site.ngshare_port:
        from .ngshare import client_config

        with open(common / "nbgrader_config.py", "a") as handle:
            handle.write("# The exchange is ngshare, a hub service (hub/ngshare.py).\n" + client_config(site))
    if instructor is None:
        return
    own = site.instructor_config_dir
    write_instructor_config(own)  # labconfig/page_config.json: Formgrader, Create Assignment, Course List on
    extensions = {name: True for name in INSTRUCTOR_SERVER_EXTENSIONS}
    # The course's policy on Formgrader's submission page (grader/orchestration/formgrader_csp.py, found through
    # the course copy on the instructor's PYTHONPATH: hub/course.py account_env).
    extensions["grader.orchestration.formgrader_csp"] = True
    # jupyterhub-singleuser forbids every frame ("frame-ancestors 'none'") unless a policy is set:
    # JupyterLab's Formgrader tab frames this very server.
    server = {"ServerApp": {"jpserver_extensions": extensions,
                            "tornado_settings": {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}}}
    import json

    (own / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
    (own / "jupyter_server_config.d" / "zz-gpt2-course-instructor.json").write_text(json.dumps(server, indent=2))
    (own / "jupyter_server_config.json").write_text(json.dumps(server, indent=2))
    (own / "nbgrader_config.py").write_text(
        "# Written by hub/roster.py: the instructor's course root (formgrader and nbgrader commands).\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(site.course_root(instructor))!r}\n"
        + ("" if site.ngshare_port else
           "# collect copies a student's links as links, for the intake gate to refuse (course/exchange.py).\n"
           "c.ExchangeFactory.collect = 'course.exchange.SafeCollect'\n")
    )
    for path in [common, *common.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    # The instructor's settings: the instructors' group only (students have no business there).
    instructors = ensure_group(site.instructors_group)
    for path in [own, *own.rglob("*")]:
        os.chown(path, 0, instructors)
        os.chmod(path, 0o750 if path.is_dir() else 0o640)


def setup_course(site: Site, instructor: str, source: Path = REPO_DIR) -> Path:
    """Copy the course (grader/ and nbgrader-course/ of the repository ``source``, without nbgrader's
    working data) into the instructor's home (each once), owned by them; return the course root."""
    root = site.course_root(instructor)
    account = pwd.getpwnam(instructor)
    for part in COURSE_PARTS:
        if not (site.course_repo(instructor) / part).exists():
            shutil.copytree(source / part, site.course_repo(instructor) / part,
                            ignore=shutil.ignore_patterns(*COURSE_IGNORE))
    for folder, dirs, files in os.walk(site.course_repo(instructor)):
        for name in [folder, *(os.path.join(folder, f) for f in dirs + files)]:
            os.lchown(name, account.pw_uid, account.pw_gid)
    os.chmod(site.course_repo(instructor), 0o700)
    return root


def add_to_gradebook(site: Site, instructor: str, students: list[Person]) -> None:
    from . import course

    for person in students:
        args = ["db", "student", "add", person.username]
        if person.first_name:
            args.append(f"--first-name={person.first_name}")
        if person.last_name:
            args.append(f"--last-name={person.last_name}")
        if person.email:
            args.append(f"--email={person.email}")
        course.nbgrader_as(site, instructor, args, check=True)


def apply(site: Site, people: list[Person], password_file: Path | None = None) -> dict[str, str]:
    """Create every account, the exchange and the instructor's course; return the new passwords."""
    if os.geteuid() != 0:
        raise RosterError("run as root: it creates system accounts (useradd)")
    instructors = [p.username for p in people if p.role == "instructor"]
    if len(instructors) > 1:
        raise RosterError(f"one instructor per course for now, got {', '.join(instructors)}")
    site.save()
    passwords = {}
    for person in people:
        created, password = ensure_account(site, person)
        if password:
            passwords[person.username] = password
        print(f"{'created' if created else 'updated'} {person.role} {person.username}")
    setup_exchange(site)
    write_jupyter_config(site, instructors[0] if instructors else None)
    if instructors:
        root = setup_course(site, instructors[0])
        print(f"course root of {instructors[0]}: {root}")
        add_to_gradebook(site, instructors[0], [p for p in people if p.role == "student"])
    if passwords and password_file is not None:
        password_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["username", "password"])
            writer.writerows(sorted(passwords.items()))
        print(f"{len(passwords)} new password(s) in {password_file} (root only; hand them out, then delete it)")
    return passwords


@exits_on(RosterError)
def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hub.roster", description=__doc__.split("\n\n")[0])
    parser.add_argument("roster", type=Path, help="CSV with a username column (role, names, email, password optional)")
    parser.add_argument("--instructor", help="the instructor's account name (or role=instructor in the CSV)")
    parser.add_argument("--state-dir", type=Path, default=Site().state_dir)
    args = parser.parse_args(argv)
    site = Site.load(args.state_dir) if (args.state_dir / "site.json").exists() else Site(state_dir=args.state_dir)
    people = read_roster(args.roster)
    if args.instructor and args.instructor not in [p.username for p in people]:
        people.insert(0, Person(args.instructor, "instructor"))
    apply(site, people, site.state_dir / "new-passwords.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
