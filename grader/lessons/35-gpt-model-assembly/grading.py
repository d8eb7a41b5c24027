"""Lesson 35, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.model`` and ``gpt2ref.generation`` withheld), and in the grader against the reference.
Each probe isolates one idea, like the test it stands behind: the blocks are swapped for fixed
stand-ins, and only the weights a probe is about are set (by name), so a slip in one part does not
show up as a contradiction in another part's test.

About SUBMISSIONS: Made-up submissions for lesson 35 (GPT model assembly) that prove its grading.

One-bug mutants each lose exactly the points of the test cell written for that idea; the two
correct-but-different submissions score full marks; tampering earns nothing it should not.
Run: python -m grader.acceptance 35-gpt-model-assembly
"""

import json

from grader.proofs.submissions import Submission, forge_quiz_cell, insert_cell
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _fill, _standing_in, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("GPTModel", "count_parameters", "top_k_filter", "generate", "init_weights",
          "scale_residual_projections")

WITHHELD = ("model", "generation")

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL, TINY, GPTConfig, LayerNorm, TransformerBlock
"""

# (probe, key) -> (atol, rtol) where values are statistics, not exact results
TOLERANCES = {
    ("init", "std"): (0.0, 0.12),
    ("init", "bias_max"): (1e-6, 0.0),
    ("sampling", "freq"): (0.05, 0.0),
}


def reference_namespace():
    import gpt2ref

    return {"GPTModel": gpt2ref.GPTModel, "count_parameters": gpt2ref.count_parameters,
            "top_k_filter": gpt2ref.top_k_filter, "generate": gpt2ref.generate}


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
from types import SimpleNamespace

import torch
from torch import nn

from gpt2ref import GPTConfig


def _config(seed, **fixed):
    g = torch.Generator().manual_seed(seed)
    pick = lambda low, high: int(torch.randint(low, high + 1, (1,), generator=g))
    heads = pick(1, 4)
    values = dict(vocab_size=pick(40, 120), context_length=pick(6, 20), d_model=heads * pick(3, 8),
                  num_heads=heads, num_layers=pick(1, 3), dropout=0.0, bias=bool(pick(0, 1)),
                  weight_tying=False, layer_norm_eps=[1e-5, 0.1, 0.5][pick(0, 2)])
    values.update(fixed)
    return GPTConfig(**values)


class _StandInBlock(nn.Module):
    """A fixed block: order matters (tanh of a mix), the shape stays."""

    def __init__(self, d_model, seed, i):
        super().__init__()
        g = torch.Generator().manual_seed(seed + 101 * i)
        self.mix = torch.randn(d_model, d_model, generator=g) / d_model**0.5
        self.shift = float(i + 1)

    def forward(self, x, *args, **kwargs):
        return torch.tanh(x @ self.mix + self.shift) + x


class _Pass(nn.Module):
    def forward(self, x, *args, **kwargs):
        return x


def _bare(model, blocks=None, norm=False, head=False):
    """Swap the parts a probe is not about for fixed ones (one block that passes x on, by default)."""
    model.blocks = nn.Sequential(*(blocks or [_Pass()]))
    if not norm:
        model.final_norm = nn.Identity()
    if not head:
        model.lm_head = nn.Identity()
    return model


def _ids(cfg, seed, batch=2, length=None):
    g = torch.Generator().manual_seed(seed + 7)
    length = length or cfg.context_length - 1  # T == context_length is the shapes probe's business
    return torch.randint(0, cfg.vocab_size, (batch, length), generator=g)


@decides("test_gpt_shapes")
def probe_shapes(ns, seed):
    cfg = _config(seed)
    torch.manual_seed(seed)
    model = ns["GPTModel"](cfg).eval()
    with torch.no_grad():
        full = model(_ids(cfg, seed, 1, cfg.context_length))
        short = model(_ids(cfg, seed, 3, 1))
    try:
        model(_ids(cfg, seed, 1, cfg.context_length + 1))
        error, names_both = "none", False
    except Exception as exc:  # the contract: ValueError naming T and context_length
        error = type(exc).__name__
        names_both = str(cfg.context_length + 1) in str(exc) and str(cfg.context_length) in str(exc)
    return {"full": list(full.shape), "short": list(short.shape), "error": error, "names_both": names_both,
            "head_has_bias": getattr(model.lm_head, "bias", None) is not None, "blocks": len(model.blocks)}


@decides("test_gpt_embeddings")
def probe_embeddings(ns, seed):
    cfg = _config(seed + 1)
    model = _bare(ns["GPTModel"](cfg))
    _fill(model.tok_embed, "tok", seed)
    _fill(model.pos_embed, "pos", seed)
    with torch.no_grad():
        return {"out": model.eval()(_ids(cfg, seed, 2, cfg.context_length - 1))}


@decides("test_gpt_blocks")
def probe_blocks(ns, seed):
    cfg = _config(seed + 2)
    model = ns["GPTModel"](cfg)
    _bare(model, blocks=[_StandInBlock(cfg.d_model, seed, i) for i in range(3)])
    _fill(model.tok_embed, "tok", seed)
    with torch.no_grad():
        model.pos_embed.weight.zero_()  # positions are another test's business
        return {"out": model.eval()(_ids(cfg, seed))}


@decides("test_gpt_final_norm")
def probe_final_norm(ns, seed):
    cfg = _config(seed + 3, layer_norm_eps=0.3, bias=False)  # an eps and a bias that show
    model = ns["GPTModel"](cfg)
    _bare(model, norm=True, head=True)
    _fill(model.tok_embed, "tok", seed, scale=0.05)  # small values: eps matters
    _fill(model.final_norm, "norm", seed)
    _fill(model.lm_head, "head", seed)
    with torch.no_grad():
        model.pos_embed.weight.zero_()
        return {"out": model.eval()(_ids(cfg, seed))}


@decides("test_weight_tying")
def probe_tying(ns, seed):
    cfg = _config(seed + 4, weight_tying=True)
    model = ns["GPTModel"](cfg)
    _bare(model, head=True)
    _fill(model.tok_embed, "tok", seed)  # lm_head is not set: tied, it is the same tensor
    with torch.no_grad():
        model.pos_embed.weight.zero_()
        out = model.eval()(_ids(cfg, seed))
    unique = {id(p) for p in model.parameters()}
    return {"out": out, "shared": len(unique) == len(list(model.parameters())) and
            model.lm_head.weight is model.tok_embed.weight}


@decides("test_init")
def probe_init(ns, seed):
    cfg = _config(seed + 5, d_model=96, num_heads=4, num_layers=int(2 + seed % 3), bias=True)
    torch.manual_seed(seed)
    model = ns["GPTModel"](cfg)
    proj = {id(b.attn.proj.weight) for b in model.blocks} | {id(b.ff.proj.weight) for b in model.blocks}
    emb, lin, res, bias = [], [], [], 0.0
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            emb.append(module.weight.std().item())
        elif isinstance(module, nn.Linear):
            (res if id(module.weight) in proj else lin).append(module.weight.std().item())
            if module.bias is not None:
                bias = max(bias, module.bias.abs().max().item())
    mean = lambda xs: sum(xs) / len(xs) if xs else -1.0
    return {"std": [mean(emb), mean(lin), mean(res)], "bias_max": bias}


@decides("test_gpt_dropout")
def probe_dropout(ns, seed):
    cfg = _config(seed + 6, dropout=0.5)
    model = _bare(ns["GPTModel"](cfg))
    _fill(model.tok_embed, "tok", seed)
    idx = _ids(cfg, seed)
    with torch.no_grad():
        model.pos_embed.weight.zero_()
        evaluated = model.eval()(idx)
        model.train()
        torch.manual_seed(seed + 1)
        trained = model(idx)
    return {"eval": evaluated, "train": trained}


@decides("test_count_parameters")
def probe_count(ns, seed):
    count = ns["count_parameters"]
    g = torch.Generator().manual_seed(seed)
    v, d = (int(x) for x in torch.randint(5, 40, (2,), generator=g))

    class Tied(nn.Module):
        def __init__(self, tie):
            super().__init__()
            self.emb = nn.Embedding(v, d)
            self.norm = nn.BatchNorm1d(d)  # buffers: not parameters
            self.head = nn.Linear(d, v, bias=False)
            if tie:
                self.head.weight = self.emb.weight

    # (the meta device is the kernel test's business: its first use costs seconds in a fresh process)
    got = [count(Tied(True)), count(Tied(False)), count(nn.Linear(d, v))]
    return {"counts": [int(x) if isinstance(x, int) else -1 for x in got],
            "python_int": all(type(x) is int for x in got)}


@decides("test_top_k_filter")
def probe_top_k(ns, seed):
    top_k_filter = ns["top_k_filter"]
    g = torch.Generator().manual_seed(seed)
    vocab = int(torch.randint(5, 30, (1,), generator=g))
    logits = torch.randn(2, 3, vocab, generator=g)
    before = logits.clone()
    out = {}
    for k in (None, 0, 1, 3, vocab + 4):
        out[f"k{k}"] = top_k_filter(logits, k).clone()
    out["rows"] = top_k_filter(logits[0], 2).clone()
    out["unchanged"] = bool(torch.equal(logits, before))
    return out


class _Window(nn.Module):
    """A stand-in LM: the next token follows from the whole window; counts and checks its calls."""

    def __init__(self, vocab, context_length, budget):
        super().__init__()
        self.vocab, self.budget, self.lengths = vocab, budget, []
        self.config = SimpleNamespace(context_length=context_length, vocab_size=vocab)

    def forward(self, idx):
        if len(self.lengths) >= self.budget:
            raise RuntimeError("more model calls than max_new_tokens")
        if idx.shape[1] > self.config.context_length:
            raise ValueError("longer than context_length")
        self.lengths.append(idx.shape[1])
        B, T = idx.shape
        target = (idx.sum(dim=1) * 7 + torch.arange(T).sum() * 3) % self.vocab  # (B,)
        logits = -(torch.arange(self.vocab).float()[None, :] - target[:, None].float()).abs()
        return logits[:, None, :].expand(B, T, self.vocab)


def _exact_top_k(logits, top_k):
    if not top_k:
        return logits
    k = min(top_k, logits.size(-1))
    return logits.masked_fill(logits < torch.topk(logits, k, dim=-1).values[..., -1:], float("-inf"))


@decides("test_generate_window")
def probe_window(ns, seed):
    g = torch.Generator().manual_seed(seed)
    context, new = int(torch.randint(3, 6, (1,), generator=g)), 9
    model = _Window(13, context, budget=new)
    prompt = torch.randint(0, 13, (2, 2), generator=g)
    out = _standing_in(ns, lambda: ns["generate"](model, prompt, new, temperature=1.0, top_k=1, seed=seed),
                       top_k_filter=_exact_top_k)
    return {"tokens": out, "lengths": list(model.lengths)}


class _Fixed(nn.Module):
    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.config = SimpleNamespace(context_length=4, vocab_size=logits.numel())

    def forward(self, idx):
        self.seen = getattr(self, "seen", []) + [(self.training, torch.is_grad_enabled())]
        return self.logits.expand(idx.shape[0], idx.shape[1], -1)


@decides("test_generate_sampling")
def probe_sampling(ns, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(8, generator=g) * 1.5
    temperature = [0.5, 0.8, 1.7][seed % 3]
    top_k = [None, 3][(seed // 3) % 2]
    rows = 4000
    out = _standing_in(ns, lambda: ns["generate"](_Fixed(logits), torch.zeros(rows, 1, dtype=torch.long), 1,
                                                  temperature=temperature, top_k=top_k, seed=seed),
                       top_k_filter=_exact_top_k)
    drawn = out[:, -1]
    return {"freq": torch.bincount(drawn, minlength=8).double() / rows, "shape": list(out.shape)}


@decides("test_generate_contract")
def probe_contract(ns, seed):
    return _standing_in(ns, lambda: _contract(ns["generate"], seed), top_k_filter=_exact_top_k)


def _contract(generate, seed):
    logits = torch.randn(6, generator=torch.Generator().manual_seed(seed))
    model = _Fixed(logits).train()
    prompt = torch.zeros(2, 1, dtype=torch.long)
    try:
        generate(model, prompt, 1, temperature=0.0)
        zero = "none"
    except Exception as exc:
        zero = type(exc).__name__
    try:
        generate(model, prompt, 1, temperature=-0.5)
        negative = "none"
    except Exception as exc:
        negative = type(exc).__name__
    model.seen = []
    first = generate(model, prompt, 5, seed=seed)
    sampling = list(model.seen)
    again = generate(model, prompt, 5, seed=seed)
    other = generate(model, prompt, 30, seed=seed + 1)
    free = [generate(model, prompt, 30) for _ in range(2)]  # seed=None: fresh randomness
    return {"zero_temperature": zero, "negative_temperature": negative,
            "same_seed_same_tokens": bool(torch.equal(first, again)),
            "other_seed_other_tokens": not torch.equal(generate(model, prompt, 30, seed=seed), other),
            "no_seed_varies": not torch.equal(free[0], free[1]),
            "eval_mode_while_sampling": bool(sampling) and not any(training for training, _ in sampling),
            "no_grad_while_sampling": bool(sampling) and not any(grad for _, grad in sampling),
            "train_mode_back": model.training, "prompt_kept": bool(torch.equal(first[:, :1], prompt)),
            "shape": list(first.shape), "int64": first.dtype == torch.long}


# === made-up submissions that prove the grading ===

GENERATE_TESTS = {"test_generate_sampling", "test_generate_window", "test_generate_contract"}
GPT_TESTS = {"test_gpt_shapes", "test_gpt_embeddings", "test_gpt_blocks", "test_gpt_final_norm",
             "test_weight_tying", "test_init", "test_gpt_dropout"}

# The graded post quiz (quiz.json): untied-extra -> 2, random-gibberish -> 0; one point each.
QUIZ_ONE_WRONG = {"untied-extra": 2, "random-gibberish": 1}
HUGE_ANSWERS = json.dumps({"version": 1, "lesson": "35-gpt-model-assembly", "stage": "post", "pad": "x" * 70000,
                           "answers": {"untied-extra": 2, "random-gibberish": 0}})

TIE = "self.lm_head.weight = self.tok_embed.weight  # one Parameter, used twice"
EMBED_DROPOUT = "        x = self.drop(x)\n"
FINAL_NORM = "self.final_norm = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)"
KEEP_LARGEST = [("torch.topk(logits, k, dim=-1)", "torch.topk(logits, k, dim=-1, largest=False)"),
                ("logits < kth_largest", "logits > kth_largest")]

TOP_K_VIA_SORT = '''\
def top_k_filter(logits, top_k):
    """Sort each row, read off the k-th largest value, blank everything below it."""
    if not top_k:
        return logits.clone()
    k = min(int(top_k), logits.shape[-1])
    ordered, _ = torch.sort(logits, dim=-1, descending=True)
    threshold = ordered[..., k - 1 : k]
    filtered = logits.clone()
    filtered[filtered < threshold] = float("-inf")
    return filtered
'''

# A GPTModel that brings its own attention and block (separate q/k/v projections, an explicit
# causal mask, torch's nn.LayerNorm) and keeps the blocks in an nn.Sequential.
OWN_BLOCKS_GPT = '''\
class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.h = config.num_heads
        self.q = nn.Linear(config.d_model, config.d_model)
        self.k = nn.Linear(config.d_model, config.d_model)
        self.v = nn.Linear(config.d_model, config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x):
        B, T, D = x.shape
        heads = lambda t: t.reshape(B, T, self.h, D // self.h).permute(0, 2, 1, 3)
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-1, -2) * (D // self.h) ** -0.5
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.proj((weights @ v).permute(0, 2, 1, 3).reshape(B, T, D))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.d_model, 4 * config.d_model)
        self.proj = nn.Linear(4 * config.d_model, config.d_model)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_a = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_b = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.ff = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_a(x))
        return x + self.ff(self.ln_b(x))


class GPTModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_embed = nn.Embedding(config.context_length, config.d_model)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.num_layers)])
        self.final_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.weight_tying:
            self.tok_embed.weight = self.lm_head.weight
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=0.02 / (2 * config.num_layers) ** 0.5)
            elif name.endswith("bias") and "ln_" not in name and "norm" not in name:
                nn.init.zeros_(p)
            elif p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        if T > self.config.context_length:
            raise ValueError(f"{T} tokens do not fit a context of {self.config.context_length}")
        x = F.dropout(self.tok_embed(idx) + self.pos_embed.weight[:T], self.config.dropout, self.training)
        return self.lm_head(self.final_norm(self.blocks(x)))
'''

GENERATE_MANUAL_SEED = '''\
@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, seed=None):
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    if seed is not None:
        torch.manual_seed(seed)
    mode = model.training
    model.train(False)
    n = model.config.context_length
    for step in range(max_new_tokens):
        scores = model(idx if idx.shape[1] <= n else idx[:, idx.shape[1] - n:])[:, -1] / temperature
        probs = F.softmax(top_k_filter(scores, top_k), dim=-1)
        idx = torch.cat((idx, torch.multinomial(probs, 1)), dim=1)
    model.train(mode)
    return idx
'''

SUBMISSIONS = [
    # --- one bug each ---------------------------------------------------------------------
    Submission("tying-by-copy", fails={"test_weight_tying"}, why="lm_head gets a copy of the embedding",
               edits={"gpt_model": [(TIE, "self.lm_head.weight.data.copy_(self.tok_embed.weight.data)")]}),
    Submission("no-tying", fails={"test_weight_tying"}, why="weight_tying ignored",
               edits={"gpt_model": [("        if config.weight_tying:\n            " + TIE, "        pass")]}),
    Submission("no-position-embedding", fails={"test_gpt_embeddings"}, why="only token embeddings reach the blocks",
               edits={"gpt_model": [("x = self.tok_embed(idx) + self.pos_embed(positions)", "x = self.tok_embed(idx)")]}),
    Submission("no-final-norm", fails={"test_gpt_final_norm"}, why="lm_head reads the raw residual stream",
               edits={"gpt_model": [("        x = self.final_norm(x)\n", "")]}),
    Submission("blocks-not-chained", fails={"test_gpt_blocks"}, why="every block reads the embeddings",
               edits={"gpt_model": [("            x = block(x)  # (B, T, d_model)", "            h = block(x)"),
                                    ("        x = self.final_norm(x)", "        x = self.final_norm(h)")]}),
    Submission("no-residual-scaling", fails={"test_init"}, why="attn.proj / ff.proj keep std 0.02",
               edits={"gpt_model": [("residual_std = 0.02 / math.sqrt(2 * config.num_layers)", "residual_std = 0.02")]}),
    Submission("no-length-check", fails={"test_gpt_shapes"}, why="too long inputs crash in pos_embed instead",
               edits={"gpt_model": [("if T > self.config.context_length:", "if T > 10 * self.config.context_length:")]}),
    Submission("length-check-off-by-one", fails={"test_gpt_shapes"}, why="refuses exactly context_length tokens",
               edits={"gpt_model": [("if T > self.config.context_length:", "if T >= self.config.context_length:")]}),
    Submission("no-embedding-dropout", fails={"test_gpt_dropout"},
               why="the embeddings reach the blocks without dropout, even in train mode",
               edits={"gpt_model": [(EMBED_DROPOUT, "")]}),
    Submission("embedding-dropout-always-on", fails={"test_gpt_dropout"},
               why="F.dropout(..., training=True): the embedding dropout stays on in eval mode",
               edits={"gpt_model": [(EMBED_DROPOUT, "        x = F.dropout(x, self.config.dropout, training=True)\n")]}),
    Submission("embedding-dropout-functional-default", fails={"test_gpt_dropout"},
               why="F.dropout(x, p) without training=self.training: F.dropout defaults to training=True",
               edits={"gpt_model": [(EMBED_DROPOUT, "        x = F.dropout(x, self.config.dropout)\n")]}),
    Submission("final-norm-eps-ignored", fails={"test_gpt_final_norm"},
               why="final_norm keeps LayerNorm's default eps whatever config.layer_norm_eps says",
               edits={"gpt_model": [(FINAL_NORM, "self.final_norm = LayerNorm(config.d_model, bias=config.bias)")]}),
    Submission("final-norm-bias-ignored", fails={"test_gpt_final_norm"},
               why="final_norm has a bias even when config.bias is False",
               edits={"gpt_model": [(FINAL_NORM, "self.final_norm = LayerNorm(config.d_model, eps=config.layer_norm_eps)")]}),
    Submission("count-tied-twice", fails={"test_count_parameters"}, why="tied weights counted under both names",
               edits={"count_parameters": [("for p in model.parameters()",
                                            "for _, p in model.named_parameters(remove_duplicate=False)")]}),
    Submission("top-k-keeps-smallest", fails={"test_top_k_filter"}, why="keeps the k smallest logits",
               edits={"top_k_filter": KEEP_LARGEST}),
    Submission("top-k-2d-only", fails={"test_top_k_filter"},
               why="reads the k-th largest with [:, -1:]: right for (batch, vocab), wrong with more leading dimensions",
               edits={"top_k_filter": [("torch.topk(logits, k, dim=-1).values[..., -1:]",
                                        "torch.topk(logits, k, dim=-1).values[:, -1:]")]}),
    Submission("top-k-not-written", fails={"test_top_k_filter"},
               why="top_k_filter left as released; generate is still graded on its own",
               cells={"top_k_filter": "def top_k_filter(logits, top_k):\n    # YOUR CODE HERE\n"
                                      "    raise NotImplementedError()\n"}),
    Submission("temperature-multiplies", fails={"test_generate_sampling"}, why="logits * T instead of / T",
               edits={"generate": [("logits / temperature", "logits * temperature")]}),
    Submission("no-sliding-window", fails={"test_generate_window"}, why="feeds the whole sequence every step",
               edits={"generate": [("window = idx[:, -context_length:]", "window = idx")]}),
    Submission("seed-none-fixed", fails={"test_generate_contract"},
               why="seed=None falls back to seed 0: every unseeded call draws the same tokens",
               edits={"generate": [("generator = None if seed is None else torch.Generator(device=idx.device).manual_seed(seed)",
                                    "generator = torch.Generator(device=idx.device).manual_seed(0 if seed is None else seed)")]}),
    Submission("no-eval-mode", fails={"test_generate_contract"}, why="samples with dropout on",
               edits={"generate": [("    model.eval()  # no dropout while sampling\n", "")]}),
    Submission("loops-forever", fails=GENERATE_TESTS, why="while True: never stops after max_new_tokens",
               edits={"generate": [("for _ in range(max_new_tokens):", "while True:")]}),
    # --- correct, written differently: full marks ---------------------------------------------
    Submission("top-k-via-sort-tied-other-way", fails=set(),
               why="top-k by sorting; tok_embed.weight = lm_head.weight",
               cells={"top_k_filter": TOP_K_VIA_SORT},
               edits={"gpt_model": [(TIE, "self.tok_embed.weight = self.lm_head.weight")]}),
    Submission("own-blocks-sequential-manual-seed", fails=set(),
               why="own attention/block in nn.Sequential, functional embedding dropout; generate seeded with "
                   "torch.manual_seed",
               cells={"gpt_model": OWN_BLOCKS_GPT, "generate": GENERATE_MANUAL_SEED}),
    # --- the graded post quiz: scored outside the kernel from quiz-answers.json (every other
    # submission hands in right answers, those that must score zero none) -------------------
    Submission("quiz-one-wrong", fails={"post_quiz"}, quiz=QUIZ_ONE_WRONG, scores={"post_quiz": 1},
               why="one of the two post answers wrong: 1 of the quiz's 2 points, the rest full marks"),
    Submission("quiz-no-answers-file", fails={"post_quiz"}, quiz=None, scores={"post_quiz": 0},
               why="no quiz-answers.json handed in: 0 for the quiz only"),
    Submission("quiz-answers-huge", fails={"post_quiz"}, files={"quiz-answers.json": HUGE_ANSWERS},
               scores={"post_quiz": 0}, why="right answers in a 70 kB file: over the cap, 0 for the quiz only"),
    Submission("quiz-forged-in-kernel", fails={"post_quiz"}, quiz=QUIZ_ONE_WRONG, scores={"post_quiz": 1},
               why="a cell of its own makes the quiz cell print a full score and end with the value 2 in the "
                   "kernel: still 1 point",
               transform=lambda nb: insert_cell(nb, "test_generate_contract", "forge-quiz", forge_quiz_cell(2))),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("no-tying", closeness="final-norm-eps-ignored")
