"""Lesson 37, checked from outside the student's kernel (see ``grader/trusted.py``).

PROBE_CODE runs twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.hf_weights`` withheld), and in the grader against the reference. No probe needs
``transformers``: the checkpoints are made here, from a small GPTModel whose weights are set from
the seed, by writing each parameter under its Hugging Face name (Conv1D weights transposed). Each
probe isolates one idea, like the test it stands behind:

- ``read``: every tensor (names, dtypes, values) of a seeded safetensors file, from a Path and a
  str; for a truncated file, a Git LFS pointer, random bytes and an empty file: a CheckpointError
  (a ValueError) naming the file; FileNotFoundError for a path with no file;
- ``key_map``: every key of a GPT-2 checkpoint with a seeded number of blocks (block numbers up to
  60), with and without the ``transformer.`` prefix, lm_head.weight, and keys that are no weights
  (mask buffers, near misses): the name and the transpose flag, or None;
- ``load``: hub-style (no prefix, mask buffers), save_pretrained-style (prefix) and
  state_dict-style (prefix and lm_head.weight) checkpoints of a seeded config loaded into a fresh
  model: every parameter against the model the checkpoint was made from; the model returned;
- ``tying``: after loading checkpoints without lm_head.weight or mask buffers (those are ``load``'s
  business), lm_head.weight is still tok_embed.weight (one Parameter) and holds wte's numbers;
- ``errors``: checkpoints with a missing, an unknown and a mis-shaped key, of another size, with
  two mis-shaped keys: a CheckpointError (a ValueError) whose message names every planted problem
  (by its Hugging Face name or ours);
- ``no_half``: after a failed load (an unknown key last, a weight missing, a mis-shaped key in the
  last block) no number of the model has changed;
- ``cache_mask``: the masks and dtype for seeded (T_new, T_past), one new token over a cache included.

The ``load`` probe uses the student's own hf_key_to_course, as the kernel's test does (a wrong
name table loads wrong numbers, so it costs both tests on both sides); while the tying, error
and half-load probes run, a correct name table stands in for it (graded by ``key_map``). ``CheckpointError`` lives in ``gpt2ref.hf_weights``, which is
withheld: SETUP defines a stand-in (a ValueError of that name) and puts it where ``from gpt2ref
import CheckpointError`` finds it.
"""

WITHHELD = ("hf_weights",)

SETUP = """\
import json
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

import gpt2ref
import gpt2ref.hf_weights


class CheckpointError(ValueError):
    \"\"\"A checkpoint does not fit the model (stands in for gpt2ref's, withheld while the lesson is graded).\"\"\"


gpt2ref.CheckpointError = gpt2ref.hf_weights.CheckpointError = CheckpointError
from gpt2ref import GPT2_SMALL, TINY, GPTConfig, GPTModel, count_parameters, generate
"""

# test grade id -> the probes that must agree with the reference for it to keep its points
TESTS = {
    "test_read_checkpoint": ["read"],
    "test_hf_key_to_course": ["key_map"],
    "test_load_standin": ["load"],
    "test_tying_kept": ["tying"],
    "test_load_errors": ["errors"],
    "test_no_half_load": ["no_half"],
    "test_cache_mask": ["cache_mask"],
}


def reference_namespace():
    import torch

    from gpt2ref import hf_weights

    def hf_key_to_course(hf_key):
        """The lesson's contract: the reference's table, with the optional prefix removed first."""
        return hf_weights.hf_to_course_name(hf_key.removeprefix("transformer."))

    def cache_mask(T_new, T_past):
        """The lesson's contract (the reference's cached_causal_mask gives None for one new token)."""
        return torch.arange(T_past + T_new)[None, :] <= (T_past + torch.arange(T_new))[:, None]

    return {"read_checkpoint": hf_weights.read_checkpoint, "hf_key_to_course": hf_key_to_course,
            "load_gpt2_weights": hf_weights.load_hf_gpt2, "cache_mask": cache_mask}


