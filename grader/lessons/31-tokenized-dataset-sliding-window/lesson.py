# Lesson 31: a tokenized dataset with a sliding window (authoring script; see docs/AUTHORING.md).
# Graded: SlidingWindowDataset, create_dataloader. Reference: gpt2ref/dataset.py.

# %% [markdown]
# # 第 31 课 · 分词后的数据集与滑动窗口
# # Lesson 31 · A tokenized dataset with a sliding window
#
# GPT 的训练任务只有一个：**预测下一个 token**。这一课把一长段文本变成模型可以学习的样本：用 GPT-2 的分词器（tiktoken）把文本变成一长串 id，用 **滑动窗口** 切出一对对 (input, target)，再交给 PyTorch 的 `DataLoader` 组成 batch。
#
# > **EN** GPT is trained on a single task: **predict the next token**. This lesson turns a
# > long text into examples a model can learn from: GPT-2's tokenizer (tiktoken) turns the
# > text into one long stream of ids, a **sliding window** cuts (input, target) pairs out of
# > it, and PyTorch's `DataLoader` groups them into batches.
#
# **学完这一课，你将写出 / By the end you will have written:**
#
# 1. `SlidingWindowDataset(token_ids, max_length, stride)`：一个 `torch.utils.data.Dataset`，第 i 项是第 i 个窗口的 (input, target) / a `Dataset` whose item i is window i's (input, target)；
# 2. `create_dataloader(text, batch_size, max_length, stride, shuffle, drop_last, seed)`：分词、切窗口、组 batch，并且可以用 seed 复现打乱顺序 / tokenize, cut windows, batch, with a reproducible shuffle.
#
# 从这一课起我们使用 GPT-2 真正的分词器 `tiktoken`，而不是第 30 课你自己写的 BPE：上一课即使有错误，也不会影响这一课。
#
# > **EN** From now on we use GPT-2's real tokenizer, `tiktoken`, not the BPE you wrote in
# > lesson 30, so a mistake there never breaks this lesson.
#
# **怎么用这个 notebook / How to run it:** 从上到下依次运行（Shift+Enter）。写着 `# YOUR CODE HERE` 的地方由你完成；紧跟其后的测试单元格会立刻检查，失败信息会说明期望值、实际值和可能的原因。批改时还会运行隐藏测试：它们用别的数据和随机种子重新检查同样的内容，不会检查你在这里看不到的新东西。所以只要每个测试单元格都显示“ok”、Validate 也通过，代码部分就是满分。
#
# > **EN** Run the cells top to bottom (Shift+Enter). You complete the places that say
# > `# YOUR CODE HERE`; the test cell right after each one checks it at once, and a failure
# > says what was expected, what came out and the likely cause. Grading also runs hidden tests:
# > they re-check the same things with other data and seeds, nothing you cannot see here. So
# > if every test cell prints "ok" and Validate passes, the code gets full marks.

# %% [markdown]
# **学习时间 / Study time：** 大约 60 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 60 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | 滑动窗口 / sliding window | 从一长串 token id 里切出定长的训练样本 | cutting fixed-length training samples out of one long run of token ids |
# | stride | 相邻两个窗口起点之间隔多少个 token | how many tokens apart two neighbouring windows start |
# | input / target | target 是 input 向后错一位：每个位置都要预测下一个 token | the target is the input shifted by one: every position predicts the next token |
# | `Dataset` / `DataLoader` | PyTorch 按下标取样本、再组成 batch 的两个接口 | PyTorch's two interfaces: fetch a sample by index, then group samples into batches |
# | `torch.Generator` | 自带种子的随机数源，不影响全局随机状态 | a random-number source with its own seed, leaving the global random state alone |

# %% [markdown]
# ## 0. 准备 / Setup

# %%
import matplotlib.pyplot as plt
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset

from course.corpus import python_docs

torch.manual_seed(0)

# %% [markdown]
# 先做几道课前小题（答错没关系，课后还会再见到这些概念）。
#
# > **EN** A few questions before we start (wrong answers are fine; the ideas come back later).

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. 从文本到一长串 id / From text to one long stream of ids
#
# 训练文本来自 `course.corpus.python_docs()`：Python 交互式帮助（`help("assert")` 等）的全部文本，随 CPython 一起安装在标准库模块 `pydoc_data.topics` 里，不需要下载。`tiktoken.get_encoding("gpt2")` 给出 GPT-2 的分词器（课程环境已离线装好它的文件）。
#
# > **EN** The training text is `course.corpus.python_docs()`: all of Python's interactive
# > help (`help("assert")` and friends), which ships with CPython in the standard-library
# > module `pydoc_data.topics`; nothing is downloaded. `tiktoken.get_encoding("gpt2")` gives
# > GPT-2's tokenizer (its files are installed offline in the course environment).

# %%
tokenizer = tiktoken.get_encoding("gpt2")
docs = python_docs()
docs_ids = tokenizer.encode(docs)
print(f"{len(docs):,} characters -> {len(docs_ids):,} tokens ({len(docs) / len(docs_ids):.1f} characters per token)")
print("first ids:   ", docs_ids[:10])
print("their pieces:", [tokenizer.decode([i]) for i in docs_ids[:10]])
print("<|endoftext|> (allowed) ->", tokenizer.encode("<|endoftext|>", allowed_special={"<|endoftext|>"}))

# %% [markdown]
# ## 2. 下一个 token 预测 / Next-token prediction
#
# 给模型一段上下文，让它猜下一个 token。一段 token 里藏着很多这样的题目：前 1 个 token 猜第 2 个，前 2 个猜第 3 个……
#
# > **EN** Give the model some context and ask for the next token. A run of tokens hides many
# > such questions: from the first token guess the second, from the first two guess the
# > third, and so on.

# %%
sample_ids = tokenizer.encode("Python's own help text is our training data.")
for t in range(1, 8):
    context, target = sample_ids[:t], sample_ids[t]
    print(f"{tokenizer.decode(context)!r:40} -> {tokenizer.decode([target])!r}")

