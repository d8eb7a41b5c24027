"""Lesson 36, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.training`` withheld), and in the grader against the reference. No probe trains a GPT:
each runs a few steps of a fixed tiny stand-in language model (a token table, a position table
and a linear head, all set from the seed; with ``dropout`` it adds noise in train mode, so the
mode shows in the numbers). Each probe isolates one idea, like the test it stands behind:

- ``batch_loss``: the loss of seeded batches (B != T, one window, one position, vocabularies of
  seeded sizes), its shape, that it stays attached to the graph, and the gradient it gives;
- ``evaluate``: the mean loss, a Python float, from a list and from a one-pass generator, the
  mode during the forward passes (eval) and after (as it was: train, or eval), no autograd, one
  forward pass per batch;
- ``train_step``: three SGD steps each with max_grad_norm small (clipping on), None, and a seeded
  value: the losses returned and the parameters after (plain SGD shows every update);
- ``train``: the history of a short run (steps, lrs from a seeded schedule, losses, evaluations,
  samples), the weights after, the mode after (the model arrives in eval mode), nothing printed
  with progress=False, and a run continued with start_step and history;
- ``checkpoint``: 3 steps, save, disturb both random states, load into fresh objects, 3 more
  steps (dropout on, AdamW, batches from the saved generator): the losses against 6 steps in one
  go, the step returned, the weights and AdamW moments restored, a file torch.load(...,
  weights_only=True) reads as a dict.

While the evaluate, train_step and train probes run, correct versions of the earlier exercises
stand in for the student's (``batch_loss``; ``evaluate`` and ``train_step`` too for ``train``),
as the kernel's tests do; the checkpoint probe trains with the probes' own loop.

About SUBMISSIONS: Made-up submissions for lesson 36 (training loop and evaluation) that prove its grading.

One-bug mutants each lose exactly the points of the test cell written for that idea (the
tests of evaluate, train_step and train run with the reference versions of the earlier
exercises, so a bug does not cascade); the correct-but-different submissions score full
marks; tampering earns nothing it should not.
Run: python -m grader.acceptance 36-training-loop-eval
"""

from grader.proofs.submissions import Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _gen, _pick, _standing_in, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("batch_loss", "evaluate", "train_step", "train", "save_checkpoint", "load_checkpoint")

WITHHELD = ("training",)

SETUP = """\
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from gpt2ref import GPTConfig, GPTModel, SlidingWindowDataset, generate


# The helpers the notebook itself defines before the exercises (a solution may use them).
def random_batch(dataset, batch_size, generator):
    picks = torch.randint(len(dataset), (batch_size,), generator=generator)
    inputs, targets = zip(*(dataset[i] for i in picks.tolist()))
    return torch.stack(inputs), torch.stack(targets)


def grad_norm(model):
    return math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters() if p.grad is not None))


def configure_adamw(model, lr, weight_decay=0.1, betas=(0.9, 0.95)):
    matrices = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": weight_decay}, {"params": vectors, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(step, max_lr, warmup_steps, total_steps, min_lr=0.0):
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))
"""


def reference_namespace():
    from gpt2ref import training

    return {"batch_loss": training.batch_loss, "evaluate": training.evaluate, "train_step": training.train_step,
            "train": training.train, "save_checkpoint": training.save_checkpoint,
            "load_checkpoint": training.load_checkpoint}


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
import contextlib
import io
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class _TinyLM(nn.Module):
    """A fixed small language model: (B, T) ids -> (B, T, vocab) logits that depend on the token
    and its position; with dropout > 0, noise in train mode. Writes down, at every forward, its
    mode and whether autograd records."""

    def __init__(self, vocab, context, seed, dropout=0.0, width=6):
        super().__init__()
        g = _gen(seed, 99)
        self.tok = nn.Parameter(torch.randn(vocab, width, generator=g))
        self.pos = nn.Parameter(torch.randn(context, width, generator=g))
        self.scale = nn.Parameter(1 + 0.2 * torch.randn(width, generator=g))  # a vector (no weight decay)
        self.head = nn.Linear(width, vocab)
        with torch.no_grad():
            self.head.weight.copy_(torch.randn(vocab, width, generator=g))
            self.head.bias.copy_(0.3 * torch.randn(vocab, generator=g))
        self.drop = nn.Dropout(dropout)
        self.calls = []

    def forward(self, idx):
        self.calls.append((self.training, torch.is_grad_enabled()))
        h = torch.tanh(self.tok[idx] + self.pos[: idx.shape[1]]) * self.scale
        return self.head(self.drop(h))


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _batch(g, vocab, B, T):
    return torch.randint(0, vocab, (B, T), generator=g), torch.randint(0, vocab, (B, T), generator=g)


