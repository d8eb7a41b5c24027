"""Lesson 33, checked from outside the student's kernel (see ``grader/trusted.py``).

PROBE_CODE runs twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.attention`` withheld), and in the grader against the reference. Each probe isolates one
idea, like the test it stands behind:

- ``mask``: what the causal mask promises, whatever the values: nothing above the diagonal, no
  NaN, rows that sum to 1, the future never reaching the past, shapes for 2-d to 4-d inputs (the
  scale is ``values``' business, so only properties are compared here);
- ``values``: the weights and outputs of ``causal_attention`` on seeded inputs (float32 and float64);
- ``mha_shapes``: shapes, head_dim, num_heads, parameter counts, the ValueError;
- ``heads``: split_heads and merge_heads on seeded tensors (the layout GPT-2 uses);
- ``mha_values``: forward in eval mode with weights set by name; a correct causal_attention is put
  in place of the student's while it runs (an MHA may call it; it is graded on its own);
- ``mha_dropout``: the dropout attribute, no dropout in eval mode (compared with the student's own
  MHA without dropout, so a slip elsewhere in forward does not show here), randomness in training.
"""

WITHHELD = ("attention",)

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL, TokenPositionEmbedding
"""

# test grade id -> the probes that must agree with the reference for it to keep its points
TESTS = {
    "test_attention_mask": ["mask"],
    "test_attention_values": ["values"],
    "test_mha_shapes": ["mha_shapes"],
    "test_mha_heads": ["heads"],
    "test_mha_values": ["mha_values"],
    "test_mha_dropout": ["mha_dropout"],
}


def reference_namespace():
    import gpt2ref

    return {"causal_attention": gpt2ref.causal_attention, "MultiHeadAttention": gpt2ref.MultiHeadAttention}


PROBE_CODE = r'''
import math

import torch


def _shapes(g):
    T, d = _pick(g, 2, 9), _pick(g, 2, 12)
    return [(T, d), (_pick(g, 1, 3), T, d), (_pick(g, 1, 3), _pick(g, 1, 4), T, d)]


def probe_mask(ns, seed):
    attention = ns["causal_attention"]
    g = _gen(seed, 1)
    out = {}
    for i, shape in enumerate(_shapes(g)):
        q, k, v = (torch.randn(shape, generator=g) * 2 for _ in range(3))
        o, w = attention(q, k, v)
        T = shape[-2]
        above = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        out[f"shapes{i}"] = [list(o.shape), list(w.shape)]
        out[f"future_zero{i}"] = bool((w[..., above] == 0).all())
        out[f"no_nan{i}"] = not bool(torch.isnan(w).any() or torch.isnan(o).any())
        out[f"rows_sum_to_one{i}"] = bool(torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-5))
        cut = _pick(g, 1, T - 1)
        q2, k2, v2 = q.clone(), k.clone(), v.clone()
        for t in (q2, k2, v2):
            t[..., cut:, :] = torch.randn(t[..., cut:, :].shape, generator=g)
        o2, _ = attention(q2, k2, v2)
        out[f"past_unchanged{i}"] = bool(torch.allclose(o2[..., :cut, :], o[..., :cut, :], atol=1e-6))
    return out


def probe_values(ns, seed):
    attention = ns["causal_attention"]
    g = _gen(seed, 2)
    out = {}
    for i, shape in enumerate(_shapes(g)):
        q, k, v = (torch.randn(shape, generator=g) * 1.5 for _ in range(3))
        out[f"out{i}"], out[f"weights{i}"] = attention(q, k, v)
    shape = (_pick(g, 2, 7), _pick(g, 2, 5))
    q, k, v = (torch.randn(shape, generator=g, dtype=torch.float64) * 3 for _ in range(3))
    out["out64"], out["weights64"] = attention(q, k, v)
    return out


def probe_mha_shapes(ns, seed):
    MHA = ns["MultiHeadAttention"]
    g = _gen(seed, 3)
    heads = _pick(g, 1, 6)
    d = heads * _pick(g, 1, 6)
    mha = MHA(d, heads)
    B, T = _pick(g, 1, 3), _pick(g, 1, 8)
    with torch.no_grad():
        y = mha.eval()(torch.randn(B, T, d, generator=g))
    out = {"out": list(y.shape), "qkv": list(mha.qkv.weight.shape), "proj": list(mha.proj.weight.shape),
           "head_dim": mha.head_dim, "num_heads": mha.num_heads, "count": _count(mha),
           "count_no_bias": _count(MHA(d, heads, bias=False))}
    big_heads = _pick(g, 2, 8)
    out["count_big"] = _count(MHA(big_heads * 32, big_heads))  # (no meta device: its first use is slow)
    bad_heads = _pick(g, 2, 5)
    try:
        MHA(bad_heads * _pick(g, 1, 6) + _pick(g, 1, bad_heads - 1), bad_heads)
        out["indivisible"] = "none"
    except Exception as exc:  # the contract: ValueError
        out["indivisible"] = type(exc).__name__
    return out


def probe_heads(ns, seed):
    MHA = ns["MultiHeadAttention"]
    g = _gen(seed, 4)
    # at least two heads and two positions: with one of either, a reshape that skips the
    # transpose gives the same numbers, and the probe could not tell
    heads, hd = _pick(g, 2, 5), _pick(g, 1, 6)
    mha = MHA(heads * hd, heads)
    B, T = _pick(g, 1, 3), _pick(g, 2, 7)
    x = torch.randn(B, T, heads * hd, generator=g)
    y = torch.randn(B, heads, T, hd, generator=g)
    split = mha.split_heads(x)
    return {"split": split, "merge": mha.merge_heads(y), "round_trip": mha.merge_heads(split)}


def _exact_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v, weights


def probe_mha_values(ns, seed):
    return _standing_in(ns, lambda: _mha_values(ns["MultiHeadAttention"], seed), causal_attention=_exact_attention)


def _mha_values(MHA, seed):
    g = _gen(seed, 5)
    out = {}
    for i, bias in enumerate((True, False)):
        # the first model has several heads and tokens (where a scrambled head split shows);
        # the second may have one of either
        heads = _pick(g, 2 - i, 5)
        d = heads * _pick(g, 2, 6)
        mha = MHA(d, heads, bias=bias).eval()
        _fill(mha, f"mha{i}", seed, scale=0.3)
        x = torch.randn(_pick(g, 1, 3), _pick(g, 3 - 2 * i, 10), d, generator=g)
        with torch.no_grad():
            out[f"out{i}"] = mha(x)
    return out


def probe_mha_dropout(ns, seed):
    return _standing_in(ns, lambda: _mha_dropout(ns["MultiHeadAttention"], seed),
                        causal_attention=_exact_attention)


def _mha_dropout(MHA, seed):
    g = _gen(seed, 6)
    heads = _pick(g, 1, 4)
    d = heads * _pick(g, 2, 6)
    p = [0.2, 0.3, 0.5, 0.7][_pick(g, 0, 3)]
    attribute = getattr(MHA(d, heads, dropout=p), "dropout", None)
    out = {"attribute": float(attribute) if isinstance(attribute, (int, float)) and not isinstance(attribute, bool)
           else type(attribute).__name__}
    torch.manual_seed(seed)
    mha, plain = MHA(d, heads, dropout=p), MHA(d, heads, dropout=0.0)
    _fill(mha, "drop", seed, scale=0.3)
    _fill(plain, "drop", seed, scale=0.3)
    x = torch.randn(2, _pick(g, 4, 10), d, generator=g)
    with torch.no_grad():
        mha.eval()
        plain.eval()
        out["eval_same"] = bool(torch.equal(mha(x), mha(x)))
        out["eval_no_dropout"] = bool(torch.allclose(mha(x), plain(x), atol=1e-6))
        mha.train()
        plain.train()
        out["train_varies"] = not torch.equal(mha(x), mha(x))
        out["zero_dropout_train_same"] = bool(torch.equal(plain(x), plain(x)))
    return out
'''
