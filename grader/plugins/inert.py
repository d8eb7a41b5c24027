"""Student content made inert: nothing a student writes or prints runs in a grader's browser.

A submission's markdown and raw cells are the student's text, and its outputs are whatever the
student's code displayed; Formgrader (the instructor's logged-in JupyterLab server) and the
feedback HTML show both. Left alone, ``<img src=x onerror=...>`` in a markdown cell,
``display(HTML("<script>..."))``, ``display(Javascript(...))``, ``[link](javascript:...)``, SVG
with script, ``<iframe>``, ``<form>``, ``<meta http-equiv=refresh>`` or page-wide ``<style>``
run with the instructor's session (they can use the Jupyter API: read and write any file of the
course, ``nbgrader_config.py`` included). Three layers, each enough on its own for HTML:

1. ``InertStudentContent`` (an nbconvert preprocessor, in ``c.Autograde.autograde_preprocessors``
   right after the execution): before the autograded notebook is stored,

   * every output keeps only inert data: ``text/plain``, ``text/latex``, ``application/json``,
     ``image/png`` and ``image/jpeg`` as they are, ``text/html`` and ``text/markdown``
     sanitized; ``application/javascript``, ``image/svg+xml``, widget views and every other
     type are dropped (a ``display_data`` left with nothing says in ``text/plain`` what was
     removed; an ``execute_result`` keeps IPython's ``text/plain``, which nbgrader reads).
     ``stream`` and ``error`` outputs are never touched: an error output is what makes a test
     cell score 0. Output metadata loses ``filenames`` and ``isolated``.
   * a markdown cell (and a ``text/markdown`` output) is rendered the way nbconvert renders it
     and sanitized; only if the sanitizer changed something (the two parsed by html5lib, the
     parser bleach uses, differ) is the cell replaced, by the
     sanitized HTML as one raw-HTML line that no Markdown renderer re-reads as Markdown (the
     student's tags show as text). Sanitizing the Markdown *source* as HTML, as nbconvert's
     ``SanitizeHTML`` does, is not enough: ``[x](javascript:...)`` has no tag in it. Cells
     without anything to remove stay byte for byte as they were, so nbgrader's checksums (an
     unanswered answer cell scores 0) are not disturbed. Raw cells: the same, as HTML.
   * attachments of markdown cells keep only PNG, JPEG and GIF images; the notebook's saved
     widget state (``metadata.widgets``) is dropped; an ``execution_count`` that is not a
     number becomes None.

2. HTML export (``generate_feedback``, Formgrader): ``c.HTMLExporter.sanitize_html = True`` plus
   ``EXPORT_FILTERS``. nbconvert's own ``clean_html`` knows a dozen tags (a pandas table or a
   heading comes out as ``&lt;th&gt;`` text), so ``clean_html`` is replaced by this module's
   sanitizer. nbgrader's ``formgrade`` and ``feedback`` templates render markdown cells as
   ``cell.source | markdown2html | strip_files_prefix`` without ``clean_html`` whatever
   ``sanitize_html`` says, so ``strip_files_prefix`` is replaced by one that also sanitizes:
   notebooks autograded before this module existed are shown inert too.

3. The browser: Formgrader's submission page has a Content-Security-Policy without
   ``'unsafe-inline'`` (``grader.orchestration.formgrader_csp``).

The sanitizer is bleach (nbconvert's own dependency) with a whitelist of presentational tags
(headings, paragraphs, lists, tables, code, images, ``<details>``), ``class`` and ``title``
attributes (headings also ``id``, for nbconvert's anchor links), ``style`` through bleach's
CSS sanitizer (colours, alignment, fonts; no positioning, no URLs), and relative, http, https
and mailto links only; images may also be data URLs of PNG, JPEG, GIF or WebP, or a cell's
``attachment:``. What a student typed (markdown, raw cells) keeps its other tags as visible
text, as nbconvert's ``SanitizeHTML`` does; in HTML *outputs*, BeautifulSoup first drops the
elements whose content must not survive as text (script, style, iframe, object, ...), inline
SVG becomes its ``aria-label`` as ``<code>`` (the quiz's formulas), and bleach strips the
other tags. Everything that decides what is allowed is bleach's; the pre-pass only removes.
"""

