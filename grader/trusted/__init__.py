"""The verdict from outside the student's process.

A student's kernel can be made to lie: patched checks, a patched torch, an IPython input
transformer, shadowed modules. So after the kernel has run a submission, ``GradingExecute``
asks this module for a second opinion that does not trust it:

1. a fresh sandbox (``grader.sandbox.run_sandboxed``: no network, limits, only its own folder
   writable) runs the lesson's trusted setup code, then the submission's *solution cells* (the
   student's other cells, tests included, are not run), then the lesson's probes
   (between the probe lines of ``grader/lessons/<slug>/grading.py``) on inputs drawn from a seed chosen now, and writes what
   they returned as plain data (JSON and safetensors: nothing is unpickled on this side).
   The reference of the parts the lesson grades is *withheld* in that sandbox: the ``gpt2ref``
   package is replaced by a copy whose modules for this lesson define every name as a
   placeholder that raises when used, so handing an answer to the reference fails instead of
   merely being detected. Earlier lessons' parts stay importable;
2. here, outside, the same probe code runs against the reference (``reference_namespace()``
   in grading.py) with the same seed, and the values are compared. On both sides the probe code
   is ``grader.trusted.prelude.PRELUDE`` (helpers shared by the lessons) followed by the lesson's
   probes' text;
3. each probe names the graded test cells it decides (``@decides(...)``). A probe that disagrees
   (or could not run) while the kernel said that test passed is a contradiction: the test
   scores zero (an error output says what differed) and the submission NEEDS REVIEW
   (``outside check``). A test the kernel already failed keeps its zero, so only the probes of
   the tests that passed run (``LessonProbes.for_tests``); each starts torch's global generator
   from (seed, its own name), so its values do not depend on which others ran before it.

So a score can never exceed what the outside check confirms, for every test it covers. A
lesson without probes in its ``grading.py`` is graded by its kernel alone (and the integrity scan's hold).
"""

from __future__ import annotations

import json
import math
import re
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType

from grader import sandbox
from grader.catalog import GRADING_SCRIPT, load_grading
from grader.sandbox import settings as sandbox_settings
from grader.trusted.prelude import PRELUDE
from grader.trusted.withheld import withheld_copy

# The probes are plain code in the lesson's grading.py, between these two lines: that text (after
# the prelude) is what runs in the sandbox and, here, against the reference.
PROBES_BEGIN = "# === probes: from here to the submissions, this text runs in the sandbox and against the reference ==="
PROBES_END = "# === made-up submissions that prove the grading ==="
RUNNER = Path(__file__).with_name("runner.py")
OUTSIDE_CHECK = "outside check"
MAX_OUTPUT_BYTES = 64 * 2**20


@dataclass
class LessonProbes:
    """What the outside check part of ``grader/lessons/<slug>/grading.py`` declares."""

    slug: str
    module: ModuleType
    withheld: tuple[str, ...] = ()  # gpt2ref modules not importable while this lesson is checked
    setup: str = ""  # trusted code run before the solution cells (imports)
    code: str = ""  # PRELUDE + the probes' text: defines probe_<name>(ns, seed) -> {key: tensor | number | bool | str | list}
    tests: dict[str, list[str]] = field(default_factory=dict)  # test grade_id -> probe names (@decides)
    atol: float = 1e-5
    rtol: float = 1e-4
    probe_timeout: float = 20.0
    wall_clock: float = 180.0
    tolerances: dict = field(default_factory=dict)  # (probe, key) -> (atol, rtol) for statistics

    @property
    def probes(self) -> list[str]:
        return list(dict.fromkeys(name for names in self.tests.values() for name in names))

    def reference_namespace(self) -> dict:
        return self.module.reference_namespace()

    def for_tests(self, grade_ids) -> LessonProbes:
        """These probes narrowed to the tests ``grade_ids`` (those that passed in the kernel: a
        test the kernel failed scores zero whatever a probe says, so its probes need not run)."""
        return replace(self, tests={grade_id: names for grade_id, names in self.tests.items() if grade_id in grade_ids})


