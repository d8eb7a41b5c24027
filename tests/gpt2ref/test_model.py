"""The reference GPTModel's own contract: config, counts, tying, init, errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from gpt2ref import GPT2_SMALL, GPTConfig, GPTModel, TransformerBlock, count_parameters

TINY = GPTConfig(vocab_size=101, context_length=16, d_model=64, num_heads=4, num_layers=6, dropout=0.0)


def test_gpt2_small_defaults():
    c = GPTConfig()
    assert (c.vocab_size, c.context_length, c.d_model, c.num_heads, c.num_layers) == (50257, 1024, 768, 12, 12)
    assert c.bias and c.weight_tying and c.head_dim == 64 and c.d_ff == 3072
    assert c == GPT2_SMALL


@pytest.mark.parametrize(
    "field, value, fragment",
    [("d_model", 100, "divisible"), ("num_layers", 0, "positive"), ("dropout", 1.5, "dropout")],
)
def test_bad_config_is_rejected_with_a_clear_message(field, value, fragment):
    with pytest.raises(ValueError, match=fragment):
        dataclasses.replace(GPT2_SMALL, **{field: value})


def test_gpt2_small_parameter_counts_on_meta_device():
    with torch.device("meta"):
        tied = GPTModel(GPT2_SMALL)
        untied = GPTModel(dataclasses.replace(GPT2_SMALL, weight_tying=False))
        block = TransformerBlock(GPT2_SMALL)
    assert count_parameters(tied) == 124_439_808
    assert count_parameters(untied) == 163_037_184
    assert count_parameters(untied) - count_parameters(tied) == 50257 * 768
    assert count_parameters(block) == 7_087_872


def test_count_parameters_counts_a_shared_tensor_once():
    shared = torch.nn.Linear(4, 4, bias=False)
    model = torch.nn.Sequential(shared, torch.nn.ReLU(), shared)
    assert count_parameters(model) == 16


def test_tying_shares_storage_and_untied_does_not():
    tied = GPTModel(TINY)
    assert tied.lm_head.weight is tied.tok_embed.weight
    assert tied.lm_head.weight.data_ptr() == tied.tok_embed.weight.data_ptr()
    with torch.no_grad():
        tied.tok_embed.weight[3, 5] = 42.0
    assert tied.lm_head.weight[3, 5].item() == 42.0
    untied = GPTModel(dataclasses.replace(TINY, weight_tying=False))
    assert untied.lm_head.weight.data_ptr() != untied.tok_embed.weight.data_ptr()


def test_forward_shape_and_too_long_input():
    model = GPTModel(TINY).eval()
    idx = torch.randint(0, TINY.vocab_size, (3, TINY.context_length))
    assert model(idx).shape == (3, TINY.context_length, TINY.vocab_size)
    too_long = torch.zeros(1, TINY.context_length + 1, dtype=torch.long)
    with pytest.raises(ValueError, match=r"17.*16"):
        model(too_long)


def test_init_statistics_and_residual_scaling():
    torch.manual_seed(0)
    config = dataclasses.replace(TINY, d_model=128, num_layers=8)
    model = GPTModel(config)
    residual_std = 0.02 / math.sqrt(2 * config.num_layers)
    for name, param in model.named_parameters():
        if name.endswith("proj.weight"):
            expected = residual_std
        elif name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "final_norm.weight":
            assert torch.all(param == 1), name
            continue
        elif name.endswith(".bias"):
            assert torch.all(param == 0), name
            continue
        else:
            expected = 0.02
        assert abs(param.std().item() - expected) < 0.1 * expected, (name, param.std().item(), expected)
        assert abs(param.mean().item()) < 0.1 * expected, name


def test_residual_scaling_keeps_the_stream_from_growing():
    """The reason for the scaling: the residual stream's std grows much less with depth."""
    torch.manual_seed(0)
    config = dataclasses.replace(TINY, num_layers=24)
    idx = torch.randint(0, config.vocab_size, (4, 16))

    def stream_growth(model):
        x = model.tok_embed(idx) + model.pos_embed(torch.arange(16))
        start = x.std()
        with torch.no_grad():
            for block in model.blocks:
                x = block(x)
        return (x.std() / start).item()

    scaled = GPTModel(config).eval()
    unscaled = GPTModel(config).eval()
    with torch.no_grad():
        for block in unscaled.blocks:
            block.attn.proj.weight.normal_(0, 0.02)
            block.ff.proj.weight.normal_(0, 0.02)
    assert stream_growth(scaled) < stream_growth(unscaled)
