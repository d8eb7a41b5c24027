"""Helpers every lesson's probes may use (instructor-only, like the probes themselves).

``grader.trusted`` puts ``PRELUDE`` (this file's text between the two marker lines) in front of
each lesson's probes, so the very same text runs in the check run's sandbox and, here, against
the reference. The sandbox holds no grader file: the text travels in the job, and it needs only
torch and the standard library. A lesson's ``grading.py`` imports the names its probes use from
this module, so that it reads, imports and lints as plain Python; a probe may define a name of
its own with another meaning, but then it shadows the prelude's for all of its probes.
"""

# --- the prelude: from here, sent as text ---
import zlib as _zlib

import torch as _torch


def decides(*tests):
    """Put on a probe: each of ``tests`` (graded test cells' grade ids) keeps its points only where
    this probe agrees with the reference. The one place that says which probe decides which test."""
    def mark(probe):
        probe.decides = tests
        return probe
    return mark


def _start_probe(seed, name):
    """Called before each probe, on both sides: torch's global generator starts from (seed, name),
    so a probe's values never depend on which probes ran before it (a check runs only the probes
    of the tests that passed in the kernel)."""
    _torch.manual_seed((seed * 1000003 + _zlib.crc32(name.encode())) % 2**62)


def _gen(seed, salt):
    """A torch.Generator for one probe's inputs: the same (seed, salt), the same numbers."""
    return _torch.Generator().manual_seed((seed * 1000003 + salt) % 2**62)


def _pick(g, low, high):
    """A seeded int in low .. high (both included)."""
    return int(_torch.randint(low, high + 1, (1,), generator=g))


def _error(call):
    """The class name of what ``call()`` raises, or "none"."""
    try:
        call()
        return "none"
    except Exception as exc:
        return type(exc).__name__


def _fill(module, prefix, seed, scale=0.5):
    """Set every parameter of ``module`` from the seed and its name (the same names, the same
    values); a module's own 1-d ``weight`` (a norm's scale) is centred on 1 instead of 0."""
    with _torch.no_grad():
        for name, p in module.named_parameters():
            g = _torch.Generator().manual_seed(seed ^ _zlib.crc32(f"{prefix}.{name}".encode()))
            p.copy_(_torch.randn(p.shape, generator=g) * scale + (1.0 if name == "weight" and p.dim() == 1 else 0.0))


def _count(module):
    return int(sum(p.numel() for p in module.parameters()))


def _standing_in(ns, call, **replacements):
    """Run ``call`` with correct versions in place of some of the student's names (each graded on
    its own), so that a slip in one part does not show in another part's probe."""
    own = {name: ns.get(name) for name in replacements}
    ns.update(replacements)
    try:
        return call()
    finally:
        ns.update(own)


# --- the prelude: to here ---


BEGIN = "# --- the prelude: from here, sent as text ---"
END = "# --- the prelude: to here ---"


def _text() -> str:
    with open(__file__, encoding="utf-8") as source:
        text = source.read()
    return "\n" + text[text.index(BEGIN + "\n") + len(BEGIN) + 1:text.index(END + "\n")].strip("\n") + "\n"


PRELUDE = _text()