def probe_code(path: Path) -> str:
    """The text of ``grading.py`` between ``PROBES_BEGIN`` and ``PROBES_END`` ("" without them)."""
    text = Path(path).read_text(encoding="utf-8")
    if PROBES_BEGIN not in text:
        return ""
    start = text.index(PROBES_BEGIN) + len(PROBES_BEGIN)
    end = text.find(PROBES_END, start)
    return text[start:end if end >= 0 else len(text)]


def decided_tests(namespace: dict) -> dict[str, list[str]]:
    """{test grade id: the probes that decide it}, from the ``@decides(...)`` on each ``probe_<name>``
    the probes' text defines (in the order they are defined)."""
    tests: dict[str, list[str]] = {}
    for name, value in namespace.items():
        if name.startswith("probe_") and callable(value):
            for grade_id in getattr(value, "decides", ()):
                tests.setdefault(grade_id, []).append(name.removeprefix("probe_"))
    return tests


def load_probes(lesson_folder: Path) -> LessonProbes | None:
    """The outside check of the lesson whose hand-written files are in ``lesson_folder``, or None
    (no ``grading.py``, or no probe in it that ``@decides`` a test)."""
    path = Path(lesson_folder) / GRADING_SCRIPT
    module = load_grading(lesson_folder)
    if module is None:
        return None
    # The shared helpers go in front of the lesson's own code: both sides run exactly this text.
    code = PRELUDE + "\n\n# --- the lesson's probes ---\n" + probe_code(path)
    namespace: dict = {}
    exec(compile(code, f"{path} (probes)", "exec"), namespace)
    tests = decided_tests(namespace)
    undecided = sorted(name for name, value in namespace.items()
                       if name.startswith("probe_") and callable(value) and not getattr(value, "decides", ()))
    outside = sorted(name for name in dir(module) if name.startswith("probe_") and name not in namespace)
    if undecided or outside:
        raise ValueError(f"{path}: probes that decide no test (put @decides(\"test_...\") on them): {undecided}"
                         if undecided else f"{path}: define probes between the two '# ===' lines (that text runs in "
                         f"the sandbox), not elsewhere: {outside}")
    if not tests:
        return None
    probes = LessonProbes(path.parent.name, module, tuple(getattr(module, "WITHHELD", ())),
                          getattr(module, "SETUP", ""), code, tests, tolerances=dict(getattr(module, "TOLERANCES", {})))
    for name in ("atol", "rtol", "probe_timeout", "wall_clock"):
        if hasattr(module, name.upper()):
            setattr(probes, name, getattr(module, name.upper()))
    return probes


# --- running the probes in the sandbox -----------------------------------------------------------

@dataclass
class ProbeRun:
    """What came back from the sandbox: per probe, its values (tensors loaded) or why there are none."""

    values: dict = field(default_factory=dict)  # probe -> {key: value}
    problems: dict = field(default_factory=dict)  # probe -> why it has no values
    cell_errors: list = field(default_factory=list)
    sandbox: dict = field(default_factory=dict)


