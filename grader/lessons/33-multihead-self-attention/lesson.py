# Lesson 33: multi-head causal self-attention.
# Build: python -m grader.build 33-multihead-self-attention
# Release: python -m grader.commands release 33-multihead-self-attention

# %% [markdown]
# # 第 33 课 · 多头因果自注意力 / Lesson 33 · Multi-head causal self-attention
#
# 第 32 课给每个 token 一个向量，但这些向量彼此之间还一无所知："ugly" 的向量不知道前面是 "better than"。**Attention** 让每个位置去看它之前的位置，按相关程度取回信息。这是 transformer 里唯一让 token 之间交流的地方。
#
# > **EN** Lesson 32 gave every token a vector, but the vectors know nothing about each other yet: the vector
# > of "ugly" does not know that "better than" came before it. **Attention** lets every position look at the
# > positions before it and fetch information by relevance. It is the only place in a transformer where
# > tokens talk to each other.
#
# **学完这一课，你会 / By the end you will have:**
#
# - 一步步算出 scaled dot-product attention：分数、除以 `sqrt(d)`、softmax、加权求和；
# - 用因果 mask 挡住未来：每个位置只能看自己和之前的位置；
# - 写出 `causal_attention`（计分），并确认它和 PyTorch 的 `F.scaled_dot_product_attention` 一致；
# - 写出 GPT-2 式的 `MultiHeadAttention`（计分）：一个 `qkv` 线性层、拆成多个头、合并、输出投影、dropout;
# - 画出每个头的注意力权重，看训练如何改变它们。
#
# > **EN**
# > - compute scaled dot-product attention step by step: scores, divide by `sqrt(d)`, softmax, weighted sum;
# > - block the future with a causal mask: each position may only look at itself and earlier positions;
# > - write `causal_attention` (graded) and check it against PyTorch's `F.scaled_dot_product_attention`;
# > - write GPT-2's `MultiHeadAttention` (graded): one `qkv` linear layer, split into heads, merge, output
# >   projection, dropout;
# > - draw every head's attention weights and watch training change them.
#
# **怎么用 / How to use:** 从上到下运行每个 cell。`# YOUR CODE HERE` 的 cell 由你来写，紧跟的测试 cell 检查它。批改时会用别的数据和随机种子把同样的几件事再查一遍（隐藏测试），不会查新的东西：所以只要每个测试 cell 都打印出 ok、Validate 也通过，代码部分就是满分。上一课的 embedding 从 `gpt2ref` 导入，所以上一课即使没做完也不影响这一课。
#
# > **EN** Run the cells top to bottom. Cells with `# YOUR CODE HERE` are yours; the test cell after each
# > checks it. Grading checks the same things again with other data and seeds (the hidden tests) and
# > nothing new, so when every test cell prints ok and Validate passes, your code gets full marks. Last
# > lesson's embedding is imported from `gpt2ref`, so this lesson works even if lesson 32 is unfinished.

# %% [markdown]
# **学习时间 / Study time：** 大约 90 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 90 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | query / key / value | 每个 token 的三个投影：我在找什么、我能提供什么、被选中时交出什么 | three projections of each token: what I look for, what I offer, what I hand over |
# | scaled dot-product | q·k 除以 `sqrt(head_dim)`，再 softmax 成权重 | q·k divided by `sqrt(head_dim)`, then softmax into weights |
# | causal mask | 把未来位置的分数设成 `-inf`，让 token 只看过去和自己 | future scores set to `-inf`, so a token sees only the past and itself |
# | head / multi-head | 几组独立的小 attention 并排运行，结果拼回 `d_model` | several independent small attentions side by side, joined back to `d_model` |
# | dropout | 训练时随机把一部分值置零，eval 模式下关闭 | zeroes a random part of the values in training; off in eval mode |

# %%
import math

import tiktoken
import torch
import torch.nn.functional as F
from torch import nn

from course.corpus import zen_of_python
from gpt2ref import GPT2_SMALL, TokenPositionEmbedding

torch.manual_seed(0)
enc = tiktoken.get_encoding("gpt2")
print("torch", torch.__version__)
print("GPT-2 small:", GPT2_SMALL, "| head_dim:", GPT2_SMALL.head_dim)

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. Attention 在做什么 / What attention does
#
# 每个位置 t 的新向量，是所有位置 s 的 **value** 向量的加权平均。权重来自 t 的 **query** 和 s 的 **key** 的点积：越“对得上”，权重越大。先用最朴素的版本：query、key、value 都直接用 embedding 向量 `x` 本身，也先不管“不能看未来”。
#
# > **EN** The new vector of position t is a weighted average of the **value** vectors of positions s. The
# > weights come from dot products of t's **query** with s's **key**: the better they match, the larger the
# > weight. Start with the plainest version: query, key and value are all the embedding vectors `x`
# > themselves, and we ignore "no looking at the future" for now.

# %%
sentence = zen_of_python().splitlines()[11]
ids = torch.tensor([enc.encode(sentence)])  # (1, T)
pieces = [enc.decode([i]) for i in ids[0].tolist()]
embed = TokenPositionEmbedding(enc.n_vocab, 16, 8)  # lesson 32's module, d_model = 8
with torch.no_grad():
    x = embed(ids)[0]  # (T, d) = (7, 8)
print(repr(sentence), "->", pieces)

scores = x @ x.T  # (T, T): scores[t, s] = x[t] · x[s]
weights = torch.softmax(scores, dim=-1)  # every row sums to 1
out = weights @ x  # (T, d): row t = sum over s of weights[t, s] * x[s]
torch.set_printoptions(precision=2, sci_mode=False)
print("row sums:", weights.sum(dim=-1))
print("mean weight a token gives itself:", weights.diagonal().mean().item())

# %% tags=skip-autograde
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
labels = [repr(p)[1:-1] for p in pieces]
ax.set_xticks(range(len(labels)), labels, rotation=90)
ax.set_yticks(range(len(labels)), labels)
ax.set_xlabel("key position s (looked at)")
ax.set_ylabel("query position t (looking)")
ax.set_title("weights = softmax(x @ x.T), no mask yet")
fig.colorbar(image, ax=ax, label="attention weight")
plt.show()

# %% [markdown]
# 每一行加起来是 1。对角线上的权重最大：`x·x = |x|²` 通常比 `x` 和别人的点积大得多，所以每个 token 主要在看它自己。这就是为什么 GPT-2 不直接用 `x`，而是先用学出来的矩阵把 `x` 变成三种不同的向量：`q = x W_q`（我在找什么）、`k = x W_k`（我能提供什么）、`v = x W_v`（被选中时我交出什么）。
#
# > **EN** Every row sums to 1. The diagonal dominates: `x·x = |x|²` is usually much larger than the dot
# > product of `x` with anyone else, so every token mostly looks at itself. That is why GPT-2 does not use `x`
# > directly but first maps it through learned matrices into three different vectors: `q = x W_q` (what I am
# > looking for), `k = x W_k` (what I offer), `v = x W_v` (what I hand over when chosen).
#
# ## 2. 为什么要除以 sqrt(d) / Why divide by sqrt(d)
#
# 两个各分量独立、方差为 1 的 d 维随机向量，点积的标准差是 `sqrt(d)`。d 越大，分数越分散，softmax 就越接近 one-hot：几乎全部权重给一个位置，其余位置的梯度几乎为零。除以 `sqrt(d)` 把分数的标准差拉回 1 左右。
#
# > **EN** For two random d-dimensional vectors with independent unit-variance entries, the dot product has
# > standard deviation `sqrt(d)`. The larger d, the more spread the scores, and the closer softmax gets to
# > one-hot: almost all weight on one position, almost no gradient for the others. Dividing by `sqrt(d)`
# > brings the scores back to a standard deviation of about 1.

