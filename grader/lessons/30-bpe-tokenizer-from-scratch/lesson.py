# Lesson 30: a byte-level BPE tokenizer from scratch (authoring script; see docs/AUTHORING.md).
# Graded: merge_pair, train_bpe, decode, encode. Reference: gpt2ref/bpe.py.

# %% [markdown]
# # 第 30 课 · 从零实现字节级 BPE 分词器
# # Lesson 30 · A byte-level BPE tokenizer from scratch
#
# 模型只认识数字。把文本变成数字（token id）的那一步叫 **tokenization**。GPT-2 用的是 **字节级 BPE**（byte pair encoding）：从 256 个字节值出发，反复把最常见的相邻一对合并成一个新 token。这一课你亲手写出它，再和 GPT-2 真正的分词器 `tiktoken` 放在一起比较。
#
# > **EN** A model only understands numbers. Turning text into numbers (token ids) is
# > **tokenization**. GPT-2 uses **byte-level BPE** (byte pair encoding): start from the 256
# > byte values and keep merging the most frequent adjacent pair into a new token. In this
# > lesson you write it yourself, then set it beside GPT-2's real tokenizer, `tiktoken`.
#
# **学完这一课，你将写出 / By the end you will have written:**
#
# 1. `merge_pair(ids, pair, new_id)`：把一个 pair 的所有出现替换成新 id / replace every occurrence of a pair by a new id;
# 2. `train_bpe(text, num_merges)`：在语料上学出 merges / learn the merges from a corpus;
# 3. `decode(ids, merges)`：id → 文本 / ids → text;
# 4. `encode(text, merges, allowed_special=())`：文本 → id，包括特殊 token `<|endoftext|>` / text → ids, special token included.
#
# **怎么用这个 notebook / How to run it:** 从上到下依次运行（Shift+Enter）。写着 `# YOUR CODE HERE` 的单元格由你完成；紧跟其后的测试单元格会立刻检查，失败信息会说明期望值、实际值和可能的原因。批改时还会运行隐藏测试：它们用别的数据和随机种子重新检查同样的内容，不会检查你在这里看不到的新东西。所以只要每个测试单元格都显示“ok”、Validate 也通过，代码部分就是满分。较慢的演示单元格（在整份语料上训练、画图）在自动评分时会跳过。
#
# > **EN** Run the cells top to bottom (Shift+Enter). You complete the cells that say
# > `# YOUR CODE HERE`; the test cell right after each one checks it at once, and a failure
# > says what was expected, what came out and the likely cause. Grading also runs hidden
# > tests: they re-check the same things with other data and seeds, nothing you cannot see
# > here. So if every test cell prints "ok" and Validate passes, the code gets full marks.
# > The slower demo cells (training on the whole corpus, figures) are skipped while
# > autograding.

# %% [markdown]
# **学习时间 / Study time：** 大约 90 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 90 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | 字节 / byte | UTF-8 把每个字符写成 1 到 4 个字节；BPE 从 256 个字节起步 | UTF-8 writes every character as 1 to 4 bytes; BPE starts from the 256 byte values |
# | merge | 把最常见的相邻一对 id 合成一个新 id，记进合并表 | replace the most frequent adjacent pair of ids by a new id, recorded in the merge table |
# | 词表 / vocabulary | 所有 token id 和它们代表的字节串 | every token id and the bytes it stands for |
# | pre-tokenization | 先用正则把文本切成小块，merge 不跨块 | a regex first cuts the text into chunks; merges never cross a chunk |
# | special token | `<|endoftext|>` 这类不由 merge 产生、单独编号的 token | a token such as `<|endoftext|>` that gets its own id instead of coming from merges |

# %% [markdown]
# ## 0. 准备 / Setup

# %%
import time
from collections import Counter

import matplotlib.pyplot as plt
import regex  # like `re`, plus Unicode classes: \p{L} = any letter, \p{N} = any digit
import tiktoken

from course.corpus import python_docs

# %% [markdown]
# 先做几道课前小题，看看你已经知道什么（答错没关系，课后还会再见到这些概念）。
#
# > **EN** A few questions before we start, to see what you already know (wrong answers are
# > fine; the ideas come back after the lesson).

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. 文本就是字节 / Text is bytes
#
# Python 的 `str.encode("utf-8")` 把文本变成字节。看看几个字符各占几个字节：
#
# > **EN** `str.encode("utf-8")` turns text into bytes. How many bytes does each of these
# > characters take?

# %%
for s in ["A", "é", "你", "😀"]:
    b = s.encode("utf-8")
    print(f"{s!r}: {len(b)} byte(s) -> {list(b)}")

# %% [markdown]
# UTF-8 用 1 到 4 个字节表示一个字符：英文字母 1 个，带重音的字母 2 个，大多数汉字 3 个，emoji 4 个。每个字节是 0 到 255 之间的整数，所以我们把 **id 0..255 直接定为这 256 个字节值**。任何字符串都能写成字节，于是任何字符串都能编码：不需要“未知 token”（`<unk>`）。代价是序列很长：一个汉字要 3 个 id。BPE 的工作就是把常见的字节组合合并成更长的 token，让序列变短。
#
# > **EN** UTF-8 uses 1 to 4 bytes per character: one for an English letter, two for an
# > accented letter, three for most Chinese characters, four for an emoji. Every byte is an
# > integer from 0 to 255, so **ids 0..255 are simply the 256 byte values**. Any string can
# > be written as bytes, hence any string can be encoded: no "unknown token" (`<unk>`) is
# > ever needed. The price is long sequences: one Chinese character takes 3 ids. BPE's job
# > is to merge frequent byte combinations into longer tokens so that sequences get shorter.

# %%
ids = list("aaabdaaabac".encode("utf-8"))
print("ids:", ids)
pair_counts = Counter(zip(ids, ids[1:]))  # every adjacent pair (ids[i], ids[i+1])
print("pair counts:", pair_counts.most_common())

# %% [markdown]
# ## 2. 合并一个 pair / Merging one pair
#
# 上面最常见的 pair 是 `(97, 97)`，也就是 `"aa"`，出现 4 次。一次 **merge** 给它一个新 id（第一个空闲的是 256），并把序列里每一处 `97, 97` 换成 `256`。从左往右扫描，**不重叠**：`"aaa"` 变成 `[256, 97]`，而不是两个 256。
#
# > **EN** The most frequent pair above is `(97, 97)`, i.e. `"aa"`, 4 times. A **merge**
# > gives it a new id (the first free one is 256) and replaces every `97, 97` in the
# > sequence by `256`. Scan from left to right, **without overlap**: `"aaa"` becomes
# > `[256, 97]`, not two 256s.

# %% [solution] id=merge_pair
def merge_pair(ids, pair, new_id):
    """Return a NEW list in which every occurrence of `pair` in `ids` is replaced by `new_id`.

    ids:    list of int token ids (must not be changed)
    pair:   tuple (left_id, right_id)
    new_id: int
    Scan from left to right; occurrences do not overlap:
        merge_pair([1, 2, 3, 1, 2], (1, 2), 99) == [99, 3, 99]
        merge_pair([7, 7, 7], (7, 7), 99) == [99, 7]
    """
    ### BEGIN SOLUTION
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2  # both ids of the pair are used up
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION

# %% [tests] id=test_merge_pair points=2
from course.checks import expect_equal, expect_own_work, expect_type

expect_own_work(merge_pair, lesson=30, what="merge_pair")
_out = merge_pair([1, 2, 3, 1, 2], (1, 2), 99)
expect_type(_out, list, "merge_pair([1, 2, 3, 1, 2], (1, 2), 99)",
            hint=("返回一个新的 Python list，元素都是 int", "return a new Python list of ints"))
expect_equal(_out, [99, 3, 99], "merge_pair([1, 2, 3, 1, 2], (1, 2), 99)",
             hint=("要替换这个 pair 的每一次出现，而不只是第一次", "replace every occurrence of the pair, not only the first one"))
expect_equal(merge_pair([7, 7, 7], (7, 7), 99), [99, 7], "merge_pair([7, 7, 7], (7, 7), 99)",
             hint=("合并之后要跳过 pair 的两个 id（向前移动 2 位）：各次出现互不重叠",
                   "after a merge skip BOTH ids of the pair (move on by 2): occurrences do not overlap"))
