"""Training examples for next-token prediction: sliding windows over one long token stream.

A window of ``max_length + 1`` consecutive tokens gives one example: the first
``max_length`` tokens are the input, the last ``max_length`` the target, so the target at
position t is the token that follows input position t. Windows start every ``stride``
tokens: stride < max_length makes neighbouring windows overlap, stride = max_length
puts them side by side.

    number of windows = (num_tokens - max_length - 1) // stride + 1
                        (for num_tokens >= max_length + 1; fewer tokens: an error)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset


def num_windows(num_tokens: int, max_length: int, stride: int) -> int:
    """How many windows of ``max_length + 1`` tokens start at 0, stride, 2 * stride, ..."""
    if num_tokens < max_length + 1:
        return 0
    return (num_tokens - max_length - 1) // stride + 1


class SlidingWindowDataset(Dataset):
    """(input_ids, target_ids) pairs cut from ``token_ids`` by a sliding window.

    Item i covers tokens [i * stride, i * stride + max_length]: input = the first
    ``max_length`` of them, target = the same window shifted one token to the right.
    Both are ``torch.long`` tensors of shape (max_length,). The token stream is stored once;
    windows are views into it, so overlap costs no memory.
    """

    def __init__(self, token_ids: Sequence[int] | torch.Tensor, max_length: int, stride: int):
        if max_length < 1 or stride < 1:
            raise ValueError(f"max_length and stride must be >= 1, got max_length={max_length}, stride={stride}")
        self.token_ids = torch.as_tensor(token_ids, dtype=torch.long)  # (num_tokens,)
        if self.token_ids.dim() != 1:
            raise ValueError(f"token_ids must be one sequence of ids, got shape {tuple(self.token_ids.shape)}")
        num_tokens = len(self.token_ids)
        if num_tokens < max_length + 1:
            raise ValueError(
                f"the text has {num_tokens} tokens, but one window needs max_length + 1 = "
                f"{max_length} + 1 = {max_length + 1} tokens (input plus the one-token shift of the target)"
            )
        self.max_length = max_length
        self.stride = stride

    def __len__(self) -> int:
        return num_windows(len(self.token_ids), self.max_length, self.stride)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        start = (index % len(self)) * self.stride
        window = self.token_ids[start : start + self.max_length + 1]  # (max_length + 1,)
        return window[:-1], window[1:]  # input (max_length,), target (max_length,)


def create_dataloader(
    text: str,
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    seed: int | None = None,
    num_workers: int = 0,
) -> DataLoader:
    """Tokenize ``text`` with GPT-2's BPE (tiktoken) and batch its sliding windows.

    Each batch is (inputs, targets), both ``torch.long`` of shape (batch_size, max_length).
    ``<|endoftext|>`` in the text (the separator GPT-2 puts between documents) is encoded as
    its special id 50256. ``shuffle`` draws a new window order every epoch; with ``seed``
    the orders are reproducible (same seed, same batches) without touching the global
    random state. ``drop_last`` skips a final batch smaller than ``batch_size``.
    """
    import tiktoken

    tokenizer = tiktoken.get_encoding("gpt2")
    token_ids = tokenizer.encode(text, allowed_special={"<|endoftext|>"})
    dataset = SlidingWindowDataset(token_ids, max_length, stride)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=generator,
        num_workers=num_workers,
    )
