"""Lesson 37, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
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

About SUBMISSIONS: Made-up submissions for lesson 37 (loading pretrained weights) that prove its grading.

One-bug mutants each lose exactly the points of the tests that should catch that bug; the
correct-but-different submissions score full marks; tampering earns nothing it should not.
Run: python -m grader.acceptance 37-loading-pretrained-weights
"""

from grader.proofs.submissions import ALL_TESTS, Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _fill, _gen, _pick, _standing_in, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("read_checkpoint", "load_hf_gpt2", "hf_weights.hf_to_course_name",
          "hf_weights.course_to_hf_name", "attention.cached_causal_mask")

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


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
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

@decides("test_read_checkpoint")
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


@decides("test_hf_key_to_course")
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


@decides("test_load_standin")
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


@decides("test_tying_kept")
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


@decides("test_load_errors")
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


@decides("test_no_half_load")
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


@decides("test_cache_mask")
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


# === made-up submissions that prove the grading ===

LOADER_TESTS = {"test_load_standin", "test_tying_kept", "test_load_errors", "test_no_half_load"}

# A different loader: validate everything first, then hand the whole state dict to
# nn.Module.load_state_dict (which copies in place, so tying survives).
LOADER_VIA_LOAD_STATE_DICT = '''\
def load_gpt2_weights(model, state_dict):
    """Validate every key first, then let load_state_dict copy (in place)."""
    own = model.state_dict()
    found, problems = {}, []
    for key, tensor in state_dict.items():
        bare = key[len("transformer."):] if key.startswith("transformer.") else key
        if re.fullmatch(r"h\\.\\d+\\.attn\\.(bias|masked_bias)", bare):
            continue
        target = hf_key_to_course(key)
        if target is None or target[0] not in own:
            problems.append(f"unknown key {key}")
            continue
        name, flip = target
        value = tensor.transpose(0, 1).contiguous() if flip else tensor
        if value.shape != own[name].shape:
            problems.append(f"shape of {key}: {tuple(tensor.shape)} vs {name} {tuple(own[name].shape)}")
        else:
            found.setdefault(name, value)
    if "tok_embed.weight" in found:
        found["lm_head.weight"] = found["tok_embed.weight"]  # tied: same numbers under both names
    problems += [f"missing weight {name}" for name in own if name not in found]
    if problems:
        raise CheckpointError("; ".join(problems))
    model.load_state_dict(found, strict=True)
    return model
'''

# A different name table: string surgery instead of dictionaries and a regex.
KEY_MAP_BY_REPLACING = '''\
def hf_key_to_course(hf_key):
    """Rename piece by piece."""
    key = hf_key[12:] if hf_key.startswith("transformer.") else hf_key
    simple = {"wte.weight": "tok_embed.weight", "wpe.weight": "pos_embed.weight", "ln_f.weight": "final_norm.weight",
              "ln_f.bias": "final_norm.bias", "lm_head.weight": "lm_head.weight"}
    if key in simple:
        return (simple[key], False)
    parts = key.split(".")
    if len(parts) != 4 and len(parts) != 5 or parts[0] != "h" or not parts[1].isdigit():
        return None
    rest = ".".join(parts[2:])
    renames = [("ln_1", "norm1"), ("ln_2", "norm2"), ("attn.c_attn", "attn.qkv"), ("attn.c_proj", "attn.proj"),
               ("mlp.c_fc", "ff.fc"), ("mlp.c_proj", "ff.proj")]
    for old, new in renames:
        for leaf in ("weight", "bias"):
            if rest == old + "." + leaf:
                return ("blocks." + parts[1] + "." + new + "." + leaf, leaf == "weight" and "." in old)
    return None
'''

READ_VIA_SAFE_OPEN = '''\
def read_checkpoint(path):
    """Open lazily, copy every tensor out."""
    from safetensors import safe_open
    path = str(path)
    import os
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            return {name: f.get_tensor(name) for name in f.keys()}
    except Exception as exc:
        raise CheckpointError(f"cannot read {path}: {exc}")
'''

MASK_VIA_ARANGE = '''\
def cache_mask(T_new, T_past):
    """Compare key positions with query positions."""
    keys = torch.arange(T_past + T_new)
    queries = torch.arange(T_past, T_past + T_new)
    return keys.unsqueeze(0) <= queries.unsqueeze(1)
'''