expect_equal(merge_pair([], (5, 6), 8), [], "merge_pair([], (5, 6), 8)",
             hint=("空列表应当返回空列表", "an empty list gives an empty list"))
_ids = [5, 6, 5, 6, 5]
merge_pair(_ids, (5, 6), 8)
expect_equal(_ids, [5, 6, 5, 6, 5], ("调用 merge_pair(ids, (5, 6), 8) 之后的 ids", "ids after merge_pair(ids, (5, 6), 8)"),
             hint=("新建一个列表并返回；不要原地修改 ids", "build and return a new list; do not change `ids` in place"))
print("merge_pair: ok")
### BEGIN HIDDEN TESTS
import gpt2ref.bpe as ref_bpe
import random as _random

for _ids, _pair, _expected, _hint in [
    ([7, 7, 7, 7], (7, 7), [99, 99],
     ("各次出现互不重叠：合并之后向前移动 2 位", "occurrences do not overlap: after a merge move on by 2")),
    ([5, 1, 2], (1, 2), [5, 99], ("位于列表最末尾的 pair 也必须合并", "a pair at the very end of the list must be merged too")),
    ([1, 2], (2, 1), [1, 2],
     ("(left, right) 是有序的：(2, 1) 和 (1, 2) 不是同一个 pair",
      "(left, right) is ordered: (2, 1) is not the same pair as (1, 2)")),
    ([1], (1, 2), [1], ("只有一个 id 的列表里没有 pair，原样返回即可", "a list with one id has no pair; return it unchanged")),
    ([], (1, 2), [], ("空列表应当返回空列表", "an empty list gives an empty list")),
]:
    expect_equal(merge_pair(list(_ids), _pair, 99), _expected, f"merge_pair({_ids}, {_pair}, 99)", hint=_hint)
_ids = [3, 4, 3, 4]
merge_pair(_ids, (3, 4), 9)
expect_equal(_ids, [3, 4, 3, 4], ("调用结束后，传给 merge_pair 的那个列表", "the list passed to merge_pair, after the call"),
             hint=("新建一个列表并返回；不要原地修改 ids", "build and return a new list; do not change `ids` in place"))
_rng = _random.Random(0)
for _ in range(300):
    _ids = [_rng.randrange(3) for _ in range(_rng.randrange(12))]
    _pair = (_rng.randrange(3), _rng.randrange(3))
    expect_equal(merge_pair(list(_ids), _pair, 9), ref_bpe.merge_pair(_ids, _pair, 9),
                 f"merge_pair({_ids}, {_pair}, 9)",
                 hint=("从左到右扫描；合并后跳过这两个 id", "scan left to right; merge, then skip both ids"))
### END HIDDEN TESTS

# %% [markdown]
# ## 3. 先切块：GPT-2 的正则 / Chunks first: GPT-2's regex
#
# 如果直接在整段文本上数 pair，BPE 会学到跨越单词边界的 token，比如 `"g."`（来自 `"dog."`）、`"e t"`（来自 `"the tree"`）。同一个词后面接句号、逗号、问号，就要各占一个 token，词表被浪费在组合上。GPT-2 先用一个正则表达式把文本切成 **块**（chunk）：单词（带上它前面的一个空格）、数字、标点串、空白。pair 只在块内部统计和合并，所以 token 永远不会跨越块的边界。
#
# > **EN** Counting pairs over the raw text, BPE would learn tokens that straddle word
# > boundaries, such as `"g."` (from `"dog."`) or `"e t"` (from `"the tree"`). A word followed
# > by a full stop, a comma or a question mark would need one token per combination, wasting
# > the vocabulary. GPT-2 first cuts the text into **chunks** with a regular expression:
# > words (with the one space before them), numbers, runs of punctuation, whitespace. Pairs
# > are counted and merged only inside a chunk, so a token never crosses a chunk boundary.

# %%
GPT2_SPLIT_PATTERN = regex.compile(
    r"""'(?:[sdmt]|ll|ve|re)"""  # contractions: 's 't 'd 'm 'll 've 're
    r"""| ?\p{L}+"""             # letters (any script), with at most one space in front
    r"""| ?\p{N}+"""             # digits, with at most one space in front
    r"""| ?[^\s\p{L}\p{N}]+"""   # punctuation and symbols, with at most one space in front
    r"""|\s+(?!\S)"""            # whitespace, leaving the last space to the next word
    r"""|\s+"""                  # any other whitespace
)


def pre_split(text):
    """GPT-2's chunks of `text`; joined together they give back `text`."""
    return GPT2_SPLIT_PATTERN.findall(text)


for sample in ["Hello, world! It's 2024.", "def f(x):\n    return x", "你好,世界 😀"]:
    print(pre_split(sample))

# %% [markdown]
# 注意空格跟着后面的词走（`" world"`），缩进的空白单独成块，中文的一串汉字是一个块（`\p{L}` 匹配任何文字的字母）。
#
# > **EN** The space travels with the word after it (`" world"`), indentation is a chunk of
# > its own, and a run of Chinese characters is one chunk (`\p{L}` matches letters of any
# > script).

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["pre-split"])

# %% [markdown]
# ## 4. 训练：数一数，合一合，再重复 / Training: count, merge, repeat
#
# 训练就是重复同一步：数出所有相邻 pair，把最常见的那个合并成新 id（第 i 次 merge，从 0 数起，得到 id `256 + i`）。结果是一个字典 `merges = {(left_id, right_id): new_id}`，按学到的顺序排列。
#
# 两个 pair 次数一样多时怎么办？我们约定一个固定的 **平局规则**：次数相同，取 **元组更小** 的 pair，先比 left，再比 right。这样训练结果完全确定，你的 merges 可以和参考实现逐条比较。下面在一个块 `"aaabdaaabac"` 上一步步演示（用的是你刚写的 `merge_pair`）：
#
# > **EN** Training repeats one step: count all adjacent pairs and merge the most frequent
# > one into a new id (merge i, counting from 0, gets id `256 + i`). The result is a dict
# > `merges = {(left_id, right_id): new_id}` in learned order.
# >
# > What if two pairs are equally frequent? We fix a **tie-break rule**: on equal counts,
# > take the **smaller pair as a tuple**, comparing left first, then right. Training is then
# > fully deterministic, and your merges can be compared with the reference one by one.
# > Here it is step by step on the single chunk `"aaabdaaabac"` (with your `merge_pair`):

# %%
ids = list("aaabdaaabac".encode("utf-8"))
for step in range(4):
    counts = Counter(zip(ids, ids[1:]))
    best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent, then smallest
    print(f"step {step}: counts {dict(counts)}\n        -> merge {best} into {256 + step}")
    ids = merge_pair(ids, best, 256 + step)
print("final ids:", ids)

# %% [markdown]
# 第 1 步（step 1）里 `(97, 98)` 和 `(256, 97)` 都出现 2 次：元组 `(97, 98)` 更小，所以它赢。最后一步四个 pair 都只出现 1 次，最小的是 `(97, 99)`。
#
# > **EN** In step 1, `(97, 98)` and `(256, 97)` both occur twice: the tuple `(97, 98)` is
# > smaller, so it wins. In the last step four pairs occur once each; the smallest is
# > `(97, 99)`.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["tie-break"])

