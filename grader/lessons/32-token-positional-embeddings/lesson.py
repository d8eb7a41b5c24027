# Lesson 32: token and position embeddings.
# Build: python -m grader.build 32-token-positional-embeddings
# Release: python -m grader.commands release 32-token-positional-embeddings

# %% [markdown]
# # 第 32 课 · Token embedding 与位置 embedding / Lesson 32 · Token and position embeddings
#
# 上一课我们把文本切成了 token id 的窗口。模型不能直接对整数做运算：它需要每个 token 的一个**向量**。这一课搭出 GPT-2 的第一层：一张 token 表（这个 token 是什么）加一张位置表（它站在第几位），两者相加。
#
# > **EN** In the last lesson we cut text into windows of token ids. A model cannot compute with bare
# > integers: it needs a **vector** for every token. This lesson builds GPT-2's first layer: a token
# > table (what the token is) plus a position table (where it stands), added together.
#
# **学完这一课，你会 / By the end you will have:**
#
# - 用 GPT-2 真正的 tokenizer（`tiktoken`）把文本变成 token id;
# - 明白 embedding 就是查表：它等于 one-hot 向量乘一个矩阵，而且只有用到的行会得到梯度；
# - 明白模型为什么需要位置信息；
# - 亲手写出 `TokenPositionEmbedding`（计分）和 `cosine_similarity_matrix`（计分）；
# - 在 `meta` device 上数出 GPT-2 small 的 embedding 参数量，并看一眼位置表长什么样。
#
# > **EN**
# > - turn text into token ids with GPT-2's real tokenizer (`tiktoken`);
# > - see that an embedding is a table lookup: the same as a one-hot vector times a matrix, and only
# >   the rows that were used receive a gradient;
# > - understand why the model needs to be told positions;
# > - write `TokenPositionEmbedding` (graded) and `cosine_similarity_matrix` (graded);
# > - count GPT-2 small's embedding parameters on the `meta` device and look at position tables.
#
# **怎么用这个 notebook / How to use this notebook:** 从上到下依次运行每个 cell(Shift+Enter)。写着 `# YOUR CODE HERE` 的 cell 由你来写；紧跟其后的测试 cell 会检查你的代码，失败时会告诉你哪里可能错了。批改时会用别的数据和随机种子把同样的几件事再查一遍（隐藏测试），不会查新的东西：所以只要每个测试 cell 都打印出 ok、Validate 也通过，代码部分就是满分。全部在 CPU 上几秒内跑完。
#
# > **EN** Run the cells top to bottom (Shift+Enter). Cells that say `# YOUR CODE HERE` are yours to
# > write; the test cell right after each one checks your code and, when it fails, says what is likely
# > wrong. Grading checks the same things again with other data and seeds (the hidden tests) and nothing
# > new, so when every test cell prints ok and Validate passes, your code gets full marks. Everything runs
# > in seconds on a CPU.

# %% [markdown]
# **学习时间 / Study time：** 大约 60 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 60 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | embedding | 一张可学习的表，每个 id 查出一行向量 | a learnable table; every id looks up one row, a vector |
# | `d_model` | 每个 token 向量的长度（GPT-2 small 是 768） | the length of every token vector (768 in GPT-2 small) |
# | 位置 embedding / position embedding | 按位置查出的向量，加到 token 向量上 | a vector looked up by position and added to the token vector |
# | `context_length` | 模型一次最多能看的 token 数，也是位置表的行数 | the most tokens the model sees at once, and the number of rows of the position table |
# | 余弦相似度 / cosine similarity | 两个向量夹角的余弦：1 同向，0 正交 | the cosine of the angle between two vectors: 1 same direction, 0 orthogonal |

# %%
import math

import tiktoken
import torch
import torch.nn.functional as F
from torch import nn

from course.corpus import zen_of_python
from gpt2ref import GPT2_SMALL

torch.manual_seed(0)
enc = tiktoken.get_encoding("gpt2")  # GPT-2's own byte-level BPE; works offline in this course
print("torch", torch.__version__)
print("GPT-2 tokenizer vocabulary:", enc.n_vocab, "tokens")
print("GPT-2 small:", GPT2_SMALL)

# %% [markdown]
# 先做个小测验，看看你已经知道多少（答错没关系，学完再做一次 `post` 测验对比）。
#
# > **EN** A short quiz first to see what you already know (wrong answers are fine: you will compare
# > with the `post` quiz at the end).

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. 从文本到 token id / From text to token ids
#
# GPT-2 的 tokenizer 是一个字节级 BPE（第 30 课自己写过一个）。`tiktoken` 里的 `"gpt2"` 编码就是 OpenAI 训练 GPT-2 时用的那一套，上面打印出它一共有 50257 个 token。我们从 *The Zen of Python* 里取两行。
#
# > **EN** GPT-2's tokenizer is a byte-level BPE (you wrote one in lesson 30). The `"gpt2"` encoding in
# > `tiktoken` is the very one OpenAI trained GPT-2 with; the cell above printed its 50257 tokens. We take
# > two lines of *The Zen of Python*.

# %%
lines = zen_of_python().splitlines()[2:4]
for line in lines:
    ids = enc.encode(line)
    print(f"{line!r}\n  ids:    {ids}\n  pieces: {[enc.decode([i]) for i in ids]}")

# %% [markdown]
# 两行都正好是 7 个 token，可以叠成一个形状为 `(B, T) = (2, 7)` 的 batch。注意 `' is'`、`' better'`、`' than'` 在两行里是同样的 id，而且站在同样的位置（第 2、3、4 位）。
#
# > **EN** Both lines are exactly 7 tokens, so they stack into a batch of shape `(B, T) = (2, 7)`. Note
# > that `' is'`, `' better'` and `' than'` have the same ids in both lines, at the same positions (2, 3, 4).

# %%
batch = torch.tensor([enc.encode(line) for line in lines])  # (B, T)
print("batch shape:", tuple(batch.shape), "dtype:", batch.dtype)
print(batch)

