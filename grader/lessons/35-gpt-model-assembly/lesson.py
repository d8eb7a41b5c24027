# Lesson 35: GPT model assembly. Authoring script; build with `python -m grader.build 35-gpt-model-assembly`.
# Format: see docs/AUTHORING.md. Graded cells: gpt_model, count_parameters, top_k_filter, generate.

# %% [markdown]
# # 第 35 课 · GPT 模型组装 / Lesson 35 · GPT model assembly
#
# 前三课你已经做好了所有零件：token 和位置 embedding（第 32 课）、causal multi-head attention（第 33 课）、Transformer block（第 34 课）。这一课把它们拼成一个完整的 GPT-2，并让它第一次“开口说话”。
#
# > **EN** The last three lessons built every part: token and position embeddings (lesson 32), causal
# > multi-head attention (lesson 33) and the transformer block (lesson 34). This lesson assembles them into a
# > complete GPT-2 and makes it produce text for the first time.
#
# **学完这一课，你会亲手写出 / By the end you will have written:**
#
# 1. `GPTModel(config)`：embedding → 一串 block → final LayerNorm → LM head，带 weight tying 和 GPT-2 的初始化。
#    > **EN** `GPTModel(config)`: embeddings → a stack of blocks → final LayerNorm → LM head, with weight tying
#    > and GPT-2's initialisation.
# 2. `count_parameters(model)`：共享的 tensor 只数一次；在 `meta` device 上数 GPT-2 small，不占内存。
#    > **EN** `count_parameters(model)`: a shared tensor counts once; count GPT-2 small on the `meta` device at
#    > no memory cost.
# 3. `top_k_filter` 和 `generate`：temperature、top-k、`torch.multinomial` 和滑动窗口，最后用 GPT-2 的 tokenizer 生成文字。
#    > **EN** `top_k_filter` and `generate`: temperature, top-k, `torch.multinomial` and the sliding window,
#    > then text generation through GPT-2's tokenizer.
#
# **怎么用这个 notebook：** 从上到下依次运行。标着 ✍️ 的小节里有一个由你来写的 cell（把 `raise NotImplementedError(...)` 换成你的代码），它后面的测试 cell 会告诉你哪里不对、可能的原因是什么。批改时，隐藏测试会换用别的数据和随机种子，把这些测试 cell 查的同样几件事再查一遍：所以只要每个测试 cell 都显示 ok、Validate 也通过，代码部分就是满分。整本 notebook 在笔记本电脑的 CPU 上一分钟左右就能跑完；只有第 9 节一个可选的 cell 会建出真实尺寸的 GPT-2 small（内存要求见那里）。前几课的零件从 `gpt2ref` 导入，所以之前哪里写错了也不会影响这一课。
#
# > **EN** **How to use this notebook:** run it top to bottom. Each section marked ✍️ has a cell for you to
# > write (replace `raise NotImplementedError(...)` with your code); the test cells after it say what is wrong
# > and the likely cause. At grading, hidden tests check the same things again with other data and seeds, so
# > when every test cell prints ok and Validate passes, the code earns full marks. The whole notebook runs in
# > about a minute on a laptop CPU; only one optional cell builds the real-size GPT-2 small (section 9 says how
# > much memory it needs). The parts from earlier lessons are imported from `gpt2ref`, so a mistake made there
# > cannot break this lesson.

# %% [markdown]
# **学习时间 / Study time：** 大约 120 分钟，包括练习和小测；最后的三道选做题另需约 30 分钟。下面这些词会反复出现：
#
# > **EN** About 120 minutes, exercises and quizzes included; the three optional stretch exercises at the end take
# > about 30 minutes more. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | logits | 每个词表位置一个未归一化的分数，softmax 后成为下一个 token 的概率 | one unnormalised score per vocabulary entry; softmax turns them into next-token probabilities |
# | LM head | 把 `d_model` 维向量投影到词表大小的线性层 | the linear layer projecting `d_model` vectors to vocabulary size |
# | weight tying | LM head 和 token embedding 共用同一个矩阵 | the LM head and the token embedding share one matrix |
# | temperature | 采样前 logits 除以它：小于 1 更保守，大于 1 更随机 | logits are divided by it before sampling: below 1 more cautious, above 1 more random |
# | top-k | 只在分数最高的 k 个 token 里抽样 | sample only among the k highest-scoring tokens |

# %% [markdown]
# ## 0. 准备 / Setup

# %%
import math
import time

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn.functional as F
from torch import nn

from gpt2ref import GPT2_SMALL, TINY, GPTConfig, LayerNorm, TransformerBlock

torch.manual_seed(0)
print("torch", torch.__version__)

# %% [markdown]
# 先做几道课前小题，看看你已经知道多少。答错没关系，这些概念在课里都会讲到，最后还有课后小测。
#
# > **EN** A few questions before we start, to see what you already know. Wrong answers are fine: the
# > ideas come back at the end.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. GPT-2 small 的配置 / The GPT-2 small config
#
# 一个 GPT 模型的“形状”完全由几个数字决定。`GPTConfig` 的默认值就是 GPT-2 small：
#
# > **EN** A handful of numbers fix the whole shape of a GPT model. `GPTConfig`'s defaults are GPT-2 small:

# %%
config = GPT2_SMALL
for name in ("vocab_size", "context_length", "d_model", "num_heads", "num_layers", "dropout", "bias",
             "weight_tying", "layer_norm_eps"):
    print(f"{name:15} = {getattr(config, name)}")
print(f"{'head_dim':15} = {config.head_dim}   (d_model / num_heads)")
print(f"{'d_ff':15} = {config.d_ff}  (4 * d_model, hidden width of the feed-forward network)")

enc = tiktoken.get_encoding("gpt2")
print(f"\ntiktoken gpt2: n_vocab = {enc.n_vocab} = 256 byte tokens + {enc.n_vocab - 256 - 1} merges"
      f" + 1 special token <|endoftext|> (id {enc.eot_token})")

# %% [markdown]
# 这些数字从哪来？
#
# - `vocab_size = 50257`：就是 GPT-2 的 BPE tokenizer 的词表大小（上面 tiktoken 打印的那个数）。模型的输入和输出都以它为单位。
# - `context_length = 1024`：位置 embedding 表有 1024 行，所以模型一次最多能“看”1024 个 token。这是一个硬上限。
# - `d_model = 768`：每个 token 在模型里都是一个 768 维的向量，这条向量流就是 **residual stream**，所有 block 都读它、往里加东西。
# - `num_heads = 12`：768 被分给 12 个 head，每个 head 64 维；`d_ff = 3072`：feed-forward 中间层是 4 倍宽。
# - `num_layers = 12`：堆 12 个 Transformer block。
#
# 下面的演示和测试用同一份代码、但小得多的配置 `TINY`，这样每个 cell 都能瞬间跑完：
#
# > **EN** Where do these numbers come from?
# > - `vocab_size = 50257`: the size of GPT-2's BPE vocabulary (the number tiktoken printed above). The model
# >   reads and writes in these units.
# > - `context_length = 1024`: the position embedding table has 1024 rows, so the model sees at most 1024
# >   tokens at once. It is a hard limit.
# > - `d_model = 768`: inside the model every token is a 768-dimensional vector. This stream of vectors is the
# >   **residual stream**: every block reads it and adds to it.
# > - `num_heads = 12`: 768 dimensions split over 12 heads of 64; `d_ff = 3072`: the feed-forward hidden
# >   layer is 4 times wider.
# > - `num_layers = 12`: twelve transformer blocks in a stack.
# >
# > The demos and tests below run the same code with the much smaller `TINY` config, so every cell finishes
# > instantly:

# %%
print(TINY)

# %% [markdown]
# ## 2. Token embedding + 位置 embedding / Token + position embeddings
#
# 模型的输入是 token id，形状 `(B, T)`（B 条序列，每条 T 个 token）。第一步查两张表：`tok_embed` 说明“这是哪个 token”，`pos_embed` 说明“它站在第几个位置”。两个向量直接相加。
#
# > **EN** The input is token ids of shape `(B, T)` (B sequences of T tokens). Step one looks up two tables:
# > `tok_embed` says *which* token this is, `pos_embed` says *where* it stands. The two vectors are added.

# %%
tok_embed = nn.Embedding(TINY.vocab_size, TINY.d_model)  # (vocab, d_model): one row per token id
pos_embed = nn.Embedding(TINY.context_length, TINY.d_model)  # (context, d_model): one row per position

idx = torch.tensor([[5, 7, 7, 2],
                    [1, 1, 1, 1]])  # (B=2, T=4)
tok = tok_embed(idx)  # (2, 4, 32)
pos = pos_embed(torch.arange(idx.shape[1]))  # (4, 32): positions 0, 1, 2, 3
x = tok + pos  # (2, 4, 32) + (4, 32) -> broadcast over the batch
print("tok:", tuple(tok.shape), " pos:", tuple(pos.shape), " x:", tuple(x.shape))
print("token 7 at positions 1 and 2 - same token vector?  ", torch.equal(tok[0, 1], tok[0, 2]))
print("token 7 at positions 1 and 2 - same vector after + pos?", torch.equal(x[0, 1], x[0, 2]))

# %% [markdown]
# 为什么非要位置 embedding？attention 本身不知道顺序。看第二条序列 `[1, 1, 1, 1]`：如果不加位置，每个位置的输入向量一模一样，causal attention 在每个位置都是对一堆相同的向量求平均——所以每个位置的输出也一模一样，模型根本分不清“第一个 1”和“第四个 1”。用一个 block 试一下：
#
# > **EN** Why do we need positions at all? Attention itself knows no order. Take the second sequence
# > `[1, 1, 1, 1]`: without positions every input vector is identical, causal attention averages identical
# > vectors at every position, so every output is identical too: the model cannot tell the first `1` from the
# > fourth. Try it with one block:

# %%
block = TransformerBlock(TINY).eval()
with torch.no_grad():
    out_without = block(tok[1:2])  # row [1, 1, 1, 1], token vectors only
    out_with = block(x[1:2])  # the same row with positions added
spread = lambda out: (out - out[:, :1]).abs().max().item()  # largest difference from position 0
print(f"without positions: max difference between positions = {spread(out_without):.2e}")
print(f"with positions:    max difference between positions = {spread(out_with):.2e}")

# %% [markdown]
# 没有位置时差别是 0（或只有浮点舍入那么小）；加上位置后，每个位置的输出才各不相同。
#
# > **EN** Without positions the difference is zero (or float round-off); with them, every position gets its
# > own output.
#
# ## 3. 一串 Transformer block / A stack of blocks
#
# 第 34 课的 block 输入输出形状相同，都是 `(B, T, d_model)`，所以可以一个接一个地串起来：每个 block 的输出就是下一个 block 的输入。用 `nn.ModuleList` 装它们，而不是普通的 Python list——否则 PyTorch 看不到里面的参数（优化器不会更新它们，`.to(device)` 也不会搬它们）：
#
# > **EN** A block from lesson 34 maps `(B, T, d_model)` to the same shape, so blocks chain: each block's
# > output is the next block's input. Keep them in an `nn.ModuleList`, not a plain Python list, or PyTorch
# > cannot see their parameters (the optimiser would not update them, `.to(device)` would not move them):

# %%
class PlainList(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.blocks = [TransformerBlock(config) for _ in range(config.num_layers)]  # invisible to PyTorch


class WithModuleList(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.num_layers))


print("parameters seen with a plain list:", sum(p.numel() for p in PlainList(TINY).parameters()))
print("parameters seen with ModuleList:  ", sum(p.numel() for p in WithModuleList(TINY).parameters()))

blocks = WithModuleList(TINY).blocks.eval()
h = x
with torch.no_grad():
    for i, blk in enumerate(blocks):
        h = blk(h)  # (B, T, d_model) in, (B, T, d_model) out
        print(f"after block {i}: {tuple(h.shape)}")

# %% [markdown]
# ## 4. Final LayerNorm 和 LM head / Final LayerNorm and the LM head
#
# GPT-2 是 **pre-LN** 结构：每个 block 只把它子层的*输入*做 LayerNorm，residual stream 本身从来没被归一化过，一路加下来，它的尺度会随深度变大。所以最后一个 block 之后还要再来一个 `final_norm`，然后 `lm_head`（一个不带 bias 的 `nn.Linear(d_model, vocab_size)`）把每个位置的向量变成 `vocab_size` 个分数——**logits**。
#
# > **EN** GPT-2 is a **pre-LN** transformer: each block normalises only the *input* of its sub-layers; the
# > residual stream itself is never normalised and its scale grows as blocks add to it. So one more
# > LayerNorm, `final_norm`, follows the last block, and then `lm_head` (an `nn.Linear(d_model, vocab_size)`
# > without bias) turns each position's vector into `vocab_size` scores: the **logits**.

# %%
final_norm = LayerNorm(TINY.d_model)
lm_head = nn.Linear(TINY.d_model, TINY.vocab_size, bias=False)
with torch.no_grad():
    normed = final_norm(h)
    logits = lm_head(normed)
print("per-token std of the residual stream before final_norm:", [round(v, 3) for v in h.std(-1, correction=0)[0].tolist()])
print("per-token std after final_norm:                       ", [round(v, 3) for v in normed.std(-1, correction=0)[0].tolist()])
print("logits:", tuple(logits.shape), " = (B, T, vocab_size)")

# %% [markdown]
# `logits[b, t]` 是模型读完 `idx[b, :t+1]` 之后对**下一个** token（位置 t+1）的打分。训练时每个位置都有用（第 36 课）；生成文字时只需要最后一个位置的那一行。
#
# > **EN** `logits[b, t]` scores the **next** token (position t+1) after reading `idx[b, :t+1]`. Training uses
# > every position (lesson 36); generation needs only the last position's row.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["final-norm"])

# %% [markdown]
# ## 5. 权重共享 / Weight tying
#
# 注意两个矩阵的形状：
#
# > **EN** Look at the shapes of two matrices:

# %%
print("tok_embed.weight:", tuple(tok_embed.weight.shape), " (vocab_size, d_model)")
print("lm_head.weight:  ", tuple(lm_head.weight.shape), " (vocab_size, d_model): nn.Linear stores (out, in)")
print(f"in GPT-2 small each of them holds {GPT2_SMALL.vocab_size} x {GPT2_SMALL.d_model} = "
      f"{GPT2_SMALL.vocab_size * GPT2_SMALL.d_model:,} numbers")

# %% [markdown]
# 形状完全一样！`tok_embed` 把 token id 变成向量；`lm_head` 反过来给每个 token 的向量打分（logit = 当前向量和那个 token 那一行的点积）。GPT-2 让两者用**同一个** tensor：这就是 weight tying。在 GPT-2 small 里这省下了上面打印的 38,597,376 个参数（第 8 节会算出这占整个模型多大比例）。
#
# 关键是“同一个”，不是“相同的值”。`lm_head.weight = tok_embed.weight` 让两个模块指向同一个 `Parameter` 对象：同一块内存（`data_ptr()` 相同），改一个另一个立刻跟着变，两处用法的梯度加到同一个 `.grad` 上。而拷贝出来的只是一个刚好数值相同的新 tensor，训练一步以后就各走各的了：
#
# > **EN** The same shape! `tok_embed` turns a token id into a vector; `lm_head` goes the other way and scores
# > every token against the current vector (a logit is the dot product with that token's row). GPT-2 uses
# > **one** tensor for both: weight tying. In GPT-2 small this saves the 38,597,376 parameters printed above
# > (section 8 works out how large a share of the model that is).
# >
# > What matters is *the same tensor*, not *equal values*. `lm_head.weight = tok_embed.weight` makes both
# > modules hold the same `Parameter` object: the same memory (`data_ptr()` is equal), a change to one is a
# > change to the other, and the gradients of both uses add up in one `.grad`. A copy is just a new tensor
# > that happens to hold equal numbers; after one training step the two drift apart:

# %%
emb = nn.Embedding(6, 3)
head = nn.Linear(3, 6, bias=False)
copy_head = nn.Linear(3, 6, bias=False)

head.weight = emb.weight  # tying: the same Parameter object in two modules
with torch.no_grad():
    copy_head.weight.copy_(emb.weight)  # a copy: equal numbers, separate memory

print("tied:   same object?", head.weight is emb.weight, "| same memory?", head.weight.data_ptr() == emb.weight.data_ptr())
print("copied: same object?", copy_head.weight is emb.weight, "| same memory?",
      copy_head.weight.data_ptr() == emb.weight.data_ptr())

with torch.no_grad():
    emb.weight[0, 0] += 1.0  # change the embedding table in place
print("after changing emb.weight[0, 0]: tied head follows?", torch.equal(head.weight, emb.weight),
      "| copy follows?", torch.equal(copy_head.weight, emb.weight))