# %% [markdown]
# 现在把它推广到真正的文本：先 `pre_split`，每个块变成自己的字节列表，pair 的次数是 **所有块加起来** 的次数（但绝不跨块）。没有块剩下两个以上 token 时，提前停止。
#
# **提速小技巧：** 相同的块（比如成千上万个 `" the"`）行为完全一样。用 `Counter(pre_split(text))` 只保留每个不同的块一次，再把 pair 的次数乘以这个块出现的次数，训练会快好几倍。
#
# > **EN** Now generalise to real text: `pre_split` first, each chunk becomes its own list of
# > bytes, and a pair's count is summed **over all chunks** (but never across two chunks).
# > Stop early when no chunk has two or more tokens left.
# >
# > **Speed tip:** identical chunks (thousands of `" the"`) behave identically. Keep every
# > distinct chunk once with `Counter(pre_split(text))` and weight its pairs by how often
# > the chunk occurs: training gets several times faster.
#
# 整个训练循环画出来是这样（第 i 圈，从 0 数起）：
#
# > **EN** The whole training loop as a picture (round i, counting from 0):
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     text["text"] --> split["pre_split(text): chunks<br>Counter keeps each distinct chunk once, with its count"]
#     split --> bytes["every chunk -> its UTF-8 bytes (ids 0..255)"]
#     bytes --> count["count adjacent pairs inside each chunk,<br>times the chunk's count, summed over chunks"]
#     count --> best["pick the most frequent pair;<br>on a tie, the smaller tuple"]
#     best --> merge["merge_pair(ids, pair, 256 + i) in every chunk"]
#     merge --> record["merges[pair] = 256 + i"]
#     record -- "more merges wanted,<br>some chunk still has<br>2+ tokens: next round" --> count
#     record -- "num_merges reached, or<br>nothing left to merge" --> out["merges: (left_id, right_id) -> new_id,<br>in learned order"]
# ```

# %% [solution] id=train_bpe
def train_bpe(text, num_merges):
    """Learn up to `num_merges` merges from `text`; return a dict {(left_id, right_id): new_id}.

    - Cut `text` with pre_split(text); each chunk starts as its UTF-8 bytes (ids 0..255).
    - Each step: count every adjacent pair inside the chunks, summed over all chunks
      (never across two chunks). Merge the most frequent pair; on a tie the smaller
      pair as a tuple wins ((32, 116) beats (104, 101)). Replace it in every chunk.
    - Step i (0-based) creates the id 256 + i; the dict keeps the learned order.
    - Stop early when no chunk has two tokens left (then len(result) < num_merges).
    - train_bpe("", n) == {} and train_bpe(text, 0) == {}.
    """
    ### BEGIN SOLUTION
    chunk_counts = Counter(pre_split(text))  # each distinct chunk once, with how often it occurs
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    freqs = list(chunk_counts.values())
    merges = {}
    for i in range(num_merges):
        counts = {}
        for ids, freq in zip(words, freqs):
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        new_id = 256 + i
        merges[best] = new_id
        words = [merge_pair(ids, best, new_id) for ids in words]
    return merges
    ### END SOLUTION

# %% [tests] id=test_train_bpe_ids points=2
from course.checks import expect, expect_equal, expect_own_work, expect_type

expect_own_work(train_bpe, lesson=30, what="train_bpe")
_m = train_bpe("aaabdaaabac", 4)
expect_type(_m, dict, "train_bpe('aaabdaaabac', 4)",
            hint=("返回一个 dict {(left_id, right_id): new_id}", "return a dict {(left_id, right_id): new_id}"))
expect_equal(list(_m.values()), [256, 257, 258, 259],
             ("train_bpe('aaabdaaabac', 4) 分配的新 id", "the new ids of train_bpe('aaabdaaabac', 4)"),
             hint=("第 i 次合并（从 0 开始数）得到 id 256 + i；id 0..255 留给单个字节",
                   "merge i (counting from 0) gets the id 256 + i; ids 0..255 are the bytes"))
try:
    _m = train_bpe("hello", 9)
except Exception as _exc:  # noqa: BLE001 (reported below)
    expect(False, "train_bpe('hello', 9)",
           (f"抛出了 {type(_exc).__name__}：{_exc}", f"raised {type(_exc).__name__}: {_exc}"),
           hint=("没有哪个 chunk 还剩两个 token 时（一个 pair 也数不出来）就提前停止，不要再去找最常见的 pair",
                 "stop early when no chunk has two tokens left (no pair to count): do not look for a best pair then"))
expect_equal(len(_m), 4, "len(train_bpe('hello', 9))",
             hint=("'hello' 只有 5 个字节，合并 4 次后就只剩一个 token：这时提前停止，返回的合并少于 num_merges",
                   "'hello' has 5 bytes, one token after 4 merges: stop early then, with fewer than num_merges merges"))
expect_equal(train_bpe("", 2), {}, "train_bpe('', 2)",
             hint=("没有文本就没有 pair：返回空 dict", "no text, no pairs: return an empty dict"))
expect_equal(train_bpe("hello", 0), {}, ("train_bpe('hello', 0) 的返回值", "train_bpe('hello', 0)"),
             hint=("num_merges=0：不做任何合并", "num_merges=0: no merges"))
print("train_bpe ids: ok")
### BEGIN HIDDEN TESTS
from course.corpus import python_docs as _python_docs

_merges = train_bpe(_python_docs()[:4000], 60)
expect_equal(list(_merges.values()), list(range(256, 316)),
             ("train_bpe(text, 60) 在 4000 个字符上分配的新 id", "the new ids of train_bpe(4000 characters, 60)"),
             hint=("每次合并一个新 id，从 256 起连续编号，按学到的先后顺序", "one new id per merge, consecutive from 256, in learned order"))
for (_left, _right), _new in _merges.items():
    expect(_left < _new and _right < _new,
           ("每次合并连接的两个 id 都必须在它之前就已存在", "every merge joins two ids that existed before it"),
           f"({_left}, {_right}) -> {_new}", hint=("第 i 步的新 id 是 256 + i", "the new id of step i is 256 + i"))
expect_equal(len(train_bpe("abcd", 10)), 3, "len(train_bpe('abcd', 10))",
             hint=("当没有哪个 chunk 还剩两个 token 时就提前停止：'abcd' 只能做 3 次合并",
                   "stop early when no chunk has two tokens left: 'abcd' allows only 3 merges"))
expect_equal(train_bpe("", 3), {}, "train_bpe('', 3)",
             hint=("没有文本就没有 pair：返回空 dict", "no text, no pairs: return an empty dict"))
expect_equal(train_bpe("hello world", 0), {}, ("train_bpe('hello world', 0) 的返回值", "train_bpe('hello world', 0)"),
             hint=("num_merges=0：不做任何合并", "num_merges=0: no merges"))
### END HIDDEN TESTS

# %% [tests] id=test_train_bpe_merges points=3
from course.checks import expect, expect_equal, expect_own_work


def learned_pieces(merges):
    """The two byte strings each merge joins, in learned order (whatever the id numbers)."""
    pieces = {i: bytes([i]) for i in range(256)}
    joined = []
    for (left, right), new_id in merges.items():
        joined.append((pieces.get(left, b"?"), pieces.get(right, b"?")))
        pieces[new_id] = pieces.get(left, b"?") + pieces.get(right, b"?")
    return joined


expect_own_work(train_bpe, lesson=30, what="train_bpe")
expect_equal(learned_pieces(train_bpe("aaabdaaabac", 4)),
             [(b"a", b"a"), (b"a", b"b"), (b"aa", b"ab"), (b"a", b"c")],
             ("train_bpe('aaabdaaabac', 4) 每一次合并所连接的字节",
              "the bytes joined by train_bpe('aaabdaaabac', 4), merge by merge"),
             hint=("先合并出现次数最多的 pair；次数相同时取较小的元组（先比 left，再比 right）",
                   "most frequent pair first; on a tie take the smaller tuple (compare left, then right)"))
expect_equal(learned_pieces(train_bpe("a.b.a.b.a.b ok", 2)), [(b" ", b"o"), (b" o", b"k")],
             ("train_bpe('a.b.a.b.a.b ok', 2) 每一次合并所连接的字节",
              "the bytes joined by train_bpe('a.b.a.b.a.b ok', 2), merge by merge"),
             hint=("先用 pre_split(text) 切块：'a.b.a.b.a.b' 里每个字符都是单独的 chunk，只有 ' ok' 里面有 pair；"
                   "pair 绝不能跨越两个 chunk",
                   "pre_split(text) first: every character of 'a.b.a.b.a.b' is a chunk of its own, only ' ok' "
                   "holds pairs; a pair must never span two chunks"))
print("train_bpe merges: ok")
### BEGIN HIDDEN TESTS
import gpt2ref.bpe as ref_bpe
from course.corpus import python_docs as _python_docs

