"""gpt2ref.training: the loss, evaluation, the update step, the loop and checkpoints.

Expected values come from independent computations: log-softmax + gather written out,
gradients taken by autograd on a copy and clipped by hand, losses of a hand-written loop.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from gpt2ref import GPTConfig, GPTModel, SlidingWindowDataset
from gpt2ref.training import (
    HISTORY_KEYS,
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

CFG = GPTConfig(vocab_size=23, context_length=8, d_model=16, num_heads=2, num_layers=2, dropout=0.0)


def tiny_model(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return GPTModel(GPTConfig(**{**CFG.__dict__, "dropout": dropout}))


def batch(seed=1, B=3, T=8, vocab=23):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(vocab, (B, T), generator=g), torch.randint(vocab, (B, T), generator=g)


def manual_cross_entropy(logits, targets):
    """Mean of -log softmax(logits)[target] over every position, written out."""
    log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)  # (B, T, V)
    picked = log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return -picked.mean()


class Probe(nn.Module):
    """Wraps a model and records, for every forward, its mode and whether autograd records."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.seen = []

    def forward(self, idx):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.model(idx)


# --- batch_loss, perplexity ---------------------------------------------------------------


def test_batch_loss_is_the_mean_next_token_cross_entropy_over_every_position():
    model = tiny_model()
    inputs, targets = batch()
    loss = batch_loss(model, inputs, targets)
    assert loss.dim() == 0 and loss.requires_grad
    with torch.no_grad():
        expected = manual_cross_entropy(model(inputs), targets)
    torch.testing.assert_close(loss.detach(), expected, atol=1e-6, rtol=0)


def test_batch_loss_depends_on_which_target_sits_at_which_position():
    model = tiny_model()
    inputs, targets = batch(B=2)
    with torch.no_grad():
        swapped = targets.flip(0)  # the same targets, rows exchanged
        assert not torch.isclose(batch_loss(model, inputs, targets), batch_loss(model, inputs, swapped))


def test_uniform_prediction_has_loss_log_vocab_and_perplexity_vocab():
    class Uniform(nn.Module):
        def forward(self, idx):
            return torch.zeros(*idx.shape, 50)

    inputs, targets = batch(vocab=50)
    loss = batch_loss(Uniform(), inputs, targets).item()
    assert loss == pytest.approx(math.log(50), abs=1e-6)
    assert perplexity(loss) == pytest.approx(50.0, rel=1e-6)


# --- evaluate -----------------------------------------------------------------------------


@pytest.mark.parametrize("start_training", [True, False])
def test_evaluate_runs_in_eval_mode_without_gradients_and_restores_the_mode(start_training):
    probe = Probe(tiny_model(dropout=0.5))
    probe.train(start_training)
    batches = [batch(seed=s) for s in range(3)]
    value = evaluate(probe, batches)
    assert probe.training is start_training and probe.model.training is start_training
    assert probe.seen == [(False, False)] * 3
    probe.eval()
    with torch.no_grad():
        expected = sum(manual_cross_entropy(probe.model(x), y).item() for x, y in batches) / 3
    assert isinstance(value, float)
    assert value == pytest.approx(expected, abs=1e-6)


def test_evaluate_restores_the_mode_when_the_model_fails():
    class Broken(nn.Module):
        def forward(self, idx):
            raise RuntimeError("boom")

    model = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, [batch()])
    assert model.training


def test_evaluate_without_batches_is_an_error():
    with pytest.raises(ValueError, match="no batches"):
        evaluate(tiny_model(), [])


# --- data, optimizer, schedule -------------------------------------------------------------


def test_random_batch_draws_shifted_windows_from_its_own_generator_only():
    stream = torch.arange(100) * 7 % 23
    data = SlidingWindowDataset(stream, max_length=8, stride=1)
    torch.manual_seed(123)
    global_before = torch.get_rng_state()
    g = torch.Generator().manual_seed(5)
    state = g.get_state()
    x, y = random_batch(data, 6, g)
    assert x.shape == y.shape == (6, 8) and x.dtype == torch.long
    assert torch.equal(torch.get_rng_state(), global_before), "the global random state is untouched"
    for row_x, row_y in zip(x, y):
        start = int(torch.nonzero((stream.unfold(0, 8, 1) == row_x).all(dim=1))[0])
        assert torch.equal(row_y, stream[start + 1 : start + 9])
    g.set_state(state)
    x2, y2 = random_batch(data, 6, g)
    assert torch.equal(x, x2) and torch.equal(y, y2), "same generator state, same batch"