# --- correct versions of the exercises, standing in for the student's where another is probed -----

def _exact_batch_loss(model, inputs, targets):
    return F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())


def _exact_evaluate(model, batches):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            losses = [_exact_batch_loss(model, x, y).item() for x, y in batches]
    finally:
        model.train(was_training)
    return sum(losses) / len(losses)


def _exact_train_step(model, optimizer, inputs, targets, max_grad_norm=1.0):
    optimizer.zero_grad(set_to_none=True)
    loss = _exact_batch_loss(model, inputs, targets)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


# --- the probes ----------------------------------------------------------------------------------

@decides("test_batch_loss")
def probe_batch_loss(ns, seed):
    batch_loss = ns["batch_loss"]
    g = _gen(seed, 1)
    out = {}
    for i, (B, T) in enumerate(((_pick(g, 2, 4), _pick(g, 5, 9)), (1, _pick(g, 2, 9)), (_pick(g, 2, 5), 1))):
        vocab = _pick(g, 5, 60)
        model = _TinyLM(vocab, 10, seed + i)
        x, y = _batch(g, vocab, B, T)
        loss = batch_loss(model, x, y)
        out[f"shape{i}"] = list(loss.shape)
        out[f"attached{i}"] = bool(loss.requires_grad)
        out[f"loss{i}"] = loss.detach().double()
        loss.backward()
        grad = model.head.weight.grad
        out[f"grad{i}"] = grad if grad is not None else "no gradient reached the model"
    return out


@decides("test_evaluate")
def probe_evaluate(ns, seed):
    return _standing_in(ns, lambda: _evaluate(ns["evaluate"], seed), batch_loss=_exact_batch_loss)


def _evaluate(evaluate, seed):
    g = _gen(seed, 2)
    out = {}
    for i, arrives_training in enumerate((True, False, True)):
        vocab = _pick(g, 5, 40)
        model = _TinyLM(vocab, 12, seed + 10 + i, dropout=0.5).train(arrives_training)
        B, T = _pick(g, 1, 4), _pick(g, 2, 12)
        batches = [_batch(g, vocab, B, T) for _ in range(_pick(g, 2, 5))]
        # the last one: a one-pass generator without len()
        value = evaluate(model, batches if i < 2 else (pair for pair in batches))
        out[f"value{i}"] = float(value) if isinstance(value, (int, float)) else repr(value)[:80]
        out[f"python_float{i}"] = isinstance(value, float)
        out[f"mode_after{i}"] = model.training
        out[f"forwards{i}"] = len(model.calls)
        out[f"eval_mode_inside{i}"] = all(not training for training, _ in model.calls)
        out[f"no_autograd_inside{i}"] = all(not grad for _, grad in model.calls)
    return out


@decides("test_train_step")
def probe_train_step(ns, seed):
    return _standing_in(ns, lambda: _train_step(ns["train_step"], seed), batch_loss=_exact_batch_loss)


