"""Attacks on the instructor through a submission's content: none of it may stay active.

A student's markdown and raw cells and every output their code displays are shown to the
instructor (Formgrader, in the instructor's logged-in server) and in the feedback HTML.
``grader.plugins.inert`` makes them inert before the graded notebook is stored; the HTML export
sanitizes again (for notebooks graded before); Formgrader's submission page has a
Content-Security-Policy (``grader.orchestration.formgrader_csp``). The browser test
(tests/browser/test_formgrader_inert.py) shows the same in Chromium.
"""

from __future__ import annotations

import base64
import copy
import re
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from grader import catalog, formgrader
from grader.orchestration import formgrader_csp
from grader.plugins import inert

# A 1x1 PNG: what a correct submission's plot stands for.
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
PWN = "window.__pwned=1;fetch('/api/contents')"

MARKDOWN_PAYLOADS = [
    f"<img src=x onerror=\"{PWN}\">",
    f"<script>{PWN}</script>",
    f"[click me](javascript:{PWN})",
    "[tab](java\tscript:alert(1)) and [entity](javascript&#58;alert(1))",
    f"<javascript:{PWN}>",
    f"![pic](javascript:{PWN})",
    f"<a href=\"JaVaScRiPt:{PWN}\">link</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data link</a>",
    f"<iframe src=\"javascript:{PWN}\"></iframe>",
    "<object data=\"/api/contents\"></object><embed src=\"/api/contents\">",
    "<form action=\"/api/contents\" method=\"post\"><input name=a><button>save</button></form>",
    "<meta http-equiv=\"refresh\" content=\"0;url=/api/contents\">",
    f"<svg onload=\"{PWN}\"><script>{PWN}</script></svg>",
    f"<math><mtext><table><mglyph><style><img src=x onerror=\"{PWN}\">",
    "<style>body { display: none }</style><link rel=stylesheet href=//evil.example/x.css>",
    "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%;background:url(//evil.example/x)\">cover</div>",
    "<base href=\"//evil.example/\">",
    f"<details open ontoggle=\"{PWN}\"><summary>s</summary></details>",
    f"<!--><img src=x onerror=\"{PWN}\">-->",
    f"<noscript><p title=\"</noscript><img src=x onerror={PWN}>\"></noscript>",
]

HTML_PAYLOAD = (
    f"<b>bold</b><script>{PWN}</script><img src=x onerror=\"{PWN}\">"
    f"<iframe srcdoc=\"<script>{PWN}</script>\"></iframe><a href=\"javascript:{PWN}\">a</a>"
    "<form action=/api/contents><button formaction=/api/contents>go</button></form>"
    "<meta http-equiv=refresh content=\"0;url=/x\"><style>*{display:none}</style>"
    f"<svg><script>{PWN}</script></svg><object data=x></object><embed src=x>"
)
SVG_PAYLOAD = f"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"{PWN}\"><script>{PWN}</script></svg>"
TABLE = (
    "<table border=\"1\" class=\"dataframe\"><thead><tr style=\"text-align: right;\"><th></th>"
    "<th>loss</th></tr></thead><tbody><tr><th>0</th><td>3.21</td></tr><tr><th>1</th><td>2.87</td></tr>"
    "</tbody></table>"
)
ERROR = new_output("error", ename="AssertionError", evalue="add(1, 2) <script>x</script> should be 3",
                   traceback=["\x1b[0;31mAssertionError\x1b[0m: add(1, 2) <script>x</script> should be 3"])
ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "applet", "form", "meta", "base", "link",
               "style", "svg", "math", "input", "button", "textarea", "noscript", "template"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc", "background", "poster"}


def active_parts(html: str) -> list[str]:
    """Everything in ``html`` a browser could run, load or submit (parsed the way a browser
    parses it: html5lib, which bleach vendors)."""
    from bleach._vendor import html5lib

    found = []
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    for element in fragment.iter():
        if not isinstance(element.tag, str):
            continue  # a comment
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ACTIVE_TAGS:
            found.append(f"<{tag}>")
        for name, value in element.attrib.items():
            name = name.rsplit("}", 1)[-1].lower()
            if name.startswith("on"):
                found.append(f"{tag} {name}=")
            if name == "style" and re.search(r"url\(|position|expression", value, re.I):
                found.append(f"{tag} style={value}")
            if name in URL_ATTRIBUTES:
                url = re.sub(r"[\x00-\x20]+", "", value).lower()
                if re.match(r"(javascript|vbscript|data):", url) and not re.match(r"data:image/(png|jpeg|gif|webp)", url):
                    found.append(f"{tag} {name}={value[:40]}")
    return found