def run_in_sandbox(lesson: LessonProbes, cells: list[tuple[str, str]], seed: int) -> ProbeRun:
    """Run ``cells`` and the lesson's probes in a sandbox with the lesson's reference withheld."""
    work = Path(tempfile.mkdtemp(prefix="gpt2-probe-"))
    try:
        job_dir = work / "job"
        job_dir.mkdir()
        (job_dir / "job.json").write_text(json.dumps({
            "cells": [["setup", lesson.setup], *cells], "probe_code": lesson.code, "probes": lesson.probes,
            "seed": seed, "probe_timeout": lesson.probe_timeout}))
        overlays, plain_env = [], {}
        if lesson.withheld:
            import gpt2ref

            real = Path(gpt2ref.__file__).resolve().parent
            overlays.append((str(withheld_copy(real, lesson.withheld, work / "withheld")), str(real)))
            plain_env["PYTHONPATH"] = str(work / "withheld")  # without a sandbox: found before the real one
        runner = str(RUNNER.resolve())
        # -I: no PYTHON* variables, no user site, the script's folder not on sys.path (in the sandbox)
        isolate = [] if sandbox_settings.unsandboxed_requested() else ["-I"]
        verdict = sandbox.run_sandboxed([sys.executable, *isolate, runner, str(job_dir)], str(job_dir),
                                        lesson.wall_clock, extra_ro=[runner], overlays=overlays,
                                        unsandboxed_env=plain_env, keep=("out.json", "out.safetensors"))
        return _read_output(job_dir, lesson, verdict)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_output(job_dir: Path, lesson: LessonProbes, verdict: dict) -> ProbeRun:
    """What the sandbox left, read as plain data; anything unreadable (a JSON list, a broken or
    oversized tensor file, nesting too deep, a link) is a problem for every probe, never a crash
    and never the kernel's word."""
    run = ProbeRun(sandbox=verdict)
    stopped = verdict.get("reason") or (f"exit status {verdict['returncode']}" if verdict.get("returncode") else None)
    try:
        data, tensors = _load_output(job_dir)
    except Exception as exc:  # noqa: BLE001 (whatever the student's process left: unreadable)
        why = f"the check run left no readable result ({stopped or type(exc).__name__})"
        run.problems = {name: why for name in lesson.probes}
        return run
    cells = data.get("cells")
    run.cell_errors = cells if isinstance(cells, list) else []
    probes = data.get("probes") if isinstance(data.get("probes"), dict) else {}
    for name in lesson.probes:
        entry = probes.get(name)
        if not isinstance(entry, dict):
            run.problems[name] = "did not run" + (f" (the check run stopped: {stopped})" if stopped else "")
        elif entry.get("error"):
            run.problems[name] = f"raised {_error_type(entry['error'])}"
        else:
            try:
                values = entry.get("values") or {}
                run.values[name] = {str(k): unplain(v, tensors) for k, v in values.items()}
            except Exception as exc:  # noqa: BLE001
                run.problems[name] = f"returned something unreadable ({type(exc).__name__})"
    return run


def _load_output(job_dir: Path) -> tuple[dict, dict]:
    for name in ("out.json", "out.safetensors"):
        if (job_dir / name).is_symlink() or (job_dir / name).stat().st_size > MAX_OUTPUT_BYTES:
            raise ValueError(f"{name} is not a plain file under {MAX_OUTPUT_BYTES} bytes")
    data = json.loads((job_dir / "out.json").read_text())
    if not isinstance(data, dict):
        raise TypeError("out.json does not hold an object")
    from safetensors.torch import load_file

    return data, load_file(str(job_dir / "out.safetensors"))


# The one message of ours a probe error may carry to the student: the reference is withheld.
_WITHHELD_MESSAGE = re.compile(r"ImportError: [A-Za-z_][\w.]{0,100} is not available while this lesson is graded: "
                               r"the graded parts must be your own code")


def _error_type(error) -> str:
    """The exception's type name from the runner's ``"Type: message"``; the message is left out
    (it may quote the instructor's probe code or the grading seed, and the student reads this),
    except the course's own word that the reference is withheld."""
    text = str(error)
    if _WITHHELD_MESSAGE.fullmatch(text):
        return text
    head = text.split(":", 1)[0].strip()
    return head if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]{0,80}", head) else "an error"


