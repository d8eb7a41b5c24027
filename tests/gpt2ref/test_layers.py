"""Tests of gpt2ref/layers.py (lesson 34): LayerNorm, GELU, FeedForward."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gpt2ref import GELU, FeedForward, LayerNorm, gelu_tanh_formula


def randomised_layernorm(d, bias=True, seed=0, eps=1e-5):
    torch.manual_seed(seed)
    ours, torchs = LayerNorm(d, eps=eps, bias=bias), nn.LayerNorm(d, eps=eps, bias=bias)
    with torch.no_grad():
        torchs.weight.copy_(torch.randn(d))
        ours.weight.copy_(torchs.weight)
        if bias:
            torchs.bias.copy_(torch.randn(d))
            ours.bias.copy_(torchs.bias)
    return ours, torchs


@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_torch(bias):
    ours, torchs = randomised_layernorm(32, bias=bias)
    x = torch.randn(3, 5, 32) * 4 + 2
    torch.testing.assert_close(ours(x), torchs(x), atol=1e-5, rtol=0)
    assert (ours.bias is None) == (not bias)
    assert sum(p.numel() for p in ours.parameters()) == (64 if bias else 32)


def test_layernorm_starts_as_plain_standardisation_with_biased_variance():
    ln = LayerNorm(4)
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])  # mean 3, biased variance (4 + 1 + 0 + 9) / 4 = 3.5
    expected = (x - 3.0) / math.sqrt(3.5 + 1e-5)
    torch.testing.assert_close(ln(x), expected, atol=1e-6, rtol=0)


def test_layernorm_eps_sits_inside_the_square_root():
    eps = 1e-4
    ln = LayerNorm(4096, eps=eps)
    torch.manual_seed(0)
    x = torch.randn(2, 4096, dtype=torch.float64)
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True) * 1e-2  # variance 1e-4
    ln = ln.double()
    scale = ln(x) / x
    torch.testing.assert_close(scale, torch.full_like(x, 1 / math.sqrt(1e-4 + eps)), rtol=1e-6, atol=0)
    constant = torch.full((1, 4096), 7.0, dtype=torch.float64)
    assert torch.equal(ln(constant), torch.zeros_like(constant))  # no NaN: eps keeps it finite


def test_gelu_is_the_tanh_form():
    # values written out from the formula with Python's math module
    def by_hand(v):
        return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))

    xs = [-4.0, -1.5, -0.3, 0.0, 0.7, 1.0, 3.2]
    got = GELU()(torch.tensor(xs, dtype=torch.float64))
    for value, x in zip(got.tolist(), xs):
        assert value == pytest.approx(by_hand(x), abs=1e-12)
    grid = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    torch.testing.assert_close(gelu_tanh_formula(grid), GELU()(grid), atol=1e-12, rtol=0)
    # and it is not the erf form (the two differ by a few 1e-4 near |x| = 2)
    assert (GELU()(grid) - F.gelu(grid)).abs().max() > 1e-4


def test_gelu_matches_hugging_face_gelu_new():
    activations = pytest.importorskip("transformers.activations")
    x = torch.linspace(-8, 8, 501)
    torch.testing.assert_close(GELU()(x), activations.ACT2FN["gelu_new"](x), atol=1e-6, rtol=0)


def test_feedforward_is_fc_gelu_proj():
    torch.manual_seed(0)
    ff = FeedForward(8, 20).eval()
    x = torch.randn(2, 3, 8)
    hidden = x @ ff.fc.weight.T + ff.fc.bias
    expected = gelu_tanh_formula(hidden) @ ff.proj.weight.T + ff.proj.bias
    torch.testing.assert_close(ff(x), expected, atol=1e-6, rtol=0)


def test_feedforward_sizes_and_counts():
    ff = FeedForward(8)
    assert ff.fc.weight.shape == (32, 8) and ff.proj.weight.shape == (8, 32)
    assert ff(torch.randn(1, 2, 8)).shape == (1, 2, 8)
    no_bias = FeedForward(8, bias=False)
    assert no_bias.fc.bias is None and no_bias.proj.bias is None
    with torch.device("meta"):
        gpt2 = FeedForward(768)
    # 768 x 3072 + 3072 + 3072 x 768 + 768
    assert sum(p.numel() for p in gpt2.parameters()) == 4_722_432


def test_feedforward_dropout_only_while_training():
    torch.manual_seed(0)
    ff = FeedForward(8, dropout=0.5)
    x = torch.randn(4, 6, 8)
    ff.train()
    assert not torch.equal(ff(x), ff(x))
    ff.eval()
    assert torch.equal(ff(x), ff(x))


def test_feedforward_matches_hugging_face_mlp():
    transformers = pytest.importorskip("transformers")
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

    config = transformers.GPT2Config(n_embd=16, n_head=2, activation_function="gelu_new", resid_pdrop=0.0)
    torch.manual_seed(0)
    hf = GPT2MLP(64, config).eval()
    for p in hf.parameters():
        nn.init.normal_(p, std=0.3)
    ff = FeedForward(16, 64).eval()
    with torch.no_grad():  # Conv1D stores (in, out): transpose for nn.Linear
        ff.fc.weight.copy_(hf.c_fc.weight.T)
        ff.fc.bias.copy_(hf.c_fc.bias)
        ff.proj.weight.copy_(hf.c_proj.weight.T)
        ff.proj.bias.copy_(hf.c_proj.bias)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        torch.testing.assert_close(ff(x), hf(x), atol=1e-5, rtol=0)