for (_name_zh, _name), _text, _n in [
    (("4,000 个字符的 Python 文档", "4,000 characters of Python docs"), _python_docs()[:4000], 80),
    (("中文和 emoji 文本", "Chinese and emoji text"), "你好世界，你好朋友。世界很大，朋友很多！😀😀👍 你好😀" * 3, 30),
    (("带缩进的代码", "indented code"), "def f(x):\n    if x:\n        return x  \n    return  0\n\n\n" * 4, 20),
]:
    _want = learned_pieces(ref_bpe.train_bpe(_text, _n))
    _got = learned_pieces(train_bpe(_text, _n))
    expect_equal(len(_got), len(_want), (f"学到的合并次数（训练文本：{_name_zh}）", f"number of merges learned on {_name}"),
                 hint=("一直合并，直到做满 num_merges 次，或者没有哪个 chunk 还剩两个 token",
                       "merge until num_merges or until no chunk has two tokens left"))
    for _step, (_g, _w) in enumerate(zip(_got, _want)):
        expect(_g == _w, (f"第 {_step} 次合并（训练文本：{_name_zh}）", f"merge {_step} on {_name}"),
               (f"期望 {_w[0]!r} + {_w[1]!r}，实际是 {_g[0]!r} + {_g[1]!r}。",
                f"expected {_w[0]!r} + {_w[1]!r}, got {_g[0]!r} + {_g[1]!r}."),
               hint=("在 pre_split(text) 切出的每个 chunk 内部统计 pair，再对所有 chunk 求和；"
                     "次数相同时取较小的 (left, right) 元组",
                     "count pairs inside the chunks of pre_split(text), summed over chunks; "
                     "ties go to the smaller (left, right) tuple"))
expect_equal(learned_pieces(train_bpe("x.x.x. xx", 1)), [(b" ", b"x")],
             ("train_bpe('x.x.x. xx', 1) 学到的那一次合并", "the merge learned by train_bpe('x.x.x. xx', 1)"),
             hint=("pre_split('x.x.x. xx') 切出的是几个单字节 chunk 和 ' xx'：pair 绝不能跨越两个 chunk",
                   "pre_split('x.x.x. xx') gives one-byte chunks and ' xx': pairs must never span two chunks"))
expect_equal(list(train_bpe("hello hello help", 6).items()), list(train_bpe("hello hello help", 6).items()),
             ("对同一段文本调用两次 train_bpe", "two calls of train_bpe on the same text"),
             hint=("训练结果必须是确定的", "training must be deterministic"))
### END HIDDEN TESTS

# %% [markdown]
# ## 5. 解码：id → 字节 → 文本 / Decoding: ids → bytes → text
#
# 解码比编码简单。每个 id 代表一串字节：0..255 是单个字节；merge `(left, right) -> new_id` 的 `new_id` 代表 left 的字节接上 right 的字节（按学到的顺序建表，两部分一定已经在表里）。特殊 token `<|endoftext|>` 占用紧跟在 merges 后面的 id：`256 + len(merges)`（GPT-2 就是这样得到 50256 的，后面会看到）。把所有字节连起来，再用 UTF-8 解码。
#
# 一段 id 不一定是完整的 UTF-8：比如只取了一个汉字 3 个字节中的前 2 个。`errors="replace"` 把这样的字节变成替换字符 `"\ufffd"`（�），而不是报错——tiktoken 也是这样。
#
# > **EN** Decoding is easier than encoding. Every id stands for some bytes: 0..255 are
# > single bytes; the `new_id` of a merge `(left, right) -> new_id` stands for left's bytes
# > followed by right's (build the table in learned order and both parts are already in
# > it). The special token `<|endoftext|>` takes the id right after the merges,
# > `256 + len(merges)` (this is how GPT-2 gets 50256, as we will see). Join all the bytes
# > and decode them as UTF-8.
# >
# > A run of ids is not always complete UTF-8: it may hold only 2 of the 3 bytes of a
# > Chinese character. `errors="replace"` turns such bytes into the replacement character
# > `"\ufffd"` (�) instead of raising, as tiktoken does.

# %%
cut = "你".encode("utf-8")[:2]
print(list(cut), "->", repr(cut.decode("utf-8", errors="replace")))

# %% [solution] id=decode
def decode(ids, merges):
    """The text (str) of a list of token ids.

    - id -> bytes: ids 0..255 are single bytes; for each merge (left, right) -> new_id,
      new_id stands for the bytes of left followed by the bytes of right;
      the id 256 + len(merges) stands for "<|endoftext|>".
    - Join the bytes of all ids, then .decode("utf-8", errors="replace"): broken or
      cut-off UTF-8 becomes "\ufffd" instead of an error.
    - decode([], merges) == "".
    """
    ### BEGIN SOLUTION
    vocab = {i: bytes([i]) for i in range(256)}
    for (left, right), new_id in merges.items():
        vocab[new_id] = vocab[left] + vocab[right]
    vocab[256 + len(merges)] = "<|endoftext|>".encode("utf-8")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")
    ### END SOLUTION

# %% [tests] id=test_decode points=2
from course.checks import expect, expect_equal, expect_own_work

expect_own_work(decode, lesson=30, what="decode")
expect_equal(decode([72, 105], {}), "Hi", "decode([72, 105], {})",
             hint=("id 0..255 就是单个字节", "ids 0..255 are single bytes"))
expect_equal(decode([256, 33], {(72, 105): 256}), "Hi!", "decode([256, 33], {(72, 105): 256})",
             hint=("合并得到的 id 代表：左半部分的字节后面接上右半部分的字节",
                   "a merged id stands for the bytes of its left part followed by its right part"))
expect_equal(decode([], {}), "", "decode([], {})", hint=("没有 id，就是空文本", "no ids, empty text"))
for _ids, _merges, _expected, _hint in [
    ([111, 107, 0xC3], {}, "ok\ufffd",
     ('0xC3 只是 “é” 两个字节中的第一个：用 .decode("utf-8", errors="replace") 解码拼接好的字节，'
      '把它变成 "\\ufffd" 而不是报错',
      '0xC3 is only the first of the 2 bytes of "é": decode the joined bytes with '
      '.decode("utf-8", errors="replace") so it becomes "\\ufffd" instead of an error')),
    ([104, 257, 105], {(104, 105): 256}, "h<|endoftext|>i",
     ("紧跟在 merges 后面的 id 256 + len(merges)（这里是 257）代表 '<|endoftext|>'",
      "the id right after the merges, 256 + len(merges) (here 257), stands for '<|endoftext|>'")),
    ([257, 33], {(104, 105): 256, (256, 256): 257}, "hihi!",
     ("合并 id 可以由更早的合并 id 组成：按学到的顺序建表，257 = 256 + 256 = 'hi' + 'hi'",
      "a merged id may be built from earlier merged ids: build the table in learned order, 257 = 256 + 256 = 'hi' + 'hi'")),
]:
    try:
        _text = decode(_ids, _merges)
    except Exception as _exc:  # noqa: BLE001 (reported below)
        expect(False, f"decode({_ids}, {_merges})",
               (f"抛出了 {type(_exc).__name__}：{_exc}", f"raised {type(_exc).__name__}: {_exc}"), hint=_hint)
    expect_equal(_text, _expected, f"decode({_ids}, {_merges})", hint=_hint)
print("decode: ok")
### BEGIN HIDDEN TESTS
import gpt2ref.bpe as ref_bpe
from course.corpus import python_docs as _python_docs

_merges = ref_bpe.train_bpe(_python_docs()[:5000] + " 你好,世界!你好 😀👍🏽", 120)
for _text in ["Hello, world", "", "def f(x):\n    return x  # done\n\n", "机器学习把文本切成 token。你好,世界!",
              "emoji 😀👍🏽 and family 👨‍👩‍👧", "Ünïcödé — naïve café ½ ∑ x²"]:
    expect_equal(decode(ref_bpe.encode(_text, _merges), _merges), _text, f"decode(encode({_text!r}))",
                 hint=("按学到的顺序，用两个组成部分拼出每个合并 id 的字节，最后再按 UTF-8 解码",
                       "build the bytes of merged ids from their two parts, in learned order, then decode UTF-8"))
