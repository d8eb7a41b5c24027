"""Token and position embeddings: what each token is, and where it stands.

``GPTModel`` keeps its own ``tok_embed`` / ``pos_embed`` attributes and does the same sum in
its ``forward``; this module is the lesson-32 part on its own, for tests and demos.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenPositionEmbedding(nn.Module):
    """Token ids (B, T) -> vectors (B, T, d_model): the token's row plus its position's row.

    Both tables are learned. Position t of every sequence in the batch reads row t of
    ``pos_embed``, so a sequence may be at most ``context_length`` tokens long.
    """

    def __init__(self, vocab_size: int, context_length: int, d_model: int):
        super().__init__()
        self.context_length = context_length
        self.tok_embed = nn.Embedding(vocab_size, d_model)  # (vocab_size, d_model): one row per token id
        self.pos_embed = nn.Embedding(context_length, d_model)  # (context_length, d_model): one row per position

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.size(-1)
        if T > self.context_length:
            raise ValueError(
                f"sequence length {T} is longer than context_length {self.context_length}: "
                f"the position table has only {self.context_length} rows"
            )
        positions = torch.arange(T, device=idx.device)  # (T,): 0, 1, ..., T-1
        # (B, T, d_model) + (T, d_model): the same position rows are added to every sequence
        return self.tok_embed(idx) + self.pos_embed(positions)


def cosine_similarity_matrix(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(N, d) -> (N, N): entry [i, j] is the cosine of the angle between rows i and j.

    Every row is scaled to length 1 first (a row shorter than ``eps`` is divided by ``eps``
    instead, so a zero row has similarity 0 with everything rather than NaN).
    """
    unit = x / x.norm(dim=-1, keepdim=True).clamp_min(eps)  # (N, d), rows of length 1
    return unit @ unit.T  # (N, N)