def _train_step(train_step, seed):
    g = _gen(seed, 3)
    out = {}
    for i, max_norm in enumerate((_pick(g, 1, 50) / 1000, None, [0.05, 0.2, 1.0, 5.0][_pick(g, 0, 3)])):
        vocab = _pick(g, 5, 40)
        model = _TinyLM(vocab, 10, seed + 20 + i)
        lr = [0.1, 0.3, 0.5][_pick(g, 0, 2)]
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)  # plain SGD: every update shows
        losses, floats = [], True
        B, T = _pick(g, 1, 4), _pick(g, 2, 10)
        for _ in range(3):
            x, y = _batch(g, vocab, B, T)
            loss = train_step(model, optimizer, x, y, max_grad_norm=max_norm)
            floats = floats and isinstance(loss, float)
            losses.append(float(loss))
        out[f"losses{i}"] = losses
        out[f"floats{i}"] = floats
        out[f"weights{i}"] = _flat(model)
    return out


def _setup(seed, salt, dropout=0.0, lr=1e-2):
    """A stand-in model, its AdamW, a data generator, a batch source from it and validation batches."""
    g = _gen(seed, salt)
    vocab = _pick(g, 6, 30)
    text = torch.randint(0, vocab, (120,), generator=g)
    B, T = _pick(g, 2, 4), _pick(g, 3, 8)
    model = _TinyLM(vocab, 8, seed + salt, dropout=dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    data = torch.Generator().manual_seed(seed + salt)

    def get_batch():
        starts = torch.randint(0, len(text) - T - 1, (B,), generator=data).tolist()
        return (torch.stack([text[s: s + T] for s in starts]), torch.stack([text[s + 1: s + T + 1] for s in starts]))

    val = [(text[k: k + T].reshape(1, T), text[k + 1: k + T + 1].reshape(1, T)) for k in (0, 40, 80)]
    return model, optimizer, data, get_batch, val


@decides("test_train")
def probe_train(ns, seed):
    return _standing_in(ns, lambda: _train(ns["train"], seed), batch_loss=_exact_batch_loss,
                        evaluate=_exact_evaluate, train_step=_exact_train_step)


def _train(train, seed):
    g = _gen(seed, 4)
    num_steps, eval_every = _pick(g, 5, 8), _pick(g, 2, 3)
    base = [3e-3, 1e-2, 3e-2][_pick(g, 0, 2)]
    rates = [base * (1 + _pick(g, 0, 9)) / 5 for _ in range(num_steps)]  # a seeded schedule

    def schedule(step):
        return rates[step]

    out = {}
    calls = []

    def sample(model):
        calls.append(1)
        return f"sample {len(calls)} of seed {seed}"

    model, optimizer, _, get_batch, val = _setup(seed, 41, dropout=0.3)
    model.eval()  # train() must switch to train mode itself
    printed = io.StringIO()
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = train(model, optimizer, get_batch, val, num_steps, eval_every,
                        max_grad_norm=[0.05, 0.5, None][_pick(g, 0, 2)], lr_schedule=schedule, sample=sample,
                        progress=False)
    out["printed_nothing"] = printed.getvalue() == ""
    out["step"] = [int(s) for s in history["step"]]
    out["lr"] = [float(v) for v in history["lr"]]
    out["train_loss"] = [float(v) for v in history["train_loss"]]
    out["val_step"] = [int(s) for s in history["val_step"]]
    out["val_loss"] = [float(v) for v in history["val_loss"]]
    out["samples"] = [[int(s), str(text)] for s, text in history["samples"]]
    out["mode_after"] = model.training
    out["weights"] = _flat(model)

    # stopped and continued with start_step and history: as one run (default lr and max_grad_norm)
    model, optimizer, _, get_batch, val = _setup(seed, 42, dropout=0.3)
    cut = _pick(g, 1, num_steps - 1)
    torch.manual_seed(seed + 1)
    first = train(model, optimizer, get_batch, val, cut, eval_every, progress=False)
    both = train(model, optimizer, get_batch, val, num_steps, eval_every, start_step=cut, history=first,
                 progress=False)
    out["same_dict"] = both is first
    out["continued_step"] = [int(s) for s in both["step"]]
    out["continued_val_step"] = [int(s) for s in both["val_step"]]
    out["continued_loss"] = [float(v) for v in both["train_loss"]]
    out["continued_weights"] = _flat(model)
    return out


def _loop(model, optimizer, get_batch, steps):
    model.train()
    return [_exact_train_step(model, optimizer, *get_batch()) for _ in range(steps)]


@decides("test_checkpoint")
def probe_checkpoint(ns, seed):
    save, load = ns["save_checkpoint"], ns["load_checkpoint"]
    folder = Path(tempfile.mkdtemp(prefix="probe-checkpoint-"))
    try:
        path = folder / f"run-{seed % 1000}.pt"
        torch.manual_seed(seed)
        model, optimizer, data, get_batch, _ = _setup(seed, 51, dropout=0.3, lr=2e-2)
        first = _loop(model, optimizer, get_batch, 3)
        step = 3 + seed % 5  # the number saved need not match the steps run
        save(path, model, optimizer, step, data)
        plain = torch.load(path, weights_only=True)
        torch.rand(13)  # something else happens in between: both random states move on
        torch.rand(7, generator=data)
        fresh, fresh_optimizer, fresh_data, fresh_batch, _ = _setup(seed, 51, dropout=0.3, lr=2e-2)
        with torch.no_grad():
            for p in fresh.parameters():
                p.add_(1.0)  # other weights
        torch.manual_seed(seed + 99)
        returned = load(path, fresh, fresh_optimizer, fresh_data)
        weights = _flat(fresh)
        moments = [t for state in fresh_optimizer.state_dict()["state"].values()
                   for t in (state.get("exp_avg"), state.get("exp_avg_sq")) if t is not None]
        second = _loop(fresh, fresh_optimizer, fresh_batch, 3)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"step": returned if isinstance(returned, int) and not isinstance(returned, bool) else repr(returned)[:80],
            "plain_dict": isinstance(plain, dict), "weights": weights,
            "moments": torch.cat([m.flatten() for m in moments]) if moments else "no AdamW state",
            "losses": first + second}


