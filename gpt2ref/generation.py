"""Sampling text from a GPT: temperature, top-k and the sliding context window."""

from __future__ import annotations

import torch
from torch import nn


def top_k_filter(logits: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """Keep the ``top_k`` largest logits of each row and set the others to -inf.

    ``None`` or 0 means no filtering; a ``top_k`` larger than the vocabulary keeps everything.
    Returns a new tensor; ``logits`` is not changed.
    """
    if top_k is None or top_k == 0:
        return logits
    if top_k < 0:
        raise ValueError(f"top_k must be a positive int, 0 or None, got {top_k}")
    k = min(top_k, logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_largest, float("-inf"))


@torch.no_grad()
def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    use_cache: bool = False,
) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled tokens to ``idx`` (B, T) and return (B, T + new).

    Each step feeds the last ``model.config.context_length`` tokens (the sliding window),
    divides the last position's logits by ``temperature`` (< 1 sharper, > 1 flatter),
    keeps the ``top_k`` best, and draws one token per row with ``torch.multinomial``.
    ``seed`` makes the draw reproducible without touching the global random state.

    ``use_cache=True`` (for models with ``new_kv_cache()``, like GPTModel) gives the same
    tokens faster: the prompt is run once (prefill), then each step runs only the newest
    token against the cached keys and values of the earlier ones. Once the sequence is
    longer than the context, the window slides and every token's position changes, so the
    cached keys and values no longer fit: from then on each step recomputes the window.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (for greedy decoding use top_k=1)")
    if idx.dim() != 2:
        raise ValueError(f"idx must have shape (batch, tokens), got {tuple(idx.shape)}")
    context_length = model.config.context_length
    generator = None
    if seed is not None:
        generator = torch.Generator(device=idx.device).manual_seed(seed)

    was_training = model.training
    model.eval()  # no dropout while sampling
    try:
        cache = None  # keys and values of the tokens already run (use_cache only)
        for _ in range(max_new_tokens):
            if not use_cache:
                logits = model(idx[:, -context_length:])  # the whole window, every step
            elif cache is None:
                cache = model.new_kv_cache()
                logits = model(idx[:, -context_length:], cache=cache)  # prefill: the prompt, once
            elif len(cache[0]) < context_length:
                logits = model(idx[:, -1:], cache=cache)  # only the newest token
            else:
                # The window is full and slides by one: every token moves to a new position,
                # so the cached keys and values (made at the old positions) are stale.
                logits = model(idx[:, -context_length:])
            logits = logits[:, -1, :]  # (B, vocab): the prediction for the next token
            logits = top_k_filter(logits / temperature, top_k)
            probs = torch.softmax(logits, dim=-1)
            next_id = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, next_id], dim=1)
    finally:
        model.train(was_training)
    return idx
