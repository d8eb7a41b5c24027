"""The course home: the lessons found under ``lessons/``, a live progress table, and the
generated ``lessons/00-start-here.ipynb``.

The list of lessons has one source: the lesson folders present under ``lessons/``
(``NN-slug/NN-slug.ipynb``). The student side never imports ``grader``, so nothing here
keeps a second list.

    python -m quiz.home            (re)write lessons/00-start-here.ipynb from the folders
    python -m quiz.home --check    exit 1 if the file is not what the folders give

In the home notebook::

    from quiz import course_progress, language_picker
    language_picker()      # 中文 | English, saved for later kernels
    course_progress()      # one row per lesson, from each lesson's quiz-progress.jsonl
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from .answers import ANSWERS_FILE, read_answers
from .i18n import preferred_language, tr
from .loader import QuizError, load_quiz
from .progress import PROGRESS_FILE, matched_gain, read_records, stage_score
from .schema import STAGES
from .theme import style_tag

HOME_NAME = "00-start-here.ipynb"
LESSON_FOLDER = re.compile(r"^(\d{2})-[a-z0-9][a-z0-9-]*$")
REPO_LESSONS = Path(__file__).resolve().parents[1] / "lessons"


@dataclass(frozen=True)
class Lesson:
    slug: str
    folder: Path

    @property
    def number(self) -> str:
        return self.slug.split("-", 1)[0]

    @property
    def notebook(self) -> Path:
        return self.folder / f"{self.slug}.ipynb"

    @property
    def label(self) -> str:
        """``35-gpt-model-assembly`` → ``35 GPT model assembly`` (the slug is the only name)."""
        words = self.slug.split("-")[1:]
        pretty = {"gpt": "GPT", "bpe": "BPE", "multihead": "multi-head", "eval": "evaluation"}
        text = " ".join(pretty.get(word, word) for word in words)
        return f"{self.number} {text[:1].upper()}{text[1:]}"


def find_lessons(root: str | Path) -> list[Lesson]:
    """Every ``NN-slug/`` folder under ``root`` that holds ``NN-slug.ipynb``, by number."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [
        Lesson(path.name, path)
        for path in root.iterdir()
        if path.is_dir() and LESSON_FOLDER.match(path.name) and (path / f"{path.name}.ipynb").is_file()
    ]
    return sorted(found, key=lambda lesson: lesson.slug)


def lessons_root(start: str | Path | None = None) -> Path:
    """The folder that holds the lessons: ``start`` (default: the working directory, which
    is ``lessons/`` for a kernel started by the home notebook) if it has lesson folders,
    else its ``lessons/`` subfolder."""
    base = Path.cwd() if start is None else Path(start)
    return base if find_lessons(base) else base / "lessons"


# --- the progress table ------------------------------------------------------------------


@dataclass(frozen=True)
class LessonProgress:
    lesson: Lesson
    scores: dict  # stage -> StageScore (stages this quiz asks)
    gain: object | None  # MatchedGain, or None without pre questions
    problem: str | None = None


