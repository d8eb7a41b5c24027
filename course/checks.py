"""Checks for the test cells of the lessons, with messages a student can act on.

Every failed check raises :class:`CheckFailed` (an ``AssertionError``, so nbgrader scores
the cell zero) whose message says what was checked, what was expected, what came out,
and - when the author knows it - the likely cause:

    GPTModel(...)(idx).shape：期望形状 (2, 5, 97)，实际是 (2, 5, 32)。
    可能的原因：缺少 LM head：最后要把 d_model 投影到 vocab_size。

Messages follow the quiz language (:func:`quiz.i18n.preferred_language`): Chinese by
default, English with ``GPT2_COURSE_LANG=en`` or ``quiz.set_language("en")``. A test cell
passes each ``what``, ``detail`` and ``hint`` as a ``(Chinese, English)`` pair; a plain string
is for text that reads the same in both (code such as ``"LayerNorm(8).weight"``).
"""

from __future__ import annotations

import importlib
import inspect
import json
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

import torch

from quiz.i18n import preferred_language

Text = str | tuple[str, str]  # the same in both languages, or (Chinese, English)

# The frame of every message, in both languages; {placeholders} are filled in by the checks.
WORDS: dict[str, tuple[str, str]] = {
    "likely_cause": ("可能的原因：", "Likely cause: "),
    "failed": ("检查未通过", "check failed"),
    "expected_got": ("期望 {expected}，实际是 {got}。", "expected {expected}, got {got}."),
    "expected_a": ("期望是 {names}，实际是 {got_type}（{got}）。", "expected a {names}, got {got_type} ({got})."),
    "or": (" 或 ", " or "),
    "expected_shape": ("期望形状 {expected}，实际是 {got}。", "expected shape {expected}, got {got}."),
    "expected_dtype": ("期望 dtype {expected}，实际是 {got}。", "expected dtype {expected}, got {got}."),
    "nan": ("出现了 NaN（{count}/{total} 个值）。", "got NaN values ({count} of {total})."),
    "values_differ": (
        "{bad}/{total} 个值的误差超过 {limit}；最大误差在下标 {index}：期望 {expected}，实际是 {got}。",
        "{bad} of {total} values differ by more than {limit}; worst at index {index}: expected {expected}, got {got}.",
    ),
    "entries_differ": (
        "{bad}/{total} 个元素不相等；第一个在下标 {index}：期望 {expected}，实际是 {got}。",
        "{bad} of {total} entries differ; first at index {index}: expected {expected}, got {got}.",
    ),
    "raised_without": (
        "抛出了 {raised}，但消息里应当提到 {missing}。",
        "raised {raised}, but the message should mention {missing}.",
    ),
    "raised_other": ("期望抛出 {expected}，实际抛出 {got_type}: {got}。", "expected {expected}, got {got_type}: {got}."),
    "raised_nothing": ("期望抛出 {expected}，但什么也没有抛出。", "expected {expected} to be raised, but nothing was raised."),
    "tensor_of_shape": ("形状为 {shape} 的张量", "tensor of shape {shape}"),
    "own_work_hint": (
        "请自己实现；参考实现只用于测试时的比较",
        "write it yourself; the reference implementation is only what the tests compare against",
    ),
    "is_reference": ("就是参考实现本身。", "is the reference implementation itself."),
    "inherits_reference": ("继承了参考实现 {base}。", "inherits from the reference {base}."),
    "reaches_reference": ("伸手去用了参考模块（在 {function} 里）。", "reaches into the reference module (in {function})."),
    "calls_reference": ("调用了参考实现的 {name}（在 {function} 里）。", "calls the reference {name} (in {function})."),
    "calls_reference_attr": (
        "调用了参考实现的 {module}.{name}（在 {function} 里）。",
        "calls {module}.{name} from the reference (in {function}).",
    ),
    "uses_forbidden": ("用到了 {name}（在 {function} 里）。", "uses {name} (in {function})."),
}


def language() -> str:
    """The language of check messages: the learner's quiz language, Chinese by default."""
    return preferred_language() or "zh"


