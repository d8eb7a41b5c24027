"""gpt2ref.GPTModel against a model nobody here wrote: Hugging Face GPT-2."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gpt2ref import (
    GPT2_SMALL,
    CheckpointError,
    GPTConfig,
    GPTModel,
    count_parameters,
    load_hf_gpt2,
)

transformers = pytest.importorskip("transformers")
from course.pretrained import hf_gpt2_config  # noqa: E402 (needs transformers)

transformers.utils.logging.set_verbosity_error()

SMALL = GPTConfig(vocab_size=211, context_length=24, d_model=48, num_heads=4, num_layers=3, dropout=0.0)


def hf_model(config: GPTConfig, seed: int = 0):
    """A randomly initialised Hugging Face GPT-2 of the same shape, in eval mode."""
    torch.manual_seed(seed)
    return transformers.GPT2LMHeadModel(hf_gpt2_config(config)).eval()


def test_tiny_model_logits_equal_hugging_face():
    hf = hf_model(SMALL)
    ours = load_hf_gpt2(GPTModel(SMALL), hf.state_dict()).eval()
    idx = torch.randint(0, SMALL.vocab_size, (3, SMALL.context_length), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (ours(idx) - hf(idx).logits).abs().max().item()
    assert diff < 1e-4, f"max |logit difference| {diff}"


def test_loading_without_transformer_prefix_and_with_mask_buffers():
    """The hub's model.safetensors has no 'transformer.' prefix; some files carry attn.bias buffers."""
    hf = hf_model(SMALL, seed=3)
    state = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    for i in range(SMALL.num_layers):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(1, 1, SMALL.context_length, SMALL.context_length))
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    ours = load_hf_gpt2(GPTModel(SMALL), state).eval()
    idx = torch.arange(10).unsqueeze(0)
    with torch.no_grad():
        assert (ours(idx) - hf(idx).logits).abs().max().item() < 1e-4
    assert ours.lm_head.weight is ours.tok_embed.weight, "tying must survive loading"


def test_bad_checkpoint_is_reported_by_name_and_nothing_is_loaded():
    hf_state = hf_model(SMALL).state_dict()
    model = GPTModel(SMALL)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    broken = dict(hf_state)
    del broken["transformer.h.1.ln_2.bias"]
    broken["transformer.h.0.mlp.c_fc.weight"] = torch.zeros(3, 3)
    broken["transformer.h.9.attn.c_attn.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        load_hf_gpt2(model, broken)
    message = str(info.value)
    assert "h.1.ln_2.bias" in message and "missing" in message
    assert "transformer.h.9.attn.c_attn.weight" in message and "unknown" in message
    assert "transformer.h.0.mlp.c_fc.weight" in message and "(3, 3)" in message
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), f"{key} changed although loading failed"


def test_untied_model_takes_lm_head_from_checkpoint_or_wte():
    hf = hf_model(SMALL)
    untied = GPTModel(dataclasses.replace(SMALL, weight_tying=False))
    load_hf_gpt2(untied, hf.state_dict())
    assert untied.lm_head.weight is not untied.tok_embed.weight
    assert torch.equal(untied.lm_head.weight, hf.lm_head.weight)


@pytest.mark.slow
def test_gpt2_small_logits_equal_hugging_face_and_same_parameter_count():
    hf = hf_model(GPT2_SMALL)
    ours = load_hf_gpt2(GPTModel(GPT2_SMALL), hf.state_dict()).eval()
    assert count_parameters(ours) == sum(p.numel() for p in hf.parameters()) == 124_439_808
    idx = torch.randint(0, GPT2_SMALL.vocab_size, (1, 64), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        diff = (ours(idx) - hf(idx).logits).abs().max().item()
    assert diff < 1e-4, f"max |logit difference| {diff}"