def lesson_progress(lesson: Lesson) -> LessonProgress:
    quiz_path = lesson.folder / "quiz.json"
    try:
        quiz = load_quiz(quiz_path)
    except QuizError as exc:
        return LessonProgress(lesson, {}, None, problem=str(exc).splitlines()[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a damaged line: the lesson shows it
        attempts = read_records(lesson.folder / PROGRESS_FILE)  # answers and reveals, in order
    name = str(quiz.lesson)
    saved = read_answers(lesson.folder / ANSWERS_FILE, name).answers if quiz.keyless else None
    scores = {stage: stage_score(quiz, stage, attempts, name, saved) for stage in STAGES}
    scores = {stage: score for stage, score in scores.items() if score.total or score.graded_total}
    gain = matched_gain(quiz, attempts, name) if quiz.stage_indices("pre") else None
    return LessonProgress(lesson, scores, gain)


class CourseProgress:
    """What :func:`course_progress` returns: an HTML table in Jupyter, text elsewhere."""

    def __init__(self, rows: list[LessonProgress], lang: str, root: Path):
        self.rows, self.lang, self.root = rows, lang, root

    def _cells(self, row: LessonProgress) -> list[str]:
        lang = self.lang
        if row.problem:
            return [row.problem, "", "", ""]
        cells = []
        for stage in STAGES:
            score = row.scores.get(stage)
            if score is None:
                cells.append("—")
                continue
            parts = []
            if stage == "pre" and row.gain is not None and row.gain.waiting:  # verdicts not out yet
                parts.append(tr("home_cell_blind", lang, answered=score.answered, total=score.total))
            elif score.total:
                parts.append(tr("home_cell", lang, answered=score.answered, total=score.total, right=score.first_correct))
            if score.graded_total:  # a course release: saved answers, scored on submission
                parts.append(tr("home_graded", lang, answered=score.graded_answered, total=score.graded_total))
            cells.append("; ".join(parts))
        cells.append(gain_cell(row.gain, lang))
        return cells

    def headers(self) -> list[str]:
        lang = self.lang
        return [tr("home_lesson", lang), *(tr(f"stage_{s}", lang) for s in STAGES), tr("home_gain", lang)]

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p>{html.escape(tr('home_none', self.lang, root=str(self.root)))}</p>"
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers())
        body = []
        for row in self.rows:
            link = f"{row.lesson.slug}/{row.lesson.notebook.name}"
            first = f'<a href="{html.escape(link)}">{html.escape(row.lesson.label)}</a>'
            cells = "".join(f"<td>{_two_lines(c)}</td>" for c in self._cells(row))
            body.append(f"<tr><td>{first}</td>{cells}</tr>")
        note = html.escape(tr("home_note", self.lang))
        return (
            f'{style_tag()}<div class="gpt2-quiz-static gpt2-course-progress">'
            f'<table class="gpt2-course-progress-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
            f'<p class="gpt2-quiz-note">{note}</p></div>'
        )

    def __repr__(self) -> str:
        if not self.rows:
            return tr("home_none", self.lang, root=str(self.root))
        table = [self.headers()] + [[row.lesson.label, *self._cells(row)] for row in self.rows]
        widths = [max(_width(line[i]) for line in table) for i in range(len(table[0]))]
        lines = ["  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(line, widths)).rstrip() for line in table]
        return "\n".join(lines + ["", tr("home_note", self.lang)])


def gain_cell(gain, lang: str) -> str:
    """The lesson's before → after on the pre questions answered blind, with Hake's normalized gain
    ⟨g⟩ = (post − pre) / (100 − pre): "1/2 → 2/2, ⟨g⟩ = 1.00" (see :class:`quiz.progress.MatchedGain`)."""
    if gain is None:
        return "—"
    left_out = tr("home_left_out", lang, count=gain.left_out) if gain.left_out else ""
    if gain.pending == 0 and gain.counted == 0:
        return tr("home_gain_none", lang) + left_out
    if not gain.complete:
        return tr("home_gain_pending", lang) + left_out
    before, after = gain.before, gain.after
    g = gain.normalized
    return tr("home_gain_cell", lang, before=f"{before.first_correct}/{before.total}",
              after=f"{after.first_correct}/{after.total}",
              g=tr("home_gain_full", lang) if g is None else f"{g:.2f}") + left_out


def _two_lines(cell: str) -> str:
    """"answered 1/2, 1 right" as two lines in HTML, so a narrow column never breaks mid-phrase."""
    for separator in ("，", ", "):
        if separator in cell:
            first, rest = cell.split(separator, 1)
            return f"{html.escape(first)}<br>{html.escape(rest)}"
    return html.escape(cell)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def course_progress(root: str | Path | None = None, *, lang: str | None = None) -> CourseProgress:
    """One row per lesson folder under ``root`` (default: see :func:`lessons_root`): each
    stage's questions answered and right on the first try, and the pre → post result on the
    matched items answered blind, with ⟨g⟩ (:func:`gain_cell`). Counts come from
    :func:`quiz.progress.stage_score` and :func:`quiz.progress.matched_gain`, as in the lessons."""
    folder = lessons_root(root)
    rows = [lesson_progress(lesson) for lesson in find_lessons(folder)]
    return CourseProgress(rows, lang or preferred_language() or "zh", folder)


def language_picker():
    """中文 | English buttons that save the learner's quiz language (see :mod:`quiz.i18n`)."""
    import ipywidgets as W

    from .i18n import ENV_LANGUAGE, set_language

    current = preferred_language() or "zh"
    buttons = W.ToggleButtons(
        options=[("中文", "zh"), ("English", "en")], value=current,
        description=tr("language", current), style={"button_width": "6em"},
    )
    buttons.add_class("gpt2-quiz-language")
    status = W.HTML()

    def changed(change) -> None:
        set_language(change["new"])
        buttons.description = tr("language", change["new"])
        note = tr("language_saved", change["new"], name="中文" if change["new"] == "zh" else "English")
        import os

        if os.environ.get(ENV_LANGUAGE, "").strip():
            note += " " + tr("language_env_wins", change["new"], value=os.environ[ENV_LANGUAGE].strip())
        status.value = f'<span class="gpt2-quiz-note">{html.escape(note)}</span>'

    buttons.observe(changed, names="value")
    box = W.VBox([buttons, status])
    box.buttons, box.status = buttons, status  # for tests
    return box


# --- the home notebook -------------------------------------------------------------------

#: The Python the course is built and tested with (CI, the measured student setup).
COURSE_PYTHON = "3.11.7"
#: The metadata of every notebook the course generates (this home, and the lessons through
#: ``grader.build``): the kernel, and the ``language_info`` that kernel (ipykernel) reports, in
#: full. JupyterLab writes the kernel's ``language_info`` into the notebook as soon as the kernel
#: starts; a notebook that carries less (only ``{"name": "python"}``) is then changed, and opens
#: already marked modified. A kernel on another Python than :data:`COURSE_PYTHON` still rewrites
#: the ``version`` field, as it would in any notebook.
NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": COURSE_PYTHON,
    },
}


