"""Every lesson follows the course's bones (docs/AUTHORING.md); checked on the built notebooks.

Fast: reads files only. Lessons come from grader.catalog.
"""

from __future__ import annotations

import ast
import re

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


# Chinese typography (docs/AUTHORING.md, "Language"), four classes of problem in Chinese prose:
# ASCII punctuation beside Chinese characters; ASCII ',' ';' or '?' inside a Chinese sentence after a
# Latin word or a digit ("3072,proj", "sqrt(head_dim)?"); straight quotes around Chinese words
# ("主干道" where “主干道” belongs); and a line break inside a Chinese paragraph (Markdown renders a
# newline between two Chinese characters as a stray space). Checked in every lesson's Markdown, every
# quiz.json, the quiz engine's Chinese words and the generated course home.
CJK_OR_FULL_WIDTH = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
ASCII_BESIDE_CJK = re.compile(rf"[\u4e00-\u9fff][,:;()?!]|[,:;()?!][\u4e00-\u9fff]"
                              rf"|[{CJK_OR_FULL_WIDTH}][,:;?!]|[,:;?!] *[\u4e00-\u9fff]")
ASCII_PARENS_AROUND_CJK = re.compile(r"\([^()\n]*[\u4e00-\u9fff][^()\n]*\)")
ASCII_COLON_IN_CHINESE = re.compile(r"(?<=[^\s\[*/:])(?<!https)(?<!http):(?=[\u4e00-\u9fff`A-Za-z0-9])")
# In a Chinese sentence, an ASCII ',' or ';' with no space after it ("0,pre-LN", "-inf,softmax", "768,12 个头";
# a thousands separator "3,700" and the tuple "(B·T,)" are fine), and any ASCII '?' ("sqrt(head_dim)?").
ASCII_IN_CHINESE_SENTENCE = re.compile(r"(?<!\d)[,;](?=[^\s)\]}])|(?<=\d);(?=[^\s)\]}])"
                                       r"|(?<=\d),(?=[^\s)\]}])(?!\d{3}(?!\d))|\?")
STRAIGHT_QUOTED = re.compile(r'"([^"\n]*)"')
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1|\$[^$\n]+\$")
HTML_TAG = re.compile(r"<[^<>\n]+>")
LINK_TARGET = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|https?://\S+")
BLOCK_START = re.compile(r"\s*(#|>|\||[-*+] |\d+\. |```|<)")


def _prose_without_code(markdown):
    """The Markdown without fenced code blocks, code spans, inline maths, HTML tags and link targets."""
    markdown = re.sub(r"(?ms)^```.*?^```", "", markdown)
    markdown = CODE_SPAN.sub("`code`", markdown)
    return LINK_TARGET.sub("](link)", HTML_TAG.sub("<tag>", markdown))


def _chinese_stretches(prose):
    """The Chinese parts of ``prose``: each line, not an English block quote (``> **EN**``), cut at table
    bars and at the " / " between a Chinese heading or label and its English rendering, that holds CJK."""
    for line in prose.splitlines():
        if line.lstrip().startswith(">"):
            continue
        for stretch in re.split(r"\||(?:\s|(?<=[？！。）]))/\s", line):
            if CJK.search(stretch):
                yield stretch


def _around(text, match, width=12):
    return text[max(0, match.start() - width):match.end() + width]


