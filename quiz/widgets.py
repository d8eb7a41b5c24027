"""The interactive quiz: one ipywidgets card per question, scores, and a pre/post summary.

A :class:`QuizView` is also a display object: its ``_repr_mimebundle_`` carries the
widget view for front ends with a widget manager, plus ``text/html`` (see
:mod:`quiz.static`) and a readable ``text/plain`` for everything else.
"""

from __future__ import annotations

import html
import weakref
from pathlib import Path

import ipywidgets as W

from . import markdown, static
from .i18n import stage_name, tr
from .progress import Attempt, append_attempt, now_iso, read_attempts, stage_score, per_question
from .selection import QuizSelection, ShownQuestion
from .shuffle import LETTERS
from .theme import style_tag

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Every live view, so that an answer in one cell updates the scores shown in the others.
_LIVE_VIEWS: "weakref.WeakSet[QuizView]" = weakref.WeakSet()
# Answers that could not be written (read-only folder, full disk), by progress file:
# they still count for this kernel's scores.
_UNSAVED: dict[Path, list[Attempt]] = {}


class QuestionCard:
    """One question: text, radio options (shuffled), a check button and feedback."""

    def __init__(self, view: QuizView, item: ShownQuestion):
        self.view = view
        self.item = item
        lang = view.lang
        q = item.question
        self.header = W.HTML(
            value=(
                f'<div class="gpt2-quiz-meta">{html.escape(static.question_meta(item, lang))}</div>'
                f'<div class="gpt2-quiz-question">{markdown.to_html(q.question)}</div>'
            ),
            layout=W.Layout(width="100%"),
        )
        labels = [
            (f"{LETTERS[position]}. {markdown.to_label(q.options[original])}", original)
            for position, original in enumerate(item.order)
        ]
        # value = the ORIGINAL option index, whatever position it is shown at
        self.radio = W.RadioButtons(options=labels, value=None, layout=W.Layout(width="100%"))
        self.button = W.Button(
            description=tr("check", lang), button_style="primary", icon="check",
            layout=W.Layout(width="auto", min_width="9em", align_self="flex-start"),
        )
        self.feedback = W.HTML(value="", layout=W.Layout(width="100%"))
        self.box = W.VBox([self.header, self.radio, self.button, self.feedback])
        self.box.add_class("gpt2-quiz-card")
        self.button.on_click(self._on_click)

    def _on_click(self, _button=None) -> None:
        try:
            self.check()
        except Exception as exc:  # a callback error would vanish into the log console
            self.feedback.value = (
                f'<div class="gpt2-quiz-warning">{html.escape(type(exc).__name__)}: '
                f"{html.escape(str(exc))}</div>"
            )

    def check(self) -> bool | None:
        """Grade the selected option, record it, show feedback; ``None`` if none selected."""
        chosen = self.radio.value
        if chosen is None:
            self.feedback.value = f'<div class="gpt2-quiz-note">{html.escape(tr("choose_first", self.view.lang))}</div>'
            return None
        q = self.item.question
        correct = chosen == q.correct
        attempt = Attempt(
            time=now_iso(),
            lesson=self.view.selection.lesson,
            question=self.item.key,
            stage=q.stage,
            chosen=chosen,
            correct=correct,
            learner=self.view.selection.learner,
        )
        warning = ""
        try:
            append_attempt(self.view.selection.progress_path, attempt)
        except OSError as exc:
            _UNSAVED.setdefault(self.view.progress_key, []).append(attempt)
            detail = f"{self.view.selection.progress_path}: {exc.strerror or exc}"
            warning = f'<p class="gpt2-quiz-warning">{html.escape(tr("not_saved", self.view.lang, error=detail))}</p>'
        self.show_feedback(correct, earlier=False, extra=warning)
        self.view.after_answer()
        return correct

    def show_feedback(self, correct: bool, *, earlier: bool, extra: str = "") -> None:
        lang = self.view.lang
        verdict = tr("correct" if correct else "incorrect", lang)
        note = f' <span class="gpt2-quiz-note">{html.escape(tr("earlier_answer", lang))}</span>' if earlier else ""
        self.feedback.value = (
            f'<div class="gpt2-quiz-feedback {"is-correct" if correct else "is-incorrect"}">'
            f'<p><span class="gpt2-quiz-verdict">{html.escape(verdict)}</span>{note}</p>'
            f"{static.answer_html(self.item, lang)}"
            f"<p><strong>{html.escape(tr('explanation', lang))}</strong>{tr('colon', lang)}</p>"
            f"{static.explanation_html(self.item, lang)}{extra}</div>"
        )


