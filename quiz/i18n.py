"""The quiz engine's own words in Simplified Chinese and English, and language choice.

The language of a quiz's UI follows the quiz's text (CJK characters in the questions mean
Chinese) unless a caller passes ``lang=``. Separately, a learner can ask for the English
edition of every quiz (``quiz.en.json`` beside ``quiz.json``): with the language buttons
drawn above every quiz, :func:`set_language` in the kernel, or the environment variable
``GPT2_COURSE_LANG=en``. The buttons and :func:`set_language` save the choice in
``settings.json`` (:func:`settings_path`), so it survives kernel restarts. Which one
counts: :func:`set_language` in this kernel, else ``$GPT2_COURSE_LANG``, else the saved
choice.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

LANGUAGES = ("zh", "en")
ENV_LANGUAGE = "GPT2_COURSE_LANG"

STRINGS: dict[str, dict[str, str]] = {
    "check": {"zh": "检查答案", "en": "Check answer"},
    "correct": {"zh": "✓ 回答正确！", "en": "✓ Correct!"},
    "incorrect": {"zh": "✗ 回答错误。", "en": "✗ Not quite."},
    "right_answer": {"zh": "正确答案", "en": "The right answer"},
    "explanation": {"zh": "解析", "en": "Explanation"},
    "no_explanation": {"zh": "（本题没有解析。）", "en": "(No explanation for this question.)"},
    "choose_first": {"zh": "请先选择一个选项。", "en": "Please choose an option first."},
    "earlier_answer": {"zh": "（上次的作答记录）", "en": "(your earlier answer)"},
    "not_saved": {
        "zh": "⚠ 作答记录未能保存：{error}",
        "en": "⚠ Your answer could not be saved: {error}",
    },
    "question_n": {"zh": "第 {n} 题", "en": "Question {n}"},
    "stage_pre": {"zh": "课前测验", "en": "Pre-lesson quiz"},
    "stage_check": {"zh": "随堂检查", "en": "Concept check"},
    "stage_post": {"zh": "课后测验", "en": "Post-lesson quiz"},
    "score": {
        "zh": "你的得分（{stage}）：首次作答答对 {first}/{total} 题，已作答 {answered}/{total} 题",
        "en": "Your score ({stage}): {first}/{total} right on the first try, "
        "{answered}/{total} answered",
    },
    "score_blind": {
        "zh": "你的得分（{stage}）：已作答 {answered}/{total} 题；对错在课后测验重答这些题之后公布",
        "en": "Your score ({stage}): {answered}/{total} answered; right or wrong shows once the post-lesson quiz "
        "has asked them again",
    },
    "summary_title": {"zh": "课前 vs 课后（同一批题目）", "en": "Before vs after the lesson (the same questions)"},
    "summary_line": {
        "zh": "课前盲答的 {total} 道题：课前答对 {pre_first}/{total}（{pre_pct}）→ 课后重答答对 {post_first}/{total}（{post_pct}）",
        "en": "The {total} pre-lesson question(s) answered blind: before {pre_first}/{total} ({pre_pct}) → "
        "asked again after {post_first}/{total} ({post_pct})",
    },
    "summary_gain": {
        "zh": "标准化增益 ⟨g⟩ =（课后 − 课前）/（100 − 课前）= {g}",
        "en": "Normalized gain ⟨g⟩ = (post − pre) / (100 − pre) = {g}",
    },
    "summary_gain_full": {
        "zh": "标准化增益 ⟨g⟩：课前已经全对，没有可增益的空间",
        "en": "Normalized gain ⟨g⟩: full marks before, nothing left to gain",
    },
    "summary_better": {"zh": "进步了 {points} 个百分点，干得好！", "en": "Up {points} percentage points: well done!"},
    "summary_same": {"zh": "和课前持平。回顾一下解析，再试试看。", "en": "The same as before: review the explanations and try again."},
    "summary_perfect": {
        "zh": "课前课后都全部答对：这些内容你已经牢牢掌握了！",
        "en": "Full marks before and after: you had this down from the start, and you still do.",
    },
    "summary_worse": {"zh": "比课前低 {points} 个百分点。回顾一下本课内容吧。", "en": "Down {points} percentage points: worth reviewing the lesson."},
    "summary_pending": {
        "zh": "完成课前测验，并在课后测验中重答这些题目后，这里会显示对比。",
        "en": "Answer the pre-lesson quiz, and the same questions again in the post-lesson quiz, to see the comparison here.",
    },
    "summary_left_out": {
        "zh": "另有 {count} 道课前题目不计入对比：在课后重答之前看了答案，或者没有在课后测验之前先答。",
        "en": "{count} more pre-lesson question(s) left out: the answer was seen before the post-lesson quiz asked "
        "again, or the question was not answered before it.",
    },
    "summary_none_blind": {
        "zh": "没有盲答的课前题目，无从比较：每道题都在课后重答之前看了答案，或者没有在课后测验之前先答。",
        "en": "No pre-lesson question was answered blind, so there is nothing to compare: each answer was seen "
        "before the post-lesson quiz asked again, or the question was not answered before it.",
    },
    # the pre stage answers blind (see quiz.progress.matched_items)
    "blind_saved": {
        "zh": "已记录你的答案（{letter}）。课前测验先不公布对错：你在课后测验中再答这道题之后，这里会显示对错和解析。这样课前→课后的对比量的是这一课教会了什么，而不是刚刚看过什么。",
        "en": "Answer recorded ({letter}). The pre-lesson quiz keeps its verdict until the post-lesson quiz has "
        "asked this question again; then the verdict and explanation show here. That way the before → after "
        "comparison measures what the lesson taught, not what you just read.",
    },
    "blind_first_try": {
        "zh": "可以改选后再点“检查答案”，但对比只算第一次的答案。",
        "en": "You may change it and check again, but the comparison counts your first answer.",
    },
    "reveal": {"zh": "现在就看答案", "en": "Show the answer now"},
    "reveal_confirm": {"zh": "确认：现在看答案", "en": "Confirm: show it now"},
    "reveal_ask": {
        "zh": "再点一次即显示对错和解析；这道题将不再计入课前→课后的对比。",
        "en": "Click again to see the verdict and explanation now; this question then leaves the before → after comparison.",
    },
    "after_post_note": {
        "zh": "课后测验已经重答了这道题，这是你课前答案的对错。",
        "en": "The post-lesson quiz has asked this again: here is how your pre-lesson answer did.",
    },
    "revealed_note": {
        "zh": "你在课后重答之前看了答案：这道题不计入课前→课后的对比。",
        "en": "You saw the answer before the post-lesson quiz asked it again: this question is not in the before → after comparison.",
    },
    "late_note": {
        "zh": "这道题在课后测验中答过之后才在这里作答，不计入课前→课后的对比。",
        "en": "This was answered here only after the post-lesson quiz had asked it: it is not in the before → after comparison.",
    },
    "pre_static": {
        "zh": "课前题目：答案在课后测验中揭晓。",
        "en": "A pre-lesson question: its answer is given in the post-lesson quiz.",
    },
    "pre_was": {"zh": "你课前对这道题的回答：{verdict}", "en": "Your pre-lesson answer to it: {verdict}"},
    "reload_hint": {
        "zh": "这是保存下来的测验画面，已与内核断开：要再作答，请重新运行本单元格（Shift+Enter）。",
        "en": "This is the saved picture of the quiz, not connected to a kernel: to answer again, run this cell (Shift+Enter).",
    },
    "asked_again": {"zh": "课前题目再答一次", "en": "a pre-lesson question, asked again"},
    "reset": {"zh": "清除作答记录", "en": "Reset answers"},
    "reset_confirm": {"zh": "确认清除", "en": "Confirm reset"},
    "reset_ask": {
        "zh": "再点一次即清除本单元格这些题目的作答记录（无法撤销）。",
        "en": "Click again to delete your saved answers to the questions in this cell (this cannot be undone).",
    },
    "reset_done": {
        "zh": "已清除 {count} 条作答记录，可以重新作答。",
        "en": "{count} saved answer(s) cleared: answer again whenever you like.",
    },
    "language": {"zh": "测验语言", "en": "Quiz language"},
    "language_saved": {
        "zh": "已保存：之后的测验使用{name}（重启内核后依然有效）。",
        "en": "Saved: quizzes now use {name} (this survives a kernel restart).",
    },
    "language_env_wins": {
        "zh": "注意：环境变量 GPT2_COURSE_LANG={value} 在新内核中优先于此设置。",
        "en": "Note: the environment variable GPT2_COURSE_LANG={value} wins over this choice in new kernels.",
    },
    "first_try_note": {"zh": "按首次作答计分。", "en": "Scores count first tries."},
    "show_answer": {"zh": "显示答案与解析", "en": "Show the answer and explanation"},
    "static_note": {
        "zh": "交互式测验：在 Jupyter 中运行此单元格即可作答。",
        "en": "Interactive quiz: run this cell in Jupyter to answer it.",
    },
    "static_plain_hint": {
        "zh": "答案已隐藏。请在 Jupyter 中运行，或在终端运行：python -m quiz take {path}",
        "en": "Answers are hidden. Run this in Jupyter, or in a terminal: python -m quiz take {path}",
    },
    "colon": {"zh": "：", "en": ": "},
    "take_prompt": {"zh": "你的答案 [{letters}]：", "en": "Your answer [{letters}]: "},
    "take_invalid": {"zh": "请输入 {letters} 中的一个字母。", "en": "Please type one of the letters {letters}."},
    "take_final": {
        "zh": "得分：{right}/{total}（已作答 {answered}/{total} 题）",
        "en": "Score: {right}/{total} ({answered}/{total} answered)",
    },
    "take_stopped": {"zh": "输入已结束，测验提前停止。", "en": "Input ended; stopping early."},
    "home_lesson": {"zh": "课程", "en": "Lesson"},
    "home_gain": {"zh": "课前 → 课后（盲答的同一批题）", "en": "Before → after (same questions, answered blind)"},
    "home_cell": {"zh": "已答 {answered}/{total}，首次答对 {right}", "en": "{answered}/{total} answered, {right} right"},
    "home_gain_pending": {"zh": "尚未完成", "en": "not yet"},
    "home_cell_blind": {"zh": "已答 {answered}/{total}，对错待课后公布", "en": "{answered}/{total} answered, verdicts after the post quiz"},
    "home_gain_cell": {"zh": "{before} → {after}，⟨g⟩ = {g}", "en": "{before} → {after}, ⟨g⟩ = {g}"},
    "home_gain_full": {"zh": "课前已全对", "en": "full marks before"},
    "home_left_out": {"zh": "（{count} 题不计）", "en": " ({count} left out)"},
    "home_gain_none": {"zh": "没有盲答的题", "en": "no blind answers"},
    "home_none": {"zh": "在 {root} 下没有找到课程文件夹。", "en": "No lesson folders found under {root}."},
    "home_note": {
        "zh": "“首次答对”按每道题第一次作答计分。课前 → 课后只算盲答的题：课前先答、并且在课后重答之前没有看过答案。"
        "⟨g⟩ =（课后 − 课前）/（100 − 课前）是 Hake 的标准化增益：课前没答对的部分里，学会了多少。重新运行本单元格即可刷新。",
        "en": "\"Right\" counts first tries. Before → after counts only questions answered blind: answered before the "
        "lesson, and the answer not seen before the post-lesson quiz asked again. ⟨g⟩ = (post − pre) / (100 − pre) "
        "is Hake's normalized gain: the share of what you did not know before that you learned. Run this cell "
        "again to refresh.",
    },
    "take_none": {"zh": "没有符合条件的题目。", "en": "No questions match."},
    # graded questions of a course release (no key in the notebook: see quiz.answers)
    "save": {"zh": "保存答案", "en": "Save answer"},
    "saved": {
        "zh": "已保存你的答案（{letter}）。本题在提交作业后评分，这里不显示对错和解析；提交之前可以随时改选并重新保存。",
        "en": "Answer saved ({letter}). This question is graded when you submit: no verdict or explanation "
        "here. You may change it and save again until you submit.",
    },
    "graded_score": {
        "zh": "提交作业后评分的题目（{stage}）：已保存 {answered}/{total} 题的答案",
        "en": "Graded when you submit ({stage}): {answered}/{total} answers saved",
    },
    "graded_static": {"zh": "本题在提交作业后评分。", "en": "This question is graded when you submit."},
    "home_graded": {"zh": "已答 {answered}/{total}，提交后计分", "en": "{answered}/{total} answered, graded on submission"},
    "status_course": {
        "zh": "课后小测：已保存 {answered}/{total} 题的答案（{file}），提交作业后计分。",
        "en": "Post quiz: {answered}/{total} answers saved ({file}); they are scored when you submit.",
    },
    "status_missing": {
        "zh": "还没有保存答案的题目：{ids}。请在上面的课后小测中选择选项，再点击“保存答案”。",
        "en": "Not saved yet: {ids}. Pick an option in the post quiz above and click \"Save answer\".",
    },
    "status_self_study": {
        "zh": "课后小测已在上面即时批改。只有在课程的 nbgrader 作业中它才计入成绩；自学时这里不计分。",
        "en": "The post quiz above was checked as you answered. It counts towards a grade only in a course "
        "(an nbgrader assignment); in self-study nothing is scored here.",
    },
    "status_problem": {
        "zh": "⚠ {file} 无法使用：{problem}。请在上面的课后小测中重新保存答案。",
        "en": "⚠ {file} cannot be used: {problem}. Save your answers in the post quiz above again.",
    },
}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_preferred: str | None = None


def normalize_language(value: str | None) -> str | None:
    """``"zh-CN"`` → ``"zh"``, ``"EN_us"`` → ``"en"``; ``None``/empty → ``None``.

    Raises ``ValueError`` for a language the course does not ship.
    """
    if value is None or not str(value).strip():
        return None
    code = re.split(r"[-_.]", str(value).strip().lower(), maxsplit=1)[0]
    if code not in LANGUAGES:
        raise ValueError(f"unsupported language {value!r}: expected one of {', '.join(LANGUAGES)}")
    return code


def settings_path() -> Path:
    """The learner's course settings: ``$XDG_CONFIG_HOME/gpt2-course/settings.json``
    (``~/.config/...`` by default), beside the learner id."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "gpt2-course" / "settings.json"


