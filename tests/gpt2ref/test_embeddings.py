"""Tests of gpt2ref/embeddings.py (lesson 32): token + position embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gpt2ref import TokenPositionEmbedding, cosine_similarity_matrix


def make(vocab=50, context=8, d=6, seed=0):
    torch.manual_seed(seed)
    return TokenPositionEmbedding(vocab, context, d)


def test_output_is_token_row_plus_position_row():
    emb = make()
    idx = torch.tensor([[3, 7, 3, 49], [0, 1, 2, 3]])
    out = emb(idx)
    assert out.shape == (2, 4, 6)
    tok, pos = emb.tok_embed.weight, emb.pos_embed.weight
    for b in range(2):
        for t in range(4):
            expected = tok[idx[b, t]] + pos[t]
            assert torch.equal(out[b, t], expected), (b, t)


def test_position_and_identity_both_change_the_vector():
    emb = make()
    same_token = emb(torch.tensor([[5, 5, 5]]))[0]
    assert not torch.allclose(same_token[0], same_token[1])  # same token, other position
    forward = emb(torch.tensor([[5, 6]]))[0]
    backward = emb(torch.tensor([[6, 5]]))[0]
    assert not torch.allclose(forward[0], backward[0])  # other token, same position
    # Without positions both orders would give the same two vectors; with them, no vector
    # of one order appears in the other.
    assert not any(torch.allclose(a, b) for a in forward for b in backward)


def test_gradients_reach_only_the_rows_used():
    emb = make(vocab=20, context=10, d=4)
    idx = torch.tensor([[2, 9, 2], [4, 4, 11]])
    emb(idx).pow(2).sum().backward()
    tok_rows = emb.tok_embed.weight.grad.abs().sum(dim=1) > 0
    pos_rows = emb.pos_embed.weight.grad.abs().sum(dim=1) > 0
    assert tok_rows.nonzero().flatten().tolist() == [2, 4, 9, 11]
    assert pos_rows.nonzero().flatten().tolist() == [0, 1, 2]


def test_sequence_longer_than_context_is_refused_with_both_numbers():
    emb = make(context=8)
    assert emb(torch.zeros(1, 8, dtype=torch.long)).shape == (1, 8, 6)
    with pytest.raises(ValueError, match=r"9.*8"):
        emb(torch.zeros(1, 9, dtype=torch.long))


def test_parameter_counts():
    emb = make(vocab=50, context=8, d=6)
    assert sum(p.numel() for p in emb.parameters()) == 50 * 6 + 8 * 6
    with torch.device("meta"):
        gpt2 = TokenPositionEmbedding(50257, 1024, 768)
    # wte 50257 x 768 = 38,597,376 plus wpe 1024 x 768 = 786,432
    assert sum(p.numel() for p in gpt2.parameters()) == 39_383_808


def test_matches_hugging_face_gpt2_embeddings():
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        vocab_size=40, n_positions=12, n_embd=16, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0
    )
    torch.manual_seed(0)
    hf = transformers.GPT2Model(config).eval()
    emb = TokenPositionEmbedding(40, 12, 16)
    with torch.no_grad():
        emb.tok_embed.weight.copy_(hf.wte.weight)
        emb.pos_embed.weight.copy_(hf.wpe.weight)
    idx = torch.randint(0, 40, (3, 12))
    with torch.no_grad():
        hidden = hf(idx, output_hidden_states=True).hidden_states[0]  # embeddings, before block 0
        ours = emb(idx)
    torch.testing.assert_close(ours, hidden, atol=1e-6, rtol=0)


def test_cosine_similarity_matrix_matches_torch():
    torch.manual_seed(1)
    x = torch.randn(7, 5)
    expected = F.cosine_similarity(x[:, None, :], x[None, :, :], dim=-1)
    got = cosine_similarity_matrix(x)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.diagonal(got), torch.ones(7), atol=1e-6, rtol=0)


def test_cosine_similarity_matrix_known_angles_and_zero_row():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [0.0, 0.0], [-5.0, 0.0]])
    got = cosine_similarity_matrix(x)
    h = 2 ** -0.5
    expected = torch.tensor([
        [1.0, 0.0, h, 0.0, -1.0],
        [0.0, 1.0, h, 0.0, 0.0],
        [h, h, 1.0, 0.0, -h],
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [-1.0, 0.0, -h, 0.0, 1.0],
    ])
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
