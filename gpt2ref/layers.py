"""The small parts of a transformer block: LayerNorm, GELU and the feed-forward network."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """Normalise each token's vector to mean 0 and variance 1, then scale and shift.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last dimension,
    with the biased variance (divide by d, not d - 1), exactly like ``torch.nn.LayerNorm``.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, bias: bool = True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))  # learned scale, starts at 1
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None  # learned shift, starts at 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The fused kernel computes the formula in the docstring.
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class GELU(nn.Module):
    """GELU in the tanh approximation that GPT-2 was trained with:

    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="tanh")


def gelu_tanh_formula(x: torch.Tensor) -> torch.Tensor:
    """The same curve as :class:`GELU`, written out term by term (for tests and lessons)."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class FeedForward(nn.Module):
    """Position-wise MLP: widen to d_ff, apply GELU, project back to d_model."""

    def __init__(self, d_model: int, d_ff: int | None = None, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.fc = nn.Linear(d_model, d_ff, bias=bias)  # (d_model -> d_ff)
        self.act = GELU()
        self.proj = nn.Linear(d_ff, d_model, bias=bias)  # (d_ff -> d_model); writes into the residual stream
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, d_model) -> (B, T, d_ff) -> (B, T, d_model)
        return self.dropout(self.proj(self.act(self.fc(x))))
