"""ngshare as the exchange: the same class loop with no shared exchange folder (the Kubernetes case).

A hub with the ngshare service (hub/ngshare.py: PyPI ngshare 0.6.0 + ngshare-exchange 0.5.3,
against nbgrader 0.9.6) on loopback; one instructor and two students, each with their own
JupyterHub API token, as their single-user servers would have. The course is created in
ngshare with ngshare-exchange's own ``ngshare-course-management``; then release, fetch,
submit, collect, autograde, release feedback and fetch feedback run through nbgrader's
commands. What each step printed is kept in build/test-output/hub/ngshare-steps.txt.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from grader import acceptance, catalog
from grader.proofs.submissions import make_submission
from hub import course

pytestmark = [pytest.mark.slow]

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


hubtools = _load("hub_test_tools_ngshare", HERE / "conftest.py")
SLUG = hubtools.SLUG
OUTPUT = catalog.REPO_DIR / "build" / "test-output" / "hub"


def test_class_loop_through_ngshare(ngshare_classroom):
    room, site = ngshare_classroom, ngshare_classroom.site
    s1, s2 = room.students
    log = []

    def run(user, args, token, what, nbgrader=True):
        env = {"JUPYTERHUB_API_TOKEN": token, "JUPYTERHUB_USER": user}
        if nbgrader:
            result = course.nbgrader_as(site, user, args, env=env)
        else:
            result = course.as_account(site, user, args, env=env,
                                       cwd=site.course_root(user) if user == room.instructor else None)
        log.append(f"$ [{user}] {what}: exit {result.returncode}\n{result.stdout[-1500:]}{result.stderr[-2500:]}")
        (OUTPUT / "ngshare-steps.txt").write_text("\n".join(log))
        assert result.returncode == 0, log[-1]
        return result.stdout + result.stderr

    OUTPUT.mkdir(parents=True, exist_ok=True)
    tokens = {user: hubtools.api_token(site, user, room.passwords[user]) for user in [room.instructor, *room.students]}
    teacher = room.instructor
    manage = [str(site.ngshare_path / "bin" / "ngshare-course-management")]

    run(teacher, [*manage, "create_course", site.course_id, teacher], tokens[teacher], "create the course in ngshare",
        nbgrader=False)
    for user in room.students:
        run(teacher, [*manage, "add_student", site.course_id, user, "--no-gb"], tokens[teacher], f"add {user}",
            nbgrader=False)
    run(teacher, ["generate_assignment", SLUG, "--force"], tokens[teacher], "generate_assignment")
    run(teacher, ["release_assignment", SLUG, "--force"], tokens[teacher], "release_assignment")
    assert not any(site.exchange_root.glob("*/outbound")), "the directory exchange was used instead of ngshare"

    source = nbformat.read(catalog.source_notebook(SLUG, room.course_root), as_version=4)
    released = nbformat.read(room.course_root / "release" / SLUG / f"{SLUG}.ipynb", as_version=4)
    subs = {s.name: s for s in acceptance.load_submissions(SLUG, room.course_root)}
    lesson, key = acceptance.post_quiz_key(room.course_root, SLUG)
    answers = acceptance.answers_text(lesson, key)  # the graded post quiz: every answer right
    for user, name in ((s1, "solution"), (s2, "no-final-norm")):
        listed = run(user, ["list"], tokens[user], "list")
        assert SLUG in listed, listed
        run(user, ["fetch_assignment", SLUG], tokens[user], "fetch_assignment")
        notebook = room.home(user) / SLUG / f"{SLUG}.ipynb"
        text = nbformat.writes(make_submission(source, released, subs[name]))
        course.as_account(site, user, ["tee", str(notebook)], input=text, check=True)
        course.as_account(site, user, ["tee", str(notebook.parent / "quiz-answers.json")], input=answers, check=True)
        run(user, ["submit", SLUG], tokens[user], "submit")

    run(teacher, ["collect", SLUG, "--update"], tokens[teacher], "collect")
    for user in room.students:
        assert (room.course_root / "submitted" / user / SLUG / f"{SLUG}.ipynb").exists(), user
        assert (room.course_root / "submitted" / user / SLUG / "quiz-answers.json").exists(), user
    scores = course.autograde(site, [SLUG], teacher, quiet=True, env=dict(os.environ, GPT2_COURSE_CELL_TIMEOUT="120"))
    got = {user: sum(s for s, _ in scores[(user, SLUG)].values()) for user in room.students}
    total = sum(m for m, _ in [(mx, 0) for _, mx in scores[(s1, SLUG)].values()])
    assert got[s1] == total and got[s2] < total, (got, total)
    run(teacher, ["generate_feedback", SLUG, "--force"], tokens[teacher], "generate_feedback")
    run(teacher, ["release_feedback", SLUG], tokens[teacher], "release_feedback")
    for user in room.students:
        run(user, ["fetch_feedback", SLUG], tokens[user], "fetch_feedback")
        pages = sorted((room.home(user) / SLUG / "feedback").rglob("*.html"))
        assert len(pages) == 1, (user, pages)
        match = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", pages[0].read_text())
        assert match and float(match.group(1)) == got[user], (user, match and match.groups())


RELEASE_AS_NGSHARE_DOES = """
import sys
import sqlalchemy
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from ngshare.database.database import Assignment, Base, Course
engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
db = sessionmaker(bind=engine)()
course = Course("c1")
db.add(course)                      # what ngshare's POST /course does
db.commit()
Assignment("a1", course)            # what ngshare's POST /assignment does: no db.add(), then commit
db.commit()
print(sqlalchemy.__version__, db.query(Assignment).count())
"""


def test_ngshare_060_loses_releases_with_sqlalchemy_2(tmp_path):
    """Why the ngshare service runs in its own environment (hub/requirements-ngshare-service.txt).

    ngshare 0.6.0 stores a released assignment through SQLAlchemy 1.x's backref cascade
    (``Assignment(name, course)`` joins the session because ``course`` is in it), which
    SQLAlchemy 2 removed: under the SQLAlchemy 2 of the students' environment (what nbgrader
    0.9.6 and JupyterHub 6 install) ngshare answers success to a release and stores nothing
    (seen on the hub: release_assignment "Successfully released", then list shows nothing and
    fetch_assignment gets 404 "Assignment not found"). ngshare's own code runs here under both
    versions. When the SQLAlchemy 2 count becomes 1, ngshare was fixed."""
    import subprocess

    from hub import ngshare
    from hub.site import Site

    hubtools.hub_prerequisites()
    site = Site(state_dir=tmp_path / "state", env_dir=hubtools.USER_ENV, ngshare_path=hubtools.USER_ENV.parent / "ngshare")
    import fcntl

    with open(hubtools.HUB_BUILD_DIR / ".test-setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ngshare.install(site)
    service_packages = next((ngshare.service_env(site) / "lib").glob("python3*/site-packages"))
    only_ngshare = tmp_path / "path"
    only_ngshare.mkdir()
    (only_ngshare / "ngshare").symlink_to(service_packages / "ngshare")
    counts = {}
    for python, path in ((hubtools.USER_ENV / "bin" / "python", only_ngshare),
                         (ngshare.service_env(site) / "bin" / "python", None)):
        env = {"PATH": "/usr/bin:/bin", **({"PYTHONPATH": str(path)} if path else {})}
        out = subprocess.run([str(python), "-c", RELEASE_AS_NGSHARE_DOES], capture_output=True, text=True,
                             env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        version, count = out.stdout.split()
        counts[version.split(".")[0]] = int(count)
    assert counts == {"2": 0, "1": 1}, counts