pair = nn.ModuleDict({"emb": emb, "head": head})
print("names that refer to a parameter:", [n for n, _ in pair.named_parameters(remove_duplicate=False)])
print("distinct parameters:            ", [n for n, _ in pair.named_parameters()])

# %% [markdown]
# 最后两行说明：一个共享的 tensor 有两个名字，但 `parameters()` / `named_parameters()` 默认只给出它一次。第 8 节数参数时会用到这一点。
#
# > **EN** The last two lines: a shared tensor has two names, but `parameters()` / `named_parameters()` yield
# > it only once by default. Section 8 relies on this when counting.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["tying"])

# %% [markdown]
# ## 6. 初始化和 residual 缩放 / Initialisation and residual scaling
#
# GPT-2 的初始化很简单：所有 `nn.Linear` 和 `nn.Embedding` 的权重从 N(0, 0.02) 抽，所有 bias 置 0，LayerNorm 保持 weight = 1、bias = 0。
#
# 只有一个例外。每个 block 有两处把结果**加进** residual stream：attention 的输出投影 `attn.proj`，和 feed-forward 的第二个 Linear `ff.proj`。因为每个子层前面都有 LayerNorm，每次加进去的量大小差不多、彼此近似独立，所以 L 个 block 之后一共加了 2L 个随机项，方差随 2L 线性增长，标准差像 sqrt(2L) 那样长。GPT-2 的办法：把这两个投影的初始 std 再除以 sqrt(2 · num_layers)。这样 2L 项加起来的总方差和层数无关。
#
# 来做个实验。下面的函数用 N(0, 0.02) 初始化一串 block，可选地缩放两个投影，然后量出 residual stream 在每个 block 之后的 std。为了跑得快，用一个窄模型（d_model = 128），效果和 768 宽的 GPT-2 small 一样。
#
# > **EN** GPT-2's initialisation is simple: every `nn.Linear` and `nn.Embedding` weight is drawn from
# > N(0, 0.02), every bias is 0, LayerNorm keeps weight 1 and bias 0.
# >
# > With one exception. Each block adds into the residual stream in two places: the attention output
# > projection `attn.proj` and the second Linear of the feed-forward network, `ff.proj`. Every sub-layer
# > starts with a LayerNorm, so each addition has about the same size and the additions are roughly
# > independent: after L blocks, 2L random terms have been summed, the variance grows like 2L and the std like
# > sqrt(2L). GPT-2's fix: divide the initial std of those two projections by sqrt(2 · num_layers). Then the
# > 2L terms sum to a variance that does not depend on the depth.
# >
# > An experiment. The function below initialises a stack of blocks with N(0, 0.02), optionally scales the
# > two projections, and measures the std of the residual stream after every block. A narrow model
# > (d_model = 128) keeps it fast; the effect is the same at GPT-2 small's 768.

# %% tags=skip-autograde
def residual_stream_std(num_layers, scale_residual, d_model=128, batch=2, seq=32, seed=0):
    """Std of the residual stream after the embeddings and after each block, at initialisation."""
    torch.manual_seed(seed)
    cfg = GPTConfig(d_model=d_model, num_heads=4, num_layers=num_layers, dropout=0.0)
    stack = nn.ModuleList(TransformerBlock(cfg) for _ in range(num_layers))
    for module in stack.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            nn.init.zeros_(module.bias)
    if scale_residual:
        for blk in stack:
            for proj in (blk.attn.proj, blk.ff.proj):  # the two layers that add into the stream
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * num_layers))
    h = torch.randn(batch, seq, d_model) * 0.02 * math.sqrt(2)  # tok + pos embeddings: two N(0, 0.02) terms
    stds = [h.std().item()]
    with torch.no_grad():
        for blk in stack:
            h = blk(h)
            stds.append(h.std().item())
    return stds


deep = 48
unscaled = residual_stream_std(deep, scale_residual=False)
scaled = residual_stream_std(deep, scale_residual=True)
print(f"{deep} blocks, std of the residual stream after blocks 0 / 12 / 24 / 48:")
print("  without scaling:", [round(unscaled[i], 3) for i in (0, 12, 24, 48)])
print("  with scaling:   ", [round(scaled[i], 3) for i in (0, 12, 24, 48)])
print(f"growth from the embeddings to block 48: {unscaled[48] / unscaled[0]:.1f}x without scaling, "
      f"{scaled[48] / scaled[0]:.1f}x with scaling")

depths = [1, 2, 4, 8, 16, 32, 48]
# Without scaling, a block's init does not depend on the depth: a depth-L model is the first L blocks above.
final_unscaled = [unscaled[n] for n in depths]
final_scaled = [residual_stream_std(n, True)[-1] for n in depths]
print("\nstd after the last block, for models of depth", depths)
print("  without scaling:", [round(s, 3) for s in final_unscaled])
print("  with scaling:   ", [round(s, 3) for s in final_scaled])

# %% tags=skip-autograde
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
ax1.plot(unscaled, label="N(0, 0.02) everywhere")
ax1.plot(scaled, label="proj std 0.02 / sqrt(2L)")
ax1.set(title=f"Residual stream inside one {deep}-block model", xlabel="blocks passed",
        ylabel="std of the residual stream")
ax1.legend()
ax2.plot(depths, final_unscaled, "o-", label="N(0, 0.02) everywhere")
ax2.plot(depths, final_scaled, "o-", label="proj std 0.02 / sqrt(2L)")
ax2.set(title="After the last block, for models of depth L", xlabel="number of blocks L",
        ylabel="std of the residual stream")
ax2.legend()
fig.suptitle("GPT-2 initialisation at d_model = 128: residual scaling keeps the stream's size independent of depth")
fig.tight_layout()
plt.show()

# %% [markdown]
# 左图：不缩放时，residual stream 每过一个 block 都变大一点，48 层之后已经是开头的十几倍；缩放后增长平缓得多。右图才是 1/sqrt(2L) 的真正用意：不缩放时，最后一层的 std 随深度像 sqrt(L) 那样长；缩放以后，无论 1 层还是 48 层，最后的 std 都差不多（上面打印的那一行几乎是常数）。于是模型的深度可以随意改，初始时输出的尺度不变，训练一开始就稳定。
#
# > **EN** Left: without scaling, the stream grows a little with every block and ends more than ten times its
# > starting size after 48 blocks; with scaling it grows much more slowly. The right panel is the real point
# > of 1/sqrt(2L): without scaling the std after the last block grows like sqrt(L) with the depth; with
# > scaling it is about the same for 1 block and for 48 (the printed row is nearly constant). The depth can
# > change and the scale at initialisation stays put, so training starts out stable.
#
# 用到 GPT-2 small 上：下面的 cell 按它的层数算出两个投影（`attn.proj` 和 `ff.proj`）的初始 std。
#
# > **EN** For GPT-2 small: the cell below computes, from its number of layers, the initial std of the two
# > projections (`attn.proj` and `ff.proj`).

# %%
print(f"GPT-2 small: {GPT2_SMALL.num_layers} layers, proj std = 0.02 / sqrt(2 * {GPT2_SMALL.num_layers}) "
      f"= {0.02 / math.sqrt(2 * GPT2_SMALL.num_layers):.5f}")

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["residual-scaling"])

# %% [markdown]
# ## 7. ✍️ 组装 GPTModel / Assemble `GPTModel`
#
# 现在把第 2–6 节拼起来。要求（测试就是按这些来检查的）：
#
# - 属性名固定：`tok_embed`、`pos_embed`、`blocks`（`num_layers` 个 `TransformerBlock(config)`，放在 `nn.ModuleList` 或 `nn.Sequential` 里）、`final_norm`（`LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)`）、`lm_head`（`nn.Linear(d_model, vocab_size, bias=False)`）。
# - `forward(idx)`：`(B, T)` → `(B, T, vocab_size)`。依次调用 `blocks[0]`、……、`blocks[-1]`，然后 `final_norm`，然后 `lm_head`（测试会在这几个模块上挂 hook 观察它们的输入输出，所以请直接调用这些模块）。`T > context_length` 时抛出 `ValueError`，错误信息里要写出 T 和 context_length 两个数。
# - 初始化：所有 Linear / Embedding 的权重 ~ N(0, 0.02)，所有 Linear 的 bias = 0；然后每个 block 的 `attn.proj.weight` 和 `ff.proj.weight` ~ N(0, 0.02 / sqrt(2 · num_layers))。
# - `config.weight_tying` 为 True 时，`lm_head.weight` 和 `tok_embed.weight` 是同一个 `Parameter`（哪个赋给哪个都可以）。
# - embedding 相加之后做一次 `nn.Dropout(config.dropout)`（GPT-2 训练时的 embedding dropout：只在 train 模式下起作用，eval 模式下什么也不做）。
#
# > **EN** Now put sections 2–6 together. The contract (the tests check exactly this):
# > - Fixed attribute names: `tok_embed`, `pos_embed`, `blocks` (`num_layers` × `TransformerBlock(config)` in
# >   an `nn.ModuleList` or `nn.Sequential`), `final_norm`
# >   (`LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)`), `lm_head`
# >   (`nn.Linear(d_model, vocab_size, bias=False)`).
# > - `forward(idx)`: `(B, T)` → `(B, T, vocab_size)`. Call `blocks[0]`, …, `blocks[-1]` in order, then
# >   `final_norm`, then `lm_head` (the tests hook these modules to watch their inputs and outputs, so call the
# >   modules themselves). For `T > context_length` raise `ValueError` with both T and context_length in the
# >   message.
# > - Initialisation: every Linear / Embedding weight ~ N(0, 0.02), every Linear bias = 0; then each block's
# >   `attn.proj.weight` and `ff.proj.weight` ~ N(0, 0.02 / sqrt(2 · num_layers)).
# > - With `config.weight_tying`, `lm_head.weight` and `tok_embed.weight` are one and the same `Parameter`
# >   (assign in either direction).
# > - After adding the embeddings apply `nn.Dropout(config.dropout)` (GPT-2's embedding dropout: active in
# >   train mode only, nothing at all in eval mode).

# %% [markdown]
# 整个模型的数据流，每一步都标出形状：
#
# > **EN** The whole model's data flow, with the shape after every step:
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     ids["idx: token ids (B, T)"] --> tok["tok_embed(idx): (B, T, d_model)"]
#     pos_ids["torch.arange(T): positions (T)"] --> pos["pos_embed(positions): (T, d_model)"]
#     tok --> add(("+"))
#     pos --> add
#     add --> drop["dropout: (B, T, d_model)"]
#     drop --> blocks["blocks[0] ... blocks[-1]<br>(B, T, d_model) in and out"]
#     blocks --> norm["final_norm: (B, T, d_model)"]
#     norm --> head["lm_head: logits (B, T, vocab_size)"]
#     tok -. "weight tying:<br>one shared matrix" .- head
# ```