# %% [markdown]
# 把这些题目打包：取 `max_length + 1` 个连续的 token，前 `max_length` 个是 **input**，后 `max_length` 个是 **target**，也就是 input **向右移一位**。位置 t 的 target 正是 input 里位置 t 之后的那个 token，所以一个窗口一次提供 `max_length` 道“猜下一个”的题（模型的因果注意力保证位置 t 只能看到 t 及之前）。
#
# > **EN** Pack these questions together: take `max_length + 1` consecutive tokens; the first
# > `max_length` are the **input**, the last `max_length` the **target**: the input
# > **shifted one to the right**. The target at position t is exactly the token that follows
# > input position t, so one window poses `max_length` next-token questions at once (the
# > model's causal attention makes sure position t only sees positions up to t).

# %%
max_length = 8
window = docs_ids[: max_length + 1]
x, y = window[:-1], window[1:]
print("input: ", x)
print("target:", y)
for position in range(3):
    print(f"position {position}: sees {tokenizer.decode(x[: position + 1])!r:28} must predict {tokenizer.decode([y[position]])!r}")

# %% [markdown]
# ## 3. 滑动窗口 / The sliding window
#
# 一长串 id 能切出很多窗口。窗口从位置 0 开始，每次向右移 **stride** 个 token。一个从 `start` 开始的窗口需要 token `start .. start + max_length`（共 `max_length + 1` 个），所以它放得下当且仅当 `start + max_length + 1 <= n`（n 是 token 总数）。于是：
#
# $$\text{窗口数 / number of windows} = \left\lfloor \frac{n - \text{max\_length} - 1}{\text{stride}} \right\rfloor + 1 \qquad (n \ge \text{max\_length} + 1)$$
#
# n 不到 `max_length + 1` 时一个窗口也切不出来。下面用公式和“逐个数起点”两种方法对几组数字算一算：
#
# > **EN** One long stream of ids gives many windows. The first starts at position 0 and each
# > next one **stride** tokens further right. A window starting at `start` needs tokens
# > `start .. start + max_length` (`max_length + 1` of them), so it fits exactly when
# > `start + max_length + 1 <= n` (n = number of tokens). Hence the formula above, valid for
# > n >= max_length + 1; with fewer tokens there is not a single window. Below, the formula
# > and plain counting of start positions, for a few cases:

# %%
def count_by_formula(n, max_length, stride):
    return (n - max_length - 1) // stride + 1 if n >= max_length + 1 else 0


def count_by_hand(n, max_length, stride):
    starts = [s for s in range(0, n, stride) if s + max_length + 1 <= n]
    return len(starts)


for n, length, stride in [(10, 4, 2), (10, 4, 4), (10, 4, 1), (9, 4, 4), (5, 4, 4), (4, 4, 1), (1000, 256, 128)]:
    print(f"n={n:4d} max_length={length:3d} stride={stride:3d}: formula {count_by_formula(n, length, stride):2d},"
          f" counting {count_by_hand(n, length, stride):2d}")

# %% [markdown]
# 下图把窗口画在一条 token 带上：左边 stride 小于 max_length，相邻窗口 **重叠**；右边 stride 等于 max_length，窗口 **首尾相接**，每个 token 只当一次 input。
#
# > **EN** The figure draws the windows over a strip of tokens: on the left stride is smaller
# > than max_length and neighbouring windows **overlap**; on the right stride equals
# > max_length and windows sit **side by side**, each token is an input only once.

# %%
strip = tokenizer.encode("Each window asks the model to guess the next token, many times at once.")
strip_pieces = [tokenizer.decode([i]) for i in strip]
n, length = len(strip), 4
print(f"{n} tokens, max_length = {length}")

fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), sharey=False)
for ax, stride in zip(axes, [2, 4]):
    starts = [s for s in range(0, n, stride) if s + length + 1 <= n]
    for row, start in enumerate(starts):
        y0 = -row
        ax.barh(y0 + 0.17, length, left=start, height=0.3, color="tab:blue", alpha=0.8,
                label="input (max_length tokens)" if row == 0 else None)
        ax.barh(y0 - 0.17, length, left=start + 1, height=0.3, color="tab:orange", alpha=0.8,
                label="target (input shifted by 1)" if row == 0 else None)
    ax.set_yticks([-r for r in range(len(starts))], [f"window {r}" for r in range(len(starts))])
    ax.set_xticks([i + 0.5 for i in range(n)], [repr(p)[1:-1] for p in strip_pieces], rotation=60, fontsize=8)
    ax.set_xlim(0, n)
    ax.set_ylim(-len(starts) + 0.4, 0.8)
    for i in range(n + 1):
        ax.axvline(i, color="lightgray", linewidth=0.5, zorder=0)
    tail_start = starts[-1] + length + 1  # tokens from here on are in no window
    if tail_start < n:
        ax.axvspan(tail_start, n, color="gray", alpha=0.2, label="tail: too short for another window")
    overlap = max(length - stride, 0)
    ax.set_title(f"stride = {stride}, max_length = {length}: {len(starts)} windows, overlap {overlap} tokens")
    ax.legend(loc="upper right", fontsize=8)
fig.suptitle("Sliding windows over a strip of GPT-2 tokens")
fig.tight_layout()
plt.show()

# %% [markdown]
# 重叠的窗口让同样的文本产生更多样本，但这些样本彼此很像；stride = max_length 时每个 token 只当一次 target（最后不满一个窗口的尾巴除外）。训练 GPT 时常用 stride = max_length。
#
# > **EN** Overlapping windows get more examples out of the same text, but the examples are
# > much alike; with stride = max_length every token is a target once (except a tail too
# > short for a window). GPT training commonly uses stride = max_length.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["count-formula", "stride-overlap"])