def _read_settings() -> dict:
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def saved_language() -> str | None:
    """The language saved by the buttons or :func:`set_language`, if any (and valid)."""
    try:
        return normalize_language(_read_settings().get("language"))
    except (ValueError, AttributeError):
        return None


def save_language(lang: str | None) -> bool:
    """Write (or, for ``None``, forget) the saved language; ``False`` if it cannot be written."""
    lang = normalize_language(lang)
    path = settings_path()
    data = _read_settings()
    if lang is None:
        if "language" not in data:
            return True
        data.pop("language")
    else:
        data["language"] = lang
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(
            f"quiz: cannot save the language in {path} ({exc.strerror or exc}); "
            "it applies to this kernel only",
            stacklevel=3,
        )
        return False
    return True


def set_language(lang: str | None, *, save: bool = True) -> None:
    """Prefer the quiz editions in ``lang`` ("zh" or "en"); ``None`` resets.

    With ``"en"``, ``show_quiz("quiz.json")`` shows ``quiz.en.json`` when that file exists.
    The choice applies to this kernel at once and, with ``save`` (the default), is written
    to :func:`settings_path` for later kernels (where ``$GPT2_COURSE_LANG`` still wins).
    """
    global _preferred
    _preferred = normalize_language(lang)
    if save:
        save_language(_preferred)


def environment_language() -> str | None:
    try:
        return normalize_language(os.environ.get(ENV_LANGUAGE))
    except ValueError:
        return None  # an unknown value in the environment is ignored, not fatal


def preferred_language() -> str | None:
    """The learner's preferred edition: :func:`set_language` in this kernel, else
    ``$GPT2_COURSE_LANG``, else the saved choice (:func:`saved_language`)."""
    if _preferred is not None:
        return _preferred
    return environment_language() or saved_language()


def contains_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def detect_language(texts) -> str:
    """``"zh"`` if any of the texts contains CJK characters, else ``"en"``."""
    return "zh" if any(contains_cjk(t) for t in texts) else "en"


def tr(key: str, lang: str, **values) -> str:
    """The UI string ``key`` in ``lang``, with ``{placeholders}`` filled in."""
    text = STRINGS[key].get(lang) or STRINGS[key]["en"]
    return text.format(**values) if values else text


def stage_name(stage: str, lang: str) -> str:
    return tr(f"stage_{stage}", lang)
