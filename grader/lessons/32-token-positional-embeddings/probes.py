"""Lesson 32, checked from outside the student's kernel (see ``grader/trusted.py``).

PROBE_CODE runs twice on the same seed: in a sandbox against the student's solution cells (with
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
"""

WITHHELD = ("embeddings",)

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL
"""

# test grade id -> the probes that must agree with the reference for it to keep its points
TESTS = {
    "test_embedding_shapes": ["shapes"],
    "test_embedding_values": ["values"],
    "test_embedding_gradients": ["gradients"],
    "test_embedding_too_long": ["too_long"],
    "test_cosine_similarity": ["cosine"],
}


def reference_namespace():
    import gpt2ref

    return {"TokenPositionEmbedding": gpt2ref.TokenPositionEmbedding,
            "cosine_similarity_matrix": gpt2ref.cosine_similarity_matrix}


PROBE_CODE = r'''
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


def probe_gradients(ns, seed):
    Emb = ns["TokenPositionEmbedding"]
    g = _gen(seed, 3)
    V, C, D = _sizes(g)
    emb = Emb(V, C, D)
    ids = torch.randint(0, V, (_pick(g, 1, 3), _pick(g, 1, C - 1)), generator=g)
    y = emb(ids)
    (y * torch.randn(y.shape, generator=g)).sum().backward()
    return {"tok_rows": _rows_with_grad(emb.tok_embed.weight), "pos_rows": _rows_with_grad(emb.pos_embed.weight)}


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
'''