# %% [solution] id=gpt_model
class GPTModel(nn.Module):
    """GPT-2: token ids (B, T) -> next-token logits (B, T, vocab_size).

    Attributes (the tests use these names):
        config      the GPTConfig it was built from (generate() reads config.context_length)
        tok_embed   nn.Embedding(vocab_size, d_model)
        pos_embed   nn.Embedding(context_length, d_model)
        blocks      num_layers x TransformerBlock(config), in an nn.ModuleList or nn.Sequential
        final_norm  LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)
        lm_head     nn.Linear(d_model, vocab_size, bias=False)

    forward(idx): idx (B, T) int64, T <= context_length -> logits (B, T, vocab_size) float32.
        embeddings (token + position) -> dropout -> blocks[0] ... blocks[-1] -> final_norm -> lm_head.
        The dropout has probability config.dropout in train mode and does nothing in eval mode.
        T > context_length: ValueError whose message contains T and context_length.
    Initialisation: Linear/Embedding weights ~ N(0, 0.02), Linear biases 0; then every block's
        attn.proj.weight and ff.proj.weight ~ N(0, 0.02 / sqrt(2 * num_layers)).
    config.weight_tying: lm_head.weight is tok_embed.weight (one Parameter, not a copy).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        ### BEGIN SOLUTION
        self.tok_embed = nn.Embedding(config.vocab_size, config.d_model)  # what each token is
        self.pos_embed = nn.Embedding(config.context_length, config.d_model)  # where it stands
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([TransformerBlock(config) for _ in range(config.num_layers)])
        self.final_norm = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)

        # GPT-2 initialisation: N(0, 0.02) weights, zero biases (LayerNorm keeps 1 and 0)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        # the two projections of each block that add into the residual stream start smaller
        residual_std = 0.02 / math.sqrt(2 * config.num_layers)
        for block in self.blocks:
            nn.init.normal_(block.attn.proj.weight, mean=0.0, std=residual_std)
            nn.init.normal_(block.ff.proj.weight, mean=0.0, std=residual_std)

        if config.weight_tying:
            self.lm_head.weight = self.tok_embed.weight  # one Parameter, used twice
        ### END SOLUTION

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        B, T = idx.shape
        if T > self.config.context_length:
            raise ValueError(
                f"got {T} tokens but context_length is {self.config.context_length}: "
                "feed at most the last context_length tokens"
            )
        positions = torch.arange(T, device=idx.device)  # (T,)
        x = self.tok_embed(idx) + self.pos_embed(positions)  # (B, T, d_model)
        x = self.drop(x)
        for block in self.blocks:
            x = block(x)  # (B, T, d_model)
        x = self.final_norm(x)
        return self.lm_head(x)  # (B, T, vocab_size)
        ### END SOLUTION

# %% [markdown]
# 先自己看一眼：在 `TINY` 上建一个模型，喂一批 token，看看输出的形状。
#
# > **EN** A first look of your own: build a model on `TINY`, feed it a batch, check the output shape.

# %%
model = GPTModel(TINY).eval()
with torch.no_grad():
    out = model(torch.randint(0, TINY.vocab_size, (2, 5)))
print("logits:", tuple(out.shape))
print("tied?", model.lm_head.weight is model.tok_embed.weight)

# %% [markdown]
# 下面七个测试 cell 各查一件事：形状、embedding、block 的串联、final norm 和 head、weight tying、初始化、embedding dropout。
#
# > **EN** The seven test cells below check one thing each: shapes, embeddings, the chain of blocks, final
# > norm and head, weight tying, initialisation, embedding dropout.

# %% [tests] id=test_gpt_shapes points=2
import torch
from course.checks import expect_own_work, expect_shape, expect_raises
from gpt2ref import TINY  # vocab_size 97, context_length 16, d_model 32, 4 heads, 2 layers, dropout 0

expect_own_work(GPTModel, lesson=35, what="GPTModel")
torch.manual_seed(0)
m = GPTModel(TINY).eval()
with torch.no_grad():
    expect_shape(m(torch.randint(0, 97, (2, 5))), (2, 5, 97), ("GPTModel(TINY)(idx)，idx 的形状为 (2, 5)", "GPTModel(TINY)(idx) for idx of shape (2, 5)"),
                 hint=("forward 必须返回 lm_head 的输出：每个位置一行，共 vocab_size 个 logits",
                       "forward must return lm_head's output: one row of vocab_size logits per position"))
expect_raises(ValueError, lambda: m(torch.zeros(1, 17, dtype=torch.long)),
              ("context_length 为 16 的 GPTModel 输入了 17 个 token", "GPTModel with context_length 16 fed 17 tokens"),
              message_contains=["17", "16"],
              hint=("在 forward 开头比较 T 和 config.context_length；错误消息里要写出这两个数",
                    "compare T with config.context_length at the start of forward; name both numbers in the message"))
from course.checks import expect
from gpt2ref import GPTConfig

short = GPTModel(GPTConfig(vocab_size=40, context_length=6, d_model=16, num_heads=2, num_layers=1, dropout=0.0)).eval()
refusal, full = None, None
try:
    with torch.no_grad():
        full = short(torch.randint(0, 40, (3, 6)))  # exactly context_length tokens: allowed
except ValueError as exc:
    refusal = str(exc)
expect(refusal is None, ("context_length 为 6 的 GPTModel 输入恰好 6 个 token", "GPTModel with context_length 6 fed exactly 6 tokens"),
       (f"抛出了 ValueError：{refusal}", f"raised ValueError: {refusal}"),
       hint=("T == context_length 是允许的：只有 T > context_length 时才报错（用 >，不是 >=）",
             "T == context_length is allowed: raise only when T > context_length (>, not >=)"))
expect_shape(full, (3, 6, 40), ("context_length 为 6 的 GPTModel 输入形状 (3, 6)", "GPTModel with context_length 6 on idx of shape (3, 6)"),
             hint=("forward 必须返回 lm_head 的输出：每个位置一行，共 vocab_size 个 logits",
                   "forward must return lm_head's output: one row of vocab_size logits per position"))
### BEGIN HIDDEN TESTS
from torch import nn
from course.checks import expect, expect_equal, expect_type
from gpt2ref import GPTConfig

for what, got, want in [("tok_embed.weight", m.tok_embed.weight, (97, 32)),
                        ("pos_embed.weight", m.pos_embed.weight, (16, 32)),
                        ("lm_head.weight", m.lm_head.weight, (97, 32))]:
    expect_shape(got, want, f"GPTModel(TINY).{what}",
                 hint=("tok_embed 的形状是 (vocab_size, d_model)；pos_embed 是 (context_length, d_model)；"
                       "lm_head = nn.Linear(d_model, vocab_size)",
                       "tok_embed: (vocab_size, d_model); pos_embed: (context_length, d_model); "
                       "lm_head = nn.Linear(d_model, vocab_size)"))
expect_type(m.lm_head, nn.Linear, "GPTModel(TINY).lm_head", hint=("lm_head 是一个 nn.Linear(d_model, vocab_size, bias=False)",
                  "lm_head is an nn.Linear(d_model, vocab_size, bias=False)"))
expect(m.lm_head.bias is None, "GPTModel(TINY).lm_head.bias", ("期望是 None（GPT-2 的 LM head 没有 bias）", "expected None (GPT-2's LM head has no bias)"),
       hint=("lm_head 用 nn.Linear(d_model, vocab_size, bias=False)，不带 bias", "nn.Linear(d_model, vocab_size, bias=False)"))
expect_equal(len(m.blocks), 2, ("num_layers=2 时的 len(GPTModel(TINY).blocks)", "len(GPTModel(TINY).blocks) with num_layers=2"),
             hint=("每层一个 block", "one block per layer"))
expect(m.config is TINY, "GPTModel(TINY).config", ("期望就是传进来的那个 config 对象", "expected the config object passed in"),
       hint=("保留 self.config = config：generate() 要读取 model.config.context_length",
             "keep self.config = config: generate() reads model.config.context_length"))
with torch.no_grad():
    expect_shape(m(torch.randint(0, 97, (1, 16))), (1, 16, 97), ("GPTModel 输入恰好 context_length = 16 个 token", "GPTModel on exactly context_length = 16 tokens"),
                 hint=("T == context_length 是允许的：只有 T > context_length 时才报错",
                       "T == context_length is allowed: raise only when T > context_length"))
    expect_shape(m(torch.randint(0, 97, (3, 1))), (3, 1, 97), ("GPTModel 每行只输入一个 token", "GPTModel on one token per row"))
    cfg2 = GPTConfig(vocab_size=50, context_length=8, d_model=24, num_heads=3, num_layers=3, dropout=0.0)
    m2 = GPTModel(cfg2).eval()
    expect_shape(m2(torch.randint(0, 50, (4, 7))), (4, 7, 50), ("GPTModel（vocab 50，d_model 24，3 层）输入形状 (4, 7)", "GPTModel(vocab 50, d_model 24, 3 layers) on (4, 7)"),
                 hint=("处处都用 config 里的数，不要写死任何数字", "use the config's numbers everywhere, nothing hard-coded"))
    expect_equal(len(m2.blocks), 3, ("num_layers=3 时的 len(blocks)", "len(blocks) with num_layers=3"))
expect_raises(ValueError, lambda: m2(torch.zeros(2, 11, dtype=torch.long)),
              ("context_length 为 8 的 GPTModel 输入了 11 个 token", "GPTModel with context_length 8 fed 11 tokens"),
              message_contains=["11", "8"],
              hint=("比较 T 和 config.context_length；错误消息里要写出这两个数",
                    "compare T with config.context_length; name both numbers in the message"))
### END HIDDEN TESTS
print("test_gpt_shapes: ok")

# %% [tests] id=test_gpt_embeddings points=2
import torch
from course.checks import expect_own_work, expect
from gpt2ref import TINY

expect_own_work(GPTModel, lesson=35, what="GPTModel")
torch.manual_seed(1)
m = GPTModel(TINY).eval()
with torch.no_grad():
    logits = m(torch.full((1, 8), 7))  # the same token at all 8 positions
spread = (logits - logits[:, :1]).abs().max().item()
expect(spread > 1e-4, ("GPTModel 输入同一个 token 重复 8 次", "GPTModel on the same token repeated 8 times"),
       (f"每个位置给出的 logits 都一样（最大差值 {spread:.1e}）",
        f"every position gave the same logits (largest difference {spread:.1e})"),
       hint=("加上位置 embedding：x = tok_embed(idx) + pos_embed(torch.arange(T))",
             "add the position embedding: x = tok_embed(idx) + pos_embed(torch.arange(T))"))
### BEGIN HIDDEN TESTS
from course.checks import expect_close, record_calls

# Exact check: what the first block receives is tok_embed(idx) + pos_embed(0..T-1).
idx = torch.randint(0, 97, (3, 7))
with torch.no_grad(), record_calls(m.blocks[0]) as calls:
    m(idx)
expect(len(calls) == 1, ("对一个 batch 做一次 forward", "forward on one batch"),
       (f"blocks[0] 运行了 {len(calls)} 次，期望只运行一次", f"blocks[0] ran {len(calls)} times, expected once"),
       hint=("每次 forward 中每个 block 只运行一次，从 blocks[0] 开始",
             "run each block once per forward, starting with blocks[0]"))
expected = m.tok_embed.weight[idx] + m.pos_embed.weight[:7]
expect_close(calls[0].input, expected.detach(), ("idx 形状为 (3, 7) 时 blocks[0] 的输入", "input of blocks[0] for idx of shape (3, 7)"), atol=1e-6,
             hint=("block 收到的应是 tok_embed(idx) + pos_embed(torch.arange(T))：位置是 0..T-1，不做任何缩放",
                   "the blocks get tok_embed(idx) + pos_embed(torch.arange(T)): positions 0..T-1, nothing scaled"))
# Token identity matters: changing one token changes the logits at its position.
with torch.no_grad():
    base = m(idx)
    other = idx.clone()
    other[0, 3] = (other[0, 3] + 1) % 97
    changed = m(other)
expect((changed[0, 3] - base[0, 3]).abs().max().item() > 1e-4, ("改动一个 token 后，该位置的 logits", "logits at the position of a changed token"),
       ("没有变化", "did not change"),
       hint=("token embedding tok_embed(idx) 必须传到 block 里", "the token embedding tok_embed(idx) must reach the blocks"))
### END HIDDEN TESTS
print("test_gpt_embeddings: ok")

# %% [tests] id=test_gpt_blocks points=1
from dataclasses import replace

import torch
from course.checks import expect_own_work, expect_equal, record_calls
from gpt2ref import TINY

expect_own_work(GPTModel, lesson=35, what="GPTModel")
torch.manual_seed(2)
m = GPTModel(replace(TINY, num_layers=3)).eval()
with torch.no_grad(), record_calls(*m.blocks) as calls:  # every block call: which block, its input and output
    m(torch.randint(0, 97, (2, 6)))
expect_equal([call.index for call in calls], [0, 1, 2], ("一次 forward 中 3 个 block 的运行顺序", "order in which the 3 blocks ran during one forward"),
             hint=("按顺序遍历 self.blocks 一次：x = block(x)", "loop over self.blocks once, in order: x = block(x)"))
from course.checks import expect_close

torch.manual_seed(12)
pair = GPTModel(replace(TINY, num_layers=2)).eval()
with torch.no_grad(), record_calls(*pair.blocks) as chain:
    pair(torch.randint(0, 97, (3, 4)))
expect_close(chain[1].input, chain[0].output, ("2 层模型、idx 形状为 (3, 4) 时 blocks[1] 的输入 vs blocks[0] 的输出",
              "input of blocks[1] vs output of blocks[0] (2 layers, idx of shape (3, 4))"),
             atol=0.0, hint=("把 block 串起来：每个 block 接收上一个 block 的输出（x = block(x)），而不是都读 embedding",
                             "chain the blocks: each block gets the previous block's output (x = block(x)), "
                             "not the embeddings again"))
### BEGIN HIDDEN TESTS
from course.checks import expect_close

for before, after in zip(calls, calls[1:]):
    expect_close(after.input, before.output, (f"blocks[{after.index}] 的输入 vs blocks[{before.index}] 的输出",
                  f"input of blocks[{after.index}] vs output of blocks[{before.index}]"),
                 atol=0.0, hint=("把 block 串起来：每个 block 接收上一个 block 的输出（x = block(x)）",
                                 "chain the blocks: each block gets the previous block's output (x = block(x))"))
### END HIDDEN TESTS
print("test_gpt_blocks: ok")

# %% [tests] id=test_gpt_final_norm points=2
import torch
from course.checks import expect_own_work, expect_equal, expect_close, record_calls
from gpt2ref import TINY

expect_own_work(GPTModel, lesson=35, what="GPTModel")
torch.manual_seed(3)
m = GPTModel(TINY).eval()
with torch.no_grad(), record_calls(m.blocks[-1], m.final_norm, m.lm_head) as calls:
    logits = m(torch.randint(0, 97, (2, 6)))
last_block, norm, head = calls.of(0), calls.of(1), calls.of(2)  # the calls of each module, in order
expect_equal(len(norm), 1, ("一次 forward 中 final_norm 被调用的次数", "number of final_norm calls in one forward"),
             hint=("在最后一个 block 之后：x = self.final_norm(x)，然后 logits = self.lm_head(x)",
                   "after the last block: x = self.final_norm(x), then logits = self.lm_head(x)"))
expect_equal(len(head), 1, ("一次 forward 中 lm_head 被调用的次数", "number of lm_head calls in one forward"),
             hint=("对 final_norm 的输出调用一次 self.lm_head", "call self.lm_head once, on the output of final_norm"))
expect_close(head[0].input, norm[0].output, ("lm_head 的输入 vs final_norm 的输出", "input of lm_head vs output of final_norm"), atol=0.0,
             hint=("lm_head 必须读取归一化之后的向量：logits = self.lm_head(self.final_norm(x))",
                   "lm_head must read the normalised vector: logits = self.lm_head(self.final_norm(x))"))
from dataclasses import replace

import torch.nn.functional as F

torch.manual_seed(13)
big_eps = GPTModel(replace(TINY, layer_norm_eps=0.05)).eval()  # an eps that changes the result a lot
with torch.no_grad(), record_calls(big_eps.final_norm) as eps_calls:
    big_eps(torch.randint(0, 97, (1, 9)))
eps_bias = getattr(big_eps.final_norm, "bias", None)
eps_formula = F.layer_norm(eps_calls[0].input, (32,), big_eps.final_norm.weight.detach(),
                           None if eps_bias is None else eps_bias.detach(), 0.05)
expect_close(eps_calls[0].output, eps_formula, ("config.layer_norm_eps=0.05 时 final_norm 的输出", "final_norm's output with config.layer_norm_eps=0.05"),
             atol=1e-5,
             hint=("写成 final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)：eps 要从 config 里取",
                   "final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias): take eps from the config"))
no_bias = GPTModel(replace(TINY, d_model=16, num_heads=2, bias=False))
expect_equal(sum(p.numel() for p in no_bias.final_norm.parameters()), 16,
             ("d_model=16、config.bias=False 时 final_norm 的参数个数", "parameters of final_norm with d_model=16, config.bias=False"),
             hint=("写成 final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)："
                   "config.bias 为 False 时只有 weight，没有 bias",
                   "final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias): only a weight, no "
                   "bias, when config.bias is False"))
### BEGIN HIDDEN TESTS
import torch.nn.functional as F

expect_close(norm[0].input, last_block[0].output, ("final_norm 的输入 vs 最后一个 block 的输出", "input of final_norm vs output of the last block"),
             atol=0.0, hint=("final_norm 紧跟在最后一个 block 之后，中间不能有别的操作",
                             "final_norm comes right after the last block, nothing in between"))
bias = getattr(m.final_norm, "bias", None)
formula = F.layer_norm(norm[0].input, (32,), m.final_norm.weight.detach(),
                       None if bias is None else bias.detach(), 1e-5)
expect_close(norm[0].output, formula, ("final_norm 的输出 vs LayerNorm 公式（eps 1e-5）", "final_norm's output vs the LayerNorm formula (eps 1e-5)"),
             atol=1e-5,
             hint=("写成 final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)",
                   "final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)"))
expect_close(logits, head[0].output, ("forward 返回的 logits vs lm_head 的输出", "logits returned by forward vs lm_head's output"), atol=0.0,
             hint=("原样返回 lm_head 的输出", "return lm_head's output as it is"))
from dataclasses import replace

torch.manual_seed(3)
m = GPTModel(replace(TINY, layer_norm_eps=1e-2)).eval()  # eps of the size of the residual stream's variance
with torch.no_grad(), record_calls(m.final_norm) as calls:
    m(torch.randint(0, 97, (2, 6)))
bias = getattr(m.final_norm, "bias", None)
formula = F.layer_norm(calls[0].input, (32,), m.final_norm.weight.detach(),
                       None if bias is None else bias.detach(), 1e-2)
expect_close(calls[0].output, formula, ("config.layer_norm_eps=0.01 时 final_norm 的输出", "final_norm's output with config.layer_norm_eps=0.01"),
             atol=1e-5,
             hint=("写成 final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)：eps 要从 config 里取",
                   "final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias): take eps from the config"))
m = GPTModel(replace(TINY, bias=False))
expect_equal(sum(p.numel() for p in m.final_norm.parameters()), 32, ("config.bias=False 时 final_norm 的参数个数", "parameters of final_norm with config.bias=False"),
             hint=("写成 final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)："
                   "config.bias 为 False 时不要 bias",
                   "final_norm = LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias): no bias when "
                   "config.bias is False"))
### END HIDDEN TESTS
print("test_gpt_final_norm: ok")

# %% [tests] id=test_weight_tying points=2
from dataclasses import replace

import torch
from course.checks import expect_own_work, expect
from gpt2ref import TINY  # weight_tying=True, like GPT-2

expect_own_work(GPTModel, lesson=35, what="GPTModel")
torch.manual_seed(4)
m = GPTModel(TINY)
expect(m.lm_head.weight.data_ptr() == m.tok_embed.weight.data_ptr(), "GPTModel(weight_tying=True)",
       ("lm_head.weight 和 tok_embed.weight 在不同的内存里", "lm_head.weight and tok_embed.weight live in different memory"),
       hint=("共享 Parameter 本身（self.lm_head.weight = self.tok_embed.weight）；复制一份不算 tying",
             "share the Parameter itself (self.lm_head.weight = self.tok_embed.weight); a copy is not tying"))
untied = GPTModel(replace(TINY, weight_tying=False))
expect(untied.lm_head.weight.data_ptr() != untied.tok_embed.weight.data_ptr(), "GPTModel(weight_tying=False)",
       ("lm_head.weight 和 tok_embed.weight 是共享的", "lm_head.weight and tok_embed.weight are shared"),
       hint=("只有 config.weight_tying 为 True 时才共享权重", "tie only when config.weight_tying is True"))
### BEGIN HIDDEN TESTS
from course.checks import expect_equal
from course.checks import shapes_only
from gpt2ref import GPT2_SMALL, count_parameters as reference_count

expect(m.lm_head.weight is m.tok_embed.weight, "GPTModel(weight_tying=True)",
       ("lm_head.weight 和 tok_embed.weight 不是同一个 Parameter 对象",
        "lm_head.weight is not the same Parameter object as tok_embed.weight"),
       hint=("直接赋值 Parameter：self.lm_head.weight = self.tok_embed.weight（反过来也可以）",
             "assign the Parameter: self.lm_head.weight = self.tok_embed.weight (or the other way round)"))
with torch.no_grad():
    m.tok_embed.weight[5, 3] += 1.0
    followed = m.lm_head.weight[5, 3].item() == m.tok_embed.weight[5, 3].item()
expect(followed, ("原地修改 tok_embed.weight 之后", "after changing tok_embed.weight in place"),
       ("lm_head.weight 没有跟着变", "lm_head.weight did not change with it"),
       hint=("复制出来的矩阵会各走各的；tying 意味着只有一个 tensor", "a copy drifts apart; tying means one tensor"))
expect(not torch.equal(untied.lm_head.weight, untied.tok_embed.weight), "GPTModel(weight_tying=False)",
       ("lm_head.weight 和 tok_embed.weight 的值完全相同", "lm_head.weight equals tok_embed.weight"),
       hint=("不共享时是两个各自初始化的矩阵", "untied: two separately initialised matrices"))
# GPT-2 small built on the meta device (no memory), counted with the reference count:
for tying, expected in ((True, 124_439_808), (False, 163_037_184)):
    with shapes_only():
        big = GPTModel(replace(GPT2_SMALL, weight_tying=tying))
    expect_equal(reference_count(big), expected, (f"GPTModel(GPT-2 small, weight_tying={tying}) 的参数个数",
                  f"parameters of GPTModel(GPT-2 small, weight_tying={tying})"),
                 hint=("共享时那个矩阵只数一次（124,439,808，和 Hugging Face 的 GPT2LMHeadModel 一样）；"
                       "不共享时再多出 vocab_size * d_model",
                       "tied: the shared matrix counts once (124,439,808, like Hugging Face's GPT2LMHeadModel); "
                       "untied adds vocab_size * d_model"))
    del big
### END HIDDEN TESTS
print("test_weight_tying: ok")

# %% [tests] id=test_init points=2
import math
import torch
from course.checks import expect_own_work, expect
from gpt2ref import GPTConfig

expect_own_work(GPTModel, lesson=35, what="GPTModel")
cfg = GPTConfig(vocab_size=512, context_length=64, d_model=64, num_heads=4, num_layers=6, dropout=0.0)
torch.manual_seed(5)
m = GPTModel(cfg)

def _std_close(weight, target, what, hint):
    std = weight.detach().std().item()
    expect(abs(std - target) <= 0.15 * target, what,
           (f"std 为 {std:.5f}，期望 {target:.5f}（误差在 15% 以内）", f"std {std:.5f}, expected {target:.5f} (within 15%)"),
           hint=hint)

_std_close(m.tok_embed.weight, 0.02, ("tok_embed.weight 的 std", "std of tok_embed.weight"),
           hint=("用 nn.init.normal_(weight, mean=0.0, std=0.02) 初始化", "nn.init.normal_(weight, mean=0.0, std=0.02)"))
_std_close(m.blocks[0].attn.proj.weight, 0.02 / math.sqrt(2 * 6), ("6 层时 blocks[0].attn.proj.weight 的 std", "std of blocks[0].attn.proj.weight with 6 layers"),
           hint=("写入 residual stream 的两个投影（attn.proj、ff.proj）初始 std 为 0.02 / sqrt(2 * num_layers)",
                 "the residual projections (attn.proj, ff.proj) start at std 0.02 / sqrt(2 * num_layers)"))
### BEGIN HIDDEN TESTS
from dataclasses import replace

from torch import nn
from course.checks import expect_equal
from gpt2ref import LayerNorm as ReferenceLayerNorm

for layers in (6, 2):
    for tying in (True, False):
        c = replace(cfg, num_layers=layers, weight_tying=tying)
        torch.manual_seed(10 + layers)
        m = GPTModel(c)
        small = 0.02 / math.sqrt(2 * layers)
        residual = {id(w) for blk in m.blocks for w in (blk.attn.proj.weight, blk.ff.proj.weight)}
        expect_equal(len(residual), 2 * layers, (f"{layers} 个 block 里 attn.proj / ff.proj 权重的个数", f"attn.proj / ff.proj weights in {layers} blocks"),
                     hint=("每个 block 都有自己的 attn.proj 和 ff.proj", "every block has its own attn.proj and ff.proj"))
        for name, module in m.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                w = module.weight
                target = small if id(w) in residual else 0.02
                what = f"{name}.weight ({layers} layers, weight_tying={tying})"
                what_zh = f"{name}.weight（{layers} 层，weight_tying={tying}）"
                _std_close(w, target, (f"{what_zh} 的 std", f"std of {what}"),
                           hint=("写入 residual stream 的投影：0.02 / sqrt(2 * num_layers)；其余所有 Linear/Embedding "
                                 "权重：0.02；先统一按 N(0, 0.02) 初始化，再单独初始化这两个投影",
                                 "residual projections: 0.02 / sqrt(2 * num_layers); every other Linear/Embedding "
                                 "weight: 0.02; init the projections after the general N(0, 0.02) pass"))
                mean = w.detach().mean().item()
                expect(abs(mean) <= 0.1 * target, (f"{what_zh} 的均值", f"mean of {what}"),
                       (f"{mean:.5f}，期望约为 0", f"{mean:.5f}, expected about 0"),
                       hint="normal_(mean=0.0)")
            if isinstance(module, nn.Linear) and module.bias is not None:
                expect(bool((module.bias == 0).all()), f"{name}.bias", ("不全为 0", "not all zero"),
                       hint=("对每个 Linear 调用 nn.init.zeros_(bias)", "nn.init.zeros_(bias) for every Linear"))
            if isinstance(module, (ReferenceLayerNorm, nn.LayerNorm)):
                expect(bool((module.weight == 1).all()), f"{name}.weight", ("不全为 1", "not all one"),
                       hint=("LayerNorm 保持 weight 为 1、bias 为 0：不要重新初始化它",
                             "LayerNorm keeps weight 1 and bias 0: do not re-initialise it"))
                if module.bias is not None:
                    expect(bool((module.bias == 0).all()), f"{name}.bias", ("不全为 0", "not all zero"),
                           hint=("LayerNorm 保持 weight 为 1、bias 为 0：不要重新初始化它",
                                 "LayerNorm keeps weight 1 and bias 0: do not re-initialise it"))
### END HIDDEN TESTS
print("test_init: ok")

# %% [tests] id=test_gpt_dropout points=1
from dataclasses import replace

import torch
from course.checks import expect_own_work, expect_close
from gpt2ref import TINY

expect_own_work(GPTModel, lesson=35, what="GPTModel")
torch.manual_seed(6)
m = GPTModel(replace(TINY, dropout=0.5)).eval()
same_weights = GPTModel(TINY).eval()  # dropout = 0
same_weights.load_state_dict(m.state_dict())
idx = torch.randint(0, 97, (8, 8))
with torch.no_grad():
    first, second = m(idx), m(idx)
    expected = same_weights(idx)
expect_close(first, expected, ("eval 模式下的 GPTModel(dropout=0.5) vs 权重相同、dropout=0.0 的模型",
              "GPTModel(dropout=0.5) in eval mode vs the same weights with dropout=0.0"), atol=1e-6,
             hint=("dropout 在 eval 模式下什么都不做：用 nn.Dropout(config.dropout)"
                   "（F.dropout 需要传 training=self.training）",
                   "dropout does nothing in eval mode: use nn.Dropout(config.dropout) "
                   "(F.dropout needs training=self.training)"))
expect_close(second, first, ("eval 模式下的两次 forward（dropout=0.5）", "two forward passes in eval mode (dropout=0.5)"),
             atol=0.0, hint=("eval 模式下不做 dropout", "no dropout in eval mode"))
from course.checks import expect, record_calls

torch.manual_seed(16)
light = GPTModel(replace(TINY, dropout=0.25)).eval()
tokens = torch.randint(0, 97, (6, 10))
with torch.no_grad(), record_calls(light.blocks[0]) as block_inputs:
    light(tokens)  # eval mode: the embeddings as they are
    light.train()
    light(tokens)  # train mode: the embeddings after dropout
clean, noisy = block_inputs[0].input, block_inputs[1].input
zeroed = noisy == 0
share = zeroed.double().mean().item()
expect(0.15 < share < 0.35, ("train 模式下 blocks[0] 的输入中 0 的比例（dropout=0.25）",
        "share of zeros in the input of blocks[0] in train mode (dropout=0.25)"),
       (f"{noisy.numel()} 个元素中有 {share:.1%} 是 0，期望约 25%",
        f"{share:.1%} of the {noisy.numel()} entries are zero, expected about 25%"),
       hint=("两个 embedding 相加之后接 nn.Dropout(config.dropout)：train 模式下它会把其中比例为 p 的元素置 0",
             "after adding the embeddings apply nn.Dropout(config.dropout): in train mode it zeroes a share p of them"))
expect_close(noisy[~zeroed], clean[~zeroed] / 0.75,
             ("blocks[0] 的输入中被 dropout 保留下来的元素（train 模式，dropout=0.25）",
              "entries of the input of blocks[0] that dropout kept (train mode, dropout=0.25)"), atol=1e-5,
             hint=("dropout 会把保留下来的值乘以 1 / (1 - p)：对两个 embedding 之和用 nn.Dropout(config.dropout)，"
                   "中间不要有别的操作",
                   "dropout scales what it keeps by 1 / (1 - p): use nn.Dropout(config.dropout) on the sum of the "
                   "two embeddings, nothing else in between"))
### BEGIN HIDDEN TESTS
from course.checks import expect, record_calls

with torch.no_grad(), record_calls(m.blocks[0]) as calls:
    m(idx)  # eval mode
    m.train()
    m(idx)  # train mode
embedded, seen = calls[0].input, calls[1].input  # what blocks[0] got: the embeddings, untouched / after dropout
dropped = seen == 0
rate = dropped.double().mean().item()
expect(0.4 < rate < 0.6, ("train 模式下 blocks[0] 的输入中 0 的比例（dropout=0.5）",
        "share of zeros in the input of blocks[0] in train mode (dropout=0.5)"),
       (f"{seen.numel()} 个元素中有 {rate:.1%} 是 0，期望约 50%",
        f"{rate:.1%} of the {seen.numel()} entries are zero, expected about 50%"),
       hint=("两个 embedding 相加之后接 nn.Dropout(config.dropout)：train 模式下它会把其中比例为 p 的元素置 0",
             "after adding the embeddings apply nn.Dropout(config.dropout): in train mode it zeroes a share p of them"))
expect_close(seen[~dropped], 2.0 * embedded[~dropped],
             ("blocks[0] 的输入中被 dropout 保留下来的元素（train 模式，dropout=0.5）",
              "entries of the input of blocks[0] that dropout kept (train mode, dropout=0.5)"), atol=1e-5,
             hint=("dropout 会把保留下来的值乘以 1 / (1 - p)：对两个 embedding 之和用 nn.Dropout(config.dropout)，"
                   "中间不要有别的操作",
                   "dropout scales what it keeps by 1 / (1 - p): use nn.Dropout(config.dropout) on the sum of the "
                   "two embeddings, nothing else in between"))
### END HIDDEN TESTS
print("test_gpt_dropout: ok")

# %% [markdown]
# ## 8. ✍️ 数参数 / Counting parameters
#
# 模型的“大小”就是它有多少个可学习的数。要点只有一个：共享的 tensor 只能数一次。第 5 节看到 `parameters()` 对每个 `Parameter` 对象只给一次，哪怕它挂在两个名字下面；而 `state_dict()` 会把共享的权重列两遍，还会带上 buffer（比如 BatchNorm 的 running statistics），它们都不是参数。
#
# > **EN** A model's size is the number of learned numbers in it. One thing matters: a shared tensor counts
# > once. Section 5 showed that `parameters()` yields each `Parameter` object once even under two names;
# > `state_dict()` lists a tied weight twice and also holds buffers (such as BatchNorm's running statistics),
# > which are not parameters.

# %% [solution] id=count_parameters
def count_parameters(model: nn.Module) -> int:
    """Number of learned numbers in ``model``, as a Python int.

    A Parameter registered under two names (tied weights) counts once. Buffers (e.g. BatchNorm's running
    statistics) are not parameters and do not count. Works on any device, ``meta`` included.
    """
    ### BEGIN SOLUTION
    return sum(p.numel() for p in model.parameters())
    ### END SOLUTION

# %% [tests] id=test_count_parameters points=2
import torch
from torch import nn
from course.checks import expect_own_work, expect_equal

expect_own_work(count_parameters, lesson=35, what="count_parameters")
expect_equal(count_parameters(nn.Linear(10, 3)), 33, "count_parameters(nn.Linear(10, 3))",
             hint=("对 model.parameters() 里的每个 p 累加 p.numel()：10 * 3 个权重 + 3 个 bias",
                   "add up p.numel() over model.parameters(): 10 * 3 weights + 3 biases"))
pair = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
pair[1].weight = pair[0].weight  # one weight matrix used by both layers
expect_equal(count_parameters(pair), 16 + 4 + 4, ("两个共享权重的 Linear(4, 4) 的 count_parameters", "count_parameters of two Linear(4, 4) sharing their weight"),
             hint=("共享的 Parameter 只数一次：model.parameters() 本来就会跳过重复的，"
                   "而 named_parameters(remove_duplicate=False) 和 state_dict() 不会",
                   "a shared Parameter counts once: model.parameters() already skips repeats, "
                   "named_parameters(remove_duplicate=False) and state_dict() do not"))
### BEGIN HIDDEN TESTS
from dataclasses import replace
from course.checks import shapes_only
from gpt2ref import GPT2_SMALL, TINY, GPTModel as ReferenceGPTModel

expect_equal(count_parameters(nn.BatchNorm1d(3)), 6, "count_parameters(nn.BatchNorm1d(3))",
             hint=("buffer（running_mean、running_var、num_batches_tracked）不是参数：不要用 state_dict()",
                   "buffers (running_mean, running_var, num_batches_tracked) are not parameters: do not use state_dict()"))
V, C, d, L = TINY.vocab_size, TINY.context_length, TINY.d_model, TINY.num_layers  # 97, 16, 32, 2
per_block = 12 * d * d + 13 * d  # qkv, proj, fc, proj weights and biases + two LayerNorms
tied = V * d + C * d + L * per_block + 2 * d
for tying, expected in ((True, tied), (False, tied + V * d)):
    got = count_parameters(ReferenceGPTModel(replace(TINY, weight_tying=tying)))
    expect_equal(type(got), int, ("count_parameters(...) 返回值的类型", "type of count_parameters(...)"),
                 hint=("返回 Python int（p.numel() 之和）", "return a Python int (sum of p.numel())"))
    expect_equal(got, expected, (f"对参考 GPTModel（2 层，weight_tying={tying}）调用 count_parameters",
                  f"count_parameters(reference GPTModel, 2 layers, weight_tying={tying})"),
                 hint=("共享的矩阵只数一次", "the tied matrix counts once"))
for tying, expected in ((True, 124_439_808), (False, 163_037_184)):
    with shapes_only():
        big = ReferenceGPTModel(replace(GPT2_SMALL, weight_tying=tying))
    expect_equal(count_parameters(big), expected, (f"在 meta device 上对 GPT-2 small（weight_tying={tying}）调用 count_parameters",
                  f"count_parameters(GPT-2 small on meta, weight_tying={tying})"),
                 hint=("numel() 在 meta tensor 上也能用；每个 Parameter 对象只数一次",
                       "numel() works on meta tensors; count each Parameter object once"))
    del big
### END HIDDEN TESTS
print("test_count_parameters: ok")

# %% [markdown]
# ### 在 `meta` device 上数 GPT-2 small / Counting GPT-2 small on the `meta` device
#
# 真的建一个 GPT-2 small 要分配上亿个 float。但数参数只需要形状。`meta` device 上的 tensor 只有形状和 dtype，没有存储，所以在 `with torch.device("meta"):` 里建模型几乎不花内存（一个会话里第一次在 `meta` 上建模型会慢一点：PyTorch 要先加载一些内部模块）：
#
# > **EN** Building a real GPT-2 small allocates over a hundred million floats, but counting needs only
# > shapes. A tensor on the `meta` device has a shape and a dtype and no storage, so building the model inside
# > `with torch.device("meta"):` costs almost no memory (the first `meta` build in a session is a little slower
# > while PyTorch loads some of its internals):

# %% tags=skip-autograde
with torch.device("meta"):
    gpt2_meta = GPTModel(GPT2_SMALL)
    gpt2_meta_untied = GPTModel(GPTConfig(weight_tying=False))
print("tok_embed.weight is on", gpt2_meta.tok_embed.weight.device, "| is_meta:", gpt2_meta.tok_embed.weight.is_meta)

n_tied, n_untied = count_parameters(gpt2_meta), count_parameters(gpt2_meta_untied)
print(f"GPT-2 small, tied:   {n_tied:>12,}")
print(f"GPT-2 small, untied: {n_untied:>12,}")
print(f"difference:          {n_untied - n_tied:>12,}  = vocab_size x d_model = "
      f"{GPT2_SMALL.vocab_size * GPT2_SMALL.d_model:,}")
print(f"tying saves {(n_untied - n_tied) / n_untied:.1%} of the untied model")

print("\nwhere the parameters are (tied model):")
for name, part in [("tok_embed", gpt2_meta.tok_embed), ("pos_embed", gpt2_meta.pos_embed),
                   ("blocks (all 12)", gpt2_meta.blocks), ("  one block", gpt2_meta.blocks[0]),
                   ("final_norm", gpt2_meta.final_norm)]:
    print(f"  {name:16} {count_parameters(part):>12,}")
print(f"  {'lm_head':16} {'(shared)':>12}")
print(f"\nin float32 the real model needs {n_tied * 4 / 2**30:.2f} GiB for its weights alone")

# %% [markdown]
# 绑定后是 124,439,808 个参数，和 Hugging Face 的 `GPT2LMHeadModel` 完全一致（第 37 课会把它的权重装进你的模型）。解绑多出来的正好是 vocab_size × d_model = 38,597,376，约占解绑模型的四分之一。参数大头在 12 个 block 里，每个 7,087,872；其次是 token embedding。
#
# > **EN** Tied: 124,439,808 parameters, exactly Hugging Face's `GPT2LMHeadModel` (lesson 37 loads its weights
# > into your model). Untying adds exactly vocab_size × d_model = 38,597,376, about a quarter of the untied
# > model. Most parameters sit in the 12 blocks, 7,087,872 each; the token embedding comes next.
#
# ## 9. 真实尺寸的一次 forward / One forward pass at full size
#
# 这个 cell 真的建出 GPT-2 small（上面算出的那些 GiB），喂进 "Hello, world" 三个 token，检查 logits 的形状，再试一次 1025 个 token。它是可选的演示，自动评分时会跳过；内存紧张时可以不跑。
#
# > **EN** This cell builds the real GPT-2 small (the GiB computed above), feeds it the three tokens of
# > "Hello, world", checks the logits' shape, then tries 1025 tokens. It is an optional demo, skipped while
# > autograding; skip it if memory is tight.

# %% tags=skip-autograde
start = time.perf_counter()
gpt2 = GPTModel(GPT2_SMALL).eval()
print(f"built GPT-2 small in {time.perf_counter() - start:.1f} s")
ids = torch.tensor([enc.encode("Hello, world")])  # (1, 3)
with torch.no_grad():
    gpt2_logits = gpt2(ids)
print("token ids", ids.tolist(), "-> logits", tuple(gpt2_logits.shape))
try:
    gpt2(torch.zeros(1, GPT2_SMALL.context_length + 1, dtype=torch.long))
except ValueError as exc:
    print("ValueError:", exc)
del gpt2, gpt2_logits  # give the memory back

# %% [markdown]
# ### 一次 forward 要算多少 / What one forward pass costs
#
# 一次 forward 的计算量可以粗略地估出来，分成两项：
#
# - **权重项**：每个 token 都要乘过每一个线性层的权重矩阵一次，每个权重一次乘法、一次加法，所以是 2 × 权重个数 × token 数。它随序列长度 T **线性**增长。embedding 只是查表，不算在内；LM head 是一个真正的矩阵乘法，算在内。
# - **attention 项**：每一层里，`q @ k.T` 让每个 token 和每个 token 比一次（T × T 个长度为 d 的点积），`weights @ v` 再来一次，合起来每层 4 × T² × d。它随 T 的**平方**增长。（因果 mask 丢掉了一半的分数，但普通的实现照样把它们算出来。）
#
# 下面的 cell 用你的 `GPTModel` 建一个比 `TINY` 大一些的模型，在几个序列长度上估计 FLOPs（浮点运算次数），再实测一次 forward 的时间。计时只用一个线程（别的程序也在用 CPU 时更稳），做法和第 37 课一样：几轮交替测量，每一轮把每个长度各量一次，机器忙的那一刻对大家都一样，最后取中位数。它只是演示，自动评分时会跳过。
#
# > **EN** The work of one forward pass can be estimated in two terms:
# >
# > - **The weights term**: every token is multiplied through every linear layer's weight matrix once, one
# >   multiply and one add per weight, so 2 × weights × tokens. It grows **linearly** with the sequence length
# >   T. Embeddings are lookups and do not count; the LM head is a real matrix product and does.
# > - **The attention term**: in every layer `q @ k.T` compares every token with every token (T × T dot
# >   products of length d) and `weights @ v` does it once more: 4 × T² × d per layer. It grows with the
# >   **square** of T. (The causal mask throws half of the scores away, but a plain implementation computes
# >   them all the same.)
# >
# > The cell below builds a model a little larger than `TINY` with your `GPTModel`, estimates the FLOPs
# > (floating-point operations) at a few sequence lengths, and times one forward pass at each. The timing uses one
# > thread (steadier when other programs share the CPU) and works as in lesson 37: several interleaved rounds, each timing every length once so a busy moment hits them all
# > alike, and the median counts. It is a demo, skipped while autograding.

# %% tags=skip-autograde
import statistics

cost_config = GPTConfig(vocab_size=512, context_length=512, d_model=64, num_heads=4, num_layers=4, dropout=0.0)
torch.manual_seed(0)
cost_model = GPTModel(cost_config).eval()


def matmul_weights(model):
    """Numbers in the weight matrices of every nn.Linear (the tied lm_head included): the ones each token multiplies."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))