class QuizView:
    """The widgets for a :class:`~quiz.selection.QuizSelection`, and its display bundle."""

    def __init__(self, selection: QuizSelection, *, interactive: bool = True):
        self.selection = selection
        self.lang = selection.lang
        self.widget: W.VBox | None = None
        self.cards: list[QuestionCard] = []
        self.scores: dict[str, W.HTML] = {}
        self.summary: W.HTML | None = None
        if interactive:
            self._build()

    # -- building -------------------------------------------------------------------

    def _build(self) -> None:
        selection = self.selection
        title = selection.quiz.title or ""
        self.header = W.HTML(
            value=style_tag()
            + (f'<div class="gpt2-quiz-title">{html.escape(title)}</div>' if title else "")
        )
        self.cards = [QuestionCard(self, item) for item in selection.items]
        self.scores = {stage: W.HTML() for stage in selection.stages}
        children: list[W.Widget] = [self.header, *(card.box for card in self.cards)]
        children += list(self.scores.values())
        if "post" in selection.stages:
            self.summary = W.HTML()
            children.append(self.summary)
        self.widget = W.VBox(children, layout=W.Layout(width="100%"))
        self.widget.add_class("gpt2-quiz")
        self._restore()
        self.refresh()
        _LIVE_VIEWS.add(self)

    def _restore(self) -> None:
        """Show each question's last recorded answer, selected, with its feedback."""
        progress = per_question(self._attempts(), self.selection.lesson)
        for card in self.cards:
            last = progress.get((self.selection.lesson, card.item.key))
            if last is None or not 0 <= last.last_chosen < len(card.item.order):
                continue
            card.radio.value = last.last_chosen
            card.show_feedback(last.last_chosen == card.item.question.correct, earlier=True)

    @property
    def progress_key(self) -> Path:
        return self.selection.progress_path.resolve()

    def _attempts(self) -> list[Attempt]:
        unsaved = _UNSAVED.get(self.progress_key, [])
        return read_attempts(self.selection.progress_path) + unsaved

    # -- scores ---------------------------------------------------------------------

    def after_answer(self) -> None:
        """Refresh this view and every other live view of the same lesson's progress."""
        mine = (self.progress_key, self.selection.lesson)
        for view in list(_LIVE_VIEWS):
            if view is self or (view.progress_key, view.selection.lesson) == mine:
                view.refresh()

    def refresh(self) -> None:
        attempts = self._attempts()
        quiz, lesson, lang = self.selection.quiz, self.selection.lesson, self.lang
        for stage, label in self.scores.items():
            score = stage_score(quiz, stage, attempts, lesson)
            label.value = (
                f'<div class="gpt2-quiz-score">{html.escape(tr("score", lang, stage=stage_name(stage, lang), first=score.first_correct, total=score.total, answered=score.answered))}'
                f' <span class="gpt2-quiz-note">{html.escape(tr("first_try_note", lang))}</span></div>'
            )
        if self.summary is not None:
            self.summary.value = summary_html(
                stage_score(quiz, "pre", attempts, lesson),
                stage_score(quiz, "post", attempts, lesson),
                lang,
            )

    # -- display --------------------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = {
            "text/plain": static.render_text(self.selection),
            "text/html": static.render_html(self.selection),
        }
        if self.widget is not None:
            bundle[WIDGET_VIEW] = self.widget._repr_mimebundle_()[WIDGET_VIEW]
        return bundle

    def __repr__(self) -> str:
        return static.render_text(self.selection)


def summary_html(pre, post, lang: str) -> str:
    """The pre vs post comparison, once both stages are fully answered."""
    title = f"<strong>{html.escape(tr('summary_title', lang))}</strong>"
    if not pre.total or not post.total or pre.answered < pre.total or post.answered < post.total:
        return f'<div class="gpt2-quiz-summary">{title}<br>{html.escape(tr("summary_pending", lang))}</div>'
    pre_pct, post_pct = round(pre.percent), round(post.percent)
    line = tr(
        "summary_line", lang,
        pre_first=pre.first_correct, pre_total=pre.total, pre_pct=f"{pre_pct}%",
        post_first=post.first_correct, post_total=post.total, post_pct=f"{post_pct}%",
    )
    delta = post_pct - pre_pct
    if delta > 0:
        verdict = tr("summary_better", lang, points=delta)
    elif delta < 0:
        verdict = tr("summary_worse", lang, points=-delta)
    else:
        verdict = tr("summary_same", lang)
    return (
        f'<div class="gpt2-quiz-summary">{title}<br>{html.escape(line)}<br>'
        f"{html.escape(verdict)} "
        f'<span class="gpt2-quiz-note">{html.escape(tr("first_try_note", lang))}</span></div>'
    )
