"""The whole class loop on a real JupyterHub on loopback, with nbgrader's own commands and UI.

One instructor, three students (system accounts, PAM passwords, homes 0700):

1. the instructor releases lesson 35 (generate_assignment + release_assignment, as the instructor);
   the instructor's server has Formgrader, the students' servers do not;
2. student 1, in headless Chromium: logs in, fetches lesson 35 from the Assignment List, fills
   the graded cells in the editor, saves, clicks Validate, then Submit in the Assignment List;
3. students 2 and 3 fetch and submit with nbgrader's command line as their own accounts, one
   correct notebook and one with a bug (a mutant from grader/lessons/35-.../grading.py);
4. nothing instructor-only reached a student: their homes and the students' environment hold
   no hidden tests, no solution markers and no file of grader/;
5. the instructor collects; root runs the sandboxed autograde on the instructor's course root
   (grader.commands.autograde); the instructor generates and releases feedback;
6. every student fetches feedback (student 1 with the Assignment List's Fetch Feedback button,
   then "(view feedback)", which opens the feedback page)
   and finds their own score, and cannot read anybody else's.

Screenshots: build/test-output/hub/. Takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from grader import acceptance, build, catalog
from grader.proofs.submissions import make_submission
from hub import course
from tests.browser import lab as lab_tools

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


hubtools = _load("hub_test_tools", HERE / "conftest.py")
SLUG, login, disabled_lab_plugins = hubtools.SLUG, hubtools.login, hubtools.disabled_lab_plugins

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OUTPUT = catalog.REPO_DIR / "build" / "test-output" / "hub"
BUGGY = "no-final-norm"  # a mutant that must lose exactly test_gpt_final_norm


# --- what each student hands in --------------------------------------------------------------

def notebooks(room):
    """(released notebook, correct submission, buggy submission, points of each test)."""
    source = nbformat.read(catalog.source_notebook(SLUG, room.course_root), as_version=4)
    released = nbformat.read(room.course_root / "release" / SLUG / f"{SLUG}.ipynb", as_version=4)
    subs = {s.name: s for s in acceptance.load_submissions(SLUG, room.course_root)}
    correct = make_submission(source, released, subs["solution"])
    buggy = make_submission(source, released, subs[BUGGY])
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")}
    return released, correct, buggy, points, subs[BUGGY].fails


def solution_cells(nb) -> list[tuple[int, str]]:
    return [(i, c.source) for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")]


def write_as(room, user: str, path: Path, text: str) -> None:
    course.as_account(room.site, user, ["tee", str(path)], input=text, check=True)


# --- what must never reach a student -----------------------------------------------------------

MARKERS = ("### BEGIN HIDDEN TESTS", "### BEGIN SOLUTION", "### END HIDDEN TESTS")


def instructor_only(room) -> tuple[set[str], list[str]]:
    """(sha256 of every file of grader/, lines only the hidden tests contain)."""
    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    # what students get on purpose (data beside each notebook, the released course edition of the
    # quizzes) is not instructor-only; the quizzes as written hold the post quiz's key: they are
    public = {digest(p) for slug in catalog.lesson_slugs() for p in catalog.student_files(slug)
              if not build.QUIZ_FILE.match(p.name)}
    public |= {digest(p) for p in (room.course_root / "release").rglob("*") if p.is_file()}
    digests = set()
    for path in [*catalog.GRADER_DIR.rglob("*"), *(catalog.COURSE_DIR / "source").rglob("*")]:
        if path.is_file() and "__pycache__" not in path.parts and path.stat().st_size > 200:
            digests.add(digest(path))
    digests -= public
    source = nbformat.read(catalog.source_notebook(SLUG), as_version=4)
    released = nbformat.read(room.course_root / "release" / SLUG / f"{SLUG}.ipynb", as_version=4)
    # lines a student may legitimately have: the released notebook and everything outside the hidden blocks
    public = "\n".join(c.source for c in released.cells) + "\n".join(
        re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", c.source, flags=re.S) for c in source.cells)
    hidden = []
    for cell in source.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "### END HIDDEN TESTS" in line:
                inside = False
            elif (inside and len(line.strip()) > 40 and line.strip() not in public and '"' in line
                  and ("expect" in line or "hint=" in line)):  # the tests' own messages: nothing else says them
                hidden.append(line.strip())
    return digests, hidden


TEXT_SUFFIXES = (".py", ".ipynb", ".json", ".html", ".txt", ".md", ".csv", ".cfg", ".toml", ".yaml", ".yml", "")


def leaks(roots: list[Path], digests: set[str], hidden: list[str]) -> list[str]:
    """Files under ``roots`` that hold grader/ files, hidden-test lines or solution markers."""
    hidden_re = re.compile("|".join(re.escape(line) for line in hidden)) if hidden else None
    found = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_symlink() or not path.is_file() or path.stat().st_size > 5_000_000:
                continue
            if path.name in (catalog.AUTHORING_SCRIPT, catalog.GRADING_SCRIPT):
                found.append(f"{path}: named like an instructor-only file")
            if path.suffix not in TEXT_SUFFIXES:
                continue
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() in digests:
                found.append(f"{path}: a copy of a file of grader/")
            text = data.decode("utf-8", errors="ignore")
            # nbgrader itself names the markers (its code, its docs' example notebooks): not course material
            if path.suffix in (".ipynb", ".html", ".json", ".txt", ".md") and "/site-packages/nbgrader/" not in str(path):
                found += [f"{path}: {m!r}" for m in MARKERS if m in text]
            if hidden_re is not None and (hit := hidden_re.search(text)):
                found.append(f"{path}: hidden test line {hit.group(0)[:60]!r}")
    return found


# --- one student against another ---------------------------------------------------------------

def isolation_attacks(room, attacker: str, victim: str) -> list[str]:
    """Run as ``attacker``: every way into ``victim``'s submission that worked (empty: none).

    First what the attacker can read that might name it (the hub's log, database and site file,
    the instructor's settings, ``ps``, /proc); then, with the exact path (looked up as root, as if
    it had leaked), list, read, create, rename and delete in it."""
    site = room.site
    found = []
    readable = [site.state_dir / "jupyterhub.log", site.state_dir / "jupyterhub.sqlite",
                site.state_dir / "site.json", site.state_dir / "jupyterhub_cookie_secret",
                site.instructor_config_dir / "nbgrader_config.py"]
    for path in readable:
        if course.as_account(site, attacker, ["cat", str(path)]).returncode == 0:
            found.append(f"read {path}")
    if course.as_account(site, attacker, ["ls", str(site.state_dir)]).returncode == 0:
        found.append(f"listed {site.state_dir}")
    inbound = site.exchange_root / site.course_id / "inbound"
    theirs = sorted(p for p in inbound.iterdir() if p.name.startswith(f"{victim}+"))
    assert theirs, f"no submission of {victim} in {inbound}"
    names = " ".join(p.name for p in theirs)
    shown = course.as_account(site, attacker, ["sh", "-c", "ps -eo args; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '"])
    if any(p.name in shown.stdout for p in theirs):
        found.append(f"saw a submission's name in the process list ({names})")
    folder = theirs[-1]
    notebook = folder / f"{SLUG}.ipynb"
    tries = {
        "list": ["ls", str(folder)],
        "read": ["cat", str(notebook)],
        "create": ["touch", str(folder / "planted.txt")],
        "rename": ["mv", str(notebook), str(folder / "renamed.ipynb")],
        "delete": ["rm", "-f", str(notebook)],
        "rename the folder": ["mv", str(folder), str(inbound / f"{attacker}+{SLUG}+stolen")],
        "read the home": ["cat", str(room.home(victim) / SLUG / f"{SLUG}.ipynb")],
    }
    for what, command in tries.items():
        done = course.as_account(site, attacker, command)
        if done.returncode == 0:
            found.append(f"{what}: {' '.join(command)}")
    assert notebook.is_file(), "the victim's notebook must still be there"
    return found


# --- the browser -------------------------------------------------------------------------------

def browser_login(page, room, user: str) -> None:
    page.goto(f"{room.site.url}/hub/login", wait_until="domcontentloaded")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", room.passwords[user])
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_url(re.compile(rf".*/user/{user}/lab.*"), timeout=240_000)
    # JupyterLab's main area: on a later login the restored workspace may show any tab (the
    # Assignments list, say) with no Launcher and the notebook panel hidden behind it.
    page.wait_for_selector("#jp-main-dock-panel", state="visible", timeout=lab_tools.UI_TIMEOUT_MS)
    _dismiss_news(page)


@contextmanager
def student_browser(room, user: str, failure: str):
    """Chromium logged in to JupyterLab as ``user``; on a failure keep ``<failure>.png``, the
    page's HTML and the hub's log in the test output folder. Chromium is closed in any case."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(lab_tools.CHROMIUM), headless=True,
                                              args=lab_tools.CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1280, "height": 1000}, locale="en-US")
        page.set_default_timeout(lab_tools.UI_TIMEOUT_MS)
        try:
            browser_login(page, room, user)
            yield page
        except Exception:
            page.screenshot(path=str(OUTPUT / f"{failure}.png"))
            (OUTPUT / f"{failure}.html").write_text(page.content())
            (OUTPUT / f"{failure}-hub.log").write_text(room.hub.read_log(20000))
            raise
        finally:
            chromium.close()