_cut = list("你".encode("utf-8")[:2])
expect_equal(decode(_cut, {}), bytes(_cut).decode("utf-8", errors="replace"), f"decode({_cut}, {{}})",
             hint=('用 .decode("utf-8", errors="replace") 解码拼接好的字节',
                   'decode the joined bytes with .decode("utf-8", errors="replace")'))
expect_equal(decode([104, 0xFF, 105], {}), "h\ufffdi", "decode([104, 255, 105], {})",
             hint=('用 errors="replace"，让无效字节变成 "\\ufffd"', 'use errors="replace" so invalid bytes become "\\ufffd"'))
expect_equal(decode([97, 256 + len(_merges), 98], _merges), "a<|endoftext|>b",
             ("decode 含有 id 256 + len(merges) 的序列", "decode with the id 256 + len(merges)"),
             hint=("256 + len(merges) 代表 '<|endoftext|>'", "256 + len(merges) stands for '<|endoftext|>'"))
expect_equal(decode([256], {}), "<|endoftext|>", "decode([256], {})",
             hint=("没有任何合并时，<|endoftext|> 的 id 是 256 + 0", "with no merges, <|endoftext|> is id 256 + 0"))
_gpt2 = ref_bpe.load_gpt2_merges()
_text = "GPT-2's 50,000 merges decode this sentence too. 你好!"
expect_equal(decode(ref_bpe.encode(_text, _gpt2), _gpt2), _text,
             ("用 GPT-2 的 50,000 条合并规则做 decode", "decode with GPT-2's 50,000 merges"),
             hint=("合并 id 可能引用之前的任意一次合并：要按学到的顺序建表",
                   "merged ids may refer to any earlier merge: build the table in learned order"))
### END HIDDEN TESTS

# %% [markdown]
# ## 6. 编码：按学到的顺序重演 merges / Encoding: replay the merges in learned order
#
# 编码一个块：从它的字节开始，反复做这一步——在当前相邻的 pair 里，找出 **在 merges 中、且学得最早（new id 最小）** 的那个，把它的所有出现合并掉；直到没有相邻 pair 在 merges 里。为什么按学到的顺序？因为晚学到的 merge 是用早学到的 token 拼起来的，必须先有零件。GPT-2 和 tiktoken 都是这样编码的。
#
# 和训练一样，编码也要先 `pre_split`，每个块单独编码，最后把结果接起来。
#
# > **EN** To encode a chunk, start from its bytes and repeat: among the adjacent pairs,
# > find the one that is **in merges and was learned earliest (smallest new id)**, and merge
# > all its occurrences; stop when no adjacent pair is in merges. Why learned order? Later
# > merges are built from tokens that earlier merges made: the parts must exist first. GPT-2
# > and tiktoken encode exactly like this.
# >
# > As in training, `pre_split` first, encode every chunk on its own, and concatenate.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["encode-order"])

# %% [markdown]
# ### 特殊 token `<|endoftext|>` / The special token `<|endoftext|>`
#
# GPT-2 在训练数据里用 `<|endoftext|>` 分隔不同的文档。它不是普通文本，而是一个 **控制 token**，拥有自己的 id（在我们的格式里是 `256 + len(merges)`）。如果用户输入里恰好出现了这串字符，我们不希望它悄悄变成控制 token。所以沿用 tiktoken 的默认规则：
#
# - 只有当 `allowed_special` 明确包含它（`{"<|endoftext|>"}` 或 `"all"`）时，每次出现才编码成那一个特殊 id；
# - 否则，只要文本里出现它，就抛出 `ValueError`，让调用者自己决定。
#
# （tiktoken 还有第三种选择 `disallowed_special=()`：把它当普通文本逐字编码，后面会看到。）
#
# > **EN** GPT-2's training data separates documents with `<|endoftext|>`. It is not text but
# > a **control token** with its own id (`256 + len(merges)` in our format). If a user's
# > input happens to contain these characters, it must not silently become the control
# > token. So we follow tiktoken's default rule:
# >
# > - only when `allowed_special` names it (`{"<|endoftext|>"}` or `"all"`) does each
# >   occurrence become that one special id;
# > - otherwise a text containing it raises `ValueError`, and the caller decides.
# >
# > (tiktoken has a third choice, `disallowed_special=()`: encode it as plain text; see below.)

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["special-token"])

# %% [solution] id=encode
def encode(text, merges, allowed_special=()):
    """Token ids (a list of int) of `text`, using `merges` (the dict train_bpe returns).

    - Cut `text` with pre_split and encode every chunk on its own, starting from its
      UTF-8 bytes; concatenate the chunks' ids.
    - Inside a chunk, repeat: among the adjacent pairs that are in `merges`, take the one
      with the smallest new id (learned earliest) and merge all its occurrences
      (merge_pair); stop when no adjacent pair is in `merges`.
    - "<|endoftext|>": if allowed_special == "all" or "<|endoftext|>" in allowed_special,
      every occurrence becomes the single id 256 + len(merges); otherwise a text that
      contains it raises ValueError.
    - encode("", merges) == [].
    """
    ### BEGIN SOLUTION
    special = "<|endoftext|>"
    if allowed_special == "all" or special in allowed_special:
        pieces = text.split(special)  # the special token sits between consecutive pieces
    elif special in text:
        raise ValueError(f"text contains {special!r}; pass allowed_special={{{special!r}}} to encode it")
    else:
        pieces = [text]
    out = []
    for n, piece in enumerate(pieces):
        if n > 0:
            out.append(256 + len(merges))
        for chunk in pre_split(piece):
            ids = list(chunk.encode("utf-8"))
            while len(ids) >= 2:
                pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
                if pair not in merges:
                    break
                ids = merge_pair(ids, pair, merges[pair])
            out.extend(ids)
    return out
    ### END SOLUTION

# %% [tests] id=test_encode points=3
from course.checks import expect_equal, expect_own_work, expect_type

expect_own_work(encode, lesson=30, what="encode")
expect_type(encode("ab", {}), list, "encode('ab', {})",
            hint=("返回一个由 int 组成的 Python list", "return a Python list of ints"))
expect_equal(encode("", {(97, 98): 256}), [], "encode('', merges)", hint=("空文本，没有 id", "empty text, no ids"))
expect_equal(encode("abab", {(97, 98): 256}), [256, 256], "encode('abab', {(97, 98): 256})",
             hint=("已知 pair 的每一次出现都要合并", "merge every occurrence of a known pair"))
expect_equal(encode("abc", {(98, 99): 256, (97, 98): 257}), [97, 256], "encode('abc', {(98, 99): 256, (97, 98): 257})",
             hint=("先合并新 id 最小的 pair（(98, 99) -> 256），而不是最左边的 pair",
                   "merge the pair with the SMALLEST new id first ((98, 99) -> 256), not the leftmost pair"))
expect_equal(encode("ab ab", {(97, 98): 256, (32, 256): 257}), [256, 257],
             ("encode('ab ab', ...) 的返回值", "encode('ab ab', ...)"),
             hint=("每次合并后都要重新查找：只有 (97, 98) 合并之后，(32, 256) 才会出现",
                   "after a merge, look again: (32, 256) only exists once (97, 98) has been merged"))
expect_equal(encode("a b", {(97, 32): 256}), [97, 32, 98], "encode('a b', {(97, 32): 256})",
             hint=("先 pre_split：'a b' 切成 'a' 和 ' b' 两个 chunk，每个 chunk 单独编码；"
                   "(97, 32) 是 'a' + ' '，跨越了两个 chunk，不能合并",
                   "pre_split first: 'a b' gives the chunks 'a' and ' b', each encoded alone; "
                   "(97, 32) is 'a' + ' ', which spans two chunks and must not be merged"))
print("encode: ok")
### BEGIN HIDDEN TESTS
import gpt2ref.bpe as ref_bpe
from course.corpus import python_docs as _python_docs

