"""Training a GPT: the loss of a batch, evaluation, one optimisation step, the loop, checkpoints.

    batch_loss         cross-entropy of every position's next-token prediction in a batch
    perplexity         exp(loss): "as unsure as a uniform pick among this many tokens"
    evaluate           mean batch loss on held-out batches: eval mode, no gradients, mode restored
    random_batch       a batch of random windows drawn with an explicit torch.Generator
    configure_adamw    AdamW with weight decay on matrices only (not on biases, LayerNorms)
    lr_at              learning rate at a step: linear warmup, then cosine decay to min_lr
    train_step         zero_grad -> forward -> backward -> clip the gradient norm -> step
    train              the loop: schedule, steps, periodic evaluation + a sample, progress bar
    save_checkpoint    model + optimizer + step + both random states, in one file
    load_checkpoint    ... and back, so that a resumed run repeats an uninterrupted one exactly

Batches are pairs ``(inputs, targets)`` of ``torch.long`` tensors of shape (B, T) where
``targets[b, t]`` is the token that follows ``inputs[b, t]`` (see ``dataset.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]

HISTORY_KEYS = ("step", "lr", "train_loss", "val_step", "val_loss", "samples")


def batch_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions at every position of a batch.

    inputs, targets: (B, T) token ids. Returns a 0-dim tensor (attached to the graph, so
    ``.backward()`` works). ``F.cross_entropy`` wants (N, vocab) scores and (N,) class ids,
    so batch and time are flattened into one axis of N = B * T predictions.
    """
    logits = model(inputs)  # (B, T, vocab)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())  # (B*T, vocab) vs (B*T,)


def perplexity(loss: float) -> float:
    """exp(mean cross-entropy). A model that spreads its bet evenly over k tokens has perplexity k."""
    return math.exp(loss)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch]) -> float:
    """Mean of ``batch_loss`` over ``batches``, in eval mode (no dropout) and without gradients.

    The model goes back to the mode it was in (train or eval) before returning.
    """
    was_training = model.training
    model.eval()
    try:
        losses = [batch_loss(model, inputs, targets).item() for inputs, targets in batches]
    finally:
        model.train(was_training)
    if not losses:
        raise ValueError("evaluate() got no batches")
    return sum(losses) / len(losses)


def random_batch(dataset, batch_size: int, generator: torch.Generator) -> Batch:
    """``batch_size`` windows of ``dataset`` picked at random (with replacement) -> (B, T) twice.

    The picks come from ``generator`` only, so saving ``generator.get_state()`` is enough to
    replay the same batches later (a DataLoader's position inside an epoch is harder to save).
    """
    picks = torch.randint(len(dataset), (batch_size,), generator=generator)  # (B,)
    inputs, targets = zip(*(dataset[i] for i in picks.tolist()))
    return torch.stack(inputs), torch.stack(targets)  # (B, T), (B, T)


def configure_adamw(
    model: nn.Module, lr: float, weight_decay: float = 0.1, betas: tuple[float, float] = (0.9, 0.95)
) -> torch.optim.AdamW:
    """AdamW with two parameter groups: weight decay for matrices (Linear, Embedding weights),
    none for vectors (biases, LayerNorm scales and shifts), as GPT-2 style training does.

    ``model.parameters()`` yields a tied weight once, so it lands in one group only.
    """
    matrices = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": matrices, "weight_decay": weight_decay},
        {"params": vectors, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(step: int, max_lr: float, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> float:
    """Learning rate for update number ``step`` (0-based).

    Steps 0 .. warmup_steps - 1 climb linearly to max_lr; then a half cosine brings it down
    to min_lr at step total_steps - 1; after that it stays at min_lr.
    """
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)  # 0 -> 1
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    max_grad_norm: float | None = 1.0,
) -> float:
    """One update on one batch; returns the batch loss (before the update) as a float.

    The gradients of earlier steps are cleared first, and the global gradient norm is clipped
    to ``max_grad_norm`` (None: no clipping) after ``backward()`` and before ``step()``.
    """
    optimizer.zero_grad(set_to_none=True)  # .grad would otherwise add up across steps
    loss = batch_loss(model, inputs, targets)
    loss.backward()  # fills p.grad for every parameter
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # rescales all grads together
    optimizer.step()  # p <- p - update(p.grad)
    return loss.item()


def new_history() -> dict[str, list]:
    """An empty record of a training run (see :func:`train`)."""
    return {key: [] for key in HISTORY_KEYS}


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    get_batch: Callable[[], Batch],
    val_batches: Iterable[Batch],
    num_steps: int,
    eval_every: int,
    max_grad_norm: float | None = 1.0,
    lr_schedule: Callable[[int], float] | None = None,
    sample: Callable[[nn.Module], str] | None = None,
    start_step: int = 0,
    history: dict[str, list] | None = None,
    progress: bool = True,
) -> dict[str, list]:
    """Run updates number start_step .. num_steps - 1 (0-based) in train mode; return the history.

    Each step: set every param group's lr to ``lr_schedule(step)`` (if given), draw
    ``get_batch()``, ``train_step``, record ``step + 1`` (updates done), the lr and the loss.
    After every ``eval_every``-th update (when ``(step + 1) % eval_every == 0``): record
    ``evaluate(model, val_batches)`` under ``val_step`` / ``val_loss`` and, if ``sample`` is
    given, ``(step + 1, sample(model))`` under ``samples`` (also printed).
    ``history``: the dict a previous call returned, to continue it (None: a new one).
    """
    history = new_history() if history is None else history
    for key in HISTORY_KEYS:
        history.setdefault(key, [])
    from tqdm.auto import tqdm  # a widget in Jupyter, a text bar in a terminal

    model.train()
    bar = tqdm(range(start_step, num_steps), initial=start_step, total=num_steps, desc="training",
               disable=not progress)
    for step in bar:
        if lr_schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_schedule(step)
        inputs, targets = get_batch()
        loss = train_step(model, optimizer, inputs, targets, max_grad_norm)
        history["step"].append(step + 1)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["train_loss"].append(loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        if (step + 1) % eval_every == 0:
            val_loss = evaluate(model, val_batches)
            history["val_step"].append(step + 1)
            history["val_loss"].append(val_loss)
            line = f"step {step + 1:5d} | train {loss:.3f} | val {val_loss:.3f}"
            if sample is not None:
                text = sample(model)
                history["samples"].append((step + 1, text))
                line += f" | {text!r}"
            if progress:
                bar.write(line)
    return history


def save_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
    data_generator: torch.Generator,
) -> None:
    """Write everything a run needs to continue exactly where it stopped.

    model and optimizer (AdamW's moving averages) state dicts, the number of updates done,
    the global torch random state (dropout) and ``data_generator``'s state (batch picks).
    """
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "torch_rng_state": torch.get_rng_state(),
            "data_rng_state": data_generator.get_state(),
        },
        path,
    )


def load_checkpoint(
    path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, data_generator: torch.Generator,
) -> int:
    """Restore what :func:`save_checkpoint` wrote into existing objects; return the step."""
    checkpoint = torch.load(path, weights_only=True)  # plain tensors and numbers only: safe to load
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng_state"])
    data_generator.set_state(checkpoint["data_rng_state"])
    return checkpoint["step"]
