"""Lesson 33, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
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

About SUBMISSIONS: Made-up submissions for lesson 33: each one-bug mutant must lose exactly the points of the
test that should catch it; correct-but-different answers must keep full marks.
"""

from grader.proofs.submissions import Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _count, _fill, _gen, _pick, _standing_in, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("causal_attention", "MultiHeadAttention")

WITHHELD = ("attention",)

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL, TokenPositionEmbedding
"""


def reference_namespace():
    import gpt2ref

    return {"causal_attention": gpt2ref.causal_attention, "MultiHeadAttention": gpt2ref.MultiHeadAttention}


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
import math

import torch


def _shapes(g):
    T, d = _pick(g, 2, 9), _pick(g, 2, 12)
    return [(T, d), (_pick(g, 1, 3), T, d), (_pick(g, 1, 3), _pick(g, 1, 4), T, d)]


@decides("test_attention_mask")
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


@decides("test_attention_values")
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


@decides("test_mha_shapes")
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


@decides("test_mha_heads")
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


@decides("test_mha_values")
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


@decides("test_mha_dropout")
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


# === made-up submissions that prove the grading ===

ATT = "causal_attention"
MHA = "multi_head_attention"
SCORES = "scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T, T)"
WEIGHTS = 'weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)'
SDPA_DROPOUT = "dropout_p=self.dropout if self.training else 0.0"

SUBMISSIONS = [
    # --- one-bug mutants: causal_attention ----------------------------------------------------
    Submission("attention-unscaled", fails={"test_attention_values"},
               why="forgets to divide the scores by sqrt(d)",
               edits={ATT: [(SCORES, "scores = q @ k.transpose(-2, -1)")]}),
    Submission("attention-scaled-by-d", fails={"test_attention_values"},
               why="divides the scores by d instead of sqrt(d)",
               edits={ATT: [(SCORES, "scores = q @ k.transpose(-2, -1) / d")]}),
    Submission("attention-masks-the-diagonal", fails={"test_attention_mask", "test_attention_values"},
               why="triu(diagonal=0) also hides each token from itself: row 0 becomes NaN",
               edits={ATT: [("diagonal=1)", "diagonal=0)")]}),
    Submission("attention-mask-after-softmax", fails={"test_attention_mask", "test_attention_values"},
               why="softmax first, then zero the future: rows no longer sum to 1",
               edits={ATT: [(WEIGHTS, "weights = torch.softmax(scores, dim=-1).masked_fill(future, 0.0)")]}),
    # --- one-bug mutants: MultiHeadAttention ----------------------------------------------------
    Submission("mha-not-causal", fails={"test_mha_values"},
               why="is_causal=False: every token sees the future",
               edits={MHA: [("is_causal=True", "is_causal=False")]}),
    Submission("mha-k-v-swapped", fails={"test_mha_values"},
               why="cuts the qkv output in the order q, v, k",
               edits={MHA: [("q, k, v = self.qkv(x).chunk(3, dim=-1)", "q, v, k = self.qkv(x).chunk(3, dim=-1)")]}),
    Submission("mha-no-output-projection", fails={"test_mha_values"},
               why="merges the heads but never applies proj",
               edits={MHA: [("self.resid_dropout(self.proj(self.merge_heads(out)))",
                             "self.resid_dropout(self.merge_heads(out))")]}),
    Submission("mha-split-without-transpose", fails={"test_mha_heads", "test_mha_values"},
               why="split_heads reshapes straight to (B, H, T, head_dim): heads get scrambled features",
               edits={MHA: [("return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)",
                             "return x.reshape(B, self.num_heads, T, self.head_dim)")]}),
    Submission("mha-no-divisibility-check", fails={"test_mha_shapes"},
               why="no ValueError when d_model is not divisible by num_heads",
               edits={MHA: [('raise ValueError(f"d_model', 'print(f"d_model')]}),
    Submission("mha-dropout-in-eval", fails={"test_mha_dropout"},
               why="passes dropout_p=self.dropout even in eval mode",
               edits={MHA: [(SDPA_DROPOUT, "dropout_p=self.dropout")]}),
    Submission("mha-dropout-ignored", fails={"test_mha_dropout"},
               why="never applies dropout, whatever the dropout argument",
               edits={MHA: [(SDPA_DROPOUT, "dropout_p=0.0"),
                            ("self.resid_dropout = nn.Dropout(dropout)", "self.resid_dropout = nn.Dropout(0.0)")]}),
    Submission("mha-dropout-attribute-renamed", fails={"test_mha_dropout"},
               why="keeps the probability as self.p: dropout works, but the attribute the docstring promises is missing",
               edits={MHA: [("self.dropout = dropout", "self.p = dropout"),
                            (SDPA_DROPOUT, "dropout_p=self.p if self.training else 0.0")]}),
    # --- correct, differently written ---------------------------------------------------------
    Submission(
        "explicit-softmax-everywhere", fails=set(),
        why="tril mask with torch.where and a finite fill; MHA calls the student's own causal_attention, "
            "dropout on the weights only, reshape/permute for the heads",
        cells={
            ATT: '''def causal_attention(q, k, v):
    T = q.shape[-2]
    scale = 1.0 / q.shape[-1] ** 0.5
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    allowed = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    scores = torch.where(allowed, scores, torch.full_like(scores, -1e9))
    weights = scores.softmax(dim=-1)
    return torch.matmul(weights, v), weights
''',
            MHA: '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0, bias=True):
        super().__init__()
        if d_model % num_heads:
            raise ValueError("num_heads must divide d_model")
        self.d_model, self.num_heads, self.head_dim, self.dropout = d_model, num_heads, d_model // num_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x):
        B, T, _ = x.shape
        return x.reshape(B, T, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def merge_heads(self, x):
        B, H, T, hd = x.shape
        return x.permute(0, 2, 1, 3).reshape(B, T, H * hd)

    def forward(self, x):
        q, k, v = self.qkv(x).split(self.d_model, dim=2)
        _, weights = causal_attention(self.split_heads(q), self.split_heads(k), self.split_heads(v))
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        return self.proj(self.merge_heads(weights @ self.split_heads(v)))
''',
        },
    ),
    Submission(
        "einsum-and-module-dropout", fails=set(),
        why="einsum scores, mask built with masked_fill_ of the dtype's lowest value; "
            "an nn.Dropout module on the output only; heads via unflatten/flatten",
        cells={
            ATT: '''def causal_attention(q, k, v):
    T, d = q.shape[-2:]
    scores = torch.einsum("...td,...sd->...ts", q, k) / math.sqrt(d)
    scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("...ts,...sd->...td", weights, v), weights
''',
            MHA: '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim, rest = divmod(d_model, num_heads)
        if rest != 0:
            raise ValueError(f"{d_model} is not a multiple of {num_heads}")
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)
        self.drop = nn.Dropout(dropout)

    def split_heads(self, x):
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def merge_heads(self, x):
        return x.transpose(1, 2).flatten(-2)

    def forward(self, x):
        q, k, v = (self.split_heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.drop(self.proj(self.merge_heads(out)))
''',
        },
    ),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("attention-unscaled")
