"""A student attacks the instructor through Formgrader and the feedback: nothing of it runs.

A throw-away course (the toy lesson, the real nbgrader config) gets two submissions:

* ``mallory`` hands in a notebook whose markdown cells and outputs carry script payloads
  (``<img onerror>``, ``<script>``, ``javascript:`` links, ``display(HTML/Javascript/Markdown/SVG)``,
  iframe, form, meta refresh, page-wide ``<style>``) and is autograded for real
  (``grader.commands.autograde``; ``GPT2_COURSE_UNSANDBOXED=1`` where there is no sandbox);
* ``trudy``'s graded notebook is written straight into ``autograded/`` with the payloads
  still in it, as a notebook graded before ``grader.plugins.inert`` existed would be.

The instructor's server (``grader.formgrader``, with a token, on 127.0.0.1) shows both
submission pages in headless Chromium with the instructor's session. Every payload would
record itself in ``window.__pwned``, set the title to PWNED and write ``pwned-<id>.txt`` into
the course root through the Jupyter API: none of that may happen, the page must carry the
Content-Security-Policy, and Formgrader's own scripts must still work (grades loaded into the
score boxes, the name toggle). The feedback HTML of both is opened from file:// too.
Screenshots: build/test-output/<test name>/.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.browser import lab as helpers
from tests.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TOY = REPO / "tests" / "grader" / "fixtures" / "toy-course"
SLUG = "99-toy"
TOKEN = "gpt2-course-formgrader-inert-test"
MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"
START_TIMEOUT_S = 180




# A plain table, as a correct submission shows one, after a <style> that would hide the page.
TABLE = ("<style>body { visibility: hidden }</style><table><thead><tr><th>step</th><th>loss</th></tr></thead>"
         "<tbody><tr><td>1</td><td>3.21</td></tr></tbody></table>")


def pwn(tag: str) -> str:
    """JavaScript (no double quotes) that records ``tag`` and writes pwned-<tag>.txt through the API."""
    return (
        f"(window.__pwned=window.__pwned||[]).push('{tag}');document.title='PWNED';"
        f"fetch('/api/contents/pwned-{tag}.txt',{{method:'PUT',headers:{{'X-XSRFToken':"
        "decodeURIComponent((document.cookie.match(/_xsrf=([^;]*)/)||[0,''])[1])},"
        f"body:JSON.stringify({{type:'file',format:'text',content:'{tag}'}})}})"
    )


def markdown_payloads(who: str) -> list[str]:
    return [
        f"<img src=x onerror=\"{pwn(who + '-md-img')}\">",
        f"<script>{pwn(who + '-md-script')}</script>",
        f"<svg><script>{pwn(who + '-md-svg')}</script></svg><svg onload=\"{pwn(who + '-md-svgload')}\"></svg>",
        f"<details open ontoggle=\"{pwn(who + '-md-toggle')}\"><summary>s</summary></details>",
        f"<iframe srcdoc=\"<script>parent.eval(&quot;{pwn(who + '-md-iframe')}&quot;)</script>\"></iframe>",
        "[click me](javascript:window.__pwned=['md-link']) <a href=\"javascript:window.__pwned=['a']\">a</a>",
        "<form action=\"/api/contents/pwned-form.txt\" method=\"post\"><button>send</button></form>",
        "<meta http-equiv=\"refresh\" content=\"1;url=/api/contents\">",
        "<object data=\"/api/contents\"></object><embed src=\"/api/contents\">",
        "<style>.score, .navbar { display: none !important }</style>",
        f"<!--><img src=x onerror=\"{pwn(who + '-md-comment')}\">-->",
    ]


def payload_code(who: str) -> str:
    """A student's code cell that displays every kind of active output."""
    def show(kind: str, text: str) -> str:
        return f"display({kind}({json.dumps(text)}))"

    img = '<img src=x onerror="{}">'.format
    return "\n".join([
        "from IPython.display import HTML, Javascript, Markdown, SVG, display",
        show("HTML", "<b>html ok</b>" + img(pwn(who + "-html-img"))),
        show("HTML", "<script>" + pwn(who + "-html-script") + "</script>"),
        show("Javascript", pwn(who + "-js")),
        show("Markdown", img(pwn(who + "-mdout")) + " [x](javascript:alert(1))"),
        show("SVG", '<svg xmlns="http://www.w3.org/2000/svg" onload="' + pwn(who + "-svg") + '"/>'),
        f"display({{'text/html': {json.dumps(TABLE)}}}, raw=True)",
    ])


