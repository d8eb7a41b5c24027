"""The made-up submissions that try to get round the grading instead of doing the work, written once for
every lesson. A lesson asks for them in its ``grading.py`` with one declaration::

    TAMPERING = TamperWith("no-tying", closeness="final-norm-eps-ignored")

naming one of its own one-bug mutants (``SUBMISSIONS``: solution cells only, one test lost, a wrong value
rather than an error). Each submission below is that mutant plus a way round the checks, so each must still
lose exactly the mutant's test:

``tamper-every-test``
    every graded test cell retyped to ``pass`` or deleted (in turn): nbgrader restores them from the source,
    so the other tests still score and the mutant's test still fails.
``neuters-the-checks``
    ``course.checks``' ``expect*`` functions replaced by no-ops in plain sight: the kernel's test passes; the
    outside check decides (0 points, NEEDS REVIEW) and the integrity scan reports it.
``patches-the-checks-indirectly``
    the same through ``importlib`` and built-up names, so that the integrity scan does not see it: the
    outside check alone holds the point.
``patches-torch-indirectly`` (with ``closeness=``)
    ``Tensor.any`` patched the same way, so that every closeness check passes in the kernel; built on a
    mutant that a closeness check catches.
``reference-in-disguise`` (unless ``disguise=False``)
    every name the lesson grades handed to ``gpt2ref`` (a subclass or a forwarding function, made from
    ``reference_namespace()``): every test scores zero.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType

import course.checks
from grader.build import POST_QUIZ_ID, strip_solution_markers
from grader.proofs.submissions import ALL_TESTS, HarnessError, Submission
from grader.trusted.withheld import defined_names


@dataclass(frozen=True)
class TamperWith:
    """A lesson's request for the shared tampering submissions (see the module's docstring)."""

    mutant: str
    closeness: str | None = None
    disguise: bool = True


# Every check the student's kernel calls (course.checks' expect, expect_equal, expect_close, ...).
CHECKS = sorted(name for name in dir(course.checks) if name.startswith("expect") and callable(getattr(course.checks, name)))

NEUTER_IN_PLAIN_SIGHT = ("import course.checks\n\n"
                         + "".join(f"course.checks.{name} = " for name in CHECKS) + "lambda *a, **k: None\n\n\n")
NEUTER_THROUGH_IMPORTLIB = ("import importlib\n\n"
                            "_c = importlib.import_module('course.' + 'checks')\n"
                            "for _n in [n for n in dir(_c) if n.startswith('exp' + 'ect')]:\n"
                            "    setattr(_c, _n, lambda *a, **k: None)\n\n\n")
PATCH_TENSOR_ANY = ("import importlib\n\n"
                    "setattr(importlib.import_module('tor' + 'ch').Tensor, 'an' + 'y', lambda self, *a, **k: False)\n\n\n")


def _cells(source_nb) -> tuple[list[str], list[str], dict[str, str]]:
    """The solution cells' ids and the graded test cells' ids, in notebook order, and each solution's text."""
    solutions, tests, texts = [], [], {}
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            solutions.append(cell.id)
            texts[cell.id] = strip_solution_markers(cell.source)
        elif meta.get("grade") and meta.get("grade_id") != POST_QUIZ_ID:
            tests.append(cell.id)
    return solutions, tests, texts


def _with_prefix(mutant: Submission, cell_id: str, text: str, prefix: str) -> dict:
    """The mutant's ``edits`` and ``cells`` with ``prefix`` put in front of solution cell ``cell_id``."""
    if cell_id in mutant.cells:
        return {"edits": mutant.edits, "cells": {**mutant.cells, cell_id: prefix + mutant.cells[cell_id]}}
    edits = {**mutant.edits, cell_id: [(text, prefix + text), *mutant.edits.get(cell_id, [])]}
    return {"edits": edits, "cells": mutant.cells}


def _prefixed(mutant: Submission, host: str, text: str, prefix: str, name: str, why: str, **fields) -> Submission:
    return dataclasses.replace(mutant, name=name, why=f"{mutant.why}; {why}",
                               **_with_prefix(mutant, host, text, prefix), **fields)


def _gpt2ref_home(obj) -> tuple[str, str] | None:
    """Where ``obj`` (or, for a class, its first base) lives in gpt2ref: (module, qualified name)."""
    for candidate in (obj, *getattr(obj, "__mro__", ())[1:]):
        module = getattr(candidate, "__module__", "") or ""
        if module.split(".")[0] == "gpt2ref":
            return module, candidate.__qualname__
    return None


