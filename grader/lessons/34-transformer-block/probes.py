"""Lesson 34, checked from outside the student's kernel (see ``grader/trusted.py``).

PROBE_CODE runs twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.layers`` and ``gpt2ref.block`` withheld), and in the grader against the reference.
Each probe isolates one idea, like the test it stands behind:

- ``layernorm``: the formula (biased variance, weight, bias, bias=False) on inputs whose
  variance dwarfs the default eps, so where eps goes does not matter here;
- ``eps``: where eps goes and that the constructor's eps is used, with weight and bias at their
  initial values (ones, zeros) and a wide vector (the biased/unbiased variance gap is below the
  tolerance), so only eps shows;
- ``gelu``: the tanh formula on a seeded grid, float64 and float32;
- ``ff``: the wiring fc -> act -> proj -> dropout, with weights set by name and ``act`` swapped for
  a fixed stand-in (GELU is graded on its own), and where dropout goes;
- ``block_structure``: parameter counts and that config.dropout and config.layer_norm_eps reach
  the parts (compared with the student's own LayerNorm, so a LayerNorm slip does not show here);
- ``block_forward``: the pre-LN wiring, with all four parts swapped for fixed stand-ins.
"""

WITHHELD = ("layers", "block")

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL, TINY, GPTConfig, MultiHeadAttention
"""

# test grade id -> the probes that must agree with the reference for it to keep its points
TESTS = {
    "test_layernorm": ["layernorm"],
    "test_layernorm_eps": ["eps"],
    "test_gelu": ["gelu"],
    "test_feedforward": ["ff"],
    "test_block_structure": ["block_structure"],
    "test_block_forward": ["block_forward"],
}

# (probe, key) -> (atol, rtol): the eps probe's wide vectors leave the biased/unbiased variance
# gap (at most 1 / (2 (d - 1)) relative) inside 1e-3, while a misplaced eps changes the output
# by a factor of two or more
TOLERANCES = {
    ("eps", "out"): (1e-7, 1e-3),
}


def reference_namespace():
    import gpt2ref

    return {"LayerNorm": gpt2ref.LayerNorm, "GELU": gpt2ref.GELU, "FeedForward": gpt2ref.FeedForward,
            "TransformerBlock": gpt2ref.TransformerBlock}


PROBE_CODE = r'''
import math

import torch
from torch import nn

from gpt2ref import GPTConfig


def probe_layernorm(ns, seed):
    LayerNorm = ns["LayerNorm"]
    g = _gen(seed, 1)
    out = {}
    for i, bias in enumerate((True, False)):
        d = _pick(g, 4, 48)
        ln = LayerNorm(d, bias=bias)
        out[f"init_weight{i}"] = ln.weight.detach().clone()
        out[f"bias_is_none{i}"] = ln.bias is None
        if bias:
            out[f"init_bias{i}"] = ln.bias.detach().clone()
        out[f"count{i}"] = _count(ln)
        _fill(ln, "ln", seed + i)
        shape = [_pick(g, 1, 4), _pick(g, 1, 6), d][_pick(g, 0, 1):]
        x = torch.randn(shape, generator=g) * (3 + 20 * torch.rand(1, generator=g)) + torch.randn(1, generator=g) * 5
        keep = x.clone()
        with torch.no_grad():
            out[f"out{i}"] = ln(x)
        out[f"input_kept{i}"] = bool(torch.equal(x, keep))
    return out


def probe_eps(ns, seed):
    LayerNorm = ns["LayerNorm"]
    g = _gen(seed, 2)
    d = _pick(g, 1024, 2048)
    eps = [1e-3, 3e-3, 1e-2, 0.05, 0.2][_pick(g, 0, 4)]
    x = torch.randn(3, d, generator=g, dtype=torch.float64)
    x = (x - x.mean(-1, keepdim=True)) / x.std(-1, unbiased=False, keepdim=True)
    x = x * (math.sqrt(eps) * (0.3 + torch.rand(3, 1, generator=g, dtype=torch.float64)))  # variance near eps
    x = x + torch.randn(3, 1, generator=g, dtype=torch.float64)
    flat = torch.full((2, d), float(torch.randn(1, generator=g)), dtype=torch.float64)  # variance 0
    ln = LayerNorm(d, eps=eps).double()
    with torch.no_grad():
        return {"out": ln(x), "flat": ln(flat)}


def probe_gelu(ns, seed):
    GELU = ns["GELU"]
    g = _gen(seed, 3)
    grid = torch.randn(_pick(g, 200, 400), generator=g, dtype=torch.float64) * 3
    grid32 = torch.randn(_pick(g, 2, 4), _pick(g, 2, 5), 7, generator=g) * 3
    gelu = GELU()
    return {"f64": gelu(grid), "f32": gelu(grid32), "count": _count(gelu)}


class _Act(nn.Module):
    """A fixed stand-in for the activation (GELU is another test's business)."""

    def forward(self, x):
        return torch.sin(x) + 0.25 * x


def probe_ff(ns, seed):
    FeedForward = ns["FeedForward"]
    g = _gen(seed, 4)
    d, d_ff, bias = _pick(g, 4, 16), _pick(g, 5, 40), bool(_pick(g, 0, 1))
    default = FeedForward(d)
    out = {"default_fc": list(default.fc.weight.shape), "default_proj": list(default.proj.weight.shape)}
    ff = FeedForward(d, d_ff, bias=bias).eval()
    out["count"] = _count(ff)
    out["fc"] = list(ff.fc.weight.shape)
    _fill(ff, "ff", seed)
    ff.act = _Act()
    x = torch.randn(_pick(g, 1, 3), _pick(g, 1, 6), d, generator=g)
    with torch.no_grad():
        out["out"] = ff(x)
    # dropout: on the output only, scaled by 1 / (1 - p) in training, off in eval
    p = [0.25, 0.4, 0.5, 0.6][_pick(g, 0, 3)]
    ff = FeedForward(d, dropout=p)
    _fill(ff, "ffd", seed)
    ff.act = _Act()
    x = torch.randn(64, 32, d, generator=g)
    with torch.no_grad():
        ff.eval()
        plain = ff(x)
        out["eval_same"] = bool(torch.equal(plain, ff(x)))
        ff.train()
        torch.manual_seed(seed)
        trained = ff(x)
        out["train_varies"] = not torch.equal(trained, ff(x))
    kept = trained != 0
    out["share_dropped_near_p"] = abs(1 - kept.double().mean().item() - p) < 0.04
    out["kept_scaled"] = bool(torch.allclose(trained[kept], plain[kept] / (1 - p), atol=1e-5, rtol=1e-4))
    return out


def _config(seed, salt, **fixed):
    g = _gen(seed, salt)
    heads = _pick(g, 1, 4)
    values = dict(vocab_size=50, context_length=16, d_model=heads * _pick(g, 2, 8), num_heads=heads, num_layers=1,
                  dropout=0.0, bias=bool(_pick(g, 0, 1)), layer_norm_eps=[1e-5, 1e-2, 0.1][_pick(g, 0, 2)])
    values.update(fixed)
    return GPTConfig(**values)


def probe_block_structure(ns, seed):
    Block, LayerNorm = ns["TransformerBlock"], ns["LayerNorm"]
    g = _gen(seed, 5)
    out = {}
    for i, bias in enumerate((True, False)):
        out[f"count{i}"] = _count(Block(_config(seed, 50 + i, bias=bias)))
    big = _config(seed, 52, d_model=32 * _pick(g, 2, 6), num_heads=8)
    out["count_big"] = _count(Block(big))  # (no meta device: its first use is slow)
    cfg = _config(seed, 53, dropout=0.5)
    torch.manual_seed(seed)
    blk = Block(cfg)
    x = torch.randn(2, 6, cfg.d_model, generator=g)
    with torch.no_grad():
        blk.train()
        out["train_varies"] = not torch.equal(blk(x), blk(x))
        out["attn_varies"] = not torch.equal(blk.attn(x), blk.attn(x))
        out["ff_varies"] = not torch.equal(blk.ff(x), blk.ff(x))
        blk.eval()
        out["eval_same"] = bool(torch.equal(blk(x), blk(x)))
    cfg = _config(seed, 54, layer_norm_eps=[1e-2, 0.05, 0.3][_pick(g, 0, 2)])
    blk = Block(cfg)
    h = torch.randn(3, 5, cfg.d_model, generator=g) * 0.05  # small variance: eps shows
    with torch.no_grad():
        own = LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps, bias=cfg.bias)  # the student's own LayerNorm
        for name in ("norm1", "norm2"):
            out[name + "_uses_config"] = bool(torch.allclose(getattr(blk, name)(h), own(h), atol=1e-6, rtol=1e-5))
    return out