# %%
torch.manual_seed(0)
T_demo = 16
print(f"{'d':>5} {'std q.k':>8} {'std q.k/sqrt(d)':>16} {'max weight, raw':>16} {'max weight, scaled':>19}")
for d in (16, 64, 256, 1024):
    q, k = torch.randn(1000, T_demo, d), torch.randn(1000, T_demo, d)
    raw = q @ k.transpose(-2, -1)  # (1000, T, T)
    scaled = raw / math.sqrt(d)
    max_raw = torch.softmax(raw, dim=-1).amax(dim=-1).mean().item()
    max_scaled = torch.softmax(scaled, dim=-1).amax(dim=-1).mean().item()
    print(f"{d:5d} {raw.std().item():8.1f} {scaled.std().item():16.2f} {max_raw:16.2f} {max_scaled:19.2f}")

# %% [markdown]
# 不缩放时，d = 1024 的分数标准差约为 32，每一行最大的权重平均接近 1：softmax 已经饱和。缩放之后，不管 d 多大，分数的标准差都约为 1，最大权重也保持在同一水平。GPT-2 small 每个头的维度是 64。
#
# > **EN** Without scaling, the scores at d = 1024 have a standard deviation of about 32 and the largest weight
# > of each row is close to 1 on average: softmax has saturated. With scaling the scores keep a standard
# > deviation of about 1 whatever d is, and the largest weight stays at the same level. GPT-2 small's heads
# > have 64 dimensions each.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["why-sqrt-d"])

# %% [markdown]
# ## 3. 因果 mask：不许偷看未来 / The causal mask: no peeking at the future
#
# GPT 的任务是预测下一个 token。训练时整句话一次送进去，如果位置 t 能看到位置 t+1，它直接“抄答案”就行了。所以在 softmax 之前，把对角线**以上**的分数（s > t，未来）设成 `-inf`：`exp(-inf) = 0`，这些位置的权重就恰好是 0，而每一行剩下的权重仍然加起来等于 1。
#
# > **EN** GPT's task is to predict the next token. In training the whole sentence goes in at once; if position
# > t could see position t+1, it would simply copy the answer. So before the softmax we set the scores
# > **above** the diagonal (s > t, the future) to `-inf`: `exp(-inf) = 0`, so those weights are exactly 0 and
# > the remaining weights of every row still sum to 1.
#
# 以 5 个 token 为例，✓ 是能看到的位置，✗ 是被 mask 掉的未来（下面的 cell 打印的 `future` 里，✗ 就是 `True`）：
#
# > **EN** For 5 tokens: ✓ is a position that can be seen, ✗ a masked future one (in the `future` tensor the
# > cell below prints, ✗ is `True`):
#
# | query t ↓ / key s → | 0 | 1 | 2 | 3 | 4 |
# |:---:|:---:|:---:|:---:|:---:|:---:|
# | **0** | ✓ | ✗ | ✗ | ✗ | ✗ |
# | **1** | ✓ | ✓ | ✗ | ✗ | ✗ |
# | **2** | ✓ | ✓ | ✓ | ✗ | ✗ |
# | **3** | ✓ | ✓ | ✓ | ✓ | ✗ |
# | **4** | ✓ | ✓ | ✓ | ✓ | ✓ |

# %%
T = 5
future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True above the diagonal
print("future (True = masked):\n", future)
demo_scores = torch.randn(T, T)
masked = demo_scores.masked_fill(future, float("-inf"))
print("masked scores:\n", masked)
print("weights:\n", torch.softmax(masked, dim=-1))

# %% [markdown]
# 第 0 行只能看自己，所以权重是 `[1, 0, 0, 0, 0]`；第 t 行把权重分给位置 0 到 t。注意 mask 加在 softmax **之前**：如果先 softmax 再把未来清零，每一行就不再加起来等于 1 了。
#
# > **EN** Row 0 can only look at itself, so its weights are `[1, 0, 0, 0, 0]`; row t shares its weight among
# > positions 0 to t. Note that the mask goes **before** the softmax: zeroing the future after the softmax
# > would leave rows that no longer sum to 1.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["mask-before-softmax"])

# %% [markdown]
# ## 4. 你的 `causal_attention` / Your `causal_attention`
#
# 把上面几步写成一个函数。它要能处理任意多的前导维度：`(T, d)`、`(B, T, d)`、`(B, H, T, d)` 都行（`k.transpose(-2, -1)` 和 `@` 会自动处理）。
#
# > **EN** Write the steps above as one function. It must accept any number of leading dimensions:
# > `(T, d)`, `(B, T, d)` and `(B, H, T, d)` all work (`k.transpose(-2, -1)` and `@` take care of it).

# %% [solution] id=causal_attention
def causal_attention(q, k, v):
    """Scaled dot-product attention with a causal mask, written out step by step.

    q, k, v: float tensors of shape (..., T, d) (same shapes). Returns a tuple (output, weights):
      weights: (..., T, T), softmax over the last dim of q @ k^T / sqrt(d), with every entry above the
               diagonal (a query looking at a later key) exactly 0; every row sums to 1.
      output:  (..., T, d) = weights @ v.
    Use the explicit softmax (not F.scaled_dot_product_attention: it does not return the weights).
    """
    ### BEGIN SOLUTION
    T, d = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T, T)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool, device=q.device), diagonal=1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v, weights
    ### END SOLUTION


# %% [tests] id=test_attention_mask points=2
import torch
from course.checks import expect, expect_close, expect_own_work, expect_shape

expect_own_work(causal_attention, lesson=33, what="causal_attention")
torch.manual_seed(0)
_q, _k, _v = (torch.randn(2, 6, 4) for _ in range(3))
_out, _w = causal_attention(_q, _k, _v)
expect_shape(_out, (2, 6, 4), ("q、k、v 形状为 (2, 6, 4) 时的输出", "output for q, k, v of shape (2, 6, 4)"),
             hint=("output = weights @ v，形状与 v 相同", "output = weights @ v has v's shape"))
expect_shape(_w, (2, 6, 6), ("q、k、v 形状为 (2, 6, 4) 时的权重", "weights for q, k, v of shape (2, 6, 4)"),
             hint=("weights = softmax(q @ k^T ...) 的形状是 (..., T, T)",
                   "weights = softmax(q @ k^T ...) is (..., T, T)"))