# %% [markdown]
# ## 2. Embedding 就是查表 / An embedding is a table lookup
#
# `nn.Embedding(vocab_size, d_model)` 存着一个 `(vocab_size, d_model)` 的矩阵，每个 token id 对应一行。给它 `(B, T)` 的 id，它返回 `(B, T, d_model)`：把每个 id 换成它那一行。为了能把数字打印出来，这里先用很窄的 `d_model = 8`（GPT-2 small 用 768）。
#
# > **EN** `nn.Embedding(vocab_size, d_model)` holds a `(vocab_size, d_model)` matrix with one row per
# > token id. Give it ids of shape `(B, T)` and it returns `(B, T, d_model)`: every id replaced by its
# > row. So that we can print the numbers we use a narrow `d_model = 8` here (GPT-2 small uses 768).

# %%
d_model = 8
tok_embed = nn.Embedding(enc.n_vocab, d_model)
x = tok_embed(batch)
print("table:", tuple(tok_embed.weight.shape), "| ids:", tuple(batch.shape), "-> vectors:", tuple(x.shape))
print("x[0, 2] is row", batch[0, 2].item(), "of the table:", torch.equal(x[0, 2], tok_embed.weight[batch[0, 2]]))
print("same id, same vector (' is' in both lines):", torch.equal(x[0, 2], x[1, 2]))

# %% [markdown]
# 查表和矩阵乘法是一回事：把 id 写成 one-hot 向量（只有第 id 位是 1，其余位置全是 0），再乘上表，乘出来的正是那一行。查表的好处是跳过了那些乘 0 的运算和那个巨大的 one-hot tensor。
#
# > **EN** A lookup is a matrix product in disguise: write the id as a one-hot vector (1 at position id,
# > 0 everywhere else) and multiply it by the table; out comes exactly that row. The lookup
# > simply skips all the multiplications by 0, and the huge one-hot tensor.

# %%
one_hot = F.one_hot(batch, num_classes=enc.n_vocab).float()  # (B, T, vocab_size)
via_matmul = one_hot @ tok_embed.weight  # (B, T, vocab_size) @ (vocab_size, d_model)
print("one-hot shape:", tuple(one_hot.shape), "| numbers stored:", one_hot.numel(), "| ones among them:", int(one_hot.sum()))
print("max |lookup - one-hot @ table| =", (via_matmul - x).abs().max().item())
print("GPT-2 small's token table:", GPT2_SMALL.vocab_size, "x", GPT2_SMALL.d_model, "=",
      f"{GPT2_SMALL.vocab_size * GPT2_SMALL.d_model:,}", "numbers")

# %% [markdown]
# 因为查表等于 one-hot 乘矩阵，反向传播时梯度也只流向被查过的那几行：其它行乘的是 0。用任意一个 loss 试一下：
#
# > **EN** Because a lookup is a one-hot product, the backward pass sends gradient only into the rows that
# > were looked up: every other row was multiplied by 0. Try it with any loss:

# %%
tok_embed.zero_grad()
tok_embed(batch).pow(2).sum().backward()  # any loss will do
rows_with_grad = (tok_embed.weight.grad.abs().sum(dim=1) > 0).nonzero().flatten()
print("rows with a gradient:", rows_with_grad.tolist())
print("distinct ids in batch:", sorted(set(batch.flatten().tolist())))
print("rows without a gradient:", enc.n_vocab - len(rows_with_grad), "of", enc.n_vocab)

# %% [markdown]
# 一个 token 如果在训练数据里几乎从不出现，它那一行就几乎得不到更新，一直停留在随机初始化附近。GPT-2 词表里确实有这样的“冷门”token，喂给模型时它的表现会很奇怪。
#
# > **EN** A token that almost never occurs in the training data hardly ever gets its row updated: the row
# > stays close to its random start. GPT-2's vocabulary really has such rarely-seen tokens, and the model
# > behaves strangely when it is fed one.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["lookup-one-hot", "sparse-gradient"])

# %% [markdown]
# ## 3. 为什么需要位置 / Why the model must be told positions
#
# 下一课的 attention 用向量之间的点积决定每个 token 从哪里取信息，权重只由向量算出。只用 token 表的话，一个 token 不管站在第几位都是同一个向量：" dog bites man" 和 " man bites dog" 是同一组向量，只是排列不同，点积里没有任何“谁在前、谁在后”的线索。（因果 mask 会透露一点间接信息，比如前面有几个 token，但“谁咬了谁”就得让模型绕着弯去猜了。）
#
# > **EN** Next lesson's attention uses dot products between vectors to decide where each token fetches
# > information; the weights come from the vectors alone. With a token table only, a token has the same vector
# > wherever it stands: " dog bites man" and " man bites dog" are the same set of vectors in another
# > arrangement, and the dot products carry no hint of who comes first. (The causal mask leaks an indirect
# > clue, such as how many tokens came before, but the model would have to work out "who bit whom" the hard
# > way.)

# %%
a = torch.tensor(enc.encode(" dog bites man"))
b = torch.tensor(enc.encode(" man bites dog"))
print("ids:", a.tolist(), "vs", b.tolist())
ea, eb = tok_embed(a), tok_embed(b)  # (3, d_model) each
print("the vectors of b are the vectors of a, reordered:", torch.equal(eb, ea[[2, 1, 0]]))
print("an order-blind summary (the mean) is identical:", torch.allclose(ea.mean(0), eb.mean(0)))

# %% [markdown]
# GPT-2 的办法很直接：再学一张**位置表** `nn.Embedding(context_length, d_model)`，第 t 行属于位置 t，把它加到第 t 个 token 的向量上。加上之后，同一个 token 在不同位置就有了不同的向量。
#
# > **EN** GPT-2's answer is direct: learn a second table, the **position table**
# > `nn.Embedding(context_length, d_model)`, whose row t belongs to position t, and add it to the vector of
# > the token at position t. After that, the same token at two positions has two different vectors.

