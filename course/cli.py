"""How every command of the course reports a mistake in what it was given: one line, ``error: ...``
on stderr, and an exit status, never a traceback (that is for bugs)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


def exits_on(*errors: type[BaseException], status: int = 1) -> Callable:
    """Decorate a command's ``main``: one of ``errors`` raised while it runs is printed as
    ``error: <message>`` on stderr, and ``main`` returns ``status``."""
    def decorate(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args, **kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except errors as error:
                print(f"error: {error}", file=sys.stderr)
                return status
        return run
    return decorate