def forward_flops(model, T):
    """Estimated floating-point operations of one forward pass over T tokens (batch 1), as two terms."""
    c = model.config
    weights_term = 2 * matmul_weights(model) * T  # each token meets each weight once: a multiply and an add
    attention_term = 4 * c.num_layers * T * T * c.d_model  # q @ k^T and weights @ v: T * T * d multiply-adds each
    return weights_term, attention_term


def ms(fn):
    """Wall time of one call of fn(), in milliseconds."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


cost_lengths = [32, 64, 128, 256, 512]
ROUNDS = 15  # every round times every length once: a busy moment hits all of them alike
cost_runs = {T: [] for T in cost_lengths}
cost_inputs = {T: torch.randint(0, cost_config.vocab_size, (1, T), generator=torch.Generator().manual_seed(T))
               for T in cost_lengths}
threads = torch.get_num_threads()
torch.set_num_threads(1)  # one thread: steadier when other programs share the cores
try:
    with torch.no_grad():
        cost_model(cost_inputs[cost_lengths[-1]])  # warm-up, not timed
        for _ in range(ROUNDS):
            for T in cost_lengths:
                cost_runs[T].append(ms(lambda: cost_model(cost_inputs[T])))
finally:
    torch.set_num_threads(threads)
cost_ms = [statistics.median(cost_runs[T]) for T in cost_lengths]
weights_terms, attention_terms = zip(*(forward_flops(cost_model, T) for T in cost_lengths))
total_flops = [w + a for w, a in zip(weights_terms, attention_terms)]

print(f"model: d_model={cost_config.d_model}, {cost_config.num_layers} layers, "
      f"{matmul_weights(cost_model):,} weights in Linear layers")
for T, w, a, t in zip(cost_lengths, weights_terms, attention_terms, cost_ms):
    print(f"T = {T:3}: weights term {w / 1e6:7.1f} MFLOP, attention term {a / 1e6:7.1f} MFLOP, "
          f"attention share {a / (w + a):5.1%} | {t:6.1f} ms  [median of {ROUNDS}]")
# per block the attention term catches up with the weights term (12 d^2 weights) at T = 6 * d_model
print(f"per block, attention costs as much as the weights at T = 6 * d_model = {6 * cost_config.d_model} here, "
      f"{6 * GPT2_SMALL.d_model} for GPT-2 small")

fig, (ax_flops, ax_time) = plt.subplots(1, 2, figsize=(12, 4))
ax_flops.plot(cost_lengths, [w / 1e6 for w in weights_terms], "o-", label="weights term: 2 x weights x T")
ax_flops.plot(cost_lengths, [a / 1e6 for a in attention_terms], "o-", label="attention term: 4 x layers x T^2 x d")
ax_flops.plot(cost_lengths, [f / 1e6 for f in total_flops], "o--", color="black", label="total")
ax_flops.set(title="Estimated work of one forward pass", xlabel="sequence length T", ylabel="MFLOP")
ax_flops.legend()
scale = cost_ms[-1] / total_flops[-1]  # the estimate, scaled to meet the measurement at the longest T
ax_time.plot(cost_lengths, cost_ms, "o-", label=f"measured (median of {ROUNDS})")
ax_time.plot(cost_lengths, [f * scale for f in total_flops], "o--", color="black",
             label="proportional to the estimate")
ax_time.set(title="Measured time of one forward pass", xlabel="sequence length T", ylabel="milliseconds",
            ylim=(0, None))
ax_time.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# 左图：权重项是一条直线，attention 项是一条向上弯的抛物线。序列短时几乎全是权重项；T 越长，attention 所占的份额越大（上面的输出每行都打印了这个份额）。每个 block 有 12 × d² 个权重，所以 attention 项追上权重项的地方大约在 T = 6 × d_model，上面也打印了这个模型和 GPT-2 small 的这个长度：d_model 越宽，attention 越晚成为主角，所以在 GPT-2 small 的 1024 个 token 以内，大头仍是权重。
#
# 右图：实测时间大体跟着估计走，但不会完全重合。虚线按估计的 FLOPs 等比例画出，在最长的序列上和实测对齐。实测点偏离虚线常见有两个原因：每次调用都有一份固定开销（Python、逐层启动运算），序列越短，它占的比例越大；另一方面，矩阵越大，CPU 每秒通常能做越多的运算。机器上同时在跑别的程序时，各个点还会抖动，但交替测量加中位数让它们彼此之间仍然可比。
#
# > **EN** Left: the weights term is a straight line, the attention term a parabola bending upwards. For short
# > sequences nearly all the work is the weights term; the longer T, the larger attention's share (each line of
# > the output above prints it). A block has 12 × d² weights, so the attention term catches up with the weights
# > term around T = 6 × d_model; the cell prints that length for this model and for GPT-2 small. The wider
# > d_model, the later attention takes over, which is why up to GPT-2 small's 1024 tokens the weights still do
# > most of the work.
# >
# > Right: the measured time broadly follows the estimate without matching it exactly. The dashed line is the
# > estimated FLOPs scaled to meet the measurement at the longest sequence. Two common reasons for points off
# > that line: every call pays a fixed overhead (Python, launching each layer's operations), a larger share the
# > shorter the sequence; and larger matrices usually let the CPU do more operations per second. When other
# > programs share the machine the points also jitter, but interleaved rounds and the median keep them
# > comparable with each other.

# %% [markdown]
# ## 10. 从 logits 到下一个 token：temperature / From logits to the next token: temperature
#
# 生成文字就是一遍遍地问模型“下一个 token 是什么”。模型给出最后一个位置的 logits，softmax 变成概率分布，再从中选一个。总是选概率最大的（greedy）最稳，但容易陷入重复；按概率**抽样**更有变化。
#
# **temperature** T 是最简单的旋钮：softmax 之前把 logits 除以 T。logits 之间的差距被放大（T < 1）或缩小（T > 1）：T < 1 让分布更尖、更接近 greedy；T > 1 让分布更平、更随机；T = 1 就是模型本来的分布。例如六个候选词：
#
# > **EN** Generating text means asking the model "what comes next?" over and over. The model gives the last
# > position's logits, softmax turns them into a distribution, and we pick one token. Always taking the most
# > likely one (greedy) is safe but tends to repeat itself; **sampling** by the probabilities varies more.
# >
# > **Temperature** T is the simplest knob: divide the logits by T before the softmax. The gaps between
# > logits grow (T < 1) or shrink (T > 1): T < 1 sharpens the distribution towards greedy, T > 1 flattens it
# > towards random, T = 1 is the model's own distribution. Six candidate words, for example:

# %%
words = [" sat", " is", " ran", " was", " and", " dog"]
example_logits = torch.tensor([3.0, 2.2, 1.5, 0.8, 0.3, -0.5])
temperatures = [0.5, 1.0, 2.0]
probs_at = {t: torch.softmax(example_logits / t, dim=-1) for t in temperatures}
for t, p in probs_at.items():
    print(f"T = {t}: " + "  ".join(f"{w.strip()}={v:.3f}" for w, v in zip(words, p.tolist())))

fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.27
for i, t in enumerate(temperatures):
    ax.bar([x + (i - 1) * width for x in range(len(words))], probs_at[t].tolist(), width, label=f"T = {t}")
ax.set_xticks(range(len(words)), [repr(w) for w in words])
ax.set(title="softmax(logits / T): low T sharpens, high T flattens", xlabel="candidate next token",
       ylabel="probability")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# T = 0.5 时最可能的 " sat" 拿到了 0.788，T = 2 时只剩 0.344，尾部的 " dog" 从 0.001 涨到 0.060。
#
# > **EN** At T = 0.5 the favourite " sat" gets 0.788; at T = 2 only 0.344, while " dog" in the tail rises
# > from 0.001 to 0.060.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["temperature"])

# %% [markdown]
# ## 11. ✍️ Top-k 过滤 / Top-k filtering
#
# 真实的词表有 50257 个 token。单个冷门 token 的概率很小，但几万个加起来就不小了：每一步都有一定机会抽到一个离谱的 token。**top-k** 只保留每行最大的 k 个 logit，其余设成 `-inf`；softmax 之后它们的概率正好是 0（exp(-inf) = 0），剩下 k 个按原来的比例重新归一化。`top_k=1` 就是 greedy。
#
# > **EN** The real vocabulary has 50257 tokens. Each rare token is unlikely, but tens of thousands of them add
# > up: at every step there is some chance of drawing an absurd one. **Top-k** keeps the k largest logits of
# > each row and sets the rest to `-inf`; after the softmax they get exactly zero probability (exp(-inf) = 0)
# > and the k survivors are renormalised in their old proportions. `top_k=1` is greedy decoding.

# %% [solution] id=top_k_filter
def top_k_filter(logits: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """Keep the ``top_k`` largest logits of each row (the last dimension); set every other entry to -inf.

    logits: (batch, vocab_size) float tensor; more leading dimensions work the same way.
    top_k: None or 0 -> no filtering (return the logits unchanged); a top_k larger than vocab_size
    keeps everything. Entries tied with the k-th largest may all be kept.
    Returns a new tensor; ``logits`` itself must not change.
    """
    ### BEGIN SOLUTION
    if top_k is None or top_k == 0:
        return logits
    k = min(top_k, logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1): the smallest survivor
    return logits.masked_fill(logits < kth_largest, float("-inf"))
    ### END SOLUTION

# %% [tests] id=test_top_k_filter points=2
import torch
from course.checks import expect_own_work, expect_tensor_equal

expect_own_work(top_k_filter, lesson=35, what="top_k_filter")
inf = float("-inf")
row = torch.tensor([[1.5, -0.3, 4.2, 0.0, 2.7, -1.1]])
before = row.clone()
expect_tensor_equal(top_k_filter(row, 3), torch.tensor([[1.5, inf, 4.2, inf, 2.7, inf]]),
                    "top_k_filter([[1.5, -0.3, 4.2, 0.0, 2.7, -1.1]], 3)",
                    hint=("最大的 3 个值留在原位，其余位置都设成 -inf", "keep the 3 largest values where they are, put -inf everywhere else"))
expect_tensor_equal(row, before, ("调用之后，传给 top_k_filter 的 logits", "the logits passed to top_k_filter, after the call"),
                    hint=("不要原地修改输入：构造一个新的 tensor（用 masked_fill，或者先 clone）",
                          "do not modify the input in place: build a new tensor (masked_fill, or clone first)"))
cube = torch.tensor([[[0.2, -1.0, 3.0, 0.7], [5.0, 4.0, -2.0, 0.1]],
                     [[-0.5, -0.4, -0.3, -0.2], [1.0, 9.0, 2.0, 8.0]]])  # (2, 2, 4): 4 rows of 4 logits
for k, want in ((1, [[[inf, inf, 3.0, inf], [5.0, inf, inf, inf]], [[inf, inf, inf, -0.2], [inf, 9.0, inf, inf]]]),
                (2, [[[inf, inf, 3.0, 0.7], [5.0, 4.0, inf, inf]], [[inf, inf, -0.3, -0.2], [inf, 9.0, inf, 8.0]]])):
    expect_tensor_equal(top_k_filter(cube, k), torch.tensor(want),
                        (f"对形状为 (2, 2, 4) 的 logits 调用 top_k_filter(logits, {k})", f"top_k_filter(logits of shape (2, 2, 4), {k})"),
                        hint=("只在最后一维上操作（dim=-1，values[..., -1:]）：前面可以有任意多个维度，每一行各自过滤",
                              "work on the last dimension only (dim=-1, values[..., -1:]): any leading dimensions, "
                              "every row filtered on its own"))
### BEGIN HIDDEN TESTS
from course.checks import expect, expect_equal
import gpt2ref as ref

torch.manual_seed(6)
B, V = 5, 40
logits = torch.stack([torch.randperm(V).float() for _ in range(B)]) * 0.37 - 5.0  # no ties within a row
logits = logits + 0.01 * torch.rand(B, V)  # keeps the order, makes the values less regular
before = logits.clone()
for k in (1, 4, 17, V - 1):
    got = top_k_filter(logits, k)
    want = ref.top_k_filter(logits, k)
    survivors = torch.isfinite(want)
    expect_equal(tuple(got.shape), (B, V), (f"对形状为 {(B, V)} 的 logits 调用 top_k_filter(logits, {k}) 得到的形状",
                                              f"shape of top_k_filter(logits of shape {(B, V)}, {k})"))
    expect(bool((torch.isfinite(got) == survivors).all()), (f"top_k_filter(logits, {k}) 之后留下了哪些元素", f"which entries survive top_k_filter(logits, {k})"),
           (f"期望每行留下最大的 {k} 个；实际留下的不是这些（每行留下的个数："
            f"{torch.isfinite(got).sum(-1).tolist()}）",
            f"expected the {k} largest of each row; got a different set (per-row survivors: "
            f"{torch.isfinite(got).sum(-1).tolist()})"),
           hint=("torch.topk(logits, k, dim=-1) 可以找出每行最大的 k 个", "torch.topk(logits, k, dim=-1) finds the k largest per row"))
    expect_tensor_equal(got[survivors], logits[survivors], (f"top_k_filter(logits, {k}) 中留下的元素的值", f"values of the survivors of top_k_filter(logits, {k})"),
                        hint=("留下的元素保持原来的值", "survivors keep their original value"))
    expect(bool(torch.isneginf(got[~survivors]).all()), (f"top_k_filter(logits, {k}) 中被过滤掉的元素", f"filtered entries of top_k_filter(logits, {k})"),
           ("不全是 -inf", "not all -inf"),
           hint=("用 float('-inf')，不要用一个很大的负数或 0", "use float('-inf'), not a large negative number or 0"))
expect_tensor_equal(logits, before, ("多次调用 top_k_filter 之后的 logits", "logits after several top_k_filter calls"),
                    hint=("不要修改输入", "do not change the input"))
for k in (None, 0, V, V + 1, 10_000):
    expect_tensor_equal(top_k_filter(logits, k), logits, (f"vocab_size 为 {V} 时的 top_k_filter(logits, {k!r})", f"top_k_filter(logits, {k!r}) with vocab_size {V}"),
                        hint=("None 和 0 表示不过滤；top_k >= vocab_size 时保留所有元素",
                              "None and 0 mean no filtering; a top_k >= vocab_size keeps every entry"))
one = top_k_filter(logits, 1)
expect_tensor_equal(one.argmax(-1), logits.argmax(-1), ("top_k_filter(logits, 1) 中留下的那个元素", "the survivor of top_k_filter(logits, 1)"),
                    hint=("top_k=1 时每行只保留最大值", "top_k=1 keeps each row's maximum"))
deep = logits[:4].reshape(2, 2, V)  # (2, 2, vocab): every row along the last dimension is filtered on its own
expect_tensor_equal(top_k_filter(deep, 3), ref.top_k_filter(deep, 3), ("对形状为 (2, 2, 40) 的 logits 调用 top_k_filter(logits, 3)", "top_k_filter(logits of shape (2, 2, 40), 3)"),
                    hint=("只在最后一维上操作（dim=-1，values[..., -1:]）：前面可以有任意多个维度",
                          "work on the last dimension only (dim=-1, values[..., -1:]): any leading dimensions"))
### END HIDDEN TESTS
print("test_top_k_filter: ok")

# %% [markdown]
# 把 top-k 用在第 10 节的六个候选词上：k = 3 时后三个词的概率变成 0，前三个按原比例放大。
#
# > **EN** Top-k on the six candidates of section 10: with k = 3 the last three words get probability 0 and
# > the first three grow in their old proportions.

# %%
for k in (None, 3, 1):
    p = torch.softmax(top_k_filter(example_logits, k), dim=-1)
    print(f"top_k = {k!s:4}: " + "  ".join(f"{w.strip()}={v:.3f}" for w, v in zip(words, p.tolist())))

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["top-k"])

# %% [markdown]
# ## 12. 抽样和滑动窗口 / Sampling and the sliding window
#
# `torch.multinomial(probs, num_samples=1)` 按每行的概率抽一个下标，形状 `(B, 1)`，正好接到序列后面。给它一个带种子的 `torch.Generator`，每次就能抽出同样的结果，而不影响全局的随机状态：
#
# > **EN** `torch.multinomial(probs, num_samples=1)` draws one index per row by its probabilities, shape
# > `(B, 1)`, ready to append to the sequence. Give it a seeded `torch.Generator` and every run draws the same,
# > without touching the global random state:

# %%
probs = torch.tensor([0.5, 0.3, 0.2])
draws = torch.multinomial(probs, num_samples=10_000, replacement=True, generator=torch.Generator().manual_seed(0))
print("frequencies of 0, 1, 2 in 10,000 draws:", [round(f, 3) for f in (torch.bincount(draws, minlength=3) / 10_000).tolist()])
first = torch.multinomial(probs, 8, replacement=True, generator=torch.Generator().manual_seed(42))
again = torch.multinomial(probs, 8, replacement=True, generator=torch.Generator().manual_seed(42))
print("same seed, same draws:", first.tolist(), again.tolist())

# %% [markdown]
# 第二个问题：序列越生成越长，但位置表只有 `context_length` 行，模型一次最多吃 `context_length` 个 token。办法是**滑动窗口**：每一步只把最后 `context_length` 个 token 喂给模型，`idx[:, -context_length:]`。序列还短的时候，这个切片就是整个序列。比如 `context_length = 4`：
#
# > **EN** Second problem: the sequence keeps growing, but the position table has `context_length` rows, so
# > the model takes at most `context_length` tokens at once. The fix is a **sliding window**: each step feeds
# > only the last `context_length` tokens, `idx[:, -context_length:]`. While the sequence is still short, the
# > slice is the whole sequence. With `context_length = 4`:

# %%
sequence = torch.tensor([[10, 11, 12]])
for step in range(4):
    window = sequence[:, -4:]
    print(f"step {step}: sequence {sequence.tolist()[0]} -> the model sees {window.tolist()[0]}")
    sequence = torch.cat([sequence, torch.tensor([[20 + step]])], dim=1)

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["sliding-window"])

# %% [markdown]
# ## 13. ✍️ `generate`
#
# 把第 10–12 节串成一个循环。每一步：取滑动窗口 → 模型 → 最后一个位置的 logits → 除以 temperature → `top_k_filter` → softmax → `torch.multinomial` → 接到序列后面。另外几条约定：
#
# - `temperature <= 0` 抛出 `ValueError`（要 greedy 请用 `top_k=1`）。
# - `seed` 不是 None 时，同样的 seed 必须生成同样的 token（用 `torch.Generator().manual_seed(seed)` 或 `torch.manual_seed(seed)` 都行）。
# - 生成时不记录梯度（`torch.no_grad()`），模型处于 eval 模式（没有 dropout），结束后恢复模型原来的 train/eval 模式。
# - 每生成一个 token 只调用模型一次。
#
# > **EN** Chain sections 10–12 into a loop. Each step: take the sliding window → model → logits of the last
# > position → divide by temperature → `top_k_filter` → softmax → `torch.multinomial` → append. Also:
# > - `temperature <= 0` raises `ValueError` (for greedy decoding use `top_k=1`).
# > - With a `seed`, the same seed must give the same tokens (`torch.Generator().manual_seed(seed)` or
# >   `torch.manual_seed(seed)`, either works).
# > - No gradients while generating (`torch.no_grad()`), the model in eval mode (no dropout), and its own
# >   train/eval mode restored at the end.
# > - One model call per new token.
#
# 一步接一步的循环（`next` 就是这一步抽出来的 token）：
#
# > **EN** The loop, step after step (`next` is the token drawn in this step):
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     seq["idx: the sequence so far (B, T)"] --> window["window = idx[:, -context_length:]"]
#     window --> model["model(window)[:, -1, :]<br>last position's logits (B, vocab_size)"]
#     model --> temp["divide by temperature, then top_k_filter"]
#     temp --> draw["softmax, then torch.multinomial<br>next token (B, 1)"]
#     draw --> grow["idx = torch.cat([idx, next], dim=1)<br>(B, T + 1)"]
#     grow -- "repeat max_new_tokens<br>times" --> seq
# ```

# %% [solution] id=generate
def generate(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled tokens to ``idx`` and return the longer sequence.

    model: maps ids (B, t) -> logits (B, t, vocab_size) for t <= model.config.context_length.
    idx: (B, T) int64 prompt. Returns (B, T + max_new_tokens) int64 whose first T columns are idx.
    Each step (one model call per new token): feed the last model.config.context_length tokens, take the
    last position's logits, divide by temperature, keep the top_k best (top_k_filter), softmax, and draw
    one token per row with torch.multinomial.
    temperature <= 0 -> ValueError. The same seed (an int) gives the same tokens; seed=None: fresh randomness.
    No gradients are tracked; the model runs in eval mode and gets its train/eval mode back at the end.
    """
    ### BEGIN SOLUTION
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (for greedy decoding use top_k=1)")
    generator = None if seed is None else torch.Generator(device=idx.device).manual_seed(seed)
    context_length = model.config.context_length
    was_training = model.training
    model.eval()  # no dropout while sampling
    try:
        with torch.no_grad():
            for _ in range(max_new_tokens):
                window = idx[:, -context_length:]  # (B, <= context_length): the sliding window
                logits = model(window)[:, -1, :]  # (B, vocab_size): prediction for the next token
                logits = top_k_filter(logits / temperature, top_k)
                probs = torch.softmax(logits, dim=-1)
                next_token = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
                idx = torch.cat([idx, next_token], dim=1)
    finally:
        model.train(was_training)
    return idx
    ### END SOLUTION