def raw_outputs(who: str) -> list:
    """The outputs ``payload_code`` makes, as a notebook graded before grader.plugins.inert stores them."""
    new = nbformat.v4.new_output
    return [
        new("display_data", data={"text/html": f"<b>html ok</b><img src=x onerror=\"{pwn(who + '-html-img')}\">",
                                  "text/plain": "<HTML>"}),
        new("display_data", data={"text/html": f"<script>{pwn(who + '-html-script')}</script>", "text/plain": "<HTML>"}),
        new("display_data", data={"application/javascript": pwn(who + "-js"), "text/plain": "<Javascript>"}),
        new("display_data", data={"text/markdown": f"<img src=x onerror=\"{pwn(who + '-mdout')}\">", "text/plain": "x"}),
        new("display_data", data={"image/svg+xml": f"<svg xmlns=\"http://www.w3.org/2000/svg\" "
                                                   f"onload=\"{pwn(who + '-svg')}\"/>", "text/plain": "<SVG>"}),
        new("display_data", data={"text/html": f"<b>isolated</b><script>{pwn(who + '-isolated')}</script>"},
            metadata={"text/html": {"isolated": True}}),
        new("display_data", data={"text/html": TABLE}),
    ]


def add_payloads(nb, who: str, raw: bool) -> set[str]:
    """Payload cells after the lesson's first cell (their ids); raw: with their outputs, as if run."""
    cells = [nbformat.v4.new_markdown_cell(text) for text in markdown_payloads(who)]
    cells.append(nbformat.v4.new_raw_cell(f"<img src=x onerror=\"{pwn(who + '-raw')}\">"))
    code = nbformat.v4.new_code_cell(payload_code(who))
    if raw:
        code.outputs, code.execution_count = raw_outputs(who), 2
    cells.append(code)
    nb.cells[1:1] = cells
    return {cell.id for cell in cells}



