"""course.checks: the messages students read when a test cell fails."""

from __future__ import annotations

import pytest
import torch

import gpt2ref as ref
from course.checks import (
    CheckFailed,
    expect,
    expect_close,
    expect_equal,
    expect_no_calls,
    expect_own_implementation,
    expect_raises,
    expect_shape,
    expect_tensor_equal,
)
from gpt2ref import GPTModel as AliasedGPTModel
from gpt2ref import count_parameters as aliased_count


def message(action) -> str:
    with pytest.raises(CheckFailed) as info:
        action()
    assert isinstance(info.value, AssertionError), "nbgrader scores AssertionError as a failed test"
    return str(info.value)


def test_equal_says_expected_got_and_the_likely_cause():
    text = message(lambda: expect_equal(3, 4, "count_parameters(model)", hint="tied weights count once"))
    assert text == "count_parameters(model): expected 4, got 3.\nLikely cause: tied weights count once"
    expect_equal(torch.Size([2, 3]), (2, 3), "shape")  # passes: sizes compare as tuples


def test_shape_and_type():
    assert "expected shape (2, 4), got (2, 3)" in message(lambda: expect_shape(torch.ones(2, 3), (2, 4), "logits"))
    assert "expected a Tensor, got list" in message(lambda: expect_shape([1, 2], (2,), "ids"))


def test_close_reports_the_worst_entry():
    got = torch.zeros(2, 3)
    got[1, 2] = 0.5
    text = message(lambda: expect_close(got, torch.zeros(2, 3), "output", atol=1e-3))
    assert "1 of 6 values differ by more than 0.001" in text and "index (1, 2)" in text and "got 0.5" in text
    expect_close(torch.tensor([float("-inf"), 1.0]), torch.tensor([float("-inf"), 1.0]), "masked")
    assert "NaN" in message(lambda: expect_close(torch.tensor([float("nan")]), torch.tensor([0.0]), "x"))


def test_tensor_equal_names_the_first_difference():
    text = message(lambda: expect_tensor_equal(torch.tensor([1, 2, 3]), torch.tensor([1, 5, 3]), "ids"))
    assert "1 of 3 entries differ; first at index (1,): expected 5, got 2" in text


def test_raises():
    expect_raises(ValueError, lambda: int("x"), "int('x')")
    assert "nothing was raised" in message(lambda: expect_raises(ValueError, lambda: 1, "f()"))
    assert "expected ValueError, got KeyError" in message(lambda: expect_raises(ValueError, lambda: {}["k"], "f()"))
    assert "should mention ['1024']" in message(
        lambda: expect_raises(ValueError, lambda: (_ for _ in ()).throw(ValueError("too long")), "forward",
                              message_contains=["1024"]))


def test_expect():
    expect(True, "x")
    assert message(lambda: expect(False, "tying", "lm_head.weight is a copy", hint="assign the Parameter")) == \
        "tying: lm_head.weight is a copy\nLikely cause: assign the Parameter"


FORBIDDEN = [ref.GPTModel, ref.count_parameters, ref.generate, ref.top_k_filter]


def own_count(model):
    return sum(p.numel() for p in model.parameters())


def count_via_alias(model):
    return aliased_count(model)


def count_via_module(model):
    return ref.count_parameters(model)


def count_via_import_inside(model):
    import gpt2ref

    return gpt2ref.count_parameters(model)


class Subclass(AliasedGPTModel):
    pass


class Wrapper(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.inner = ref.GPTModel(config)


class UsesAllowedParts(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.blocks = torch.nn.ModuleList(ref.TransformerBlock(config) for _ in range(2))


@pytest.mark.parametrize("answer, fragment", [
    (ref.count_parameters, "is the reference implementation itself"),
    (count_via_alias, "calls the reference aliased_count"),
    (count_via_module, "calls ref.count_parameters from the reference"),
    (count_via_import_inside, "reaches into the reference module"),
    (Subclass, "inherits from the reference GPTModel"),
    (Wrapper, "calls ref.GPTModel from the reference"),
])
def test_handing_the_work_to_the_reference_fails(answer, fragment):
    assert fragment in message(lambda: expect_own_implementation(answer, FORBIDDEN, "answer"))


@pytest.mark.parametrize("answer", [own_count, UsesAllowedParts])
def test_own_work_and_allowed_parts_pass(answer):
    expect_own_implementation(answer, FORBIDDEN, "answer")


def test_no_calls_to_builtins_the_exercise_replaces():
    class WrapsTorch(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.layer_norm(x, x.shape[-1:])

    class ByHand(torch.nn.Module):
        def forward(self, x):
            return (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + 1e-5)

    assert "uses layer_norm (in" in message(lambda: expect_no_calls(WrapsTorch, {"layer_norm"}, "LayerNorm"))
    expect_no_calls(ByHand, {"layer_norm"}, "LayerNorm")
