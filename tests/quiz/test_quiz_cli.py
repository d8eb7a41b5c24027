"""``python -m quiz``: validate, lint, take, report; exit codes; never a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from quiz.cli import main

REPO = Path(__file__).resolve().parents[2]
MALFORMED = Path(__file__).resolve().parent / "malformed"


def run_cli(*args, stdin=""):
    """``python -m quiz`` in a real subprocess (exit code, stdout, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "QUIZ_LEARNER": "cli-learner"}
    env.pop("GPT2_COURSE_LANG", None)
    return subprocess.run(
        [sys.executable, "-m", "quiz", *map(str, args)],
        input=stdin, capture_output=True, text=True, env=env, timeout=60, cwd=REPO,
    )


def call(capsys, *args, stdin=""):
    """The CLI in-process (fast): exit code, stdout, stderr."""
    try:
        code = main([str(a) for a in args], stdin=io.StringIO(stdin))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_fixture_and_seed(seed_copy, demo_quiz):
    result = run_cli("validate", demo_quiz, seed_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: {demo_quiz} (6 questions: 1 pre, 3 check, 2 post)" in result.stdout


def test_validate_fixture_without_seed(demo_quiz, balanced_quiz, capsys):
    code, out, _ = call(capsys, "validate", demo_quiz, balanced_quiz)
    assert code == 0 and out.count("ok: ") == 2


def test_validate_a_folder_finds_both_editions(demo_dir, capsys):
    code, out, _ = call(capsys, "validate", demo_dir)
    assert code == 0 and "quiz.en.json" in out and "quiz.json (" in out


def test_validate_malformed_corpus_reports_everything_without_traceback():
    files = sorted(MALFORMED.glob("*.json"))
    result = run_cli("validate", *files)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    for path in files:
        assert str(path) in result.stdout
    assert f"{len(files)} of {len(files)} failed validation" in result.stderr


def test_lint_seed_prints_the_statistics_and_fails(seed_copy):
    result = run_cli("lint", seed_copy)
    assert result.returncode == 1
    assert "length-biased 5/6" in result.stdout
    assert "correct-is-longest 6/6" in result.stdout
    assert "answer position in the file: A 1, B 5, C 0, D 0" in result.stdout


def test_lint_fixture_statistics_and_exit_code(demo_quiz, capsys):
    code, out, _ = call(capsys, "lint", demo_quiz)
    assert code == 1
    assert "length-biased 5/6" in out and "correct-is-longest 6/6" in out
    assert "A 1, B 5, C 0, D 0" in out and "5/6 correct answers sit in slot B" in out
    assert 'question 2 (id "causal-mask"): the correct option has' in out
    assert "FAIL" in out


def test_lint_passes_with_only_warnings(balanced_quiz, capsys):
    code, out, _ = call(capsys, "lint", balanced_quiz)
    assert code == 0
    assert "empty explanations 1/4" in out and "warning: question 3 has an empty explanation" in out
    assert "length-biased 0/4" in out


def test_lint_reports_invalid_files(capsys):
    code, out, _ = call(capsys, "lint", MALFORMED / "correct-bool.json")
    assert code == 1 and "got true (a boolean)" in out


def test_lint_reports_mismatched_editions_once(demo_dir, capsys):
    en = demo_dir / "quiz.en.json"
    data = json.loads(en.read_text(encoding="utf-8"))
    data["questions"][0]["stage"] = "post"
    en.write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = call(capsys, "lint", demo_dir / "quiz.json", en)
    assert code == 1
    assert out.count('field "stage": is \'post\' but \'pre\' in quiz.json') == 1


def answers_for(selection_items, right: bool) -> list[str]:
    letters = []
    for item in selection_items:
        target = item.question.correct if right else next(
            i for i in range(len(item.order)) if i != item.question.correct)
        letters.append("ABCDEF"[item.position_of(target)])
    return letters


def test_take_fixture_all_right(demo_quiz, monkeypatch, capsys):
    from quiz.selection import select

    monkeypatch.setenv("QUIZ_LEARNER", "cli-learner")
    items = select(demo_quiz, "check").items
    letters = answers_for(items, right=True)
    letters[1] = letters[1].lower()  # lower case is fine
    code, out, _ = call(capsys, "take", demo_quiz, "--stage", "check", stdin="\n".join(letters) + "\n")
    assert code == 0
    assert out.count("✓ 回答正确！") == 3
    assert "得分：3/3（已作答 3/3 题）" in out
    assert "解析：" in out and "exp(-inf) = 0" in out
    sidecar = demo_quiz.parent / "quiz-progress.jsonl"
    chosen = [json.loads(line)["chosen"] for line in sidecar.read_text().splitlines()]
    assert chosen == [item.question.correct for item in items]  # original indices


def test_take_reprompts_on_bad_input_and_stops_at_end_of_input(demo_quiz, monkeypatch, capsys):
    from quiz.selection import select

    monkeypatch.setenv("QUIZ_LEARNER", "cli-learner")
    (item,) = select(demo_quiz, "pre").items
    wrong = answers_for([item], right=False)[0]
    code, out, _ = call(capsys, "take", demo_quiz, "--stage", "pre", "--lang", "en", "--no-save",
                        stdin=f"x\n9\n{wrong}\n")
    assert code == 0
    assert out.count("Please type one of the letters A, B, C, D.") == 2
    # a pre question is answered blind: recorded, no verdict, no answer, no score yet
    assert f"Answer recorded ({wrong})" in out
    assert "Not quite" not in out and "The right answer" not in out and "Score:" not in out
    assert not (demo_quiz.parent / "quiz-progress.jsonl").exists()
    code, out, _ = call(capsys, "take", demo_quiz, "--no-save", stdin="")
    assert code == 0 and "输入已结束" in out and "得分：0/7（已作答 0/7 题）" in out  # post re-asks the pre question


def test_take_seed_by_pipe(seed_copy, tmp_path):
    progress = tmp_path / "progress.jsonl"
    # 6 questions, one of them pre: the post stage asks it again, so 7 answers
    result = run_cli("take", seed_copy, "--progress", progress, stdin="A\nB\nC\nD\nA\nB\nC\n")
    assert result.returncode == 0, result.stderr
    assert "得分：" in result.stdout and "（已作答 7/7 题）" in result.stdout
    # the pre question is answered blind; asked again in the post stage, its verdict shows then
    assert result.stdout.count("解析：") == 6 and result.stdout.count("已记录你的答案") == 1
    assert result.stdout.count("你课前对这道题的回答：") == 1
    assert len(progress.read_text().splitlines()) == 7


def test_take_english_fixture_by_pipe(demo_quiz):
    result = run_cli("take", demo_quiz, "--lang", "en", "--stage", "post", "--no-save", stdin="1\n2\n3\n")
    assert result.returncode == 0, result.stderr
    assert "Demo lesson: scaled dot-product attention" in result.stdout
    assert "[Question 1 · Post-lesson quiz · a pre-lesson question, asked again]" in result.stdout
    assert "Score: " in result.stdout and "(3/3 answered)" in result.stdout
    assert "W_Q" in result.stdout


def test_take_invalid_quiz_is_a_clean_error(capsys):
    code, _, err = call(capsys, "take", MALFORMED / "unknown-stage.json")
    assert code == 1 and 'got "review"' in err


def test_report_summarises_per_stage_and_question(demo_quiz, monkeypatch, capsys):
    from quiz.selection import select

    monkeypatch.setenv("QUIZ_LEARNER", "cli-learner")
    items = select(demo_quiz, "check").items
    wrong = answers_for(items, right=False)
    right = answers_for(items, right=True)
    call(capsys, "take", demo_quiz, "--stage", "check", stdin=f"{wrong[0]}\n{right[1]}\n{right[2]}\n")
    call(capsys, "take", demo_quiz, "--stage", "check", stdin=f"{right[0]}\n")
    sidecar = demo_quiz.parent / "quiz-progress.jsonl"
    with open(sidecar, "a", encoding="utf-8") as handle:
        handle.write("this line is damaged\n")
    code, out, err = call(capsys, "report", sidecar)
    assert code == 0
    assert "4 recorded answers" in out
    assert "check: answered 3/3, right on the first try 2/3, last answer right 3/3" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["#2", "causal-mask", "2", "right", "wrong"] in lines  # quiz.json beside it: numbered
    assert ["#3", "head-size", "1", "right", "right"] in lines
    assert "warning: " in err and "line 5 skipped" in err
    # with the quiz file: totals over the quiz, numbered questions
    code, out, _ = call(capsys, "report", demo_quiz)
    assert code == 0 and "pre: answered 0/1" in out and "#2 causal-mask" in out


def test_report_missing_progress(tmp_path, capsys):
    code, _, err = call(capsys, "report", tmp_path)
    assert code == 1 and "no progress file" in err


def test_usage_errors_exit_2_with_help():
    result = run_cli("take")
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("frobnicate")
    assert result.returncode == 2
    help_text = run_cli("--help").stdout
    assert "exit codes:" in help_text and "validate" in help_text and "report" in help_text
    assert "length-biased" in run_cli("lint", "--help").stdout


def test_missing_file_is_a_clean_error(tmp_path, capsys):
    code, out, _ = call(capsys, "validate", tmp_path / "missing.json")
    assert code == 1 and "file not found" in out
