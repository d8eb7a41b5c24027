"""Every lesson follows the course's bones (docs/AUTHORING.md); checked on the built notebooks.

Fast: reads files only. Lessons come from grader.catalog.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from grader import catalog
from grader.build import POST_QUIZ_ID
from quiz import load_quiz
from quiz.lint import lint_quiz

LESSONS = catalog.lesson_slugs()
CJK = re.compile(r"[\u4e00-\u9fff]")
SHOW_QUIZ = re.compile(r"show_quiz\(\s*\"quiz\.json\"\s*(?:,\s*(?:stage=)?\"(?P<stage>pre|check|post)\")?"
                       r"(?:\s*,\s*ids=\[(?P<ids>[^\]]*)\])?")


def source_notebook(slug):
    return nbformat.read(catalog.source_notebook(slug), as_version=4)


def quiz_calls(nb):
    """(cell index, stage or None, [ids]) for every show_quiz call in the notebook."""
    calls = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for match in SHOW_QUIZ.finditer(cell.source):
            ids = re.findall(r"\"([^\"]+)\"", match.group("ids") or "")
            calls.append((index, match.group("stage"), ids))
    return calls


def graded_indexes(nb, kind):
    """Cells with nbgrader flag ``kind``, without the build's graded post quiz cell."""
    return [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get(kind)
            and c.metadata.nbgrader.get("grade_id") != POST_QUIZ_ID]


def code_test_cells(nb):
    """The lesson's own test cells (the build's graded post quiz cell is not one: it tests nothing)."""
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            and c.metadata.nbgrader.get("grade_id") != POST_QUIZ_ID]


@pytest.mark.parametrize("slug", LESSONS)
def test_quizzes_have_enough_unbiased_questions_in_both_languages(slug):
    folder = catalog.lesson_dir(slug)
    zh, en = load_quiz(folder / "quiz.json"), load_quiz(folder / "quiz.en.json")
    assert zh.lesson == en.lesson == slug
    assert len(zh.questions) >= 6
    assert {q.stage for q in zh.questions} == {"pre", "check", "post"}
    assert [(q.id, q.stage, q.correct, len(q.options)) for q in zh.questions] == \
           [(q.id, q.stage, q.correct, len(q.options)) for q in en.questions], "quiz.en.json must mirror quiz.json"
    assert all(q.id for q in zh.questions), "every question needs an id (progress is recorded by id)"
    assert all(CJK.search(q.question) for q in zh.questions), "quiz.json is the Chinese edition"
    assert not any(CJK.search(q.question) for q in en.questions), "quiz.en.json is the English edition"
    for quiz in (zh, en):
        report = lint_quiz(quiz)
        assert not report.biased, f"length-biased questions: {[c.number for c in report.biased]}"
        assert not report.empty_explanations, "every question explains its answer"
    slots = [q.correct for q in zh.questions]
    assert len(set(slots)) >= 3 and max(slots.count(s) for s in set(slots)) <= len(slots) / 2, \
        f"correct answers bunch in a few slots: {slots}"


