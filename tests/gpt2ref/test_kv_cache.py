"""The key/value cache of the reference GPT-2: same tokens as without it, and the same logits as HF's cache."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gpt2ref import TINY, GPTConfig, GPTModel, KVCache, generate, load_hf_gpt2
from gpt2ref.attention import cached_causal_mask

SMALL = GPTConfig(vocab_size=151, context_length=20, d_model=48, num_heads=4, num_layers=3, dropout=0.0)


def tiny_model(config: GPTConfig = TINY, seed: int = 0) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel(config).eval()


def random_ids(config: GPTConfig, shape: tuple[int, int], seed: int) -> torch.Tensor:
    return torch.randint(0, config.vocab_size, shape, generator=torch.Generator().manual_seed(seed))


# --- the cache itself --------------------------------------------------------------------


def test_cache_shapes_grow_by_the_tokens_fed():
    model = tiny_model()
    B, H, hd = 2, TINY.num_heads, TINY.head_dim
    cache = model.new_kv_cache()
    assert len(cache) == TINY.num_layers and all(isinstance(c, KVCache) for c in cache)
    assert [len(c) for c in cache] == [0] * TINY.num_layers
    with torch.no_grad():
        model(random_ids(TINY, (B, 5), 0), cache=cache)
        for layer in cache:
            assert tuple(layer.k.shape) == (B, H, 5, hd) and tuple(layer.v.shape) == (B, H, 5, hd)
        model(random_ids(TINY, (B, 1), 1), cache=cache)
        model(random_ids(TINY, (B, 3), 2), cache=cache)
    assert [len(c) for c in cache] == [9] * TINY.num_layers
    assert all(tuple(c.k.shape) == (B, H, 9, hd) for c in cache)


def test_cached_keys_are_the_keys_of_a_full_forward():
    """Layer 0's cache must hold exactly the keys/values its qkv projection gives for the whole sequence."""
    model = tiny_model()
    idx = random_ids(TINY, (1, 7), 3)
    cache = model.new_kv_cache()
    with torch.no_grad():
        model(idx[:, :4], cache=cache)
        model(idx[:, 4:], cache=cache)
        block = model.blocks[0]
        x = model.tok_embed(idx) + model.pos_embed(torch.arange(7))
        _, k, v = block.attn.qkv(block.norm1(x)).chunk(3, dim=-1)  # (1, 7, d_model) each
    k = k.view(1, 7, TINY.num_heads, TINY.head_dim).transpose(1, 2)
    v = v.view(1, 7, TINY.num_heads, TINY.head_dim).transpose(1, 2)
    torch.testing.assert_close(cache[0].k, k, atol=1e-6, rtol=0)
    torch.testing.assert_close(cache[0].v, v, atol=1e-6, rtol=0)


def test_cached_causal_mask_aligns_to_the_newest_positions():
    assert cached_causal_mask(1, 5) is None  # one new token sees everything
    expected = torch.tensor(
        [
            [True, True, True, False, False],  # query at position 2 sees keys 0..2
            [True, True, True, True, False],
            [True, True, True, True, True],
        ]
    )
    assert torch.equal(cached_causal_mask(3, 2), expected)


@pytest.mark.parametrize("chunks", [[7], [1] * 7, [3, 1, 3], [2, 5], [4, 2, 1]])
def test_logits_with_cache_equal_one_full_forward(chunks):
    """Prefill and chunked feeding (several new tokens on top of a cache) give the full forward's logits."""
    model = tiny_model(SMALL)
    idx = random_ids(SMALL, (2, sum(chunks)), 4)
    with torch.no_grad():
        full = model(idx)
        cache, start, pieces = model.new_kv_cache(), 0, []
        for size in chunks:
            pieces.append(model(idx[:, start : start + size], cache=cache))
            start += size
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)


def test_cache_refuses_to_run_past_the_context():
    model = tiny_model()
    cache = model.new_kv_cache()
    with torch.no_grad():
        model(random_ids(TINY, (1, TINY.context_length - 1), 5), cache=cache)
        model(random_ids(TINY, (1, 1), 6), cache=cache)  # exactly full: fine
        with pytest.raises(ValueError, match="context_length"):
            model(random_ids(TINY, (1, 1), 7), cache=cache)
    assert len(cache[0]) == TINY.context_length, "a refused call must not grow the cache"


# --- generate(use_cache=True) is the same as generate() ------------------------------------


