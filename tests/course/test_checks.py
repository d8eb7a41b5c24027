"""course.checks: the messages students read when a test cell fails."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import gpt2ref as ref
from course.checks import (
    GRADED,
    CheckFailed,
    expect,
    expect_close,
    expect_equal,
    expect_no_calls,
    expect_own_implementation,
    expect_own_work,
    expect_raises,
    expect_shape,
    expect_tensor_equal,
    graded_references,
    record_calls,
)
from gpt2ref import GPTModel as AliasedGPTModel
from gpt2ref import count_parameters as aliased_count


@pytest.fixture(autouse=True)
def english(monkeypatch):
    """Most tests here read the English messages; the Chinese default has its own tests below."""
    monkeypatch.setenv("GPT2_COURSE_LANG", "en")


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


def test_messages_are_chinese_by_default(monkeypatch):
    monkeypatch.delenv("GPT2_COURSE_LANG")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-settings")  # nothing saved either
    text = message(lambda: expect_equal(3, 4, "count_parameters(model)",
                                        hint=("共享的权重只算一次", "tied weights count once")))
    assert text == "count_parameters(model)：期望 4，实际是 3。\n可能的原因：共享的权重只算一次"
    text = message(lambda: expect_shape(torch.ones(2, 3), (2, 4), ("输出", "output")))
    assert text == "输出：期望形状 (2, 4)，实际是 (2, 3)。"


def test_english_on_request_picks_the_english_side_of_each_pair(monkeypatch):
    import quiz

    monkeypatch.delenv("GPT2_COURSE_LANG")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/nonexistent-settings")
    quiz.set_language("en", save=False)
    try:
        text = message(lambda: expect(False, ("权重共享", "tying"), ("lm_head.weight 是一份拷贝", "lm_head.weight is a copy"),
                                      hint=("直接赋值 Parameter", "assign the Parameter")))
    finally:
        quiz.set_language(None, save=False)
    assert text == "tying: lm_head.weight is a copy\nLikely cause: assign the Parameter"


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


# --- expect_own_work: the lesson's list of graded reference objects -------------------------


def generate_with_reference_top_k(model, idx, max_new_tokens):
    return ref.top_k_filter(model(idx)[:, -1], 5)


def encode_with_reference_vocab(text, merges):
    import gpt2ref.bpe

    return list(gpt2ref.bpe.build_vocab(merges))


def test_own_work_catches_a_helper_of_the_same_lesson():
    # generate's own reference alone would not catch it: the lesson's list does
    expect_own_implementation(generate_with_reference_top_k, [ref.generate], "generate")
    assert "calls ref.top_k_filter from the reference" in message(
        lambda: expect_own_work(generate_with_reference_top_k, lesson=35, what="generate"))
    assert "reaches into the reference module" in message(
        lambda: expect_own_work(encode_with_reference_vocab, lesson=30))  # a name only gpt2ref.bpe holds
    assert message(lambda: expect_own_work(ref.GPTModel, lesson=35)).startswith("GPTModel: is the reference")


@pytest.mark.parametrize("answer", [own_count, UsesAllowedParts])
def test_own_work_passes(answer):
    expect_own_work(answer, lesson=35, what="answer")


def test_unknown_lesson_is_a_clear_error():
    with pytest.raises(ValueError, match=r"lesson 99.*known lessons: 30, 31"):
        expect_own_work(own_count, lesson=99)


def test_every_graded_name_resolves_to_a_reference_object():
    assert sorted(GRADED) == list(range(30, 38))
    for lesson, names in GRADED.items():
        objects = graded_references(lesson)
        assert len(objects) == len(names) and all(callable(o) for o in objects), lesson
        assert all(o.__module__.startswith("gpt2ref.") for o in objects), lesson
    assert ref.count_parameters in graded_references(35) and ref.TransformerBlock not in graded_references(35)
    with pytest.raises(TypeError):
        GRADED[35] = ()  # read-only: a notebook cannot empty a lesson's list


def test_checks_do_not_import_the_reference():
    code = "import sys, course.checks; print('gpt2ref' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- shapes_only -------------------------------------------------------------------------------


def test_shapes_only_counts_gpt2_small_without_memory_or_loading_the_compiler():
    code = (
        "import sys, time, torch\n"
        "from course.checks import shapes_only\n"
        "from gpt2ref import GPT2_SMALL, GPTModel, count_parameters\n"
        "started = time.perf_counter()\n"
        "with shapes_only():\n"
        "    big = GPTModel(GPT2_SMALL)\n"
        "    torch.nn.init.trunc_normal_(torch.nn.Embedding(50257, 768).weight)\n"
        "print(count_parameters(big), big.lm_head.weight.is_meta, 'torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["124439808", "True", "False"]


def test_shapes_only_leaves_real_tensors_and_torch_as_they_were():
    from course.checks import shapes_only

    before = dict(vars(torch.Tensor))
    real = torch.zeros(1000)
    with pytest.raises(RuntimeError, match="inside"):
        with shapes_only():
            real.normal_()  # a tensor with values still gets them
            assert real.std() > 0.5
            real.clamp_(-0.1, 0.1)
            assert real.abs().max() <= 0.1
            assert torch.empty(3).is_meta
            raise RuntimeError("inside")
    assert dict(vars(torch.Tensor)) == before and not torch.empty(3).is_meta


# --- record_calls --------------------------------------------------------------------------


class Twice(torch.nn.Module):
    """first -> second -> first again; the second call gets a keyword argument."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(3, 3)
        self.second = torch.nn.Linear(3, 3)

    def forward(self, x):
        return self.first(input=self.second(self.first(x)))