def test_adamw_decays_matrices_only_and_holds_each_parameter_once():
    model = tiny_model()
    opt = configure_adamw(model, lr=1e-3, weight_decay=0.1)
    assert isinstance(opt, torch.optim.AdamW)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] == 0.1 for p in g["params"]}
    plain = {id(p) for g in opt.param_groups if g["weight_decay"] == 0.0 for p in g["params"]}
    all_params = [p for g in opt.param_groups for p in g["params"]]
    assert len(all_params) == len({id(p) for p in all_params}) == len(list(model.parameters()))
    for name, p in model.named_parameters():
        if name.endswith(".bias") or "norm" in name:
            assert id(p) in plain, name
        else:
            assert id(p) in decayed, name
    assert id(model.lm_head.weight) in decayed  # tied to tok_embed.weight: one tensor, listed once


def test_lr_warms_up_linearly_then_follows_a_half_cosine_to_min_lr():
    kw = dict(max_lr=1.0, warmup_steps=4, total_steps=14, min_lr=0.1)
    assert [lr_at(s, **kw) for s in range(4)] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    decay = [lr_at(s, **kw) for s in range(4, 14)]
    assert decay[0] == pytest.approx(1.0) and decay[-1] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(decay, decay[1:]))
    middle = 4 + (14 - 1 - 4) / 2  # halfway through the decay: cos(pi/2) = 0
    assert lr_at(middle, **kw) == pytest.approx(0.55)
    assert lr_at(100, **kw) == pytest.approx(0.1)


# --- train_step ---------------------------------------------------------------------------


def clipped_gradients(model, inputs, targets, max_norm):
    """Gradients of the mean cross-entropy at the model's current weights, clipped by hand."""
    clone = copy.deepcopy(model)
    loss = manual_cross_entropy(clone(inputs), targets)
    grads = torch.autograd.grad(loss, list(clone.parameters()))
    if max_norm is not None:
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        scale = min(1.0, max_norm / (norm + 1e-6))
        grads = [g * scale for g in grads]
    return loss.item(), grads


@pytest.mark.parametrize("max_norm", [0.05, None])
def test_train_step_applies_one_clipped_gradient_per_call(max_norm):
    model = tiny_model()
    lr = 0.5
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for seed in (1, 2):  # the second call must not add the first call's gradient
        inputs, targets = batch(seed=seed)
        before = [p.detach().clone() for p in model.parameters()]
        expected_loss, grads = clipped_gradients(model, inputs, targets, max_norm)
        loss = train_step(model, opt, inputs, targets, max_grad_norm=max_norm)
        assert isinstance(loss, float) and loss == pytest.approx(expected_loss, abs=1e-6)
        for p, p0, g in zip(model.parameters(), before, grads):
            torch.testing.assert_close(p.detach(), p0 - lr * g, atol=1e-6, rtol=0)


# --- train ----------------------------------------------------------------------------------


def learnable_setup(seed=0, dropout=0.0):
    """A model, AdamW, a batch source and validation batches over a repeating token pattern."""
    stream = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9] * 20)
    data = SlidingWindowDataset(stream, max_length=8, stride=1)
    model = tiny_model(seed, dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed + 1)
    val = [(torch.stack([data[i][0] for i in range(k, k + 4)]), torch.stack([data[i][1] for i in range(k, k + 4)]))
           for k in (0, 40)]
    return model, opt, (lambda: random_batch(data, 4, g)), val, g