from __future__ import annotations

import copy
import functools
import re

import bleach
from bleach._vendor import html5lib  # the parser bleach itself uses
from bleach.css_sanitizer import ALLOWED_CSS_PROPERTIES, CSSSanitizer
from bs4 import BeautifulSoup
from nbconvert.filters import strip_files_prefix as _nbconvert_strip_files_prefix
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Bool, Set

__all__ = [
    "EXPORT_FILTERS",
    "InertStudentContent",
    "clean_html",
    "escaped_html",
    "inert_html",
    "inert_markdown",
    "strip_files_prefix",
]

TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
_EVERY_TAG = ("class", "title", "style")
ATTRIBUTES = {
    "*": list(_EVERY_TAG),
    "a": [*_EVERY_TAG, "href"],
    "img": [*_EVERY_TAG, "src", "alt", "width", "height"],
    "ol": [*_EVERY_TAG, "start", "type"],
    "li": [*_EVERY_TAG, "value"],
    "table": [*_EVERY_TAG, "border"],
    "th": [*_EVERY_TAG, "colspan", "rowspan", "scope", "align"],
    "td": [*_EVERY_TAG, "colspan", "rowspan", "align"],
    "col": [*_EVERY_TAG, "span"],
    "colgroup": [*_EVERY_TAG, "span"],
    "details": [*_EVERY_TAG, "open"],
    # nbconvert's Markdown renderer gives headings an id for their anchor links
    **{f"h{n}": [*_EVERY_TAG, "id"] for n in range(1, 7)},
}
PROTOCOLS = frozenset({"http", "https", "mailto", "data", "attachment"})
# data: only for images, and only these; attachment: (a markdown cell's own attachments) too.
IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg|gif|webp)[;,]")
ATTACHMENT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})

# Elements dropped with their content before bleach (otherwise their text would show).
DROPPED_ELEMENTS = (
    "script", "style", "template", "iframe", "frame", "frameset", "object", "embed", "applet",
    "noscript", "noembed", "noframes", "title", "head", "meta", "link", "base", "math",
    "textarea", "select", "button", "audio", "video", "canvas", "xmp", "plaintext",
)

KEPT_OUTPUT_TYPES = frozenset({"text/plain", "text/latex", "application/json", "image/png", "image/jpeg"})
SANITIZED_OUTPUT_TYPES = frozenset({"text/html", "text/markdown"})
INERT_MARKDOWN_CLASS = "gpt2-inert-markdown"


def _uri(value: str) -> str:
    """A URL the way bleach compares it (no whitespace or control characters, lower case)."""
    return re.sub(r"[`\000-\040\177-\240\s]+", "", value).lower()


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name not in ATTRIBUTES.get(tag, ATTRIBUTES["*"]):
        return False
    if name in ("href", "src"):
        url = _uri(value)
        if url.startswith("data:"):
            return tag == "img" and name == "src" and bool(IMAGE_DATA_URL.match(url))
        if url.startswith("attachment:"):
            return tag == "img"
    return True


_CLEANERS = {
    strip: bleach.Cleaner(
        tags=TAGS,
        attributes=_allowed_attribute,
        protocols=PROTOCOLS,
        strip=strip,
        strip_comments=True,
        css_sanitizer=CSSSanitizer(allowed_css_properties=ALLOWED_CSS_PROPERTIES),
    )
    for strip in (False, True)
}


def _drop_active_elements(html: str) -> str:
    """Remove the elements whose content would otherwise survive as text (see module doc).
    Only removes: bleach decides what stays."""
    if "<" not in html:
        return html
    soup = BeautifulSoup(html, "html.parser")
    for svg in soup.find_all("svg"):
        label = svg.get("aria-label")
        if isinstance(label, str) and label.strip():
            code = soup.new_tag("code")
            code.string = label
            svg.replace_with(code)
        else:
            svg.decompose()
    for element in soup.find_all(DROPPED_ELEMENTS):
        element.decompose()
    return str(soup)