class _Norm(nn.Module):
    def __init__(self, d, seed, salt):
        super().__init__()
        g = _gen(seed, salt)
        self.a, self.b = torch.randn(d, generator=g), torch.randn(d, generator=g)

    def forward(self, x, *args, **kwargs):
        return torch.tanh(x * self.a + self.b)


class _Attn(nn.Module):
    """Tokens mix with earlier tokens (a running mean), then a fixed linear map."""

    def __init__(self, d, seed):
        super().__init__()
        self.w = torch.randn(d, d, generator=_gen(seed, 61)) / d**0.5

    def forward(self, x, *args, **kwargs):
        mean = x.cumsum(dim=1) / torch.arange(1, x.shape[1] + 1, dtype=x.dtype)[:, None]
        return mean @ self.w


class _FF(nn.Module):
    def __init__(self, d, seed):
        super().__init__()
        g = _gen(seed, 62)
        self.w1, self.w2 = torch.randn(d, 3 * d, generator=g) / d**0.5, torch.randn(3 * d, d, generator=g) / d**0.5

    def forward(self, x, *args, **kwargs):
        return torch.tanh(x @ self.w1) @ self.w2 + 0.5


def probe_block_forward(ns, seed):
    cfg = _config(seed, 60)
    blk = ns["TransformerBlock"](cfg).eval()
    d = cfg.d_model
    blk.norm1, blk.attn, blk.norm2, blk.ff = _Norm(d, seed, 63), _Attn(d, seed), _Norm(d, seed, 64), _FF(d, seed)
    g = _gen(seed, 65)
    x = torch.randn(_pick(g, 1, 3), _pick(g, 1, 9), d, generator=g)
    with torch.no_grad():
        return {"out": blk(x)}
'''
