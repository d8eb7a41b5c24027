"""Lesson 32, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.embeddings`` withheld), and in the grader against the reference. Each probe isolates one
idea, like the test it stands behind:

- ``shapes``: table shapes, output shapes and dtype, parameter counts;
- ``values``: the output with the two tables (and only they) set by name from the seed, so an
  extra parameter is ``shapes``' business;
- ``gradients``: which rows of each table receive a gradient (not how much: a scaled token vector
  is ``values``' business);
- ``too_long``: ValueError naming T and context_length for T > context_length; T == context_length works;
- ``cosine``: cosine_similarity_matrix on rows of seeded lengths, a zero row, rows shorter than a
  seeded eps; the input unchanged.

About SUBMISSIONS: Made-up submissions for lesson 32: each one-bug mutant must lose exactly the points of the
test that should catch it; correct-but-different answers must keep full marks.
"""

from grader.proofs.submissions import Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _gen, _pick, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("TokenPositionEmbedding", "cosine_similarity_matrix")

WITHHELD = ("embeddings",)

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL
"""


def reference_namespace():
    import gpt2ref

    return {"TokenPositionEmbedding": gpt2ref.TokenPositionEmbedding,
            "cosine_similarity_matrix": gpt2ref.cosine_similarity_matrix}


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
import zlib

import torch


def _sizes(g):
    return _pick(g, 10, 80), _pick(g, 4, 20), _pick(g, 2, 12)  # vocab_size, context_length, d_model


def _set_tables(emb, seed):
    """Set the two tables from the seed and their names (nothing else)."""
    with torch.no_grad():
        for name in ("tok_embed", "pos_embed"):
            weight = getattr(emb, name).weight
            g = torch.Generator().manual_seed(seed ^ zlib.crc32(name.encode()))
            weight.copy_(torch.randn(weight.shape, generator=g))


@decides("test_embedding_shapes")
def probe_shapes(ns, seed):
    Emb = ns["TokenPositionEmbedding"]
    g = _gen(seed, 1)
    V, C, D = _sizes(g)
    emb = Emb(V, C, D)
    out = {"tok": list(emb.tok_embed.weight.shape), "pos": list(emb.pos_embed.weight.shape),
           "count": int(sum(p.numel() for p in emb.parameters()))}
    with torch.no_grad():
        for i, T in enumerate((1, C, _pick(g, 1, C))):
            y = emb(torch.randint(0, V, (_pick(g, 1, 4), T), generator=g))
            out[f"out{i}"] = list(y.shape)
            out[f"dtype{i}"] = str(y.dtype)
    big = Emb(_pick(g, 1000, 5000), _pick(g, 64, 512), _pick(g, 16, 64))  # (no meta device: its first use is slow)
    out["count_big"] = int(sum(p.numel() for p in big.parameters()))
    return out


@decides("test_embedding_values")
def probe_values(ns, seed):
    Emb = ns["TokenPositionEmbedding"]
    g = _gen(seed, 2)
    out = {}
    for i in range(2):
        V, C, D = _sizes(g)
        emb = Emb(V, C, D)
        _set_tables(emb, seed + i)
        # the first batch has at least two positions, where their order shows; the second may have one
        ids = torch.randint(0, V, (_pick(g, 1, 4), _pick(g, 2 - i, C)), generator=g)
        with torch.no_grad():
            out[f"out{i}"] = emb(ids)
    return out


def _rows_with_grad(weight):
    if weight.grad is None:
        return []
    return (weight.grad.abs().sum(dim=1) > 0).nonzero().flatten().tolist()


@decides("test_embedding_gradients")
def probe_gradients(ns, seed):
    Emb = ns["TokenPositionEmbedding"]
    g = _gen(seed, 3)
    V, C, D = _sizes(g)
    emb = Emb(V, C, D)
    ids = torch.randint(0, V, (_pick(g, 1, 3), _pick(g, 1, C - 1)), generator=g)
    y = emb(ids)
    (y * torch.randn(y.shape, generator=g)).sum().backward()
    return {"tok_rows": _rows_with_grad(emb.tok_embed.weight), "pos_rows": _rows_with_grad(emb.pos_embed.weight)}


@decides("test_embedding_too_long")
def probe_too_long(ns, seed):
    Emb = ns["TokenPositionEmbedding"]
    g = _gen(seed, 4)
    V, C, D = _sizes(g)
    emb = Emb(V, C, D)
    B = _pick(g, 1, 3)
    with torch.no_grad():
        full = emb(torch.randint(0, V, (B, C), generator=g))
    T = C + _pick(g, 1, 40)
    try:
        emb(torch.randint(0, V, (B, T), generator=g))
        error, names_both = "none", False
    except Exception as exc:  # the contract: ValueError naming T and context_length
        error = type(exc).__name__
        names_both = str(T) in str(exc) and str(C) in str(exc)
    return {"full": list(full.shape), "error": error, "names_both": names_both}


@decides("test_cosine_similarity")
def probe_cosine(ns, seed):
    cosine = ns["cosine_similarity_matrix"]
    g = _gen(seed, 5)
    N, d = _pick(g, 3, 10), _pick(g, 2, 8)
    lengths = torch.exp(torch.rand(N, 1, generator=g) * 6 - 3)  # about 0.05 to 20
    x = torch.randn(N, d, generator=g)
    x = x / x.norm(dim=1, keepdim=True) * lengths
    zero = _pick(g, 0, N - 1)
    x[zero] = 0.0  # a zero row
    short = (zero + 1) % N
    x[short] = x[short] / x[short].norm() * 0.1  # shorter than every eps below: where eps shows
    keep = x.clone()
    out = {"default_eps": cosine(x)}
    out["input_kept"] = bool(torch.equal(x, keep))
    eps = [0.2, 0.5, 1.0, 2.0][_pick(g, 0, 3)]
    out["eps"] = cosine(x, eps=eps)
    return out


# === made-up submissions that prove the grading ===

EMB = "token_position_embedding"
COS = "cosine_similarity_matrix"
RETURN_SUM = "return self.tok_embed(idx) + self.pos_embed(positions)  # (B, T, d_model) + (T, d_model)"

SUBMISSIONS = [
    # --- one-bug mutants -------------------------------------------------------------------
    Submission(
        "scaled-token-vectors", fails={"test_embedding_values"},
        why="multiplies token vectors by sqrt(d_model), as the original Transformer did; GPT-2 does not",
        edits={EMB: [(RETURN_SUM,
                      "return self.tok_embed(idx) * self.tok_embed.weight.size(1) ** 0.5 + self.pos_embed(positions)")]},
    ),
    Submission(
        "positions-reversed", fails={"test_embedding_values"},
        why="numbers the positions from the end: T-1, ..., 0",
        edits={EMB: [("positions = torch.arange(T, device=idx.device)  # (T,)",
                      "positions = torch.arange(T - 1, -1, -1, device=idx.device)")]},
    ),
    Submission(
        "no-position-embedding", fails={"test_embedding_values", "test_embedding_gradients"},
        why="forgets the position table in forward (values and the position rows' gradients both go wrong)",
        edits={EMB: [(RETURN_SUM, "return self.tok_embed(idx)")]},
    ),
    Submission(
        "positions-detached", fails={"test_embedding_gradients"},
        why="adds the position vectors with .detach(): right values, but the position table never learns",
        edits={EMB: [(RETURN_SUM, "return self.tok_embed(idx) + self.pos_embed(positions).detach()")]},
    ),
    Submission(
        "no-length-check", fails={"test_embedding_too_long"},
        why="no ValueError for T > context_length (nn.Embedding raises a cryptic IndexError instead)",
        edits={EMB: [("raise ValueError(", "pass  # raise ValueError(\n            print(")]},
    ),
    Submission(
        "extra-bias-parameter", fails={"test_embedding_shapes"},
        why="adds a learned bias vector (zero at init): right values, wrong parameter count",
        edits={EMB: [("self.context_length = context_length",
                      "self.context_length = context_length\n        self.bias = nn.Parameter(torch.zeros(d_model))"),
                     (RETURN_SUM, "return self.tok_embed(idx) + self.pos_embed(positions) + self.bias")]},
    ),
    Submission(
        "cosine-one-side-normalised", fails={"test_cosine_similarity"},
        why="divides only one side of the product by its length",
        edits={COS: [("return unit @ unit.T  # (N, N)", "return unit @ x.T")]},
    ),
    Submission(
        "cosine-no-eps", fails={"test_cosine_similarity"},
        why="divides by the raw norm: a zero row gives NaN",
        edits={COS: [("x.norm(dim=1, keepdim=True).clamp_min(eps)", "x.norm(dim=1, keepdim=True)")]},
    ),
    Submission(
        "cosine-eps-added", fails={"test_cosine_similarity"},
        why="divides by norm + eps: no NaN either, but a row shorter than eps is not divided by eps",
        edits={COS: [("x.norm(dim=1, keepdim=True).clamp_min(eps)", "(x.norm(dim=1, keepdim=True) + eps)")]},
    ),
    Submission(
        "cosine-eps-ignored", fails={"test_cosine_similarity"},
        why="clamps the norms at a fixed 1e-8 whatever eps the caller passes",
        edits={COS: [("x.norm(dim=1, keepdim=True).clamp_min(eps)", "x.norm(dim=1, keepdim=True).clamp_min(1e-8)")]},
    ),
    Submission(
        "cosine-normalises-columns", fails={"test_cosine_similarity"},
        why="takes the norm over the wrong dimension (columns instead of rows)",
        edits={COS: [("x.norm(dim=1, keepdim=True)", "x.norm(dim=0, keepdim=True)")]},
    ),
    # --- correct, differently written ----------------------------------------------------
    Submission(
        "weight-slicing-and-normalize", fails=set(),
        why="indexes the weight tables directly (expand over the batch) and uses F.normalize",
        cells={
            EMB: '''class TokenPositionEmbedding(nn.Module):
    def __init__(self, vocab_size, context_length, d_model):
        super().__init__()
        self.tok_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(context_length, d_model)

    def forward(self, idx):
        B, T = idx.shape
        limit = self.pos_embed.num_embeddings
        if T > limit:
            raise ValueError(f"got {T} tokens but the position table has only {limit} rows")
        tokens = self.tok_embed.weight[idx]                              # (B, T, d)
        places = self.pos_embed.weight[:T].unsqueeze(0).expand(B, -1, -1)  # (B, T, d)
        return tokens + places
''',
            COS: '''import torch.nn.functional as F


def cosine_similarity_matrix(x, eps=1e-8):
    unit = F.normalize(x, p=2.0, dim=-1, eps=eps)
    return torch.einsum("id,jd->ij", unit, unit)
''',
        },
    ),
    Submission(
        "functional-embedding", fails=set(),
        why="F.embedding on the tables, positions made with unsqueeze; cosine by dividing the Gram matrix",
        cells={
            EMB: '''class TokenPositionEmbedding(nn.Module):
    def __init__(self, vocab_size, context_length, d_model):
        super().__init__()
        self.max_len = context_length
        self.pos_embed = nn.Embedding(context_length, d_model)
        self.tok_embed = nn.Embedding(vocab_size, d_model)

    def forward(self, idx):
        n = idx.shape[-1]
        if n > self.max_len:
            raise ValueError("context_length is %d, sequence has %d tokens" % (self.max_len, n))
        pos = torch.arange(n, device=idx.device).unsqueeze(0)  # (1, T)
        return F.embedding(idx, self.tok_embed.weight) + F.embedding(pos, self.pos_embed.weight)
''',
            COS: '''def cosine_similarity_matrix(x, eps=1e-8):
    gram = x @ x.T
    lengths = torch.sqrt((x * x).sum(dim=1)).clamp(min=eps)
    return gram / lengths[:, None] / lengths[None, :]
''',
        },
    ),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("scaled-token-vectors")
