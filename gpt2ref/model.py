"""GPTModel: embeddings, a stack of transformer blocks, a final LayerNorm and the LM head."""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import KVCache
from .block import TransformerBlock
from .config import GPTConfig
from .layers import LayerNorm


class GPTModel(nn.Module):
    """GPT-2: token ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_embed = nn.Embedding(config.vocab_size, config.d_model)  # what each token is
        self.pos_embed = nn.Embedding(config.context_length, config.d_model)  # where it stands
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.num_layers))
        self.final_norm = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

        self.apply(init_weights)
        scale_residual_projections(self, config.num_layers)
        if config.weight_tying:
            # One Parameter in two places: the lookup table and the output projection.
            self.lm_head.weight = self.tok_embed.weight

    def forward(self, idx: torch.Tensor, cache: list[KVCache] | None = None) -> torch.Tensor:
        """idx: (B, T) token ids -> logits (B, T, vocab_size).

        ``cache`` (one KVCache per block, see ``new_kv_cache``) holds the keys and values of
        the tokens before ``idx``; then ``idx`` holds only the new tokens, they are placed
        after the cached ones, and their keys and values are added to the cache.
        """
        B, T = idx.shape
        T_past = 0 if cache is None else len(cache[0])  # tokens already in the cache
        if T_past + T > self.config.context_length:
            cached = f" ({T_past} cached + {T} new)" if T_past else ""
            raise ValueError(
                f"sequence length {T_past + T}{cached} is longer than context_length {self.config.context_length}: "
                f"feed at most the last {self.config.context_length} tokens"
            )
        positions = torch.arange(T_past, T_past + T, device=idx.device)  # (T,)
        x = self.tok_embed(idx) + self.pos_embed(positions)  # (B, T, d_model) + (T, d_model)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if cache is None else cache[i])  # (B, T, d_model)
        x = self.final_norm(x)
        return self.lm_head(x)  # (B, T, vocab_size)

    def new_kv_cache(self) -> list[KVCache]:
        """An empty key/value cache: one KVCache per block."""
        return [KVCache() for _ in self.blocks]


def init_weights(module: nn.Module) -> None:
    """GPT-2's initialisation: N(0, 0.02) for Linear and Embedding weights, zero biases.

    LayerNorm keeps weight 1 and bias 0 from its constructor.
    """
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def scale_residual_projections(model: GPTModel, num_layers: int) -> None:
    """Shrink the two projections of each block that add into the residual stream.

    Every block adds two outputs to the residual stream (attention and feed-forward), so
    after num_layers blocks 2 * num_layers random terms have been summed. Their std grows
    like sqrt(2 * num_layers); initialising these projections with
    std = 0.02 / sqrt(2 * num_layers) keeps the stream's scale roughly constant with depth.
    """
    std = 0.02 / math.sqrt(2 * num_layers)
    for block in model.blocks:
        nn.init.normal_(block.attn.proj.weight, mean=0.0, std=std)
        nn.init.normal_(block.ff.proj.weight, mean=0.0, std=std)


def count_parameters(model: nn.Module) -> int:
    """Number of learned numbers in ``model``; a tensor shared by two modules counts once.

    ``model.parameters()`` yields each Parameter object once, even when it is registered
    under two names (tied weights): exactly the count we want.
    """
    return sum(p.numel() for p in model.parameters())
