"""GPT-2 checkpoints for lesson 37: find real weights, download them, or make a local stand-in.

The real GPT-2 small weights are one file, ``model.safetensors`` (about 548 MB), in the
Hugging Face repository ``openai-community/gpt2`` (once called just ``gpt2``).

    find_gpt2_checkpoint()        a real checkpoint already on this machine, or None.
                                  Looks at $GPT2_COURSE_WEIGHTS, then the Hugging Face cache.
                                  Never touches the network.
    download_gpt2_checkpoint()    fetch it into the Hugging Face cache. Only ever runs when
                                  called; refuses at once when HF_HUB_OFFLINE is set.
    make_standin_checkpoint()     a randomly initialised ``transformers.GPT2LMHeadModel`` of
                                  any size, saved in the same format: what the lesson and its
                                  tests load when no real weights are around.

Nothing is downloaded at import time, in tests or in notebook checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

GPT2_REPO = "openai-community/gpt2"
GPT2_REPO_ALIASES = (GPT2_REPO, "gpt2")  # the same files under the old and the new name
CHECKPOINT_FILE = "model.safetensors"
ENV_VAR = "GPT2_COURSE_WEIGHTS"  # a model.safetensors file, or a folder that holds one


class PretrainedUnavailable(RuntimeError):
    """Real weights cannot be had here (offline, no network, ...); the message says why."""


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks Hugging Face libraries not to use the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def find_gpt2_checkpoint(
    cache_dir: str | Path | None = None, *, say: Callable[[str], None] | None = print
) -> Path | None:
    """Path of a real GPT-2 small ``model.safetensors`` on this machine, or None.

    Order: ``$GPT2_COURSE_WEIGHTS`` (a file or a folder holding ``model.safetensors``),
    then the Hugging Face cache (``cache_dir`` or the default, ``~/.cache/huggingface/hub``).
    Only looks at local files. When ``$GPT2_COURSE_WEIGHTS`` is set but holds no checkpoint,
    ``say`` (``print`` unless given; None: silent) gets one line saying so.
    """
    given = os.environ.get(ENV_VAR)
    if given:
        path = Path(given).expanduser()
        if path.is_dir():
            path = path / CHECKPOINT_FILE
        if path.is_file():
            return path
        if say is not None:
            say(f"${ENV_VAR} is set to {given!r}, but there is no {CHECKPOINT_FILE} there "
                f"(it must name the file or the folder holding it); looking in the Hugging Face cache instead.")
    from huggingface_hub import try_to_load_from_cache

    for repo_id in GPT2_REPO_ALIASES:
        found = try_to_load_from_cache(repo_id, CHECKPOINT_FILE, cache_dir=cache_dir)
        if isinstance(found, str) and Path(found).is_file():
            return Path(found)
    return None


PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def hub_reachable(timeout: float = 3.0) -> str | None:
    """None when a TCP connection to the Hugging Face endpoint opens within ``timeout``
    seconds, else why not (one line). Behind a proxy (``HTTPS_PROXY``, ...) the direct
    connection proves nothing, so it is not tried (None)."""
    if any(os.environ.get(name) for name in PROXY_VARS):
        return None
    from urllib.parse import urlsplit

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "huggingface.co", parts.port or (80 if parts.scheme == "http" else 443)
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot reach {host}:{port} ({type(exc).__name__}: {exc or 'no answer'})"


def download_gpt2_checkpoint(
    repo_id: str = GPT2_REPO,
    cache_dir: str | Path | None = None,
    *,
    fetch: Callable[..., str] | None = None,
    probe: Callable[[], str | None] | None = None,
) -> Path:
    """Download GPT-2's ``model.safetensors`` into the Hugging Face cache and return its path.

    ``fetch`` is ``huggingface_hub.hf_hub_download`` unless given (tests pass a fake). Raises
    :class:`PretrainedUnavailable` when ``HF_HUB_OFFLINE`` is set or the download fails. Before
    the real download, ``probe`` (``hub_reachable`` unless given) checks in a few seconds that
    the Hub can be reached at all, so that a machine without network fails at once with one
    plain line instead of many seconds of retry messages.
    """
    if hub_offline():
        raise PretrainedUnavailable(
            "HF_HUB_OFFLINE is set, so nothing is downloaded. Unset it where the network is "
            f"available, or put a GPT-2 {CHECKPOINT_FILE} somewhere and point ${ENV_VAR} at it."
        )
    if probe is None and fetch is None:
        probe = hub_reachable
    if probe is not None:
        problem = probe()
        if problem:
            raise PretrainedUnavailable(
                f"{problem}: no network here? Nothing was downloaded. Put a GPT-2 {CHECKPOINT_FILE} "
                f"on this machine and point ${ENV_VAR} at it, or download where the network is available."
            )
    if fetch is None:
        from huggingface_hub import hf_hub_download as fetch
    try:
        path = Path(fetch(repo_id=repo_id, filename=CHECKPOINT_FILE, cache_dir=cache_dir))
    except Exception as exc:  # noqa: BLE001 (network, proxy, disk: all mean "not here")
        raise PretrainedUnavailable(
            f"could not download {repo_id}/{CHECKPOINT_FILE}: {type(exc).__name__}: {exc}"
        ) from exc
    if not path.is_file():
        raise PretrainedUnavailable(f"the download of {repo_id}/{CHECKPOINT_FILE} left no file at {path}")
    return path


# --- stand-ins: the same format, random numbers ----------------------------------------------


def hf_gpt2_config(config):
    """The ``transformers.GPT2Config`` of the same shape as a course ``GPTConfig``.

    Dropout off and no end-of-text token, so that greedy ``generate`` runs for as many
    tokens as asked and matches the course's ``generate(..., top_k=1)``.
    """
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.context_length,
        n_embd=config.d_model,
        n_layer=config.num_layers,
        n_head=config.num_heads,
        layer_norm_epsilon=config.layer_norm_eps,
        activation_function="gelu_new",  # the tanh GELU GPT-2 was trained with
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=True,
    )


def make_standin_checkpoint(folder: str | Path, config, *, seed: int = 0, hub_style: bool = False) -> Path:
    """Save a randomly initialised ``GPT2LMHeadModel`` shaped like ``config`` into ``folder``.

    ``folder`` then holds what ``save_pretrained`` writes (``config.json``,
    ``model.safetensors``, ...) and ``GPT2LMHeadModel.from_pretrained(folder)`` loads it.
    ``save_pretrained`` names the tensors ``transformer.wte.weight``, ...; with
    ``hub_style=True`` the file is rewritten the way the Hub's GPT-2 file looks instead: no
    ``transformer.`` prefix, and a causal-mask buffer ``h.N.attn.bias`` in every block.
    Returns the path of ``model.safetensors``.
    """
    from safetensors.torch import load_file, save_file
    from transformers import GPT2LMHeadModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        model = GPT2LMHeadModel(hf_gpt2_config(config))
    model.save_pretrained(folder)
    del model
    path = folder / CHECKPOINT_FILE
    if hub_style:
        tensors = {key.removeprefix("transformer."): value for key, value in load_file(path).items()}
        C = config.context_length
        mask = torch.tril(torch.ones(C, C)).view(1, 1, C, C)  # a buffer, not a weight
        for i in range(config.num_layers):
            tensors[f"h.{i}.attn.bias"] = mask.clone()  # save_file wants separate storage
        tmp = path.with_suffix(".tmp")
        save_file(tensors, tmp, metadata={"format": "pt"})
        del tensors
        os.replace(tmp, path)
    return path
