"""bench.grading: the class it builds, and a small run of the whole benchmark."""

from __future__ import annotations

from collections import Counter

import pytest

from bench import grading
from grader import acceptance
from grader.proofs.submissions import Submission


def submissions():
    return [*acceptance.load_submissions(grading.SLUG), Submission("solution", fails=set())]


def test_the_class_is_60_percent_correct_32_percent_one_bug_8_percent_hostile():
    klass = grading.make_class(submissions(), 200)
    kinds = Counter(student.rsplit("-", 1)[1] for student, _ in klass)
    assert kinds == {"correct": 120, "buggy": 64, "hostile": 16}
    assert len({student for student, _ in klass}) == 200
    by_kind = {kind: {sub.name for student, sub in klass if student.endswith(kind)} for kind in kinds}
    assert all(not sub.fails for student, sub in klass if student.endswith("correct"))
    assert all(sub.fails for student, sub in klass if student.endswith("buggy"))
    assert {"loops-forever", "neuters-the-checks"} <= by_kind["hostile"]
    assert not by_kind["hostile"] & by_kind["correct"]
    # Interleaved: every stretch of 25 students has all three kinds (workers get a fair mix).
    assert all(len({s.rsplit("-", 1)[1] for s, _ in klass[i:i + 25]}) == 3 for i in range(0, 200, 25))


@pytest.mark.slow
def test_a_small_class_is_graded_and_reported(tmp_path, capsys):
    assert grading.run(students=3, jobs=2, workdir=tmp_path) == 0
    out = capsys.readouterr().out
    assert "grading 3 lesson-35 submissions (3 correct, 0 one bug, 0 hostile) with 2 workers" in out
    assert "every submission scored as expected: yes" in out
    for line in ("total wall time", "sandbox + kernel start", "first code cell", "outside check"):
        assert line in out
    assert len(list(tmp_path.glob("course/autograded/*/35-gpt-model-assembly/*.ipynb"))) == 3
