"""The browser test skips where Chromium is missing, but fails loudly under REQUIRE_BROWSER=1."""

from __future__ import annotations

import pytest

from tests.browser import lab


def test_missing_chromium_skips(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is missing"):
        lab._require_browser()


def test_missing_chromium_fails_when_required(monkeypatch, tmp_path):
    monkeypatch.setattr(lab, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="REQUIRE_BROWSER=1 but the browser test cannot run"):
        lab._require_browser()
