"""The sidecar progress file: append-only records, tolerant reading, scores."""

from __future__ import annotations

import json

import pytest

from quiz import Attempt, load_quiz
from quiz.progress import (
    PROGRESS_FILE,
    append_attempt,
    default_progress_path,
    now_iso,
    per_question,
    read_attempts,
    stage_score,
)


def attempt(question, chosen, correct, stage="check", lesson="demo-attention"):
    return Attempt(time=now_iso(), lesson=lesson, question=question, stage=stage, chosen=chosen, correct=correct)


def test_default_path_is_beside_the_quiz(demo_quiz):
    assert default_progress_path(demo_quiz) == demo_quiz.parent / PROGRESS_FILE


def test_append_writes_one_json_line_per_check(tmp_path):
    path = tmp_path / PROGRESS_FILE
    append_attempt(path, attempt("causal-mask", 0, True))
    append_attempt(path, attempt(2, 3, False))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert set(record) == {"time", "lesson", "question", "stage", "chosen", "correct"}
    assert record["question"] == "causal-mask" and record["chosen"] == 0 and record["correct"] is True
    assert "T" in record["time"] and ("+" in record["time"] or record["time"].endswith("Z"))
    assert json.loads(lines[1])["question"] == 2


def test_corrupt_lines_are_skipped_with_a_warning(tmp_path):
    path = tmp_path / PROGRESS_FILE
    append_attempt(path, attempt("a", 1, True))
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
        handle.write(json.dumps({"lesson": "x"}) + "\n")  # JSON, but not a record
        handle.write(json.dumps({**attempt("b", 0, False).model_dump(), "correct": "yes"}) + "\n")
        handle.write("\n")
    with open(path, "ab") as handle:
        handle.write(b"\xff\xfe broken bytes\n")
    append_attempt(path, attempt("c", 2, True))
    with pytest.warns(RuntimeWarning) as caught:
        records = read_attempts(path)
    assert [r.question for r in records] == ["a", "c"]
    messages = " ".join(str(w.message) for w in caught)
    for number in (2, 3, 4, 6):
        assert f"line {number} skipped" in messages


def test_a_cut_off_last_line_does_not_swallow_the_next_record(tmp_path):
    path = tmp_path / PROGRESS_FILE
    path.write_text('{"time": "2026-01-01T00:00:00+00:00", "lesson": "x", "quest', encoding="utf-8")
    append_attempt(path, attempt("q", 1, True))
    with pytest.warns(RuntimeWarning, match="line 1 skipped"):
        records = read_attempts(path)
    assert [r.question for r in records] == ["q"]


def test_missing_file_reads_as_empty(tmp_path):
    assert read_attempts(tmp_path / "none.jsonl") == []


def test_per_question_first_and_last(tmp_path):
    records = [attempt("a", 0, False), attempt("a", 1, True), attempt("b", 1, True), attempt("x", 1, True, lesson="other")]
    summary = per_question(records, "demo-attention")
    assert set(summary) == {("demo-attention", "check", "a"), ("demo-attention", "check", "b")}
    a = summary[("demo-attention", "check", "a")]
    assert (a.attempts, a.first_correct, a.last_correct, a.last_chosen) == (2, False, True, 1)


def test_stage_score_counts_first_tries_over_the_whole_lesson(demo_quiz):
    quiz = load_quiz(demo_quiz)
    records = [
        attempt("causal-mask", 0, True),
        attempt("head-size", 0, False),
        attempt("head-size", 1, True),
    ]
    score = stage_score(quiz, "check", records, "demo-attention")
    assert (score.total, score.answered, score.first_correct, score.last_correct) == (3, 2, 1, 2)
    assert stage_score(quiz, "post", records, "demo-attention").answered == 0
