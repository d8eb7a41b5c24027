"""The interactive quiz: one ipywidgets card per question, scores, and a pre/post summary.

A :class:`QuizView` is also a display object: its ``_repr_mimebundle_`` carries the
widget view for front ends with a widget manager, plus ``text/html`` (see
:mod:`quiz.static`) and a readable ``text/plain`` for everything else.

``pre`` questions are answered blind: the card records the answer and keeps the verdict and
explanation until the ``post`` stage has asked the same question again (or the learner asks
to see it now, which takes it out of the pre/post gain: :func:`quiz.progress.matched_items`).
"""

from __future__ import annotations

import html
import os
import weakref
from pathlib import Path

import ipywidgets as W

from . import markdown, static
from .answers import read_answers, remove_answers, save_answer
from .i18n import ENV_LANGUAGE, set_language, stage_name, tr
from .progress import (
    COUNTED,
    LATE,
    REVEALED,
    WAITING,
    Attempt,
    MatchedGain,
    MatchedItem,
    Record,
    Reveal,
    append_attempt,
    matched_gain,
    now_iso,
    per_question,
    read_records,
    remove_attempts,
    stage_score,
)
from .selection import EN_SUFFIX, QuizSelection, ShownQuestion, english_path, primary_path, select
from .shuffle import LETTERS
from .theme import style_tag

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Every live view, so that an answer in one cell updates the scores shown in the others.
_LIVE_VIEWS: weakref.WeakSet[QuizView] = weakref.WeakSet()
# Answers that could not be written (read-only folder, full disk), by progress file:
# they still count for this kernel's scores.
_UNSAVED: dict[Path, list[Record]] = {}


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
        # A question without its key (a course release) is saved, not checked: graded on submission.
        self.graded = not q.has_key
        self.button = W.Button(
            description=tr("save" if self.graded else "check", lang), button_style="primary",
            icon="save" if self.graded else "check",
            layout=W.Layout(width="auto", min_width="9em", align_self="flex-start"),
        )
        self.feedback = W.HTML(value="", layout=W.Layout(width="100%"))
        children = [self.header, self.radio, self.button, self.feedback]
        # A pre question is answered blind (its verdict waits for the post stage); the learner may
        # still ask to see it now, which takes it out of the pre/post gain.
        self.blind = item.stage == "pre" and q.has_key
        self.reveal_button: W.Button | None = None
        self._reveal_armed = False
        self.earlier = False  # the answer shown was restored from the progress file
        self.warning = ""  # why the last answer could not be saved, if it could not
        if self.blind:
            self.reveal_button = W.Button(
                description=tr("reveal", lang), icon="eye",
                layout=W.Layout(width="auto", align_self="flex-start", display="none"),
            )
            self.reveal_button.add_class("gpt2-quiz-reveal")
            self.reveal_button.on_click(self._on_reveal)
            children.append(self.reveal_button)
        self.box = W.VBox(children)
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
        """Grade the selected option, record it, show feedback; ``None`` if none selected
        (and for a question without its key, whose answer is only saved: see :meth:`save`)."""
        chosen = self.radio.value
        if chosen is None:
            self.feedback.value = f'<div class="gpt2-quiz-note">{html.escape(tr("choose_first", self.view.lang))}</div>'
            return None
        if self.graded:
            self.save(chosen)
            return None
        q = self.item.question
        correct = chosen == q.correct
        attempt = Attempt(
            time=now_iso(),
            lesson=self.view.selection.lesson,
            question=self.item.key,
            stage=self.item.stage,
            chosen=chosen,
            correct=correct,
            learner=self.view.selection.learner,
        )
        warning = self.view.record(attempt)
        self.earlier = False
        if self.blind:  # the verdict waits: refreshing the views shows what this card may show now
            self.warning = warning
            self.view.after_answer()
            return correct
        self.show_feedback(correct, earlier=False, extra=warning)
        self.view.after_answer()
        return correct

    # -- a pre question, answered blind --------------------------------------------------

    def show_pre(self, standing: MatchedItem | None, chosen: int | None) -> None:
        """Show what a blind card may show: nothing before an answer; "answer recorded" while the
        post stage has not asked it again (with the button to see it now); else the verdict and
        explanation of the last answer, with a note on whether it counts in the gain."""
        if self.reveal_button is None:
            return
        status = standing.status if standing is not None else None
        lang = self.view.lang
        waiting = status == WAITING and chosen is not None
        self.reveal_button.layout.display = "" if waiting else "none"
        if not waiting:
            self._disarm_reveal()
        if chosen is None or status is None or not (waiting or standing.verdict_due):
            if not self.warning:
                self.feedback.value = ""
            return
        warning = f'<p class="gpt2-quiz-warning">{html.escape(self.warning)}</p>' if self.warning else ""
        if waiting:
            note = f' <span class="gpt2-quiz-note">{html.escape(tr("earlier_answer", lang))}</span>' if self.earlier else ""
            self.feedback.value = (
                '<div class="gpt2-quiz-feedback is-saved gpt2-quiz-blind">'
                f'<p>{html.escape(tr("blind_saved", lang, letter=self.item.letter_of(chosen)))}{note}</p>'
                f'<p class="gpt2-quiz-note">{html.escape(tr("blind_first_try", lang))}</p>{warning}</div>'
            )
            return
        key = {COUNTED: "after_post_note", REVEALED: "revealed_note", LATE: "late_note"}[status]
        extra = f'<p class="gpt2-quiz-note">{html.escape(tr(key, lang))}</p>{warning}'
        self.show_feedback(chosen == self.item.question.correct, earlier=self.earlier, extra=extra)

    def _disarm_reveal(self) -> None:
        if self.reveal_button is not None and self._reveal_armed:
            self._reveal_armed = False
            self.reveal_button.description = tr("reveal", self.view.lang)
            self.reveal_button.button_style = ""

    def _on_reveal(self, _button=None) -> None:
        """First click asks, second click shows the verdict now (and takes the question out of the gain)."""
        try:
            if not self._reveal_armed:
                self._reveal_armed = True
                self.reveal_button.description = tr("reveal_confirm", self.view.lang)
                self.reveal_button.button_style = "warning"
                self.view.status.value = f'<div class="gpt2-quiz-note">{html.escape(tr("reveal_ask", self.view.lang))}</div>'
                return
            self.reveal()
        except Exception as exc:  # a callback error would vanish into the log console
            self.feedback.value = (
                f'<div class="gpt2-quiz-warning">{html.escape(type(exc).__name__)}: '
                f"{html.escape(str(exc))}</div>"
            )

    def reveal(self) -> None:
        """Record that the learner saw this pre question's verdict before the post stage asked it
        again, and show it (here and in every view of the same progress)."""
        self._disarm_reveal()
        selection = self.view.selection
        record = Reveal(time=now_iso(), lesson=selection.lesson, question=self.item.key, stage=self.item.stage,
                        learner=selection.learner)
        self.warning = self.view.record(record)
        self.view.status.value = ""
        self.view.after_answer()

    def save(self, chosen: int) -> bool:
        """Save the answer to a question without its key in ``quiz-answers.json`` (replacing an
        earlier one); no verdict, no explanation. False if the file cannot be written."""
        path = self.view.selection.answers_path
        try:
            save_answer(path, self.view.selection.lesson, str(self.item.key), chosen)
        except OSError as exc:
            detail = f"{path}: {exc.strerror or exc}"
            self.feedback.value = (
                f'<div class="gpt2-quiz-warning">{html.escape(tr("not_saved", self.view.lang, error=detail))}</div>'
            )
            return False
        self.show_saved(chosen, earlier=False)
        self.view.after_answer()
        return True

    def show_saved(self, chosen: int, *, earlier: bool) -> None:
        lang = self.view.lang
        note = f' <span class="gpt2-quiz-note">{html.escape(tr("earlier_answer", lang))}</span>' if earlier else ""
        self.feedback.value = (
            '<div class="gpt2-quiz-feedback is-saved">'
            f'<p>{html.escape(tr("saved", lang, letter=self.item.letter_of(chosen)))}{note}</p></div>'
        )

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
    """The widgets for a :class:`~quiz.selection.QuizSelection`, and its display bundle.

    ``request``: the arguments of :func:`~quiz.selection.select` that made the selection
    (``path``, ``stage``, ``ids``, ``progress_path``), so that the language buttons can
    draw the same questions from the other edition; without it there are no buttons.
    """

    def __init__(self, selection: QuizSelection, *, interactive: bool = True, request: dict | None = None):
        self.selection = selection
        self.request = request
        self.lang = selection.lang
        self.widget: W.VBox | None = None
        self.cards: list[QuestionCard] = []
        self.scores: dict[str, W.HTML] = {}
        self.summary: W.HTML | None = None
        self.language: W.ToggleButtons | None = None
        self.reset_button: W.Button | None = None
        self.status = W.HTML(value="") if interactive else None
        self._switching = False
        if interactive:
            self.widget = W.VBox([], layout=W.Layout(width="100%"))
            self.widget.add_class("gpt2-quiz")
            self._build()
            _LIVE_VIEWS.add(self)

    # -- building -------------------------------------------------------------------

    def _build(self) -> None:
        selection = self.selection
        self.lang = selection.lang
        title = selection.quiz.title or ""
        # Shown only when the quiz is drawn from the notebook's saved widget state with no kernel
        # behind it (ipywidgets marks the box "disconnected"): how to answer again.
        hint = f'<div class="gpt2-quiz-reload-hint">{html.escape(tr("reload_hint", self.lang))}</div>'
        self.header = W.HTML(
            value=style_tag() + hint
            + (f'<div class="gpt2-quiz-title">{html.escape(title)}</div>' if title else "")
        )
        children: list[W.Widget] = [self.header]
        self.language = self._language_buttons()
        if self.language is not None:
            children.append(self.language)
        self.cards = [QuestionCard(self, item) for item in selection.items]
        children += [card.box for card in self.cards]
        self.scores = {stage: W.HTML() for stage in selection.stages}
        children += list(self.scores.values())
        self.summary = None
        if "post" in selection.stages and selection.quiz.stage_indices("pre"):
            self.summary = W.HTML()
            children.append(self.summary)
        self.reset_button = W.Button(
            description=tr("reset", self.lang), icon="undo",
            layout=W.Layout(width="auto", align_self="flex-start"),
        )
        self.reset_button.add_class("gpt2-quiz-reset")
        self.reset_button.on_click(self._on_reset)
        self._reset_armed = False
        self.status.value = ""
        children += [self.reset_button, self.status]
        self.widget.children = children
        self._restore()
        self.refresh()

    def _language_buttons(self) -> W.ToggleButtons | None:
        """中文 | English above the quiz, when both editions exist and we know how to redraw."""
        if self.request is None:
            return None
        source = self.selection.source
        if not (primary_path(source).is_file() and english_path(source).is_file()):
            return None
        current = "en" if source.name.endswith(EN_SUFFIX) else "zh"
        buttons = W.ToggleButtons(
            options=[("中文", "zh"), ("English", "en")], value=current,
            tooltips=["切换到中文版测验（会被保存）", "Switch to the English quiz (saved)"],
            style={"button_width": "6em"}, layout=W.Layout(width="auto"),
        )
        buttons.add_class("gpt2-quiz-language")
        buttons.observe(self._on_language, names="value")
        return buttons

    def _on_language(self, change) -> None:
        if self._switching or change["new"] == change["old"]:
            return
        try:
            set_language(change["new"])
            self.switch_language(change["new"])
            for view in list(_LIVE_VIEWS):
                if view is not self:
                    try:
                        view.switch_language(change["new"])
                    except Exception:  # a view whose quiz file is gone keeps its language
                        pass
            note = tr("language_saved", change["new"], name="中文" if change["new"] == "zh" else "English")
            env = os.environ.get(ENV_LANGUAGE, "").strip()
            if env:
                note += " " + tr("language_env_wins", change["new"], value=env)
            self.status.value = f'<div class="gpt2-quiz-note">{html.escape(note)}</div>'
        except Exception as exc:  # a callback error would vanish into the log console
            self.status.value = f'<div class="gpt2-quiz-warning">{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>'

    def switch_language(self, lang: str) -> None:
        """Redraw with the ``lang`` edition (same questions, same answers) in place."""
        if self.request is None or self.widget is None:
            return
        self.selection = select(**self.request, lang=lang, learner=self.selection.learner)
        self._switching = True
        try:
            self._build()
        finally:
            self._switching = False

    def _saved(self) -> dict:
        """Answers saved to questions without their key (``quiz-answers.json``), if any."""
        if not self.selection.quiz.keyless:
            return {}
        return read_answers(self.selection.answers_path, self.selection.lesson).answers

    def _restore(self) -> None:
        """Show each question's last recorded answer, selected, with its feedback (a blind pre
        card's feedback comes from :meth:`refresh`)."""
        progress = per_question(self._attempts(), self.selection.lesson)
        saved = self._saved()
        for card in self.cards:
            if card.graded:
                chosen = saved.get(str(card.item.key))
                if chosen is not None and chosen in card.item.order:
                    card.radio.value = chosen
                    card.show_saved(chosen, earlier=True)
                continue
            last = progress.get((self.selection.lesson, card.item.stage, card.item.key))
            if last is None or not 0 <= last.last_chosen < len(card.item.order):
                continue
            card.radio.value = last.last_chosen
            card.earlier = True
            if not card.blind:
                card.show_feedback(last.last_chosen == card.item.question.correct, earlier=True)

    def record(self, record: Record) -> str:
        """Append an answer or a reveal to the progress file; '' or, if it cannot be written (it
        still counts in this kernel), the warning to show."""
        try:
            append_attempt(self.selection.progress_path, record)
        except OSError as exc:
            _UNSAVED.setdefault(self.progress_key, []).append(record)
            detail = f"{self.selection.progress_path}: {exc.strerror or exc}"
            return tr("not_saved", self.lang, error=detail)
        return ""

    @property
    def progress_key(self) -> Path:
        return self.selection.progress_path.resolve()

    def _attempts(self) -> list[Record]:
        """Every answer and reveal of the progress file, then those that could not be written."""
        unsaved = _UNSAVED.get(self.progress_key, [])
        return read_records(self.selection.progress_path) + unsaved

    def _same_progress(self) -> list[QuizView]:
        mine = (self.progress_key, self.selection.lesson)
        return [
            view for view in list(_LIVE_VIEWS)
            if view is self or (view.progress_key, view.selection.lesson) == mine
        ]

    # -- reset ----------------------------------------------------------------------

    def _on_reset(self, _button=None) -> None:
        """First click asks, second click clears: answers are not lost to a stray click."""
        if not self._reset_armed:
            self._reset_armed = True
            self.reset_button.description = tr("reset_confirm", self.lang)
            self.reset_button.button_style = "danger"
            self.status.value = f'<div class="gpt2-quiz-note">{html.escape(tr("reset_ask", self.lang))}</div>'
            return
        self._reset_armed = False
        self.reset_button.description = tr("reset", self.lang)
        self.reset_button.button_style = ""
        try:
            self.reset()
        except Exception as exc:  # a callback error would vanish into the log console
            self.status.value = f'<div class="gpt2-quiz-warning">{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>'

    def reset(self) -> int:
        """Forget the saved answers to this view's questions (in the stage that asks them),
        in the progress file and in every view that shows them; return how many went."""
        items = {(item.stage, item.key) for item in self.selection.items}
        lesson = self.selection.lesson
        try:
            removed = remove_attempts(self.selection.progress_path, lesson, items)
        except OSError as exc:
            self.status.value = (
                f'<div class="gpt2-quiz-warning">{html.escape(str(self.selection.progress_path))}: '
                f"{html.escape(exc.strerror or str(exc))}</div>"
            )
            return 0
        graded = [str(item.key) for item in self.selection.items if not item.question.has_key]
        if graded:
            try:
                removed += remove_answers(self.selection.answers_path, lesson, graded)
            except OSError as exc:
                self.status.value = (
                    f'<div class="gpt2-quiz-warning">{html.escape(str(self.selection.answers_path))}: '
                    f"{html.escape(exc.strerror or str(exc))}</div>"
                )
                return 0
        unsaved = _UNSAVED.get(self.progress_key, [])
        kept = [a for a in unsaved if not (a.lesson == lesson and (a.stage, a.question) in items)]
        removed += len(unsaved) - len(kept)
        if unsaved:
            _UNSAVED[self.progress_key] = kept
        for view in self._same_progress():
            for card in view.cards:
                if (card.item.stage, card.item.key) in items:
                    card.radio.value = None
                    card.feedback.value = ""
                    card.warning, card.earlier = "", False
            view.refresh()
        self.status.value = f'<div class="gpt2-quiz-note">{html.escape(tr("reset_done", self.lang, count=removed))}</div>'
        return removed

    # -- scores ---------------------------------------------------------------------

    def after_answer(self) -> None:
        """Refresh this view and every other live view of the same lesson's progress."""
        for view in self._same_progress():
            view.refresh()

    def refresh(self) -> None:
        attempts = self._attempts()
        quiz, lesson, lang = self.selection.quiz, self.selection.lesson, self.lang
        saved = self._saved()
        gain = matched_gain(quiz, attempts, lesson)
        standing = {item.key: item for item in gain.items}
        progress = per_question(attempts, lesson)
        for card in self.cards:
            if card.blind:
                last = progress.get((lesson, card.item.stage, card.item.key))
                chosen = last.last_chosen if last is not None and 0 <= last.last_chosen < len(card.item.order) else None
                card.show_pre(standing.get(card.item.key), chosen)
        for stage, label in self.scores.items():
            score = stage_score(quiz, stage, attempts, lesson, saved)
            lines = []
            if stage == "pre" and gain.waiting:  # a count of right answers would give the verdicts away
                lines.append(
                    f'<div class="gpt2-quiz-score">{html.escape(tr("score_blind", lang, stage=stage_name(stage, lang), answered=score.answered, total=score.total))}</div>'
                )
            elif score.total and (score.answered or not score.graded_total):
                # beside the answers saved for grading, a "0/2 right" for questions not yet checked
                # would read as the grade: the checked questions' score shows once one is answered
                lines.append(
                    f'<div class="gpt2-quiz-score">{html.escape(tr("score", lang, stage=stage_name(stage, lang), first=score.first_correct, total=score.total, answered=score.answered))}'
                    f' <span class="gpt2-quiz-note">{html.escape(tr("first_try_note", lang))}</span></div>'
                )
            if score.graded_total:
                lines.append(
                    f'<div class="gpt2-quiz-score">{html.escape(tr("graded_score", lang, stage=stage_name(stage, lang), answered=score.graded_answered, total=score.graded_total))}</div>'
                )
            label.value = "".join(lines)
        if self.summary is not None:
            self.summary.value = summary_html(gain, lang)

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