def without_grading_ui(html: str) -> str:
    """nbgrader's template puts its own buttons, score boxes and comment boxes beside graded
    cells, and draws SVG outputs as <img src="data:image/svg+xml..."> (inert: an image runs no
    script). Take those out before looking for the student's."""
    soup = BeautifulSoup(html, "html.parser")
    for element in soup.select("button.mark-graded, button.full-credit, button.no-credit, input.score, "
                               "input.extra-credit, textarea.comment, .output_svg > img[src^='data:image/svg+xml']"):
        element.decompose()
    for frame in soup.select("iframe.isolated-iframe"):  # nbconvert's frame for an "isolated" output
        content = base64.b64decode(frame["src"].split("base64,", 1)[1]).decode()
        assert active_parts(content) == [], content
        frame.decompose()
    return str(soup)


def payload_notebook():
    cells = [new_markdown_cell("# Toy lesson\n\nPlain text, `<unk>` in code, $a < b$, a [link](https://example.org).")]
    cells += [new_markdown_cell(p) for p in MARKDOWN_PAYLOADS]
    cells.append(new_raw_cell(f"<script>{PWN}</script><img src=x onerror=\"{PWN}\"><b>raw</b>"))
    cells.append(new_code_cell("show()", execution_count=3, outputs=[
        new_output("display_data", data={"text/html": HTML_PAYLOAD, "text/plain": "<IPython.core.display.HTML>"}),
        new_output("display_data", data={"application/javascript": PWN, "text/plain": "<Javascript>"}),
        new_output("display_data", data={"application/javascript": PWN}),
        new_output("display_data", data={"text/markdown": f"[x](javascript:{PWN}) <img src=x onerror=\"{PWN}\">",
                                         "text/plain": "<Markdown>"}),
        new_output("display_data", data={"image/svg+xml": SVG_PAYLOAD, "text/plain": "<SVG>"}),
        new_output("display_data", data={"text/html": "<b>isolated</b>"},
                   metadata={"text/html": {"isolated": True}, "filenames": {"image/png": "javascript:x"}}),
        new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/html": "<style>.q{color:red}</style><div class=\"gpt2-quiz-static\"><p>What is 1 + 2?</p>"
                         "<ol type=\"A\"><li>3</li><li>4</li></ol><details><summary>Show the answer</summary>"
                         "<p><strong>The right answer</strong>: A. 3</p></details></div>",
            "text/plain": "QuizView"}),
    ]))
    cells.append(new_code_cell("plot()", execution_count=4, outputs=[
        new_output("stream", name="stdout", text="loss <script>not html</script> 3.2\n"),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
                   metadata={"image/png": {"width": 10, "height": 10}}),
        new_output("execute_result", data={"text/html": TABLE, "text/plain": "   loss\n0  3.21"}, execution_count=4),
    ]))
    test = new_code_cell("expect_equal(add(1, 2), 3)", execution_count=5, outputs=[copy.deepcopy(ERROR)])
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_add", "points": 2, "solution": False,
                                 "locked": True, "schema_version": 3}
    cells.append(test)
    nb = new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {
        "model_name": "HTMLModel", "state": {"value": f"<img src=x onerror=\"{PWN}\">"}}}}}
    return nb


def rendered(cell) -> str:
    """What the instructor's page gets from a cell (markdown rendered as nbconvert renders it)."""
    if cell.cell_type == "markdown":
        return inert.render_markdown(cell.source, cell.get("attachments"))
    return cell.source


def test_payloads_are_active_to_begin_with():
    """The check sees every payload (else the next test proves nothing)."""
    nb = payload_notebook()
    for cell in nb.cells[1:len(MARKDOWN_PAYLOADS) + 2]:
        assert active_parts(rendered(cell)), cell.source
    outputs = nb.cells[len(MARKDOWN_PAYLOADS) + 2].outputs
    assert active_parts(outputs[0].data["text/html"])
    assert active_parts(inert.render_markdown(outputs[3].data["text/markdown"]))