# === made-up submissions that prove the grading ===

LOSS = "return F.cross_entropy(logits.flatten(0, 1), targets.flatten())  # (B*T, V) vs (B*T,)"
NO_GRAD = "        with torch.no_grad():\n            losses = ["
RESTORE = "    finally:\n        model.train(was_training)"
ZERO_GRAD = "    optimizer.zero_grad(set_to_none=True)  # .grad would otherwise add up across steps\n"
CLIP_THEN_STEP = (
    "    if max_grad_norm is not None:\n"
    "        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # after backward, before step\n"
    "    optimizer.step()\n"
)
EVAL_WHEN = "        if (step + 1) % eval_every == 0:\n            val_loss"
SET_LR = (
    "        if lr_schedule is not None:\n"
    "            for group in optimizer.param_groups:\n"
    "                group[\"lr\"] = lr_schedule(step)\n"
)
NEW_HISTORY = "    if history is None:\n        history = {key"
SAVE_OPTIMIZER = '            "optimizer": optimizer.state_dict(),\n'
LOAD_OPTIMIZER = '    optimizer.load_state_dict(checkpoint["optimizer"])\n'
SAVE_RNG = '            "torch_rng_state": torch.get_rng_state(),\n'
LOAD_RNG = '    torch.set_rng_state(checkpoint["torch_rng_state"])\n'
SAVE_DATA_RNG = '            "data_rng_state": data_generator.get_state(),\n'
LOAD_DATA_RNG = '    data_generator.set_state(checkpoint["data_rng_state"])\n'

BATCH_LOSS_LOG_SOFTMAX = '''\
def batch_loss(model, inputs, targets):
    """Log-probabilities over the vocabulary; pick each target's, no flattening."""
    log_probs = torch.log_softmax(model(inputs), dim=-1)  # (B, T, V)
    picked = log_probs.gather(-1, targets.unsqueeze(-1))  # (B, T, 1)
    return -picked.mean()
'''

BATCH_LOSS_CLASSES_ON_DIM_1 = '''\
def batch_loss(model, inputs, targets):
    # F.cross_entropy also takes (B, V, T) scores with (B, T) targets: move the classes to dim 1.
    return F.cross_entropy(model(inputs).transpose(1, 2), targets)
'''