def say(text: Text | None) -> str | None:
    """``text`` in the learner's language: a ``(Chinese, English)`` pair picks one side."""
    if isinstance(text, tuple):
        zh, en = text
        return zh if language() == "zh" else en
    return text


def words(key: str, **values: Any) -> str:
    zh, en = WORDS[key]
    return (zh if language() == "zh" else en).format(**values)


class CheckFailed(AssertionError):
    """A lesson check failed; the message says what to fix."""


def _fail(what: Text, detail: Text, hint: Text | None) -> None:
    colon = "：" if language() == "zh" else ": "
    message = f"{say(what)}{colon}{say(detail)}"
    if hint:
        message += "\n" + words("likely_cause") + say(hint)
    raise CheckFailed(message)


def _show(value: Any) -> str:
    if isinstance(value, torch.Size):
        return str(tuple(value))
    if isinstance(value, torch.Tensor) and value.numel() > 8:
        return words("tensor_of_shape", shape=tuple(value.shape))
    return repr(value)


def expect(condition: bool, what: Text, detail: Text | None = None, hint: Text | None = None) -> None:
    """Fail with ``what: detail`` unless ``condition`` holds."""
    if not condition:
        _fail(what, detail if detail is not None else words("failed"), hint)


def expect_equal(got: Any, expected: Any, what: Text, hint: Text | None = None) -> None:
    """``got == expected`` (plain values: ints, strings, lists, tuples, torch.Size)."""
    if isinstance(got, torch.Tensor) or isinstance(expected, torch.Tensor):
        raise TypeError("expect_equal compares plain values; use expect_tensor_equal for tensors")
    if isinstance(got, torch.Size):
        got = tuple(got)
    if isinstance(expected, torch.Size):
        expected = tuple(expected)
    if got != expected:
        _fail(what, words("expected_got", expected=_show(expected), got=_show(got)), hint)


def expect_type(got: Any, expected_type: type | tuple[type, ...], what: Text, hint: Text | None = None) -> None:
    if not isinstance(got, expected_type):
        names = (
            words("or").join(t.__name__ for t in expected_type)
            if isinstance(expected_type, tuple) else expected_type.__name__
        )
        _fail(what, words("expected_a", names=names, got_type=type(got).__name__, got=_show(got)), hint)


def expect_shape(tensor: Any, expected: Iterable[int], what: Text, hint: Text | None = None) -> None:
    """``tensor.shape == expected``."""
    expect_type(tensor, torch.Tensor, what, hint)
    expected = tuple(expected)
    if tuple(tensor.shape) != expected:
        _fail(what, words("expected_shape", expected=expected, got=tuple(tensor.shape)), hint)


def expect_dtype(tensor: torch.Tensor, expected: torch.dtype, what: Text, hint: Text | None = None) -> None:
    expect_type(tensor, torch.Tensor, what, hint)
    if tensor.dtype != expected:
        _fail(what, words("expected_dtype", expected=expected, got=tensor.dtype), hint)


def expect_close(
    got: Any, expected: torch.Tensor, what: Text, atol: float = 1e-5, rtol: float = 0.0, hint: Text | None = None
) -> None:
    """Tensors equal within ``atol + rtol * |expected|``; the message shows the worst entry."""
    expect_shape(got, expected.shape, what, hint)
    got_f, expected_f = got.detach().double(), expected.detach().double()
    if torch.isnan(got_f).any() and not torch.isnan(expected_f).any():
        _fail(what, words("nan", count=int(torch.isnan(got_f).sum()), total=got_f.numel()), hint)
    both_inf = torch.isinf(got_f) & torch.isinf(expected_f) & (torch.sign(got_f) == torch.sign(expected_f))
    diff = torch.where(both_inf, torch.zeros_like(got_f), (got_f - expected_f).abs())
    diff = torch.nan_to_num(diff, nan=float("inf"))
    limit = atol + rtol * expected_f.abs()
    bad = diff > limit
    if bad.any():
        worst = int(torch.argmax(torch.where(bad, diff, torch.zeros_like(diff))))
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), got_f.shape))
        _fail(
            what,
            words("values_differ", bad=int(bad.sum()), total=got_f.numel(),
                  limit=f"{atol:g}" + (f" + {rtol:g}*|expected|" if rtol else ""), index=index,
                  expected=f"{expected_f[index].item():.6g}", got=f"{got_f[index].item():.6g}"),
            hint,
        )