# %% [markdown]
# 三个测试都用一个“替身模型”代替真正的 GPT：它返回我们指定的 logits，记下每次收到的输入，并且最多只让调用 `max_new_tokens` 次（所以一个停不下来的循环会立刻报错，而不是卡住）。抽样测试是统计检验：抽两万次，看频率是否接近 softmax(logits / T)，和你用哪种方式消耗随机数无关。测试调用你的 `generate` 时，临时用参考实现的 `top_k_filter` 代替你的（你的由 `test_top_k_filter` 单独评分），所以 top-k 里的错误不会让这里再丢分。
#
# > **EN** The three tests replace the GPT with a stand-in model: it returns logits we choose, records every
# > input it gets, and allows at most `max_new_tokens` calls (so a loop that never stops fails at once instead
# > of hanging). The sampling test is statistical: it draws twenty thousand tokens and compares their
# > frequencies with softmax(logits / T), whatever way your code consumes random numbers. While these tests
# > call your `generate`, the reference `top_k_filter` stands in for yours (yours is graded by
# > `test_top_k_filter` alone), so a slip in top-k does not cost points here as well.

# %% [tests] id=test_generate_sampling points=2
import torch
from torch import nn
from types import SimpleNamespace
from course.checks import expect_own_work, stand_ins, expect_shape, expect, say
import gpt2ref as ref

