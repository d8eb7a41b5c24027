"""A Content-Security-Policy for Formgrader's submission page: no script of the student's runs.

A Jupyter server extension that only the instructor's server loads (``grader.formgrader``
names it on the command line). The submission page (``/formgrader/submissions/<id>/``) shows a
student's notebook inside the instructor's logged-in session; ``grader.plugins.inert`` already makes that
content inert, and this is the browser's own guard should anything slip through (or a notebook
graded before ``grader.plugins.inert`` existed be shown).

Design. nbgrader's ``formgrade`` template has inline ``<script>`` blocks of its own (and two
``onclick`` attributes), so ``script-src 'self'`` would break the grading UI. Instead each
response gets a fresh nonce, and only nbgrader's scripts carry it: a tornado output transform
rewrites the finished page, adding ``nonce="..."`` to every ``<script`` that comes before
``id="notebook-container"``, the ``<div>`` the template opens for the notebook. Everything
before that point is the template's (``<head>``, the navigation bar); everything the student
wrote or printed comes after it and never gets the nonce. The two ``onclick`` handlers of the
navigation bar (show/hide the student's name) are allowed by their hashes (``'unsafe-hashes'``),
which allows no other handler. If the page arrives in pieces, or the marker is missing (a
changed nbgrader template), the policy still goes out and nothing is nonced: the page breaks
loudly, it does not open up. The policy:

    default-src 'self'; script-src 'nonce-N' 'unsafe-hashes' <2 hashes> <MathJax on cdnjs>;
    style-src 'self' 'unsafe-inline' <MathJax>; font-src 'self' data: <MathJax>;
    img-src 'self' data:; connect-src 'self'; frame-src 'none'; object-src 'none';
    base-uri 'self'; form-action 'self'; frame-ancestors 'self'

Inline styles stay allowed (nbgrader's template and nbconvert's CSS use them; student styles are
already cut down to colours and alignment by ``grader.plugins.inert``). MathJax 2, which the template
loads from cdnjs, may load its own parts from that folder only (a path, not the whole CDN, whose
other libraries are known ways around a policy). There is no ``'unsafe-eval'``: if MathJax runs
the template's ``text/x-mathjax-config`` block with eval, that block is refused and MathJax keeps
its default settings (``$...$`` is then not typeset; ``\\(...\\)`` and ``$$...$$`` are). Not
checked against the real CDN here (no network in the tests). The page is sent with
``Cache-Control: no-store`` and without an ETag: a cached copy would carry an old nonce.

Not covered: the student's name in the navigation bar comes from the gradebook and is written by
the template before the notebook, so a ``<script>`` in a student's *name* would get the nonce
(names are the instructor's: ``hub/roster.py`` refuses ``<``, ``>``, ``&``, quotes and control
characters in a roster's names; collected folder names are account names; what an instructor types
into ``nbgrader db student add`` is theirs to check).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from tornado.web import OutputTransform

SUBMISSION_PAGE = re.compile(r"/formgrader/submissions/[^/]+/?$")
# The template's <div> that holds the student's notebook: nothing before it is the student's.
NOTEBOOK_START = 'id="notebook-container"'
# nbgrader's formgrade_macros.html.j2: the eye icons that show and hide the student's name.
TEMPLATE_HANDLERS = ("toggle_name(true);", "toggle_name(false);")
MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def policy(nonce: str) -> str:
    """The submission page's Content-Security-Policy, with this response's nonce."""
    handlers = " ".join(_sha256(handler) for handler in TEMPLATE_HANDLERS)
    return "; ".join([
        "default-src 'self'",
        f"script-src 'nonce-{nonce}' 'unsafe-hashes' {handlers} {MATHJAX}",
        f"style-src 'self' 'unsafe-inline' {MATHJAX}",
        f"font-src 'self' data: {MATHJAX}",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'none'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ])


def nonce_template_scripts(page: str, nonce: str) -> str | None:
    """``page`` with ``nonce`` on every ``<script`` before the notebook; None without the marker."""
    cut = page.find(NOTEBOOK_START)
    if cut < 0:
        return None
    head = re.sub(r"<script\b", f'<script nonce="{nonce}"', page[:cut], flags=re.IGNORECASE)
    return head + page[cut:]


class SubmissionPagePolicy(OutputTransform):
    """Adds the policy to the submission page, and the nonce to nbgrader's scripts in it."""

    def __init__(self, request):
        super().__init__(request)
        self._applies = request.method in ("GET", "HEAD") and bool(SUBMISSION_PAGE.search(request.path))

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        content_type = headers.get("Content-Type", "")
        if not (self._applies and status_code == 200 and content_type.startswith("text/html")):
            return status_code, headers, chunk
        nonce = secrets.token_urlsafe(18)
        page = nonce_template_scripts(chunk.decode("utf-8", errors="replace"), nonce) if finishing else None
        if page is None:
            nonce = secrets.token_urlsafe(18)  # one no script carries: nothing runs
        else:
            chunk = page.encode("utf-8")
            if "Content-Length" in headers:
                headers["Content-Length"] = str(len(chunk))
        headers["Content-Security-Policy"] = policy(nonce)
        headers["Cache-Control"] = "no-store"
        headers.pop("Etag", None)
        return status_code, headers, chunk


def _jupyter_server_extension_points():
    return [{"module": "grader.orchestration.formgrader_csp"}]


def _load_jupyter_server_extension(serverapp) -> None:
    # First: it must see the page before any compressing transform does.
    serverapp.web_app.transforms.insert(0, SubmissionPagePolicy)
    serverapp.log.info("gpt2-course: Formgrader's submission page is sent with a Content-Security-Policy")


load_jupyter_server_extension = _load_jupyter_server_extension  # the older name
