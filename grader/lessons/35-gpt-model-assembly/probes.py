"""Lesson 35, checked from outside the student's kernel (see ``grader/trusted.py``).

PROBE_CODE runs twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.model`` and ``gpt2ref.generation`` withheld), and in the grader against the reference.
Each probe isolates one idea, like the test it stands behind: the blocks are swapped for fixed
stand-ins, and only the weights a probe is about are set (by name), so a slip in one part does not
show up as a contradiction in another part's test.
"""

WITHHELD = ("model", "generation")

SETUP = """\
import math
import torch
import torch.nn.functional as F
from torch import nn
from gpt2ref import GPT2_SMALL, TINY, GPTConfig, LayerNorm, TransformerBlock
"""

# test grade id -> the probes that must agree with the reference for it to keep its points
TESTS = {
    "test_gpt_shapes": ["shapes"],
    "test_gpt_embeddings": ["embeddings"],
    "test_gpt_blocks": ["blocks"],
    "test_gpt_final_norm": ["final_norm"],
    "test_weight_tying": ["tying"],
    "test_init": ["init"],
    "test_gpt_dropout": ["dropout"],
    "test_count_parameters": ["count"],
    "test_top_k_filter": ["top_k"],
    "test_generate_window": ["window"],
    "test_generate_sampling": ["sampling"],
    "test_generate_contract": ["contract"],
}

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


PROBE_CODE = r'''
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


def probe_embeddings(ns, seed):
    cfg = _config(seed + 1)
    model = _bare(ns["GPTModel"](cfg))
    _fill(model.tok_embed, "tok", seed)
    _fill(model.pos_embed, "pos", seed)
    with torch.no_grad():
        return {"out": model.eval()(_ids(cfg, seed, 2, cfg.context_length - 1))}


def probe_blocks(ns, seed):
    cfg = _config(seed + 2)
    model = ns["GPTModel"](cfg)
    _bare(model, blocks=[_StandInBlock(cfg.d_model, seed, i) for i in range(3)])
    _fill(model.tok_embed, "tok", seed)
    with torch.no_grad():
        model.pos_embed.weight.zero_()  # positions are another test's business
        return {"out": model.eval()(_ids(cfg, seed))}


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
'''