@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The toy course with mallory's autograded and trudy's pre-inert graded submission."""
    helpers._require_browser()
    from nbgrader.api import Gradebook

    from grader import build, catalog, commands, sandbox
    from grader.sandbox import settings as sandbox_settings

    root = tmp_path_factory.mktemp("formgrader-inert") / "grader"
    shutil.copytree(TOY, root)
    shutil.copy(catalog.GRADER_DIR / "nbgrader_config.py", root / "nbgrader_config.py")
    build.write_if_changed(SLUG, root)
    release = commands.generate(SLUG, root, capture=True)
    handed_in = root / "submitted" / "mallory" / SLUG
    shutil.copytree(release, handed_in)
    nb = nbformat.read(handed_in / f"{SLUG}.ipynb", as_version=4)
    mallorys = add_payloads(nb, "mallory", raw=False)
    nbformat.write(nb, handed_in / f"{SLUG}.ipynb")
    env = dict(os.environ)
    if sandbox.unavailable_reason():
        env[sandbox_settings.ENV_UNSANDBOXED] = "1"
    commands.autograde([SLUG], course_root=root, quiet=True, env=env, jobs=1)
    graded = root / "autograded" / "mallory" / SLUG / f"{SLUG}.ipynb"
    assert graded.exists(), (root / f"autograde-{SLUG}.log").read_text()

    # trudy: graded before grader.plugins.inert existed (the payloads are still in the stored notebook)
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        gradebook.update_or_create_student("trudy")
        gradebook.add_submission(SLUG, "trudy")
    old = root / "autograded" / "trudy" / SLUG
    shutil.copytree(graded.parent, old)
    nb = nbformat.read(graded, as_version=4)
    assert mallorys <= {cell.id for cell in nb.cells}
    nb.cells = [cell for cell in nb.cells if cell.id not in mallorys]
    add_payloads(nb, "trudy", raw=True)
    nbformat.write(nb, old / f"{SLUG}.ipynb")
    return root


@contextlib.contextmanager
def instructor_server(root: Path, log: Path):
    from grader import formgrader

    port = free_port()
    with open(log, "w") as out:
        server = formgrader.start(root.parent / "instructor-config", port=port, open_browser=False, token=TOKEN,
                                  course_root=root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert server.poll() is None, f"the instructor's server exited:\n{log.read_text()[-3000:]}"
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, f"the server did not answer:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)
        yield base
    finally:
        server.terminate()  # by its PID
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def submission_ids(root: Path) -> dict[str, str]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return {student: gradebook.find_submission_notebook(SLUG, SLUG, student).id for student in ("mallory", "trudy")}


# In the page: what student content left in the DOM that could run, load or submit.
ACTIVE_DOM_JS = """() => {
    const found = [];
    const notebook = document.querySelector('#notebook-container') || document.body;
    // nbconvert's own frame for an "isolated" HTML output (sanitized content; frame-src 'none' blocks it)
    for (const el of notebook.querySelectorAll('*:not(iframe.isolated-iframe)')) {
        for (const attr of el.attributes) {
            const name = attr.name.toLowerCase(), value = attr.value.replace(/[\\s\\x00-\\x20]+/g, '').toLowerCase();
            if (name.startsWith('on')) found.push(el.tagName + ' ' + name);
            if (['href', 'src', 'action', 'formaction', 'data', 'srcdoc'].includes(name)
                && /^(javascript|vbscript|data:text)/.test(value)) found.push(el.tagName + ' ' + name + '=' + value.slice(0, 30));
        }
    }
    for (const el of notebook.querySelectorAll('script, iframe:not(.isolated-iframe), object, embed, form, meta, base, link, style, svg'))
        found.push('<' + el.tagName.toLowerCase() + '>');
    for (const el of document.querySelectorAll('meta[http-equiv], base')) found.push('document <' + el.tagName + '>');
    return found;
}"""


def fake_mathjax(route) -> None:
    """The page loads MathJax from cdnjs, which this machine may not reach: a stand-in that, like
    MathJax, loads a second part of itself from the same folder (the policy must allow both)."""
    url = route.request.url
    if url.startswith(MATHJAX) and "latest.js" in url:
        body = (f"var s = document.createElement('script'); s.src = '{MATHJAX}2.7.9/MathJax.js';"
                "document.head.appendChild(s);")
    elif url.startswith(MATHJAX) and "MathJax.js" in url:
        body = ("window.MathJax = {Hub: {Startup: {signal: {Interest: function () {}}}, Queue: function () {},"
                " Config: function () {}}}; window.__mathjaxParts = 2;")
    else:
        return route.abort()
    route.fulfill(status=200, content_type="application/javascript", body=body)


def _assert_nothing_ran(page, root: Path, where: str, url: str, dom: bool = True) -> None:
    page.wait_for_timeout(2500)  # a meta refresh, a fetch, an onload: give them time
    # (Formgrader itself adds ?index=N to its own address)
    assert page.url.split("?")[0] == url.split("?")[0], f"{where}: the page went to {page.url}"
    pwned = page.evaluate("() => window.__pwned || null")
    assert pwned is None, f"{where}: payloads ran: {pwned}"
    assert page.title() != "PWNED", where
    assert not list(root.glob("pwned-*")), f"{where}: a payload wrote into the course root"
    if dom:  # (JupyterLab's own page is full of svg icons and styles: only what ran counts there)
        assert page.evaluate(ACTIVE_DOM_JS) == [], where


def test_no_payload_runs_in_formgrader_or_the_feedback(course, output_dir):
    from playwright.sync_api import sync_playwright

    root = course
    ids = submission_ids(root)
    with instructor_server(root, output_dir / "server.log") as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(helpers.CHROMIUM), headless=True,
                                             args=helpers.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.route("https://cdnjs.cloudflare.com/**", fake_mathjax)
            violations = []
            page.on("console", lambda message: violations.append(message.text)
                    if "Content Security Policy" in message.text else None)
            # the instructor's session: log in with the token, as `make formgrader` opens it
            page.goto(f"{base}/formgrader?token={TOKEN}", wait_until="domcontentloaded")
            for student in ("mallory", "trudy"):
                url = f"{base}/formgrader/submissions/{ids[student]}/"
                response = page.goto(url, wait_until="load")
                assert response.status == 200, student
                policy = response.headers.get("content-security-policy", "")
                assert "'nonce-" in policy and "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]
                assert "object-src 'none'" in policy and "base-uri 'self'" in policy, policy
                assert "frame-ancestors 'self'" in policy, policy
                # Formgrader's own scripts ran: the grades are loaded and bound to the score boxes,
                # "Full credit" saves a score, the name toggle (an inline onclick) works
                page.wait_for_function("() => window.formgrader && formgrader.loaded && formgrader.grades.loaded"
                                       " && formgrader.grade_uis.length === 3")
                assert page.evaluate("() => window.__mathjaxParts") == 2, "MathJax could not load its parts"
                boxes = page.eval_on_selector_all("input.score", "els => els.map(e => e.id)")
                assert boxes == ["test_add", "test_mul", "post_quiz"], boxes
                assert page.locator("input#test_add").is_visible(), "a student's <style> hid the score boxes"
                page.locator(".nbgrader_cell", has=page.locator("input#test_add")).locator("button.full-credit").click()
                page.wait_for_function("() => document.getElementById('test_add').value === '2'")
                page.locator("span.glyphicon.name-hidden").click()
                assert page.locator("a.name-shown").is_visible(), "the name toggle (an inline onclick) did not run"
                assert page.get_by_text("Next →").count() == 1
                assert "html ok" in page.inner_text("#notebook-container")
                assert page.locator("#notebook-container table th", has_text="loss").count() >= 1
                assert page.locator("#notebook-container .output_error").count() >= 1  # the failed tests' errors
                _assert_nothing_ran(page, root, f"formgrader, {student}", response.url)
                page.screenshot(path=str(output_dir / f"formgrader-{student}.png"), full_page=True)

                # The policy itself stops an inline handler that got into the page anyway.
                page.evaluate("""() => {
                    window.__violations = 0;
                    document.addEventListener('securitypolicyviolation', () => window.__violations++);
                    const box = document.createElement('div');
                    box.id = 'csp-probe';
                    box.innerHTML = '<img src=x onerror="window.__pwned=[\\'injected\\']">';
                    document.querySelector('#notebook-container').appendChild(box);
                    const script = document.createElement('script');
                    script.textContent = "window.__pwned = ['inline script']";
                    document.body.appendChild(script);
                }""")
                page.wait_for_function("() => window.__violations >= 2")
                assert page.evaluate("() => window.__pwned || null") is None, "the policy let inline script run"
                page.evaluate("() => document.getElementById('csp-probe').remove()")

            # The payloads' own request works when the page's own code makes it (so above, nothing
            # was written because nothing ran, not because the request was wrong).
            status = page.evaluate("""async () => {
                const xsrf = decodeURIComponent((document.cookie.match(/_xsrf=([^;]*)/) || [0, ''])[1]);
                const reply = await fetch('/api/contents/control-write.txt', {method: 'PUT', headers: {'X-XSRFToken': xsrf},
                    body: JSON.stringify({type: 'file', format: 'text', content: 'control'})});
                return reply.status;
            }""")
            assert status in (200, 201) and (root / "control-write.txt").exists(), status
            (root / "control-write.txt").unlink()

            # The autograded notebooks opened in the instructor's JupyterLab itself (the same server):
            # stored inert (mallory), or untrusted and sanitized by JupyterLab (trudy, graded before).
            for student in ("mallory", "trudy"):
                url = f"{base}/lab/tree/autograded/{student}/{SLUG}/{SLUG}.ipynb"
                page.goto(url, wait_until="domcontentloaded")
                page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
                page.wait_for_timeout(3000)  # an onerror or a fetch would have fired by now
                _assert_nothing_ran(page, root, f"JupyterLab, {student}", url, dom=False)
                page.screenshot(path=str(output_dir / f"jupyterlab-{student}.png"))

            # The feedback each of them gets, opened from disk.
            from grader import commands

            commands.feedback([SLUG], course_root=root)
            for student in ("mallory", "trudy"):
                feedback = root / "feedback" / student / SLUG / f"{SLUG}.html"
                page.goto(feedback.as_uri(), wait_until="load")
                _assert_nothing_ran(page, root, f"feedback, {student}", feedback.as_uri())
                assert "html ok" in page.inner_text("body")
                page.screenshot(path=str(output_dir / f"feedback-{student}.png"), full_page=True)
            (output_dir / "csp-console.txt").write_text("\n".join(violations), encoding="utf-8")
        finally:
            browser.close()