def chinese_typography_problems(text, markdown=True):
    """What is wrong with the Chinese typography of ``text`` (Markdown; ``markdown=False``: a single
    paragraph, e.g. a quiz question, where line breaks are not checked). Each message starts with its class."""
    prose = _prose_without_code(text)
    problems = [f"ASCII punctuation beside Chinese: {_around(prose, m)!r}" for m in ASCII_BESIDE_CJK.finditer(prose)]
    problems += [f"ASCII parentheses around Chinese: {m.group(0)!r}" for m in ASCII_PARENS_AROUND_CJK.finditer(prose)]
    for line in prose.splitlines():  # a Chinese colon written as ASCII ':' with no space after it
        if CJK.search(line) and not line.lstrip().startswith(">"):
            problems += [f"ASCII ':' used as a Chinese colon: {_around(line, m)!r}"
                         for m in ASCII_COLON_IN_CHINESE.finditer(line)]
    for stretch in _chinese_stretches(prose):
        problems += [f"ASCII punctuation in a Chinese sentence after a Latin word or digit: {_around(stretch, m)!r}"
                     for m in ASCII_IN_CHINESE_SENTENCE.finditer(stretch)
                     if not ASCII_BESIDE_CJK.search(_around(stretch, m, 1))]  # reported above already
        problems += [f"straight quotes around Chinese (write “ ”): {m.group(0)!r}"
                     for m in STRAIGHT_QUOTED.finditer(stretch) if CJK.search(m.group(1))]
    if markdown:
        lines = prose.splitlines()
        for line, following in zip(lines, lines[1:]):
            if not following.strip() or BLOCK_START.match(following) and not following.startswith("  "):
                continue  # a new block (heading, quote, list item, table, ...) may start on the next line
            if re.search(rf"[{CJK_OR_FULL_WIDTH}]$", line) and re.match(rf"\s*[{CJK_OR_FULL_WIDTH}]", following):
                problems.append(f"line break inside a Chinese paragraph: {line[-12:]!r} / {following.strip()[:12]!r}")
    return problems


def _report(problems):
    return f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:15])


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
    assert not problems, _report(problems)


def test_chinese_typography_of_the_course_home_and_the_quiz_engine():
    """The generated course home (lessons/00-start-here.ipynb) and the engine's own Chinese words."""
    from quiz.home import HOME_NAME, REPO_LESSONS
    from quiz.i18n import STRINGS

    home = nbformat.read(REPO_LESSONS / HOME_NAME, as_version=4)
    problems = [f"home {cell.id}: {p}" for cell in home.cells if cell.cell_type == "markdown"
                for p in chinese_typography_problems(cell.source)]
    problems += [f"quiz.i18n {key}: {p}" for key, words in STRINGS.items()
                 for p in chinese_typography_problems(words["zh"], markdown=False)]
    assert not problems, _report(problems)


# One example of each class, as the student found them (issue "The student's side, second pass"), and
# the same text written right: the check must flag the first with that class and pass the second.
TYPOGRAPHY_CASES = [
    ("ASCII punctuation beside Chinese", "注意:这里不同", "注意：这里不同", False),
    ("ASCII punctuation in a Chinese sentence", "fc 是 768 → 3072,proj 是 3072 → 768。",
     "fc 是 768 → 3072，proj 是 3072 → 768。", False),
    ("ASCII punctuation in a Chinese sentence", "pre-LN 是 `x + sublayer(norm(x))`;post-LN 是另一种。",
     "pre-LN 是 `x + sublayer(norm(x))`；post-LN 是另一种。", False),
    ("ASCII punctuation in a Chinese sentence", "把权重全设为 0,pre-LN block 的输出是什么？",
     "把权重全设为 0，pre-LN block 的输出是什么？", False),
    ("ASCII punctuation in a Chinese sentence", "否则这一行全是 -inf,softmax 会得到 nan。",
     "否则这一行全是 -inf，softmax 会得到 nan。", False),
    ("ASCII punctuation in a Chinese sentence", "一次喂多个新 token,mask 要对齐。", "一次喂多个新 token，mask 要对齐。", False),
    ("ASCII punctuation in a Chinese sentence", "GPT-2 small（d_model = 768,12 个头）", "GPT-2 small（d_model = 768，12 个头）", False),
    ("ASCII punctuation in a Chinese sentence", "为什么要把 q·k 除以 sqrt(head_dim)?", "为什么要把 q·k 除以 sqrt(head_dim)？", False),
    ("straight quotes around Chinese", '残差这条"主干道"上只有加法。', "残差这条“主干道”上只有加法。", True),
    ("straight quotes around Chinese", '让它第一次"开口说话"。', "让它第一次“开口说话”。", True),
    ("line break inside a Chinese paragraph", "BPE 分词器、数据集、嵌入层、\n多头因果自注意力。",
     "BPE 分词器、数据集、嵌入层、多头因果自注意力。", True),
    ("line break inside a Chinese paragraph", "把权重加载进你自己的\n代码并生成文本。", "把权重加载进你自己的代码并生成文本。", True),
    ("line break inside a Chinese paragraph", "选择会被保存，\n重启内核后依然有效。", "选择会被保存，重启内核后依然有效。", True),
]