EVALUATE_DECORATED = '''\
@torch.no_grad()
def evaluate(model, batches):
    mode = model.training
    model.eval()
    total, count = torch.zeros((), dtype=torch.float64), 0
    for inputs, targets in batches:
        total += batch_loss(model, inputs, targets).double()
        count += 1
    if mode:
        model.train()
    return (total / count).item()
'''

TRAIN_STEP_MANUAL_CLIP = '''\
def train_step(model, optimizer, inputs, targets, max_grad_norm=1.0):
    loss = batch_loss(model, inputs, targets)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if max_grad_norm is not None:
        total = torch.sqrt(sum((g.detach().double() ** 2).sum() for g in grads))
        factor = min(1.0, max_grad_norm / (float(total) + 1e-6))
        for g in grads:
            g.mul_(factor)
    optimizer.step()
    optimizer.zero_grad()  # cleared after the update instead of before the next one
    return float(loss)
'''

TRAIN_WHILE_LOOP = '''\
def train(model, optimizer, get_batch, val_batches, num_steps, eval_every, max_grad_norm=1.0,
          lr_schedule=None, sample=None, start_step=0, history=None, progress=True):
    history = {} if history is None else history
    for key in ("step", "lr", "train_loss", "val_step", "val_loss", "samples"):
        history.setdefault(key, [])
    model.train(True)
    bar = tqdm(total=num_steps, initial=start_step, disable=not progress)
    done = start_step
    while done < num_steps:
        if lr_schedule:
            for group in optimizer.param_groups:
                group.update(lr=lr_schedule(done))
        x, y = get_batch()
        loss = train_step(model, optimizer, x, y, max_grad_norm=max_grad_norm)
        done += 1
        history["step"].append(done)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["train_loss"].append(loss)
        bar.update(1)
        bar.set_postfix(loss=round(loss, 3))
        if done % eval_every == 0:
            history["val_step"].append(done)
            history["val_loss"].append(evaluate(model, val_batches))
            if sample:
                history["samples"].append((done, sample(model)))
            if progress:
                print(f"after {done} updates: validation loss {history['val_loss'][-1]:.3f}")
    bar.close()
    return history
'''

CHECKPOINT_NESTED = '''\
def save_checkpoint(path, model, optimizer, step, data_generator):
    torch.save({
        "weights": {name: t.clone() for name, t in model.state_dict().items()},
        "adamw": optimizer.state_dict(),
        "meta": {"updates": torch.tensor(step)},
        "random": {"cpu": torch.get_rng_state().clone(), "data": data_generator.get_state()},
    }, str(path))


def load_checkpoint(path, model, optimizer, data_generator):
    saved = torch.load(str(path), weights_only=True)
    model.load_state_dict(saved["weights"])
    optimizer.load_state_dict(saved["adamw"])
    data_generator.set_state(saved["random"]["data"])
    torch.set_rng_state(saved["random"]["cpu"])
    return int(saved["meta"]["updates"])
'''