# %%
context_length = 16  # a small table for the demo (GPT-2: 1024)
pos_embed = nn.Embedding(context_length, d_model)
positions = torch.arange(3)  # 0, 1, 2
pa, pb = tok_embed(a) + pos_embed(positions), tok_embed(b) + pos_embed(positions)
print("' dog' first vs ' dog' last, now equal?", torch.equal(pa[0], pb[2]))
print("mean vectors still identical?", torch.allclose(pa.mean(0), pb.mean(0)))

# %% [markdown]
# 等一下：均值还是一样？因为两句话用的是同样的三个位置，相加是可交换的，总和当然不变。但 attention 看的是**每一个**向量，不是总和：现在两句话的向量集合已经不同了。
#
# > **EN** Wait: the means are still equal? Both sentences use the same three positions and addition
# > commutes, so the sum cannot change. But attention looks at **each** vector, not at their sum, and the
# > two sets of vectors now differ.

# %%
print("with positions, are the vectors of b a reordering of a?", any(torch.equal(pb, pa[list(p)]) for p in
      [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]))

# %% [markdown]
# ### 形状与广播 / Shapes and broadcasting
#
# 对一个 `(B, T)` 的 batch，位置是 `torch.arange(T)`，`pos_embed` 给出 `(T, d_model)`。`(B, T, d_model) + (T, d_model)` 按广播规则把同一组位置向量加到 batch 里的每一条序列上。
#
# > **EN** For a `(B, T)` batch the positions are `torch.arange(T)` and `pos_embed` returns
# > `(T, d_model)`. Broadcasting adds `(B, T, d_model) + (T, d_model)`: the same position vectors go onto
# > every sequence of the batch.

# %%
T = batch.size(1)
tok_vectors, pos_vectors = tok_embed(batch), pos_embed(torch.arange(T))
print(tuple(tok_vectors.shape), "+", tuple(pos_vectors.shape), "->", tuple((tok_vectors + pos_vectors).shape))

# %% [markdown]
# 位置表只有 `context_length` 行。序列再长一位，就没有那一行可查了，`nn.Embedding` 会报一个不太好懂的 `IndexError`。你的模块要在这之前给出清楚的 `ValueError`。
#
# > **EN** The position table has only `context_length` rows. One token more and there is no row to look
# > up: `nn.Embedding` fails with a rather cryptic `IndexError`. Your module must raise a clear `ValueError`
# > before that happens.

# %%
try:
    pos_embed(torch.arange(context_length + 1))
except IndexError as error:
    print("IndexError:", error)

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["why-positions", "broadcast-positions"])

# %% [markdown]
# ## 4. 你的 `TokenPositionEmbedding` / Your `TokenPositionEmbedding`
#
# 把上面的几步装进一个 `nn.Module`。属性名 `tok_embed`、`pos_embed` 和第 35 课 `GPTModel` 里的一样，测试会通过这两个名字读写权重。
#
# > **EN** Put the steps above into one `nn.Module`. The attribute names `tok_embed` and `pos_embed` are the
# > ones lesson 35's `GPTModel` uses; the tests read and write the weights through these two names.
#
# 这个模块的数据流，每一步都标出形状：
#
# > **EN** The module's data flow, with the shape at every step:
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     idx["idx: token ids (B, T)"] --> tok["tok_embed(idx): one row of the<br>(vocab_size, d_model) table per id<br>(B, T, d_model)"]
#     idx -- "T = idx.size(1)<br>ValueError if<br>T > context_length" --> pos_ids["torch.arange(T): positions 0 .. T-1 (T)"]
#     pos_ids --> pos["pos_embed(positions): rows of the<br>(context_length, d_model) table<br>(T, d_model)"]
#     tok --> add(("+"))
#     pos -- "broadcast over<br>the batch" --> add
#     add --> out["token vector + position vector: (B, T, d_model)"]
# ```

# %% [solution] id=token_position_embedding
class TokenPositionEmbedding(nn.Module):
    """Token ids -> token vector + position vector.

    Args:
        vocab_size: rows of the token table (50257 for GPT-2).
        context_length: rows of the position table = the longest sequence accepted (1024 for GPT-2).
        d_model: width of every vector (768 for GPT-2 small).

    Attributes the tests use:
        tok_embed: nn.Embedding(vocab_size, d_model)
        pos_embed: nn.Embedding(context_length, d_model)

    forward(idx): ``idx`` is a LongTensor of token ids, shape (B, T). Returns a float tensor of shape
    (B, T, d_model) whose entry [b, t] is ``tok_embed.weight[idx[b, t]] + pos_embed.weight[t]``.
    If T > context_length, raise ValueError with a message that contains both T and context_length.
    """

    def __init__(self, vocab_size, context_length, d_model):
        super().__init__()
        ### BEGIN SOLUTION
        self.context_length = context_length
        self.tok_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(context_length, d_model)
        ### END SOLUTION

    def forward(self, idx):
        ### BEGIN SOLUTION
        T = idx.size(1)
        if T > self.context_length:
            raise ValueError(f"sequence length {T} is longer than context_length {self.context_length}")
        positions = torch.arange(T, device=idx.device)  # (T,)
        return self.tok_embed(idx) + self.pos_embed(positions)  # (B, T, d_model) + (T, d_model)
        ### END SOLUTION


# %% [markdown]
# 下面四个测试 cell 各查一件事：形状和参数量、数值、梯度、长度上限。
#
# > **EN** The four test cells below check one thing each: shapes and parameter count, values, gradients,
# > and the length limit.

# %% [tests] id=test_embedding_shapes points=1
import torch
from course.checks import expect_equal, expect_own_work, expect_shape

expect_own_work(TokenPositionEmbedding, lesson=32, what="TokenPositionEmbedding")
_emb = TokenPositionEmbedding(97, 16, 32)
expect_shape(_emb.tok_embed.weight, (97, 32), "tok_embed.weight",
             hint=("token 表要为每个 token id 准备一行：nn.Embedding(vocab_size, d_model)",
                   "the token table needs one row per token id: nn.Embedding(vocab_size, d_model)"))
expect_shape(_emb.pos_embed.weight, (16, 32), "pos_embed.weight",
             hint=("位置表要为每个位置准备一行：nn.Embedding(context_length, d_model)",
                   "the position table needs one row per position: nn.Embedding(context_length, d_model)"))
