"""Made-up submissions for lesson 36 (training loop and evaluation) that prove its grading.

One-bug mutants each lose exactly the points of the test cell written for that idea (the
tests of evaluate, train_step and train run with the reference versions of the earlier
exercises, so a bug does not cascade); the correct-but-different submissions score full
marks; tampering earns nothing it should not.
Run: python -m grader.acceptance 36-training-loop-eval
"""

from grader.submissions import ALL_TESTS, Submission

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
    # --- tampering -------------------------------------------------------------------------------
    Submission("tamper-pass-loss-test", fails={"test_batch_loss"},
               why="a constant loss, and the loss test retyped to `pass` (restored by nbgrader)",
               cells={"batch_loss": "def batch_loss(model, inputs, targets):\n"
                                    "    return torch.zeros((), requires_grad=True)\n",
                      "test_batch_loss": "pass"}),
    Submission("tamper-delete-evaluate-test", fails={"test_evaluate"},
               why="never restores train mode, and the evaluate test deleted (re-added by nbgrader)",
               edits={"evaluate": [(RESTORE, "    finally:\n        pass")]}, delete=["test_evaluate"]),
    Submission("neuters-the-checks", fails={"test_train_step"}, flagged=True, review={"outside check"},
               why="no clipping, and course.checks' expect_close replaced by a no-op: the step test passes in the "
                   "kernel; the outside check finds the unclipped updates (0 points, NEEDS REVIEW), the scan reports it",
               edits={"train_step": [("def train_step(", "import course.checks\n"
                                                         "course.checks.expect_close = lambda *a, **k: None\n\n\n"
                                                         "def train_step("),
                                     (CLIP_THEN_STEP, "    optimizer.step()\n")]}),
    Submission("patches-torch-indirectly", fails={"test_batch_loss"}, review={"outside check"},
               why="logits flattened time-major against batch-major targets, and Tensor.any patched through importlib "
                   "so that every closeness check passes in the kernel; the outside check finds the wrong loss",
               edits={"batch_loss": [(LOSS, "return F.cross_entropy(logits.transpose(0, 1).flatten(0, 1), "
                                            "targets.flatten())"),
                                     ("def batch_loss(", "import importlib\nsetattr(importlib.import_module('tor' + 'ch')"
                                                         ".Tensor, 'an' + 'y', lambda self, *a, **k: False)\n\n\n"
                                                         "def batch_loss(")]}),
    Submission("reference-in-disguise", fails=ALL_TESTS, why="hands every answer to gpt2ref",
               cells={"batch_loss": "from gpt2ref.training import batch_loss\n",
                      "evaluate": "import gpt2ref.training as _t\n\n\ndef evaluate(model, batches):\n"
                                  "    return _t.evaluate(model, batches)\n",
                      "train_step": "from gpt2ref import training\n\ntrain_step = training.train_step\n",
                      "train": "from gpt2ref.training import train as _train\n\n\n"
                               "def train(*args, **kwargs):\n    return _train(*args, **kwargs)\n",
                      "checkpoint": "from gpt2ref.training import save_checkpoint, load_checkpoint\n"}),
]
