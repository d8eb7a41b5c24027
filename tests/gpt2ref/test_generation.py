"""top_k_filter and generate: the sampling contract lesson 35 grades against."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gpt2ref import GPTConfig, GPTModel, generate, top_k_filter


class FixedLogits(nn.Module):
    """A stand-in model: always predicts the same logits and records what it was fed."""

    def __init__(self, logits: torch.Tensor, context_length: int = 8):
        super().__init__()
        self.logits = logits
        self.config = SimpleNamespace(context_length=context_length)
        self.inputs: list[torch.Tensor] = []
        self.grad_enabled: list[bool] = []
        self.training_seen: list[bool] = []

    def forward(self, idx):
        self.inputs.append(idx.clone())
        self.grad_enabled.append(torch.is_grad_enabled())
        self.training_seen.append(self.training)
        return self.logits.expand(idx.shape[0], idx.shape[1], -1)


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.tensor([[0.1, 3.0, -1.0, 2.0, 0.5], [5.0, 4.0, 3.0, 2.0, 1.0]])
    original = logits.clone()
    out = top_k_filter(logits, 2)
    inf = float("-inf")
    assert torch.equal(out, torch.tensor([[inf, 3.0, inf, 2.0, inf], [5.0, 4.0, inf, inf, inf]]))
    assert torch.equal(logits, original), "the input must not change"


@pytest.mark.parametrize("top_k", [None, 0, 5, 10_000])
def test_top_k_without_effect(top_k):
    logits = torch.randn(3, 5)
    assert torch.equal(top_k_filter(logits, top_k), logits)


def test_top_k_rejects_negative():
    with pytest.raises(ValueError, match="top_k"):
        top_k_filter(torch.randn(1, 4), -1)


def test_sampling_distribution_follows_softmax_of_logits_over_temperature():
    logits = torch.tensor([[[2.0, 1.0, 0.0, -1.0]]])
    model = FixedLogits(logits)
    n = 20_000
    for temperature in (0.5, 2.0):
        out = generate(model, torch.zeros(n, 1, dtype=torch.long), 1, temperature=temperature, seed=0)
        empirical = torch.bincount(out[:, -1], minlength=4).double() / n
        expected = torch.softmax(logits[0, 0].double() / temperature, dim=-1)
        assert (empirical - expected).abs().sum().item() / 2 < 0.02


def test_top_k_1_is_greedy_and_top_k_limits_support():
    logits = torch.tensor([[[0.0, 3.0, 1.0, 2.0]]])
    out = generate(FixedLogits(logits), torch.zeros(500, 1, dtype=torch.long), 3, top_k=1, seed=1)
    assert torch.all(out[:, 1:] == 1)
    out = generate(FixedLogits(logits), torch.zeros(2000, 1, dtype=torch.long), 1, top_k=2, seed=1)
    assert set(out[:, -1].tolist()) == {1, 3}


def test_sliding_window_feeds_the_last_context_length_tokens():
    model = FixedLogits(torch.zeros(1, 1, 5), context_length=4)
    prompt = torch.tensor([[1, 2, 3, 4, 0, 1]])
    out = generate(model, prompt, 3, seed=0)
    assert out.shape == (1, 9) and torch.equal(out[:, :6], prompt)
    for step, fed in enumerate(model.inputs):
        assert torch.equal(fed, out[:, : 6 + step][:, -4:])


def test_contract_seed_mode_grad_temperature():
    torch.manual_seed(0)
    model = GPTModel(GPTConfig(vocab_size=50, context_length=8, d_model=16, num_heads=2, num_layers=1))
    prompt = torch.tensor([[1, 2, 3]])
    a = generate(model, prompt, 12, temperature=1.3, top_k=10, seed=123)
    b = generate(model, prompt, 12, temperature=1.3, top_k=10, seed=123)
    assert torch.equal(a, b)
    assert model.training, "train mode must be restored"
    model.eval()
    generate(model, prompt, 2, seed=0)
    assert not model.training, "eval mode must be kept"
    stub = FixedLogits(torch.zeros(1, 1, 3)).train()
    generate(stub, prompt, 2, seed=0)
    assert stub.grad_enabled == [False, False] and stub.training_seen == [False, False] and stub.training
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            generate(model, prompt, 1, temperature=bad)
