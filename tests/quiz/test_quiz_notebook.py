"""End to end without a browser: a notebook executed by nbclient, exported by nbconvert.

Front ends without a widget manager (nbconvert HTML, GitHub, nbviewer, a terminal) must get
the static fallback, never a bare ``VBox(...)`` repr.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

REPO = Path(__file__).resolve().parents[2]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

CELLS = [
    "from quiz import show_quiz",
    'show_quiz("quiz.json", "pre")',
    'show_quiz("quiz.json", ids=["causal-mask"])',
    'import os\nos.environ["NBGRADER_EXECUTION"] = "autograde"\nshow_quiz("quiz.json", "post")',
    'del os.environ["NBGRADER_EXECUTION"]\nshow_quiz("quiz.json", ids=["no-such-id"])',
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The demo lesson notebook, executed once for all tests in this module."""
    folder = tmp_path_factory.mktemp("nb")
    fixtures = Path(__file__).resolve().parent / "fixtures" / "demo-lesson"
    for name in ("quiz.json", "quiz.en.json"):
        (folder / name).write_bytes((fixtures / name).read_bytes())
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.cells[-1].metadata["tags"] = ["raises-exception"]
    env = {
        **os.environ,
        "QUIZ_LEARNER": "nb-learner",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "XDG_CONFIG_HOME": str(folder / "config"),
    }
    env.pop("GPT2_COURSE_LANG", None)
    env.pop("NBGRADER_EXECUTION", None)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute(env=env)  # store_widget_state is on, as in nbclient's default
    return nb, folder


def outputs(nb, index):
    return nb.cells[index].outputs


def test_show_quiz_output_carries_widget_and_static_fallback(executed):
    nb, _ = executed
    (output,) = outputs(nb, 1)
    assert output.output_type == "display_data"
    data = output.data
    assert WIDGET_VIEW in data
    # the pre quiz: its static version holds no answer (the post stage, which asks it again, does)
    assert "gpt2-quiz-static" in data["text/html"] and "<details>" not in data["text/html"]
    assert "答案在课后测验中揭晓" in data["text/html"]
    assert "缩放点积注意力" in data["text/html"]
    assert "在缩放点积注意力中" in data["text/plain"]
    for text in (data["text/html"], data["text/plain"]):
        assert "VBox(" not in text and "Widget(" not in text


def test_one_check_question_in_its_own_cell(executed):
    nb, _ = executed
    (output,) = outputs(nb, 2)
    assert "因果掩码" in output.data["text/plain"]
    assert "多头注意力" not in output.data["text/plain"]


def test_nbgrader_execution_gets_static_output_only(executed):
    nb, _ = executed
    (output,) = outputs(nb, 3)
    assert WIDGET_VIEW not in output.data
    assert "自注意力中的 Q、K、V" in output.data["text/html"]


def test_bad_ids_give_a_short_readable_error(executed):
    nb, _ = executed
    (error,) = outputs(nb, 4)
    assert error.output_type == "error" and error.ename == "QuizError"
    joined = "\n".join(error.traceback)
    assert "no question has the id 'no-such-id'" in joined
    assert "File " not in joined and "site-packages" not in joined  # no stack trace


def test_nbconvert_html_without_widget_state_shows_static_quiz(executed):
    nb, _ = executed
    saved = copy.deepcopy(nb)
    saved.metadata.pop("widgets", None)  # as JupyterLab saves by default, as GitHub sees it
    html, _ = HTMLExporter().from_notebook_node(saved)
    assert "gpt2-quiz-static" in html and "<details>" in html
    assert "在缩放点积注意力中" in html and "显示答案与解析" in html
    assert "Widget(" not in html and "VBox(" not in html
    assert '<script type="application/vnd.jupyter.widget-view+json">' not in html


def test_nbconvert_html_with_widget_state_has_the_widget_and_no_repr(executed):
    nb, _ = executed
    assert "widgets" in nb.metadata  # nbclient stores widget state by default
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert '<script type="application/vnd.jupyter.widget-view+json">' in html
    assert "Widget(" not in html and "VBox(" not in html
    state = str(nb.metadata["widgets"])
    assert "检查答案" in state and "在缩放点积注意力中" in state  # the html-manager can draw it


def test_plain_python_prints_the_text_fallback(demo_quiz):
    code = f"from quiz import show_quiz; show_quiz({str(demo_quiz)!r}, 'pre')"
    env = {**os.environ, "QUIZ_LEARNER": "cli", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "在缩放点积注意力中" in result.stdout and "A. " in result.stdout
    assert "python -m quiz take" in result.stdout
    assert "VBox(" not in result.stdout and "Widget(" not in result.stdout