expect_own_work(generate, lesson=35, what="generate")

def run_generate(*args, **kwargs):
    """Your generate, with the reference top_k_filter standing in for yours during the call
    (test_top_k_filter grades yours, so a slip there does not cost these points too)."""
    with stand_ins(globals(), top_k_filter=ref.top_k_filter):
        return generate(*args, **kwargs)

class StandIn(nn.Module):
    """Returns `last` as the logits of the last position (`other` elsewhere); allows `budget` calls."""
    def __init__(self, last, other, context_length, budget):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.config = SimpleNamespace(context_length=context_length)
        self.last, self.other, self.budget, self.calls = last, other, budget, 0
    def forward(self, idx):
        self.calls += 1
        if self.calls > self.budget:
            raise RuntimeError(say((f"max_new_tokens={self.budget} 时 generate 调用模型超过了 {self.budget} 次："
                                    f"应当每个新 token 调用一次，然后停止",
                                    f"generate called the model more than {self.budget} time(s) for "
                                    f"max_new_tokens={self.budget}: one call per new token, then stop")))
        out = self.other.expand(idx.shape[0], idx.shape[1], -1).clone()
        out[:, -1] = self.last
        return out + 0 * self.anchor

last = torch.tensor([2.0, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, 1.5])
other = torch.tensor([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 0.0])
n = 20_000
for temperature in (0.5, 2.0):
    torch.manual_seed(7)
    out = run_generate(StandIn(last, other, 16, 1), torch.zeros(n, 3, dtype=torch.long), 1, temperature=temperature)
    expect_shape(out, (n, 4), (f"prompt 形状为 ({n}, 3) 时 generate(model, prompt, 1, temperature={temperature}) 的输出",
                       f"generate(model, prompt of shape ({n}, 3), 1, temperature={temperature})"))
    freq = torch.bincount(out[:, -1], minlength=8).double() / n
    want = torch.softmax(last.double() / temperature, dim=-1)
    tv = 0.5 * (freq - want).abs().sum().item()
    expect(tv < 0.03, (f"temperature 为 {temperature} 时 {n:,} 次抽样的频率", f"frequencies of {n:,} draws at temperature {temperature}"),
           (f"与 softmax(logits / {temperature}) 的全变差距离为 {tv:.3f}"
            f"（实际是 {[round(v, 3) for v in freq.tolist()]}，期望 {[round(v, 3) for v in want.tolist()]}）",
            f"differ from softmax(logits / {temperature}) by a total variation of {tv:.3f} "
            f"(got {[round(v, 3) for v in freq.tolist()]}, expected {[round(v, 3) for v in want.tolist()]})"),
           hint=("只用最后一个位置的 logits，除以 temperature（不是乘），再做 softmax，再用 torch.multinomial 抽样",
                 "use the LAST position's logits, divide them by temperature (not multiply), softmax, torch.multinomial"))
### BEGIN HIDDEN TESTS
for temperature in (1.0, 0.7):
    torch.manual_seed(8)
    out = run_generate(StandIn(last, other, 16, 1), torch.zeros(n, 3, dtype=torch.long), 1,
                   temperature=temperature, top_k=3)
    freq = torch.bincount(out[:, -1], minlength=8).double() / n
    top3 = [0, 1, 7]  # the three largest logits of `last`
    outside = [i for i in range(8) if i not in top3]
    expect(freq[outside].sum().item() == 0, (f"top_k=3、temperature={temperature} 时的抽样", f"draws with top_k=3, temperature={temperature}"),
           (f"{n} 次抽样中有 {int(freq[outside].sum().item() * n)} 次落在分数最高的 3 个 token 之外",
            f"{int(freq[outside].sum().item() * n)} of {n} draws fell outside the 3 best tokens"),
           hint=("softmax 之前先用 top_k_filter(logits / temperature, top_k) 过滤缩放后的 logits",
                 "filter the scaled logits with top_k_filter(logits / temperature, top_k) before the softmax"))
    want = torch.zeros(8, dtype=torch.double)
    want[top3] = torch.softmax(last[top3].double() / temperature, dim=-1)
    tv = 0.5 * (freq - want).abs().sum().item()
    expect(tv < 0.03, (f"top_k=3、temperature={temperature} 时 {n:,} 次抽样的频率",
            f"frequencies of {n:,} draws with top_k=3, temperature={temperature}"),
           (f"与重新归一化后的 top-3 分布的全变差距离为 {tv:.3f}",
            f"differ from the renormalised top-3 distribution by a total variation of {tv:.3f}"),
           hint=("先除以 temperature，再 top_k_filter，然后 softmax 和 torch.multinomial",
                 "temperature first, then top_k_filter, then softmax and torch.multinomial"))
torch.manual_seed(9)
out = run_generate(StandIn(last, other, 16, 1), torch.zeros(n, 3, dtype=torch.long), 1)
freq = torch.bincount(out[:, -1], minlength=8).double() / n
tv = 0.5 * (freq - torch.softmax(last.double(), dim=-1)).abs().sum().item()
expect(tv < 0.03, ("默认 temperature 1.0 下抽样的频率", "frequencies of draws at the default temperature 1.0"),
       (f"与 softmax(logits) 的全变差距离为 {tv:.3f}", f"differ from softmax(logits) by a total variation of {tv:.3f}"),
       hint=("temperature 的默认值是 1.0", "temperature defaults to 1.0"))
### END HIDDEN TESTS
print("test_generate_sampling: ok")

# %% [tests] id=test_generate_window points=2
import torch
from torch import nn
from types import SimpleNamespace
from course.checks import expect_own_work, stand_ins, expect_equal, expect_tensor_equal, say
import gpt2ref as ref

expect_own_work(generate, lesson=35, what="generate")

def run_generate(*args, **kwargs):
    """Your generate, with the reference top_k_filter standing in for yours during the call
    (test_top_k_filter grades yours, so a slip there does not cost these points too)."""
    with stand_ins(globals(), top_k_filter=ref.top_k_filter):
        return generate(*args, **kwargs)

class Recorder(nn.Module):
    """Uniform logits over `vocab` tokens; records every input; allows `budget` calls."""
    def __init__(self, context_length, budget, vocab=50):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.config = SimpleNamespace(context_length=context_length)
        self.budget, self.vocab, self.inputs = budget, vocab, []
    def forward(self, idx):
        if len(self.inputs) >= self.budget:
            raise RuntimeError(say((f"max_new_tokens={self.budget} 时 generate 调用模型超过了 {self.budget} 次："
                                    f"应当每个新 token 调用一次，然后停止",
                                    f"generate called the model more than {self.budget} times for "
                                    f"max_new_tokens={self.budget}: one call per new token, then stop")))
        self.inputs.append(idx.detach().clone())
        return torch.zeros(idx.shape[0], idx.shape[1], self.vocab) + 0 * self.anchor