def test_student_content_is_inert_and_the_rest_survives():
    nb = inert.inert_copy(payload_notebook())
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type in ("markdown", "raw"):
            assert active_parts(rendered(cell)) == [], cell.source
            assert "<script" not in cell.source.lower()
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert set(data) <= {"text/plain", "text/html", "text/markdown", "image/png"}, data.keys()
            for mime in ("text/html", "text/markdown"):
                if mime in data:
                    html = data[mime] if mime == "text/html" else inert.render_markdown(data[mime])
                    assert active_parts(html) == [], html
            assert "isolated" not in str(output.get("metadata", {})) and "filenames" not in output.get("metadata", {})
    assert "widgets" not in nb.metadata

    markdown = {c.source for c in nb.cells if c.cell_type == "markdown"}
    # an ordinary cell is left exactly as it was (nbgrader's checksums stay right)
    assert payload_notebook().cells[0].source in markdown
    # what the student typed is shown as text, not dropped
    assert any("&lt;script&gt;" in source for source in markdown)
    display, javascript, javascript_only, markdown_out, svg, isolated, quiz = nb.cells[-3].outputs
    assert "<b>bold</b>" in display.data["text/html"]
    assert javascript.data == {"text/plain": "<Javascript>"}
    assert "application/javascript" in javascript_only.data["text/plain"]  # says what was removed
    assert svg.data == {"text/plain": "<SVG>"}
    # the course's quiz: the widget view goes, its HTML fallback stays readable (no CSS text)
    assert "application/vnd.jupyter.widget-view+json" not in quiz.data
    quiz_text = BeautifulSoup(quiz.data["text/html"], "html.parser").get_text()
    assert "What is 1 + 2?" in quiz_text and "The right answer" in quiz_text and "color" not in quiz_text
    assert "<details>" in quiz.data["text/html"]
    # a plot, a table, printed text and the error that makes a test cell score 0 stay
    stream, png, table = nb.cells[-2].outputs
    assert stream == payload_notebook().cells[-2].outputs[0]
    assert png.data["image/png"] == PNG and png.metadata == {"image/png": {"width": 10, "height": 10}}
    soup = BeautifulSoup(table.data["text/html"], "html.parser")
    assert [th.get_text() for th in soup.select("thead th")] == ["", "loss"]
    assert [td.get_text() for td in soup.select("tbody td")] == ["3.21", "2.87"]
    assert soup.select_one("thead tr")["style"].replace(" ", "") == "text-align:right;"
    assert nb.cells[-1].outputs == [ERROR]
    assert nb.cells[-1].metadata["nbgrader"]["grade_id"] == "test_add"


def test_unchanged_cells_keep_their_checksum():
    """An answer cell left as the stub scores 0 because its checksum is the source's: it must
    not change, and neither may ordinary lesson text."""
    from nbgrader.utils import compute_checksum

    texts = ["YOUR ANSWER HERE", "| a | b |\n|:--|--:|\n| 1 | 2 |", "```python\nx = 1 < 2\n```",
             "> **EN** quote & `<|endoftext|>`", "$$\\frac{a}{b}$$", "<details><summary>s</summary>t</details>"]
    for text in texts:
        cell = new_markdown_cell(text)
        cell.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "q", "points": 1,
                                     "schema_version": 3}
        cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
        nb = inert.inert_copy(new_notebook(cells=[cell]))
        assert nb.cells[0].source == text
        assert compute_checksum(nb.cells[0]) == cell.metadata.nbgrader["checksum"]


def test_the_lessons_markdown_is_left_alone():
    lessons = sorted((catalog.REPO_DIR / "lessons").glob("**/*.ipynb"))
    assert lessons
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                assert inert.inert_markdown(cell.source, cell.get("attachments")) == cell.source, (path, cell.source[:80])


def test_a_replaced_markdown_cell_stays_one_raw_html_block():
    """A replaced cell must not be read as Markdown again: a blank line inside a list item's code
    would end an HTML block, and a [link](javascript:...) after it would come back to life."""
    source = f"- item\n\n  ```\n  a\n\n  [x](javascript:{PWN})\n  ```\n\n<img src=x onerror=\"{PWN}\">"
    safe = inert.inert_markdown(source)
    assert "\n" not in safe
    assert inert.render_markdown(safe).strip() == safe
    assert active_parts(inert.render_markdown(safe)) == []


def test_attachments_keep_only_images():
    cell = new_markdown_cell("![plot](attachment:plot.png)")
    cell.attachments = {"plot.png": {"image/png": PNG, "image/svg+xml": base64.b64encode(SVG_PAYLOAD.encode()).decode(),
                                     "text/html": "PHNjcmlwdD4="}}
    nb = inert.inert_copy(new_notebook(cells=[cell]))
    assert nb.cells[0].attachments == {"plot.png": {"image/png": PNG}}
    assert nb.cells[0].source == "![plot](attachment:plot.png)"