_above = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
expect(bool((_w[:, _above] == 0).all()),
       ("对角线以上的权重", "weights above the diagonal"), ("有些不是恰好为 0", "some are not exactly 0"),
       hint=("必须在 softmax 之前把未来位置的分数（triu, diagonal=1）填成 -inf",
             "fill the future scores (triu, diagonal=1) with -inf BEFORE the softmax"))
expect_close(_w.sum(dim=-1), torch.ones(2, 6), ("权重每一行的和", "row sums of the weights"), atol=1e-5,
             hint=("先 mask，再在最后一维上做 softmax（dim=-1）",
                   "softmax over the last dimension (dim=-1), after masking"))
### BEGIN HIDDEN TESTS
expect(not torch.isnan(_w).any(), ("权重", "weights"), ("含有 NaN", "contain NaN"),
       hint=("只 mask 掉 s > t 的位置（diagonal=1）：每个位置都必须能看到它自己",
             "mask only s > t (diagonal=1): every position must be allowed to look at itself"))
expect_close(_w[:, 0, 0], torch.ones(2),
             ("第一个位置给自己的权重", "weight of the first position on itself"), atol=1e-6,
             hint=("位置 0 只能看到自己，所以它给自己的权重是 1",
                   "position 0 can only see itself, so its weight on itself is 1"))
_q, _k, _v = (torch.randn(2, 3, 8, 5) for _ in range(3))
_out, _w = causal_attention(_q, _k, _v)
expect_shape(_w, (2, 3, 8, 8),
             ("4 维输入 (B, H, T, d) = (2, 3, 8, 5) 的权重", "weights for 4-d inputs (B, H, T, d) = (2, 3, 8, 5)"),
             hint=("只在最后两维上运算：k.transpose(-2, -1)，softmax(dim=-1)",
                   "work on the last two dimensions only: k.transpose(-2, -1), softmax(dim=-1)"))
expect_close(_w.sum(dim=-1), torch.ones(2, 3, 8),
             ("权重每一行的和（4 维输入）", "row sums of the weights (4-d inputs)"), atol=1e-5,
             hint=("先 mask，再在最后一维上做 softmax（dim=-1）",
                   "softmax over the last dimension (dim=-1), after masking"))
_above = torch.triu(torch.ones(8, 8, dtype=torch.bool), diagonal=1)
expect(bool((_w[..., _above] == 0).all()), ("对角线以上的权重（4 维输入）", "weights above the diagonal (4-d inputs)"),
       ("有些不是恰好为 0", "some are not exactly 0"),
       hint=("mask 必须盖住每一个 key 位置 > query 位置的 query/key 对",
             "the mask must cover every query/key pair with key position > query position"))
# causality: changing the future changes nothing before it
_q2, _k2, _v2 = _q.clone(), _k.clone(), _v.clone()
for _t in (_q2, _k2, _v2):
    _t[..., 5:, :] = torch.randn_like(_t[..., 5:, :])
_out2, _ = causal_attention(_q2, _k2, _v2)
expect_close(_out2[..., :5, :], _out[..., :5, :],
             ("改动位置 5-7 之后，位置 0-4 的输出", "outputs at positions 0-4 after changing positions 5-7"),
             atol=1e-6,
             hint=("一个位置不能从它后面的位置取任何信息：mask 掉 s > t",
                   "a position must not take anything from later positions: mask s > t"))
expect(not torch.allclose(_out2[..., 5:, :], _out[..., 5:, :]),
       ("改动位置 5-7 之后，这几个位置自己的输出", "outputs at positions 5-7 after changing them"),
       ("没有变化", "did not change"), hint=("输出必须随输入变化", "the output must depend on the inputs"))
_out3, _w3 = causal_attention(_q[0, 0], _k[0, 0], _v[0, 0])
expect_shape(_w3, (8, 8), ("2 维输入 (T, d) = (8, 5) 的权重", "weights for 2-d inputs (T, d) = (8, 5)"),
             hint=("用 size(-2) 和 size(-1)，不要写死维度的下标", "use size(-2) and size(-1), not fixed positions"))
### END HIDDEN TESTS
print("mask and weights: ok")

# %% [tests] id=test_attention_values points=2
import math

import torch
import torch.nn.functional as F
from course.checks import expect_close, expect_own_work

expect_own_work(causal_attention, lesson=33, what="causal_attention")
# T = 2, d = 4 by hand: row 1 mixes v[0] and v[1] with softmax([q1.k0, q1.k1] / sqrt(4))
_q = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
_k = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
_v = torch.tensor([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.0, 1.0, 0.0]])
_w1 = torch.softmax(torch.tensor([2.0 / 2, 0.0 / 2]), dim=0)
_expected_w = torch.tensor([[1.0, 0.0], [_w1[0].item(), _w1[1].item()]])
_out, _w = causal_attention(_q, _k, _v)
expect_close(_w, _expected_w,
             ("手算例子的权重（T = 2, d = 4）", "weights of a hand-computed example (T = 2, d = 4)"), atol=1e-6,
             hint=("scores = q @ k^T 除以 sqrt(d)（这里 d = 4，即除以 2），然后 mask，再 softmax",
                   "scores = q @ k^T divided by sqrt(d) (d = 4 here: divide by 2), then mask and softmax"))
expect_close(_out, _expected_w @ _v,
             ("手算例子的输出（T = 2, d = 4）", "output of a hand-computed example (T = 2, d = 4)"), atol=1e-6,
             hint="output = weights @ v")
### BEGIN HIDDEN TESTS
from gpt2ref import causal_attention as _ref_attention

torch.manual_seed(1)
for _shape in [(3, 7, 16), (2, 4, 9, 8), (12, 64)]:
    _q, _k, _v = (torch.randn(*_shape) for _ in range(3))
    _out, _w = causal_attention(_q, _k, _v)
    _ref_out, _ref_w = _ref_attention(_q, _k, _v)
    expect_close(_w, _ref_w, (f"输入形状为 {_shape} 时的权重", f"weights for inputs of shape {_shape}"), atol=1e-6,
                 hint=("分数要除以 sqrt(d)，其中 d = q.size(-1)（不是除以 d，也不是除以 T）",
                       "divide the scores by sqrt(d) where d = q.size(-1) (not by d, not by T)"))
    expect_close(_out, _ref_out, (f"输入形状为 {_shape} 时的输出", f"output for inputs of shape {_shape}"), atol=1e-5,
                 hint="output = weights @ v")
    expect_close(_out, F.scaled_dot_product_attention(_q, _k, _v, is_causal=True),
                 (f"输出与 F.scaled_dot_product_attention(is_causal=True) 对比，形状 {_shape}",
                  f"output vs F.scaled_dot_product_attention(is_causal=True), shape {_shape}"), atol=1e-5,
                 hint=("scaled dot-product attention 就是 softmax(q k^T / sqrt(d) + causal mask) v",
                       "scaled dot-product attention: softmax(q k^T / sqrt(d) + causal mask) v"))
