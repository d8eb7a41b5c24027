"""Per-learner option order, so that an answer's position in the file is no tell.

The order depends only on (learner id, lesson, question id-or-index): the same learner
always sees the same order, and the Chinese and English editions of a quiz (same ids)
shuffle identically. Answers are always recorded by the option's ORIGINAL index.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import warnings
from pathlib import Path

ENV_LEARNER = "QUIZ_LEARNER"
ENV_HUB_USER = "JUPYTERHUB_USER"

_session_id: str | None = None  # used only when no id can be stored on disk


def learner_id_path() -> Path:
    """Where the random learner id lives: ``$XDG_CONFIG_HOME/gpt2-course/learner-id``."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "gpt2-course" / "learner-id"


def learner_id() -> str:
    """The learner's id: ``$QUIZ_LEARNER``, else ``$JUPYTERHUB_USER``, else a random id
    created once and kept in :func:`learner_id_path` (Binder users are all "jovyan", so a
    login name alone would give everybody the same order)."""
    for variable in (ENV_LEARNER, ENV_HUB_USER):
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    return _stored_learner_id()


def _stored_learner_id() -> str:
    global _session_id
    path = learner_id_path()
    try:
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    except (FileNotFoundError, NotADirectoryError):
        pass
    except OSError:
        pass
    new = secrets.token_hex(8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: if another kernel created the file a moment ago, keep its id.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new + "\n")
        return new
    except FileExistsError:
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    except OSError as exc:
        if _session_id is None:
            warnings.warn(
                f"quiz: cannot store a learner id in {path} ({exc.strerror or exc}); option "
                f"order will change between sessions (set ${ENV_LEARNER} to fix it)",
                stacklevel=3,
            )
    if _session_id is None:
        _session_id = new
    return _session_id


def seed_for(learner: str, lesson: str, key: str | int) -> int:
    """A stable 64-bit seed for one learner's view of one question."""
    text = "\x1f".join(("gpt2-course-quiz", learner, lesson, str(key)))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def option_order(
    count: int, learner: str, lesson: str, key: str | int, *, asked_again: str | None = None
) -> list[int]:
    """Display order of ``count`` options: ``order[position]`` is the original index.

    ``asked_again``: the stage that re-asks a question (``"post"`` for the ``pre``
    questions): a different seed, and never the same order as the first time (for two
    or more options), so the learner cannot answer from the position they remember.
    """
    order = list(range(count))
    random.Random(seed_for(learner, lesson, key)).shuffle(order)
    if asked_again is None or count < 2:
        return order
    first = order
    for attempt in range(64):
        again = list(range(count))
        random.Random(seed_for(learner, lesson, f"{key}\x1f{asked_again}\x1f{attempt}")).shuffle(again)
        if again != first:
            return again
    return first[1:] + first[:1]  # practically unreachable: a rotation always differs


LETTERS = "ABCDEF"


def letter(position: int) -> str:
    return LETTERS[position]