# %% [markdown]
# ## 4. `SlidingWindowDataset`
#
# PyTorch 的 `torch.utils.data.Dataset` 只要求两个方法：`__len__`（有几个样本）和 `__getitem__(i)`（第 i 个样本）。写一个这样的类：第 i 项是第 i 个窗口的 `(input, target)`，两个都是 `torch.long` 的 1 维 tensor。
#
# 几点建议：
# - 在 `__init__` 里把 id 存成 **一个** `torch.long` tensor；`__getitem__` 里切片即可。切片是 **视图**，不复制数据，所以窗口重叠也不会多占内存。
# - token 太少、一个窗口都切不出来时，立刻抛出 `ValueError`，并在信息里写出 token 数和 `max_length`（比在训练时才遇到一个空数据集好得多）。
#
# > **EN** PyTorch's `torch.utils.data.Dataset` asks for two methods: `__len__` (how many
# > examples) and `__getitem__(i)` (example i). Write such a class: item i is window i's
# > `(input, target)`, both 1-D `torch.long` tensors.
# >
# > Some advice:
# > - In `__init__` store the ids as **one** `torch.long` tensor and slice it in
# >   `__getitem__`. Slices are **views** that copy nothing, so overlapping windows cost no
# >   extra memory.
# > - With too few tokens for a single window, raise `ValueError` at once, with the number
# >   of tokens and `max_length` in the message (much better than meeting an empty dataset
# >   in the middle of training).

# %% [solution] id=sliding_window_dataset
class SlidingWindowDataset(Dataset):
    """(input_ids, target_ids) examples cut from one long sequence of token ids.

    SlidingWindowDataset(token_ids, max_length, stride)
      token_ids:  a list (or 1-D tensor) of int token ids
      max_length: tokens per input (and per target)
      stride:     how many tokens each window starts after the previous one
    Window i starts at s = i * stride and covers max_length + 1 tokens:
      input  = token_ids[s     : s + max_length]
      target = token_ids[s + 1 : s + max_length + 1]
    - len(dataset) == (num_tokens - max_length - 1) // stride + 1
    - dataset[i] returns (input, target): two torch.long tensors of shape (max_length,);
      an index outside 0 .. len(dataset) - 1 raises IndexError.
    - ValueError if max_length < 1 or stride < 1, and if there are fewer than
      max_length + 1 tokens (that message must contain the number of tokens and max_length).
    """

    def __init__(self, token_ids, max_length, stride):
        ### BEGIN SOLUTION
        if max_length < 1 or stride < 1:
            raise ValueError(f"max_length and stride must be >= 1, got {max_length} and {stride}")
        self.token_ids = torch.as_tensor(token_ids, dtype=torch.long)  # (num_tokens,)
        if len(self.token_ids) < max_length + 1:
            raise ValueError(
                f"the text has {len(self.token_ids)} tokens, but one window needs "
                f"max_length + 1 = {max_length} + 1 tokens"
            )
        self.max_length = max_length
        self.stride = stride
        ### END SOLUTION

    def __len__(self):
        ### BEGIN SOLUTION
        return (len(self.token_ids) - self.max_length - 1) // self.stride + 1
        ### END SOLUTION

    def __getitem__(self, i):
        ### BEGIN SOLUTION
        if not 0 <= i < len(self):
            raise IndexError(f"window {i} does not exist; there are {len(self)}")
        start = i * self.stride
        window = self.token_ids[start : start + self.max_length + 1]  # (max_length + 1,)
        return window[:-1], window[1:]
        ### END SOLUTION

# %% [tests] id=test_window_count points=2
from course.checks import expect_equal, expect_own_work

expect_own_work(SlidingWindowDataset, lesson=31, what="SlidingWindowDataset")
expect_equal(len(SlidingWindowDataset(list(range(10)), 4, 2)), 3,
             ("10 个 token、max_length=4、stride=2 时的 len(SlidingWindowDataset(...))",
              "len(SlidingWindowDataset(10 tokens, max_length=4, stride=2))"),
             hint=("窗口从 0、2、4 开始；每个窗口需要 max_length + 1 = 5 个 token：(10 - 4 - 1) // 2 + 1",
                   "windows start at 0, 2, 4; each needs max_length + 1 = 5 tokens: (10 - 4 - 1) // 2 + 1"))
expect_equal(len(SlidingWindowDataset(list(range(10)), 4, 4)), 2,
             ("10 个 token、max_length=4、stride=4 时的 len(SlidingWindowDataset(...))",
              "len(SlidingWindowDataset(10 tokens, max_length=4, stride=4))"),
             hint="(n - max_length - 1) // stride + 1")
print("window count: ok")
### BEGIN HIDDEN TESTS
import torch as _torch


def _count_starts(n, max_length, stride):
    """Count the start positions 0, stride, 2 * stride, ... whose window fits, one by one."""
    count, start = 0, 0
    while start + max_length + 1 <= n:
        count += 1
        start += stride
    return count


for _n, _length, _stride in [(5, 4, 1), (5, 4, 4), (9, 4, 4), (10, 4, 1), (10, 4, 5), (11, 4, 5), (100, 7, 3),
                             (101, 10, 10), (1000, 256, 128), (1000, 256, 256), (257, 256, 300), (50, 3, 100)]:
    expect_equal(len(SlidingWindowDataset(list(range(_n)), _length, _stride)), _count_starts(_n, _length, _stride),
                 (f"{_n} 个 token、max_length={_length}、stride={_stride} 时的 len(SlidingWindowDataset(...))",
                  f"len(SlidingWindowDataset({_n} tokens, max_length={_length}, stride={_stride}))"),
                 hint=("数一数起点 s = 0, stride, 2*stride, ... 中有几个满足 s + max_length + 1 <= n",
                       "count the starts s = 0, stride, 2*stride, ... with s + max_length + 1 <= n"))
expect_equal(len(SlidingWindowDataset(_torch.arange(40), 6, 5)), _count_starts(40, 6, 5),
             "len(SlidingWindowDataset(torch.arange(40), 6, 5))",
             hint=("除了 list，也要接受由 id 组成的一维张量（1-D tensor）", "accept a 1-D tensor of ids as well as a list"))
### END HIDDEN TESTS

# %% [tests] id=test_window_content points=3
import torch
from course.checks import expect_dtype, expect_equal, expect_own_work, expect_raises, expect_shape, expect_type

expect_own_work(SlidingWindowDataset, lesson=31, what="SlidingWindowDataset")
_ds = SlidingWindowDataset(list(range(100, 110)), 4, 2)
_item = _ds[1]
expect_type(_item, tuple, "SlidingWindowDataset(...)[1]",
            hint=("返回一个元组 (input, target)", "return a tuple (input, target)"))
_x, _y = _item
expect_type(_x, torch.Tensor, ("窗口 1 的输入", "the input of window 1"),
            hint=("返回 torch 张量，不要返回 list", "return torch tensors, not lists"))
