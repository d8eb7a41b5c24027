"""Shared pieces of the benchmarks: one set of GPT-2 small weights in both implementations."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def gpt2_small_pair(seed: int = 0):
    """(course GPTModel, Hugging Face GPT2LMHeadModel) with identical random GPT-2 small weights, eval mode."""
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    from course.pretrained import hf_gpt2_config
    from gpt2ref import GPT2_SMALL, GPTModel, load_hf_gpt2

    hf_logging.set_verbosity_error()
    torch.manual_seed(seed)
    hf = GPT2LMHeadModel(hf_gpt2_config(GPT2_SMALL)).eval()
    ours = load_hf_gpt2(GPTModel(GPT2_SMALL), hf.state_dict()).eval()
    return ours, hf


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds of each callable, timed in alternation so drift hits all of them alike."""
    for fn in runs.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}
