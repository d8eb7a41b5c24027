"""Causal multi-head self-attention."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention with a causal mask, written out step by step.

    q, k, v: (..., T, head_dim). Returns (output (..., T, head_dim), weights (..., T, T)).
    Row t of ``weights`` says how much position t takes from each position 0..t; entries
    above the diagonal (the future) are exactly zero and every row sums to 1.
    """
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., T, T)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))  # a token may not look ahead
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class KVCache:
    """The keys and values one attention layer has computed for the tokens seen so far.

    While generating, a token's key and value never change once computed: they depend only
    on that token and the ones before it. So instead of recomputing them at every step,
    each layer keeps them here and the model only runs the new token(s).

        k, v: (B, num_heads, T_cached, head_dim), or None while empty
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        """Number of cached positions (tokens)."""
        return 0 if self.k is None else self.k.size(-2)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new tokens' keys and values (B, H, T_new, hd); return all of them (B, H, T_cached, hd)."""
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=-2)
            self.v = torch.cat([self.v, v], dim=-2)
        return self.k, self.v


class MultiHeadAttention(nn.Module):
    """num_heads causal attention heads side by side, then one output projection.

    One Linear computes queries, keys and values for all heads at once (like GPT-2's
    ``c_attn``); the result is split into heads of ``d_model // num_heads`` dimensions.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)  # (d_model -> 3 * d_model)
        self.proj = nn.Linear(d_model, d_model, bias=bias)  # merges the heads; writes into the residual stream
        self.resid_dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, num_heads, T, head_dim)"""
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, num_heads, T, head_dim) -> (B, T, d_model)"""
        B, _, T, _ = x.shape
        return x.transpose(1, 2).contiguous().view(B, T, self.num_heads * self.head_dim)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        # x: (B, T, d_model): T new tokens. With a cache, the tokens before them are in it.
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # each (B, T, d_model)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, H, T, hd)
        T_past = 0
        if cache is not None:
            T_past = len(cache)
            k, v = cache.append(k, v)  # (B, H, T_past + T, hd): the earlier tokens' and the new ones
        # The fused kernel computes causal_attention(q, k, v)[0] (plus dropout on the weights
        # while training) without storing the T x T weight matrix.
        dropout_p = self.dropout if self.training else 0.0
        if T_past == 0:  # no earlier tokens: the usual square causal mask
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p)
        else:  # T new queries against T_past + T keys
            out = F.scaled_dot_product_attention(
                q, k, v, attn_mask=cached_causal_mask(q.size(-2), T_past, q.device), dropout_p=dropout_p
            )  # (B, H, T, hd)
        return self.resid_dropout(self.proj(self.merge_heads(out)))  # (B, T, d_model)


def cached_causal_mask(T_new: int, T_past: int, device: torch.device | None = None) -> torch.Tensor | None:
    """Which keys each of ``T_new`` new queries may see when ``T_past`` tokens are cached.

    New query i stands at position T_past + i, so it sees keys 0 .. T_past + i: a (T_new,
    T_past + T_new) boolean mask, True = allowed. (``is_causal=True`` would be wrong here: it
    aligns the mask to the top-left corner, as if the queries started at position 0.) A single
    new token may see every key, so it needs no mask at all: None.
    """
    if T_new == 1:
        return None
    return torch.ones(T_new, T_past + T_new, dtype=torch.bool, device=device).tril(diagonal=T_past)