@pytest.mark.parametrize("kind, wrong, right, markdown", TYPOGRAPHY_CASES)
def test_typography_check_catches_each_class(kind, wrong, right, markdown):
    found = chinese_typography_problems(wrong, markdown=markdown)
    assert any(p.startswith(kind) for p in found), (wrong, found)
    assert chinese_typography_problems(right, markdown=markdown) == []
    # English beside it, code spans, tuples and numbers are not Chinese punctuation
    fine = ("形状是 (B, T, d)，权重从 N(0, 0.02) 抽取，`x[:, -1]` 是最后一列，共 1,000 个，(B·T,) 是元组。\n\n"
            "> **EN** Why? Because \"quotes\" and a,b are English here.\n\n## 3. 为什么 / Why embeddings?")
    assert chinese_typography_problems(fine) == []


# Test messages follow the quiz language (course.checks): each ``what``, ``detail`` and ``hint`` a test cell
# passes is a (Chinese, English) pair, unless it reads the same in both languages (code such as
# "LayerNorm(8).weight"; two English words in a row mean it does not).
MESSAGE_PARAMETERS = ("what", "detail", "hint")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}[ ,]+[A-Za-z]{2,}")


def _check_functions():
    import inspect

    from course import checks

    return {name: inspect.signature(fn) for name, fn in vars(checks).items()
            if name.startswith("expect") and callable(fn)}


def _text_of(node):
    """A string constant's text, or an f-string's with its {fields} as "{}"; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def message_problems(source, signatures):
    """What a test cell's checks would say in one language only, or say badly in Chinese."""
    problems = []
    for call in ast.walk(ast.parse(source)):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in signatures):
            continue
        try:
            bound = signatures[call.func.id].bind(*call.args, **{k.arg: k.value for k in call.keywords if k.arg})
        except TypeError:
            continue
        for name in MESSAGE_PARAMETERS:
            node = bound.arguments.get(name)
            if node is None:
                continue
            where = f"line {call.lineno} {call.func.id}({name}=...)"
            if isinstance(node, ast.Tuple):
                texts = [_text_of(e) for e in node.elts]
                if len(texts) != 2 or None in texts:
                    problems.append(f"{where}: a pair is (Chinese text, English text)")
                    continue
                zh, en = texts
                if not CJK.search(zh) or CJK.search(en):
                    problems.append(f"{where}: Chinese first, then English: {texts}")
                problems += [f"{where}: {p}" for p in chinese_typography_problems(zh.replace("{}", "x"), markdown=False)]
            else:
                text = _text_of(node)
                if text is not None and ENGLISH_WORDS.search(text.replace("{}", "")):
                    problems.append(f"{where}: English only, give (Chinese, English): {text!r}")
    return problems


@pytest.mark.parametrize("slug", LESSONS)
def test_test_messages_come_in_both_languages(slug):
    signatures = _check_functions()
    problems = []
    for cell in code_test_cells(source_notebook(slug)):
        problems += [f"{cell.metadata.nbgrader.grade_id} {p}" for p in message_problems(cell.source, signatures)]
    assert not problems, _report(problems)


