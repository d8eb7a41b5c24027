"""Tests of gpt2ref/attention.py (lesson 33): causal attention and multi-head attention."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gpt2ref import MultiHeadAttention, causal_attention


def naive_causal_attention(q, k, v):
    """One query at a time with Python loops: the definition, nothing vectorised. q, k, v: (T, d)."""
    T, d = q.shape
    out = torch.zeros_like(v)
    weights = torch.zeros(T, T, dtype=q.dtype)
    for t in range(T):
        scores = torch.tensor([float(q[t] @ k[s]) / math.sqrt(d) for s in range(t + 1)], dtype=q.dtype)
        w = torch.exp(scores - scores.max())
        w = w / w.sum()
        weights[t, : t + 1] = w
        out[t] = sum(w[s] * v[s] for s in range(t + 1))
    return out, weights


def test_causal_attention_matches_the_definition():
    torch.manual_seed(0)
    q, k, v = (torch.randn(6, 5, dtype=torch.float64) for _ in range(3))
    out, weights = causal_attention(q, k, v)
    expected_out, expected_weights = naive_causal_attention(q, k, v)
    torch.testing.assert_close(weights, expected_weights, atol=1e-12, rtol=0)
    torch.testing.assert_close(out, expected_out, atol=1e-12, rtol=0)


def test_causal_attention_weights_are_a_causal_distribution():
    torch.manual_seed(1)
    q, k, v = (torch.randn(2, 3, 7, 4) for _ in range(3))
    out, weights = causal_attention(q, k, v)
    assert out.shape == (2, 3, 7, 4) and weights.shape == (2, 3, 7, 7)
    above = torch.triu(torch.ones(7, 7, dtype=torch.bool), diagonal=1)
    assert torch.all(weights[..., above] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 7), atol=1e-6, rtol=0)
    assert torch.all(weights[..., 0, 0] == 1)  # the first token can only look at itself


def test_causal_attention_matches_torch_sdpa():
    torch.manual_seed(2)
    q, k, v = (torch.randn(2, 4, 9, 8) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(causal_attention(q, k, v)[0], expected, atol=1e-5, rtol=0)


def per_head_loop(mha, x):
    """Multi-head attention written head by head from slices of the weight matrices."""
    d = x.size(-1)
    H, hd = mha.num_heads, mha.head_dim
    Wq, Wk, Wv = mha.qkv.weight.split(d, dim=0)  # each (d, d): rows are output features
    bq, bk, bv = mha.qkv.bias.split(d)
    heads = []
    for h in range(H):
        rows = slice(h * hd, (h + 1) * hd)
        q = x @ Wq[rows].T + bq[rows]
        k = x @ Wk[rows].T + bk[rows]
        v = x @ Wv[rows].T + bv[rows]
        scores = q @ k.transpose(-2, -1) / math.sqrt(hd)
        T = x.size(-2)
        scores = scores + torch.full((T, T), float("-inf")).triu(1)
        heads.append(torch.softmax(scores, dim=-1) @ v)
    return torch.cat(heads, dim=-1) @ mha.proj.weight.T + mha.proj.bias


def test_multihead_attention_matches_a_head_by_head_loop():
    torch.manual_seed(3)
    mha = MultiHeadAttention(12, 3).eval()
    x = torch.randn(2, 6, 12)
    torch.testing.assert_close(mha(x), per_head_loop(mha, x), atol=1e-5, rtol=0)


def test_changing_a_future_token_leaves_earlier_outputs_alone():
    torch.manual_seed(4)
    mha = MultiHeadAttention(16, 4).eval()
    x = torch.randn(1, 8, 16)
    changed = x.clone()
    changed[:, 5:] = torch.randn(1, 3, 16)
    a, b = mha(x), mha(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5], atol=1e-6, rtol=0)
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_split_and_merge_heads():
    mha = MultiHeadAttention(6, 3)
    x = torch.arange(2 * 4 * 6, dtype=torch.float32).view(2, 4, 6)
    heads = mha.split_heads(x)
    assert heads.shape == (2, 3, 4, 2)
    assert torch.equal(heads[1, 2, 3], x[1, 3, 4:6])  # head h holds features h*hd .. (h+1)*hd - 1
    assert torch.equal(mha.merge_heads(heads), x)


def test_sizes_counts_and_errors():
    assert sum(p.numel() for p in MultiHeadAttention(8, 2).parameters()) == 4 * 8 * 8 + 4 * 8
    no_bias = MultiHeadAttention(8, 2, bias=False)
    assert no_bias.qkv.bias is None and no_bias.proj.bias is None
    with torch.device("meta"):
        gpt2 = MultiHeadAttention(768, 12)
    assert gpt2.head_dim == 64
    # c_attn 768 x 2304 + 2304, c_proj 768 x 768 + 768
    assert sum(p.numel() for p in gpt2.parameters()) == 2_362_368
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)


def test_dropout_only_while_training():
    torch.manual_seed(5)
    mha = MultiHeadAttention(16, 4, dropout=0.5)
    x = torch.randn(2, 6, 16)
    mha.train()
    assert not torch.equal(mha(x), mha(x))
    mha.eval()
    assert torch.equal(mha(x), mha(x))