def test_html_export_sanitizes_notebooks_graded_before(tmp_path):
    """Formgrader and the feedback render with the course's HTMLExporter settings; nbgrader's
    templates pass markdown cells only through strip_files_prefix, which must sanitize too."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    course = PyFileConfigLoader("nbgrader_config.py", path=str(catalog.GRADER_DIR)).load_config()
    assert course.HTMLExporter.sanitize_html is True
    assert course.HTMLExporter.filters == inert.EXPORT_FILTERS
    names = [p.__name__ for p in course.Autograde.autograde_preprocessors]
    assert names[:3] == ["GradingExecute", "StderrIsNotFailure", "InertStudentContent"], names
    assert names.index("InertStudentContent") < names.index("SaveAutoGrades")

    nb = payload_notebook()
    nb.cells[-1].metadata.nbgrader["score"] = 0  # GetGrades puts the scores in for the feedback
    for template in ("formgrade", "feedback"):
        config = Config(HTMLExporter=course.HTMLExporter)
        config.HTMLExporter.template_name = template
        config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
        config.HTMLExporter.extra_template_paths = [  # as GenerateFeedback sets it
            str(Path(handlers.static_path) / "node_modules" / "bootstrap" / "dist" / "css")]
        resources = {  # what nbgrader's SubmissionHandler and GenerateFeedback pass
            "base_url": "", "assignment_id": "99-toy", "notebook_id": "99-toy", "submission_id": "abc",
            "index": 0, "total": 1, "student": "mallory", "last_name": None, "first_name": None,
            "notebook_path": "autograded/mallory/99-toy/99-toy.ipynb",
            "nbgrader": {"notebook": "99-toy", "score": 0, "max_score": 2, "late_penalty": 0},
        }
        html, _ = HTMLExporter(config=config).from_notebook_node(copy.deepcopy(nb), resources=resources)
        notebook_part = without_grading_ui(html[html.index('id="notebook-container"'):])
        assert active_parts(notebook_part) == [], (template, active_parts(notebook_part))
        soup = BeautifulSoup(notebook_part, "html.parser")
        assert soup.select("table.dataframe thead th"), "the table is not a table any more"
        assert soup.select('img[src^="data:image/png"]'), "the plot is gone"
        assert "AssertionError" in soup.get_text()


def test_formgrader_server_sanitizes_and_loads_the_policy():
    command = formgrader.lab_command(8888, open_browser=False)
    assert "--HTMLExporter.sanitize_html=True" in command
    assert "--ServerApp.jpserver_extensions=grader.orchestration.formgrader_csp=True" in command
    env = formgrader.instructor_environment(Path("/tmp/config"))
    assert str(catalog.REPO_DIR) in env["PYTHONPATH"].split(":")


def test_the_policy_nonces_only_the_template_scripts():
    page = ("<html><head><script src=\"/formgrader/static/jquery.js\"></script><SCRIPT>var a;</SCRIPT></head>"
            "<body><nav><span onclick=\"toggle_name(true);\"></span></nav><div class=\"container\" "
            "id=\"notebook-container\"><script>student()</script><p id=\"notebook-container\"><script>x()</script>"
            "</p></div></body></html>")
    nonced = formgrader_csp.nonce_template_scripts(page, "N0nce")
    head, notebook = nonced.split('id="notebook-container"', 1)
    assert head.count('nonce="N0nce"') == 2
    assert "nonce" not in notebook
    assert formgrader_csp.nonce_template_scripts("<html><script></script></html>", "N") is None
    csp = formgrader_csp.policy("N0nce")
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert "'nonce-N0nce'" in directives["script-src"] and "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in csp and "*" not in csp.replace("'sha256-", "")
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'self'"
    assert directives["frame-ancestors"] == "'self'"


def test_nbgrader_s_registration_runs_it():
    """nbgrader registers its pipeline's preprocessors without enabling them: it must run anyway."""
    from nbconvert.exporters import NotebookExporter

    exporter = NotebookExporter()
    exporter.register_preprocessor(inert.InertStudentContent)  # what nbgrader's Autograde does
    out, _ = exporter.from_notebook_node(payload_notebook())
    nb = nbformat.reads(out, as_version=4)
    assert not any("application/javascript" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert "widgets" not in nb.metadata
    assert nb.cells[-1].outputs == [ERROR]
