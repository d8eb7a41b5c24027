"""A quiz without a widget front end: HTML for nbconvert, GitHub and nbviewer (the answer
and explanation folded away in ``<details>``), and plain text for terminals."""

from __future__ import annotations

import html

from . import markdown
from .i18n import stage_name, tr
from .selection import QuizSelection, ShownQuestion
from .shuffle import LETTERS
from .theme import style_tag


def question_meta(item: ShownQuestion, lang: str) -> str:
    meta = f"{tr('question_n', lang, n=item.number)} · {stage_name(item.stage, lang)}"
    return f"{meta} · {tr('asked_again', lang)}" if item.asked_again else meta


def explanation_html(item: ShownQuestion, lang: str) -> str:
    text = item.question.explanation
    if not text.strip():
        return f'<p class="gpt2-quiz-note">{html.escape(tr("no_explanation", lang))}</p>'
    return markdown.to_html(text)


def answer_html(item: ShownQuestion, lang: str) -> str:
    """"The right answer: B. …" in this learner's lettering."""
    q = item.question
    return (
        f"<p><strong>{html.escape(tr('right_answer', lang))}</strong>{tr('colon', lang)}"
        f"{item.letter_of(q.correct)}. {markdown.to_inline_html(q.correct_option)}</p>"
    )


def render_html(selection: QuizSelection) -> str:
    lang = selection.lang
    parts = [style_tag(), '<div class="gpt2-quiz-static">']
    if selection.quiz.title:
        parts.append(f'<div class="gpt2-quiz-title">{html.escape(selection.quiz.title)}</div>')
    parts.append(f'<p class="gpt2-quiz-note"><em>{html.escape(tr("static_note", lang))}</em></p>')
    for item in selection.items:
        q = item.question
        options = "".join(
            f"<li>{markdown.to_inline_html(q.options[original])}</li>" for original in item.order
        )
        if item.stage == "pre":  # answered blind: the post stage, which asks it again, has the answer
            parts.append(
                '<div class="gpt2-quiz-card">'
                f'<div class="gpt2-quiz-meta">{html.escape(question_meta(item, lang))}</div>'
                f'<div class="gpt2-quiz-question">{markdown.to_html(q.question)}</div>'
                f'<ol type="A">{options}</ol>'
                f'<p class="gpt2-quiz-note">{html.escape(tr("pre_static", lang))}</p>'
                "</div>"
            )
            continue
        if not q.has_key:  # a course release: no answer to fold away
            parts.append(
                '<div class="gpt2-quiz-card">'
                f'<div class="gpt2-quiz-meta">{html.escape(question_meta(item, lang))}</div>'
                f'<div class="gpt2-quiz-question">{markdown.to_html(q.question)}</div>'
                f'<ol type="A">{options}</ol>'
                f'<p class="gpt2-quiz-note">{html.escape(tr("graded_static", lang))}</p>'
                "</div>"
            )
            continue
        parts.append(
            '<div class="gpt2-quiz-card">'
            f'<div class="gpt2-quiz-meta">{html.escape(question_meta(item, lang))}</div>'
            f'<div class="gpt2-quiz-question">{markdown.to_html(q.question)}</div>'
            f'<ol type="A">{options}</ol>'
            f"<details><summary>{html.escape(tr('show_answer', lang))}</summary>"
            f'<div class="gpt2-quiz-feedback">{answer_html(item, lang)}'
            f"<p><strong>{html.escape(tr('explanation', lang))}</strong>{tr('colon', lang)}</p>"
            f"{explanation_html(item, lang)}</div></details>"
            "</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def render_text(selection: QuizSelection) -> str:
    lang = selection.lang
    lines: list[str] = []
    if selection.quiz.title:
        lines += [selection.quiz.title, "=" * min(60, _width(selection.quiz.title)), ""]
    for item in selection.items:
        q = item.question
        lines.append(f"[{question_meta(item, lang)}]")
        lines.append(markdown.to_plain(q.question))
        for position, original in enumerate(item.order):
            lines.append(f"  {LETTERS[position]}. {markdown.to_label(q.options[original])}")
        lines.append("")
    lines.append(tr("static_plain_hint", lang, path=selection.source))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
