"""Forward pass of GPT-2 small: course reference vs Hugging Face, same weights, same threads."""

from __future__ import annotations

import torch

from .common import gpt2_small_pair, interleaved_medians


def run(batch: int = 1, tokens: int = 256, repeats: int = 15) -> dict[str, float]:
    ours, hf = gpt2_small_pair()
    idx = torch.randint(0, ours.config.vocab_size, (batch, tokens), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        max_diff = (ours(idx) - hf(idx).logits).abs().max().item()
        medians = interleaved_medians({"reference": lambda: ours(idx), "huggingface": lambda: hf(idx).logits}, repeats)
    ratio = medians["reference"] / medians["huggingface"]
    print(f"GPT-2 small forward, batch {batch} x {tokens} tokens, eval, no grad, "
          f"{torch.get_num_threads()} threads, median of {repeats}:")
    print(f"  gpt2ref.GPTModel   {medians['reference'] * 1000:8.1f} ms")
    print(f"  HF GPT2LMHeadModel          {medians['huggingface'] * 1000:8.1f} ms")
    print(f"  ratio reference / HF        {ratio:8.3f}   (target <= 1.05)")
    print(f"  max |logit difference|      {max_diff:8.2e}")
    return {"reference_s": medians["reference"], "huggingface_s": medians["huggingface"], "ratio": ratio}
