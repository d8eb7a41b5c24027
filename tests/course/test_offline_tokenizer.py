"""Plain tiktoken.get_encoding("gpt2") works offline after `make setup`."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course import offline_tokenizer

# Runs in a fresh interpreter with no TIKTOKEN_CACHE_DIR: only the .pth written by
# `make setup` can point tiktoken at the files. Any download attempt raises.
OFFLINE_SCRIPT = """
import tiktoken.load
def no_network(*args, **kwargs):
    raise RuntimeError("tiktoken tried to download " + repr(args))
tiktoken.load.read_file = no_network
import tiktoken
enc = tiktoken.get_encoding("gpt2")
print(enc.encode("Hello, world"))
print(enc.encode("<|endoftext|>", allowed_special="all"))
print(enc.n_vocab)
"""


def test_pinned_hashes_and_urls_match_tiktokens_own():
    import tiktoken_ext.openai_public as openai_public

    source = Path(openai_public.__file__).read_text()
    gpt2_section = source[source.index("def gpt2"):source.index("def ", source.index("def gpt2") + 5)]
    for name, (url, sha) in offline_tokenizer.GPT2_BPE_FILES.items():
        assert url in gpt2_section, f"{name}: URL {url} is not what tiktoken downloads"
        assert sha in gpt2_section, f"{name}: hash {sha} is not what tiktoken pins"
    assert len(re.findall(r"_hash=\"([0-9a-f]{64})\"", gpt2_section)) == 2


def test_packaged_files_have_the_pinned_sha256():
    for name, (_, sha) in offline_tokenizer.GPT2_BPE_FILES.items():
        assert hashlib.sha256(offline_tokenizer.packaged_bpe_file(name)).hexdigest() == sha


def test_cache_file_names_are_sha1_of_url():
    url = offline_tokenizer.GPT2_BPE_FILES["vocab.bpe"][0]
    assert offline_tokenizer.cache_file_name(url) == hashlib.sha1(url.encode()).hexdigest()


def test_install_into_a_fresh_cache_then_encode_offline(tmp_path):
    cache = offline_tokenizer.install(tmp_path / "cache", write_pth=False)
    assert len(list(cache.iterdir())) == 2
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOKEN", "DATA_GYM"))}
    env["TIKTOKEN_CACHE_DIR"] = str(cache)
    out = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT],
                         env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["[15496, 11, 995]", "[50256]", "50257"]


def test_the_venv_works_offline_with_no_setting_by_hand():
    """What a student gets after `make setup`: nothing set in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TIKTOKEN", "DATA_GYM"))}
    result = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:3] == ["[15496, 11, 995]", "[50256]", "50257"]


def test_a_tampered_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(offline_tokenizer, "packaged_bpe_file", lambda name: b"not the real file")
    with pytest.raises(offline_tokenizer.OfflineTokenizerError, match="sha256"):
        offline_tokenizer.install(tmp_path, write_pth=False)
    assert not any(tmp_path.iterdir())