expect_dtype(_x, torch.long, ("窗口 1 的输入", "the input of window 1"),
             hint=("token id 的 dtype 是 torch.long（int64）", "token ids are torch.long (int64)"))
expect_shape(_x, (4,), ("窗口 1 的输入", "the input of window 1"),
             hint=("一个输入包含 max_length 个 token", "an input holds max_length tokens"))
expect_equal(_x.tolist(), [102, 103, 104, 105],
             ("窗口 1 的输入（id 为 100..109，max_length=4，stride=2）",
              "the input of window 1 (ids 100..109, max_length=4, stride=2)"),
             hint=("窗口 i 从位置 i * stride 开始", "window i starts at i * stride"))
expect_equal(_y.tolist(), [103, 104, 105, 106], ("窗口 1 的目标", "the target of window 1"),
             hint=("目标就是把输入向右错开一个 token", "the target is the input shifted one token to the right"))
_ds = SlidingWindowDataset(list(range(20)), 3, 3)  # 6 windows
for _i in (len(_ds), -2):
    expect_raises(IndexError, lambda: _ds[_i],
                  (f"dataset[{_i}]（共 {len(_ds)} 个窗口）", f"dataset[{_i}] ({len(_ds)} windows)"),
                  hint=("下标超出 0 .. len(dataset) - 1 时要抛出 IndexError，负数下标也一样："
                        "检查 0 <= i < len(self)，而不只是 i < len(self)",
                        "raise IndexError for an index outside 0 .. len(dataset) - 1, negative ones included: "
                        "check 0 <= i < len(self), not only i < len(self)"))
print("window content: ok")
### BEGIN HIDDEN TESTS
from torch.utils.data import DataLoader as _DataLoader

for _n, _length, _stride in [(10, 4, 1), (10, 4, 4), (23, 5, 3), (40, 6, 6), (40, 6, 9), (7, 6, 2)]:
    _ids = [(37 * k + 11) % 50257 for k in range(_n)]
    _ds = SlidingWindowDataset(_ids, _length, _stride)
    for _i in range(len(_ds)):
        _x, _y = _ds[_i]
        _s = _i * _stride
        expect_dtype(_y, torch.long, (f"窗口 {_i} 的目标", f"the target of window {_i}"),
                     hint=("输入和目标都必须是 torch.long", "both input and target are torch.long"))
        expect_equal(_x.tolist(), _ids[_s:_s + _length],
                     (f"窗口 {_i} 的输入（n={_n}，max_length={_length}，stride={_stride}）",
                      f"input of window {_i} (n={_n}, max_length={_length}, stride={_stride})"),
                     hint="input = token_ids[i*stride : i*stride + max_length]")
        expect_equal(_y.tolist(), _ids[_s + 1:_s + _length + 1],
                     (f"窗口 {_i} 的目标（n={_n}，max_length={_length}，stride={_stride}）",
                      f"target of window {_i} (n={_n}, max_length={_length}, stride={_stride})"),
                     hint="target = token_ids[i*stride + 1 : i*stride + max_length + 1]")
_ds = SlidingWindowDataset(torch.arange(30, dtype=torch.int32), 5, 5)
expect_dtype(_ds[2][0], torch.long, ("token_ids 是 int32 张量时的输入", "the input when token_ids is an int32 tensor"),
             hint=("在 __init__ 里把 id 转成 torch.long（torch.as_tensor(ids, dtype=torch.long)）",
                   "convert the ids to torch.long in __init__ (torch.as_tensor(ids, dtype=torch.long))"))
_batch_x, _batch_y = next(iter(_DataLoader(_ds, batch_size=3)))
expect_shape(_batch_x, (3, 5), ("用 DataLoader 从你的数据集取出的一个 batch", "a DataLoader batch of your dataset"),
             hint=("__getitem__ 返回两个形状为 (max_length,) 的张量", "__getitem__ returns two tensors of shape (max_length,)"))
expect_equal(_batch_y[:, :-1].tolist(), _batch_x[:, 1:].tolist(), ("同一个 batch 里的目标与输入对比", "batched targets vs inputs"),
             hint=("目标就是输入错开一位", "the target is the input shifted by one"))
try:
    _ds[len(_ds)]
except IndexError:
    pass
else:
    expect_equal("no error", "IndexError", f"dataset[len(dataset)] (= dataset[{len(_ds)}])",
                 hint=("下标超出 0 .. len(dataset) - 1 时要抛出 IndexError",
                       "raise IndexError for an index outside 0 .. len(dataset) - 1"))
from course.checks import expect_raises

for _i in (-1, -len(_ds)):
    expect_raises(IndexError, lambda: _ds[_i],
                  (f"dataset[{_i}]（共 {len(_ds)} 个窗口）", f"dataset[{_i}] ({len(_ds)} windows)"),
                  hint=("负数下标同样超出 0 .. len(dataset) - 1：要检查 0 <= i < len(self)，"
                        "而不只是 i < len(self)",
                        "negative indices are outside 0 .. len(dataset) - 1 too: check 0 <= i < len(self), "
                        "not only i < len(self)"))
### END HIDDEN TESTS

# %% [tests] id=test_short_text points=1
from course.checks import expect_equal, expect_own_work, expect_raises

expect_own_work(SlidingWindowDataset, lesson=31, what="SlidingWindowDataset")
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(7)), 12, 1),
              ("用 7 个 token、max_length=12 创建 SlidingWindowDataset", "SlidingWindowDataset(7 tokens, max_length=12)"),
              hint=("token 数少于 max_length + 1：要抛出 ValueError，并在消息里写明 token 数和 max_length",
                    "fewer than max_length + 1 tokens: raise ValueError naming the number of tokens and max_length"),
              message_contains=["7", "12"])
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(8)), 8, 2),
              ("用 8 个 token、max_length=8 创建 SlidingWindowDataset", "SlidingWindowDataset(8 tokens, max_length=8)"),
              hint=("一个窗口需要 max_length + 1 个 token：目标比输入多往后延伸一个 token",
                    "a window needs max_length + 1 tokens: the target reaches one token further than the input"))