def _dismiss_news(page) -> None:
    page.wait_for_timeout(500)
    news = page.locator(".jp-toast-button", has_text="No")
    if news.count():
        news.first.click()


def open_assignment_list(page):
    page.get_by_role("menuitem", name="Nbgrader").click()
    menu = page.locator(".lm-Menu").last
    menu.get_by_text("Assignment List").wait_for()
    items = menu.inner_text()
    menu.get_by_text("Assignment List").click()
    panel = page.locator("#released_assignments_list").locator("xpath=ancestor::div[contains(@class,'lm-Widget')][1]")
    page.locator("#released_assignments_list").wait_for()
    return items, panel


def fill_cell(page, index: int, text: str) -> None:
    """Replace cell ``index``'s text the way typing would, without the editor's auto-indent."""
    cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_class_loop_on_jupyterhub(classroom, output_dir):
    lab_tools._require_browser()
    room, site = classroom, classroom.site
    s1, s2, s3 = room.students
    timings = {}
    started = time.monotonic()
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for stale in OUTPUT.glob("failure*"):
        stale.unlink()

    # 1. the instructor releases lesson 35; roles in the UI
    course.release(site, SLUG, room.instructor)
    assert (site.exchange_root / site.course_id / "outbound" / SLUG / f"{SLUG}.ipynb").exists()
    released, correct, buggy, points, buggy_fails = notebooks(room)
    lesson, key = acceptance.post_quiz_key(room.course_root, SLUG)
    answers = acceptance.answers_text(lesson, key)  # every post answer right
    teacher = login(site, room.instructor, room.passwords[room.instructor])
    assert teacher.get(f"{site.url}/user/{room.instructor}/formgrader", timeout=60).status_code == 200
    listed = teacher.get(f"{site.url}/user/{room.instructor}/formgrader/api/assignments", timeout=60).json()
    assert SLUG in [a["name"] for a in listed], listed
    assert not disabled_lab_plugins(teacher.get(f"{site.url}/user/{room.instructor}/lab", timeout=60).text) & {
        "@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"}
    # Formgrader opens inside the instructor's JupyterLab on the hub (its tab frames the server:
    # jupyterhub-singleuser would forbid every frame without the instructor's own policy)
    with student_browser(room, room.instructor, "failure-formgrader") as page:
        page.get_by_role("menuitem", name="Nbgrader").click()
        page.locator(".lm-Menu").last.get_by_text("Formgrader", exact=True).click()
        frame = page.frame_locator("iframe").first
        frame.get_by_text(SLUG).first.wait_for(timeout=120_000)
        assert "refused" not in frame.locator("body").inner_text()
        page.screenshot(path=str(OUTPUT / "instructor-formgrader-tab.png"))
    timings["release + instructor UI"] = time.monotonic() - started

    # 2. student 1 in the browser: fetch, fill, validate, submit
    t = time.monotonic()
    with student_browser(room, s1, "failure") as page:
        menu_items, _ = open_assignment_list(page)
        assert "Formgrader" not in menu_items and "Course List" not in menu_items, menu_items
        assert "Create Assignment" not in page.locator("body").inner_text()
        row = page.locator("#released_assignments_list .list_item", has_text=SLUG).first
        row.get_by_role("button", name="Fetch").click()
        page.locator("#fetched_assignments_list .list_item", has_text=SLUG).first.wait_for()
        page.screenshot(path=str(OUTPUT / "student-fetched.png"))
        fetched = room.home(s1) / SLUG / f"{SLUG}.ipynb"
        assert fetched.exists()
        leaked = leaks([room.home(s1)], *instructor_only(room))
        assert not leaked, "after fetching:\n" + "\n".join(leaked)

        page.goto(f"{site.url}/user/{s1}/lab/tree/{SLUG}/{SLUG}.ipynb", wait_until="domcontentloaded")
        # code cells show their editor (a rendered Markdown cell's editor is hidden)
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .cm-content").first.wait_for()
        _dismiss_news(page)
        page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\|\s*Idle")).wait_for()
        for index, text in solution_cells(correct):
            fill_cell(page, index, text)
        page.keyboard.press("Control+s")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            saved = nbformat.read(fetched, as_version=4)
            if [s.strip() for _, s in solution_cells(saved)] == [s.strip() for _, s in solution_cells(correct)]:
                break
            time.sleep(1)
        else:
            raise AssertionError("the filled cells were not saved as typed")

        # the graded post quiz's saved answers (what its Save buttons write), handed in with the
        # notebook; Validate fails while any is missing
        write_as(room, s1, room.home(s1) / SLUG / "quiz-answers.json", answers)
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar").get_by_text(
            "Validate").first.click()
        dialog = page.locator(".jp-Dialog")
        dialog.get_by_text(re.compile(r"Success|passes|fail|error", re.I)).first.wait_for(timeout=600_000)
        verdict = dialog.inner_text()
        page.screenshot(path=str(OUTPUT / "student-validated.png"))
        assert re.search(r"Success|passes all", verdict) and "fail" not in verdict.lower(), verdict
        dialog.get_by_role("button").last.click()
        timings["student 1: fetch + fill + validate (browser)"] = time.monotonic() - t

        open_assignment_list(page)
        page.locator("#fetched_assignments_list .list_item", has_text=SLUG).first.get_by_role(
            "button", name="Submit").click()
        page.locator("#submitted_assignments_list .list_item", has_text=SLUG).first.wait_for()
        page.screenshot(path=str(OUTPUT / "student-submitted.png"))
    inbound = site.exchange_root / site.course_id / "inbound"
    timings["student 1 (browser)"] = time.monotonic() - t

    # the students' server has no Formgrader at all
    student = login(site, s2, room.passwords[s2])
    assert student.get(f"{site.url}/user/{s2}/formgrader", timeout=60).status_code == 404
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
            "@jupyter/nbgrader:course-list"} <= disabled_lab_plugins(
        student.get(f"{site.url}/user/{s2}/lab", timeout=60).text)

    # 3. students 2 and 3 on the command line, as themselves
    t = time.monotonic()
    for user, nb in ((s2, correct), (s3, buggy)):
        course.nbgrader_as(site, user, ["fetch_assignment", SLUG], check=True)
        write_as(room, user, room.home(user) / SLUG / f"{SLUG}.ipynb", nbformat.writes(nb))
        write_as(room, user, room.home(user) / SLUG / "quiz-answers.json", answers)
        course.nbgrader_as(site, user, ["submit", SLUG], check=True)
    # a student can neither list the inbound submissions nor read a classmate's home
    peek = course.as_account(site, s3, ["ls", str(inbound)])
    assert peek.returncode != 0, f"{s3} listed the inbound folder: {peek.stdout}"
    peek = course.as_account(site, s3, ["cat", str(room.home(s2) / SLUG / f"{SLUG}.ipynb")])
    assert peek.returncode != 0 and "Permission denied" in peek.stderr
    timings["students 2, 3 (command line)"] = time.monotonic() - t

    # a student cannot reach a classmate's submission even knowing its exact name: everything
    # readable that could name it, then every way in (list, read, create, rename, delete)
    attacks = isolation_attacks(room, attacker=s3, victim=s2)
    assert not attacks, "a student reached what is not theirs:\n" + "\n".join(attacks)
    profile = course.as_account(site, s3, ["bash", "-lc", "command -v nbgrader; echo $JUPYTER_CONFIG_PATH"])
    assert profile.stdout.split()[:1] == [str(site.env_dir / "bin" / "nbgrader")], profile
    assert str(site.jupyter_config_dir) in profile.stdout, profile

    # 4. nothing instructor-only in any student's home or in their environment
    leaked = leaks([room.home(u) for u in room.students] + [site.env_dir], *instructor_only(room))
    assert not leaked, "\n".join(leaked[:20])
    # an account outside the course cannot reach the exchange at all
    outsider = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "ls",
                               str(site.exchange_root)], capture_output=True, text=True, cwd="/")
    assert outsider.returncode != 0 and "Permission denied" in outsider.stderr, outsider

    # 5. collect, autograde (sandboxed, as root), feedback
    t = time.monotonic()
    course.collect(site, SLUG, room.instructor)
    for user in room.students:
        assert (room.course_root / "submitted" / user / SLUG / f"{SLUG}.ipynb").exists(), user
        assert (room.course_root / "submitted" / user / SLUG / "quiz-answers.json").exists(), user
    timings["collect"] = time.monotonic() - t
    t = time.monotonic()
    scores = course.autograde(site, [SLUG], room.instructor, quiet=True,
                              env=dict(os.environ, GPT2_COURSE_CELL_TIMEOUT="120"))
    timings["autograde (3 submissions, sandboxed)"] = time.monotonic() - t
    total = sum(points.values())
    got = {user: sum(s for s, _ in scores[(user, SLUG)].values()) for user in room.students}
    lost = sum(points[name] for name in buggy_fails)
    assert got == {s1: total, s2: total, s3: total - lost}, (got, total, lost, room.course_root)
    assert all(os.stat(p).st_uid == os.stat(room.course_root).st_uid for p in room.course_root.rglob("*")), \
        "autograde left files the instructor does not own"
    t = time.monotonic()
    course.feedback(site, SLUG, room.instructor)
    timings["feedback"] = time.monotonic() - t

    # 6. each student fetches feedback: their own score, nobody else's. Student 1 in the browser
    # (Assignment List > Fetch Feedback), the others on the command line.
    t = time.monotonic()
    with student_browser(room, s1, "failure-feedback") as page:
        open_assignment_list(page)
        submitted = page.locator("#submitted_assignments_list .list_item", has_text=SLUG).first
        submitted.get_by_role("button", name="Fetch Feedback").click()
        view = page.locator("#submitted_assignments_list").get_by_text(re.compile("view feedback", re.I)).first
        view.wait_for()
        page.screenshot(path=str(OUTPUT / "student-feedback-fetched.png"))
        # "(view feedback)" opens the feedback page itself (course/labextension), not just its folder
        view.click()
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{SLUG}.html").first.wait_for()
        shown = page.frame_locator(".jp-HTMLViewer:not(.lm-mod-hidden) iframe").locator("body")
        shown.get_by_text(re.compile(r"Score: [\d.]+ / [\d.]+")).first.wait_for()
        page.screenshot(path=str(OUTPUT / "student-feedback-page.png"))
        assert f"Score: {got[s1]:.1f} / {total:.1f}" in shown.inner_text(), shown.inner_text()[:500]
    timings["student 1: fetch feedback (browser)"] = time.monotonic() - t
    feedback_dir = site.exchange_root / site.course_id / "feedback"
    for user in room.students:
        if user != s1:
            course.nbgrader_as(site, user, ["fetch_feedback", SLUG], check=True)
        # (opening the page in JupyterLab leaves a copy in .ipynb_checkpoints/ beside it)
        pages = sorted(p for p in (room.home(user) / SLUG / "feedback").rglob("*.html")
                       if ".ipynb_checkpoints" not in p.parts)
        assert len(pages) == 1, (user, pages)
        html = pages[0].read_text()
        match = re.search(r"\(Score: ([\d.]+) / ([\d.]+)\)", html)
        assert match, f"{user}: no score in {pages[0]}"
        assert (float(match.group(1)), float(match.group(2))) == (got[user], total), (user, match.groups())
        assert not any(m in html for m in MARKERS), f"{user}: feedback shows hidden tests or solution markers"
        listing = course.as_account(site, user, ["ls", str(feedback_dir)])
        assert listing.returncode != 0, f"{user} could list everyone's feedback: {listing.stdout}"
    # a classmate's released feedback page, by its exact name, stays closed
    for page in sorted(feedback_dir.glob("*.html")):
        owner = pwd.getpwuid(page.stat().st_uid).pw_name
        for user in room.students:
            if user != owner:
                peek = course.as_account(site, user, ["cat", str(page)])
                assert peek.returncode != 0, f"{user} read {owner}'s feedback {page.name}"
    leaked = leaks([room.home(u) for u in room.students], *instructor_only(room))
    assert not leaked, "after feedback:\n" + "\n".join(leaked[:20])

    timings["total"] = time.monotonic() - started
    report = "\n".join(f"{name:50s} {seconds:6.1f} s" for name, seconds in timings.items())
    (output_dir / "timings.txt").write_text(report + "\n")
    (OUTPUT / "timings.txt").write_text(report + "\n")
    print("\n" + report)