def unplain(value, tensors, depth: int = 0):
    if depth > 20:
        raise ValueError("nested too deep")
    if isinstance(value, dict):
        return tensors[value["tensor"]]
    if isinstance(value, list):
        return [unplain(v, tensors, depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"not plain data: {type(value).__name__}")


# --- the reference's values, and the comparison ----------------------------------------------

def reference_values(lesson: LessonProbes, seed: int) -> dict:
    """probe -> {key: value}, the same probe code run here against the reference."""
    import torch

    namespace: dict = {}
    exec(compile(lesson.code, f"<probes of {lesson.slug}>", "exec"), namespace)
    reference = lesson.reference_namespace()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the sandbox: the same kernels, the same rounding
    try:
        values = {}
        for name in lesson.probes:
            namespace["_start_probe"](seed, name)
            values[name] = namespace[f"probe_{name}"](dict(reference), seed)
        return values
    finally:
        torch.set_num_threads(threads)


def differences(expected, got, atol: float, rtol: float, key: str = "") -> str | None:
    """None when ``got`` matches ``expected``; otherwise what differs, in one line."""
    import torch

    where = key or "value"
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{where}: expected a tensor, got {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"{where}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        if expected.is_floating_point():
            if not got.is_floating_point():
                return f"{where}: expected floating point values, got {got.dtype}"
            e, g = expected.double(), got.double()
            same_inf = torch.equal(torch.isinf(e), torch.isinf(g)) and torch.equal(e[torch.isinf(e)], g[torch.isinf(g)])
            if not same_inf:
                return f"{where}: -inf/inf in other places than expected"
            finite = ~torch.isinf(e)
            if torch.isnan(g).any():
                return f"{where}: contains NaN"
            if finite.any() and not torch.allclose(g[finite], e[finite], atol=atol, rtol=rtol):
                gap = (g[finite] - e[finite]).abs().max().item()
                return f"{where}: values differ from the reference on the same inputs (max |difference| {gap:.3g})"
            return None
        if not torch.equal(got.to(expected.dtype), expected):
            wrong = (got.to(expected.dtype) != expected).sum().item()
            return f"{where}: {wrong} of {expected.numel()} entries differ from the reference"
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if got == expected and type(got) is type(expected) else f"{where}: expected {expected!r}, got {got!r}"
    if isinstance(expected, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"{where}: expected a number, got {got!r}"
        if isinstance(expected, int):  # counts, ids, sums of integers: exactly, never "close enough"
            return None if got == expected else f"{where}: expected {expected!r}, got {got!r}"
        return None if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) else f"{where}: expected {expected!r}, got {got!r}"
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)) or len(got) != len(expected):
            return f"{where}: expected {len(expected)} items, got {got!r}"[:300]
        for i, (e, g) in enumerate(zip(expected, got)):
            if problem := differences(e, g, atol, rtol, f"{where}[{i}]"):
                return problem
        return None
    if isinstance(expected, dict):  # a probe's check of its own: {"ok": bool, ...} is compared key by key
        for k, e in expected.items():
            if problem := differences(e, (got or {}).get(k) if isinstance(got, dict) else None, atol, rtol, f"{where}.{k}"):
                return problem
        return None
    return f"{where}: cannot compare {type(expected).__name__}"


def judge(lesson: LessonProbes, run: ProbeRun, expected: dict) -> dict[str, str | None]:
    """probe -> None (agrees with the reference) or what went wrong."""
    verdicts: dict[str, str | None] = {}
    for name in lesson.probes:
        if name in run.problems:
            verdicts[name] = run.problems[name]
            continue
        got = run.values.get(name, {})
        problem = None
        try:
            for key, want in expected[name].items():
                if key not in got:
                    problem = f"{key}: missing"
                    break
                atol, rtol = lesson.tolerances.get((name, key), (lesson.atol, lesson.rtol))
                if problem := differences(want, got[key], atol, rtol, key):
                    break
        except Exception as exc:  # noqa: BLE001 (a value the comparison chokes on is not a match)
            problem = f"could not be compared with the reference ({type(exc).__name__})"
        verdicts[name] = problem
    return verdicts


def check(lesson: LessonProbes, cells: list[tuple[str, str]], seed: int | None = None,
          reference: dict | None = None) -> tuple[dict, ProbeRun]:
    """Run the probes on ``cells`` in the sandbox and judge them against the reference here.
    ``reference``: a dict that keeps the reference's values per (lesson, seed) between calls."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    run = run_in_sandbox(lesson, cells, seed)
    return judge(lesson, run, expected_values(lesson, seed, reference)), run


def expected_values(lesson: LessonProbes, seed: int, cache: dict | None = None) -> dict:
    """``reference_values``, kept in ``cache`` per (lesson, seed); a probe the reference itself
    fails is the course's bug, reported as such."""
    cache = {} if cache is None else cache
    if (lesson.slug, seed) not in cache:
        try:
            cache[(lesson.slug, seed)] = reference_values(lesson, seed)
        except Exception as exc:  # noqa: BLE001 (a bug in grading.py must not read as the student's fault)
            raise RuntimeError(f"the reference fails its own probes for {lesson.slug} (seed {seed}): {exc}") from exc
    return cache[(lesson.slug, seed)]