expect_equal(len(SlidingWindowDataset(list(range(9)), 8, 3)), 1,
             ("9 个 token、max_length=8 时的 len(SlidingWindowDataset(...))",
              "len(SlidingWindowDataset(9 tokens, max_length=8))"),
             hint=("恰好 max_length + 1 个 token 时得到一个窗口", "exactly max_length + 1 tokens give one window"))
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(12)), 3, 0), "SlidingWindowDataset(list(range(12)), 3, 0)",
              hint=("stride 必须 >= 1", "stride must be >= 1"))
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(12)), 0, 2), "SlidingWindowDataset(list(range(12)), 0, 2)",
              hint=("max_length 必须 >= 1", "max_length must be >= 1"))
print("short text: ok")
### BEGIN HIDDEN TESTS
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(30)), 64, 8),
              ("用 30 个 token、max_length=64 创建 SlidingWindowDataset", "SlidingWindowDataset(30 tokens, max_length=64)"),
              hint=("错误消息里必须包含 token 数和 max_length",
                    "the message must contain the number of tokens and max_length"), message_contains=["30", "64"])
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(16)), 16, 1),
              ("用 16 个 token、max_length=16 创建 SlidingWindowDataset", "SlidingWindowDataset(16 tokens, max_length=16)"),
              hint=("一个窗口需要 max_length + 1 个 token：目标比输入多往后延伸一个 token",
                    "a window needs max_length + 1 tokens: the target reaches one token further than the input"))
expect_equal(len(SlidingWindowDataset(list(range(17)), 16, 1)), 1,
             ("17 个 token、max_length=16 时的 len(SlidingWindowDataset(...))",
              "len(SlidingWindowDataset(17 tokens, max_length=16))"),
             hint=("恰好 max_length + 1 个 token 时得到一个窗口", "exactly max_length + 1 tokens give one window"))
expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(20)), 4, 0), "SlidingWindowDataset(..., stride=0)",
              hint=("stride 必须 >= 1", "stride must be >= 1"))
_error = expect_raises(ValueError, lambda: SlidingWindowDataset(list(range(20)), 0, 1), "SlidingWindowDataset(..., max_length=0)",
                       hint=("max_length 必须 >= 1", "max_length must be >= 1"))
### END HIDDEN TESTS

# %% [markdown]
# 有了 Dataset，就可以在整份文档上看看窗口有多少。重叠越多，窗口越多；如果每个窗口都复制一份 token，stride = 1 时内存会暴涨，而我们只存了一份 id：
#
# > **EN** With the Dataset we can count the windows over the whole corpus. More overlap,
# > more windows; if every window copied its tokens, stride = 1 would blow up memory, while
# > we store the ids once:

# %%
for stride in [256, 128, 1]:
    print(f"max_length=256, stride={stride:3d}: {count_by_formula(len(docs_ids), 256, stride):7,d} windows;"
          f" copying every (input, target) pair would take"
          f" {count_by_formula(len(docs_ids), 256, stride) * 2 * 256 * 8 / 1e6:7.1f} MB")
docs_dataset = SlidingWindowDataset(docs_ids, max_length=256, stride=256)
print(f"your dataset (stride=256): {len(docs_dataset):,} windows;"
      f" all {len(docs_ids):,} ids stored once as int64 take {len(docs_ids) * 8 / 1e6:.1f} MB")

# %% [markdown]
# ## 5. 组成 batch：`DataLoader` / Batches: `DataLoader`
#
# `torch.utils.data.DataLoader` 从 Dataset 里取样本、叠成 batch：
#
# - `batch_size`：每个 batch 几个窗口，batch 的形状是 `(batch_size, max_length)`；
# - `shuffle=True`：每个 epoch 用新的随机顺序（训练时需要，免得模型总是按文档顺序看数据）；
# - `drop_last=True`：丢掉最后一个不满 `batch_size` 的 batch，让每个 batch 形状相同；
# - `generator`：一个 `torch.Generator`。给它设了 seed，打乱的顺序就能复现，而且 **不动全局随机状态**：模型初始化、dropout 用到的随机数不受影响。
#
# > **EN** `torch.utils.data.DataLoader` takes examples from a Dataset and stacks them into
# > batches:
# >
# > - `batch_size`: windows per batch; a batch has shape `(batch_size, max_length)`;
# > - `shuffle=True`: a new random order every epoch (needed for training, so the model does
# >   not always see the documents in the same order);
# > - `drop_last=True`: drop a last batch smaller than `batch_size`, so all batches have the
# >   same shape;
# > - `generator`: a `torch.Generator`. Seeded, it makes the order reproducible **without
# >   touching the global random state**: the random numbers used by weight init and dropout
# >   are unaffected.

# %%
small = SlidingWindowDataset(list(range(100, 111)), max_length=4, stride=1)  # 11 tokens -> 7 windows


def window_starts(loader):
    """The first token of every input in one pass over `loader`, batch by batch."""
    return [inputs[:, 0].tolist() for inputs, _ in loader]


loader_a = DataLoader(small, batch_size=3, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))
loader_b = DataLoader(small, batch_size=3, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))
print("windows:", len(small), "| batches per epoch:", len(loader_a))
print("loader A, epoch 1:", window_starts(loader_a))
print("loader B, epoch 1:", window_starts(loader_b), "(same seed, same order)")
print("loader A, epoch 2:", window_starts(loader_a), "(new epoch, new order)")

# %% [markdown]
# 同一个 seed 新建的 loader 给出同样的顺序；同一个 loader 的第二个 epoch 会换一个新顺序（generator 的状态往前走了），但整串顺序仍可复现。7 个窗口、batch_size = 3、`drop_last=True`，每个 epoch 只有 2 个 batch（见上面的输出）。
#
# > **EN** Fresh loaders with the same seed give the same order; one loader's second epoch
# > gets a new order (the generator's state has moved on), yet the whole sequence of orders
# > is reproducible. With 7 windows, batch_size = 3 and `drop_last=True`, an epoch has only
# > 2 batches (see the output above).

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["shuffle-seed", "drop-last"])