_corpus = _python_docs()[:6000] + "\n你好,世界!你好朋友。😀👍 " * 3 + "x  = 1\n    y   = 2\n"
_merges = ref_bpe.train_bpe(_corpus, 150)
for _text in ["Hello, world", "plain ASCII: don't stop, we'll see 3.14159 + 2 == 5.14159!",
              "def f(x):\n    return x  # four spaces\n\n\n    \tdone  \n", "   leading and trailing   ",
              "机器学习把文本切成 token。你好，世界！", "emoji 😀👍🏽 and family 👨‍👩‍👧",
              _python_docs()[50_000:52_000]]:
    expect_equal(encode(_text, _merges), ref_bpe.encode(_text, _merges), f"encode({_text[:40]!r}...)",
                 hint=("先 pre_split，再把每个 chunk 单独编码；在一个 chunk 内部，总是先合并新 id 最小的已知 pair，"
                       "然后重新查找",
                       "pre_split first and encode each chunk alone; inside a chunk always merge the "
                       "known pair with the smallest new id, then look again"))
import tiktoken as _tiktoken

_gpt2_merges = ref_bpe.load_gpt2_merges()
_enc = _tiktoken.get_encoding("gpt2")
for _text in ["Hello, world", "It's 2024, and tokenizers    still matter!\n\n", "你好,世界"]:
    expect_equal(ref_bpe.to_gpt2_ids(encode(_text, _gpt2_merges)), _enc.encode(_text),
                 (f"你的 encode 用 GPT-2 的合并规则编码 {_text!r}，再映射成 GPT-2 的 id",
                  f"your encode with GPT-2's merges on {_text!r}, mapped to GPT-2 ids"),
                 hint=("用 GPT-2 自己的合并规则时，你的 encode 必须与 tiktoken 的结果完全一致："
                       "先 pre_split，再在每个 chunk 内部按新 id 从小到大合并",
                       "with GPT-2's own merges your encode must reproduce tiktoken exactly: "
                       "pre_split, then smallest-id-first merging inside each chunk"))
### END HIDDEN TESTS

# %% [tests] id=test_encode_special points=2
from course.checks import expect_equal, expect_own_work, expect_raises

expect_own_work(encode, lesson=30, what="encode")
expect_raises(ValueError, lambda: encode("a<|endoftext|>b", {}), "encode('a<|endoftext|>b', {})",
              hint=("没有 allowed_special 时，含有 <|endoftext|> 的文本必须抛出 ValueError",
                    "without allowed_special, a text containing <|endoftext|> must raise ValueError"))
expect_equal(encode("a<|endoftext|>b", {}, allowed_special={"<|endoftext|>"}), [97, 256, 98],
             "encode('a<|endoftext|>b', {}, allowed_special={'<|endoftext|>'})",
             hint=("允许之后，<|endoftext|> 是单独的一个 id：256 + len(merges)",
                   "when allowed, <|endoftext|> is the single id 256 + len(merges)"))
expect_equal(encode("<|endoftext|>xx<|endoftext|>", {(120, 120): 256}, allowed_special="all"), [257, 256, 257],
             "encode('<|endoftext|>xx<|endoftext|>', {(120, 120): 256}, allowed_special='all')",
             hint=("allowed_special='all' 也允许 <|endoftext|>；有一条合并时它的 id 是 256 + 1 = 257，每次出现都换成这个 id",
                   "allowed_special='all' allows <|endoftext|> too; with one merge its id is 256 + 1 = 257, at every occurrence"))
expect_equal(encode("<|endoftext", {}), list(b"<|endoftext"), "encode('<|endoftext', {})",
             hint=("只有完整的字符串 '<|endoftext|>' 才是特殊 token；其余的都是普通文本",
                   "only the complete string '<|endoftext|>' is the special token; anything else is plain text"))
print("encode special token: ok")
### BEGIN HIDDEN TESTS
import gpt2ref.bpe as ref_bpe

_merges = ref_bpe.train_bpe("hello world, hello there. the end of a document. " * 5, 25)
_eot = 256 + len(_merges)
for _text in ["hello<|endoftext|>there", "<|endoftext|>", "a<|endoftext|><|endoftext|>b",
              "the end.<|endoftext|>\n\nNew document 你好"]:
    _expected = []
    for _n, _piece in enumerate(_text.split("<|endoftext|>")):
        if _n > 0:
            _expected.append(_eot)
        _expected.extend(encode(_piece, _merges))
    for _allowed in ({"<|endoftext|>"}, "all"):
        expect_equal(encode(_text, _merges, allowed_special=_allowed), _expected,
                     (f"encode({_text!r}, merges, allowed_special={_allowed!r}) 的返回值",
                      f"encode({_text!r}, merges, allowed_special={_allowed!r})"),
                     hint=(f"在 <|endoftext|> 处切开文本，分别编码各段，再在段与段之间放入 id {_eot}",
                           f"split the text at <|endoftext|>, encode the pieces, and put the id {_eot} between them"))
    expect_raises(ValueError, lambda: encode(_text, _merges), f"encode({_text!r}, merges)",
                  hint=("没有 allowed_special 时，含有 <|endoftext|> 的文本必须抛出 ValueError",
                        "without allowed_special, a text containing <|endoftext|> must raise ValueError"))
expect_equal(encode("hello world", _merges, allowed_special={"<|endoftext|>"}), encode("hello world", _merges),
             ("encode('hello world', merges, allowed_special={'<|endoftext|>'}) 的返回值",
              "encode('hello world', merges, allowed_special={'<|endoftext|>'})"),
             hint=("文本里没有特殊 token 时，允许它不应改变任何结果", "allowing the special token changes nothing for a text without it"))
_ids = encode("<|endoftext|", _merges)
expect_equal(ref_bpe.decode(_ids, _merges), "<|endoftext|", "decode(encode('<|endoftext|', merges))",
             hint=("只有完整的字符串 '<|endoftext|>' 才是特殊 token；其余的都是普通文本",
                   "only the complete string '<|endoftext|>' is the special token; anything else is plain text"))
_gpt2_merges = ref_bpe.load_gpt2_merges()
expect_equal(encode("<|endoftext|>", _gpt2_merges, allowed_special="all"), [50256],
             ("encode('<|endoftext|>', merges, allowed_special='all')，merges 为 GPT-2 的合并规则",
              "encode('<|endoftext|>', GPT-2's merges, allowed_special='all')"),
             hint=("用 GPT-2 的 50,000 条合并规则时，<|endoftext|> 是 256 + 50000 = 50256，与 tiktoken 一致",
                   "with GPT-2's 50,000 merges, <|endoftext|> is 256 + 50000 = 50256, as in tiktoken"))
### END HIDDEN TESTS

# %% [markdown]
# ## 7. 在 Python 自带的文档上训练 / Training on Python's own documentation
#
# 训练语料来自 `course.corpus.python_docs()`：Python 交互式帮助（`help("assert")` 等）的全部文本，随 CPython 一起安装在标准库模块 `pydoc_data.topics` 里，不需要下载。纯 Python 写的 BPE 不快，所以我们只用前 100,000 个字符训练 500 次 merge，并留出另一段从未见过的文本来测量压缩效果。
#
# > **EN** The training text is `course.corpus.python_docs()`: the full text of Python's
# > interactive help (`help("assert")` and friends), which ships with CPython in the standard
# > library module `pydoc_data.topics`; nothing is downloaded. A BPE written in pure Python
# > is not fast, so we train 500 merges on the first 100,000 characters only, and keep a
# > separate, unseen stretch of text to measure compression.

# %% tags=skip-autograde
docs = python_docs()
train_text = docs[:100_000]
heldout_text = docs[300_000:330_000]  # never seen in training
print(f"corpus: {len(docs):,} characters; training on {len(train_text):,}; held out: {len(heldout_text):,}")

start = time.perf_counter()
merges = train_bpe(train_text, 500)
print(f"learned {len(merges)} merges in {time.perf_counter() - start:.1f} s")
print("first 12 tokens learned:", [decode([i], merges) for i in range(256, 268)])
print("last 12 tokens learned: ", [decode([i], merges) for i in range(len(merges) + 244, len(merges) + 256)])