def test_message_check_catches_english_only_and_bad_pairs():
    signatures = _check_functions()
    english = 'expect_equal(n, 16, "parameter count", hint="two parameters")'
    assert len(message_problems(english, signatures)) == 2
    assert len(message_problems('expect(ok, ("x", "输出"))', signatures)) == 1  # the wrong way round
    assert message_problems('expect(ok, ("输出:错", "output: wrong"))', signatures)  # typography
    fine = ('expect_shape(y, (2, 3), "LayerNorm(8).weight", hint=(f"形状应为 {s}，见上文", f"the shape is {s}, see above"))\n'
            'expect_close(a, b, ("输出", "output"), atol=1e-5)')
    assert message_problems(fine, signatures) == []


# Diagrams (Mermaid) readable at a laptop's page width: JupyterLab scales a drawing down to the page, so a
# long left-to-right chain shrinks its text to a few pixels; and Mermaid wraps a label wider than its
# wrapping width (200 px by default) at any space, inside code too ("idx[:, -" / "context_length:]").
# So every diagram sets a wrapping width no node label reaches, breaks long labels itself with <br>
# between phrases, keeps edge labels (which Mermaid wraps at 200 px whatever the setting) short, and
# runs top to bottom unless the chain is short.
MERMAID_BLOCK = re.compile(r"(?ms)^```mermaid\n(.*?)^```")
WRAPPING_WIDTH = re.compile(r"(?m)^---\nconfig:\n\s+flowchart:\n\s+wrappingWidth: (\d+)\n---\n")
NODE_LABEL = re.compile(r"[\w]+(?:\[\"|\(\(\"|\(\"|\{\")(.*?)\"(?:\]|\)\)|\)|\})")
EDGE_LABEL = re.compile(r"(?:--|==|-\.)\s*\"(.*?)\"\s*(?:-->|==>|\.->|\.-)|\|\"(.*?)\"\|")
EDGE = re.compile(r"\s*(?:--\s*\"[^\"]*\"\s*-->|==\s*\"[^\"]*\"\s*==>|-\.\s*\"[^\"]*\"\s*\.-|-->|==>(?:\|\"[^\"]*\"\|)?|-\.->|\.-)\s*")
MAX_NODE_LINE = 64  # characters: about 510 px at Mermaid's 16 px font
MAX_EDGE_LINE = 22  # characters: Mermaid wraps edge labels at 200 px
MAX_SIDEWAYS_CHAIN = 3  # nodes in a row in a left-to-right chart


def mermaid_blocks(slug):
    for cell in source_notebook(slug).cells:
        if cell.cell_type == "markdown":
            yield from (m.group(1) for m in MERMAID_BLOCK.finditer(cell.source))


def longest_chain(diagram):
    """The most nodes on one path through the chart's edges (cycles cut)."""
    edges = {}
    for line in diagram.splitlines():
        parts = EDGE.split(line.strip())
        ids = [re.match(r"\w+", part).group(0) for part in parts if re.match(r"\w+", part)]
        if len(parts) < 2 or len(ids) != len(parts):
            continue
        for a, b in zip(ids, ids[1:]):
            edges.setdefault(a, set()).add(b)

    def depth(node, seen):
        return 1 + max((depth(n, seen | {n}) for n in edges.get(node, ()) if n not in seen), default=0)

    return max((depth(node, {node}) for node in edges), default=0)