expect_shape(_emb(torch.randint(0, 97, (2, 5))), (2, 5, 32),
             ("TokenPositionEmbedding(97, 16, 32) 对形状为 (2, 5) 的 id 的输出",
              "TokenPositionEmbedding(97, 16, 32)(ids of shape (2, 5))"),
             hint=("每个 token 返回一个长为 d_model 的向量：(B, T, d_model)",
                   "return one d_model-wide vector per token: (B, T, d_model)"))
expect_equal(sum(p.numel() for p in TokenPositionEmbedding(11, 5, 3).parameters()), (11 + 5) * 3,
             ("TokenPositionEmbedding(11, 5, 3) 的参数量", "parameter count of TokenPositionEmbedding(11, 5, 3)"),
             hint=("模块里只有 tok_embed 和 pos_embed 两张表，不要再加 bias 或别的参数："
                   "vocab_size x d_model + context_length x d_model",
                   "the module holds the two tables tok_embed and pos_embed and nothing else (no bias, no other "
                   "parameter): vocab_size x d_model + context_length x d_model"))
### BEGIN HIDDEN TESTS
expect_equal(sum(p.numel() for p in _emb.parameters()), (97 + 16) * 32,
             ("TokenPositionEmbedding(97, 16, 32) 的参数量", "parameter count of TokenPositionEmbedding(97, 16, 32)"),
             hint=("恰好两张表，别的什么都没有：vocab_size x d_model + context_length x d_model",
                   "exactly two tables and nothing else: vocab_size x d_model + context_length x d_model"))
for _B, _T in [(1, 1), (3, 16), (4, 7)]:
    expect_shape(_emb(torch.randint(0, 97, (_B, _T))), (_B, _T, 32),
                 (f"形状为 {(_B, _T)} 的 id 的输出", f"output for ids of shape {(_B, _T)}"),
                 hint=("对任意 batch 大小、任意不超过 context_length 的 T，输出都应是 (B, T, d_model)",
                       "the output is (B, T, d_model) for every batch size and every T up to context_length"))
expect_equal(_emb(torch.randint(0, 97, (2, 3))).dtype, torch.float32, ("输出的 dtype", "output dtype"),
             hint=("这些向量就是表里的行，dtype 是 float32", "the vectors are float32 rows of the tables"))
from course.checks import shapes_only

with shapes_only():  # the meta device: shapes, no memory
    _gpt2 = TokenPositionEmbedding(50257, 1024, 768)
expect_equal(sum(p.numel() for p in _gpt2.parameters()), 39_383_808,
             ("GPT-2 small 尺寸下的参数量", "parameter count at GPT-2 small size"),
             hint=("50257 x 768（token 表的行）+ 1024 x 768（位置表的行）",
                   "50257 x 768 token rows + 1024 x 768 position rows"))
### END HIDDEN TESTS
print("shapes and parameter count: ok")

# %% [tests] id=test_embedding_values points=2
import torch
from course.checks import expect, expect_close, expect_own_work, expect_shape

expect_own_work(TokenPositionEmbedding, lesson=32, what="TokenPositionEmbedding")
torch.manual_seed(1)
_emb = TokenPositionEmbedding(20, 6, 4)
_ids = torch.tensor([[3, 3, 3], [7, 3, 11]])
_out = _emb(_ids)
_expected = _emb.tok_embed.weight[_ids] + _emb.pos_embed.weight[:3]
expect_close(_out, _expected,
             ("id 为 [[3, 3, 3], [7, 3, 11]] 时的输出", "output for ids [[3, 3, 3], [7, 3, 11]]"), atol=1e-6,
             hint=("第 [b, t] 项是 tok_embed 的第 idx[b, t] 行加上 pos_embed 的第 t 行（位置依次是 0, 1, ..., T-1）",
                   "entry [b, t] is tok_embed row idx[b, t] plus pos_embed row t (positions 0, 1, ..., T-1)"))
expect(not torch.allclose(_out[0, 0], _out[0, 1]), ("位置 0 和位置 1 上的 token 3", "token 3 at positions 0 and 1"),
       ("两个向量相同，位置没有起任何作用", "the two vectors are equal, so position changes nothing"),
       hint=("加上 pos_embed(torch.arange(T))", "add pos_embed(torch.arange(T))"))
### BEGIN HIDDEN TESTS
from gpt2ref import TokenPositionEmbedding as _RefEmbedding

torch.manual_seed(2)
for _V, _C, _D, _B, _T in [(50, 12, 8, 3, 12), (30, 9, 5, 2, 1), (40, 10, 6, 4, 7)]:
    _ref, _emb = _RefEmbedding(_V, _C, _D), TokenPositionEmbedding(_V, _C, _D)
    expect_shape(_emb.tok_embed.weight, (_V, _D), "tok_embed.weight", hint="nn.Embedding(vocab_size, d_model)")
    expect_shape(_emb.pos_embed.weight, (_C, _D), "pos_embed.weight", hint="nn.Embedding(context_length, d_model)")
    with torch.no_grad():
        _emb.tok_embed.weight.copy_(_ref.tok_embed.weight)
        _emb.pos_embed.weight.copy_(_ref.pos_embed.weight)
    _v = _emb(torch.full((1, _T), 5))[0]
    expect_close(_v - _v[:1], _ref.pos_embed.weight[:_T] - _ref.pos_embed.weight[:1],
                 ("同一个 token 的向量随位置的变化",
                  "how the vector of one token changes with its position"), atol=1e-6,
                 hint=("位置 t 与位置 0 的向量之差必须等于 pos_embed 的第 t 行减去第 0 行",
                       "the difference between positions t and 0 must be pos_embed row t - row 0"))
    _ids = torch.randint(0, _V, (_B, _T))
    expect_close(_emb(_ids), _ref(_ids),
                 (f"形状为 {(_B, _T)} 的 id 的输出（权重复制自参考实现）",
                  f"output for ids of shape {(_B, _T)} (weights copied from the reference)"),
                 atol=1e-6,
                 hint=("token 行 + 位置行，别的什么都不加：不缩放，位置按顺序取 0..T-1",
                       "token row + position row, nothing else: no scaling, positions 0..T-1 in order"))