prompt = torch.tensor([[31, 32, 33, 34, 35, 36]])  # 6 tokens, longer than the context of 4
rec = Recorder(context_length=4, budget=3)
out = run_generate(rec, prompt, 3)
expect_tensor_equal(out[:, :6], prompt, ("generate 输出的前 6 个 token", "first 6 tokens of generate's output"),
                    hint=("保留 prompt，新 token 接在它后面", "keep the prompt, append after it"))
expect_equal(len(rec.inputs), 3, ("max_new_tokens=3 时调用模型的次数", "model calls for max_new_tokens=3"),
             hint=("每个新 token 调用一次模型", "one call per new token"))
for step, fed in enumerate(rec.inputs):
    expect_tensor_equal(fed, out[:, : 6 + step][:, -4:], (f"第 {step} 步模型看到的输入（context_length 4）", f"what the model saw at step {step} (context_length 4)"),
                        hint=("把当前序列的最后 context_length 个 token 喂给模型：idx[:, -context_length:]",
                              "feed the last context_length tokens of the running sequence: idx[:, -context_length:]"))
### BEGIN HIDDEN TESTS
torch.manual_seed(10)
prompt = torch.randint(0, 50, (2, 2))  # shorter than the context: the window starts as the whole sequence
rec = Recorder(context_length=5, budget=9)
out = run_generate(rec, prompt, 9)
expect_equal(tuple(out.shape), (2, 11), ("prompt 形状为 (2, 2) 时 generate(model, prompt, 9) 的形状", "shape of generate(model, prompt (2, 2), 9)"))
expect_equal(len(rec.inputs), 9, ("max_new_tokens=9 时调用模型的次数", "model calls for max_new_tokens=9"),
             hint=("每个新 token 调用一次模型", "one call per new token"))
for step, fed in enumerate(rec.inputs):
    expect_tensor_equal(fed, out[:, : 2 + step][:, -5:], (f"第 {step} 步模型看到的输入（prompt 长 2，context 为 5）", f"what the model saw at step {step} (prompt 2, context 5)"),
                        hint=("序列比 context_length 短时把整个序列喂进去；之后只喂最后 context_length 个 token；"
                              "不要做 padding",
                              "while the sequence is shorter than context_length feed all of it; then the last "
                              "context_length tokens; never pad"))
### END HIDDEN TESTS
print("test_generate_window: ok")

# %% [tests] id=test_generate_contract points=1
import torch
from torch import nn
from types import SimpleNamespace
from course.checks import expect_own_work, stand_ins, expect, expect_equal, expect_raises, expect_tensor_equal, say
import gpt2ref as ref

expect_own_work(generate, lesson=35, what="generate")

def run_generate(*args, **kwargs):
    """Your generate, with the reference top_k_filter standing in for yours during the call
    (test_top_k_filter grades yours, so a slip there does not cost these points too)."""
    with stand_ins(globals(), top_k_filter=ref.top_k_filter):
        return generate(*args, **kwargs)

class Watcher(nn.Module):
    """Fixed random logits; records grad mode and train/eval mode at every call; allows `budget` calls."""
    def __init__(self, budget, vocab=50, context_length=64):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.config = SimpleNamespace(context_length=context_length)
        self.logits = torch.randn(vocab, generator=torch.Generator().manual_seed(0))
        self.budget, self.calls, self.grad_seen, self.training_seen = budget, 0, [], []
    def forward(self, idx):
        self.calls += 1
        if self.calls > self.budget:
            raise RuntimeError(say((f"max_new_tokens={self.budget} 时 generate 调用模型超过了 {self.budget} 次："
                                    f"应当每个新 token 调用一次，然后停止",
                                    f"generate called the model more than {self.budget} times for "
                                    f"max_new_tokens={self.budget}: one call per new token, then stop")))
        self.grad_seen.append(torch.is_grad_enabled())
        self.training_seen.append(self.training)
        return self.logits.expand(idx.shape[0], idx.shape[1], -1) + self.anchor

prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
a = run_generate(Watcher(20), prompt, 20, seed=123)
b = run_generate(Watcher(20), prompt, 20, seed=123)
expect_equal(tuple(a.shape), (2, 23), ("prompt 形状为 (2, 3) 时 generate(model, prompt, 20) 的形状", "shape of generate(model, prompt (2, 3), 20)"),
             hint="(B, T + max_new_tokens)")
expect_tensor_equal(a, b, ("seed=123 时两次调用 generate", "two calls of generate with seed=123"),
                    hint=("用 seed 固定抽样：torch.Generator().manual_seed(seed)", "seed the draws: torch.Generator().manual_seed(seed)"))
expect_raises(ValueError, lambda: run_generate(Watcher(1), prompt, 1, temperature=0.0), ("temperature=0.0 时的 generate", "generate with temperature=0.0"),
              hint=("一开始就检查 temperature <= 0，是的话抛出 ValueError", "check temperature <= 0 first and raise ValueError"))
short_prompt = torch.tensor([[9, 8]])
unseeded = [run_generate(Watcher(12, vocab=30), short_prompt, 12) for _ in range(2)]
expect(not torch.equal(*unseeded), ("seed=None 时两次调用 generate（prompt 形状 (1, 2)，12 个新 token）",
                                    "two calls of generate with seed=None (prompt of shape (1, 2), 12 new tokens)"),
       ("生成的 token 完全相同", "gave identical tokens"),
       hint=("seed=None 表示每次都是新的随机性：不要固定种子（用全局的随机数生成器，或者 generator=None）",
             "seed=None means fresh randomness: no fixed seed (use the global generator, or generator=None)"))
busy = Watcher(4, vocab=30)
busy.train()
grown = run_generate(busy, short_prompt, 4)
expect(not any(busy.training_seen), ("对 train 模式的模型调用 generate 时，模型在生成过程中的模式",
                                     "mode of a model in train mode while generate runs it"),
       ("模型在 train 模式下运行（dropout 开着）", "the model ran in train mode (dropout on)"),
       hint=("在循环之前调用 model.eval()", "call model.eval() before the loop"))
expect(not any(busy.grad_seen), ("generate 过程中的 autograd", "autograd during generate"),
       ("调用模型时记录了梯度", "gradients were tracked during the model calls"),
       hint=("把循环放在 torch.no_grad() 里", "wrap the loop in torch.no_grad()"))
expect(busy.training, ("对 train 模式的模型调用 generate 之后的 model.training",
                       "model.training after generate on a model in train mode"),
       ("模型被留在了 eval 模式", "the model was left in eval mode"),
       hint=("调用前先记下 model.training，最后调用 model.train(was_training)",
             "remember model.training before, call model.train(was_training) at the end"))
### BEGIN HIDDEN TESTS
expect_tensor_equal(a[:, :3], prompt, ("generate 输出的前 3 个 token", "first 3 tokens of generate's output"),
                    hint=("保留 prompt，新 token 接在它后面", "keep the prompt, append after it"))
expect_equal(a.dtype, torch.int64, ("generate 输出的 dtype", "dtype of generate's output"),
             hint=("token id 是 int64（torch.long）", "token ids are int64 (torch.long)"))
c = run_generate(Watcher(20), prompt, 20, seed=124)
expect(not torch.equal(a, c), ("seed=123 与 seed=124 的 generate", "generate with seed=123 vs seed=124"),
       ("生成的 token 完全相同", "gave identical tokens"),
       hint=("用 seed 参数给抽样设定种子", "use the seed argument to seed the draws"))
fresh = [run_generate(Watcher(20), prompt, 20) for _ in range(2)]
expect(not torch.equal(*fresh), ("seed=None 时两次调用 generate", "two calls of generate with seed=None"),
       ("生成的 token 完全相同", "gave identical tokens"),
       hint=("seed=None 表示每次都是新的随机性：不要固定种子（用全局的随机数生成器，或者 generator=None）",
             "seed=None means fresh randomness: no fixed seed (use the global generator, or generator=None)"))
expect_raises(ValueError, lambda: run_generate(Watcher(1), prompt, 1, temperature=-0.5), ("temperature=-0.5 时的 generate", "generate with temperature=-0.5"),
              hint=("任何 temperature <= 0 都不合法", "any temperature <= 0 is invalid"))
w = Watcher(5)
w.train()
out = run_generate(w, prompt, 5)
expect(w.training, ("对 train 模式的模型调用 generate 之后的 model.training",
                    "model.training after generate on a model in train mode"),
       ("模型被留在了 eval 模式", "the model was left in eval mode"),
       hint=("调用前先记下 model.training，最后调用 model.train(was_training)",
             "remember model.training before, call model.train(was_training) at the end"))
expect(not any(w.training_seen), ("generate 过程中模型的模式", "model mode during generate"),
       ("模型在 train 模式下运行（dropout 开着）", "the model ran in train mode (dropout on)"),
       hint=("在循环之前调用 model.eval()", "call model.eval() before the loop"))
expect(not any(w.grad_seen), ("generate 过程中的 autograd", "autograd during generate"),
       ("调用模型时记录了梯度", "gradients were tracked during the model calls"),
       hint=("把循环放在 torch.no_grad() 里", "wrap the loop in torch.no_grad()"))
w = Watcher(3)
w.eval()
run_generate(w, prompt, 3)
expect(not w.training, ("对 eval 模式的模型调用 generate 之后的 model.training",
                        "model.training after generate on a model in eval mode"),
       ("模型被切换到了 train 模式", "the model was switched to train mode"),
       hint=("恢复模型原来的模式，不要一律调用 model.train()", "restore the mode the model had, do not always call model.train()"))
expect_tensor_equal(run_generate(Watcher(0), prompt, 0), prompt, ("generate(model, prompt, 0) 的结果", "generate(model, prompt, 0)"),
                    hint=("max_new_tokens=0 时不调用模型，原样返回 prompt",
                          "max_new_tokens=0 returns the prompt as it is, without calling the model"))
### END HIDDEN TESTS
print("test_generate_contract: ok")

# %% [markdown]
# ## 14. 让模型“说话” / Your model speaks
#
# 最后把所有东西连起来：tiktoken 把文字变成 token id，你的 `GPTModel` 给出 logits，你的 `generate` 一个个地抽 token，tiktoken 再把 id 变回文字。为了快，用一个很小的模型（d_model = 64，2 层），但词表是 GPT-2 完整的 50257 个 token；context 只有 16，所以生成 30 个 token 时滑动窗口会真的滑起来。
#
# > **EN** Now connect everything: tiktoken turns text into token ids, your `GPTModel` gives logits, your
# > `generate` draws tokens one at a time, and tiktoken turns the ids back into text. For speed the model is
# > tiny (d_model = 64, 2 layers) but it has GPT-2's full vocabulary of 50257 tokens; its context is only 16,
# > so generating 30 tokens really makes the window slide.

# %% tags=skip-autograde
small_config = GPTConfig(vocab_size=enc.n_vocab, context_length=16, d_model=64, num_heads=4, num_layers=2, dropout=0.0)
torch.manual_seed(0)
small_model = GPTModel(small_config)
print(f"a random GPT with {count_parameters(small_model):,} parameters")

prompt_text = "The meaning of life is"
prompt_ids = torch.tensor([enc.encode(prompt_text)])  # (1, T)
print("prompt ids:", prompt_ids.tolist()[0])
out_ids = generate(small_model, prompt_ids, max_new_tokens=30, temperature=1.0, top_k=50, seed=0)
print(f"{prompt_ids.shape[1]} prompt tokens + 30 new = {out_ids.shape[1]} tokens, context_length = 16")
print("\n" + repr(enc.decode(out_ids[0].tolist())))

# %% [markdown]
# 一堆乱码，这完全正常！模型的权重还是随机的，它从没见过任何文字。看看它对下一个 token 的分布：
#
# > **EN** Gibberish, and that is exactly right: the weights are still random, the model has never seen any
# > text. Look at its distribution over the next token:

# %% tags=skip-autograde
with torch.no_grad():
    next_probs = torch.softmax(small_model(prompt_ids)[0, -1], dim=-1)
entropy = -(next_probs * next_probs.log()).sum().item()
print(f"largest next-token probability: {next_probs.max().item():.6f}   (uniform: 1/{enc.n_vocab} = {1 / enc.n_vocab:.6f})")
print(f"entropy: {entropy:.3f} nats   (uniform over the vocabulary: ln({enc.n_vocab}) = {math.log(enc.n_vocab):.3f})")

# %% [markdown]
# 随机初始化的权重很小（std 0.02），logits 彼此差不多，softmax 几乎是均匀分布：熵和“5 万个 token 里随便挑一个”几乎一样。所以每一步抽到的都是随机的词片段，拼起来当然没有意义。模型的结构已经完全正确，缺的是**学到的权重**：第 36 课写训练循环，让模型从文本中学习；第 37 课把 OpenAI 训练好的 GPT-2 权重装进你这个 `GPTModel`，同样的 `generate` 就会写出通顺的英文。
#
# > **EN** Random weights are small (std 0.02), the logits are all about equal, and the softmax is almost
# > uniform: its entropy is nearly that of picking any of the fifty thousand tokens at random. So every step
# > draws a random word piece, and together they mean nothing. The architecture is already right; what is
# > missing is **learned weights**: lesson 36 writes the training loop that learns from text, and lesson 37
# > loads OpenAI's trained GPT-2 weights into this very `GPTModel`, where the same `generate` writes fluent
# > English.

# %% [markdown]
# ## 今天的模型有什么不同 / How today's models differ
#
# GPT-2 的骨架今天依然通用：token embedding、一串 pre-LN 的 block、最后一个 norm 和 LM head。较新的开源模型（比如 Llama 系列）主要换掉了三个零件：
#
# - **RMSNorm** 代替 LayerNorm：不减均值，只把向量除以它的均方根（root mean square），再乘上学出来的 `weight`，没有 `bias`。少算一步，训练效果相当。
# - **SwiGLU** 代替 GELU 的 feed-forward：第一层变成两个并排的线性层，一个过 SiLU 激活，再和另一个逐元素相乘，最后投影回 `d_model`。因为多了一个矩阵，隐藏层通常会调窄一些，让参数量和原来差不多。
# - **RoPE**（rotary position embedding）代替学出来的位置表：输入端不再加位置向量，而是在每个 attention 头里，按位置把 q 和 k 的每一对分量旋转一个角度。这样 q·k 里和位置有关的部分只取决于两个 token 的相对距离（它当然还取决于两个 token 的内容），也不再有一张行数固定的位置表。
#
# 此外还常见：线性层去掉 `bias`；几个 query 头共用一组 k、v（grouped-query attention），让生成时的 KV cache 小得多。你这一课写的 `GPTModel` 只要换掉这几个模块，就是一个现代模型的雏形。
#
# > **EN** GPT-2's skeleton is still the common one: token embeddings, a stack of pre-LN blocks, a final norm
# > and the LM head. Newer open models (the Llama family, for example) mostly swap three parts:
# >
# > - **RMSNorm** instead of LayerNorm: no mean is subtracted; the vector is divided by its root mean square
# >   and multiplied by a learned `weight`, with no `bias`. One step less, about as good in training.
# > - **SwiGLU** instead of the GELU feed-forward: the first layer becomes two linear layers side by side; one
# >   goes through a SiLU activation and multiplies the other element by element, then a projection returns to
# >   `d_model`. With one matrix more, the hidden layer is usually made narrower so the parameter count stays
# >   about the same.
# > - **RoPE** (rotary position embeddings) instead of a learned position table: nothing is added to the
# >   input; inside every attention head, each pair of entries of q and k is rotated by an angle set by the
# >   position. Then the positional part of q·k depends only on how far apart two tokens are (q·k still
# >   depends on what the two tokens are), and there is no position table with a fixed number of rows.
# >
# > Also common: no `bias` in the linear layers, and several query heads sharing one set of k and v
# > (grouped-query attention), which makes the KV cache during generation much smaller. Swap these modules in
# > the `GPTModel` you wrote here and you have the outline of a modern model.