@pytest.mark.parametrize("slug", LESSONS)
def test_lesson_has_the_bones(slug):
    nb = source_notebook(slug)
    solutions, tests = graded_indexes(nb, "solution"), graded_indexes(nb, "grade")
    assert solutions and tests, "a lesson has graded answer cells and test cells"
    calls = quiz_calls(nb)
    pre = [i for i, stage, ids in calls if stage == "pre" and not ids]
    post = [i for i, stage, ids in calls if stage == "post" and not ids]
    checks = [(i, ids) for i, stage, ids in calls if ids]
    assert pre and pre[0] < solutions[0], "the pre quiz comes before the first exercise"
    assert post and post[-1] > tests[-1], "the post quiz comes after the last test cell"
    assert checks, "check quizzes sit where their idea lands"
    quiz = load_quiz(catalog.lesson_dir(slug) / "quiz.json")
    stage_of = {q.id: q.stage for q in quiz.questions}
    shown = {qid for _, ids in checks for qid in ids}
    assert shown <= set(stage_of), f"show_quiz ids not in quiz.json: {sorted(shown - set(stage_of))}"
    assert all(stage_of[qid] == "check" for qid in shown), "ids=[...] calls show check questions"
    never_shown = {qid for qid, stage in stage_of.items() if stage == "check"} - shown
    assert not never_shown, f"check questions never shown in the notebook: {sorted(never_shown)}"
    first_markdown = next(c for c in nb.cells if c.cell_type == "markdown").source
    goals = [line for line in first_markdown.splitlines() if re.match(r"\s*(\d+\.|[-*]) ", line)]
    assert goals, "the lesson opens with its goals: a list of what the student will have built"
    ending = "\n".join(c.source for c in nb.cells[post[-1]:] if c.cell_type == "markdown")
    assert re.search(r"小结|总结|现在你有了", ending) and re.search(r"Summary|What now exists|Recap", ending), \
        "after the post quiz, the lesson sums up what now exists (小结 / Summary)"
    assert re.search(r"下一课", ending) and re.search(r"Next", ending), "…and says what the next lesson adds"
    # The build puts the graded post quiz right after the post quiz, worth a point per post question.
    graded = nb.cells[post[-1] + 1]
    assert graded.metadata.get("nbgrader", {}).get("grade_id") == POST_QUIZ_ID
    assert graded.metadata.nbgrader["points"] == len(quiz.stage_indices("post")) > 0
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells].count(POST_QUIZ_ID) == 1


@pytest.mark.parametrize("slug", LESSONS)
def test_prose_is_chinese_first_with_english_beside_it(slug):
    for cell in source_notebook(slug).cells:
        if cell.cell_type != "markdown":
            continue
        chinese = len(CJK.findall(cell.source))
        if chinese >= 20:
            assert "**EN**" in cell.source, f"no English rendering for: {cell.source[:120]!r}"
            assert cell.source.find("**EN**") > CJK.search(cell.source).start(), "Chinese comes first"
        lines = cell.source.splitlines()
        for number, line in enumerate(lines):
            if line.startswith("#") and CJK.search(line):
                following = lines[number + 1] if number + 1 < len(lines) else ""
                english_here = re.search(r"[A-Za-z]{3,}", line)
                english_next = following.startswith("#") and not CJK.search(following)
                assert english_here or english_next, f"heading without English: {line!r}"


@pytest.mark.parametrize("slug", LESSONS)
def test_test_cells_explain_failures_and_refuse_delegation(slug):
    for cell in code_test_cells(source_notebook(slug)):
        grade_id = cell.metadata.nbgrader.grade_id
        tree = ast.parse(cell.source)
        bare = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert not bare, f"{grade_id}: bare assert on line(s) {bare}; use course.checks with a hint"
        assert re.search(r"expect_own_(work|implementation)\(", cell.source), f"{grade_id}: does not refuse delegation"
        assert "from course.checks import" in cell.source or "import course.checks" in cell.source, \
            f"{grade_id}: import the checks inside the test cell"


HIDDEN_BLOCK = re.compile(r"(?ms)^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?")
OK_LINE = re.compile(r"^[\w .()-]+: ok$")


def _ok_line(statement):
    """The text of ``print("<what>: ok")`` if ``statement`` is exactly that, else None."""
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return None
    call = statement.value
    if not (isinstance(call.func, ast.Name) and call.func.id == "print" and len(call.args) == 1 and not call.keywords):
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and OK_LINE.match(arg.value):
        return arg.value
    return None