@pytest.mark.parametrize(
    "prompt_len, new_tokens, temperature, top_k",
    [
        (5, 8, 1.0, None),  # stays inside the context
        (5, 30, 1.0, None),  # runs past context_length 16: the window slides
        (3, 25, 0.7, 5),
        (16, 6, 1.3, None),  # the prompt fills the context at once
        (20, 6, 1.0, 10),  # the prompt is longer than the context
        (4, 30, 1.0, 1),  # greedy
    ],
)
def test_cached_generation_equals_uncached_token_for_token(prompt_len, new_tokens, temperature, top_k):
    model = tiny_model()
    prompt = random_ids(TINY, (3, prompt_len), prompt_len)
    plain = generate(model, prompt, new_tokens, temperature=temperature, top_k=top_k, seed=11)
    cached = generate(model, prompt, new_tokens, temperature=temperature, top_k=top_k, seed=11, use_cache=True)
    assert cached.shape == (3, prompt_len + new_tokens)
    assert torch.equal(cached, plain)


def test_cached_generation_follows_the_global_seed_like_uncached():
    model = tiny_model()
    prompt = random_ids(TINY, (2, 4), 0)
    torch.manual_seed(5)
    plain = generate(model, prompt, 20)
    torch.manual_seed(5)
    cached = generate(model, prompt, 20, use_cache=True)
    assert torch.equal(cached, plain)


class Recorder(nn.Module):
    """Wraps a GPTModel and records (tokens fed, cached positions before the call)."""

    def __init__(self, model: GPTModel):
        super().__init__()
        self.model = model
        self.config = model.config
        self.calls: list[tuple[int, int | None]] = []

    def new_kv_cache(self):
        return self.model.new_kv_cache()

    def forward(self, idx, cache=None):
        self.calls.append((idx.shape[1], None if cache is None else len(cache[0])))
        return self.model(idx, cache=cache)


def test_cache_runs_one_token_per_step_until_the_window_slides():
    C = TINY.context_length  # 16
    model = Recorder(tiny_model())
    generate(model, random_ids(TINY, (1, 10), 1), 12, seed=0, use_cache=True)
    # prefill 10 tokens, then one token per step while the cache has room (10..15 cached),
    # then the window slides: the whole window again, without a cache.
    expected = [(10, 0)] + [(1, n) for n in range(10, C)] + [(C, None)] * 5
    assert model.calls == expected


def test_plain_generate_still_works_with_models_that_know_no_cache():
    class NoCache(nn.Module):
        def __init__(self):
            super().__init__()
            self.config = SimpleNamespace(context_length=4)

        def forward(self, idx):  # no cache argument at all
            return torch.zeros(idx.shape[0], idx.shape[1], 3)

    out = generate(NoCache(), torch.zeros(1, 2, dtype=torch.long), 5, seed=0)
    assert out.shape == (1, 7)


# --- against Hugging Face's own cache -----------------------------------------------------

transformers = pytest.importorskip("transformers")
from course.pretrained import hf_gpt2_config  # noqa: E402 (needs transformers)

transformers.utils.logging.set_verbosity_error()


def hf_pair(config: GPTConfig, seed: int = 0):
    """(course model, Hugging Face model) with the same random weights, both in eval mode."""
    torch.manual_seed(seed)
    hf = transformers.GPT2LMHeadModel(hf_gpt2_config(config)).eval()
    return load_hf_gpt2(GPTModel(config), hf.state_dict()).eval(), hf


def test_step_logits_equal_hugging_face_with_its_cache():
    ours, hf = hf_pair(SMALL)
    idx = random_ids(SMALL, (2, 12), 8)
    with torch.no_grad():
        cache = ours.new_kv_cache()
        out = hf(idx[:, :6], use_cache=True)
        ours_logits, hf_logits = [ours(idx[:, :6], cache=cache)], [out.logits]
        for t in range(6, 12):
            out = hf(idx[:, t : t + 1], cache=out.cache, use_cache=True)  # HF's own key/value cache
            hf_logits.append(out.logits)
            ours_logits.append(ours(idx[:, t : t + 1], cache=cache))
    diff = (torch.cat(ours_logits, 1) - torch.cat(hf_logits, 1)).abs().max().item()
    assert diff < 1e-4, f"max |logit difference| {diff}"


def test_greedy_generation_equals_hugging_face_generate():
    ours, hf = hf_pair(SMALL, seed=2)
    prompt = random_ids(SMALL, (1, 5), 9)
    new = SMALL.context_length - 5  # HF's position table ends at the context; stay inside it
    with torch.no_grad():
        expected = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new, do_sample=False)
    got = generate(ours, prompt, new, top_k=1, use_cache=True)
    assert torch.equal(got, expected)