# %% [markdown]
# ## 15. 课后小测 / After the lesson

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# ## 小结 / Summary
#
# 你现在有了一个完整的 GPT-2：
#
# - `GPTModel`：token + 位置 embedding → `num_layers` 个 Transformer block → final LayerNorm → LM head（和 token embedding 共享权重），GPT-2 的初始化，两个写入 residual stream 的投影按 1/sqrt(2 · num_layers) 缩小。
# - `count_parameters`：共享的权重只数一次；在 `meta` device 上数出 GPT-2 small 的 124,439,808 个参数，不花内存。
# - `top_k_filter` 和 `generate`：temperature、top-k、multinomial 抽样、滑动窗口；用 tiktoken 从文字到文字。
#
# **下一课（第 36 课）**：给模型一个目标。用 cross-entropy 衡量“下一个 token 猜得有多准”，写训练循环和验证，用 AdamW 在随 Python 一起发布的文本（Python 自带的帮助文档）上训练一个小模型，看 validation loss 下降、生成的文字慢慢变得像样。
#
# > **EN** You now have a complete GPT-2:
# > - `GPTModel`: token + position embeddings → `num_layers` transformer blocks → final LayerNorm → LM head
# >   (sharing its weight with the token embedding), GPT-2's initialisation, and the two projections that
# >   write into the residual stream scaled by 1/sqrt(2 · num_layers).
# > - `count_parameters`: a shared weight counts once; GPT-2 small's 124,439,808 parameters counted on the
# >   `meta` device at no memory cost.
# > - `top_k_filter` and `generate`: temperature, top-k, multinomial sampling, the sliding window; text in,
# >   text out through tiktoken.
# >
# > **Next (lesson 36):** give the model a goal. Cross-entropy measures how well it predicts the next token;
# > you write the training loop (AdamW) and evaluation, train a small model on text that ships with Python
# > (its own help pages), and watch the validation loss fall and the samples slowly start to look like language.

# %% [markdown]
# ## 选做：再多几个采样旋钮 / Optional stretch: a few more sampling knobs
#
# 这一节不计分，做不做都不影响成绩。三个小练习都是在第 10–13 节的基础上加一个旋钮：先读说明，再把 cell 里的 `raise NotImplementedError(...)` 换成你的代码，然后运行紧跟的检查 cell。还没写的函数，检查 cell 只会说一声“还没写”并跳过，所以整本 notebook 照样能从头跑到尾。
#
# > **EN** This section is not graded; skipping it costs nothing. Each of the three small exercises adds one knob
# > to sections 10–13: read the explanation, replace the `raise NotImplementedError(...)` in the cell with your
# > code, then run the check cell right after it. For a function not written yet the check cell just says so
# > and skips, so the whole notebook still runs top to bottom.

# %%
from course.checks import say


def run_optional_check(name, check):
    """Run the checks of an optional exercise; skip politely while its function is not written yet."""
    try:
        check()
    except NotImplementedError as exc:
        print(say((f"{name}：跳过，还有函数没写（{exc}）", f"{name}: skipped, a function is not written yet ({exc})")))
        return
    print(f"{name}: ok")

# %% [markdown]
# ### 选做 1：top-p（nucleus）过滤 / Stretch 1: top-p (nucleus) filtering
#
# top-k 每一步都留下固定的 k 个 token，不管分布是尖还是平。**top-p** 换一个思路：把 token 按概率从大到小排好，从头往下加，加到累计概率**达到** `top_p` 为止，只留下这些 token（至少留一个），其余设成 `-inf`。模型很有把握时只剩一两个候选，拿不准时候选自动变多。`top_p` 为 None 或 ≥ 1 时不过滤。
#
# 提示：`torch.sort(..., descending=True)` 给出排好的值和它们原来的位置；`torch.cumsum` 算累计概率；一个 token 该被去掉，当且仅当排在它**前面**的 token 的概率之和已经达到 `top_p`。最后把结果按原来的位置放回去（`scatter`），或者算出“最小的幸存 logit”再用 `masked_fill`。
#
# > **EN** Top-k keeps a fixed k tokens at every step, whether the distribution is sharp or flat. **Top-p** takes
# > another view: sort the tokens by probability, largest first, add them up from the top until the running
# > total **reaches** `top_p`, keep just those (at least one) and set the rest to `-inf`. When the model is sure
# > only one or two candidates remain; when it is unsure, more do. `top_p` None or ≥ 1 means no filtering.
# >
# > Hint: `torch.sort(..., descending=True)` gives the sorted values and where they came from; `torch.cumsum`
# > gives the running total; a token goes exactly when the tokens sorted **before** it already add up to
# > `top_p`. Finally put the result back in the original order (`scatter`), or find the smallest surviving
# > logit and use `masked_fill`.

# %%
def top_p_filter(logits: torch.Tensor, top_p: float | None) -> torch.Tensor:
    """Keep, in every row (last dimension), the most likely tokens whose softmax probabilities first add up to
    at least top_p (always at least one token); set every other entry to -inf.

    top_p None or >= 1 -> return the logits unchanged. Returns a new tensor; ``logits`` must not change.
    """
    raise NotImplementedError(say(("选做：写好 top_p_filter，再运行下面的检查 cell",
                                   "optional: write top_p_filter, then run the check cell below")))

# %%
def check_top_p_filter():
    import torch
    from course.checks import expect, expect_tensor_equal

    inf = float("-inf")
    row = torch.tensor([[0.15, 0.5, 0.05, 0.3]]).log()  # probabilities 0.15, 0.5, 0.05, 0.3
    before = row.clone()
    expect_tensor_equal(top_p_filter(row, 0.7), torch.tensor([[inf, row[0, 1], inf, row[0, 3]]]),
                        "top_p_filter(log([0.15, 0.5, 0.05, 0.3]), 0.7)",
                        hint=("只有 0.5 时还不到 0.7，0.5 + 0.3 就达到了：留下这两个，位置不变",
                              "0.5 alone is below 0.7, 0.5 + 0.3 reaches it: keep those two, where they are"))
    expect_tensor_equal(top_p_filter(row, 0.1), torch.tensor([[inf, row[0, 1], inf, inf]]),
                        "top_p_filter(..., 0.1)", hint=("概率最大的 token 总是留下", "the most likely token always stays"))
    for p in (None, 1.0):
        expect_tensor_equal(top_p_filter(row, p), row, f"top_p_filter(..., {p})",
                            hint=("top_p 为 None 或 >= 1 时不过滤", "None or >= 1: no filtering"))
    expect_tensor_equal(row, before, ("调用之后，传给 top_p_filter 的 logits", "the logits after top_p_filter"),
                        hint=("构造一个新的 tensor，不要原地修改", "build a new tensor, do not edit in place"))
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(0)) * 2
    for p in (0.3, 0.9):
        kept = torch.isfinite(top_p_filter(logits, p))
        probs = torch.softmax(logits, dim=-1)
        for r in range(len(logits)):
            n = int(kept[r].sum())
            order = probs[r].argsort(descending=True)
            expect(bool(kept[r][order[:n]].all()),
                   (f"对随机 logits 调用 top_p_filter(logits, {p}) 的第 {r} 行", f"row {r} of top_p_filter(random logits, {p})"),
                   ("留下的不是概率最大的那些 token", "the survivors are not the most likely tokens"),
                   hint=("按概率从大到小排序", "sort by probability, largest first"))
            mass = probs[r][order[:n]].sum().item()
            expect(mass >= p - 1e-6 and mass - probs[r][order[n - 1]].item() < p,
                   (f"对随机 logits 调用 top_p_filter(logits, {p}) 的第 {r} 行", f"row {r} of top_p_filter(random logits, {p})"),
                   (f"留下了 {n} 个，概率之和为 {mass:.4f}：不是累计概率达到 {p} 的最小集合",
                    f"{n} survivors with probability {mass:.4f}: not the smallest set reaching {p}"),
                   hint=("一个 token 该被去掉，当且仅当排在它前面的 token 的概率之和已经达到 top_p",
                         "drop a token when the tokens before it already add up to top_p"))


run_optional_check("top_p_filter", check_top_p_filter)

# %% [markdown]
# ### 选做 2：重复惩罚 / Stretch 2: a repetition penalty
#
# 小模型很容易陷进“同一句话说个不停”。**重复惩罚**让已经出现过的 token 变得不那么诱人：对序列里出现过的每个 token id（每一行自己的序列），它的 logit 如果是正的就**除以** `penalty`，是负的就**乘以** `penalty`（`penalty > 1` 时两种情况都让它变小）。一个 token 出现多次也只罚一次；`penalty = 1` 什么都不变。这是 Hugging Face 的 `repetition_penalty` 用的规则。
#
# 提示：`torch.gather(logits, -1, idx)` 取出出现过的 token 的 logit，`torch.where` 按正负选除还是乘，`scatter` 写回一个复制出来的张量。同一个 id 出现多次时，写回的都是同一个值，所以不会罚两次。
#
# > **EN** Small models easily get stuck saying the same thing over and over. A **repetition penalty** makes
# > tokens that already occurred less tempting: for every token id in the sequence (each row its own
# > sequence), its logit is **divided** by `penalty` when positive and **multiplied** by `penalty` when negative
# > (with `penalty > 1` both make it smaller). A token that occurs several times is penalised once; `penalty = 1`
# > changes nothing. This is the rule behind Hugging Face's `repetition_penalty`.
# >
# > Hint: `torch.gather(logits, -1, idx)` picks the logits of the tokens that occurred, `torch.where` chooses
# > divide or multiply by the sign, and `scatter` writes them back into a copy. An id that occurs several times
# > writes the same value each time, so it is never penalised twice.

# %%
def apply_repetition_penalty(logits: torch.Tensor, idx: torch.Tensor, penalty: float) -> torch.Tensor:
    """logits (B, vocab_size), idx (B, T): the tokens so far. For every id in row b of idx, the logit in row b
    is divided by penalty if positive and multiplied by penalty otherwise, once however often the id occurs.

    Returns a new tensor; ``logits`` must not change. penalty == 1 gives equal logits.
    """
    raise NotImplementedError(say(("选做：写好 apply_repetition_penalty，再运行下面的检查 cell",
                                   "optional: write apply_repetition_penalty, then run the check cell below")))

# %%
def check_apply_repetition_penalty():
    import torch
    from course.checks import expect_close, expect_tensor_equal

    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0], [1.0, 1.0, -2.0, 0.0]])
    before = logits.clone()
    idx = torch.tensor([[0, 1, 0], [2, 2, 2]])  # row 0 saw tokens 0 and 1 (0 twice), row 1 saw token 2
    expect_close(apply_repetition_penalty(logits, idx, 2.0),
                 torch.tensor([[1.0, -2.0, 0.5, 3.0], [1.0, 1.0, -4.0, 0.0]]),
                 ("apply_repetition_penalty(logits, idx, 2.0) 的结果", "apply_repetition_penalty(logits, idx, 2.0)"),
                 hint=("正的 logit 除以 penalty，负的乘以 penalty；每一行只看自己的 token；重复出现的 token 只罚一次",
                       "positive logits are divided, negative ones multiplied; each row uses its own tokens; "
                       "a repeated token is penalised once"))
    expect_tensor_equal(logits, before, ("调用之后，传给 apply_repetition_penalty 的 logits",
                                         "the logits after apply_repetition_penalty"),
                        hint=("在复制出来的张量上操作（logits.clone()，或者用不带下划线的 scatter）",
                              "work on a copy (logits.clone() or scatter without the underscore)"))
    expect_close(apply_repetition_penalty(logits, idx, 1.0), logits, "apply_repetition_penalty(..., 1.0)",
                 hint=("penalty 为 1 时什么都不变", "a penalty of 1 changes nothing"))


run_optional_check("apply_repetition_penalty", check_apply_repetition_penalty)

# %% [markdown]
# ### 选做 3：把旋钮装进 `generate` / Stretch 3: the knobs in `generate`
#
# 最后写一个 `generate_more`：和你的 `generate` 一样，但多三个参数。每一步先对最后一个位置的 logits 做重复惩罚（看的是到目前为止的整个序列），然后：
#
# - `greedy=True`：直接取最大的那个（`argmax`），不抽样。temperature、top-k 和 top-p 都不会改变哪个最大，所以这时可以跳过它们；
# - 否则：除以 temperature → `top_k_filter` → `top_p_filter` → softmax → `torch.multinomial`，和 `generate` 一样。
#
# 其余的约定（滑动窗口、`no_grad`、eval 模式、恢复模式、`seed`）都和 `generate` 相同。
#
# > **EN** Finally write `generate_more`: like your `generate`, with three more parameters. Each step first
# > applies the repetition penalty to the last position's logits (looking at the whole sequence so far), then:
# > - `greedy=True`: take the largest one (`argmax`), no sampling. Temperature, top-k and top-p never change
# >   which one is largest, so they can be skipped then;
# > - otherwise: divide by temperature → `top_k_filter` → `top_p_filter` → softmax → `torch.multinomial`, as in
# >   `generate`.
# >
# > Everything else (the sliding window, `no_grad`, eval mode, restoring the mode, `seed`) is as in `generate`.

# %%
def generate_more(model: nn.Module, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, repetition_penalty: float = 1.0,
                  greedy: bool = False, seed: int | None = None) -> torch.Tensor:
    """generate() with three more knobs: repetition_penalty (applied first, over the whole sequence so far),
    top_p (after top_k) and greedy (argmax instead of sampling). Returns (B, T + max_new_tokens) int64.
    """
    raise NotImplementedError(say(("选做：写好 generate_more，再运行下面的检查 cell",
                                   "optional: write generate_more, then run the check cell below")))

# %%
def check_generate_more():
    import torch
    from torch import nn
    from types import SimpleNamespace
    from course.checks import expect, expect_tensor_equal

    class FixedLogits(nn.Module):
        """The same next-token logits at every position: token 3 best, token 5 second."""
        def __init__(self):
            super().__init__()
            self.config = SimpleNamespace(context_length=8)
            self.anchor = nn.Parameter(torch.zeros(()))
            self.logits = torch.zeros(10)
            self.logits[3], self.logits[5] = 2.0, 1.5
        def forward(self, idx):
            return self.logits.expand(idx.shape[0], idx.shape[1], -1) + self.anchor

    prompt = torch.tensor([[0, 1]])
    expect_tensor_equal(generate_more(FixedLogits(), prompt, 4, greedy=True), torch.tensor([[0, 1, 3, 3, 3, 3]]),
                        "generate_more(..., greedy=True)",
                        hint=("greedy：取最后一个位置的 logits 的 argmax", "greedy: the argmax of the last position's logits"))
    expect_tensor_equal(generate_more(FixedLogits(), prompt, 4, greedy=True, repetition_penalty=2.0),
                        torch.tensor([[0, 1, 3, 5, 3, 3]]),
                        ("generate_more(..., greedy=True, repetition_penalty=2.0) 的结果",
                         "generate_more(..., greedy=True, repetition_penalty=2.0)"),
                        hint=("出现过一次 3 之后，它的 logit 从 2.0 变成 1.0 < 1.5，所以 5 胜出；两个都出现过以后，"
                              "3（1.0）又比 5（0.75）大",
                              "after one 3, its logit 2.0 becomes 1.0 < 1.5, so 5 wins; once both occurred, "
                              "3 (1.0) beats 5 (0.75) again"))
    sampled = generate_more(FixedLogits(), prompt.repeat(200, 1), 3, top_p=0.3, seed=0)
    expect(bool((sampled[:, 2:] == 3).all()), ("对 200 行调用 generate_more(..., top_p=0.3)", "generate_more(..., top_p=0.3) on 200 rows"),
           ("抽到了 3 以外的 token", "drew tokens other than 3"),
           hint=("只有 token 3 的概率就有 0.37，所以 top_p=0.3 只留下它",
                 "token 3 alone has probability 0.37, so top_p=0.3 keeps only it"))
    a = generate_more(FixedLogits(), prompt.repeat(50, 1), 3, seed=1)
    expect(len(set(a[:, 2:].flatten().tolist())) > 2,
           ("对 50 行用默认设置调用 generate_more(...)", "generate_more(...) with default settings on 50 rows"),
           ("抽到的不同 token 少于三个", "drew fewer than three different tokens"),
           hint=("不是 greedy 时，用 torch.multinomial 抽样", "without greedy, sample with torch.multinomial"))
    expect_tensor_equal(a, generate_more(FixedLogits(), prompt.repeat(50, 1), 3, seed=1),
                        ("seed=1 时两次调用 generate_more", "two calls of generate_more with seed=1"),
                        hint=("像 generate 一样用 seed 固定抽样", "seed the draws as in generate"))


run_optional_check("generate_more", check_generate_more)

# %% [markdown]
# 写好了三个函数，就可以回到第 14 节的小模型上试一试，比如 `generate_more(small_model, prompt_ids, 30, top_p=0.9, repetition_penalty=1.3, seed=0)`。模型还是随机的，输出照样是乱码；第 37 课装上 GPT-2 真正的权重以后，这些旋钮的差别才看得出来。
#
# > **EN** With the three functions written, try them on section 14's small model, for example
# > `generate_more(small_model, prompt_ids, 30, top_p=0.9, repetition_penalty=1.3, seed=0)`. The model is still
# > random, so the output is still gibberish; the knobs make a visible difference once lesson 37 loads GPT-2's
# > real weights.
