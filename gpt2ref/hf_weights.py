"""Copy a Hugging Face GPT-2 checkpoint into :class:`GPTModel`.

Hugging Face names (``model.safetensors`` on the hub has them without the ``transformer.``
prefix; ``GPT2LMHeadModel.state_dict()`` has it):

    wte.weight, wpe.weight                     -> tok_embed.weight, pos_embed.weight
    h.N.ln_1.{weight,bias}                     -> blocks.N.norm1.*
    h.N.attn.c_attn.{weight,bias}              -> blocks.N.attn.qkv.*      (weight transposed)
    h.N.attn.c_proj.{weight,bias}              -> blocks.N.attn.proj.*     (weight transposed)
    h.N.ln_2.{weight,bias}                     -> blocks.N.norm2.*
    h.N.mlp.c_fc.{weight,bias}                 -> blocks.N.ff.fc.*         (weight transposed)
    h.N.mlp.c_proj.{weight,bias}               -> blocks.N.ff.proj.*       (weight transposed)
    ln_f.{weight,bias}                         -> final_norm.*
    lm_head.weight (optional: tied to wte)     -> lm_head.weight

GPT-2's ``Conv1D`` stores its weight as (in, out); ``nn.Linear`` stores (out, in), hence the
four transposes (the loaded parameters keep the checkpoint's (in, out) memory layout, see the
end of ``load_hf_gpt2``). ``h.N.attn.bias`` / ``h.N.attn.masked_bias`` are causal-mask
buffers, not weights, and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from .model import GPTModel

_BLOCK_KEYS = {
    "ln_1.weight": ("norm1.weight", False),
    "ln_1.bias": ("norm1.bias", False),
    "attn.c_attn.weight": ("attn.qkv.weight", True),
    "attn.c_attn.bias": ("attn.qkv.bias", False),
    "attn.c_proj.weight": ("attn.proj.weight", True),
    "attn.c_proj.bias": ("attn.proj.bias", False),
    "ln_2.weight": ("norm2.weight", False),
    "ln_2.bias": ("norm2.bias", False),
    "mlp.c_fc.weight": ("ff.fc.weight", True),
    "mlp.c_fc.bias": ("ff.fc.bias", False),
    "mlp.c_proj.weight": ("ff.proj.weight", True),
    "mlp.c_proj.bias": ("ff.proj.bias", False),
}
_TOP_KEYS = {
    "wte.weight": ("tok_embed.weight", False),
    "wpe.weight": ("pos_embed.weight", False),
    "ln_f.weight": ("final_norm.weight", False),
    "ln_f.bias": ("final_norm.bias", False),
}
_MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")
_BLOCK_KEY = re.compile(r"^h\.(\d+)\.(.+)$")


class CheckpointError(ValueError):
    """A checkpoint does not fit the model; the message lists every offending key."""


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a ``.safetensors`` file, by name (CPU tensors).

    A file that is not a readable safetensors file (truncated, a Git LFS pointer, something
    else entirely) raises :class:`CheckpointError` naming the file; a missing file raises
    ``FileNotFoundError``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        return load_file(path, device="cpu")
    except SafetensorError as exc:
        size = path.stat().st_size
        raise CheckpointError(f"{path} is not a readable safetensors file ({size} bytes): {exc}") from exc


def hf_to_course_name(hf_key: str) -> tuple[str, bool] | None:
    """Course parameter name and whether to transpose, for one HF key (no prefix); None if unknown."""
    if hf_key in _TOP_KEYS:
        return _TOP_KEYS[hf_key]
    if hf_key == "lm_head.weight":
        return ("lm_head.weight", False)
    match = _BLOCK_KEY.match(hf_key)
    if match and match.group(2) in _BLOCK_KEYS:
        name, transpose = _BLOCK_KEYS[match.group(2)]
        return (f"blocks.{match.group(1)}.{name}", transpose)
    return None


def course_to_hf_name(name: str) -> str:
    """The Hugging Face key (no prefix) that fills the course parameter ``name``."""
    for table, prefix in ((_TOP_KEYS, ""), (_BLOCK_KEYS, "h.{}.")):
        for hf_key, (course_name, _) in table.items():
            match = re.fullmatch(r"blocks\.(\d+)\." + re.escape(course_name), name) if prefix else None
            if prefix and match:
                return prefix.format(match.group(1)) + hf_key
            if not prefix and course_name == name:
                return hf_key
    return name


def load_hf_gpt2(model: GPTModel, state_dict: Mapping[str, torch.Tensor]) -> GPTModel:
    """Load a Hugging Face GPT-2 state dict into ``model`` and return ``model``.

    Keys may carry the ``transformer.`` prefix or not. Every problem (unknown, missing or
    mis-shaped keys) is collected and raised as one :class:`CheckpointError`; the model
    is changed only when the whole checkpoint fits, so it is never half-loaded.

    The attention and MLP weights keep Hugging Face's Conv1D memory layout: each is the
    transposed view of an (in, out) tensor, so ``param.is_contiguous()`` is False. Everything
    in PyTorch works on such views (``torch.save`` included). ``safetensors.torch.save_file``
    refuses them (and the tied embedding), so save with ``safetensors.torch.save_model(model, path)``.
    """
    expected = model.state_dict()  # course name -> tensor (tied weights appear under both names)
    tied = model.lm_head.weight is model.tok_embed.weight
    new_state: dict[str, torch.Tensor] = {}
    conv1d_weights = set()  # course names of the weights that arrive transposed
    unknown, mis_shaped = [], []

    for key, tensor in state_dict.items():
        hf_key = key.removeprefix("transformer.")
        if _MASK_BUFFER.match(hf_key):
            continue
        mapped = hf_to_course_name(hf_key)
        if mapped is None or mapped[0] not in expected:
            unknown.append(key)
            continue
        name, transpose = mapped
        value = tensor.t() if transpose else tensor
        if tuple(value.shape) != tuple(expected[name].shape):
            shown = f"{tuple(tensor.shape)}" + (" (transposed: " + f"{tuple(value.shape)})" if transpose else "")
            mis_shaped.append(f"{key}: checkpoint {shown}, model {name} expects {tuple(expected[name].shape)}")
            continue
        new_state[name] = value
        if transpose:
            conv1d_weights.add(name)

    if tied:
        if "lm_head.weight" in new_state and "tok_embed.weight" in new_state:
            if not torch.equal(new_state["lm_head.weight"], new_state["tok_embed.weight"]):
                mis_shaped.append("lm_head.weight: differs from wte.weight, but this model ties the two")
        if "tok_embed.weight" in new_state:
            new_state["lm_head.weight"] = new_state["tok_embed.weight"]
    elif "lm_head.weight" not in new_state and "tok_embed.weight" in new_state:
        # An untied model loading a tied checkpoint starts both matrices from wte.
        new_state["lm_head.weight"] = new_state["tok_embed.weight"].clone()

    missing = [course_to_hf_name(name) for name in expected if name not in new_state]
    if unknown or missing or mis_shaped:
        lines = ["checkpoint does not fit the model; nothing was loaded."]
        if missing:
            lines.append(f"missing ({len(missing)}): " + ", ".join(missing))
        if unknown:
            lines.append(f"unknown ({len(unknown)}): " + ", ".join(unknown))
        if mis_shaped:
            lines.append(f"mis-shaped ({len(mis_shaped)}):\n  " + "\n  ".join(mis_shaped))
        raise CheckpointError("\n".join(lines))

    with torch.no_grad():
        for name, param in model.state_dict(keep_vars=True).items():
            value = new_state[name]
            if name in conv1d_weights:
                # Keep Conv1D's (in, out) memory layout: a fresh (in, out) copy, and the parameter
                # is its (out, in) transposed view. nn.Linear's x @ weight.T then reads contiguous
                # (in, out) memory, like Hugging Face's x @ W: for one token at a time (generation
                # with a KV cache) that matrix-vector product is ~15% faster on CPU.
                in_out = value.t().to(device=param.device, dtype=param.dtype)
                param.data = in_out.clone(memory_format=torch.contiguous_format).t()
            else:
                param.copy_(value)
    return model
