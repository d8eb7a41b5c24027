"""course.pretrained: finding real GPT-2 weights, downloading them (with a fake source), stand-ins.

Nothing here touches the network: the download is tested with a fake ``fetch`` and with
HF_HUB_OFFLINE, and the cache lookup with a cache folder laid out like Hugging Face's.
"""

from __future__ import annotations

import pytest
import torch

from course import pretrained
from gpt2ref import TINY

safetensors_torch = pytest.importorskip("safetensors.torch")


@pytest.fixture(autouse=True)
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv(pretrained.ENV_VAR, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # Never look at (or write to) the real cache of whoever runs the tests.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))


def fake_hf_cache(root, repo_id: str, content: bytes = b"weights") -> str:
    """A cache folder laid out the way huggingface_hub stores a downloaded file."""
    repo_dir = root / ("models--" + repo_id.replace("/", "--"))
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commit)
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / pretrained.CHECKPOINT_FILE).write_bytes(content)
    return str(snapshot / pretrained.CHECKPOINT_FILE)


def test_nothing_found_in_an_empty_cache(tmp_path):
    assert pretrained.find_gpt2_checkpoint(cache_dir=tmp_path) is None


@pytest.mark.parametrize("repo_id", ["openai-community/gpt2", "gpt2"])
def test_found_in_the_hugging_face_cache(tmp_path, repo_id):
    expected = fake_hf_cache(tmp_path, repo_id)
    assert str(pretrained.find_gpt2_checkpoint(cache_dir=tmp_path)) == expected


def test_other_repositories_in_the_cache_are_ignored(tmp_path):
    fake_hf_cache(tmp_path, "openai-community/gpt2-medium")
    assert pretrained.find_gpt2_checkpoint(cache_dir=tmp_path) is None


def test_environment_variable_file_or_folder_comes_first(tmp_path, monkeypatch):
    fake_hf_cache(tmp_path / "cache", "gpt2")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"x")
    monkeypatch.setenv(pretrained.ENV_VAR, str(folder))
    assert pretrained.find_gpt2_checkpoint(cache_dir=tmp_path / "cache") == folder / "model.safetensors"
    monkeypatch.setenv(pretrained.ENV_VAR, str(folder / "model.safetensors"))
    assert pretrained.find_gpt2_checkpoint(cache_dir=tmp_path / "cache") == folder / "model.safetensors"
    monkeypatch.setenv(pretrained.ENV_VAR, str(tmp_path / "does-not-exist"))
    said = []
    found = pretrained.find_gpt2_checkpoint(cache_dir=tmp_path / "cache", say=said.append)
    assert found is not None and found.parts[-4].endswith("gpt2")  # falls back to the cache


def test_environment_variable_naming_nothing_is_reported_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(pretrained.ENV_VAR, str(tmp_path / "does-not-exist"))
    assert pretrained.find_gpt2_checkpoint(cache_dir=tmp_path) is None
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and pretrained.ENV_VAR in lines[0] and "does-not-exist" in lines[0], lines
    said = []
    pretrained.find_gpt2_checkpoint(cache_dir=tmp_path, say=said.append)
    assert len(said) == 1
    monkeypatch.delenv(pretrained.ENV_VAR)
    pretrained.find_gpt2_checkpoint(cache_dir=tmp_path)
    assert capsys.readouterr().out == "", "nothing to say when the variable is not set"


def test_download_fails_fast_when_the_hub_cannot_be_reached():
    calls = []

    def fetch(**kwargs):
        calls.append(kwargs)
        raise AssertionError("must not be called when the probe fails")

    with pytest.raises(pretrained.PretrainedUnavailable, match="cannot reach huggingface.co"):
        pretrained.download_gpt2_checkpoint(fetch=fetch, probe=lambda: "cannot reach huggingface.co:443 (timeout)")
    assert calls == []


def test_reachability_probe_is_quick_without_network(monkeypatch):
    import socket
    import time

    for name in pretrained.PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")

    def refuse(address, timeout=None):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    start = time.perf_counter()
    problem = pretrained.hub_reachable()
    assert problem and "hub.invalid:443" in problem and time.perf_counter() - start < 1
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert pretrained.hub_reachable() is None, "behind a proxy the direct probe proves nothing"


def test_download_uses_the_fetcher_and_returns_its_file(tmp_path):
    calls = []

    def fetch(**kwargs):
        calls.append(kwargs)
        return fake_hf_cache(tmp_path, kwargs["repo_id"])

    path = pretrained.download_gpt2_checkpoint(cache_dir=tmp_path, fetch=fetch)
    assert path.is_file() and path.name == "model.safetensors"
    assert calls == [{"repo_id": "openai-community/gpt2", "filename": "model.safetensors", "cache_dir": tmp_path}]
    assert pretrained.find_gpt2_checkpoint(cache_dir=tmp_path) == path  # found next time, offline


def test_download_refuses_when_offline_without_calling_anything(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []

    def fetch(**kwargs):
        calls.append(kwargs)
        raise ConnectionError("the network was used")

    with pytest.raises(pretrained.PretrainedUnavailable, match="HF_HUB_OFFLINE is set"):
        pretrained.download_gpt2_checkpoint(fetch=fetch)
    assert calls == [], "the fetcher must not even be called while HF_HUB_OFFLINE is set"


def test_download_failure_is_reported_plainly():
    def fetch(**kwargs):
        raise ConnectionError("no route to host")

    with pytest.raises(pretrained.PretrainedUnavailable, match="no route to host"):
        pretrained.download_gpt2_checkpoint(fetch=fetch)


def test_standin_files_have_the_two_layouts(tmp_path):
    plain = safetensors_torch.load_file(pretrained.make_standin_checkpoint(tmp_path / "a", TINY, seed=3))
    hub = safetensors_torch.load_file(pretrained.make_standin_checkpoint(tmp_path / "b", TINY, seed=3, hub_style=True))
    assert all(key.startswith("transformer.") for key in plain)
    assert "lm_head.weight" not in plain and "lm_head.weight" not in hub  # tied: stored once
    assert plain["transformer.wte.weight"].shape == (TINY.vocab_size, TINY.d_model)
    assert plain["transformer.h.0.attn.c_attn.weight"].shape == (TINY.d_model, 3 * TINY.d_model)  # Conv1D: (in, out)
    masks = sorted(key for key in hub if key.endswith(".attn.bias"))
    assert masks == [f"h.{i}.attn.bias" for i in range(TINY.num_layers)]
    C = TINY.context_length
    assert torch.equal(hub["h.1.attn.bias"], torch.tril(torch.ones(C, C)).view(1, 1, C, C))
    weights = {key: value for key, value in hub.items() if key not in masks}
    assert sorted(weights) == sorted(key.removeprefix("transformer.") for key in plain)
    for key, value in weights.items():
        assert torch.equal(value, plain["transformer." + key]), "same seed, same numbers"


def test_standin_seed_matters_and_global_random_state_is_left_alone(tmp_path):
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = safetensors_torch.load_file(pretrained.make_standin_checkpoint(tmp_path / "a", TINY, seed=1))
    assert torch.equal(torch.rand(3), expected_next)
    b = safetensors_torch.load_file(pretrained.make_standin_checkpoint(tmp_path / "b", TINY, seed=2))
    assert not torch.equal(a["transformer.wte.weight"], b["transformer.wte.weight"])