def expect_tensor_equal(got: Any, expected: torch.Tensor, what: Text, hint: Text | None = None) -> None:
    """Exactly equal tensors (same shape, same values)."""
    expect_shape(got, expected.shape, what, hint)
    if not torch.equal(got, expected.to(got.dtype) if got.dtype != expected.dtype else expected):
        differ = (got != expected).nonzero()
        first = tuple(int(i) for i in differ[0]) if len(differ) else ()
        _fail(
            what,
            words("entries_differ", bad=len(differ), total=got.numel(), index=first,
                  expected=_show(expected[first].item()), got=_show(got[first].item())),
            hint,
        )


def expect_raises(
    exception: type[BaseException], action: Callable[[], Any], what: Text, hint: Text | None = None,
    message_contains: Iterable[str] = (),
) -> BaseException:
    """``action()`` raises ``exception`` (and its message mentions each of ``message_contains``)."""
    try:
        action()
    except exception as exc:
        text = str(exc)
        missing = [part for part in message_contains if str(part) not in text]
        if missing:
            _fail(what, words("raised_without", raised=f"{type(exc).__name__}({text!r})", missing=missing), hint)
        return exc
    except Exception as exc:  # noqa: BLE001 (we report whatever came out)
        _fail(what, words("raised_other", expected=exception.__name__, got_type=type(exc).__name__, got=exc), hint)
    _fail(what, words("raised_nothing", expected=exception.__name__), hint)
    raise AssertionError("unreachable")


