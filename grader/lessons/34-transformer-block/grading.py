"""Lesson 34, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
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

About SUBMISSIONS: Made-up submissions for lesson 34: each one-bug mutant must lose exactly the points of the
test that should catch it; correct-but-different answers must keep full marks.
"""

from grader.proofs.submissions import Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _count, _fill, _gen, _pick, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("LayerNorm", "GELU", "gelu_tanh_formula", "FeedForward", "TransformerBlock")

WITHHELD = ("layers", "block")

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL, TINY, GPTConfig, MultiHeadAttention
"""

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


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
import math

import torch
from torch import nn

from gpt2ref import GPTConfig


@decides("test_layernorm")
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


@decides("test_layernorm_eps")
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


@decides("test_gelu")
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


@decides("test_feedforward")
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


@decides("test_block_structure")
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


@decides("test_block_forward")
def probe_block_forward(ns, seed):
    cfg = _config(seed, 60)
    blk = ns["TransformerBlock"](cfg).eval()
    d = cfg.d_model
    blk.norm1, blk.attn, blk.norm2, blk.ff = _Norm(d, seed, 63), _Attn(d, seed), _Norm(d, seed, 64), _FF(d, seed)
    g = _gen(seed, 65)
    x = torch.randn(_pick(g, 1, 3), _pick(g, 1, 9), d, generator=g)
    with torch.no_grad():
        return {"out": blk(x)}


# === made-up submissions that prove the grading ===

LN, GELU, FF, BLOCK = "layer_norm", "gelu", "feed_forward", "transformer_block"
SQRT = "torch.sqrt(var + self.eps)"
GELU_BODY = "return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))"
ATTN_ADD = "x = x + self.attn(self.norm1(x))  # tokens exchange information"
FF_ADD = "x = x + self.ff(self.norm2(x))  # each token is processed on its own"
FF_FORWARD = "return self.dropout(self.proj(self.act(self.fc(x))))"
NORM1 = "self.norm1 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)"
NORM2 = "self.norm2 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)"
ATTN_DROPOUT = ("config.num_heads, config.dropout, config.bias)", "config.num_heads, 0.0, config.bias)")
FF_DROPOUT = ("FeedForward(config.d_model, config.d_ff, config.dropout, config.bias)",
              "FeedForward(config.d_model, config.d_ff, 0.0, config.bias)")

SUBMISSIONS = [
    # --- one-bug mutants ------------------------------------------------------------------------
    Submission("ln-unbiased-variance", fails={"test_layernorm"},
               why="divides the variance by d - 1 (torch.var's default)",
               edits={LN: [("unbiased=False", "unbiased=True")]}),
    Submission("ln-eps-outside-sqrt", fails={"test_layernorm_eps"},
               why="divides by std + eps instead of sqrt(var + eps)",
               edits={LN: [(SQRT, "(torch.sqrt(var) + self.eps)")]}),
    Submission("ln-eps-ignored", fails={"test_layernorm_eps"},
               why="hard-codes 1e-5 instead of using the eps argument",
               edits={LN: [(SQRT, "torch.sqrt(var + 1e-5)")]}),
    Submission("ln-no-scale", fails={"test_layernorm"},
               why="forgets to multiply by the learned weight",
               edits={LN: [(f"{SQRT} * self.weight", SQRT)]}),
    Submission("gelu-erf-form", fails={"test_gelu"},
               why="writes the exact erf GELU instead of GPT-2's tanh form",
               edits={GELU: [(GELU_BODY, "return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))")]}),
    Submission("gelu-wrong-constant", fails={"test_gelu"},
               why="0.44715 instead of 0.044715",
               edits={GELU: [("0.044715 * x.pow(3)", "0.44715 * x.pow(3)")]}),
    Submission("ff-no-activation", fails={"test_feedforward"},
               why="fc then proj with nothing in between",
               edits={FF: [("self.proj(self.act(self.fc(x)))", "self.proj(self.fc(x))")]}),
    Submission("ff-default-width", fails={"test_feedforward"},
               why="d_ff defaults to d_model instead of 4 * d_model",
               edits={FF: [("d_ff = 4 * d_model if d_ff is None else d_ff", "d_ff = d_model if d_ff is None else d_ff")]}),
    Submission("ff-dropout-on-hidden", fails={"test_feedforward"},
               why="dropout on the hidden layer (after the activation) instead of on proj's output",
               edits={FF: [(FF_FORWARD, "return self.proj(self.dropout(self.act(self.fc(x))))")]}),
    Submission("ff-act-bypassed", fails={"test_feedforward"},
               why="calls a fresh GELU() instead of self.act, so a module put in self.act never runs",
               edits={FF: [(FF_FORWARD, "return self.dropout(self.proj(GELU()(self.fc(x))))")]}),
    Submission("block-post-ln", fails={"test_block_forward"},
               why="the original Transformer's post-LN: norm(x + sublayer(x))",
               edits={BLOCK: [(ATTN_ADD, "x = self.norm1(x + self.attn(x))"),
                              (FF_ADD, "x = self.norm2(x + self.ff(x))")]}),
    Submission("block-no-ff-residual", fails={"test_block_forward"},
               why="forgets the residual add around the feed-forward",
               edits={BLOCK: [(FF_ADD, "x = self.ff(self.norm2(x))")]}),
    Submission("block-norm1-twice", fails={"test_block_forward"},
               why="uses norm1 before the feed-forward too (norm2 is never used)",
               edits={BLOCK: [(FF_ADD, "x = x + self.ff(self.norm1(x))")]}),
    Submission("block-dropout-ignored", fails={"test_block_structure"},
               why="never passes config.dropout on",
               edits={BLOCK: [ATTN_DROPOUT, FF_DROPOUT]}),
    Submission("block-dropout-only-ff", fails={"test_block_structure"},
               why="config.dropout reaches the feed-forward but not the attention",
               edits={BLOCK: [ATTN_DROPOUT]}),
    Submission("block-dropout-only-attn", fails={"test_block_structure"},
               why="config.dropout reaches the attention but not the feed-forward",
               edits={BLOCK: [FF_DROPOUT]}),
    Submission("block-eps-ignored", fails={"test_block_structure"},
               why="both LayerNorms keep eps=1e-5 whatever config.layer_norm_eps says",
               edits={BLOCK: [(NORM1, NORM1.replace("config.layer_norm_eps", "1e-5")),
                              (NORM2, NORM2.replace("config.layer_norm_eps", "1e-5"))]}),
    # --- correct, differently written ---------------------------------------------------------
    Submission(
        "var-mean-and-sigmoid", fails=set(),
        why="var_mean + rsqrt, register_parameter(None); GELU as x * sigmoid(2z); F.linear in the feed-forward; "
            "the block with named intermediates",
        cells={
            LN: '''class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        if bias:
            self.bias = nn.Parameter(torch.zeros(d_model))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y
''',
            GELU: '''class GELU(nn.Module):
    C = (2.0 / math.pi) ** 0.5

    def forward(self, x):
        # 0.5 * (1 + tanh(z)) == sigmoid(2 z)
        return x * torch.sigmoid(2.0 * self.C * (x + 0.044715 * x * x * x))
''',
            FF: '''class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff=None, dropout=0.0, bias=True):
        super().__init__()
        hidden = d_ff or 4 * d_model
        self.fc = nn.Linear(d_model, hidden, bias=bias)
        self.act = GELU()
        self.proj = nn.Linear(hidden, d_model, bias=bias)
        self.p = dropout

    def forward(self, x):
        h = self.act(F.linear(x, self.fc.weight, self.fc.bias))
        out = F.linear(h, self.proj.weight, self.proj.bias)
        return F.dropout(out, self.p, self.training)
''',
            BLOCK: '''class TransformerBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.norm1 = LayerNorm(d, config.layer_norm_eps, config.bias)
        self.attn = MultiHeadAttention(d, config.num_heads, dropout=config.dropout, bias=config.bias)
        self.norm2 = LayerNorm(d, config.layer_norm_eps, config.bias)
        self.ff = FeedForward(d, 4 * d, config.dropout, config.bias)

    def forward(self, x):
        attended = self.attn(self.norm1(x))
        h = x + attended
        fed = self.ff(self.norm2(h))
        return h + fed
''',
        },
    ),
    Submission(
        "sums-and-powers", fails=set(),
        why="mean and variance from sums, ** 0.5 for the root, tanh with x ** 3, a bias-free branch; "
            "the block with in-place-free additions written in one line each",
        cells={
            LN: '''class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5, bias=True):
        super().__init__()
        self.d, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x):
        mu = x.sum(-1, keepdim=True) / self.d
        centred = x - mu
        var = (centred * centred).sum(-1, keepdim=True) / self.d
        out = self.weight * centred / (var + self.eps) ** 0.5
        return out if self.bias is None else out + self.bias
''',
            GELU: '''class GELU(nn.Module):
    def forward(self, x):
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return x * 0.5 * (torch.tanh(inner) + 1)
''',
            BLOCK: '''class TransformerBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm1 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.norm2 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout, config.bias)
        self.ff = FeedForward(config.d_model, dropout=config.dropout, bias=config.bias)

    def forward(self, x):
        y = x + self.attn(self.norm1(x))
        return y + self.ff(self.norm2(y))
''',
        },
    ),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("ln-unbiased-variance")
