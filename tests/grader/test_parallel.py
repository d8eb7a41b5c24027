"""Parallel autograde: workers run the notebooks, the parent alone writes the gradebook."""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest

from grader import acceptance, commands
from grader.orchestration import parallel, score_table
from grader.plugins.execution_cache import execution_key, load_execution, save_execution, workers_running
from grader.proofs.submissions import ALL_TESTS, Submission, make_submission

from .conftest import SLUG


def test_split_deals_round_robin_and_drops_empty_groups():
    assert parallel.split(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert parallel.split(["a"], 4) == [["a"]]
    assert parallel.split([], 3) == []


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(text) for text in sources]
    return nb


def test_each_worker_gets_its_share_of_the_cores_as_threads(monkeypatch):
    monkeypatch.setattr(parallel, "default_jobs", lambda: 4)
    assert parallel.worker_env({"PATH": "/bin"}, 2) == {"PATH": "/bin", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    assert parallel.worker_env({}, 8)["OMP_NUM_THREADS"] == "1"  # more workers than cores: one thread each
    # the instructor's own choice stands
    assert parallel.worker_env({"OMP_NUM_THREADS": "3"}, 2)["OMP_NUM_THREADS"] == "3"


def test_a_saved_run_is_used_only_for_exactly_the_same_cells(tmp_path):
    info = {"student": "ana", "assignment": SLUG, "notebook": SLUG}
    ran = _notebook("x = 1", "assert x == 1")
    key = execution_key(ran)
    save_execution(tmp_path, info, key, ran, {"reason": None})
    executed, verdict = load_execution(tmp_path, info, key)
    assert [c.source for c in executed.cells] == ["x = 1", "assert x == 1"] and verdict == {"reason": None}
    # Another cell text, other nbgrader metadata or another student: not the same run.
    assert execution_key(_notebook("x = 2", "assert x == 1")) != key
    tagged = _notebook("x = 1", "assert x == 1")
    tagged.cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "t", "points": 1}
    assert execution_key(tagged) != key
    assert load_execution(tmp_path, info, execution_key(tagged)) is None
    assert load_execution(tmp_path, {**info, "student": "ben"}, key) is None
    # Cell ids and outputs do not matter (nbgrader may renumber ids; outputs are what a run makes).
    same = _notebook("x = 1", "assert x == 1")
    same.cells[0].outputs = [nbformat.v4.new_output("stream", text="hi")]
    assert execution_key(same) == key


def _submit(course_root, names):
    release_dir = commands.generate(SLUG, course_root, capture=True)
    source_nb = nbformat.read(course_root / "source" / SLUG / f"{SLUG}.ipynb", as_version=4)
    release_nb = nbformat.read(release_dir / f"{SLUG}.ipynb", as_version=4)
    subs = {s.name: s for s in acceptance.load_submissions(SLUG, course_root)}
    subs["untouched"] = Submission("untouched", fails=ALL_TESTS, from_release=True)
    subs["solution"] = Submission("solution", fails=set())
    for name in names:
        target = course_root / "submitted" / name / SLUG
        shutil.copytree(release_dir, target)
        acceptance.write_files(target, course_root, SLUG, subs[name])  # right post quiz answers, unless all zero
        nbformat.write(make_submission(source_nb, release_nb, subs[name]), target / f"{SLUG}.ipynb")


@pytest.mark.slow
def test_parallel_workers_run_the_notebooks_and_the_parent_grades(toy_course, capfd):
    names = ["solution", "untouched", "add-subtracts", "kernel-aborts", "tests-tagged-skip"]
    _submit(toy_course, names)
    runs = toy_course.parent / "runs"
    scores = commands.autograde([SLUG], course_root=toy_course, jobs=2, keep_runs=runs)
    out, err = capfd.readouterr()
    # The parent grades beside the workers: its first graded notebook lands before their last run.
    first_graded = min(p.stat().st_mtime for p in toy_course.glob(f"autograded/*/{SLUG}/{SLUG}.ipynb"))
    assert first_graded < max(p.stat().st_mtime for p in runs.glob(f"{SLUG}/*/{SLUG}/*.json"))
    assert "2 at a time" in out
    assert f"running {SLUG} in 2 workers: 5/5 notebooks run" in err, err
    # Every notebook was run by a worker; the parent only graded (nbgrader's log, on stderr).
    assert err.count("run by a worker; its outputs are used") == 5, err
    assert "no worker ran these cells" not in err
    assert scores[("solution", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert scores[("untouched", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    assert scores[("add-subtracts", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert scores[("tests-tagged-skip", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (0.0, 2.0)}
    # A worker's dead kernel still reaches the real gradebook as NEEDS REVIEW, with the worker's outputs.
    statuses = score_table.read_statuses(toy_course, [SLUG])
    assert statuses[("kernel-aborts", SLUG)].label == "NEEDS REVIEW (kernel died)"
    assert scores[("kernel-aborts", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (2.0, 2.0)}
    graded = nbformat.read(toy_course / "autograded" / "add-subtracts" / SLUG / f"{SLUG}.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in graded.cells for o in c.get("outputs", []))
    # The scratch courses are gone; the one gradebook is the course's.
    assert not list(toy_course.glob(".parallel-*"))
    assert sorted(p.name for p in toy_course.glob("*.db")) == ["gradebook.db"]


@pytest.mark.slow
def test_what_no_worker_ran_is_run_by_the_parent(toy_course, monkeypatch, capfd):
    _submit(toy_course, ["solution", "add-subtracts", "untouched"])
    real = parallel.split

    def forgetful(students, jobs):  # a worker that never gets to one of its notebooks
        return real([student for student in students if student != "solution"], jobs)

    monkeypatch.setattr(parallel, "split", forgetful)
    scores = commands.autograde([SLUG], course_root=toy_course, jobs=2)
    err = capfd.readouterr().err
    assert "solution / " + SLUG + ": no worker ran these cells; running them here" in err
    assert err.count("run by a worker; its outputs are used") == 2
    assert scores[("solution", SLUG)] == {"test_add": (2.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}
    assert scores[("add-subtracts", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (1.0, 1.0), "post_quiz": (2.0, 2.0)}


def test_the_parent_waits_for_the_workers_only_while_their_watcher_lives(tmp_path):
    """If the process that watches the workers is killed, nobody removes the marker: the parent's
    nbgrader must not wait for it forever."""
    import subprocess
    import sys

    marker = tmp_path / "workers-running"
    assert not workers_running(str(marker)), "no marker: the workers are done"
    marker.write_text(str(os.getpid()))
    assert workers_running(str(marker))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    marker.write_text(str(gone.pid))
    assert not workers_running(str(marker)), "its watcher is dead"
    marker.write_text("not a pid")
    assert not workers_running(str(marker))


def test_jobs_below_one_is_a_clear_error(toy_course):
    with pytest.raises(commands.CourseError, match="--jobs 0: give at least 1"):
        commands.autograde([SLUG], course_root=toy_course, jobs=0)