_emb = TokenPositionEmbedding(20, 6, 4)
_out = _emb(torch.tensor([[1, 2], [3, 2]]))
expect(not torch.allclose(_out[0, 0], _out[1, 0]), ("位置 0 上的 token 1 和 token 3", "tokens 1 and 3 at position 0"),
       ("得到了同一个向量：丢掉了“这是哪个 token”的信息", "got the same vector: token identity is lost"),
       hint=("用输入的 id 去查 tok_embed", "look up tok_embed with the ids"))
expect_close(_out[0, 1], _out[1, 1],
             ("两条不同序列里位置 1 上的 token 2", "token 2 at position 1 in two different sequences"), atol=1e-6,
             hint=("batch 里的每条序列加的都是同样的位置行；输出不能取决于它在 batch 的哪一行",
                   "each sequence of the batch gets the same position rows; the output must not depend on the batch row"))
### END HIDDEN TESTS
print("values: ok")

# %% [tests] id=test_embedding_gradients points=1
import torch
from course.checks import expect_equal, expect_own_work

expect_own_work(TokenPositionEmbedding, lesson=32, what="TokenPositionEmbedding")
_emb = TokenPositionEmbedding(20, 10, 4)
_ids = torch.tensor([[2, 9, 2], [4, 4, 11]])
_emb(_ids).pow(2).sum().backward()


def _rows_with_grad(weight):
    if weight.grad is None:
        return []
    return (weight.grad.abs().sum(dim=1) > 0).nonzero().flatten().tolist()


expect_equal(_rows_with_grad(_emb.tok_embed.weight), [2, 4, 9, 11],
             ("tok_embed 中得到梯度的行", "rows of tok_embed that received a gradient"),
             hint=("只有被查到的 token 行应当得到梯度；直接用表本身（不要 .detach()，也不要复制）",
                   "only the looked-up token rows should get a gradient; use the table itself (no .detach(), no copy)"))
expect_equal(_rows_with_grad(_emb.pos_embed.weight), [0, 1, 2],
             ("pos_embed 中得到梯度的行", "rows of pos_embed that received a gradient"),
             hint=("要在 pos_embed 里查出位置 0..T-1 再加上去，不能用 .detach() 或 torch.no_grad()",
                   "positions 0..T-1 must be looked up in pos_embed and added without .detach() or torch.no_grad()"))
### BEGIN HIDDEN TESTS
_emb = TokenPositionEmbedding(30, 8, 3)
_emb(torch.tensor([[29, 0, 5, 5, 7, 1, 0, 8]])).sum().backward()
expect_equal(_rows_with_grad(_emb.tok_embed.weight), [0, 1, 5, 7, 8, 29],
             ("tok_embed 中有梯度的行（T = 8）", "rows of tok_embed with a gradient (T = 8)"),
             hint=("只有被查到的 token 行应当得到梯度", "only the looked-up token rows should get a gradient"))
expect_equal(_rows_with_grad(_emb.pos_embed.weight), list(range(8)),
             ("pos_embed 中有梯度的行（T = 8）", "rows of pos_embed with a gradient (T = 8)"),
             hint=("每条序列都会把位置 0..T-1 各用一次", "every position 0..T-1 is used once per sequence"))
### END HIDDEN TESTS
print("gradients: ok")

# %% [tests] id=test_embedding_too_long points=1
import torch
from course.checks import expect_own_work, expect_raises, expect_shape

expect_own_work(TokenPositionEmbedding, lesson=32, what="TokenPositionEmbedding")
_emb = TokenPositionEmbedding(50, 8, 4)
expect_shape(_emb(torch.zeros(1, 8, dtype=torch.long)), (1, 8, 4),
             ("恰好 context_length = 8 个 token 的序列", "a sequence of exactly context_length = 8 tokens"),
             hint=("T == context_length 是允许的：位置 0..7 都有对应的行",
                   "T == context_length is allowed: positions 0..7 all have a row"))
expect_raises(ValueError, lambda: _emb(torch.zeros(1, 9, dtype=torch.long)),
              ("context_length 为 8 时，一条 9 个 token 的序列", "a sequence of 9 tokens with context_length 8"),
              hint=("查表之前检查 T > context_length，成立时抛出 ValueError，消息里写出这两个数",
                    "check T > context_length before the lookup and raise ValueError naming both numbers"),
              message_contains=["9", "8"])
### BEGIN HIDDEN TESTS
_emb = TokenPositionEmbedding(50, 13, 4)
expect_raises(ValueError, lambda: _emb(torch.zeros(2, 40, dtype=torch.long)),
              ("context_length 为 13 时，长 40 个 token 的 batch", "a batch of 40 tokens with context_length 13"),
              hint=("只要 T > context_length 就抛出 ValueError，消息里要有这两个数",
                    "raise ValueError whenever T > context_length, with both numbers in the message"),
              message_contains=["40", "13"])
expect_shape(_emb(torch.zeros(3, 13, dtype=torch.long)), (3, 13, 4),
             ("恰好 context_length = 13 个 token 的 batch", "a batch of exactly context_length = 13 tokens"),
             hint=("T == context_length 是允许的", "T == context_length is allowed"))
### END HIDDEN TESTS
print("length limit: ok")

# %% [markdown]
# ### GPT-2 small 的 embedding 有多大？/ How big are GPT-2 small's embeddings?
#
# 在 `meta` device 上建模块只记录形状，不分配内存，所以数 GPT-2 small 的参数几乎不花时间。作为对照，整个 GPT-2 small（第 35 课会组装它）也在 `meta` 上数一遍。
#
# > **EN** Building a module on the `meta` device records shapes without allocating memory, so counting
# > GPT-2 small's parameters costs almost nothing. For comparison we also count the whole GPT-2 small
# > (lesson 35 assembles it) on `meta`.