def test_train_matches_a_hand_written_loop_and_evaluates_every_eval_every_steps():
    schedule = lambda step: 1e-2 * (step + 1) / 6  # noqa: E731
    model, opt, get_batch, val, _ = learnable_setup()
    model.eval()  # train() must switch to train mode itself
    seen = []
    history = train(model, opt, get_batch, val, num_steps=6, eval_every=3, max_grad_norm=1.0,
                    lr_schedule=schedule, sample=lambda m: seen.append(m.training) or f"s{len(seen)}",
                    progress=False)

    ref_model, ref_opt, ref_batch, ref_val, _ = learnable_setup()
    ref_model.train()
    losses, val_losses = [], []
    for step in range(6):
        for group in ref_opt.param_groups:
            group["lr"] = schedule(step)
        x, y = ref_batch()
        loss = manual_cross_entropy(ref_model(x), y)
        ref_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(ref_model.parameters(), 1.0)
        ref_opt.step()
        losses.append(loss.item())
        if (step + 1) % 3 == 0:
            with torch.no_grad():
                ref_model.eval()
                val_losses.append(sum(manual_cross_entropy(ref_model(a), b).item() for a, b in ref_val) / 2)
                ref_model.train()

    assert set(history) >= set(HISTORY_KEYS)
    assert history["step"] == [1, 2, 3, 4, 5, 6]
    assert history["train_loss"] == pytest.approx(losses, abs=1e-5)
    assert history["lr"] == pytest.approx([schedule(s) for s in range(6)])
    assert history["val_step"] == [3, 6]
    assert history["val_loss"] == pytest.approx(val_losses, abs=1e-5)
    assert history["samples"] == [(3, "s1"), (6, "s2")]
    assert model.training, "the model is back in train mode after evaluating and sampling"
    for p, q in zip(model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=0)


def test_sixty_updates_learn_a_repeating_pattern():
    model, opt, get_batch, val, _ = learnable_setup()
    before = evaluate(model, val)
    history = train(model, opt, get_batch, val, num_steps=60, eval_every=30, progress=False)
    assert before > 2.5
    assert history["val_loss"][-1] < 0.5 * before
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_train_continues_a_history_when_started_at_a_later_step():
    straight_model, opt, get_batch, val, _ = learnable_setup()
    straight = train(straight_model, opt, get_batch, val, num_steps=6, eval_every=2, progress=False)
    model, opt, get_batch, val, _ = learnable_setup()
    part = train(model, opt, get_batch, val, num_steps=3, eval_every=2, progress=False)
    both = train(model, opt, get_batch, val, num_steps=6, eval_every=2, start_step=3, history=part, progress=False)
    assert both is part
    assert both["step"] == straight["step"] and both["val_step"] == straight["val_step"] == [2, 4, 6]
    assert both["train_loss"] == straight["train_loss"]


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_round_trip_restores_weights_optimizer_step_and_random_states(tmp_path):
    model, opt, get_batch, val, g = learnable_setup()
    train(model, opt, get_batch, val, num_steps=3, eval_every=10, progress=False)
    path = tmp_path / "ckpt.pt"
    torch.manual_seed(77)
    save_checkpoint(path, model, opt, 3, g)
    next_global, next_data = torch.rand(4), torch.rand(4, generator=g)

    fresh_model, fresh_opt, _, _, fresh_g = learnable_setup(seed=9)
    torch.manual_seed(5)
    step = load_checkpoint(path, fresh_model, fresh_opt, fresh_g)
    assert step == 3
    assert torch.equal(torch.rand(4), next_global) and torch.equal(torch.rand(4, generator=fresh_g), next_data)
    x = torch.tensor([[3, 1, 4, 1, 5]])
    model.eval(), fresh_model.eval()
    with torch.no_grad():
        assert torch.equal(fresh_model(x), model(x))
    state, fresh_state = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert state.keys() == fresh_state.keys()
    for key in state:
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(fresh_state[key][name], state[key][name])
    assert isinstance(torch.load(path, weights_only=True), dict)


def test_resuming_from_a_checkpoint_repeats_the_uninterrupted_run_with_dropout(tmp_path):
    straight_model, opt, get_batch, val, _ = learnable_setup(dropout=0.3)
    straight = train(straight_model, opt, get_batch, val, num_steps=8, eval_every=4, progress=False)

    model, opt, get_batch, val, g = learnable_setup(dropout=0.3)
    first = train(model, opt, get_batch, val, num_steps=4, eval_every=4, progress=False)
    save_checkpoint(tmp_path / "half.pt", model, opt, 4, g)
    torch.rand(100)  # anything may happen in between (another cell, a restarted kernel)

    model, opt, get_batch, val, g = learnable_setup(seed=3, dropout=0.3)
    step = load_checkpoint(tmp_path / "half.pt", model, opt, g)
    second = train(model, opt, get_batch, val, num_steps=8, eval_every=4, start_step=step, progress=False)
    assert first["train_loss"] + second["train_loss"] == straight["train_loss"]
    assert first["val_loss"] + second["val_loss"] == straight["val_loss"]
