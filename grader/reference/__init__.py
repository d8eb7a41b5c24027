"""The reference GPT-2 of the course, one concept per module.

Lessons import the parts earlier lessons built from here, and hidden tests compare the
student's code against it.

    config.py      GPTConfig (defaults = GPT-2 small), GPT2_SMALL, TINY
    embeddings.py  TokenPositionEmbedding, cosine_similarity_matrix
    layers.py      LayerNorm, GELU, FeedForward
    attention.py   causal_attention (explicit softmax), MultiHeadAttention, KVCache
    block.py       TransformerBlock (pre-LN)
    model.py       GPTModel, count_parameters, init_weights
    generation.py  top_k_filter, generate
    hf_weights.py  load_hf_gpt2 (Hugging Face GPT-2 checkpoint -> GPTModel)
"""

from .attention import KVCache, MultiHeadAttention, causal_attention
from .block import TransformerBlock
from .config import GPT2_SMALL, TINY, GPTConfig
from .embeddings import TokenPositionEmbedding, cosine_similarity_matrix
from .generation import generate, top_k_filter
from .hf_weights import CheckpointError, load_hf_gpt2
from .layers import GELU, FeedForward, LayerNorm, gelu_tanh_formula
from .model import GPTModel, count_parameters, init_weights, scale_residual_projections

__all__ = [
    "GPT2_SMALL",
    "TINY",
    "CheckpointError",
    "FeedForward",
    "GELU",
    "KVCache",
    "GPTConfig",
    "GPTModel",
    "LayerNorm",
    "MultiHeadAttention",
    "TokenPositionEmbedding",
    "TransformerBlock",
    "causal_attention",
    "cosine_similarity_matrix",
    "count_parameters",
    "gelu_tanh_formula",
    "generate",
    "init_weights",
    "load_hf_gpt2",
    "scale_residual_projections",
    "top_k_filter",
]