# %% [markdown]
# ## 6. `create_dataloader`
#
# 把三步合起来：用 tiktoken 的 GPT-2 分词器编码文本（允许 `<|endoftext|>`：GPT-2 用它分隔文档，它会变成 id 50256），用你的 `SlidingWindowDataset` 切窗口，再返回一个 `DataLoader`。第 36 课的训练循环会用同样接口的函数。
#
# > **EN** Put the three steps together: encode the text with tiktoken's GPT-2 tokenizer
# > (allowing `<|endoftext|>`: GPT-2 separates documents with it, and it becomes id 50256),
# > cut windows with your `SlidingWindowDataset`, and return a `DataLoader`. The training
# > loop of lesson 36 uses a function with this same interface.
#
# 从文本到 batch 的整条路，每一步都标出形状（n 是 token 数，L 是 `max_length`，s 是一个窗口的起点）：
#
# > **EN** The whole road from text to batches, with the shape at every step (n tokens, L = `max_length`,
# > s = where a window starts):
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     text["text"] --> enc["tiktoken gpt2 encode (end-of-text token allowed, id 50256)<br>token ids (n)"]
#     enc --> win["SlidingWindowDataset: window i starts at s = i * stride"]
#     win --> inp["input = ids[s : s + L]: (L)"]
#     win --> tgt["target = ids[s + 1 : s + L + 1]: (L)<br>the input shifted by one"]
#     inp --> dl["DataLoader: shuffle with a seeded generator,<br>batch_size windows, drop_last"]
#     tgt --> dl
#     dl --> batch["one batch: inputs (batch_size, L), targets (batch_size, L)"]
# ```

# %% [solution] id=create_dataloader
def create_dataloader(text, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                      seed=None, num_workers=0):
    """A torch.utils.data.DataLoader of (inputs, targets) batches cut from `text`.

    - Tokenize with tiktoken.get_encoding("gpt2"), allowing "<|endoftext|>" (id 50256).
    - Cut windows with SlidingWindowDataset(token_ids, max_length, stride)
      (a text shorter than one window raises its ValueError).
    - Each batch is (inputs, targets), both torch.long of shape (batch_size, max_length);
      drop_last=True drops a final smaller batch; shuffle=False keeps window order.
    - seed: if not None, give the DataLoader generator=torch.Generator().manual_seed(seed).
      Then loaders made with the same seed yield the same batches, torch's global random
      state is left alone, and each new pass over one loader draws a new order.
    """
    ### BEGIN SOLUTION
    tokenizer = tiktoken.get_encoding("gpt2")
    token_ids = tokenizer.encode(text, allowed_special={"<|endoftext|>"})
    dataset = SlidingWindowDataset(token_ids, max_length, stride)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      generator=generator, num_workers=num_workers)
    ### END SOLUTION

# %% [tests] id=test_dataloader_batches points=2
import tiktoken
import torch
from torch.utils.data import DataLoader
from course.checks import expect, expect_dtype, expect_equal, expect_own_work, expect_raises, expect_shape, expect_type

expect_own_work(create_dataloader, lesson=31, what="create_dataloader")
_text = " ".join(f"Window {k} teaches the model to guess the next token." for k in range(40))
_ids = tiktoken.get_encoding("gpt2").encode(_text)
_loader = create_dataloader(_text, batch_size=2, max_length=8, stride=8, shuffle=False)
expect_type(_loader, DataLoader, "create_dataloader(...)",
            hint=("返回一个 torch.utils.data.DataLoader", "return a torch.utils.data.DataLoader"))
_x, _y = next(iter(_loader))
expect_shape(_x, (2, 8),
             ("第一个 batch 的输入（batch_size=2，max_length=8）", "inputs of the first batch (batch_size=2, max_length=8)"),
             hint=("用 DataLoader(dataset, batch_size=...) 组成 batch", "DataLoader(dataset, batch_size=...)"))
expect_dtype(_x, torch.long, ("第一个 batch 的输入", "inputs of the first batch"),
             hint=("token id 是 torch.long", "token ids are torch.long"))
expect_equal(_x[0].tolist(), _ids[:8], ("第一行输入，shuffle=False", "first input row, shuffle=False"),
             hint=("用 tiktoken.get_encoding('gpt2') 分词", "tokenize with tiktoken.get_encoding('gpt2')"))
expect_equal(_y[0].tolist(), _ids[1:9], ("第一行目标，shuffle=False", "first target row, shuffle=False"),
             hint=("目标就是输入错开一位", "targets are the inputs shifted by one"))
expect_equal(_x[1].tolist(), _ids[8:16], ("第二行输入（stride=8）", "second input row (stride=8)"),
             hint=("shuffle=False 时窗口保持原来的顺序", "shuffle=False keeps the windows in order"))