def _delegation(names: list[str], reference: dict) -> str:
    """A cell that defines ``names`` by handing each to its gpt2ref original."""
    homes = {name: _gpt2ref_home(reference[name]) for name in names}
    missing = [name for name, home in homes.items() if home is None]
    if missing:
        raise HarnessError(f"reference-in-disguise: no gpt2ref original for {missing} (declare disguise=False)")
    modules = sorted({module for module, _ in homes.values()})
    alias = {module: "_" + module.replace(".", "_") for module in modules}
    lines = [f"import {module} as {alias[module]}" for module in modules]
    for name, (module, qualname) in homes.items():
        target = f"{alias[module]}.{qualname}"
        if isinstance(reference[name], type):
            lines.append(f"\n\nclass {name}({target}):\n    pass")
        else:
            lines.append(f"\n\ndef {name}(*args, **kwargs):\n    return {target}(*args, **kwargs)")
    return "\n".join(lines) + "\n"


def _disguise(grading: ModuleType, solutions: list[str], texts: dict[str, str]) -> Submission:
    reference = grading.reference_namespace()
    cells = {}
    for cell_id in solutions:
        names = [name for name in defined_names(texts[cell_id]) if name in reference]
        if names:
            cells[cell_id] = _delegation(names, reference)
    return Submission("reference-in-disguise", fails=ALL_TESTS, cells=cells,
                      why="every graded name handed to gpt2ref (subclasses and forwarding functions)")


def _one_bug(by_name: dict[str, Submission], name: str, solutions: list[str]) -> tuple[Submission, str]:
    mutant = by_name.get(name)
    if mutant is None:
        raise HarnessError(f"TAMPERING names {name!r}, which is not in SUBMISSIONS")
    if not (isinstance(mutant.fails, set) and len(mutant.fails) == 1) or not set(mutant.edits) | set(mutant.cells) \
            or not set(mutant.edits) | set(mutant.cells) <= set(solutions) or mutant.review or mutant.flagged:
        raise HarnessError(f"TAMPERING's {name!r} must change solution cells only and lose exactly one test")
    return mutant, next(iter(mutant.fails))


def tampering_submissions(grading: ModuleType, submissions: list[Submission], source_nb) -> list[Submission]:
    """The shared tampering submissions a lesson's ``TAMPERING`` asks for (none without one)."""
    plan: TamperWith | None = getattr(grading, "TAMPERING", None)
    if plan is None:
        return []
    solutions, tests, texts = _cells(source_nb)
    by_name = {sub.name: sub for sub in submissions}
    mutant, test = _one_bug(by_name, plan.mutant, solutions)
    host = solutions[0]  # runs before every test cell
    retyped = {cell_id: "pass" for cell_id in tests[::2]}
    out = [
        dataclasses.replace(mutant, name="tamper-every-test", cells={**mutant.cells, **retyped}, delete=tests[1::2],
                            why=f"{mutant.why}; every test cell retyped to `pass` or deleted (nbgrader restores them)"),
        _prefixed(mutant, host, texts[host], NEUTER_IN_PLAIN_SIGHT, "neuters-the-checks",
                  f"course.checks' checks replaced by no-ops: {test} passes in the kernel, the outside check "
                  "holds it at 0 (NEEDS REVIEW), the integrity scan reports it", flagged=True, review={"outside check"}),
        _prefixed(mutant, host, texts[host], NEUTER_THROUGH_IMPORTLIB, "patches-the-checks-indirectly",
                  "the checks replaced through importlib, out of the integrity scan's sight: the outside check "
                  f"holds {test} at 0 (NEEDS REVIEW)", review={"outside check"}),
    ]
    if plan.closeness:
        closeness, closeness_test = _one_bug(by_name, plan.closeness, solutions)
        out.append(_prefixed(closeness, host, texts[host], PATCH_TENSOR_ANY, "patches-torch-indirectly",
                             "Tensor.any patched through importlib, so every closeness check passes in the kernel: "
                             f"the outside check holds {closeness_test} at 0 (NEEDS REVIEW)",
                             review={"outside check"}))
    if plan.disguise:
        out.append(_disguise(grading, solutions, texts))
    return out