def _text(html) -> str:
    if isinstance(html, bytes):
        return html.decode("utf-8", errors="replace")
    return "".join(html) if isinstance(html, list) else str(html)  # nbformat allows a list of lines


def inert_html(html) -> str:
    """HTML someone's code displayed, with only the whitelisted tags, attributes, styles and URLs:
    active elements go with their content, other tags go and leave their text."""
    return _CLEANERS[True].clean(_drop_active_elements(_text(html)))


def escaped_html(html) -> str:
    """HTML a student typed, with only the whitelisted tags, attributes, styles and URLs: other
    tags are shown as text (what nbconvert's SanitizeHTML does)."""
    return _CLEANERS[False].clean(_text(html))


def _shape(html: str) -> list:
    """What a browser builds from ``html`` (html5lib, the parser bleach itself uses), as a list
    of tokens that compare equal when the two documents are the same."""
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    shape: list = []
    for token in html5lib.getTreeWalker("etree")(fragment):
        kind = token["type"]
        if kind in ("Characters", "SpaceCharacters"):
            if shape and shape[-1][0] == "text":
                shape[-1] = ("text", shape[-1][1] + token["data"])
            else:
                shape.append(("text", token["data"]))
            continue
        attributes = token.get("data")
        if kind in ("StartTag", "EmptyTag"):
            # bleach's CSS sanitizer writes "a: b" as "a:b;": the same style
            attributes = sorted(
                ((namespace or "", name), re.sub(r"\s+", "", value).rstrip(";") if name == "style" else value)
                for (namespace, name), value in (attributes or {}).items()
            )
        shape.append((kind, token.get("namespace"), token.get("name"), attributes))
    return shape


def _changed(original: str, sanitized: str) -> bool:
    return _shape(original) != _shape(sanitized)


def _one_html_line(html: str) -> str:
    """Sanitized HTML as a markdown cell's source that every Markdown renderer passes through as
    raw HTML: one line starting with <div> (an HTML block that only a blank line ends); the
    line breaks become &#10; (the same character, inside <pre> too)."""
    return f'<div class="{INERT_MARKDOWN_CLASS}">' + html.replace("\r", "").replace("\n", "&#10;") + "</div>"


class _Attachments(dict):
    """A cell's attachments for nbconvert's renderer, which fails on a missing or empty one:
    that one becomes an empty PNG."""

    def __contains__(self, name) -> bool:
        return True

    def __getitem__(self, name):
        return dict.get(self, name) or {"image/png": ""}


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown to HTML as nbconvert's HTML export renders it (raw HTML passes through)."""
    renderer = IPythonRenderer(escape=False, attachments=_Attachments(attachments or {}))
    return MarkdownWithMath(renderer=renderer).render(source)


def inert_markdown(source, attachments: dict | None = None) -> str:
    """A markdown cell's (or ``text/markdown`` output's) text with nothing that can run: unchanged
    if rendering it leaves the sanitizer nothing to remove, else the sanitized rendering."""
    source = _text(source)
    if not attachments:  # most cells are the lesson's own prose, the same in every submission
        return _inert_markdown_text(source)
    return _inert_markdown(source, attachments)


@functools.lru_cache(maxsize=4096)
def _inert_markdown_text(source: str) -> str:
    return _inert_markdown(source, None)


def _inert_markdown(source: str, attachments: dict | None) -> str:
    rendered = render_markdown(source, attachments)
    sanitized = escaped_html(rendered)
    if not _changed(rendered, sanitized):
        return source
    return _one_html_line(sanitized)


def _inert_raw(source) -> str:
    source = _text(source)
    sanitized = escaped_html(source)
    return source if not _changed(source, sanitized) else sanitized


