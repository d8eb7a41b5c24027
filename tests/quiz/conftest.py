"""Shared fixtures for the quiz engine tests.

Every test runs with a fixed learner id, no language preference, and a private config
folder, so that option order is deterministic and nothing is written to the real home.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import quiz
from quiz import widgets

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures"
MALFORMED = HERE / "malformed"
SEED_NAME = "seed-quiz-35-gpt-model-assembly.json"


def seed_quiz_path() -> Path | None:
    """The reference seed quiz (not in the repository): ``$GPT2_COURSE_SEED_QUIZ`` or
    ``../shared/reference/`` beside the repository; ``None`` when absent."""
    candidates = []
    if os.environ.get("GPT2_COURSE_SEED_QUIZ"):
        candidates.append(Path(os.environ["GPT2_COURSE_SEED_QUIZ"]))
    candidates.append(REPO.parent / "shared" / "reference" / SEED_NAME)
    return next((p for p in candidates if p.is_file()), None)


@pytest.fixture(autouse=True)
def isolated_quiz_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("QUIZ_LEARNER", "test-learner")
    for name in ("GPT2_COURSE_LANG", "JUPYTERHUB_USER", "NBGRADER_EXECUTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    quiz.set_language(None)
    widgets._UNSAVED.clear()
    yield
    quiz.set_language(None)
    widgets._UNSAVED.clear()


@pytest.fixture
def demo_dir(tmp_path) -> Path:
    """A writable copy of the demo lesson (quiz.json + quiz.en.json)."""
    target = tmp_path / "demo-lesson"
    shutil.copytree(FIXTURES / "demo-lesson", target)
    return target


@pytest.fixture
def demo_quiz(demo_dir) -> Path:
    return demo_dir / "quiz.json"


@pytest.fixture
def balanced_quiz(tmp_path) -> Path:
    target = tmp_path / "balanced"
    shutil.copytree(FIXTURES / "balanced", target)
    return target / "quiz.json"


@pytest.fixture
def seed_copy(tmp_path) -> Path:
    """A writable copy of the seed quiz; the test is skipped where the file is absent."""
    source = seed_quiz_path()
    if source is None:
        pytest.skip(f"{SEED_NAME} not available (set GPT2_COURSE_SEED_QUIZ)")
    target = tmp_path / "seed-lesson" / "quiz.json"
    target.parent.mkdir()
    shutil.copy(source, target)
    return target