# %% [markdown]
# 最早学到的是最常见的片段，比如缩进用的空格、`" t"`、`"he"`；越往后学到的 token 越长，越像完整的单词（见上面输出的最后 12 个）。把 `"Hello, world"` 切一切看看：
#
# > **EN** The first tokens learned are the most frequent fragments, such as the spaces
# > of indentation, `" t"` and `"he"`; the later a token is learned, the longer it gets and
# > the more it looks like a whole word (see the last 12 printed above). Let us cut
# > `"Hello, world"`:

# %% tags=skip-autograde
ours = encode("Hello, world", merges)
print("our ids:   ", ours)
print("our pieces:", [decode([i], merges) for i in ours])
print("round trip:", decode(ours, merges) == "Hello, world")

# %% [markdown]
# ## 8. merge 越多，序列越短 / More merges, shorter sequences
#
# 压缩率用 **每个 token 平均几个字节** 来衡量：0 次 merge 时恰好是 1.0。下面用前 k 次 merge（`merges` 的前 k 项也是合法的 merges）编码留出的文本，看压缩率怎样随 k 增长。作为对照，虚线是 GPT-2 的分词器（50,000 次 merge，在大量网页文本上训练）在同一段文本上的压缩率。
#
# > **EN** Compression is measured in **bytes per token**: exactly 1.0 with no merges. We
# > encode the held-out text with the first k merges (the first k items of `merges` are
# > valid merges too) and watch compression grow with k. For comparison, the dashed line is
# > GPT-2's tokenizer (50,000 merges, trained on lots of web text) on the same text.

# %% tags=skip-autograde
heldout_bytes = len(heldout_text.encode("utf-8"))
steps = [0, 10, 25, 50, 100, 150, 200, 300, 400, 500]
bytes_per_token = []
for k in steps:
    first_k = dict(list(merges.items())[:k])
    bytes_per_token.append(heldout_bytes / len(encode(heldout_text, first_k)))
gpt2_bytes_per_token = heldout_bytes / len(tiktoken.get_encoding("gpt2").encode(heldout_text))
for k, value in zip(steps, bytes_per_token):
    print(f"{k:4d} merges: {value:.2f} bytes per token")