_n_windows = (len(_ids) - 7 - 1) // 5 + 1  # max_length=7, stride=5: not a multiple of batch_size=4
for _drop_last, _sizes in [(True, [4] * (_n_windows // 4)), (False, [4] * (_n_windows // 4) + [_n_windows % 4])]:
    expect_equal([len(_x) for _x, _ in create_dataloader(_text, batch_size=4, max_length=7, stride=5, shuffle=False,
                                                           drop_last=_drop_last)], _sizes,
                 (f"每个 batch 的大小（{_n_windows} 个窗口，batch_size=4，drop_last={_drop_last}）",
                  f"the size of every batch ({_n_windows} windows, batch_size=4, drop_last={_drop_last})"),
                 hint=("把 drop_last 原样传给 DataLoader：True 丢掉最后那个不满的 batch，False 保留它",
                       "pass drop_last through to the DataLoader: True drops the last, smaller batch, False keeps it"))
_eot_text = "Hi.<|endoftext|>A new document starts here."
_eot_hint = ('编码时传入 allowed_special={"<|endoftext|>"}，让它变成 id 50256',
             'encode with allowed_special={"<|endoftext|>"} so it becomes the id 50256')
try:
    _x, _ = next(iter(create_dataloader(_eot_text, batch_size=1, max_length=3, stride=3, shuffle=False)))
except Exception as _exc:  # noqa: BLE001 (reported below)
    expect(False, f"create_dataloader({_eot_text!r}, batch_size=1, max_length=3, stride=3, shuffle=False)",
           (f"抛出了 {type(_exc).__name__}：{str(_exc)[:300]}", f"raised {type(_exc).__name__}: {str(_exc)[:300]}"),
           hint=_eot_hint)
expect_equal(_x[0].tolist(), tiktoken.get_encoding("gpt2").encode(_eot_text, allowed_special={"<|endoftext|>"})[:3],
             ("含有 <|endoftext|> 的文本的第一个窗口（max_length=3）", "first window of a text with <|endoftext|> (max_length=3)"),
             hint=_eot_hint)
print("dataloader batches: ok")
### BEGIN HIDDEN TESTS
_starts = [s for s in range(0, len(_ids), 4) if s + 5 + 1 <= len(_ids)]  # max_length=5, stride=4
_batches = list(create_dataloader(_text, batch_size=3, max_length=5, stride=4, shuffle=False))
expect_equal(len(_batches), len(_starts) // 3,
             (f"batch 的个数（{len(_starts)} 个窗口，batch_size=3，drop_last=True）",
              f"number of batches ({len(_starts)} windows, batch_size=3, drop_last=True)"),
             hint=("drop_last=True 会丢掉最后那个不满的 batch", "drop_last=True drops the last, smaller batch"))
for _b, (_x, _y) in enumerate(_batches):
    expect_shape(_x, (3, 5), (f"第 {_b} 个 batch 的输入", f"inputs of batch {_b}"),
                 hint=("每个 batch 的形状都是 (batch_size, max_length)", "every batch has shape (batch_size, max_length)"))
    for _row in range(3):
        _s = _starts[3 * _b + _row]
        expect_equal((_x[_row].tolist(), _y[_row].tolist()), (_ids[_s:_s + 5], _ids[_s + 1:_s + 6]),
                     (f"第 {_b} 个 batch 的第 {_row} 行（max_length=5，stride=4，shuffle=False）",
                      f"row {_row} of batch {_b} (max_length=5, stride=4, shuffle=False)"),
                     hint=("窗口按顺序排列，每个都是（输入，错开一位的输入）", "windows in order, each (input, input shifted by one)"))
_kept = list(create_dataloader(_text, batch_size=3, max_length=5, stride=4, shuffle=False, drop_last=False))
expect_equal(len(_kept), -(-len(_starts) // 3),
             ("drop_last=False 时 batch 的个数", "number of batches with drop_last=False"),
             hint=("把 drop_last 原样传给 DataLoader", "pass drop_last through to the DataLoader"))
expect_equal(_kept[-1][0].shape[0], len(_starts) - 3 * (len(_kept) - 1),
             ("drop_last=False 时最后一个 batch 的大小", "size of the last batch with drop_last=False"),
             hint=("把 drop_last 原样传给 DataLoader", "pass drop_last through to the DataLoader"))
_eot_text = "First document.<|endoftext|>Second document, a little longer than the first one."
_x, _ = next(iter(create_dataloader(_eot_text, batch_size=1, max_length=6, stride=6, shuffle=False)))
expect_equal(_x[0].tolist(), tiktoken.get_encoding("gpt2").encode(_eot_text, allowed_special="all")[:6],
             ("含有 <|endoftext|> 的文本的第一个窗口", "first window of a text with <|endoftext|>"),
             hint=('编码时传入 allowed_special={"<|endoftext|>"}，让它变成 id 50256',
                   'encode with allowed_special={"<|endoftext|>"} so it becomes the id 50256'))
_error = expect_raises(ValueError, lambda: create_dataloader("far too short", max_length=64),
                       ("调用 create_dataloader('far too short', max_length=64)",
                        "create_dataloader('far too short', max_length=64)"),
                       hint=("比一个窗口还短的文本必须抛出 ValueError（SlidingWindowDataset 就会这样做）",
                             "a text shorter than one window must raise ValueError (SlidingWindowDataset does)"))
### END HIDDEN TESTS

# %% [tests] id=test_dataloader_seed points=2
import torch
from course.checks import expect, expect_own_work

expect_own_work(create_dataloader, lesson=31, what="create_dataloader")
_text = " ".join(f"Sentence {k} is one more piece of text to cut into windows." for k in range(30))


def first_epoch(seed, **kwargs):
    """The inputs of every batch of one pass over a fresh loader, as nested lists."""
    loader = create_dataloader(_text, batch_size=2, max_length=6, stride=6, seed=seed, **kwargs)
    return [inputs.tolist() for inputs, _ in loader]


expect(first_epoch(0) == first_epoch(0), ("用 seed=0 创建的两个 loader", "two loaders made with seed=0"),
       ("它们给出的 batch 不一样。", "they gave different batches."),
       hint=("把 generator=torch.Generator().manual_seed(seed) 传给 DataLoader",
             "pass generator=torch.Generator().manual_seed(seed) to the DataLoader"))
expect(first_epoch(2) != first_epoch(4), ("分别用 seed=2 和 seed=4 创建的 loader", "loaders made with seed=2 and seed=4"),
       ("它们给出的 batch 完全相同。", "they gave the same batches."),
       hint=("打乱后的顺序必须由 seed 决定", "the seed must decide the shuffled order"))
expect(first_epoch(11) != first_epoch(None, shuffle=False),
       ("打乱的一个 epoch（seed=11）与 shuffle=False 对比", "a shuffled epoch (seed=11) vs shuffle=False"),
       ("两者的顺序相同。", "they are in the same order."),
       hint=("必须把 shuffle 原样传给 DataLoader（默认 shuffle=True）",
             "pass shuffle through to the DataLoader (the default is shuffle=True)"))
expect(sorted(_row for _batch in first_epoch(11, drop_last=False) for _row in _batch)
       == sorted(_row for _batch in first_epoch(None, shuffle=False, drop_last=False) for _row in _batch),
       ("打乱的一个 epoch 里的窗口（seed=11，drop_last=False）", "the windows of a shuffled epoch (seed=11, drop_last=False)"),
       ("它们和不打乱时的窗口不一样。", "they are not the same windows as without shuffling."),
       hint=("打乱只能改变顺序，不能改变窗口本身", "shuffling must only change the order"))
_loader = create_dataloader(_text, batch_size=2, max_length=6, stride=6, seed=13)
expect([_x.tolist() for _x, _ in _loader] != [_x.tolist() for _x, _ in _loader],
       ("对同一个 loader 遍历两遍（seed=13）", "two passes over one loader (seed=13)"),
       ("两个 epoch 的顺序相同。", "both epochs had the same order."),
       hint=("在 create_dataloader 里只创建一次 Generator，并把它交给 DataLoader：它的状态会随每个 epoch 往前走",
             "create the Generator once, in create_dataloader, and hand it to the DataLoader: its state moves on each epoch"))
torch.manual_seed(2024)
_expected = torch.rand(3)
torch.manual_seed(2024)
first_epoch(9)
expect(torch.equal(torch.rand(3), _expected),
       ("创建并遍历一个 seed=9 的 loader 之后，torch 的全局随机状态",
        "torch's global random state after creating and using a loader with seed=9"),
       ("它被改变了。", "it changed."),
       hint=("不要调用 torch.manual_seed；给 DataLoader 一个它自己的、设好 seed 的 torch.Generator",
             "do not call torch.manual_seed; give the DataLoader its own seeded torch.Generator"))
print("dataloader seed: ok")
### BEGIN HIDDEN TESTS
expect(first_epoch(0) != first_epoch(1), ("分别用 seed=0 和 seed=1 创建的 loader", "loaders made with seed=0 and seed=1"),
       ("它们给出的 batch 完全相同。", "they gave the same batches."),
       hint=("打乱后的顺序必须由 seed 决定", "the seed must decide the shuffled order"))
_plain = first_epoch(None, shuffle=False)
_shuffled = first_epoch(3)
expect(_shuffled != _plain, ("打乱的一个 epoch（seed=3）与 shuffle=False 对比", "a shuffled epoch (seed=3) vs shuffle=False"),
       ("两者的顺序相同。", "they are in the same order."),
       hint=("必须把 shuffle=True 传给 DataLoader", "shuffle=True must be passed through to the DataLoader"))
_all_plain = sorted(row for batch in first_epoch(None, shuffle=False, drop_last=False) for row in batch)
_all_shuffled = sorted(row for batch in first_epoch(3, drop_last=False) for row in batch)
expect(_all_shuffled == _all_plain,
       ("打乱的一个 epoch 里的窗口（drop_last=False）", "the windows of a shuffled epoch (drop_last=False)"),
       ("它们和不打乱时的窗口不一样。", "they are not the same windows as without shuffling."),
       hint=("打乱只能改变顺序，不能改变窗口本身", "shuffling must only change the order"))
_loader = create_dataloader(_text, batch_size=2, max_length=6, stride=6, seed=7)
_epoch1 = [inputs.tolist() for inputs, _ in _loader]
_epoch2 = [inputs.tolist() for inputs, _ in _loader]
expect(_epoch1 != _epoch2, ("对同一个 loader 遍历两遍（seed=7）", "two passes over one loader (seed=7)"),
       ("两个 epoch 的顺序相同。", "both epochs had the same order."),
       hint=("在 create_dataloader 里只创建一次 Generator，并把它交给 DataLoader：它的状态会随每个 epoch 往前走",
             "create the Generator once, in create_dataloader, and hand it to the DataLoader: its state moves on each epoch"))
torch.manual_seed(123)
_expected = torch.rand(3)
torch.manual_seed(123)
first_epoch(5)
expect(torch.equal(torch.rand(3), _expected),
       ("创建并使用一个设了 seed 的 loader 之后，torch 的全局随机状态",
        "torch's global random state after creating and using a seeded loader"),
       ("它被改变了。", "it changed."),
       hint=("不要调用 torch.manual_seed；给 DataLoader 一个它自己的、设好 seed 的 torch.Generator",
             "do not call torch.manual_seed; give the DataLoader its own seeded torch.Generator"))
### END HIDDEN TESTS

# %% [markdown]
# ## 7. 整份文档的 batch / Batches from the whole corpus
#
# 用你的 `create_dataloader` 处理整份 Python 文档：max_length = 256、stride = 256（不重叠）、每个 batch 8 个窗口。
#
# > **EN** Your `create_dataloader` on the whole of Python's docs: max_length = 256,
# > stride = 256 (no overlap), 8 windows per batch.

# %%
loader = create_dataloader(docs, batch_size=8, max_length=256, stride=256, shuffle=True, seed=0)
inputs, targets = next(iter(loader))
print(f"{len(loader.dataset):,} windows -> {len(loader):,} batches of 8 (formula: {count_by_formula(len(docs_ids), 256, 256):,} windows)")
print("inputs:", tuple(inputs.shape), inputs.dtype, "| targets:", tuple(targets.shape), targets.dtype)
print("input  row 0 starts:", repr(tokenizer.decode(inputs[0, :12].tolist())))
print("target row 0 starts:", repr(tokenizer.decode(targets[0, :12].tolist())))

# %% [markdown]
# 每个 batch 是两个 `(8, 256)` 的 `torch.long` tensor，target 恰好比 input 晚一个 token。这就是 GPT 训练时每一步吃进去的东西。
#
# > **EN** Each batch is two `(8, 256)` `torch.long` tensors, the target exactly one token
# > ahead of the input. This is what a GPT eats at every training step.

# %% [markdown]
# ## 8. 课后小测 / After the lesson

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# ## 9. 小结 / Summary
#
# 你用 tiktoken 把文本变成一长串 id，用 `SlidingWindowDataset` 按 `max_length` 和 `stride` 切出 (input, target) 窗口（窗口数 = (n − max_length − 1) // stride + 1，token 不够时给出清楚的错误），再用 `create_dataloader` 组成形状为 `(batch_size, max_length)` 的 batch，并用独立的 `torch.Generator` 让打乱顺序可以复现。
#
# **下一课（32）** 把这些 id 变成向量：token embedding 加上位置 embedding，这是 GPT 模型的第一层。
#
# > **EN** You turned text into one long stream of ids with tiktoken, cut (input, target)
# > windows from it with `SlidingWindowDataset` by `max_length` and `stride` (number of
# > windows = (n − max_length − 1) // stride + 1, with a clear error when there are too few
# > tokens), and grouped them into `(batch_size, max_length)` batches with
# > `create_dataloader`, whose own `torch.Generator` makes the shuffled order reproducible.
# >
# > **Next (lesson 32):** these ids become vectors: a token embedding plus a position
# > embedding, the first layer of the GPT model.