SUBMISSIONS = [
    # --- one bug each ---------------------------------------------------------------------
    Submission("loss-unflattened", fails={"test_batch_loss"}, why="(B, T, V) logits straight into F.cross_entropy",
               edits={"batch_loss": [(LOSS, "return F.cross_entropy(logits, targets)")]}),
    Submission("loss-shifted-again", fails={"test_batch_loss"},
               why="shifts the already shifted targets once more (drops a position, pairs t with t + 2)",
               edits={"batch_loss": [(LOSS, "return F.cross_entropy(logits[:, :-1].flatten(0, 1), "
                                            "targets[:, 1:].flatten())")]}),
    Submission("loss-misaligned-flatten", fails={"test_batch_loss"},
               why="logits flattened time-major, targets batch-major: predictions meet the wrong targets",
               edits={"batch_loss": [(LOSS, "return F.cross_entropy(logits.transpose(0, 1).flatten(0, 1), "
                                            "targets.flatten())")]}),
    Submission("eval-stays-in-eval-mode", fails={"test_evaluate"}, why="never switches back to train mode",
               edits={"evaluate": [(RESTORE, "    finally:\n        pass")]}),
    Submission("eval-always-train", fails={"test_evaluate"},
               why="ends with model.train() even when the model came in eval mode",
               edits={"evaluate": [(RESTORE, "    finally:\n        model.train()")]}),
    Submission("eval-tracks-gradients", fails={"test_evaluate"}, why="no torch.no_grad(): autograd records",
               edits={"evaluate": [(NO_GRAD, "        if True:\n            losses = [")]}),
    Submission("eval-needs-len", fails={"test_evaluate"},
               why="divides by len(batches): right for a list, a TypeError for a generator or other one-pass iterable",
               edits={"evaluate": [("return sum(losses) / len(losses)", "return sum(losses) / len(batches)")]}),
    Submission("step-no-zero-grad", fails={"test_train_step"}, why="gradients add up across steps",
               edits={"train_step": [(ZERO_GRAD, "")]}),
    Submission("step-clips-after-step", fails={"test_train_step"}, why="clipping edits .grad after it was used",
               edits={"train_step": [(CLIP_THEN_STEP,
                                      "    optimizer.step()\n"
                                      "    if max_grad_norm is not None:\n"
                                      "        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)\n")]}),
    Submission("step-no-clipping", fails={"test_train_step"}, why="max_grad_norm ignored",
               edits={"train_step": [(CLIP_THEN_STEP, "    optimizer.step()\n")]}),
    Submission("train-evaluates-off-by-one", fails={"test_train"},
               why="evaluates after updates 1, 4, ... (step % eval_every) instead of 3, 6, ...",
               edits={"train": [(EVAL_WHEN, "        if step % eval_every == 0:\n            val_loss")]}),
    Submission("train-ignores-schedule", fails={"test_train"}, why="the learning rate never follows lr_schedule",
               edits={"train": [(SET_LR, "")]}),
    Submission("train-forgets-history", fails={"test_train"}, why="a continued run starts a new history",
               edits={"train": [(NEW_HISTORY, "    if True:\n        history = {key")]}),
    Submission("train-prints-when-quiet", fails={"test_train"},
               why="writes the evaluation line even with progress=False",
               edits={"train": [("            if progress:\n                bar.write(line)\n",
                                 "            bar.write(line)\n")]}),
    Submission("train-no-train-mode", fails={"test_train"}, why="trains in whatever mode the model arrived in",
               edits={"train": [("    model.train()\n", "")]}),
    Submission("checkpoint-without-optimizer", fails={"test_checkpoint"}, why="AdamW restarts from zero moments",
               edits={"checkpoint": [(SAVE_OPTIMIZER, ""), (LOAD_OPTIMIZER, "")]}),
    Submission("checkpoint-without-torch-rng", fails={"test_checkpoint"}, why="dropout masks differ after resuming",
               edits={"checkpoint": [(SAVE_RNG, ""), (LOAD_RNG, "")]}),
    Submission("checkpoint-without-data-rng", fails={"test_checkpoint"}, why="other batches after resuming",
               edits={"checkpoint": [(SAVE_DATA_RNG, ""), (LOAD_DATA_RNG, "")]}),
    # --- correct, written differently: full marks ---------------------------------------------
    Submission("log-softmax-decorator-manual-clip", fails=set(),
               why="gather on log_softmax; @torch.no_grad evaluate; hand-written clipping, zero_grad after step",
               cells={"batch_loss": BATCH_LOSS_LOG_SOFTMAX, "evaluate": EVALUATE_DECORATED,
                      "train_step": TRAIN_STEP_MANUAL_CLIP}),
    Submission("classes-on-dim-1-while-loop-nested-checkpoint", fails=set(),
               why="(B, V, T) cross-entropy; a while loop with print; checkpoint with its own layout",
               cells={"batch_loss": BATCH_LOSS_CLASSES_ON_DIM_1, "train": TRAIN_WHILE_LOOP,
                      "checkpoint": CHECKPOINT_NESTED}),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("step-no-clipping", closeness="loss-misaligned-flatten")
