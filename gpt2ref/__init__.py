"""The reference GPT-2 of the course, one concept per module.

Lessons import the parts earlier lessons built from here, and hidden tests compare the
student's code against it.

    bpe.py         byte-level BPE: train_bpe, merge_pair, pre_split, encode/decode (lesson 30)
    dataset.py     SlidingWindowDataset, create_dataloader (lesson 31)
    config.py      GPTConfig (defaults = GPT-2 small), GPT2_SMALL, TINY
    embeddings.py  TokenPositionEmbedding, cosine_similarity_matrix
    layers.py      LayerNorm, GELU, FeedForward
    attention.py   causal_attention (explicit softmax), MultiHeadAttention, KVCache
    block.py       TransformerBlock (pre-LN)
    model.py       GPTModel, count_parameters, init_weights
    generation.py  top_k_filter, generate
    hf_weights.py  read_checkpoint, load_hf_gpt2 (Hugging Face GPT-2 checkpoint -> GPTModel)
    training.py    batch_loss, evaluate, train_step, train, save/load_checkpoint (lesson 36)
"""

from .attention import KVCache, MultiHeadAttention, causal_attention
from .block import TransformerBlock
from .bpe import decode as bpe_decode
from .bpe import encode as bpe_encode
from .bpe import merge_pair, pre_split, train_bpe
from .config import GPT2_SMALL, TINY, GPTConfig
from .dataset import SlidingWindowDataset, create_dataloader
from .embeddings import TokenPositionEmbedding, cosine_similarity_matrix
from .generation import generate, top_k_filter
from .hf_weights import CheckpointError, load_hf_gpt2, read_checkpoint
from .layers import GELU, FeedForward, LayerNorm, gelu_tanh_formula
from .model import GPTModel, count_parameters, init_weights, scale_residual_projections
from .training import (
    batch_loss,
    configure_adamw,
    evaluate,
    load_checkpoint,
    lr_at,
    perplexity,
    random_batch,
    save_checkpoint,
    train,
    train_step,
)

__all__ = [
    "GPT2_SMALL",
    "TINY",
    "CheckpointError",
    "FeedForward",
    "GELU",
    "GPTConfig",
    "GPTModel",
    "KVCache",
    "LayerNorm",
    "MultiHeadAttention",
    "SlidingWindowDataset",
    "TokenPositionEmbedding",
    "TransformerBlock",
    "bpe_decode",
    "bpe_encode",
    "causal_attention",
    "cosine_similarity_matrix",
    "count_parameters",
    "create_dataloader",
    "gelu_tanh_formula",
    "generate",
    "init_weights",
    "load_hf_gpt2",
    "read_checkpoint",
    "merge_pair",
    "pre_split",
    "scale_residual_projections",
    "top_k_filter",
    "train_bpe",
    "batch_loss",
    "configure_adamw",
    "evaluate",
    "load_checkpoint",
    "lr_at",
    "perplexity",
    "random_batch",
    "save_checkpoint",
    "train",
    "train_step",
]
