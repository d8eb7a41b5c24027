"""What tests of every kind share: a free port on 127.0.0.1, and the rule for a test that cannot
run on this machine (skip it, unless CI's ``REQUIRE_<KIND>=1`` says it must run: then fail).

Tests import it as ``from tests.support import ...`` (pytest puts the repository root on ``sys.path``).
"""

from __future__ import annotations

import os
import socket

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require(problem: str | None, variable: str, what: str) -> None:
    """Nothing to do when ``problem`` is None; else skip, or fail when ``variable`` is 1."""
    if problem is None:
        return
    if os.environ.get(variable) == "1":
        pytest.fail(f"{variable}=1 but {what} cannot run: {problem}", pytrace=False)
    pytest.skip(problem)