def notebook_metadata() -> dict:
    """A copy of :data:`NOTEBOOK_METADATA`."""
    return json.loads(json.dumps(NOTEBOOK_METADATA))


def _markdown(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": _lines(text)}


def _code(cell_id: str, text: str) -> dict:
    return {
        "cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {},
        "outputs": [], "source": _lines(text),
    }


def _lines(text: str) -> list[str]:
    lines = text.strip("\n").split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def home_notebook(root: str | Path = REPO_LESSONS) -> dict:
    """The home notebook for the lesson folders under ``root``."""
    lessons = find_lessons(root)
    nodes = "\n".join(f'    L{lesson.number}["{lesson.label}"]' for lesson in lessons)
    edges = "\n".join(f"    L{a.number} --> L{b.number}" for a, b in zip(lessons, lessons[1:]))
    links = "\n".join(
        f"{i}. [{lesson.label}]({lesson.slug}/{lesson.notebook.name})" for i, lesson in enumerate(lessons, 1)
    )
    cells = [
        _markdown("home-intro", """
# GPT-2 from scratch: start here · 从这里开始

In these lessons you build **GPT-2 small** (124M parameters) in PyTorch, piece by piece:
a byte-pair tokenizer, the dataset, embeddings, multi-head causal self-attention, the
transformer block, the full model, a training loop, and finally loading OpenAI's released
weights into your own code and generating text with them.

本课程用 PyTorch 一步步搭建 **GPT-2 small**（1.24 亿参数）：BPE 分词器、数据集、嵌入层、多头因果自注意力、Transformer 块、完整模型、训练循环，最后把 OpenAI 发布的权重加载进你自己的代码并生成文本。
"""),
        _markdown("home-map", f"""
## Lesson map · 课程地图

```mermaid
flowchart TD
{nodes}
{edges}
```

{links}

Each lesson opens with a short **pre-lesson quiz**, has **concept checks** where an idea
lands, and ends with a **post-lesson quiz** that asks the pre-lesson questions again, so
you can see what the lesson changed. The pre-lesson quiz records your answers without
marking them: each verdict and explanation appears once the post-lesson quiz has asked that
question again (or at once, if you ask for it; that question then leaves the comparison).

每课开头有课前测验，中间有随堂检查，结尾的课后测验会重新问一遍课前的题目，让你看到这一课带来的变化。课前测验只记录你的答案、先不判对错：课后测验重答同一道题之后，课前那道题的对错和解析才会显示（也可以点“现在就看答案”提前看，这道题就不再计入对比）。
"""),
        _markdown("home-language", """
## Quiz language · 测验语言

The quizzes come in Chinese and English. Pick one here (or with the 中文 | English buttons
above any quiz): the choice is saved and survives kernel restarts. An environment
variable `GPT2_COURSE_LANG=en` (or `zh`) still wins in new kernels.

测验有中文版和英文版。在下面（或任意测验上方的“中文 | English”按钮）选择即可；选择会被保存，重启内核后依然有效。若设置了环境变量 `GPT2_COURSE_LANG`，新内核以它为准。
"""),
        _code("home-language-picker", "from quiz import language_picker\n\nlanguage_picker()"),
        _markdown("home-validate", """
## Checking your work · 检查你的作业

- Run every cell of a lesson from the top (**Run → Run All Cells**); the test cells under
  each exercise tell you at once whether your code works.
- Before you submit, press **Validate** in the notebook's toolbar: nbgrader runs the whole
  notebook as the grader will and lists any failing test. Submitting goes through the
  **Assignment List** (in the **Nbgrader** menu) when your course uses it.
- After you reopen a notebook, its quizzes are the saved picture: to answer again, run the
  quiz's cell (it imports all it needs).

- 从头运行一课的全部单元格（**Run → Run All Cells**），每道练习下面的测试单元格会立即告诉你代码是否正确。
- 提交之前，点击笔记本工具栏上的 **Validate**：nbgrader 会像评分时那样运行整个笔记本，并列出未通过的测试。如果课程使用作业提交，请通过 **Nbgrader** 菜单中的 **Assignment List** 提交。
- 重新打开笔记本之后，测验显示的是保存下来的画面：要再作答，运行测验所在的单元格即可（它自己导入所需的一切）。
"""),
        _markdown("home-progress-intro", """
## Your progress · 学习进度

Run the cell below (again) to see how far you are: for each lesson, the questions of each
quiz stage you have answered and got right on the first try, and the change from before
to after the lesson on the same questions, counting only those answered blind (before
the lesson, without seeing the answer first). ⟨g⟩ = (post − pre) / (100 − pre) is Hake's
normalized gain: the share of what you did not know before the lesson that you learned.
It reads the `quiz-progress.jsonl` file that each lesson's quizzes write beside the notebook.

运行（或重新运行）下面的单元格查看进度：每一课各阶段测验已作答、首次答对的题数，以及同一批题目课前到课后的变化；只算盲答的题（课前先答、之前没有看过答案）。`⟨g⟩ = (post − pre) / (100 − pre)` 是 Hake 的标准化增益（post、pre 是课后、课前答对的百分比）：课前不会的部分里，这一课教会了多少。数据来自每课测验在笔记本旁边写下的 `quiz-progress.jsonl`。
"""),
        _code("home-progress", "from quiz import course_progress\n\ncourse_progress()"),
    ]
    return {
        "cells": cells,
        "metadata": notebook_metadata(),
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def home_text(root: str | Path = REPO_LESSONS) -> str:
    return json.dumps(home_notebook(root), indent=1, ensure_ascii=False) + "\n"


def write_home(root: str | Path = REPO_LESSONS) -> Path:
    """Write ``<root>/00-start-here.ipynb`` (only if its text changes); return its path."""
    path = Path(root) / HOME_NAME
    text = home_text(root)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quiz.home", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", default=str(REPO_LESSONS), help="the lessons folder")
    parser.add_argument("--check", action="store_true", help="exit 1 if the home notebook is out of date")
    args = parser.parse_args(argv)
    path = Path(args.root) / HOME_NAME
    if args.check:
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != home_text(args.root):
            print(f"{path} is out of date: run python -m quiz.home", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    print(f"wrote {write_home(args.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