PROBE_CODE = r'''
import random
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

import gpt2ref
from gpt2ref import GPTConfig, GPTModel


def _raised(call):
    """(the exception's class name, a ValueError?, gpt2ref's CheckpointError?, its message), or "none"."""
    try:
        call()
    except Exception as exc:
        return type(exc).__name__, isinstance(exc, ValueError), isinstance(exc, gpt2ref.CheckpointError), str(exc)
    return "none", False, False, ""


# --- Hugging Face names, and checkpoints made from a model of the course ---------------------------

_TOP = {"wte.weight": "tok_embed.weight", "wpe.weight": "pos_embed.weight", "ln_f.weight": "final_norm.weight",
        "ln_f.bias": "final_norm.bias"}
_BLOCK = {"ln_1.weight": "norm1.weight", "ln_1.bias": "norm1.bias", "attn.c_attn.weight": "attn.qkv.weight",
          "attn.c_attn.bias": "attn.qkv.bias", "attn.c_proj.weight": "attn.proj.weight",
          "attn.c_proj.bias": "attn.proj.bias", "ln_2.weight": "norm2.weight", "ln_2.bias": "norm2.bias",
          "mlp.c_fc.weight": "ff.fc.weight", "mlp.c_fc.bias": "ff.fc.bias", "mlp.c_proj.weight": "ff.proj.weight",
          "mlp.c_proj.bias": "ff.proj.bias"}
_CONV1D = {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}


def _exact_key(hf_key):
    key = hf_key[len("transformer."):] if hf_key.startswith("transformer.") else hf_key
    if key in _TOP:
        return _TOP[key], False
    if key == "lm_head.weight":
        return "lm_head.weight", False
    parts = key.split(".", 2)
    if len(parts) == 3 and parts[0] == "h" and parts[1].isdigit() and parts[2] in _BLOCK:
        return f"blocks.{parts[1]}.{_BLOCK[parts[2]]}", parts[2] in _CONV1D
    return None


def _config(seed, salt, **fixed):
    g = _gen(seed, salt)
    heads = _pick(g, 1, 4)
    values = dict(vocab_size=_pick(g, 20, 90), context_length=_pick(g, 6, 20), d_model=heads * _pick(g, 2, 6),
                  num_heads=heads, num_layers=_pick(g, 1, 3), dropout=0.0)
    values.update(fixed)
    return GPTConfig(**values)


def _source(cfg, seed):
    """A model whose every parameter is set from the seed and its name."""
    model = GPTModel(cfg)
    _fill(model, "source", seed, scale=1.0)
    return model


def _checkpoint(model, prefix="", lm_head=False, masks=False):
    """The model's weights under Hugging Face's names, as the Hub's file (masks), save_pretrained
    (prefix) or GPT2LMHeadModel.state_dict() (prefix, lm_head.weight) has them."""
    params = dict(model.named_parameters())
    state = {prefix + hf: params[name].detach().clone() for hf, name in _TOP.items()}
    C = model.pos_embed.weight.shape[0]
    for n in range(len(model.blocks)):
        for hf, name in _BLOCK.items():
            value = params[f"blocks.{n}.{name}"].detach()
            state[f"{prefix}h.{n}.{hf}"] = (value.t() if hf in _CONV1D else value).contiguous().clone()
        if masks:
            state[f"{prefix}h.{n}.attn.bias"] = torch.tril(torch.ones(C, C)).view(1, 1, C, C)
            if n % 2:
                state[f"{prefix}h.{n}.attn.masked_bias"] = torch.tensor(-1e4)
    if lm_head:
        state["lm_head.weight"] = state[prefix + "wte.weight"]
    return state


def _fresh(cfg, seed):
    torch.manual_seed(seed)
    return GPTModel(cfg)


# --- the probes ----------------------------------------------------------------------------------

def probe_read(ns, seed):
    read = ns["read_checkpoint"]
    g = _gen(seed, 1)
    folder = Path(tempfile.mkdtemp(prefix="probe-read-"))
    out = {}
    try:
        tensors = {f"h.{i}.w{_pick(g, 0, 999)}": torch.randn(_pick(g, 1, 5), _pick(g, 1, 5), generator=g)
                   for i in range(_pick(g, 2, 5))}
        tensors["ids"] = torch.randint(0, 1000, (_pick(g, 1, 9),), generator=g)
        tensors["half"] = torch.randn(_pick(g, 1, 6), generator=g).half()
        tag = _pick(g, 100, 999)
        good = folder / f"good-{tag}.safetensors"
        save_file(tensors, str(good))
        for name, path in (("path", good), ("str", str(good))):
            got = read(path)
            out[f"names_{name}"] = sorted(got)
            out[f"values_{name}"] = [got[k] for k in sorted(tensors) if k in got]
            out[f"dtypes_{name}"] = [str(got[k].dtype) for k in sorted(tensors) if k in got]
            out[f"cpu_{name}"] = all(t.device.type == "cpu" for t in got.values())
        cut = folder / f"cut-{tag}.safetensors"
        save_file({"a": torch.randn(40, 40, generator=g), "b": torch.randn(9, generator=g)}, str(cut))
        cut.write_bytes(cut.read_bytes()[: -_pick(g, 50, 500)])
        pointer = folder / f"pointer-{tag}.safetensors"
        pointer.write_text(f"version https://git-lfs.github.com/spec/v1\noid sha256:{'0' * 64}\nsize {tag}000\n")
        noise = folder / f"noise-{tag}.safetensors"
        noise.write_bytes(bytes(torch.randint(0, 256, (_pick(g, 20, 900),), generator=g).tolist()))
        empty = folder / f"empty-{tag}.safetensors"
        empty.write_bytes(b"")
        for name, path in (("cut", cut), ("pointer", pointer), ("noise", noise), ("empty", empty)):
            kind, value_error, checkpoint_error, message = _raised(lambda: read(path))
            out[f"error_{name}"] = [kind, value_error, checkpoint_error, path.name in message]
        out["error_missing"] = _raised(lambda: read(folder / f"missing-{tag}.safetensors"))[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def _mapped(key_map, key):
    result = key_map(key)
    return None if result is None else [str(result[0]), bool(result[1])]


def probe_key_map(ns, seed):
    key_map = ns["hf_key_to_course"]
    rng = random.Random(seed)
    blocks = sorted(rng.sample(range(61), 4))
    keys = list(_TOP) + ["lm_head.weight"] + [f"h.{n}.{rest}" for n in blocks for rest in _BLOCK]
    keys += ["transformer." + key for key in keys if key != "lm_head.weight"]
    n = rng.choice(blocks)
    not_weights = [f"h.{n}.attn.bias", f"transformer.h.{n}.attn.bias", f"h.{n}.attn.masked_bias",
                   f"transformer.h.{n}.attn.masked_bias", "score.weight", "wte.bias", "wpe.bias", f"h.{n}.attn.c_attn",
                   f"h.{n}.attn.c_attn.kernel", f"h.{n}.ln_3.weight", "h.x.ln_1.weight", "transformer.ln_f",
                   f"h.{n}.mlp.c_fc.weight.extra"]
    rng.shuffle(keys)
    return {"weights": [_mapped(key_map, key) for key in keys], "not_weights": [_mapped(key_map, k) for k in not_weights]}


def probe_load(ns, seed):
    return _load(ns["load_gpt2_weights"], seed)


def _load(load, seed):
    out = {}
    for i, style in enumerate(({"masks": True}, {"prefix": "transformer."}, {"prefix": "transformer.", "lm_head": True})):
        cfg = _config(seed, 10 + i)
        source = _source(cfg, seed + i)
        model = _fresh(cfg, seed + 100 + i)
        returned = load(model, _checkpoint(source, **style))
        out[f"returned{i}"] = returned is model
        for name, value in model.state_dict().items():
            out[f"{i}:{name}"] = value
    return out


def probe_tying(ns, seed):
    return _standing_in(ns, lambda: _tying(ns["load_gpt2_weights"], seed), hf_key_to_course=_exact_key)


def _tying(load, seed):
    out = {}
    for i, prefix in enumerate(("", "transformer.")):  # no masks, no lm_head.weight: the load probe's business
        cfg = _config(seed, 20 + i)
        model = _fresh(cfg, seed + 200 + i)
        load(model, _checkpoint(_source(cfg, seed + 20 + i), prefix=prefix))
        out[f"tied{i}"] = model.lm_head.weight is model.tok_embed.weight
        out[f"parameters{i}"] = len(list(model.parameters()))
        out[f"lm_head{i}"] = model.lm_head.weight.detach().clone()
    return out


def _named(message, *names):
    return any(name in message for name in names)


def _course_name(key):
    return _exact_key(key)[0]


def probe_errors(ns, seed):
    return _standing_in(ns, lambda: _errors(ns["load_gpt2_weights"], seed), hf_key_to_course=_exact_key)


def _errors(load, seed):
    g = _gen(seed, 30)
    out = {}
    cfg = _config(seed, 31)
    L = cfg.num_layers
    # a missing, an unknown and a mis-shaped key (distinct weights)
    state = _checkpoint(_source(cfg, seed), prefix=["", "transformer."][_pick(g, 0, 1)])
    prefix = "transformer." if "transformer.wte.weight" in state else ""
    rests = list(_BLOCK)
    missing = f"h.{_pick(g, 0, L - 1)}.{rests[_pick(g, 0, len(rests) - 1)]}"
    unknown = f"h.{L + _pick(g, 0, 5)}.{rests[_pick(g, 0, len(rests) - 1)]}"
    bent = rests[_pick(g, 0, len(rests) - 1)]
    bent = f"h.{_pick(g, 0, L - 1)}.{bent}"
    if bent == missing:
        bent = "ln_f.weight"
    del state[prefix + missing]
    state[prefix + unknown] = torch.zeros(3, 3)
    shape = list(state[prefix + bent].shape)
    shape[0] += _pick(g, 1, 3)
    state[prefix + bent] = torch.zeros(shape)
    kind, value_error, checkpoint_error, message = _raised(lambda: load(_fresh(cfg, seed), state))
    out["planted"] = [kind, value_error, checkpoint_error, _named(message, missing, _course_name(missing)),
                      _named(message, unknown), _named(message, bent, _course_name(bent))]
    # a checkpoint of another size: every key is unknown or mis-shaped
    other = _config(seed, 32, d_model=cfg.d_model + cfg.num_heads, num_heads=cfg.num_heads, num_layers=L + 1)
    state = _checkpoint(_source(other, seed + 1))
    kind, value_error, checkpoint_error, message = _raised(lambda: load(_fresh(cfg, seed), state))
    out["other_size"] = [kind, value_error, checkpoint_error, [_named(message, key) for key in state]]
    # hub style, two mis-shaped keys
    state = _checkpoint(_source(cfg, seed + 2), masks=True)
    state["wpe.weight"] = state["wpe.weight"][: _pick(g, 1, cfg.context_length - 1)]
    last = f"h.{L - 1}.ln_1.weight"
    state[last] = state[last][:-1]
    kind, value_error, checkpoint_error, message = _raised(lambda: load(_fresh(cfg, seed), state))
    out["two_mis_shaped"] = [kind, value_error, checkpoint_error, _named(message, "wpe.weight", "pos_embed.weight"),
                             _named(message, last, _course_name(last))]
    return out


def probe_no_half(ns, seed):
    return _standing_in(ns, lambda: _no_half(ns["load_gpt2_weights"], seed), hf_key_to_course=_exact_key)


def _no_half(load, seed):
    g = _gen(seed, 40)
    cfg = _config(seed, 41)
    L = cfg.num_layers
    good = _checkpoint(_source(cfg, seed), masks=True)
    extra = dict(good)
    extra[f"h.{L + _pick(g, 0, 9)}.mlp.c_fc.weight"] = torch.zeros(cfg.d_model, 4 * cfg.d_model)  # last in the dict
    weights = [k for k in good if not k.endswith((".attn.bias", ".attn.masked_bias"))]
    dropped = weights[_pick(g, 0, len(weights) - 1)]
    short = {k: v for k, v in good.items() if k != dropped}  # one weight missing
    bent = dict(good)
    bent[f"h.{L - 1}.mlp.c_proj.weight"] = torch.zeros(4 * cfg.d_model, cfg.d_model - 1)
    out = {}
    for i, state in enumerate((extra, short, bent)):
        model = _fresh(cfg, seed + 400 + i)
        before = {name: value.clone() for name, value in model.state_dict().items()}
        kind, value_error, _, _ = _raised(lambda: load(model, state))
        out[f"raised{i}"] = value_error
        out[f"unchanged{i}"] = all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    return out


def probe_cache_mask(ns, seed):
    cache_mask = ns["cache_mask"]
    g = _gen(seed, 50)
    out = {}
    pairs = [(1, 0), (1, _pick(g, 1, 12)), (_pick(g, 2, 9), 0), (_pick(g, 2, 9), _pick(g, 1, 12)),
             (_pick(g, 2, 6), _pick(g, 13, 40))]
    for i, (new, past) in enumerate(pairs):
        mask = cache_mask(new, past)
        out[f"mask{i}"] = mask
        out[f"dtype{i}"] = str(mask.dtype)
    return out
'''