# %%
from gpt2ref import GPTModel

with torch.device("meta"):
    gpt2_embeddings = TokenPositionEmbedding(GPT2_SMALL.vocab_size, GPT2_SMALL.context_length, GPT2_SMALL.d_model)
    gpt2_model = GPTModel(GPT2_SMALL)
n_embed = sum(p.numel() for p in gpt2_embeddings.parameters())
n_model = sum(p.numel() for p in gpt2_model.parameters())
print("device of the table:", gpt2_embeddings.tok_embed.weight.device)
print(f"token table {GPT2_SMALL.vocab_size * GPT2_SMALL.d_model:,} + position table "
      f"{GPT2_SMALL.context_length * GPT2_SMALL.d_model:,} = {n_embed:,}")
print(f"whole GPT-2 small: {n_model:,} -> the embeddings are {n_embed / n_model:.1%} of it")

# %% [markdown]
# 将近三分之一的参数都在这两张表里，几乎全部来自 token 表。第 35 课会让 LM head 和 token 表**共用** 同一个矩阵（weight tying），否则还要再多一份同样大小的矩阵。
#
# > **EN** Almost a third of the parameters sit in these two tables, nearly all of them in the token table.
# > Lesson 35 makes the LM head **share** that matrix with the token table (weight tying); otherwise a second
# > matrix of the same size would be needed.
#
# ## 5. 两个位置有多像？/ How alike are two positions?
#
# 比较两个向量的方向，常用**余弦相似度**：`cos(u, v) = u·v / (|u| |v|)`，1 表示方向相同，0 表示正交，-1 表示相反。先把每一行除以它的长度，再做一次矩阵乘法，就能一次算出所有行两两之间的余弦相似度。
#
# > **EN** To compare the directions of two vectors we use **cosine similarity**:
# > `cos(u, v) = u·v / (|u| |v|)`; 1 means same direction, 0 orthogonal, -1 opposite. Divide every row by
# > its length, then one matrix product gives the cosine similarity of every pair of rows at once.

# %% [solution] id=cosine_similarity_matrix
def cosine_similarity_matrix(x, eps=1e-8):
    """Cosine similarity of every pair of rows of ``x``.

    x: float tensor (N, d). Returns (N, N) with entry [i, j] = x[i]·x[j] / (|x[i]| |x[j]|).
    A row shorter than ``eps`` is divided by ``eps`` instead of its length, so a zero row has
    similarity 0 with every row (no NaN). ``x`` itself must not be changed.
    Write it with norms and a matrix product (torch's cosine_similarity is not allowed here).
    """
    ### BEGIN SOLUTION
    unit = x / x.norm(dim=1, keepdim=True).clamp_min(eps)  # (N, d), rows of length 1
    return unit @ unit.T  # (N, N)
    ### END SOLUTION


# %% [tests] id=test_cosine_similarity points=1
import torch
import torch.nn.functional as F
from course.checks import expect, expect_close, expect_no_calls, expect_own_work, expect_tensor_equal

expect_own_work(cosine_similarity_matrix, lesson=32, what="cosine_similarity_matrix")
expect_no_calls(cosine_similarity_matrix, {"cosine_similarity"}, "cosine_similarity_matrix",
                hint=("这个练习要求你用范数和矩阵乘法自己写出来",
                      "the exercise is to write it with norms and a matrix product"))
_x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0]])
expect_close(cosine_similarity_matrix(_x), torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 1.0]]),
             ("[[1, 0], [0, 2], [-3, 0]] 的 cosine_similarity_matrix",
              "cosine_similarity_matrix of [[1, 0], [0, 2], [-3, 0]]"), atol=1e-6,
             hint=("每一行除以它自己的长度（在 dim=1 上求 norm），再算 unit @ unit.T",
                   "divide each row by its own length (norm over dim=1), then unit @ unit.T"))
