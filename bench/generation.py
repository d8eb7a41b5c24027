"""Greedy generation on GPT-2 small: reference with and without its KV cache vs Hugging Face.

Same weights, one process, same thread count. Each contender turns the same 32-token
prompt into 128 new tokens, greedily: ``generate(..., top_k=1)`` (temperature 1) for the
course, ``GPT2LMHeadModel.generate(do_sample=False)`` (its own cache) for Hugging Face.
Tokens/s = new tokens / median wall time of the whole call (prefill included).

On a machine that other processes keep busy, several threads per process mostly wait for each
other; ``OMP_NUM_THREADS=1 python -m bench.run generation`` gives steadier numbers.
"""

from __future__ import annotations

import torch

from gpt2ref import generate

from .common import gpt2_small_pair, interleaved_medians

CACHED_VS_HF_TARGET = 0.95  # reference with cache >= 0.95 x HF tokens/s
CACHED_VS_UNCACHED_TARGET = 3.0  # and >= 3 x the reference without cache


def run(prompt_tokens: int = 32, new_tokens: int = 128, repeats: int = 5, uncached_repeats: int = 3) -> dict[str, float]:
    ours, hf = gpt2_small_pair()
    hf.generation_config.eos_token_id = None  # never stop early: all contenders make new_tokens tokens
    hf.generation_config.pad_token_id = 0
    prompt = torch.randint(
        0, ours.config.vocab_size, (1, prompt_tokens), generator=torch.Generator().manual_seed(3)
    )
    attention_mask = torch.ones_like(prompt)

    runs = {
        "cached": lambda: generate(ours, prompt, new_tokens, top_k=1, use_cache=True),
        "huggingface": lambda: hf.generate(
            prompt, attention_mask=attention_mask, max_new_tokens=new_tokens, do_sample=False
        ),
    }
    uncached = {"uncached": lambda: generate(ours, prompt, new_tokens, top_k=1, use_cache=False)}
    with torch.inference_mode():
        outputs = {name: fn() for name, fn in {**runs, **uncached}.items()}
        medians = interleaved_medians(runs, repeats, warmup=1)
        medians.update(interleaved_medians(uncached, uncached_repeats, warmup=0))
    same = {name: torch.equal(out, outputs["huggingface"]) for name, out in outputs.items()}
    tps = {name: new_tokens / seconds for name, seconds in medians.items()}
    vs_hf = tps["cached"] / tps["huggingface"]
    vs_uncached = tps["cached"] / tps["uncached"]

    print(f"GPT-2 small greedy generation, prompt {prompt_tokens} + {new_tokens} new tokens, batch 1, "
          f"{torch.get_num_threads()} threads, median of {repeats} ({uncached_repeats} without cache):")
    print(f"  reference, KV cache            {tps['cached']:7.1f} tokens/s  ({medians['cached']:.2f} s)")
    print(f"  reference, no cache            {tps['uncached']:7.1f} tokens/s  ({medians['uncached']:.2f} s)")
    print(f"  HF GPT2LMHeadModel.generate    {tps['huggingface']:7.1f} tokens/s  ({medians['huggingface']:.2f} s)")
    print(f"  cached / HF                    {vs_hf:7.2f}   (target >= {CACHED_VS_HF_TARGET})")
    print(f"  cached / no cache              {vs_uncached:7.2f}   (target >= {CACHED_VS_UNCACHED_TARGET})")
    print("  same tokens as HF             ", ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in same.items()))
    return {
        "cached_tokens_per_s": tps["cached"],
        "uncached_tokens_per_s": tps["uncached"],
        "huggingface_tokens_per_s": tps["huggingface"],
        "cached_vs_hf": vs_hf,
        "cached_vs_uncached": vs_uncached,
        "same_tokens": all(same.values()),
    }