SUBMISSIONS = [
    # --- read_checkpoint -------------------------------------------------------------------
    Submission(
        "read-error-escapes", fails={"test_read_checkpoint"},
        why="SafetensorError is not caught, so the message never names the file (and it is no ValueError)",
        edits={"read_checkpoint": [("    try:\n        return load_file(path, device=\"cpu\")\n"
                                    "    except SafetensorError as exc:\n"
                                    "        raise CheckpointError(f\"{path} is not a readable safetensors file: {exc}\") from exc",
                                    "    return load_file(path, device=\"cpu\")")]},
    ),
    Submission(
        "read-error-without-path", fails={"test_read_checkpoint"},
        why="raises CheckpointError, but the message does not say which file",
        edits={"read_checkpoint": [('f"{path} is not a readable safetensors file: {exc}"',
                                    '"not a readable safetensors file"')]},
    ),
    Submission(
        "read-plain-valueerror", fails={"test_read_checkpoint"},
        why="raises a plain ValueError naming the file instead of the promised CheckpointError",
        edits={"read_checkpoint": [("raise CheckpointError(f\"{path} is not a readable", "raise ValueError(f\"{path} is not a readable")]},
    ),
    # --- hf_key_to_course --------------------------------------------------------------------
    Submission(
        "key-kept-prefix", fails={"test_hf_key_to_course", "test_load_standin"},
        why="the 'transformer.' prefix is not removed: save_pretrained files and state_dict() load as unknown keys",
        edits={"hf_key_to_course": [('key = hf_key.removeprefix("transformer.")', "key = hf_key")]},
    ),
    Submission(
        "c-proj-not-transposed", fails={"test_hf_key_to_course", "test_load_standin"},
        why="attn.c_proj.weight is square, so forgetting its transpose raises nothing: only the logits show it",
        edits={"hf_key_to_course": [('conv1d_weights = {"attn.c_attn.weight", "attn.c_proj.weight", ',
                                     'conv1d_weights = {"attn.c_attn.weight", ')]},
    ),
    # --- load_gpt2_weights ---------------------------------------------------------------------
    Submission(
        "load-ignores-transpose", fails={"test_load_standin", "test_tying_kept"},
        why="copies Conv1D weights untransposed: the non-square ones are reported mis-shaped, nothing loads",
        edits={"load_gpt2_weights": [("value = tensor.t() if transpose else tensor", "value = tensor")]},
    ),
    Submission(
        "load-mask-buffers-not-skipped", fails={"test_load_standin"},
        why="h.N.attn.bias is reported as an unknown key, so the Hub's file layout cannot be loaded",
        edits={"load_gpt2_weights": [("        if mask_buffer.fullmatch(key):\n"
                                      "            continue  # a saved causal mask, not a weight\n", "")]},
    ),
    Submission(
        "load-lm_head-unknown", fails={"test_load_standin"},
        why="an lm_head.weight in the checkpoint (GPT2LMHeadModel.state_dict() has one) is reported unknown",
        edits={"load_gpt2_weights": [("if mapped is None or mapped[0] not in expected:",
                                      "if mapped is None or mapped[0] not in expected or mapped[0] == \"lm_head.weight\":")]},
    ),
    Submission(
        "load-breaks-tying", fails={"test_tying_kept"},
        why="lm_head gets its own Parameter holding a copy of wte: right logits today, untied model",
        edits={"load_gpt2_weights": [("            model.get_parameter(name).copy_(value)  # in place: tied parameters stay tied\n",
                                      "            model.get_parameter(name).copy_(value)  # in place: tied parameters stay tied\n"
                                      "    model.lm_head.weight = nn.Parameter(model.tok_embed.weight.detach().clone())\n")]},
    ),
    Submission(
        "load-stops-at-first-problem", fails={"test_load_errors"},
        why="raises at the first bad key, so the message names one problem instead of all of them",
        edits={"load_gpt2_weights": [("            unknown.append(key)\n            continue\n",
                                      "            raise CheckpointError(f\"unknown key {key}\")\n")]},
    ),
    Submission(
        "load-half-loads", fails={"test_no_half_load"},
        why="copies each tensor as soon as it is checked, then raises: a half-loaded model",
        edits={"load_gpt2_weights": [("        values[name] = value\n",
                                      "        values[name] = value\n"
                                      "        with torch.no_grad():\n"
                                      "            model.get_parameter(name).copy_(value)\n")]},
    ),
    Submission(
        "load-plain-valueerror", fails={"test_load_errors"},
        why="raises a plain ValueError naming every problem instead of the promised CheckpointError",
        edits={"load_gpt2_weights": [("raise CheckpointError(\"the checkpoint does not fit",
                                      "raise ValueError(\"the checkpoint does not fit")]},
    ),
    # --- cache_mask ------------------------------------------------------------------------------
    Submission(
        "mask-top-left", fails={"test_cache_mask"},
        why="the triangle is aligned to the top-left corner, like is_causal=True",
        edits={"cache_mask": [("tril(diagonal=T_past)", "tril(diagonal=0)")]},
    ),
    # --- correct, differently written --------------------------------------------------------------
    Submission(
        "different-but-correct", fails=set(),
        why="load_state_dict after validation, a string-surgery name table, safe_open, an arange mask",
        cells={"load_gpt2_weights": LOADER_VIA_LOAD_STATE_DICT, "hf_key_to_course": KEY_MAP_BY_REPLACING,
               "read_checkpoint": READ_VIA_SAFE_OPEN, "cache_mask": MASK_VIA_ARANGE},
    ),
    Submission(
        "reference-handed-in", fails=ALL_TESTS,
        why="every answer hands the work to gpt2ref: the kernel's own-work checks fail every test, and the outside "
            "check would too (gpt2ref.hf_weights is withheld there; cached_causal_mask gives None for one new token)",
        cells={
            "read_checkpoint": "from gpt2ref import read_checkpoint\n",
            "hf_key_to_course": "from gpt2ref.hf_weights import hf_to_course_name as hf_key_to_course\n",
            "load_gpt2_weights": "from gpt2ref import load_hf_gpt2 as load_gpt2_weights\n",
            "cache_mask": ("from gpt2ref.attention import cached_causal_mask\n\n"
                           "def cache_mask(T_new, T_past):\n    return cached_causal_mask(T_new, T_past)\n"),
        },
    ),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("load-breaks-tying", disguise=False)
