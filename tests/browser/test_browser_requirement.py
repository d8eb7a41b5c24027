"""The browser test skips where Chromium is missing, but fails loudly under REQUIRE_BROWSER=1."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _browser_module():
    spec = importlib.util.spec_from_file_location(
        "quiz_browser_test_module", HERE / "test_quiz_in_jupyterlab.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_chromium_skips(monkeypatch, tmp_path):
    module = _browser_module()
    monkeypatch.setattr(module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is missing"):
        module._require_browser()


def test_missing_chromium_fails_when_required(monkeypatch, tmp_path):
    module = _browser_module()
    monkeypatch.setattr(module, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1 but the browser test cannot run"):
        module._require_browser()