_q, _k, _v = (torch.randn(5, 3, dtype=torch.float64) * 4 for _ in range(3))
_scores = (_q @ _k.T) / math.sqrt(3)
_expected = torch.zeros(5, 5, dtype=torch.float64)
for _t in range(5):
    _expected[_t, : _t + 1] = torch.softmax(_scores[_t, : _t + 1], dim=0)
expect_close(causal_attention(_q, _k, _v)[1], _expected,
             ("float64 输入的权重，逐行检查", "weights for float64 inputs, row by row"), atol=1e-9,
             hint=("计算全程保持输入的 dtype；第 t 行只在位置 0..t 上做 softmax",
                   "keep the computation in the input's dtype; row t is a softmax over positions 0..t only"))
### END HIDDEN TESTS
print("values: ok")

# %% [markdown]
# PyTorch 自带一个融合版本 `F.scaled_dot_product_attention(q, k, v, is_causal=True)`：同样的数学；能用融合内核（flash、memory-efficient）时，它不把 T×T 的权重矩阵存下来，更快也更省内存（用不上时，它退回普通的数学实现，照样会算出整个矩阵）。对一下你的结果：
#
# > **EN** PyTorch ships a fused version, `F.scaled_dot_product_attention(q, k, v, is_causal=True)`: the same
# > maths; when a fused kernel applies (flash, memory-efficient) it never stores the T×T weight matrix, so it
# > is faster and leaner (when none applies, it falls back to the plain math implementation, which does build
# > the whole matrix). Compare with yours:

# %%
torch.manual_seed(0)
q, k, v = (torch.randn(2, 12, 64, 64) for _ in range(3))  # (B, heads, T, head_dim)
mine, mine_weights = causal_attention(q, k, v)
fused = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print("max |causal_attention - F.scaled_dot_product_attention| =", (mine - fused).abs().max().item())
T_gpt2, heads = GPT2_SMALL.context_length, GPT2_SMALL.num_heads
weight_bytes = T_gpt2 * T_gpt2 * heads * 4  # float32
print(f"explicit weights at T = {T_gpt2}, {heads} heads: {weight_bytes / 2**20:.0f} MiB per sequence per layer")

# %% [markdown]
# 两者一致（差别只在浮点舍入）。GPT-2 small 全长 1024 个 token 时，每层、每条序列光是权重矩阵就要 48 MiB，这就是融合版本存在的理由。下面的多头注意力里可以直接用它。
#
# > **EN** The two agree (up to floating-point rounding). At GPT-2 small's full 1024 tokens the weight
# > matrices alone take 48 MiB per layer and per sequence: that is why the fused version exists. The
# > multi-head attention below may use it directly.
#
# ## 5. 多个头 / Multiple heads
#
# 一个头只能产生一种“关注模式”。GPT-2 把 `d_model` 维切成 `num_heads` 份，每个头在自己的 `head_dim = d_model / num_heads` 维上独立做 attention，有的头可以看前一个 token，有的头可以找同一个词上次出现的位置。步骤如下（GPT-2 small：768 = 12 × 64）：
#
# 1. 一个线性层 `qkv: d_model → 3·d_model` 同时算出 q、k、v（GPT-2 里叫 `c_attn`），再按最后一维切成三份；
# 2. `split_heads`：`(B, T, d_model) → (B, T, H, head_dim) → (B, H, T, head_dim)`，第 h 个头拿到第 `h·head_dim` 到 `(h+1)·head_dim - 1` 维；
# 3. 每个头做因果 attention；
# 4. `merge_heads`：倒过来变回 `(B, T, d_model)`；
# 5. 输出投影 `proj: d_model → d_model`（GPT-2 里叫 `c_proj`），把各个头的结果混在一起。
#
# > **EN** One head can produce only one "attention pattern". GPT-2 cuts the `d_model` dimensions into
# > `num_heads` slices; each head runs attention on its own `head_dim = d_model / num_heads` dimensions, so one
# > head may look at the previous token while another looks for the last occurrence of the same word. The
# > steps (GPT-2 small: 768 = 12 × 64):
# >
# > 1. one linear layer `qkv: d_model → 3·d_model` computes q, k and v together (GPT-2 calls it `c_attn`),
# >    then the last dimension is cut into three;
# > 2. `split_heads`: `(B, T, d_model) → (B, T, H, head_dim) → (B, H, T, head_dim)`; head h gets dimensions
# >    `h·head_dim` to `(h+1)·head_dim - 1`;
# > 3. every head runs causal attention;
# > 4. `merge_heads`: back to `(B, T, d_model)`;
# > 5. the output projection `proj: d_model → d_model` (GPT-2's `c_proj`) mixes the heads' results.

# %%
B, T, d_model, H = 2, 5, 12, 3
head_dim = d_model // H
x = torch.arange(B * T * d_model, dtype=torch.float32).view(B, T, d_model)
heads = x.view(B, T, H, head_dim).transpose(1, 2)  # (B, H, T, head_dim)
print("x:", tuple(x.shape), "-> view:", (B, T, H, head_dim), "-> transpose(1, 2):", tuple(heads.shape))
print("token 0 of sequence 0:", x[0, 0].tolist())
print("  head 0 gets", heads[0, 0, 0].tolist(), "| head 2 gets", heads[0, 2, 0].tolist())
merged = heads.transpose(1, 2).contiguous().view(B, T, d_model)
print("merge(split(x)) == x:", torch.equal(merged, x))

# %% [markdown]
# 为什么 merge 里要 `.contiguous()`？`transpose` 只改变读内存的顺序，不搬数据；`view` 要求数据在内存里按新形状连续排列。`.contiguous()` 先复制一份排好的，再 `view`（也可以直接用 `reshape`）。
#
# > **EN** Why `.contiguous()` in the merge? `transpose` only changes the order in which memory is read and
# > moves no data; `view` needs the data laid out contiguously for the new shape. `.contiguous()` makes a
# > tidy copy first (or use `reshape`, which does that when needed).

# %%
per_head_out = torch.randn(B, H, T, head_dim)  # what attention returns: a fresh (B, H, T, head_dim) tensor
try:
    per_head_out.transpose(1, 2).view(B, T, d_model)
except RuntimeError as error:
    print("without .contiguous(): RuntimeError:", str(error)[:70], "...")
print("with .contiguous():", tuple(per_head_out.transpose(1, 2).contiguous().view(B, T, d_model).shape))

# %% [markdown]
# 参数量：`qkv` 有 `d·3d + 3d`，`proj` 有 `d·d + d`，一共 `4d² + 4d`，和头的数量无关：头只是把同样的维度切开。
#
# > **EN** Parameters: `qkv` has `d·3d + 3d`, `proj` has `d·d + d`, `4d² + 4d` in all, whatever the number of
# > heads: heads only slice the same dimensions.