@contextmanager
def stand_ins(namespace: dict[str, Any], **replacements: Any) -> Iterator[None]:
    """Temporarily put ``replacements`` into ``namespace`` (a notebook's ``globals()``).

    A test of one exercise swaps in the reference versions of the exercises it builds on,
    so that a mistake in an earlier exercise costs only that exercise's points:

        with stand_ins(globals(), top_k_filter=ref.top_k_filter):
            out = generate(model, idx, 5)      # the student's generate, the reference top-k

    The student's own objects (or their absence) are restored afterwards, even on failure.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


# --- counting parameters at full size without memory ---------------------------------------

# In-place fills whose meta-device versions torch implements in Python: the first use loads
# torch._dynamo, about a second in a fresh process (normal_ initialises embeddings, erfinv_ and
# clamp_ serve trunc_normal_). A meta tensor has no values to fill.
_VALUELESS_ON_META = ("normal_", "erfinv_", "clamp_", "exponential_", "log_normal_", "cauchy_", "geometric_")


@contextmanager
def shapes_only() -> Iterator[None]:
    """Build modules on the ``meta`` device: every tensor has its shape and dtype but no storage,
    so GPT-2 small costs neither memory nor time, and counting its parameters works as usual.

        with shapes_only():
            big = GPTModel(GPT2_SMALL)
        count_parameters(big)  # 124,439,808

    Like ``with torch.device("meta"):``, except that the random fills listed in
    ``_VALUELESS_ON_META`` do nothing on meta tensors (instead of loading torch's compiler the
    first time); on any other tensor they work as always. Restored on the way out.
    """
    originals = {name: getattr(torch.Tensor, name) for name in _VALUELESS_ON_META}
    own = {name for name in _VALUELESS_ON_META if name in vars(torch.Tensor)}  # else inherited from C

    def skipped_on_meta(original):
        def fill(self, *args, **kwargs):
            return self if self.is_meta else original(self, *args, **kwargs)
        return fill

    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, skipped_on_meta(original))
        with torch.device("meta"):
            yield
    finally:
        for name, original in originals.items():
            if name in own:
                setattr(torch.Tensor, name, original)
            else:
                delattr(torch.Tensor, name)


# --- watching modules at work: what went in, what came out, in which order -------------


@dataclass
class CallRecord:
    """One call of a watched module (see :func:`record_calls`).

    index:  the position of the module among ``record_calls``' arguments
    input:  a detached copy of its first input (the first positional argument, else the first
            keyword argument), taken as the call starts
    output: a detached copy of what it returned (None while the call runs or if it raised)
    """

    index: int
    input: Any
    output: Any = None


class CallLog(list):
    """The :class:`CallRecord` s of :func:`record_calls`, in the order the calls started."""

    def of(self, index: int) -> list[CallRecord]:
        """The calls of the module passed at position ``index``, in order."""
        return [record for record in self if record.index == index]


def _snapshot(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_snapshot(v) for v in value)
    return value


@contextmanager
def record_calls(*modules: torch.nn.Module) -> Iterator[CallLog]:
    """Record every call of ``modules`` while the block runs (forward hooks, kwargs included):

        with torch.no_grad(), record_calls(m.final_norm, m.lm_head) as calls:
            logits = m(idx)
        norm, head = calls.of(0), calls.of(1)      # one list of CallRecord per module
        expect_close(head[0].input, norm[0].output, ...)

    Records come in the order the calls started; inputs and outputs are detached copies, so
    later in-place changes do not alter them. The hooks are removed on leaving the block, even
    when it raises.
    """
    log = CallLog()
    handles = []

    def watch(index: int):
        running: list[CallRecord] = []  # calls of this module that have started but not returned

        def before(module, args, kwargs):
            first = args[0] if args else next(iter(kwargs.values()), None)
            record = CallRecord(index, _snapshot(first))
            running.append(record)
            log.append(record)

        def after(module, args, kwargs, output):
            if running:
                running.pop().output = _snapshot(output)

        return before, after

    try:
        for index, module in enumerate(modules):
            before, after = watch(index)
            handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
            handles.append(module.register_forward_hook(after, with_kwargs=True))
        yield log
    finally:
        for handle in handles:
            handle.remove()


# --- "write your own": the answer must not hand the work to the reference ---------------

# What each lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold). Every answer of a lesson is checked against the whole list: an
# exercise may not hand its work to the reference version of any exercise of its lesson.
# Parts a lesson provides (e.g. TransformerBlock in lesson 35) are not listed, so they stay allowed.
# Each lesson declares its list once (``GRADED`` in grader/lessons/<slug>/grading.py);
# ``python -m grader.build`` writes them all to course/graded.json, read here.
GRADED: types.MappingProxyType[int, tuple[str, ...]] = types.MappingProxyType({
    int(lesson): tuple(names)
    for lesson, names in json.loads(resources.files("course").joinpath("graded.json").read_text("utf-8")).items()
})


def graded_references(lesson: int) -> list[Any]:
    """The reference objects (from ``gpt2ref``) that ``lesson`` asks the student to write."""
    if lesson not in GRADED:
        known = ", ".join(str(n) for n in sorted(GRADED))
        raise ValueError(f"no list of graded reference objects for lesson {lesson!r}; known lessons: {known}")
    package = importlib.import_module("gpt2ref")  # imported here: course.checks must not need gpt2ref to load
    objects = []
    for name in GRADED[lesson]:
        module_name, _, attribute = name.rpartition(".")
        module = importlib.import_module(f"gpt2ref.{module_name}") if module_name else package
        objects.append(getattr(module, attribute))
    return objects


def expect_own_work(answer: Any, lesson: int, what: Text | None = None) -> None:
    """``answer`` must not be, subclass, wrap or call the reference version of anything
    ``lesson`` asks the student to write (``GRADED[lesson]``): ``expect_own_implementation``
    with the lesson's list.

        expect_own_work(GPTModel, lesson=35, what="GPTModel")
    """
    if what is None:
        what = getattr(answer, "__name__", repr(answer))
    expect_own_implementation(answer, graded_references(lesson), what)


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions_of(obj: Any):
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    if isinstance(obj, property):
        for part in (obj.fget, obj.fset, obj.fdel):
            if part is not None:
                yield from _functions_of(part)
        return
    if inspect.isfunction(obj):
        yield obj
    elif inspect.isclass(obj):
        for klass in obj.__mro__:
            if klass.__module__.startswith(("torch", "builtins")):
                continue
            for value in vars(klass).values():
                yield from _functions_of(value)


def expect_own_implementation(answer: Any, forbidden: Iterable[Any], what: Text) -> None:
    """``answer`` (a function or class) must not be, subclass, wrap or call any of ``forbidden``.

    ``forbidden`` holds the reference objects the lesson asks the student to write; parts the
    lesson provides (e.g. ``TransformerBlock`` in lesson 35) stay allowed.
    """
    forbidden = list(forbidden)
    hint = WORDS["own_work_hint"]

    def is_forbidden(value: Any) -> bool:
        return any(value is f for f in forbidden)

    if is_forbidden(answer):
        _fail(what, words("is_reference"), hint)
    if inspect.isclass(answer):
        for base in answer.__mro__[1:]:
            if is_forbidden(base):
                _fail(what, words("inherits_reference", base=base.__qualname__), hint)
    forbidden_names = {getattr(f, "__name__", None) for f in forbidden} - {None}
    forbidden_modules = {getattr(f, "__module__", None) for f in forbidden} - {None}
    for function in _functions_of(answer):
        namespaces = [function.__globals__]
        if function.__closure__:
            namespaces.append(
                {name: cell.cell_contents for name, cell in zip(function.__code__.co_freevars, function.__closure__)
                 if _cell_has_value(cell)}
            )
        for code in _code_objects(function.__code__):
            names = set(code.co_names) | set(code.co_freevars)
            # `import gpt2ref` inside the function, or the module named in a string
            strings = {c for c in code.co_consts if isinstance(c, str)}
            roots = {m.split(".")[0] for m in forbidden_modules}
            if (any(n.split(".")[0] in roots for n in names) or any(m in s for m in forbidden_modules for s in strings)) and (
                names & forbidden_names or strings & forbidden_names
            ):
                _fail(what, words("reaches_reference", function=function.__qualname__), hint)
            for name in names:
                for namespace in namespaces:
                    value = namespace.get(name)
                    if value is None:
                        continue
                    if is_forbidden(value):
                        _fail(what, words("calls_reference", name=name, function=function.__qualname__), hint)
                    if isinstance(value, types.ModuleType) and _is_reference_module(value, forbidden_modules):
                        used = sorted(names & forbidden_names)
                        if used:
                            _fail(what, words("calls_reference_attr", module=name, name=used[0], function=function.__qualname__), hint)


def expect_no_calls(answer: Any, names: Iterable[str], what: Text, hint: Text | None = None) -> None:
    """``answer`` (a function or class) must not mention any of ``names`` (e.g. torch's own
    ``layer_norm`` or ``gelu`` when the lesson asks for the formula written out)."""
    names = set(names)
    for function in _functions_of(answer):
        for code in _code_objects(function.__code__):
            used = sorted(names & set(code.co_names))
            if used:
                _fail(what, words("uses_forbidden", name=used[0], function=function.__qualname__), hint)


def _cell_has_value(cell) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def _is_reference_module(module: types.ModuleType, forbidden_modules: set[str]) -> bool:
    name = module.__name__
    return any(m == name or m.startswith(name + ".") for m in forbidden_modules)


# --- failures show the student's line, not this module's insides --------------------------


def _without_own_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback ``tb`` with the frames of this module left out."""
    kept = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename != __file__:
            kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for entry in reversed(kept):
        trimmed = types.TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


def _show_check_failure(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for CheckFailed: its usual traceback, minus this module's frames, so the
    last line shown is the test cell's check that failed."""
    stb = shell.InteractiveTB.structured_traceback(etype, value, _without_own_frames(tb), tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)
    return None


def install_ipython_traceback_filter() -> bool:
    """In an IPython kernel, show CheckFailed without this module's frames (True if installed).

    Called when this module is imported; leaves an exception handler someone else set alone."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    if shell.custom_exceptions not in ((), (CheckFailed,)):
        return False
    shell.set_custom_exc((CheckFailed,), _show_check_failure)
    return True


install_ipython_traceback_filter()