def clean_html(element) -> str:
    """nbconvert's ``clean_html`` filter with this module's whitelist (tables, headings, ...)."""
    return inert_html(element)


def strip_files_prefix(text) -> str:
    """nbconvert's ``strip_files_prefix`` filter, then sanitized: nbgrader's templates render
    markdown cells as ``markdown2html | strip_files_prefix`` and nothing else."""
    return escaped_html(_nbconvert_strip_files_prefix(text))


# c.HTMLExporter.filters: export-time sanitizing (see the module doc).
EXPORT_FILTERS = {"clean_html": clean_html, "strip_files_prefix": strip_files_prefix}


class InertStudentContent(SanitizeHTML):
    """Make a graded notebook's student content inert before it is stored (see the module doc).

    Goes in ``c.Autograde.autograde_preprocessors`` right after the execution (``GradingExecute``,
    ``StderrIsNotFailure``) and before ``SaveAutoGrades``. Error and stream outputs are kept as they are.
    """

    safe_output_keys = Set(
        default_value=set(KEPT_OUTPUT_TYPES),
        help="Output types kept as they are",
    ).tag(config=True)
    sanitized_output_types = Set(
        default_value=set(SANITIZED_OUTPUT_TYPES),
        help="Output types kept sanitized (text/html, text/markdown); every other type is dropped",
    ).tag(config=True)

    enabled = Bool(True, help="On: an nbgrader pipeline lists it to use it").tag(config=True)

    def preprocess(self, nb, resources):
        if self.config.GradingExecute.get("save_dir"):
            # A parallel grading worker (grader.orchestration.parallel): its autograded copy is thrown away, and
            # the parent, which stores the notebook, makes it inert. Nothing to do twice.
            return nb, resources
        widgets = nb.metadata.pop("widgets", None)
        if widgets is not None:
            self.log.info("Dropped the notebook's saved widget state")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            attachments = cell.get("attachments")
            if isinstance(attachments, dict):
                for name in list(attachments):
                    bundle = attachments[name]
                    if not isinstance(bundle, dict):
                        del attachments[name]
                        continue
                    for mime in [m for m in bundle if m not in ATTACHMENT_TYPES]:
                        del bundle[mime]
            else:
                attachments = None
            cell.source = inert_markdown(cell.source, attachments)
        elif cell.cell_type == "raw":
            cell.source = _inert_raw(cell.source)
        elif cell.cell_type == "code":
            count = cell.get("execution_count")
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                cell.execution_count = None
            cell.outputs = self.sanitize_code_outputs(cell.get("outputs", []))
        return cell, resources

    def sanitize_code_outputs(self, outputs):
        for output in outputs:
            if output.get("output_type") in ("stream", "error") or not isinstance(output.get("data"), dict):
                continue
            data = output["data"]
            removed = []
            for mime in list(data):
                if mime in self.safe_output_keys:
                    continue
                if mime in self.sanitized_output_types:
                    data[mime] = inert_markdown(data[mime]) if mime == "text/markdown" else inert_html(data[mime])
                else:
                    removed.append(mime)
                    del data[mime]
            if removed:
                self.log.info("Removed output type(s) %s", ", ".join(removed))
                # (an execute_result is left as it is: nbgrader reads its text/plain as a score)
                if not data and output.get("output_type") == "display_data":
                    data["text/plain"] = f"[output removed when graded: {', '.join(removed)}]"
            metadata = output.get("metadata")
            if isinstance(metadata, dict):
                metadata.pop("filenames", None)
                for mime in list(metadata):
                    if mime in removed:
                        del metadata[mime]
                if isinstance(metadata.get("text/html"), dict):
                    metadata["text/html"].pop("isolated", None)
        return outputs


def inert_copy(nb):
    """A copy of notebook ``nb`` with its student content made inert (for tests and tools)."""
    nb = copy.deepcopy(nb)
    return InertStudentContent().preprocess(nb, {})[0]