_zero_row = cosine_similarity_matrix(torch.tensor([[2.0, -1.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
expect(not torch.isnan(_zero_row).any(),
       ("第二行全为 0 时的 cosine_similarity_matrix", "cosine_similarity_matrix when the second row is all zeros"),
       ("出现了 NaN", "got NaN"),
       hint=("全零行的长度是 0，除以 0 得到 NaN：相除之前先 x.norm(...).clamp_min(eps)",
             "a zero row has length 0 and dividing by 0 gives NaN: x.norm(...).clamp_min(eps) before dividing"))
expect_close(_zero_row, torch.tensor([[1.0, 0.0], [0.0, 0.0]]),
             ("第二行全为 0 时的 cosine_similarity_matrix", "cosine_similarity_matrix when the second row is all zeros"),
             atol=1e-6,
             hint=("全零行与任何一行（包括它自己）的相似度都是 0",
                   "a zero row has similarity 0 with everything, itself included"))
_small = torch.tensor([[0.0, 1.0], [2.4, 3.2]])  # rows of length 1 and 4
expect_close(cosine_similarity_matrix(_small, eps=2.0), torch.tensor([[0.25, 0.4], [0.4, 1.0]]),
             ("cosine_similarity_matrix（两行的长度分别为 1 和 4，eps=2）",
              "cosine_similarity_matrix(rows of length 1 and 4, eps=2)"), atol=1e-6,
             hint=("长度小于 eps 的行要除以 eps，而不是除以它自己的长度（第 0 行变成 [0, 0.5]）："
                   "用参数 eps 做 norm.clamp_min(eps)，不要用 norm + eps，也不要写死 1e-8",
                   "a row shorter than eps is divided by eps instead of its length (row 0 becomes [0, 0.5]): "
                   "norm.clamp_min(eps) with the eps argument, not norm + eps and not a fixed 1e-8"))
### BEGIN HIDDEN TESTS
torch.manual_seed(3)
_x = torch.randn(9, 5) * torch.rand(9, 1) * 10
_keep = _x.clone()
_got = cosine_similarity_matrix(_x)
_expected = F.cosine_similarity(_x[:, None, :], _x[None, :, :], dim=-1)
expect_close(_got, _expected,
             ("长度各不相同的随机行的 cosine_similarity_matrix",
              "cosine_similarity_matrix of random rows of different lengths"), atol=1e-5,
             hint=("矩阵乘积两边的每一行都要除以它自己的长度（dim=1）",
                   "normalise every row by its own length (dim=1), on both sides of the product"))
expect_tensor_equal(_x, _keep, ("调用之后的输入", "the input after the call"),
                    hint=("不要原地修改 x（不要写 x /= ...）", "do not change x in place (no x /= ...)"))
_scaled = cosine_similarity_matrix(_x * torch.tensor([[0.01], [100.0], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [7.0]]))
expect_close(_scaled, _expected,
             ("各行乘上不同正数之后的余弦相似度",
              "cosine similarity after scaling rows by positive numbers"), atol=1e-5,
             hint=("余弦相似度与向量长度无关：要除以范数", "cosine similarity ignores lengths: divide by the norms"))
_z = cosine_similarity_matrix(torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]]))
expect(not torch.isnan(_z).any(),
       ("含全零行时的 cosine_similarity_matrix", "cosine_similarity_matrix with a zero row"), ("出现了 NaN", "got NaN"),
       hint=("相除之前把每个范数限制为至少 eps：x.norm(...).clamp_min(eps)",
             "clamp each norm to at least eps before dividing: x.norm(...).clamp_min(eps)"))
expect_close(_z, torch.tensor([[0.0, 0.0], [0.0, 1.0]]),
             ("含全零行时的 cosine_similarity_matrix", "cosine_similarity_matrix with a zero row"), atol=1e-6,
             hint=("全零行与任何一行（包括它自己）的相似度都是 0",
                   "a zero row has similarity 0 with everything, itself included"))
_short = torch.tensor([[0.1, 0.0, 0.0], [0.0, 2.0, 0.0], [3.0, 4.0, 0.0]])  # rows of length 0.1, 2 and 5
expect_close(cosine_similarity_matrix(_short, eps=0.5),
             torch.tensor([[0.04, 0.0, 0.12], [0.0, 1.0, 0.8], [0.12, 0.8, 1.0]]),
             ("cosine_similarity_matrix（三行的长度分别为 0.1、2、5，eps=0.5）",
              "cosine_similarity_matrix(rows of length 0.1, 2 and 5, eps=0.5)"), atol=1e-6,
             hint=("长度小于 eps 的行要除以 eps，而不是除以它自己的长度（0.1 / 0.5 = 0.2）："
                   "用参数 eps 做 norm.clamp_min(eps)，不要用 norm + eps",
                   "a row shorter than eps is divided by eps instead of its length (0.1 / 0.5 = 0.2): "
                   "norm.clamp_min(eps) with the eps argument, not norm + eps"))
### END HIDDEN TESTS
print("cosine similarity: ok")

# %% [markdown]
# 先看一个例子：同一个 token 放在不同位置，它的向量和原来有多像？用你的 `TokenPositionEmbedding` 在 GPT-2 small 的宽度上试一下（`nn.Embedding` 默认按 N(0, 1) 初始化）。
#
# > **EN** An example first: how alike is one token's vector at different positions? Try it with your
# > `TokenPositionEmbedding` at GPT-2 small's width (`nn.Embedding` starts from N(0, 1)).

# %%
torch.manual_seed(0)
embed = TokenPositionEmbedding(GPT2_SMALL.vocab_size, GPT2_SMALL.context_length, GPT2_SMALL.d_model)
with torch.no_grad():
    same_token_everywhere = embed(torch.full((1, 6), enc.encode(" dog")[0]))[0]  # (6, 768)
    print("' dog' at positions 0..5, similarity to position 0:")
    print(cosine_similarity_matrix(same_token_everywhere)[0])

# %% [markdown]
# 每个向量和位置 0 的相似度约为 0.5：token 部分相同，位置部分是两个几乎正交的随机向量，长度又差不多，各占一半。这说明在还没训练时，位置信息和 token 信息一样“响”。
#
# > **EN** Each vector has a similarity of about 0.5 with position 0: the token part is shared, the
# > position parts are two almost orthogonal random vectors of about the same length, so each half
# > contributes equally. Before training, position is as "loud" as token identity.
#
# ### 位置表长什么样 / What a position table looks like
#
# GPT-2 的位置表是**学出来的**，开始时是随机数。2017 年的原始 Transformer 用的是另一种方案：一张固定的 sin/cos 表（*sinusoidal* encoding），不用学，相邻位置天生相似。下面把两者并排画出来：左边是表本身（前 128 个位置 × 全部 768 维），右边是这 128 个位置两两之间的余弦相似度。
#
# > **EN** GPT-2's position table is **learned**; it starts as random numbers. The original 2017
# > Transformer used a different scheme: a fixed sin/cos table (*sinusoidal* encoding) that is not learned
# > and makes neighbouring positions alike by construction. Below, both side by side: on the left the
# > table itself (first 128 positions x all 768 dimensions), on the right the cosine similarity of every
# > pair of those 128 positions.

# %%
def sinusoidal_table(context_length, d_model):
    """The fixed position table of the original Transformer: sin on even dims, cos on odd dims."""
    position = torch.arange(context_length, dtype=torch.float32)[:, None]  # (C, 1)
    frequency = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d/2,)
    table = torch.zeros(context_length, d_model)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


learned = embed.pos_embed.weight.detach()  # (1024, 768), random before training
fixed = sinusoidal_table(GPT2_SMALL.context_length, GPT2_SMALL.d_model)
learned_sim = cosine_similarity_matrix(learned[:128])
fixed_sim = cosine_similarity_matrix(fixed[:128])
off_diagonal = ~torch.eye(128, dtype=torch.bool)
print(f"learned (random) table: mean |cos| between two different positions = {learned_sim[off_diagonal].abs().mean():.3f}")
print(f"sinusoidal table: cos(position 10, position 11) = {fixed_sim[10, 11]:.3f}, "
      f"cos(position 10, position 90) = {fixed_sim[10, 90]:.3f}")
