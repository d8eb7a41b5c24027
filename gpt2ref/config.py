"""GPTConfig: every number that fixes the shape of a GPT model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GPTConfig:
    """Hyper-parameters of a GPT-2 style model. The defaults are GPT-2 small (124M)."""

    vocab_size: int = 50257  # 256 byte tokens + 50,000 BPE merges + <|endoftext|>
    context_length: int = 1024  # longest sequence the position table can place
    d_model: int = 768  # width of every token's vector (the residual stream)
    num_heads: int = 12  # 768 / 12 = 64 dimensions per head
    num_layers: int = 12  # number of transformer blocks
    dropout: float = 0.1  # GPT-2's training value; generation runs in eval mode (no dropout)
    bias: bool = True  # biases in every Linear (q/k/v included) and LayerNorm; never in lm_head
    weight_tying: bool = True  # lm_head.weight is tok_embed.weight (one shared tensor)
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "d_model", "num_heads", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.num_heads != 0:
            raise ValueError(
                f"GPTConfig.d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")

    @property
    def head_dim(self) -> int:
        """Dimensions per attention head (64 for GPT-2 small)."""
        return self.d_model // self.num_heads

    @property
    def d_ff(self) -> int:
        """Hidden width of the feed-forward network: 4 x d_model (3072 for GPT-2 small)."""
        return 4 * self.d_model


GPT2_SMALL = GPTConfig()

# A model small enough for a unit test or a laptop demo: same code path, tiny numbers.
TINY = GPTConfig(vocab_size=97, context_length=16, d_model=32, num_heads=4, num_layers=2, dropout=0.0)