@pytest.mark.parametrize("slug", LESSONS)
def test_passing_test_cells_print_one_ok_line(slug):
    """A passing test cell prints exactly one short "<what>: ok" line, never an exception's repr:
    the visible part (what the student sees) ends with that print and shows no bare value."""
    for cell in code_test_cells(source_notebook(slug)):
        grade_id = cell.metadata.nbgrader.grade_id
        visible = ast.parse(HIDDEN_BLOCK.sub("", cell.source))
        whole = ast.parse(cell.source)
        assert visible.body, f"{grade_id}: empty visible part"
        assert _ok_line(visible.body[-1]), f"{grade_id}: the visible part must end with print(\"...: ok\")"
        last = whole.body[-1]
        # after the hidden tests, too, no value is left to show (or to be scored as points)
        assert not (isinstance(last, ast.Expr) and not (
            isinstance(last.value, ast.Call) and getattr(last.value.func, "id", None) not in ("expect_raises", None)
        )), f"{grade_id}: the cell ends with a bare expression (its value would be printed, or scored as points)"
        oks = [s for s in ast.walk(whole) if isinstance(s, ast.Expr) and _ok_line(s)]
        assert len(oks) == 1, f"{grade_id}: {len(oks)} ok lines; a passing cell prints exactly one"


# Chinese typography: full-width punctuation beside Chinese, and no line break inside a Chinese
# paragraph (Markdown renders a newline between two CJK characters as a stray space).
CJK_OR_FULL_WIDTH = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
ASCII_BESIDE_CJK = re.compile(rf"[\u4e00-\u9fff][,:;()?!]|[,:;()?!][\u4e00-\u9fff]"
                              rf"|[{CJK_OR_FULL_WIDTH}][,:;?!]|[,:;?!] *[\u4e00-\u9fff]")
ASCII_PARENS_AROUND_CJK = re.compile(r"\([^()\n]*[\u4e00-\u9fff][^()\n]*\)")
ASCII_COLON_IN_CHINESE = re.compile(r"(?<=[^\s\[*/:])(?<!https)(?<!http):(?=[\u4e00-\u9fff`A-Za-z0-9])")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1|\$[^$\n]+\$")
BLOCK_START = re.compile(r"\s*(#|>|\||[-*+] |\d+\. |```|<)")


def _prose_without_code(markdown):
    """The Markdown without fenced code blocks, code spans and inline maths."""
    markdown = re.sub(r"(?ms)^```.*?^```", "", markdown)
    return CODE_SPAN.sub("`code`", markdown)


def chinese_typography_problems(text, markdown=True):
    prose = _prose_without_code(text) if markdown else text
    problems = [f"ASCII punctuation beside Chinese: {prose[max(0, m.start() - 12):m.end() + 12]!r}"
                for m in ASCII_BESIDE_CJK.finditer(prose)]
    problems += [f"ASCII parentheses around Chinese: {m.group(0)!r}" for m in ASCII_PARENS_AROUND_CJK.finditer(prose)]
    for line in prose.splitlines():  # a Chinese colon written as ASCII ':' with no space after it
        if CJK.search(line) and not line.lstrip().startswith(">"):
            problems += [f"ASCII ':' used as a Chinese colon: {line[max(0, m.start() - 12):m.end() + 12]!r}"
                         for m in ASCII_COLON_IN_CHINESE.finditer(line)]
    if markdown:
        lines = prose.splitlines()
        for line, following in zip(lines, lines[1:]):
            if not following.strip() or BLOCK_START.match(following) and not following.startswith("  "):
                continue  # a new block (heading, quote, list item, table, ...) may start on the next line
            if re.search(rf"[{CJK_OR_FULL_WIDTH}]$", line) and re.match(rf"\s*[{CJK_OR_FULL_WIDTH}]", following):
                problems.append(f"line break inside a Chinese paragraph: {line[-12:]!r} / {following.strip()[:12]!r}")
    return problems


@pytest.mark.parametrize("slug", LESSONS)
def test_chinese_typography(slug):
    problems = []
    for cell in source_notebook(slug).cells:
        if cell.cell_type == "markdown":
            problems += chinese_typography_problems(cell.source)
    quiz = load_quiz(catalog.lesson_dir(slug) / "quiz.json")
    for q in quiz.questions:
        for text in [q.question, q.explanation, *q.options]:
            problems += [f"quiz {q.id}: {p}" for p in chinese_typography_problems(text, markdown=False)]
    assert not problems, f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:15])
