"""TransformerBlock: attention and feed-forward, each behind a pre-LayerNorm and a residual add."""

from __future__ import annotations

import torch
from torch import nn

from .attention import KVCache, MultiHeadAttention
from .config import GPTConfig
from .layers import FeedForward, LayerNorm


class TransformerBlock(nn.Module):
    """x + attn(norm1(x)), then + ff(norm2(...)): the pre-LN block of GPT-2."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.norm1 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout, config.bias)
        self.norm2 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.ff = FeedForward(config.d_model, config.d_ff, config.dropout, config.bias)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        # x: (B, T, d_model); the shape never changes inside a block.
        # cache: this block's keys and values of earlier tokens (only while generating).
        x = x + self.attn(self.norm1(x), cache=cache)  # tokens exchange information
        x = x + self.ff(self.norm2(x))  # each token is processed on its own
        return x
