"""Made-up submissions for lesson 37 (loading pretrained weights) that prove its grading.

One-bug mutants each lose exactly the points of the tests that should catch that bug; the
correct-but-different submissions score full marks; tampering earns nothing it should not.
Run: python -m grader.acceptance 37-loading-pretrained-weights
"""

from grader.submissions import ALL_TESTS, Submission

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
    # --- tampering ---------------------------------------------------------------------------------
    Submission(
        "tamper-tests-retyped", fails=LOADER_TESTS,
        why="a loader that does nothing, with its test cells retyped to `pass`: nbgrader restores them",
        cells={"load_gpt2_weights": "def load_gpt2_weights(model, state_dict):\n    return model\n",
               "test_load_standin": "pass", "test_tying_kept": "pass", "test_load_errors": "pass",
               "test_no_half_load": "pass"},
    ),
    Submission(
        "tamper-test-deleted", fails={"test_hf_key_to_course", "test_load_standin", "test_tying_kept"},
        why="a name table that knows nothing, with its test cell deleted: nbgrader adds it back (the loader's "
            "own error reporting still works, so its two error tests pass)",
        cells={"hf_key_to_course": "def hf_key_to_course(hf_key):\n    return None\n"},
        delete=["test_hf_key_to_course"],
    ),
    Submission(
        "patches-the-checks-indirectly", fails={"test_tying_kept"}, review={"outside check"},
        why="lm_head gets its own Parameter, and course.checks' expect is replaced through importlib so that the "
            "tying test passes in the kernel; the outside check finds the untied model",
        edits={"load_gpt2_weights": [
            ("def load_gpt2_weights(", "import importlib\nsetattr(importlib.import_module('course.' + 'checks'), "
                                       "'exp' + 'ect', lambda *a, **k: None)\n\n\ndef load_gpt2_weights("),
            ("            model.get_parameter(name).copy_(value)  # in place: tied parameters stay tied\n",
             "            model.get_parameter(name).copy_(value)  # in place: tied parameters stay tied\n"
             "    model.lm_head.weight = nn.Parameter(model.tok_embed.weight.detach().clone())\n")]},
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