# %%
d = GPT2_SMALL.d_model
print(f"GPT-2 small attention layer: 4*{d}^2 + 4*{d} = {4 * d * d + 4 * d:,} parameters, "
      f"head_dim = {d} / {GPT2_SMALL.num_heads} = {GPT2_SMALL.head_dim}")

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["head-split", "head-params"])

# %% [markdown]
# ### Dropout
#
# 训练 GPT-2 时用了 dropout（概率 0.1）：随机把一些注意力权重和输出清零，其余的放大 `1/(1-p)` 倍，防止模型过分依赖某几条连接。`model.eval()` 之后 dropout 关闭，同样的输入总是给出同样的输出。`F.scaled_dot_product_attention` 的 `dropout_p` 参数负责权重上的 dropout，只在训练时传 `self.dropout`。
#
# > **EN** GPT-2 was trained with dropout (probability 0.1): some attention weights and outputs are zeroed at
# > random and the rest scaled by `1/(1-p)`, so the model cannot lean on a few connections. After
# > `model.eval()` dropout is off and the same input always gives the same output. The `dropout_p` argument of
# > `F.scaled_dot_product_attention` handles dropout on the weights; pass `self.dropout` only while training.
#
# ## 6. 你的 `MultiHeadAttention` / Your `MultiHeadAttention`
#
# 构造函数和参考实现一样：`MultiHeadAttention(d_model, num_heads, dropout=0.0, bias=True)`。属性名 `qkv` 和 `proj` 要和 docstring 一致：第 35 课会把这些模块拼成 GPT-2，第 37 课会把 GPT-2 的真实权重按这些名字装进去，测试也通过它们复制权重。
#
# > **EN** The constructor matches the reference: `MultiHeadAttention(d_model, num_heads, dropout=0.0,
# > bias=True)`. Keep the attribute names `qkv` and `proj` from the docstring: lesson 35 assembles GPT-2 from
# > these modules, lesson 37 loads GPT-2's real weights by these names, and the tests copy weights through them.
#
# `forward` 的数据流，每一步都标出形状（H 是 `num_heads`，每个头 `head_dim` 维）：
#
# > **EN** The data flow of `forward`, with the shape at every step (H = `num_heads`, `head_dim` dimensions per
# > head):
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     x["x: (B, T, d_model)"] --> qkv["qkv(x): (B, T, 3 * d_model)"]
#     qkv --> chunk["chunk(3, dim=-1): q, k, v, each (B, T, d_model)"]
#     chunk --> split["split_heads: q, k, v, each (B, H, T, head_dim)"]
#     split --> scores["scores = q @ k.transpose(-2, -1) / sqrt(head_dim)<br>(B, H, T, T)"]
#     scores --> mask["causal mask: entries above the diagonal set to -inf"]
#     mask --> soft["softmax over the last dimension<br>weights (B, H, T, T), each row sums to 1"]
#     soft --> mix["weights @ v: (B, H, T, head_dim)"]
#     split -- "v" --> mix
#     mix --> merge["merge_heads: (B, T, d_model)"]
#     merge --> proj["proj: (B, T, d_model)"]
# ```
#
# 中间四步（scores、mask、softmax、乘 v）就是你在第 4 节写的 `causal_attention`，`F.scaled_dot_product_attention(q, k, v, is_causal=True)` 一次做完。
#
# > **EN** The four middle steps (scores, mask, softmax, multiply by v) are the `causal_attention` you wrote in
# > section 4; `F.scaled_dot_product_attention(q, k, v, is_causal=True)` does them in one call.