def hooks_of(module):
    return len(module._forward_hooks) + len(module._forward_pre_hooks)


def test_records_come_in_call_order_with_inputs_and_outputs():
    model, x = Twice(), torch.randn(2, 3)
    with torch.no_grad(), record_calls(model.second, model.first) as calls:  # indices follow the arguments
        out = model(x)
    assert [c.index for c in calls] == [1, 0, 1]
    assert [c.index for c in calls.of(1)] == [1, 1] and len(calls.of(0)) == 1
    first, second, again = calls
    assert torch.equal(first.input, x) and torch.equal(first.output, model.first(x))
    assert torch.equal(second.input, first.output) and torch.equal(again.input, second.output)  # keyword input too
    assert torch.equal(again.output, out)
    assert hooks_of(model.first) == hooks_of(model.second) == 0


def test_records_are_detached_copies():
    model, x = Twice(), torch.randn(2, 3)
    with record_calls(model.first) as calls:
        out = model(x)
    assert not calls[0].output.requires_grad and out.requires_grad
    x.add_(1.0)
    assert not torch.equal(calls[0].input, x)  # changing the input afterwards does not change the record


def test_hooks_are_removed_when_the_block_raises():
    model = Twice()
    with pytest.raises(RuntimeError, match="boom"):
        with record_calls(model.first, model.second) as calls:
            model(torch.randn(1, 3))
            assert hooks_of(model.first) == 2
            raise RuntimeError("boom")
    assert hooks_of(model.first) == hooks_of(model.second) == 0
    seen = len(calls)
    model(torch.randn(1, 3))
    assert len(calls) == seen == 3  # nothing recorded any more


def test_a_call_that_raises_is_recorded_without_output():
    layer = torch.nn.Linear(3, 3)
    with record_calls(layer) as calls:
        with pytest.raises(RuntimeError):
            layer(torch.randn(2, 4))  # wrong width
    assert len(calls) == 1 and calls[0].output is None and hooks_of(layer) == 0


def test_failures_in_a_kernel_show_the_cell_line_not_the_checks_module():
    """What a student sees: the traceback ends at the test cell's check; no frame of
    course/checks.py; the cell still counts as failed (an error output), and the next cell
    still runs; other exceptions keep IPython's usual traceback."""
    import re

    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from course.checks import expect_equal\n"
                                  "expect_equal(1 + 1, 3, 'one plus one', hint='add them')\nprint('not reached')"),
        nbformat.v4.new_code_cell("def f():\n    return 1 / 0\nf()"),
    ]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o.traceback))
             for cell in nb.cells for o in cell.outputs if o.output_type == "error"]
    assert len(plain) == 2, plain
    check_failure, other = plain
    assert "checks.py" not in check_failure and "_fail" not in check_failure, check_failure
    assert "expect_equal(1 + 1, 3" in check_failure and "Likely cause: add them" in check_failure
    assert not any(o.output_type == "stream" for o in nb.cells[0].outputs), "the cell stops at the failed check"
    assert "ZeroDivisionError" in other and "return 1 / 0" in other, "other errors keep their frames"
