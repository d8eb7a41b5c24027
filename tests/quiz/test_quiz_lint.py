"""Lint statistics: answer-position spread, length bias, empty explanations, editions."""

from __future__ import annotations

import json

from quiz import load_quiz
from quiz.lint import check_pair, lint_quiz


def test_demo_fixture_has_the_seed_statistics(demo_quiz):
    report = lint_quiz(load_quiz(demo_quiz))
    assert report.total == 6
    assert report.positions == {"A": 1, "B": 5, "C": 0, "D": 0}
    assert len(report.longest) == 6
    assert [c.number for c in report.biased] == [2, 3, 4, 5, 6]
    assert report.empty_explanations == []
    assert report.failed


def test_seed_statistics(seed_copy):
    report = lint_quiz(load_quiz(seed_copy))
    assert (len(report.longest), len(report.biased), report.positions["B"]) == (6, 5, 5)


def test_length_bias_threshold_is_strictly_longest_and_125_percent(tmp_path):
    def check(correct, distractor):
        path = tmp_path / "quiz.json"
        path.write_text(json.dumps([{
            "stage": "pre", "question": "q", "options": [distractor, correct], "correct": 1,
            "explanation": "e"}]), encoding="utf-8")
        (result,) = lint_quiz(load_quiz(path)).lengths
        return result.is_longest, result.is_biased

    assert check("x" * 5, "y" * 4) == (True, True)  # 5 >= 1.25 * 4
    assert check("x" * 4, "y" * 4) == (False, False)  # a tie is not "strictly longest"
    assert check("x" * 12, "y" * 10) == (True, False)  # 12 < 12.5
    assert check("中" * 5, "y" * 4) == (True, True)  # characters, not bytes


def test_balanced_fixture_passes_with_a_warning(balanced_quiz):
    report = lint_quiz(load_quiz(balanced_quiz))
    assert not report.failed
    assert report.empty_explanations == [(3, None)]
    assert report.positions == {"A": 1, "B": 0, "C": 2, "D": 1}


def test_editions_must_match(demo_dir):
    assert check_pair(demo_dir / "quiz.json") == []
    en = demo_dir / "quiz.en.json"
    data = json.loads(en.read_text(encoding="utf-8"))
    data["questions"][1]["correct"] = 2
    data["questions"][2]["id"] = "renamed"
    data["questions"][3]["options"].pop()
    en.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    messages = [str(p) for p in check_pair(demo_dir / "quiz.json")]
    assert any('question 2 (id "causal-mask"), field "correct": is 2 but 0 in quiz.json' in m for m in messages)
    assert any('field "id"' in m and "'renamed'" in m for m in messages)
    assert any('field "options": has 3 options but 4 in quiz.json' in m for m in messages)
