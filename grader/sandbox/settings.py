"""The sandbox's settings (environment variables, with their defaults) and the words it uses for a
stopped run. ``grader/sandbox/__init__.py`` describes the sandbox itself."""

from __future__ import annotations

import os
import re
import shutil

ENV_UNSANDBOXED = "GPT2_COURSE_UNSANDBOXED"
ENV_MEMORY = "GPT2_COURSE_SANDBOX_MEMORY"
ENV_PIDS = "GPT2_COURSE_SANDBOX_PIDS"
ENV_TIMEOUT = "GPT2_COURSE_NOTEBOOK_TIMEOUT"
ENV_DISK = "GPT2_COURSE_SANDBOX_DISK"
ENV_BWRAP = "GPT2_COURSE_BWRAP"  # path of bwrap (default: found on PATH); tests point it elsewhere

DEFAULT_MEMORY = "3G"
DEFAULT_PIDS = 512
DEFAULT_TIMEOUT = 1200.0
DEFAULT_DISK = "256M"

REASON_WALL_CLOCK = "wall clock"
REASON_MEMORY = "out of memory"
REASON_PIDS = "process limit"
REASON_DISK = "disk limit"
REASON_OUTPUT = "output limit"
# Every reason the course shows for a stopped run (a verdict with another word is not believed).
LIMIT_REASONS = (REASON_WALL_CLOCK, REASON_MEMORY, REASON_PIDS, REASON_DISK, REASON_OUTPUT)


def parse_bytes(text: str) -> int:
    """``"3G"``, ``"1.5GiB"``, ``"512M"``, ``"100000"`` -> bytes (K/M/G/T are powers of 1024)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"{ENV_MEMORY}={text!r}: expected a size such as 3G, 512M or 1.5G")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " KMGT".index(unit.upper() or " "))


def memory_limit() -> int:
    return parse_bytes(os.environ.get(ENV_MEMORY) or DEFAULT_MEMORY)


def pids_limit() -> int:
    return int(os.environ.get(ENV_PIDS) or DEFAULT_PIDS)


def disk_limit() -> int:
    """Bytes the sandbox may write to its working folder (and, separately, to its /tmp)."""
    return parse_bytes(os.environ.get(ENV_DISK) or DEFAULT_DISK)


def notebook_timeout() -> float:
    return float(os.environ.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT)


def unsandboxed_requested() -> bool:
    return os.environ.get(ENV_UNSANDBOXED, "").strip().lower() in {"1", "true", "yes", "on"}


def bwrap_path() -> str | None:
    given = os.environ.get(ENV_BWRAP)
    return (given if os.access(given, os.X_OK) else None) if given else shutil.which("bwrap")