def gain_text(gain: MatchedGain, lang: str) -> str:
    """"⟨g⟩ = (post − pre) / (100 − pre) = 0.50" for a complete comparison."""
    g = gain.normalized
    return tr("summary_gain_full", lang) if g is None else tr("summary_gain", lang, g=f"{g:.2f}")


def summary_text(gain: MatchedGain, lang: str) -> tuple[str, str] | None:
    """(the before → after line with ⟨g⟩, the verdict) on the items answered blind; ``None``
    until every pre question is either counted or left out."""
    if not gain.complete:
        return None
    before, after = gain.before, gain.after
    pre_pct, post_pct = round(before.percent), round(after.percent)
    line = tr(
        "summary_line", lang, total=before.total,
        pre_first=before.first_correct, pre_pct=f"{pre_pct}%",
        post_first=after.first_correct, post_pct=f"{post_pct}%",
    )
    delta = gain.points
    if delta > 0:
        verdict = tr("summary_better", lang, points=delta)
    elif delta < 0:
        verdict = tr("summary_worse", lang, points=-delta)
    elif before.first_correct == before.total:
        verdict = tr("summary_perfect", lang)
    else:
        verdict = tr("summary_same", lang)
    return line, verdict


def summary_html(gain: MatchedGain, lang: str) -> str:
    """The pre vs post comparison on the items answered blind, once none is pending."""
    title = f"<strong>{html.escape(tr('summary_title', lang))}</strong>"
    left_out = (f'<br><span class="gpt2-quiz-note">{html.escape(tr("summary_left_out", lang, count=gain.left_out))}</span>'
                if gain.left_out else "")
    if gain.pending == 0 and gain.counted == 0:
        return f'<div class="gpt2-quiz-summary">{title}<br>{html.escape(tr("summary_none_blind", lang))}</div>'
    text = summary_text(gain, lang)
    if text is None:
        return f'<div class="gpt2-quiz-summary">{title}<br>{html.escape(tr("summary_pending", lang))}{left_out}</div>'
    line, verdict = text
    return (
        f'<div class="gpt2-quiz-summary">{title}<br>{html.escape(line)}<br>'
        f'<span class="gpt2-quiz-gain">{html.escape(gain_text(gain, lang))}</span><br>'
        f"{html.escape(verdict)} "
        f'<span class="gpt2-quiz-note">{html.escape(tr("first_try_note", lang))}</span>{left_out}</div>'
    )