print(f"1 / sqrt(d_model) = {1 / math.sqrt(GPT2_SMALL.d_model):.3f}")

# %% tags=skip-autograde
import matplotlib.pyplot as plt

fig, axes = plt.subplots(2, 2, figsize=(11, 9))
panels = [
    (learned[:128], "Learned table at init (random)", "RdBu_r", "value"),
    (learned_sim, "Learned at init: cosine similarity", "viridis", "cosine similarity"),
    (fixed[:128], "Sinusoidal table (fixed)", "RdBu_r", "value"),
    (fixed_sim, "Sinusoidal: cosine similarity", "viridis", "cosine similarity"),
]
for ax, (data, title, cmap, label) in zip(axes.flat, panels):
    limit = float(data.abs().quantile(0.99))  # colour range without the few extreme values
    vmin, vmax = (-limit, limit) if cmap == "RdBu_r" else (-1, 1)
    image = ax.imshow(data, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_title(title)
    is_table = cmap == "RdBu_r"
    ax.set_xlabel("dimension" if is_table else "position")
    ax.set_ylabel("position")
    fig.colorbar(image, ax=ax, label=label)
fig.suptitle("Position embeddings: 128 positions of a 1024 x 768 table")
fig.tight_layout()
plt.show()

# %% [markdown]
# 随机的学习型位置表里，两个不同位置的余弦相似度的绝对值平均只有 0.029 左右（上面打印的 mean |cos|；带符号的平均值接近 0），和 `1/sqrt(d_model)` 同一个量级：高维空间里的随机向量几乎两两正交。所以一开始每个位置都可以被区分开，但“第 10 位和第 11 位是邻居” 这种结构一点都没有，只能靠训练学出来。sinusoidal 表则把结构写死了：相邻位置的相似度接近 1，离得远就小得多（右下图的对角带）。左下图也说明了为什么远处的相似度不会降到 0：左边的维度振荡得很快，右边的维度几乎不随位置变化，所有位置在这些维度上都差不多。GPT-2 选择了学习。
#
# > **EN** In the random learned table, two different positions have a mean absolute cosine similarity (the mean |cos|
# > printed above; the signed mean is close to 0) of only about 0.029, the same order as `1/sqrt(d_model)`: random vectors in many dimensions are nearly orthogonal. So
# > from the start every position can be told apart, but there is no structure such as "positions 10 and
# > 11 are neighbours": training must discover it. The sinusoidal table builds the structure in: neighbouring
# > positions are close to 1, distant ones much lower (the diagonal band, bottom right). The bottom-left
# > panel shows why distant positions never drop to 0: the dimensions on the left oscillate fast, those on
# > the right hardly change with position, so all positions agree there. GPT-2 chose to
# > learn.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["random-positions"])

# %% [markdown]
# ### 位置信息的几种做法 / Other ways to give positions
#
# - **学出来的位置表**（GPT-2 的做法，也就是这一课写的）：最灵活，什么结构都能学；但表有多少行，模型就最多看多少个 token，没训练过的位置根本没有向量。
# - **sinusoidal 表**（最早的 Transformer 论文）：用正弦、余弦公式直接算出来，不用训练；任何位置都能算出向量，但模型在比训练时更长的序列上往往表现不好。
# - **RoPE**（rotary position embedding）：不往输入上加任何东西，而是在 attention 里按位置旋转 q 和 k，让 q·k 只取决于两个 token 的相对距离。今天大多数开源大模型用它。
# - **ALiBi**：完全不用位置向量，直接给 attention 分数减去一个和距离成正比的惩罚（每个头的斜率不同），离得越远分数越低。用短序列训练、再用长序列推理时，它退化得比较平缓。
#
# 后两种都是在 attention 里处理位置，所以要等下一课讲完 attention 才能真正写出来；第 35 课最后还会再提到 RoPE。
#
# > **EN**
# > - **A learned table** (GPT-2's choice, and what this lesson built): the most flexible, it can learn any
# >   structure; but the table's row count caps how many tokens the model sees, and an untrained position
# >   has no vector at all.
# > - **A sinusoidal table** (the original Transformer paper): computed from sine and cosine formulas, no
# >   training; every position gets a vector, but models often do poorly on sequences longer than in training.
# > - **RoPE** (rotary position embeddings): nothing is added to the input; inside attention, q and k are
# >   rotated by their positions so that q·k depends only on how far apart two tokens are. Most open large
# >   models today use it.
# > - **ALiBi**: no position vectors at all; the attention score is lowered by a penalty proportional to the
# >   distance (a different slope per head), so farther tokens score lower. Trained on short sequences and run
# >   on longer ones, it degrades gently.
# >
# > The last two handle positions inside attention, so they can only really be written after the next
# > lesson explains attention; lesson 35 comes back to RoPE at its end.

# %% [markdown]
# ## 6. 学完了 / Wrap-up
#
# 再做一次测验，和开头的 `pre` 测验比一比。
#
# > **EN** Take the quiz once more and compare with the `pre` quiz at the start.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# **现在你有了 / What now exists:** `TokenPositionEmbedding`：token id `(B, T)` → 向量 `(B, T, d_model)`，每个向量 = 它的 token 行 + 它的位置行；超出 `context_length` 时给出清楚的错误。GPT-2 small 的这两张表共有 39,383,808 个参数。
#
# > **EN** `TokenPositionEmbedding`: token ids `(B, T)` → vectors `(B, T, d_model)`, each vector = its token's
# > row + its position's row, with a clear error beyond `context_length`. GPT-2 small's two tables hold
# > 39,383,808 parameters.
#
# **下一课 / Next:** 第 33 课的 multi-head self-attention 让每个位置从它**之前**的位置取信息：这正是位置向量派上用场的地方。第 33 课从 `gpt2ref` 导入这一课的 embedding，所以即使这里有错，下一课也能照常进行。
#
# > **EN** Lesson 33's multi-head self-attention lets every position take information from the positions
# > **before** it: this is where the position vectors earn their keep. Lesson 33 imports this lesson's
# > embedding from `gpt2ref`, so a mistake here never blocks the next lesson.
