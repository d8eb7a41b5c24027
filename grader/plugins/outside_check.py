"""GradingExecute's side of the check outside the notebook (``grader/trusted/__init__.py``): the
kernel's results can be forged, so for a lesson with probes a test that passed in the kernel
keeps its points only if the same parts, run again outside it on new inputs, agree."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import nbformat

from grader import trusted
from grader.build import POST_QUIZ_ID
from grader.catalog import lesson_dir
from grader.plugins.cells import as_text, cell_label, course_info, error_output, has_error, is_grade, nbgrader_of
from grader.plugins.paths import Paths
from grader.plugins.reviews import add_review
from grader.sandbox import settings as sandbox_settings

PROBE_SEED_ENV = "GPT2_COURSE_PROBE_SEED"

_reference_cache: dict = {}  # (lesson, seed) -> the reference's probe values, once per process


def probe_seed() -> int:
    """The seed of the outside checks: one per ``make autograde`` run (the parent draws it and
    hands it to its workers), drawn here when nbgrader runs alone."""
    given = os.environ.get(PROBE_SEED_ENV, "")
    if given.isdigit():
        return int(given)
    seed = secrets.randbelow(2**31)
    os.environ[PROBE_SEED_ENV] = str(seed)
    return seed


def _lesson_probes(course_root: Path, slug: str):
    return trusted.load_probes(lesson_dir(slug, Path(course_root)))


def prepare_outside_check(preprocessor, nb, resources):
    """What the outside check (``grader/trusted/__init__.py``) of a lesson with probes will run: the
    solution cells as they are before the kernel runs, and this run's seed. None without probes."""
    lesson = _lesson_probes(Paths(preprocessor).root, resources["nbgrader"]["assignment"])
    if lesson is None:
        return None
    cells = [(cell_label(c), as_text(c.source)) for c in nb.cells if c.cell_type == "code" and nbgrader_of(c).get("solution")]
    return lesson, probe_seed(), cells


def check_from_outside(preprocessor, nb, resources, started) -> None:
    """The kernel's results can be forged: for a lesson with probes (``grader/trusted/__init__.py``),
    a test that passed in the kernel keeps its points only if the outside check agrees.
    ``started``: what ``prepare_outside_check`` returned (or raised).

    Fails closed: if the check cannot start, crashes, or hands back something unreadable,
    every test it covers scores 0 and the submission NEEDS REVIEW (outside check); the
    kernel's own results are never the fallback."""
    if started is None:
        return
    info = resources["nbgrader"]
    meta = course_info(nb)
    covered = started[0].tests if not isinstance(started, Exception) else _covered_tests(preprocessor, resources)
    passed = {nbgrader_of(c).get("grade_id") for c in nb.cells if is_grade(c) and nbgrader_of(c).get("grade_id")
              in covered and not has_error(c)}
    if isinstance(started, Exception):
        preprocessor.log.error("%s / %s: outside check failed to start: %s", info["student"], info["notebook"], started)
        _hold_unchecked(nb, passed, "the check outside the notebook could not start")
        return
    everything, seed, cells = started
    # Only the probes of tests that passed in the kernel: the others already score zero.
    lesson = everything.for_tests(passed)
    if not passed:  # every test it covers already scores zero: nothing to confirm
        meta["outside_checked"] = True
        meta["outside_check"] = {}
        return
    try:
        run, verdicts = _run_probes(lesson, everything, seed, cells)
    except BaseException as exc:  # noqa: BLE001 (the check itself failed: zero, a human decides)
        if isinstance(exc, KeyboardInterrupt):
            raise
        preprocessor.log.error("%s / %s: outside check failed: %s", info["student"], info["notebook"], exc)
        _hold_unchecked(nb, passed, "the check outside the notebook could not run")
        return
    _apply_verdicts(nb, lesson, run, verdicts)


def _run_probes(lesson, everything, seed: int, cells: list):
    """(the sandboxed run of ``lesson``'s probes, {probe: problem or None}); raises when the
    check hands back no verdict for every probe."""
    # After the kernel, not beside it: which probes run depends on the kernel's results,
    # and on a busy machine a second sandbox at the same time would eat into the per-cell
    # timeouts.
    run = trusted.run_in_sandbox(lesson, cells, seed)
    verdicts = trusted.judge(lesson, run, trusted.expected_values(everything, seed, _reference_cache))
    if not isinstance(verdicts, dict) or set(verdicts) != set(lesson.probes):
        raise TypeError("the outside check returned no verdict for every probe")
    return run, verdicts


def _apply_verdicts(nb, lesson, run, verdicts: dict) -> None:
    """Record the outside check's verdicts; a test that passed in the kernel but whose probes
    failed outside it gets an error output (it scores 0) and the submission NEEDS REVIEW."""
    meta = course_info(nb)
    meta["outside_checked"] = True
    meta["outside_check"] = {name: problem for name, problem in verdicts.items()}
    if (reason := (run.sandbox or {}).get("reason")) in sandbox_settings.LIMIT_REASONS:
        add_review(nb, reason, f"the check outside the notebook stopped at the sandbox's {reason}")
    contradicted = []
    for cell in nb.cells:
        grade_id = nbgrader_of(cell).get("grade_id")
        if not (is_grade(cell) and grade_id in lesson.tests):
            continue
        problems = [f"{name}: {verdicts[name]}" for name in lesson.tests[grade_id] if verdicts.get(name)]
        if problems and not has_error(cell):
            cell.setdefault("outputs", []).append(error_output(
                "OutsideCheckFailed", "this test passed inside your notebook, but the same parts, run again "
                "on new inputs outside it, do not behave as they should: " + "; ".join(problems)[:2000]))
            probe_names = [name for name in lesson.tests[grade_id] if verdicts.get(name)]
            contradicted.append(f"{grade_id} ({', '.join(probe_names)})")
    if contradicted:
        add_review(nb, trusted.OUTSIDE_CHECK, "tests that passed in the kernel but not outside it, scored 0: "
                   + "; ".join(contradicted))


def _covered_tests(preprocessor, resources) -> set:
    """The graded tests a lesson's outside check covers, when the check itself could not be
    prepared: every graded test of the source (the safe side)."""
    try:
        source = nbformat.read(Paths(preprocessor).source(resources["nbgrader"]["assignment"],
                                                          resources["nbgrader"]["notebook"]), as_version=4)
        return {nbgrader_of(c).get("grade_id") for c in source.cells if is_grade(c)} - {POST_QUIZ_ID}
    except Exception:  # noqa: BLE001
        return set()


def _hold_unchecked(nb, passed: set, why: str) -> None:
    """The trusted side broke: every test it should have confirmed scores 0, pending review."""
    for cell in nb.cells:
        if is_grade(cell) and nbgrader_of(cell).get("grade_id") in passed and not has_error(cell):
            cell.setdefault("outputs", []).append(error_output(
                "OutsideCheckUnavailable", "this test could not be confirmed outside your notebook; "
                "it scores 0 until the instructor reviews it"))
    add_review(nb, trusted.OUTSIDE_CHECK, f"{why}; tests held at 0: " + (", ".join(sorted(passed)) or "none"))