print(f"GPT-2 (tiktoken): {gpt2_bytes_per_token:.2f} bytes per token")

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(steps, bytes_per_token, marker="o", label="our BPE (trained on 100k characters)")
ax.axhline(gpt2_bytes_per_token, linestyle="--", color="gray", label="GPT-2 (50,000 merges)")
ax.set_xlabel("number of merges")
ax.set_ylabel("bytes per token on held-out text")
ax.set_title("More merges, fewer tokens for the same text")
ax.set_ylim(bottom=0)
ax.grid(alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# 前几十次 merge 收益最大：它们合并的是最常见的片段。之后每次 merge 只覆盖更少见的组合，曲线变平。500 次 merge 离 GPT-2 还很远（上面打印了两者的数值），要接近它需要多得多的 merge 和语料。这就是词表大小的权衡：词表越大，序列越短（注意力更省），但 embedding 表和输出层越大。
#
# > **EN** The first few dozen merges help most: they join the most frequent fragments.
# > Each later merge covers rarer combinations and the curve flattens. 500 merges are still
# > far from GPT-2 (both values are printed above); getting close takes many more merges and
# > much more text. This is the vocabulary-size trade-off: a larger vocabulary gives shorter
# > sequences (cheaper attention), but a larger embedding table and output layer.

# %% [markdown]
# ## 9. 认识 GPT-2 的分词器：tiktoken / Meet GPT-2's tokenizer: tiktoken
#
# `tiktoken` 是 OpenAI 的 BPE 实现（Rust 写的，很快）。`get_encoding("gpt2")` 给出 GPT-2 的分词器（本课程环境已离线装好它需要的文件，直接调用即可）：
#
# > **EN** `tiktoken` is OpenAI's BPE implementation (written in Rust, fast).
# > `get_encoding("gpt2")` gives GPT-2's tokenizer (the course environment has its files
# > installed offline; just call it):

# %%
enc = tiktoken.get_encoding("gpt2")
print('"Hello, world" ->', enc.encode("Hello, world"))
print("pieces:", [enc.decode([i]) for i in enc.encode("Hello, world")])
print("<|endoftext|> id:", enc.eot_token, "| vocabulary size:", enc.n_vocab)
print("merges in GPT-2:", enc.n_vocab - 256 - 1)

# %% [markdown]
# 词表大小 50257 = 256 个字节 + 50,000 次 merge + 1 个 `<|endoftext|>`，和我们的格式完全一样，所以 `<|endoftext|>` 的 id 是 256 + 50000 = 50256。特殊 token 的规则也一样：
#
# > **EN** The vocabulary size 50257 = 256 bytes + 50,000 merges + 1 `<|endoftext|>`: the
# > same layout as ours, which is why `<|endoftext|>` is 256 + 50000 = 50256. The rule for
# > the special token is the same too:

# %%
try:
    enc.encode("<|endoftext|>")
except ValueError as error:
    print("not allowed -> ValueError:", str(error).splitlines()[0][:70], "...")
print("allowed     ->", enc.encode("<|endoftext|>", allowed_special={"<|endoftext|>"}))
print("plain text  ->", enc.encode("<|endoftext|>", disallowed_special=()))

# %% [markdown]
# 为什么 GPT-2 给 `"Hello, world"` 的 id 和我们的不同？先看看两边怎样给单个字节编号：
#
# > **EN** Why do GPT-2's ids for `"Hello, world"` differ from ours? First, how do both
# > sides number single bytes?

# %%
print("GPT-2 id 0   ->", enc.decode_single_token_bytes(0))
print("GPT-2 id 220 ->", enc.decode_single_token_bytes(220))
print("our id 33    ->", decode([33], {}), "| our id 32 ->", repr(decode([32], {})))

# %% [markdown]
# 1. **语料不同：** GPT-2 在几百万个网页上训练，我们只用了 Python 文档的一小段。哪些 pair 常见完全不同。
# 2. **merge 数不同：** 50,000 对 500。GPT-2 有 `"Hello"`、`" world"` 这样的整词 token，我们的只能拼出碎片。
# 3. **单字节的编号不同：** GPT-2 的文件把每个字节写成一个可打印字符（“bytes-to-unicode”映射），id 0..255 按这个顺序排列：可打印字节在前，空格、控制字符等在后。所以 GPT-2 的 id 0 是 `"!"`、id 220 是空格，而我们的 `"!"` 和空格就是它们的字节值 33 和 32（上面的输出）。
#
# > **EN**
# > 1. **Different corpus:** GPT-2 trained on millions of web pages, we on a slice of
# >    Python's docs. Which pairs are frequent differs completely.
# > 2. **Different number of merges:** 50,000 against 500. GPT-2 has whole-word tokens such
# >    as `"Hello"` and `" world"`; ours can only assemble fragments.
# > 3. **Single bytes are numbered differently:** GPT-2's files write each byte as a
# >    printable character (the "bytes-to-unicode" mapping), and ids 0..255 follow that
# >    order: printable bytes first, space, control bytes and the like after them. So GPT-2's
# >    id 0 is `"!"` and id 220 a space, while our `"!"` and space are simply their byte
# >    values 33 and 32 (printed above).

# %% [markdown]
# ## 10. 你的 encode + GPT-2 的 merges = tiktoken / Your encode + GPT-2's merges = tiktoken
#
# 算法本身和 GPT-2 一样吗？把 GPT-2 的 50,000 条 merges 转成我们的格式（课程的参考模块 `gpt2ref.bpe` 从 tiktoken 使用的 `vocab.bpe` 文件读取它们），交给 **你的** `encode`，再把单字节 id 换成 GPT-2 的编号（只有 0..255 的编号不同，merge 产生的 id 两边一致）：
#
# > **EN** Is the algorithm itself the same as GPT-2's? Convert GPT-2's 50,000 merges to our
# > format (the course's reference module `gpt2ref.bpe` reads them from the
# > `vocab.bpe` file that tiktoken uses), hand them to **your** `encode`, and renumber the
# > single-byte ids the GPT-2 way (only ids 0..255 differ; ids made by merges agree):

# %% tags=skip-autograde
from gpt2ref.bpe import load_gpt2_merges, to_gpt2_ids

gpt2_merges = load_gpt2_merges()
print("GPT-2 merges:", len(gpt2_merges), "| <|endoftext|> in our format:", 256 + len(gpt2_merges))
sample = "Hello, world! GPT-2's tokenizer, rebuilt by hand: 你好 😀<|endoftext|>" + docs[200_000:205_000]
start = time.perf_counter()
mine = to_gpt2_ids(encode(sample, gpt2_merges, allowed_special="all"))
seconds = time.perf_counter() - start
theirs = enc.encode(sample, allowed_special="all")
print(f"{len(theirs)} tokens; your encode took {seconds:.2f} s")
print("identical to tiktoken:", mine == theirs)
print("first ids:", mine[:8])

# %% [markdown]
# 完全一致：tiktoken 做的就是你写的算法，只是用 Rust 写、并且用的是 GPT-2 的 merges。之后的课程一律使用 tiktoken：它快得多，而且 GPT-2 的预训练权重正是和这套 id 对应的。
#
# > **EN** Identical: tiktoken runs the algorithm you wrote, in Rust, with GPT-2's merges.
# > The rest of the course uses tiktoken: it is much faster, and GPT-2's pretrained weights
# > belong to exactly these ids.

# %% [markdown]
# ## 11. 中文和英文 / Chinese and English
#
# 同一段内容，用中文写和用英文写，各需要多少 token？下面两段是同一个意思（为本课专门写的）。我们比较三种编码：只用字节（0 次 merge）、你的 500 次 merge、GPT-2 的 tiktoken，指标是 **每个字符几个 token**。
#
# > **EN** How many tokens does the same content take in Chinese and in English? The two
# > passages below say the same thing (written for this lesson). We compare three encodings:
# > bytes only (0 merges), your 500 merges, and GPT-2's tiktoken, in **tokens per
# > character**.

# %% tags=skip-autograde
from gpt2ref import GPT2_SMALL

chinese = (
    "清晨的菜市场总是最热闹的地方。卖豆腐的阿姨一边招呼客人，一边把刚出锅的豆浆倒进碗里；"
    "隔壁摊位的大叔正在称西红柿，秤杆还没停稳，他就报出了价钱。"
    "图书馆三楼靠窗的位置很受欢迎。下午的阳光斜斜地照在桌面上，有人在写论文，有人在翻旧杂志，"
    "还有一个小朋友趴在地毯上，认真地数着绘本里的星星。"
    "计算机并不认识文字，它只认识数字。分词器的任务，就是把一句话切成一小段一小段，"
    "再给每一段分配一个编号，这样模型才能开始学习。"
)
english = (
    "The morning market is always the liveliest place in town. The woman who sells tofu greets "
    "her customers while pouring freshly made soy milk into bowls; at the next stall, a man is "
    "weighing tomatoes, and he calls out the price before the scale has even settled. "
    "The seats by the window on the third floor of the library are popular. Afternoon sunlight "
    "slants across the desks; someone is writing a thesis, someone is leafing through old "
    "magazines, and a child lies on the carpet, carefully counting the stars in a picture book. "
    "A computer does not know words, only numbers. A tokenizer's job is to cut a sentence into "
    "small pieces and give each piece a number, so that a model can start to learn."
)
tokenizers = {
    "bytes (0 merges)": lambda text: encode(text, {}),
    "ours (500 merges)": lambda text: encode(text, merges),
    "GPT-2 (tiktoken)": lambda text: enc.encode(text),
}
per_char, totals = {}, {}
for name, tokenize in tokenizers.items():
    totals[name] = [len(tokenize(chinese)), len(tokenize(english))]
    per_char[name] = [totals[name][0] / len(chinese), totals[name][1] / len(english)]
    print(f"{name:18}  Chinese: {totals[name][0]:4d} tokens = {per_char[name][0]:.2f} per character"
          f"   English: {totals[name][1]:4d} tokens = {per_char[name][1]:.2f} per character"
          f"   Chinese/English tokens: {totals[name][0] / totals[name][1]:.1f}x")
print(f"characters: Chinese {len(chinese)}, English {len(english)}")
print("GPT-2's context length:", GPT2_SMALL.context_length, "tokens")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
width = 0.25
for ax, values_of, ylabel, fmt in [(axes[0], per_char, "tokens per character", "%.2f"),
                                   (axes[1], totals, "tokens for the whole passage", "%d")]:
    for n, (name, values) in enumerate(values_of.items()):
        bars = ax.bar([x + (n - 1) * width for x in range(2)], values, width, label=name)
        ax.bar_label(bars, fmt=fmt, fontsize=8)
    ax.set_xticks(range(2), ["Chinese passage", "English passage"])
    ax.set_ylabel(ylabel)
axes[0].set_title("Tokens per character")
axes[1].set_title("Tokens for the same content")
axes[0].legend()
fig.suptitle("Chinese vs English: the same three paragraphs, three tokenizers")
fig.tight_layout()
plt.show()

# %% [markdown]
# 只用字节时，每个汉字（和中文标点）都要 3 个 token，英文字母只要 1 个（见上面打印的每字符 token 数）。可是中文写同样的内容用的字符少得多，所以只看字节，两段的 token 总数差不多（右图蓝色柱）。差距来自 merges 学的是哪种语言：你的 tokenizer 只见过英文的 Python 文档，学不到汉字字节的 merge，中文一点也没变短，英文却短了一半；GPT-2 的语料以英文为主，英文每个字符只要零点几个 token，中文仍要约 2 个，同样的内容中文的 token 总数是英文的好几倍（倍数见上面的输出）。对模型来说，这意味着同样的上下文长度（GPT-2 是 1024 个 token）装下的中文内容要少得多，训练和生成中文也更贵。后来的模型使用更大的、多语言的词表，部分原因就在这里。
#
# > **EN** With bytes only, each Chinese character (and Chinese punctuation mark) costs 3
# > tokens and each English letter 1 (see the tokens per character printed above). But
# > Chinese needs far fewer characters for the same content, so with bytes only both
# > passages take a similar number of tokens (blue bars on the right). The gap comes from
# > the language the merges were learned on: your tokenizer has only seen English Python
# > docs and learned no merges of Chinese bytes, so Chinese gets no shorter at all while
# > English halves; GPT-2's training text is mostly English, so English needs a fraction
# > of a token per character and Chinese still about 2, and the same content takes several
# > times more tokens in Chinese (the factor is printed above). For a model this means the
# > same context length (1024 tokens for GPT-2) holds much less Chinese content, and
# > training on or generating Chinese costs more. Later models use larger, multilingual
# > vocabularies partly for this reason.

# %% [markdown]
# ## 12. 课后小测 / After the lesson

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# ## 13. 小结 / Summary
#
# 你从 256 个字节出发，写出了一个完整的字节级 BPE：`merge_pair` 合并一个 pair，`train_bpe` 用 GPT-2 的正则切块、按“次数最多、平局取更小元组”的规则学出 merges，`decode` 把 id 拼回字节再解码，`encode` 按学到的顺序重演 merges，并像 tiktoken 一样只在明确允许时识别 `<|endoftext|>`。给它 GPT-2 的 merges，它和 tiktoken 的输出一模一样。
#
# **下一课（31）** 用 GPT-2 真正的分词器（tiktoken）把一长段文本变成 id，再用滑动窗口切出 (input, target) 训练样本，装进 PyTorch 的 `Dataset` 和 `DataLoader`。
#
# > **EN** Starting from 256 bytes you wrote a complete byte-level BPE: `merge_pair` merges
# > one pair; `train_bpe` splits with GPT-2's regex and learns merges by "most frequent,
# > ties to the smaller tuple"; `decode` joins the bytes back and decodes them; `encode`
# > replays the merges in learned order and, like tiktoken, recognises `<|endoftext|>` only
# > when explicitly allowed. Given GPT-2's merges it matches tiktoken exactly.
# >
# > **Next (lesson 31):** GPT-2's real tokenizer (tiktoken) turns a long text into ids, and
# > a sliding window cuts (input, target) training examples from them, in a PyTorch
# > `Dataset` and `DataLoader`.