def diagram_problems(diagram):
    problems = []
    width = WRAPPING_WIDTH.match(diagram)
    if width is None or int(width.group(1)) < 8 * MAX_NODE_LINE:
        problems.append(f"no front matter setting flowchart.wrappingWidth >= {8 * MAX_NODE_LINE} (Mermaid breaks "
                        "labels wider than 200 px at any space, inside code too)")
    body = diagram[width.end():] if width else diagram
    for match in NODE_LABEL.finditer(body):
        problems += [f"node label line longer than {MAX_NODE_LINE} characters (break it with <br>): {line!r}"
                     for line in match.group(1).split("<br>") if len(line) > MAX_NODE_LINE]
    for match in EDGE_LABEL.finditer(body):
        label = (match.group(1) or match.group(2)).replace("#nbsp;", " ")
        problems += [f"edge label line longer than {MAX_EDGE_LINE} characters (Mermaid wraps it at any space): {line!r}"
                     for line in label.split("<br>") if len(line) > MAX_EDGE_LINE]
    direction = re.search(r"(?m)^\s*(?:flowchart|graph)\s+(\w+)", body)
    if direction and direction.group(1) in ("LR", "RL") and longest_chain(body) > MAX_SIDEWAYS_CHAIN:
        problems.append(f"a left-to-right chain of {longest_chain(body)} nodes: draw it top to bottom (flowchart TD)")
    return problems


@pytest.mark.parametrize("slug", LESSONS)
def test_diagrams_fit_a_laptop_page(slug):
    problems = [f"diagram {n}: {p}" for n, diagram in enumerate(mermaid_blocks(slug), 1) for p in diagram_problems(diagram)]
    assert not problems, "\n".join(problems)


def test_diagram_check_catches_a_wide_chain_and_labels_mermaid_would_break():
    """Lesson 34's block diagram and lesson 35's generation loop as the student found them."""
    old_block = ('flowchart LR\n    x["x: (B, T, d_model)"] --> norm1["norm1 (LayerNorm)"] --> attn["attn"] --> add1(("+"))\n'
                 '    add1 --> norm2["norm2 (LayerNorm)"] --> ff["ff"] --> add2(("+"))\n    add2 --> out["out"]\n')
    assert longest_chain(old_block) == 8
    assert any("draw it top to bottom" in p for p in diagram_problems(old_block))
    old_loop = ('flowchart TD\n    seq["idx: the sequence so far (B, T)"] --> window["window = idx[:, -context_length:]"]\n'
                '    grow -- "repeat max_new_tokens times" --> seq\n')
    found = diagram_problems(old_loop)
    assert any("wrappingWidth" in p for p in found) and any("edge label" in p for p in found), found
    fixed = "---\nconfig:\n  flowchart:\n    wrappingWidth: 640\n---\n" + old_loop.replace(" times", "<br>times")
    assert diagram_problems(fixed) == []


@pytest.mark.parametrize("slug", LESSONS)
def test_quiz_cells_work_on_their_own(slug):
    """After a reload a student runs just the quiz cell: it imports what it calls."""
    student = nbformat.read(catalog.STUDENT_LESSONS_DIR / slug / f"{slug}.ipynb", as_version=4)
    for nb in (source_notebook(slug), student):
        for cell in nb.cells:
            if cell.cell_type == "code" and "show_quiz(" in cell.source:
                assert re.search(r"(?m)^from quiz import show_quiz$", cell.source), \
                    f"{cell.id}: a quiz cell imports show_quiz itself: {cell.source[:80]!r}"


@pytest.mark.parametrize("slug", LESSONS)
def test_notebooks_carry_the_kernels_full_language_info(slug):
    """JupyterLab writes the kernel's language_info into a notebook when the kernel starts: a notebook
    that carries less opens already marked modified. Every generated notebook carries all of it."""
    from ipykernel.ipkernel import IPythonKernel

    from quiz.home import COURSE_PYTHON, HOME_NAME, NOTEBOOK_METADATA, REPO_LESSONS

    reported = dict(IPythonKernel.language_info)
    assert {**reported, "version": COURSE_PYTHON} == NOTEBOOK_METADATA["language_info"]
    student = catalog.STUDENT_LESSONS_DIR / slug / f"{slug}.ipynb"
    for path in (catalog.source_notebook(slug), student, REPO_LESSONS / HOME_NAME):
        metadata = nbformat.read(path, as_version=4).metadata
        assert metadata == NOTEBOOK_METADATA, f"{path}: {dict(metadata)}"
