"""Tests of gpt2ref/block.py (lesson 34): the pre-LN transformer block."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gpt2ref import GPT2_SMALL, GPTConfig, TokenPositionEmbedding, TransformerBlock

SMALL = GPTConfig(vocab_size=40, context_length=12, d_model=16, num_heads=4, num_layers=2, dropout=0.0)


def randomise(module, std=0.3, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, std)
    return module


def test_block_keeps_the_shape():
    block = TransformerBlock(SMALL)
    x = torch.randn(3, 7, 16)
    assert block(x).shape == (3, 7, 16)


def test_block_with_silent_sublayers_is_the_identity():
    block = randomise(TransformerBlock(SMALL)).eval()
    with torch.no_grad():
        for linear in (block.attn.proj, block.ff.proj):
            linear.weight.zero_()
            linear.bias.zero_()
    x = torch.randn(2, 5, 16)
    assert torch.equal(block(x), x)


def test_block_is_pre_layernorm_with_two_residual_adds():
    block = randomise(TransformerBlock(SMALL)).eval()
    x = torch.randn(2, 5, 16)

    def ln(t, norm):
        return F.layer_norm(t, (16,), norm.weight, norm.bias, 1e-5)

    h = x + block.attn(ln(x, block.norm1))
    hidden = F.linear(ln(h, block.norm2), block.ff.fc.weight, block.ff.fc.bias)
    expected = h + F.linear(F.gelu(hidden, approximate="tanh"), block.ff.proj.weight, block.ff.proj.bias)
    torch.testing.assert_close(block(x), expected, atol=1e-5, rtol=0)


def test_parameter_count_of_one_gpt2_small_block():
    with torch.device("meta"):
        block = TransformerBlock(GPT2_SMALL)
    # attention 2,362,368 + feed-forward 4,722,432 + two LayerNorms 2 x 1,536
    assert sum(p.numel() for p in block.parameters()) == 7_087_872


def test_block_matches_hugging_face_gpt2_block():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        vocab_size=40, n_positions=12, n_embd=16, n_layer=2, n_head=4, activation_function="gelu_new",
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
    )
    torch.manual_seed(0)
    hf = transformers.GPT2Model(config).eval()
    for p in hf.parameters():
        nn.init.normal_(p, std=0.2)
    emb, block = TokenPositionEmbedding(40, 12, 16), TransformerBlock(SMALL).eval()
    h0 = hf.h[0]
    pairs = [
        (emb.tok_embed.weight, hf.wte.weight, False), (emb.pos_embed.weight, hf.wpe.weight, False),
        (block.norm1.weight, h0.ln_1.weight, False), (block.norm1.bias, h0.ln_1.bias, False),
        (block.attn.qkv.weight, h0.attn.c_attn.weight, True), (block.attn.qkv.bias, h0.attn.c_attn.bias, False),
        (block.attn.proj.weight, h0.attn.c_proj.weight, True), (block.attn.proj.bias, h0.attn.c_proj.bias, False),
        (block.norm2.weight, h0.ln_2.weight, False), (block.norm2.bias, h0.ln_2.bias, False),
        (block.ff.fc.weight, h0.mlp.c_fc.weight, True), (block.ff.fc.bias, h0.mlp.c_fc.bias, False),
        (block.ff.proj.weight, h0.mlp.c_proj.weight, True), (block.ff.proj.bias, h0.mlp.c_proj.bias, False),
    ]
    with torch.no_grad():
        for ours, theirs, transpose in pairs:
            ours.copy_(theirs.T if transpose else theirs)  # Conv1D stores (in, out)
    idx = torch.randint(0, 40, (2, 12))
    with torch.no_grad():
        hidden = hf(idx, output_hidden_states=True).hidden_states  # (embeddings, after block 0, ...)
        ours = block(emb(idx))
    torch.testing.assert_close(ours, hidden[1], atol=1e-5, rtol=0)