# %% [solution] id=multi_head_attention
class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention as in GPT-2.

    MultiHeadAttention(d_model, num_heads, dropout=0.0, bias=True); raise ValueError if d_model is not
    divisible by num_heads.

    Attributes the tests use:
        num_heads, head_dim (= d_model // num_heads), dropout (the probability)
        qkv:  nn.Linear(d_model, 3 * d_model, bias=bias). Its output is cut along the last dimension into
              q, k, v in that order (q = the first d_model features), like GPT-2's c_attn.
        proj: nn.Linear(d_model, d_model, bias=bias), applied after the heads are merged.

    split_heads(x): (B, T, d_model) -> (B, num_heads, T, head_dim); head h holds features
                    h*head_dim ... (h+1)*head_dim - 1 of every token.
    merge_heads(x): the inverse: (B, num_heads, T, head_dim) -> (B, T, d_model).
    forward(x):     (B, T, d_model) -> (B, T, d_model): qkv, split, causal attention in every head,
                    merge, proj. While training, apply dropout with probability ``dropout`` (to the
                    attention weights and/or the output); in eval mode, no dropout at all.
    """

    def __init__(self, d_model, num_heads, dropout=0.0, bias=True):
        super().__init__()
        ### BEGIN SOLUTION
        if d_model % num_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)
        ### END SOLUTION

    def split_heads(self, x):
        ### BEGIN SOLUTION
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)
        ### END SOLUTION

    def merge_heads(self, x):
        ### BEGIN SOLUTION
        B, _, T, _ = x.shape
        return x.transpose(1, 2).contiguous().view(B, T, self.num_heads * self.head_dim)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # each (B, T, d_model)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, H, T, head_dim)
        out = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )  # (B, H, T, head_dim)
        return self.resid_dropout(self.proj(self.merge_heads(out)))  # (B, T, d_model)
        ### END SOLUTION


# %% [tests] id=test_mha_shapes points=1
import torch
from course.checks import expect_equal, expect_own_work, expect_raises, expect_shape

expect_own_work(MultiHeadAttention, lesson=33, what="MultiHeadAttention")
_mha = MultiHeadAttention(32, 4)
expect_shape(_mha(torch.randn(2, 5, 32)), (2, 5, 32),
             ("MultiHeadAttention(32, 4) 作用于输入 (2, 5, 32)", "MultiHeadAttention(32, 4) on input (2, 5, 32)"),
             hint=("输出和输入形状相同：(B, T, d_model)", "the output has the input's shape (B, T, d_model)"))
expect_shape(_mha.qkv.weight, (96, 32), "qkv.weight", hint="qkv = nn.Linear(d_model, 3 * d_model)")
expect_shape(_mha.proj.weight, (32, 32), "proj.weight", hint="proj = nn.Linear(d_model, d_model)")
expect_equal(_mha.head_dim, 8, ("MultiHeadAttention(32, 4) 的 head_dim", "head_dim of MultiHeadAttention(32, 4)"),
             hint="head_dim = d_model // num_heads")
expect_raises(ValueError, lambda: MultiHeadAttention(10, 3), ("MultiHeadAttention(10, 3)（10 不能被 3 整除）",
                                                             "MultiHeadAttention(10, 3) (10 is not divisible by 3)"),
              hint=("在构造函数里检查 d_model % num_heads != 0，成立时抛出 ValueError（只打印一句话不够）",
                    "in the constructor, raise ValueError when d_model % num_heads != 0 (printing a warning is not enough)"))
### BEGIN HIDDEN TESTS
expect_equal(_mha.num_heads, 4, ("MultiHeadAttention(32, 4) 的 num_heads", "num_heads of MultiHeadAttention(32, 4)"),
             hint=("把 num_heads 存为属性 self.num_heads", "store num_heads"))
expect_equal(sum(p.numel() for p in _mha.parameters()), 4 * 32 * 32 + 4 * 32,
             ("MultiHeadAttention(32, 4) 的参数量", "parameter count of MultiHeadAttention(32, 4)"),
             hint=("qkv（d x 3d + 3d）加 proj（d x d + d），别的都没有",
                   "qkv (d x 3d + 3d) and proj (d x d + d), nothing else"))
_nb = MultiHeadAttention(32, 4, bias=False)
expect_equal(sum(p.numel() for p in _nb.parameters()), 4 * 32 * 32,
             ("bias=False 时的参数量", "parameter count with bias=False"),
             hint=("把 bias=bias 传给两个 nn.Linear 层", "pass bias=bias to both nn.Linear layers"))
expect_raises(ValueError, lambda: MultiHeadAttention(30, 4), "MultiHeadAttention(30, 4)",
              hint=("d_model % num_heads != 0 时抛出 ValueError", "raise ValueError when d_model % num_heads != 0"))
for _B, _T in [(1, 1), (3, 9)]:
    expect_shape(_mha(torch.randn(_B, _T, 32)), (_B, _T, 32),
                 (f"输入形状为 {(_B, _T, 32)} 时的输出", f"output for input of shape {(_B, _T, 32)}"),
                 hint=("从输入里读出 B 和 T，不要在构造函数里写死",
                       "read B and T from the input; do not fix them in the constructor"))
with torch.device("meta"):
    _gpt2 = MultiHeadAttention(768, 12)
expect_equal(sum(p.numel() for p in _gpt2.parameters()), 2_362_368,
             ("GPT-2 small 尺寸（768，12 个头）下的参数量", "parameter count at GPT-2 small size (768, 12 heads)"),
             hint="768 x 2304 + 2304 + 768 x 768 + 768")
### END HIDDEN TESTS
print("shapes and parameters: ok")

# %% [tests] id=test_mha_heads points=1
import torch
from course.checks import expect_own_work, expect_shape, expect_tensor_equal

expect_own_work(MultiHeadAttention, lesson=33, what="MultiHeadAttention")
_mha = MultiHeadAttention(6, 3)
_x = torch.arange(2 * 4 * 6, dtype=torch.float32).view(2, 4, 6)
_h = _mha.split_heads(_x)
expect_shape(_h, (2, 3, 4, 2),
             ("3 个头时，对 (2, 4, 6) 张量做 split_heads", "split_heads of a (2, 4, 6) tensor with 3 heads"),
             hint="(B, T, d_model) -> view (B, T, H, head_dim) -> transpose(1, 2) -> (B, H, T, head_dim)")
expect_tensor_equal(_mha.merge_heads(_h), _x, "merge_heads(split_heads(x))",
                    hint=("merge_heads 必须把 split_heads 还原：transpose(1, 2)，.contiguous()，view(B, T, d_model)",
                          "merge_heads must undo split_heads: transpose(1, 2), .contiguous(), view(B, T, d_model)"))
### BEGIN HIDDEN TESTS
from gpt2ref import MultiHeadAttention as _RefMHA

expect_tensor_equal(_h[1, 2, 3], _x[1, 3, 4:6], "split_heads(x)[b=1, head=2, t=3]",
                    hint=("第 h 个头必须拿到 token t 的第 h*head_dim ... (h+1)*head_dim - 1 维特征",
                          "head h must hold features h*head_dim ... (h+1)*head_dim - 1 of token t"))
expect_tensor_equal(_h[0, 0, :, :], _x[0, :, 0:2], "split_heads(x)[b=0, head=0]",
                    hint=("第 0 个头拿到每个 token 的前 head_dim 维特征",
                          "head 0 holds the first head_dim features of every token"))
_ref = _RefMHA(24, 4)
_x = torch.randn(3, 7, 24)
_mha = MultiHeadAttention(24, 4)
expect_tensor_equal(_mha.split_heads(_x), _ref.split_heads(_x),
                    ("4 个头时，对 (3, 7, 24) 张量做 split_heads", "split_heads on a (3, 7, 24) tensor with 4 heads"),
                    hint=("view(B, T, H, head_dim).transpose(1, 2)，这是 GPT-2 的布局",
                          "view(B, T, H, head_dim).transpose(1, 2), GPT-2's layout"))
_y = torch.randn(3, 4, 7, 6)
expect_tensor_equal(_mha.merge_heads(_y), _ref.merge_heads(_y),
                    ("对 (3, 4, 7, 6) 张量做 merge_heads", "merge_heads on a (3, 4, 7, 6) tensor"),
                    hint=("先 transpose(1, 2) 换回来，再把最后两维合并成一维",
                          "transpose(1, 2) back, then merge the last two dimensions"))
### END HIDDEN TESTS
print("split and merge: ok")

# %% [tests] id=test_mha_values points=3
import math

import torch
from course.checks import expect_close, expect_own_work, expect_shape

expect_own_work(MultiHeadAttention, lesson=33, what="MultiHeadAttention")


def _copy_weights(dst, src):
    expect_shape(dst.qkv.weight, tuple(src.qkv.weight.shape), "qkv.weight", hint="qkv = nn.Linear(d_model, 3 * d_model)")
    expect_shape(dst.proj.weight, tuple(src.proj.weight.shape), "proj.weight", hint="proj = nn.Linear(d_model, d_model)")
    with torch.no_grad():
        for name in ("qkv", "proj"):
            getattr(dst, name).weight.copy_(getattr(src, name).weight)
            if getattr(src, name).bias is not None:
                getattr(dst, name).bias.copy_(getattr(src, name).bias)
    return dst


def _head_by_head(mha, x):
    """Causal multi-head attention written head by head from slices of the weights."""
    d, H = x.size(-1), mha.num_heads
    hd = d // H
    Wq, Wk, Wv = mha.qkv.weight.split(d, dim=0)
    bq, bk, bv = mha.qkv.bias.split(d)
    T = x.size(1)
    mask = torch.full((T, T), float("-inf")).triu(1)
    outs = []
    for h in range(H):
        r = slice(h * hd, (h + 1) * hd)
        q, k, v = x @ Wq[r].T + bq[r], x @ Wk[r].T + bk[r], x @ Wv[r].T + bv[r]
        outs.append(torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd) + mask, dim=-1) @ v)
    return torch.cat(outs, dim=-1) @ mha.proj.weight.T + mha.proj.bias


torch.manual_seed(0)
_mha = MultiHeadAttention(16, 4).eval()
with torch.no_grad():
    for _p in _mha.parameters():
        _p.normal_(0.0, 0.3)
_x = torch.randn(2, 6, 16)
with torch.no_grad():
    expect_close(_mha(_x), _head_by_head(_mha, _x),
                 ("输出与用你自己的权重逐个头算出的结果对比",
                  "output vs a head-by-head computation on your own weights"),
                 atol=1e-5,
                 hint=("q, k, v = qkv(x) 按这个顺序切开；拆成多个头；每个头做因果 attention；合并；proj",
                       "q, k, v = qkv(x) cut in this order; split heads; causal attention per head; merge; proj"))
### BEGIN HIDDEN TESTS
from gpt2ref import MultiHeadAttention as _RefMHA

torch.manual_seed(1)
with torch.no_grad():
    for _d, _H, _B, _T, _bias in [(24, 4, 3, 9, True), (16, 1, 2, 5, True), (32, 8, 1, 12, False), (12, 3, 2, 1, True)]:
        _ref = _RefMHA(_d, _H, bias=_bias).eval()
        for _p in _ref.parameters():
            _p.normal_(0.0, 0.3)
        _mha = _copy_weights(MultiHeadAttention(_d, _H, bias=_bias), _ref).eval()
        _x = torch.randn(_B, _T, _d)
        expect_close(_mha(_x), _ref(_x),
                     (f"MultiHeadAttention({_d}, {_H}, bias={_bias}) 在 ({_B}, {_T}, {_d}) 上的输出，权重复制自参考实现",
                      f"output of MultiHeadAttention({_d}, {_H}, bias={_bias}) on ({_B}, {_T}, {_d}), "
                      "weights copied from the reference"), atol=1e-5,
                     hint=("检查 q、k、v 的顺序，因果 mask，1/sqrt(head_dim) 的缩放，以及先合并再 proj",
                           "check the order q, k, v; the causal mask; the 1/sqrt(head_dim) scale; merge then proj"))
    # causality: a future token does not change earlier outputs
    _ref = _RefMHA(16, 4).eval()
    _mha = _copy_weights(MultiHeadAttention(16, 4), _ref).eval()
    _x = torch.randn(1, 8, 16)
    _x2 = _x.clone()
    _x2[:, 6:] = torch.randn(1, 2, 16)
    expect_close(_mha(_x2)[:, :6], _mha(_x)[:, :6],
                 ("改动 token 6-7 之后，位置 0-5 的输出",
                  "outputs at positions 0-5 after changing tokens 6-7"), atol=1e-6,
                 hint=("用因果 mask（is_causal=True）：位置 t 只能看位置 <= t",
                       "use a causal mask (is_causal=True): position t may only look at positions <= t"))
    # batch rows are independent
    _x = torch.randn(3, 5, 16)
    expect_close(_mha(_x)[1:2], _mha(_x[1:2]),
                 ("序列 1 单独计算与放进 3 条序列的 batch 里计算，输出对比",
                  "output of sequence 1 alone vs inside a batch of 3"), atol=1e-5,
                 hint=("batch 里的序列之间不能混合：attention 只在每条序列内部沿 T 进行",
                       "sequences of a batch must not mix: attention runs over T, within each sequence"))
### END HIDDEN TESTS
print("values: ok")

# %% [tests] id=test_mha_dropout points=1
import torch
from course.checks import expect, expect_close, expect_equal, expect_own_work, expect_tensor_equal

expect_own_work(MultiHeadAttention, lesson=33, what="MultiHeadAttention")
torch.manual_seed(0)
_mha = MultiHeadAttention(16, 4, dropout=0.5)
_x = torch.randn(2, 8, 16)
_mha.eval()
expect_tensor_equal(_mha(_x), _mha(_x), ("eval 模式下调用两次", "two calls in eval mode"),
                    hint=("eval 模式下不做 dropout：根据 self.training 判断",
                          "no dropout in eval mode: use self.training"))
torch.manual_seed(5)
_drop = MultiHeadAttention(12, 3, dropout=0.3).train()
_x3 = torch.randn(3, 5, 12)
expect(not torch.equal(_drop(_x3), _drop(_x3)),
       ("dropout=0.3，train 模式下对 (3, 5, 12) 的输入调用两次",
        "two calls on a (3, 5, 12) input in train mode with dropout=0.3"),
       ("两次输出完全相同：dropout 没有起作用", "gave identical outputs: dropout did nothing"),
       hint=("训练时要用构造函数传入的概率做 dropout：dropout_p=self.dropout if self.training else 0.0，"
             "或者 nn.Dropout(dropout)",
             "while training, apply dropout with the constructor's probability: "
             "dropout_p=self.dropout if self.training else 0.0, or nn.Dropout(dropout)"))
expect_equal(getattr(MultiHeadAttention(12, 3, dropout=0.125), "dropout", None), 0.125,
             "MultiHeadAttention(12, 3, dropout=0.125).dropout",
             hint=("把概率存进 docstring 指定的属性：self.dropout = dropout（不要换成别的名字）",
                   "keep the probability in the attribute the docstring names: self.dropout = dropout "
                   "(not under another name)"))
### BEGIN HIDDEN TESTS
_mha.train()
expect(not torch.equal(_mha(_x), _mha(_x)),
       ("dropout=0.5，train 模式下调用两次", "two calls in train mode with dropout=0.5"),
       ("两次输出完全相同", "gave identical outputs"),
       hint=("训练时以概率 dropout 做 dropout（dropout_p=... 或 nn.Dropout）",
             "apply dropout with probability `dropout` while training (dropout_p=... or nn.Dropout)"))
_plain = MultiHeadAttention(16, 4, dropout=0.0).eval()
with torch.no_grad():
    _plain.qkv.weight.copy_(_mha.qkv.weight)
    _plain.qkv.bias.copy_(_mha.qkv.bias)
    _plain.proj.weight.copy_(_mha.proj.weight)
    _plain.proj.bias.copy_(_mha.proj.bias)
_mha.eval()
expect_close(_mha(_x), _plain(_x),
             ("eval 模式下 dropout=0.5 与 dropout=0.0 的输出对比（权重相同）",
              "eval output with dropout=0.5 vs dropout=0.0 (same weights)"), atol=1e-6,
             hint=("eval 模式下 dropout 必须什么都不做", "in eval mode dropout must do nothing"))
_zero = MultiHeadAttention(16, 4, dropout=0.0).train()
expect_tensor_equal(_zero(_x), _zero(_x),
                    ("dropout=0.0，train 模式下调用两次", "two calls in train mode with dropout=0.0"),
                    hint=("dropout=0.0 时什么都不丢", "dropout=0.0 keeps everything"))
from course.checks import expect_equal

expect_equal(MultiHeadAttention(16, 4, dropout=0.25).dropout, 0.25, "MultiHeadAttention(16, 4, dropout=0.25).dropout",
             hint=("把概率存进 docstring 指定的属性：self.dropout = dropout",
                   "keep the probability in the attribute the docstring names: self.dropout = dropout"))
### END HIDDEN TESTS
print("dropout: ok")

# %% [markdown]
# ## 7. 每个头在看哪里？/ Where does each head look?
#
# 把一句话送进一个刚初始化的 `MultiHeadAttention`，用你的 `split_heads` 和 `causal_attention` 取出每个头的权重矩阵。初始化用 GPT-2 的做法（第 35 课会讲）：所有权重从 N(0, 0.02) 抽取，bias 为 0。
#
# > **EN** Feed a sentence into a freshly initialised `MultiHeadAttention` and use your `split_heads` and
# > `causal_attention` to get every head's weight matrix. We initialise the way GPT-2 does (lesson 35 explains
# > it): every weight drawn from N(0, 0.02), biases 0.

# %%
def head_weights(mha, x):
    """Attention weights of every head: (B, T, d_model) -> (B, H, T, T)."""
    q, k, v = mha.qkv(x).chunk(3, dim=-1)
    return causal_attention(mha.split_heads(q), mha.split_heads(k), mha.split_heads(v))[1]


from gpt2ref import init_weights

torch.manual_seed(0)
sentence = zen_of_python().splitlines()[13]
ids = torch.tensor([enc.encode(sentence)])  # (1, 12)
pieces = [enc.decode([i]) for i in ids[0].tolist()]
embed = TokenPositionEmbedding(enc.n_vocab, 16, 32).apply(init_weights)
mha = MultiHeadAttention(32, 4).apply(init_weights).eval()
with torch.no_grad():
    untrained = head_weights(mha, embed(ids))[0]  # (H, T, T)
T = ids.size(1)
print(repr(sentence), "->", T, "tokens")
print("row 5 of head 0:", untrained[0, 5])
print("uniform over positions 0..5 would be", round(1 / 6, 2), "each")

# %% [markdown]
# 没训练过的头几乎是“雨露均沾”：第 t 行的权重都在 `1/(t+1)` 附近，因为这么小的权重让 q 和 k 的点积接近 0，softmax 接近均匀分布。头的分工是训练出来的。下面在一个小玩具任务上训练几百步（第 36 课会详细讲训练循环，这里只看结果）：输入随机 token，目标是**上一个位置的 token**。要做对，注意力必须学会看前一个位置。
#
# > **EN** An untrained head spreads its weight almost evenly: row t is close to `1/(t+1)` everywhere, because
# > such small weights make the dot products of q and k nearly 0 and softmax nearly uniform. What heads do is learned. Below we
# > train for a few hundred steps on a toy task (lesson 36 covers training loops; here we only look at the
# > result): the input is random tokens and the target is **the token one position back**. To get it right,
# > attention must learn to look at the previous position.

# %% tags=skip-autograde
class PreviousTokenModel(nn.Module):
    """Embeddings -> your attention -> a linear read-out over a tiny vocabulary."""

    def __init__(self, vocab_size=16, context_length=12, d_model=32, num_heads=4):
        super().__init__()
        self.embed = TokenPositionEmbedding(vocab_size, context_length, d_model)
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.readout = nn.Linear(d_model, vocab_size)

    def forward(self, idx):
        return self.readout(self.attn(self.embed(idx)))


torch.manual_seed(0)
threads = torch.get_num_threads()
torch.set_num_threads(1)  # the matrices are tiny: one thread beats several waiting on each other
toy = PreviousTokenModel()
optimizer = torch.optim.Adam(toy.parameters(), lr=1e-2)
for step in range(101):
    tokens = torch.randint(0, 16, (64, 12))
    logits = toy(tokens)[:, 1:]  # position t predicts tokens[t - 1]
    loss = F.cross_entropy(logits.reshape(-1, 16), tokens[:, :-1].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 25 == 0:
        print(f"step {step:3d}  loss {loss.item():.3f}")
torch.set_num_threads(threads)
toy.eval()
with torch.no_grad():
    trained = head_weights(toy.attn, toy.embed(torch.randint(0, 16, (1, 12))))[0]  # (H, T, T)
print("mean weight on the previous position, per head:", trained.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1))

# %% tags=skip-autograde
import matplotlib.pyplot as plt

future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
cmap = plt.get_cmap("viridis").copy()
cmap.set_bad("lightgrey")  # masked (future) cells
fig, axes = plt.subplots(2, 4, figsize=(16, 8.5), layout="constrained")
for row, (weights, label) in enumerate([(untrained, "GPT-2 init, untrained"), (trained, "trained: copy previous token")]):
    for h in range(4):
        ax = axes[row, h]
        shown = weights[h].masked_fill(future, float("nan"))
        image = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
        ax.set_title(f"{label}\nhead {h}", fontsize=10)
        ax.set_xlabel("key position (looked at)")
        if h == 0:
            ax.set_ylabel("query position (looking)")
        if row == 0:  # a real sentence: label the tokens
            ax.set_xticks(range(T), [repr(p)[1:-1] for p in pieces], rotation=90, fontsize=7)
            ax.set_yticks(range(T), [repr(p)[1:-1] for p in pieces], fontsize=7)
        else:  # random toy tokens: label the positions
            ax.set_xticks(range(0, T, 2))
            ax.set_yticks(range(0, T, 2))
fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight (grey: masked future)")
fig.suptitle("Causal attention weights per head")
plt.show()

# %% [markdown]
# 上排：刚初始化的头，每一行的权重平均摊在所有可见位置上。下排：训练后，每个头都把大部分权重放在紧挨着对角线下方的那一格（前一个位置），这正是任务需要的。灰色的右上三角在两排里都没有任何权重：这就是因果 mask。在真正的 GPT-2 里，不同的头会学出各种不同的模式。
#
# > **EN** Top row: freshly initialised heads spread every row's weight evenly over all visible positions. Bottom
# > row: after training, every head puts most of its weight on the cell just below the diagonal (the previous
# > position), exactly what the task needs. The grey upper-right triangle holds no weight in either row: that
# > is the causal mask. In the real GPT-2, different heads learn many different patterns.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["eval-dropout"])

# %% [markdown]
# ## 8. 学完了 / Wrap-up

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# **现在你有了 / What now exists:** `causal_attention`（显式 softmax，返回权重）和 GPT-2 式的 `MultiHeadAttention`：`qkv` 一次算出 q、k、v，拆成头，因果 attention，合并，`proj` 投影，训练时 dropout。GPT-2 small 的每个 attention 层有 2,362,368 个参数。
#
# > **EN** `causal_attention` (explicit softmax, returns the weights) and GPT-2's `MultiHeadAttention`: `qkv`
# > computes q, k and v at once, split into heads, causal attention, merge, `proj`, dropout while training.
# > Each attention layer of GPT-2 small has 2,362,368 parameters.
#
# **下一课 / Next:** 第 34 课把 attention 和一个前馈网络（feed-forward）装进一个 transformer block，加上 LayerNorm 和残差连接。第 34 课使用 `gpt2ref` 里的 `MultiHeadAttention`，所以这里的错误不会影响下一课。
#
# > **EN** Lesson 34 puts attention and a feed-forward network into a transformer block, with LayerNorm and
# > residual connections. Lesson 34 uses the `MultiHeadAttention` from `gpt2ref`, so a mistake here
# > never blocks the next lesson.
