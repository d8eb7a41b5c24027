# Lesson 36: training loop and evaluation. Authoring script; build with `python -m grader.build 36-training-loop-eval`.
# Format: see docs/AUTHORING.md. Graded cells: batch_loss, evaluate, train_step, train, checkpoint.
# The long training run and everything that uses its result are tagged skip-autograde.

# %% [markdown]
# # 第 36 课 · 训练循环与评估 / Lesson 36 · Training loop and evaluation
#
# 第 35 课拼好了 GPT-2，但它的权重是随机的，生成的只是乱码。这一课让它**学起来**：在一份离线语料上从零训练一个小 GPT，看着验证 loss 一路下降，生成的文字从乱码变得像模像样。
#
# > **EN** Lesson 35 assembled GPT-2, but its weights are random and it writes gibberish. This lesson makes it
# > **learn**: we train a small GPT from scratch on an offline corpus, watch the validation loss fall, and see
# > its samples turn from noise into something that looks like the text.
#
# **学完这一课，你会亲手写出 / By the end you will have written:**
#
# 1. `batch_loss(model, inputs, targets)`：把 logits 展平，对每个位置的下一个 token 算 cross-entropy。
#    > **EN** `batch_loss(model, inputs, targets)`: cross-entropy of every position's next token, over
#    > flattened logits.
# 2. `evaluate(model, batches)`：eval 模式、不记录梯度地算验证 loss，结束时恢复原来的模式。
#    > **EN** `evaluate(model, batches)`: the validation loss in eval mode without gradients, restoring the
#    > mode the model was in.
# 3. `train_step(...)`：zero_grad → forward → backward → gradient clipping → AdamW 的 step。
#    > **EN** `train_step(...)`: zero_grad → forward → backward → gradient clipping → an AdamW step.
# 4. `train(...)`：学习率 schedule、进度条、定期评估并生成一段样例的训练循环。
#    > **EN** `train(...)`: the training loop with a learning-rate schedule, a progress bar, and periodic
#    > evaluation with a generated sample.
# 5. `save_checkpoint` / `load_checkpoint`：存下模型、optimizer 和随机状态，恢复后的训练和没中断过的一模一样。
#    > **EN** `save_checkpoint` / `load_checkpoint`: model, optimizer and random states, so that a resumed run
#    > is identical to one that never stopped.
#
# 顺带你会明白 **perplexity** 是什么，以及为什么要把数据切成训练集和验证集。
#
# > **EN** Along the way: what **perplexity** means, and why the data is split into a training and a
# > validation set.
#
# **怎么用这个 notebook：** 从上到下依次运行。标着 ✍️ 的 cell 由你来写（把 `raise NotImplementedError(...)` 换成你的代码），紧跟着的测试 cell 会告诉你哪里不对、可能的原因是什么。批改时还会运行隐藏测试：它们用别的数据和随机种子重新检查同样的内容，不会检查你在这里看不到的新东西。所以只要每个测试 cell 都显示“ok”、Validate 也通过，代码部分就是满分。第 8 节真正训练模型，在笔记本电脑上大约两分钟（进度条会显示进度）；其余每个 cell 都是几秒钟的事。前几课的零件（`GPTModel`、`generate`、`SlidingWindowDataset`）从 `gpt2ref` 导入，所以之前哪里写错了也不会影响这一课。
#
# > **EN** **How to use this notebook:** run it top to bottom. Cells marked ✍️ are yours (replace
# > `raise NotImplementedError(...)` with your code); the test cell right after each one says what is wrong and
# > the likely cause. Grading also runs hidden tests: they re-check the same things with other data and seeds,
# > nothing you cannot see here. So if every test cell prints "ok" and Validate passes, the code gets full
# > marks. Section 8 trains the model for real: about two minutes on a laptop (a progress bar
# > shows how far it is); every other cell takes seconds. The parts from earlier lessons
# > (`GPTModel`, `generate`, `SlidingWindowDataset`) are imported from `gpt2ref`, so a mistake made
# > there cannot break this lesson.

# %% [markdown]
# **学习时间 / Study time：** 大约 120 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 120 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | cross-entropy loss | 正确的下一个 token 的概率取负对数，再求平均 | the negative log-probability of the correct next token, averaged |
# | perplexity | `exp(loss)`：模型平均在多少个候选之间犹豫 | `exp(loss)`: how many choices the model hesitates between, on average |
# | AdamW / weight decay | 常用的优化器；weight decay 让矩阵权重慢慢变小 | the usual optimiser; weight decay slowly shrinks the weight matrices |
# | 学习率 schedule / learning-rate schedule | 先 warmup 升高，再按 cosine 逐渐降低 | a warmup that raises it, then a cosine decay |
# | 梯度裁剪 / gradient clipping | 所有梯度的总 norm 超过上限时等比例缩小 | scaling all gradients down together when their total norm exceeds a limit |
# | checkpoint | 存盘的模型和优化器状态，可以从中断处继续训练 | the saved model and optimiser state, to resume training where it stopped |

# %% [markdown]
# ## 0. 准备 / Setup

# %%
import math
import re
import time
from pathlib import Path

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from course.corpus import python_docs
from gpt2ref import GPTConfig, GPTModel, SlidingWindowDataset, generate

cores_seen = torch.get_num_threads()
torch.set_num_threads(1)  # one worker thread: see the note below
torch.manual_seed(0)
print("torch", torch.__version__, f"| PyTorch saw {cores_seen} core(s); this notebook uses", torch.get_num_threads())

# %% [markdown]
# **关于线程数的说明。** PyTorch 默认按它看到的核数开工作线程，一次矩阵乘法分给所有线程一起算，算完要互相等。在一台空闲的机器上这样会快一些；可是在共享的机器上（Binder、云端 notebook、同时在干别的事的笔记本），它看到的核往往比真正分到的多，只要有一个线程被操作系统暂停，其他线程就只能空等：我们在一台忙碌的两核机器上看到，两个线程训练一步比一个线程慢好几倍。单线程在空闲的机器上不是最快的，但在哪儿都不会突然变慢，所以上面把线程数设成 1（第 8 节会打印训练实际用了多少秒）。如果你的机器很空闲、核也多，可以删掉那一行、重启 kernel，比较第 8 节打印的速度。
#
# > **EN** **A note on threads.** By default PyTorch starts one worker thread per core it sees; a matrix
# > multiply is split over all of them, and they wait for each other at the end. On an idle machine that is
# > somewhat faster. On a shared machine (Binder, a cloud notebook, a laptop busy with other work) it often sees
# > more cores than it really gets, and whenever the system pauses one thread the others just wait: on a busy
# > two-core machine we saw a training step take several times longer with two threads than with one. One
# > thread is not the fastest choice on an idle machine, but it never suddenly slows down, hence the 1 above
# > (section 8 prints how many seconds the training really took). If your machine is idle and has many cores,
# > delete that line, restart the kernel and compare the speed section 8 prints.

# %% [markdown]
# 先做几道课前小题，看看你已经知道多少。答错没关系，学完后还会再考。
#
# > **EN** A few questions before we start, to see what you already know. Wrong answers are fine: the
# > ideas come back at the end.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. 数据：Python 自带的文档 / The data: documentation that ships with Python
#
# 训练需要文本，而这门课不下载任何东西。幸好每个 Python 安装里都带着一份现成的英文语料：交互式帮助 `help("for")`、`help("assert")` 等用到的所有帮助主题，存在标准库模块 `pydoc_data.topics` 里。`course.corpus.python_docs()` 把它们按主题名排序、拼成一个字符串。不同 Python 版本的文本略有差别，所以下面的数字都由代码打印，而不是写死在文中。
#
# > **EN** Training needs text, and this course downloads nothing. Luckily every Python installation carries
# > a ready-made English corpus: the help topics behind the interactive `help("for")`, `help("assert")` and so
# > on, stored in the standard-library module `pydoc_data.topics`. `course.corpus.python_docs()` joins them,
# > sorted by topic name, into one string. The text differs a little between Python versions, so the numbers
# > below are printed by code rather than written into the prose.

# %%
text = python_docs()
print(f"{len(text):,} characters of Python's help topics. The first 300:\n")
print(text[:300])

# %% [markdown]
# 用 GPT-2 的 tokenizer（tiktoken，离线可用）把整段文字变成一串 token id：
#
# > **EN** GPT-2's tokenizer (tiktoken, works offline) turns the whole text into one stream of token ids:

# %%
enc = tiktoken.get_encoding("gpt2")
gpt2_ids = torch.tensor(enc.encode(text))  # (N,) GPT-2 token ids
num_distinct = len(torch.unique(gpt2_ids))
print(f"{len(gpt2_ids):,} tokens; {num_distinct:,} distinct ids out of GPT-2's {enc.n_vocab:,}")
print(f"the corpus uses {num_distinct / enc.n_vocab:.1%} of the vocabulary")

# %% [markdown]
# ### 1.1 一张紧凑的词表 / A compact vocabulary
#
# 这份语料只用到了 GPT-2 词表里很小的一部分 id（上面打印的比例）。这对一个**小**模型的训练速度影响很大：模型最后的 LM head 要给词表里的**每一个** id 打分，它是一个 `d_model × vocab_size` 的矩阵乘法；而 weight tying 让同一张 `vocab_size × d_model` 的表也当 token embedding 用。在只有两层、`d_model = 128` 的小模型里，这张表几乎就是整个模型。下面量一下：同一个小模型，用 GPT-2 完整的 50,257 个 id，和只用语料里出现过的那些 id，各训练几步要多久。
#
# > **EN** The corpus uses only a small share of GPT-2's ids (the fraction printed above). For a **small**
# > model that matters a lot for speed: the LM head scores **every** id of the vocabulary, a
# > `d_model × vocab_size` matrix multiply at every position, and weight tying makes the same
# > `vocab_size × d_model` table the token embedding too. In a two-layer model with `d_model = 128` that table
# > is nearly the whole model. Let us measure: the same small model, with GPT-2's full 50,257 ids and with only
# > the ids that occur in the corpus, a few training steps each.

# %% tags=skip-autograde
def time_training_steps(vocab_size, steps=3, batch_size=4, context=64):
    """Parameters, the embedding table's share of them, and seconds per AdamW step."""
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=vocab_size, context_length=context, d_model=128, num_heads=4, num_layers=2,
                    dropout=0.0)
    model = GPTModel(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(vocab_size, (batch_size, context))
    y = torch.randint(vocab_size, (batch_size, context))
    params = sum(p.numel() for p in model.parameters())
    for step in range(steps + 1):
        if step == 1:
            start = time.perf_counter()  # step 0 warms up (memory allocation)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = (time.perf_counter() - start) / steps
    return params, model.tok_embed.weight.numel() / params, seconds


step_seconds = {}
for name, size in (("full GPT-2 vocabulary", enc.n_vocab), ("ids used by the corpus", num_distinct)):
    params, share, step_seconds[size] = time_training_steps(size)
    print(f"{name:23} vocab {size:6,}: {params:10,} parameters ({share:.0%} in the token table), "
          f"{step_seconds[size] * 1000:5.0f} ms per step")
print(f"the compact vocabulary trains {step_seconds[enc.n_vocab] / step_seconds[num_distinct]:.1f} times faster")

# %% [markdown]
# 词表缩小后，参数不到原来的五分之一，每一步也快了好几倍（倍数见上面打印的最后一行，每台机器不一样）。那些语料里从没出现过的 id，它们在 LM head 里的那一行只会学到一件事：“永远别预测我”——却要在每个位置、每一步都算一遍。所以这一课的做法是：
#
# - `kept`：语料里出现过的 GPT-2 id，从小到大排好；
# - 紧凑 id `i` 就代表 GPT-2 id `kept[i]`。编码时用 `torch.searchsorted` 把 GPT-2 id 换成紧凑 id，解码时用 `kept[...]` 换回来，再交给 GPT-2 的 tokenizer。
#
# 这是为了在笔记本电脑上几分钟训完而做的**取舍**，不是 GPT-2 的做法：真正的 GPT-2 用的是全部 50,257 个 id，因为它的训练数据（约 40 GB 网页文本）用得到它们。模型代码一个字都没改，只是 `vocab_size` 变小了；第 37 课加载 OpenAI 的预训练权重时，用的又是完整词表。还要注意：紧凑词表的 loss 不能直接和完整词表上的 loss 比较——猜对的选项变少了，题目本身就变容易了。
#
# > **EN** With the smaller vocabulary the model has less than a fifth of the parameters and each step is
# > several times faster (the last line printed above gives the factor on your machine). An id that never
# > occurs in the corpus only ever teaches its row of the LM head one thing, "never predict me", yet that row
# > is computed at every position of every step. So this lesson:
# >
# > - `kept`: the GPT-2 ids that occur in the corpus, sorted;
# > - compact id `i` stands for GPT-2 id `kept[i]`. `torch.searchsorted` maps GPT-2 ids to compact ids;
# >   `kept[...]` maps them back before GPT-2's tokenizer decodes them.
# >
# > This is a **trade-off** to train in minutes on a laptop, not what GPT-2 does: the real GPT-2 keeps all
# > 50,257 ids because its training data (about 40 GB of web text) uses them. The model code does not change
# > at all, only `vocab_size` gets smaller; lesson 37 loads OpenAI's pretrained weights with the full
# > vocabulary again. Note too that a loss over the compact vocabulary is not comparable with one over the
# > full vocabulary: with fewer ids to choose from, the task itself is easier.

# %%
kept = torch.unique(gpt2_ids)  # (vocab_size,) sorted GPT-2 ids; compact id i <-> GPT-2 id kept[i]
ids = torch.searchsorted(kept, gpt2_ids)  # (N,) the corpus in compact ids 0 .. vocab_size - 1
vocab_size = len(kept)


def to_text(compact_ids):
    """Compact ids (any shape that flattens to one sequence) -> text, through GPT-2's tokenizer."""
    return enc.decode(kept[torch.as_tensor(compact_ids).flatten()].tolist())


print("vocab_size:", vocab_size)
print("GPT-2 ids:  ", gpt2_ids[:8].tolist())
print("compact ids:", ids[:8].tolist())
print("round trip gives the text back:", to_text(ids) == text)

# %% [markdown]
# ### 1.2 训练集和验证集 / Training and validation sets
#
# 我们要的不是一个能背下训练文本的模型，而是一个对**没见过的**同类文本也能预测得好的模型。所以留出一部分文本不参与训练，只用来打分：**验证集**。这里取 token 序列的前 90% 训练、后 10% 验证，在**一个位置**切开。为什么不随机挑 10% 的窗口？因为训练窗口是重叠的（stride 1）：随机挑出的验证窗口和几个 token 之外的训练窗口几乎是同一段文字，验证 loss 就会偏乐观。
#
# 训练窗口用第 31 课的 `SlidingWindowDataset`（stride 1，每个位置都能作为窗口的起点）；验证窗口首尾相接（stride 等于窗口长度），每个验证 token 只算一次，按固定顺序分成 batch。
#
# > **EN** We do not want a model that memorises its training text, but one that predicts **unseen** text of
# > the same kind well. So part of the text never takes part in training and is used only for scoring: the
# > **validation set**. Here the first 90% of the token stream trains and the last 10% validates, cut at
# > **one place**. Why not pick 10% of the windows at random? Training windows overlap (stride 1): a random
# > validation window is almost the same text as a training window a few tokens away, and the validation loss
# > would flatter the model.
# >
# > Training windows come from lesson 31's `SlidingWindowDataset` (stride 1: a window may start at every
# > position); validation windows sit side by side (stride = window length), so every validation token counts
# > once, in fixed batches in a fixed order.

# %%
context = 64  # tokens per window: the model's context_length in this lesson
split = int(0.9 * len(ids))
train_ids, val_ids = ids[:split], ids[split:]
train_windows = SlidingWindowDataset(train_ids, max_length=context, stride=1)
val_windows = SlidingWindowDataset(val_ids, max_length=context, stride=context)
val_batches = list(DataLoader(val_windows, batch_size=32, shuffle=False, drop_last=True))
print(f"train: {len(train_ids):,} tokens -> {len(train_windows):,} overlapping windows of {context}")
print(f"val:   {len(val_ids):,} tokens -> {len(val_windows)} windows side by side -> "
      f"{len(val_batches)} batches of {val_batches[0][0].shape[0]} = "
      f"{len(val_batches) * val_batches[0][0].numel():,} tokens scored")
print("\nthe validation text starts with:", repr(to_text(val_ids[:24])))
headings = re.findall(r"^(\S[^\n]*)\n\*{3,}$", to_text(val_ids), flags=re.MULTILINE)  # a title over a line of ***
print("help topics that start in the validation text:", headings)

# For a fair comparison after training: the training text cut the same way as the validation text.
train_side_by_side = list(DataLoader(SlidingWindowDataset(train_ids, max_length=context, stride=context),
                                     batch_size=32, shuffle=False, drop_last=True))
print(f"the training text side by side, for comparison: {len(train_side_by_side)} batches of 32 windows")

# %% [markdown]
# ### 1.3 随机抽 batch / Random batches
#
# 每一步训练从训练窗口里随机抽 `batch_size` 个。抽取只用一个**自己的** `torch.Generator`，不碰全局随机状态——第 9 节会看到，这让“从中断处接着训练”变得很简单：保存这个 generator 的状态就够了。
#
# > **EN** Each training step draws `batch_size` training windows at random. The draws use a `torch.Generator`
# > of **their own** and leave the global random state alone; section 9 shows why that makes resuming a run
# > simple: saving this generator's state is enough.

# %%
def random_batch(dataset, batch_size, generator):
    """``batch_size`` windows picked at random (with replacement) -> inputs, targets: (B, T) each."""
    picks = torch.randint(len(dataset), (batch_size,), generator=generator)  # (B,)
    inputs, targets = zip(*(dataset[i] for i in picks.tolist()))
    return torch.stack(inputs), torch.stack(targets)


demo_rng = torch.Generator().manual_seed(1)
inputs, targets = random_batch(train_windows, 4, demo_rng)
print("inputs:", tuple(inputs.shape), inputs.dtype, "| targets:", tuple(targets.shape))
print("\nwindow 0, first 8 positions: the target is the token that comes next")
for t in range(8):
    print(f"  position {t}: input {to_text(inputs[0, t])!r:14} -> target {to_text(targets[0, t])!r}")

# %% [markdown]
# ## 2. 一个 batch 的 loss / The loss of a batch
#
# 模型读进 `inputs`（形状 `(B, T)`），给出 `logits`（形状 `(B, T, V)`，`V = vocab_size`）：每个位置都对**下一个** token 打了 V 个分数。softmax 把分数变成概率，这个位置的 loss 就是模型给**正确答案**（`targets` 里同一位置的 id）的概率取负对数：
#
# $$\text{loss}_{b,t} = -\log \operatorname{softmax}(\text{logits}_{b,t})[\text{targets}_{b,t}]$$
#
# 整个 batch 的 loss 是所有 `B × T` 个位置的平均。这就是 **cross-entropy**。先在一个没训练过的模型上手算一个位置：
#
# > **EN** The model reads `inputs` (shape `(B, T)`) and returns `logits` (shape `(B, T, V)`, `V = vocab_size`):
# > at every position, V scores for the **next** token. Softmax turns scores into probabilities, and the loss
# > at that position is minus the log of the probability the model gives the **right answer** (the id at the
# > same position of `targets`). The loss of the batch is the mean over all `B × T` positions: the
# > **cross-entropy**. First by hand, for one position of an untrained model:

# %%
torch.manual_seed(0)
config = GPTConfig(vocab_size=vocab_size, context_length=context, d_model=128, num_heads=4, num_layers=2,
                   dropout=0.0)
untrained = GPTModel(config)
with torch.no_grad():
    logits = untrained(inputs)  # (B, T, V)
probs = torch.softmax(logits[0, 0], dim=-1)  # (V,) the prediction at window 0, position 0
right = targets[0, 0]
print("logits:", tuple(logits.shape), "  targets:", tuple(targets.shape))
print(f"p(right token {to_text(right)!r}) = {probs[right].item():.6f}   (1 / V = {1 / vocab_size:.6f})")
print(f"loss at this position = -log p = {-torch.log(probs[right]).item():.3f}")

# %% [markdown]
# `F.cross_entropy` 把这件事一次做完，但它对形状有要求：输入是 `(N, C)` 的分数（N 个样本、C 个类别），目标是 `(N,)` 的类别 id。直接把三维的 `logits` 给它，它会把 **dim 1**（这里是时间轴 T）当成类别：
#
# > **EN** `F.cross_entropy` does all of this at once, but it wants particular shapes: `(N, C)` scores (N examples,
# > C classes) and `(N,)` class ids. Given the 3-D `logits` directly, it takes **dim 1** (here the time axis T)
# > for the classes:

# %%
try:
    F.cross_entropy(logits, targets)
except Exception as exc:  # noqa: BLE001 (we show whatever comes out)
    print(f"{type(exc).__name__}: {exc}")

# %% [markdown]
# 解决办法：把 batch 和时间两个轴合成一个，`(B, T, V) → (B·T, V)`，`(B, T) → (B·T,)`。每个位置就是一个独立的“猜下一个 token”的分类题，`F.cross_entropy` 默认对它们求平均。
#
# > **EN** The fix: merge the batch and time axes into one, `(B, T, V) → (B·T, V)` and `(B, T) → (B·T,)`. Every
# > position becomes one independent "guess the next token" classification, and `F.cross_entropy` averages
# > over them by default.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["flatten"])

# %% [markdown]
# ### ✍️ 练习 1：`batch_loss` / Exercise 1: `batch_loss`
#
# 返回一个 0 维 tensor（不要 `.item()`：训练时要对它调用 `.backward()`）。
#
# > **EN** Return a 0-dim tensor (no `.item()`: training calls `.backward()` on it).

# %% [solution] id=batch_loss
def batch_loss(model, inputs, targets):
    """Mean cross-entropy of the next-token predictions at every position of a batch.

    inputs, targets: torch.long tensors of shape (B, T); targets[b, t] is the token that follows
    inputs[b, t]. model(inputs) returns logits of shape (B, T, vocab_size).
    Returns a 0-dim float tensor that is still attached to the graph (so .backward() works).
    """
    ### BEGIN SOLUTION
    logits = model(inputs)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())  # (B*T, V) vs (B*T,)
    ### END SOLUTION

# %% [tests] id=test_batch_loss points=2
import torch
import torch.nn.functional as F

from course.checks import expect, expect_close, expect_own_work, expect_shape
from gpt2ref import GPTConfig, GPTModel

expect_own_work(batch_loss, lesson=36, what="batch_loss")


def _tiny_gpt(vocab_size=11):
    torch.manual_seed(0)
    return GPTModel(GPTConfig(vocab_size=vocab_size, context_length=8, d_model=8, num_heads=2, num_layers=1,
                              dropout=0.0))


def _check_batch_loss():
    model = _tiny_gpt()
    x, y = torch.randint(11, (2, 6)), torch.randint(11, (2, 6))
    loss = batch_loss(model, x, y)
    expect_shape(loss, (), ("batch_loss(model, inputs, targets) 的结果", "batch_loss(model, inputs, targets)"),
                 hint=("整个 batch 只返回一个数，即 0 维 tensor（所有位置上 loss 的平均值）",
                       "return one number for the whole batch as a 0-dim tensor (the mean over every position)"))
    expect(loss.requires_grad, "batch_loss(...).requires_grad",
           ("期望为 True：loss 必须留在计算图上", "expected True: the loss must stay attached to the graph"),
           hint=("不要在 batch_loss 里调用 .item()、.detach() 或 torch.no_grad()；训练时还要对它调用 loss.backward()",
                 "do not call .item(), .detach() or torch.no_grad() inside batch_loss; training calls loss.backward()"))
    with torch.no_grad():
        flat = F.cross_entropy(model(x).reshape(-1, 11), y.reshape(-1))
    expect_close(loss.detach(), flat, ("batch_loss(...) 在 2 个窗口、每个窗口 6 个 token 的 batch 上的值",
                                       "batch_loss(...) for a batch of 2 windows of 6 tokens"), atol=1e-5,
                 hint=("把 logits 展平成 (B*T, vocab)，targets 展平成 (B*T,)，再调用 F.cross_entropy（用默认的取平均）",
                       "flatten logits to (B*T, vocab) and targets to (B*T,), then F.cross_entropy with the default mean"))


_check_batch_loss()
### BEGIN HIDDEN TESTS
def _by_hand(model, inputs, targets):
    """-log softmax(logits)[target], averaged over every position (written out, no F.cross_entropy)."""
    with torch.no_grad():
        logits = model(inputs).double()
    log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)
    return -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).mean()


def _check_batch_loss_hidden():
    model = _tiny_gpt()
    for B, T in ((1, 8), (3, 4), (5, 1)):  # B != T, a single window, a single position
        x, y = torch.randint(11, (B, T)), torch.randint(11, (B, T))
        expect_close(batch_loss(model, x, y).detach().double(), _by_hand(model, x, y),
                     (f"batch_loss 在 (B, T) = ({B}, {T}) 时的值", f"batch_loss for (B, T) = ({B}, {T})"), atol=1e-5,
                     hint=("每个窗口的每个位置都只算一次；logits[b, t] 要和 targets[b, t] 配对",
                           "every position of every window counts once; pair logits[b, t] with targets[b, t]"))
    x, y = torch.randint(11, (3, 4)), torch.randint(11, (3, 4))
    expect(not torch.isclose(batch_loss(model, x, y), batch_loss(model, x, y.flip(0))).item(),
           ("交换 targets 的各行之后的 batch_loss", "batch_loss with the target rows exchanged"),
           ("loss 没有变：targets 没有和各自的窗口对应起来", "gave the same loss: targets are not matched to their windows"),
           hint=("logits 和 targets 要按同样的顺序展平（两者都用 flatten(0, 1)，或都用 reshape(-1)）",
                 "flatten logits and targets in the same order (flatten(0, 1) / reshape(-1) on both)"))
    big = _tiny_gpt(vocab_size=50)
    x, y = torch.randint(50, (2, 8)), torch.randint(50, (2, 8))
    expect_close(batch_loss(big, x, y).detach().double(), _by_hand(big, x, y),
                 ("vocab_size 为 50 时的 batch_loss", "batch_loss with vocab_size 50"),
                 atol=1e-5, hint=("词表大小要从 logits 取（logits.size(-1)），不要写死",
                                  "take the vocabulary size from the logits (logits.size(-1)), do not hard-code it"))


_check_batch_loss_hidden()
### END HIDDEN TESTS
print("test_batch_loss: ok")

# %% [markdown]
# ## 3. Perplexity
#
# 一个完全没学过东西的模型会把概率平均分给 V 个 id，每个位置的 loss 就是 `-log(1/V) = ln V`。用你的 `batch_loss` 量一下刚才那个没训练过的模型：
#
# > **EN** A model that has learned nothing spreads its probability evenly over the V ids, so every position
# > costs `-log(1/V) = ln V`. Measure the untrained model from above with your `batch_loss`:

# %%
with torch.no_grad():
    start_loss = batch_loss(untrained, inputs, targets).item()
print(f"untrained loss on the batch: {start_loss:.3f}   ln(vocab_size) = ln({vocab_size}) = {math.log(vocab_size):.3f}")
print(f"perplexity = exp(loss) = {math.exp(start_loss):,.0f}   (vocab_size = {vocab_size:,})")

# %% [markdown]
# loss 的单位是 nat（自然对数），不太直观。**perplexity = e^loss** 把它换回“个数”：一个把赌注平均押在 k 个 token 上的模型，loss 是 ln k，perplexity 正好是 k。所以 perplexity 可以读成“模型平均相当于在几个 token 里犹豫”。没训练的模型，perplexity 就在词表大小附近（上面打印的）；训练的目标是把它压得越低越好。loss 每降低 ln 2 ≈ 0.69，perplexity 就减半。
#
# > **EN** Loss is measured in nats (natural log), which is hard to picture. **Perplexity = e^loss** turns it
# > back into a count: a model that spreads its bet evenly over k tokens has loss ln k and perplexity exactly
# > k. So read perplexity as "the number of tokens the model is effectively hesitating between". Untrained,
# > it sits near the vocabulary size (printed above); training pushes it down. Every ln 2 ≈ 0.69 off the loss
# > halves the perplexity.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["perplexity"])

# %% [markdown]
# ## 4. 评估 / Evaluation
#
# 验证 loss 就是把 `batch_loss` 在所有验证 batch 上取平均。但有两件事要做对：
#
# 1. **`model.eval()`**：GPT-2 训练时用 dropout（随机把一部分激活置零）。评估时要关掉它，否则同一个模型、同一份数据，每次量出来的 loss 都不一样。`model.eval()` 把所有子模块切到 eval 模式，`model.train()` 切回来。评估完**一定要切回原来的模式**：否则后面的训练会悄悄地在没有 dropout 的情况下进行。
# 2. **`torch.no_grad()`**：评估不需要梯度。关掉 autograd 的记录，省内存也省时间。
#
# 两件事互不相干：`eval()` 不会关梯度，`no_grad()` 也不会关 dropout。看一个 dropout = 0.5 的模型：
#
# > **EN** The validation loss is `batch_loss` averaged over the validation batches, with two things done right:
# >
# > 1. **`model.eval()`**: GPT-2 trains with dropout (zeroing a random part of the activations). Evaluation turns
# >    it off, or the same model on the same data gives a different loss every time. `model.eval()` switches
# >    every submodule to eval mode, `model.train()` switches back. **Always restore the mode the model was
# >    in**: otherwise the rest of training silently runs without dropout.
# > 2. **`torch.no_grad()`**: evaluation needs no gradients. Switching autograd's recording off saves memory
# >    and time.
# >
# > The two are independent: `eval()` does not turn gradients off, `no_grad()` does not turn dropout off. A
# > model with dropout = 0.5:

# %%
torch.manual_seed(0)
leaky = GPTModel(GPTConfig(vocab_size=vocab_size, context_length=context, d_model=64, num_heads=4, num_layers=2,
                           dropout=0.5))
x, y = val_batches[0]
leaky.train()
print("train mode, same batch twice:", [round(batch_loss(leaky, x, y).item(), 4) for _ in range(2)])
leaky.eval()
print("eval mode, same batch twice: ", [round(batch_loss(leaky, x, y).item(), 4) for _ in range(2)])
print("eval mode still records the graph? ", batch_loss(leaky, x, y).requires_grad)
with torch.no_grad():
    print("inside torch.no_grad()?           ", batch_loss(leaky, x, y).requires_grad)

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["eval-mode"])

# %% [markdown]
# ### ✍️ 练习 2：`evaluate` / Exercise 2: `evaluate`
#
# 提示：先记下 `model.training`，最后用 `model.train(was_training)` 恢复；用 `try/finally` 的话，出错时也能恢复。
#
# > **EN** Hint: remember `model.training` first and restore it with `model.train(was_training)` at the end;
# > with `try/finally` it is restored even when something fails.

# %% [solution] id=evaluate
def evaluate(model, batches):
    """Mean of batch_loss(model, inputs, targets) over ``batches``, as a Python float.

    batches: an iterable of (inputs, targets) pairs, all of the same size (e.g. a list).
    Runs in eval mode (no dropout) without recording gradients, and leaves the model in the
    mode it was in before the call (train or eval).
    """
    ### BEGIN SOLUTION
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            losses = [batch_loss(model, inputs, targets).item() for inputs, targets in batches]
    finally:
        model.train(was_training)
    return sum(losses) / len(losses)
    ### END SOLUTION

# %% [tests] id=test_evaluate points=2
import torch
import torch.nn.functional as F
from torch import nn

from course.checks import expect, expect_close, expect_equal, expect_own_work, stand_ins, expect_type
from gpt2ref import GPTConfig, GPTModel
from gpt2ref import training as reference

expect_own_work(evaluate, lesson=36, what="evaluate")


class _RecordingGPT(nn.Module):
    """A tiny GPT with dropout that writes down, at every forward, its mode and whether autograd records."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.gpt = GPTModel(GPTConfig(vocab_size=13, context_length=8, d_model=8, num_heads=2, num_layers=1,
                                      dropout=0.5))
        self.seen = []

    def forward(self, idx):
        self.seen.append((self.training, torch.is_grad_enabled()))
        return self.gpt(idx)


def _batches(n, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(13, (2, 5), generator=g), torch.randint(13, (2, 5), generator=g)) for _ in range(n)]


def _expected_mean(gpt, batches):
    """Mean cross-entropy over the batches in eval mode (this changes gpt's mode: call it last)."""
    gpt.eval()
    with torch.no_grad():
        losses = [F.cross_entropy(gpt(x).reshape(-1, 13), y.reshape(-1)).item() for x, y in batches]
    return torch.tensor(sum(losses) / len(losses), dtype=torch.float64)


def _check_evaluate():
    probe, batches = _RecordingGPT().train(), _batches(3, seed=1)
    value = evaluate(probe, batches)
    expect_type(value, float, ("evaluate(model, batches) 的返回值", "evaluate(model, batches)"),
                hint=("返回 Python float：对每个 batch 的 loss 调用 .item()",
                      "return a Python float: use .item() on each batch loss"))
    expect(probe.training, ("evaluate() 结束后模型的模式", "the model's mode after evaluate()"),
           ("期望是 train 模式（调用前它就处在 train 模式）", "expected train mode (it was in train mode before)"),
           hint=("在 model.eval() 之前记下 model.training，最后调用 model.train(was_training)",
                 "remember model.training before model.eval() and call model.train(was_training) at the end"))
    expect(all(not training for training, _ in probe.seen),
           ("evaluate() 运行模型时的模式", "the mode while evaluate() runs the model"),
           ("期望每次前向传播都处在 eval 模式", "expected eval mode at every forward pass"),
           hint=("在循环之前调用 model.eval()（必须关掉 dropout）", "call model.eval() before the loop (dropout must be off)"))
    seen = list(probe.seen)
    expect_close(torch.tensor(value, dtype=torch.float64), _expected_mean(probe.gpt, batches),
                 ("evaluate 在 3 个 batch 上的结果", "evaluate(model, 3 batches)"), atol=1e-5,
                 hint=("在 eval 模式下返回各个 batch 的 loss 的平均值", "return the mean of the batch losses, in eval mode"))
    return seen


def _check_evaluate_from_eval_mode():
    """A model that arrives in eval mode, and batches that come from a generator (no len())."""
    probe, batches = _RecordingGPT(seed=2).eval(), _batches(2, seed=4)
    try:
        value = evaluate(probe, (pair for pair in batches))
    except TypeError as exc:
        expect(False, ("对一个产生 2 个 batch 的 generator 调用 evaluate", "evaluate(model, a generator of 2 batches)"),
               (f"抛出了 TypeError：{exc}", f"raised TypeError: {exc}"),
               hint=("batches 可以是任何 iterable：只遍历一次，边遍历边数 batch 的个数（generator 没有 len()）",
                     "batches may be any iterable: go through it once and count the batches as you go "
                     "(a generator has no len())"))
    expect(not probe.training, ("对 eval 模式的模型调用 evaluate() 之后的模式",
                                "the model's mode after evaluate() on a model in eval mode"),
           ("期望是 eval 模式（调用前的模式），实际是 train 模式", "expected eval mode (the mode it was in), got train mode"),
           hint=("恢复模型原来的模式（model.train(was_training)），不要一律调用 model.train()",
                 "restore the mode the model had (model.train(was_training)), do not always call model.train()"))
    expect(all(not grad for _, grad in probe.seen),
           ("evaluate() 运行模型时的 autograd", "autograd while evaluate() runs the model"),
           ("期望每次前向传播都不记录梯度", "expected no gradient recording at any forward pass"),
           hint=("把循环放进 torch.no_grad()（或者给 evaluate 加上 @torch.no_grad() 装饰器）",
                 "wrap the loop in torch.no_grad() (or decorate evaluate with @torch.no_grad())"))
    expect_close(torch.tensor(value, dtype=torch.float64), _expected_mean(probe.gpt, batches),
                 ("对一个产生 2 个 batch 的 generator 调用 evaluate", "evaluate(model, a generator of 2 batches)"),
                 atol=1e-5, hint=("只遍历一次 iterable，对它产生的每一个 batch 求平均",
                                  "go through the iterable once and average over every batch it yields"))


with stand_ins(globals(), batch_loss=reference.batch_loss):  # evaluate may call batch_loss
    _seen = _check_evaluate()
    _check_evaluate_from_eval_mode()
    ### BEGIN HIDDEN TESTS
    def _check_evaluate_hidden(seen):
        expect(all(not grad for _, grad in seen), ("evaluate() 运行模型时的 autograd", "autograd while evaluate() runs the model"),
               ("期望每次前向传播都不记录梯度", "expected no gradient recording at any forward pass"),
               hint=("把循环放进 torch.no_grad()（或者给 evaluate 加上 @torch.no_grad() 装饰器）",
                     "wrap the loop in torch.no_grad() (or decorate evaluate with @torch.no_grad())"))
        probe, batches = _RecordingGPT(seed=3).eval(), _batches(4, seed=7)
        value = evaluate(probe, batches)
        expect(not probe.training, ("对 eval 模式的模型调用 evaluate() 之后的模式",
                                    "the model's mode after evaluate() on a model in eval mode"),
               ("期望是 eval 模式（调用前的模式），实际是 train 模式", "expected eval mode (the mode it was in), got train mode"),
               hint=("恢复模型原来的模式（model.train(was_training)），不要一律调用 model.train()",
                     "restore the mode the model had (model.train(was_training)), do not always call model.train()"))
        expect_equal(len(probe.seen), 4, ("4 个 batch 的前向传播次数", "forward passes for 4 batches"),
                     hint=("每个 batch 只运行一次模型", "run the model once per batch"))
        probe.train()
        first, second = evaluate(probe, batches), evaluate(probe, batches)
        expect_equal(first, second, ("在同一份数据上两次调用 evaluate() 的结果", "evaluate() twice on the same data"),
                     hint=("评估时必须关掉 dropout", "dropout must be off while evaluating"))
        expect_close(torch.tensor(value, dtype=torch.float64), _expected_mean(probe.gpt, batches),
                     ("evaluate 在 4 个 batch 上的结果", "evaluate(model, 4 batches)"), atol=1e-5,
                     hint=("对传进来的每一个 batch 求平均，而不是只取固定数量的 batch",
                           "average over every batch you are given, not a fixed number of them"))
        probe, batches = _RecordingGPT(seed=5).eval(), _batches(3, seed=9)
        once = (pair for pair in batches)  # an iterable that can be read once and has no len(), like a generator
        try:
            value = evaluate(probe, once)
        except TypeError as exc:
            expect(False, ("对一个产生 3 个 batch 的 generator 调用 evaluate", "evaluate(model, a generator of 3 batches)"),
                   (f"抛出了 TypeError：{exc}", f"raised TypeError: {exc}"),
                   hint=("batches 可以是任何 iterable：只遍历一次，边遍历边数 batch 的个数（generator 没有 len()）",
                         "batches may be any iterable: go through it once and count the batches as you go "
                         "(a generator has no len())"))
        expect_close(torch.tensor(value, dtype=torch.float64), _expected_mean(probe.gpt, batches),
                     ("对一个产生 3 个 batch 的 generator 调用 evaluate", "evaluate(model, a generator of 3 batches)"),
                     atol=1e-5, hint=("只遍历一次 iterable，对它产生的每一个 batch 求平均",
                                      "go through the iterable once and average over every batch it yields"))

    _check_evaluate_hidden(_seen)
    ### END HIDDEN TESTS
print("test_evaluate: ok")

# %% [markdown]
# 现在可以量一下没训练过的模型在整个验证集上的 loss：
#
# > **EN** Now measure the untrained model on the whole validation set:

# %%
val_before = evaluate(untrained, val_batches)
print(f"untrained model, validation loss {val_before:.3f} (ln V = {math.log(vocab_size):.3f}), "
      f"perplexity {math.exp(val_before):,.0f}")

# %% [markdown]
# ## 5. 一步更新 / One update step
#
# 一步训练有固定的五个动作，顺序很重要：
#
# 1. `optimizer.zero_grad()`：清掉上一步留下的梯度；
# 2. `loss = batch_loss(...)`：forward；
# 3. `loss.backward()`：每个参数的 `.grad` 里得到梯度；
# 4. `clip_grad_norm_`：如果所有梯度合起来的长度（global norm）超过上限，就整体按比例缩小；
# 5. `optimizer.step()`：用 `.grad` 更新参数。
#
# **为什么要 zero_grad？** `backward()` 不是覆盖 `.grad`，而是**累加**进去。同一个 batch 反向传播两次，梯度就是两倍：
#
# > **EN** A training step is five actions in a fixed order:
# >
# > 1. `optimizer.zero_grad()`: clear the gradients the previous step left;
# > 2. `loss = batch_loss(...)`: the forward pass;
# > 3. `loss.backward()`: every parameter's `.grad` receives its gradient;
# > 4. `clip_grad_norm_`: if all gradients together (the global norm) are longer than a limit, scale them all
# >    down by the same factor;
# > 5. `optimizer.step()`: update the parameters from `.grad`.
# >
# > **Why zero_grad?** `backward()` does not overwrite `.grad`, it **adds** into it. Backpropagate the same batch
# > twice and the gradient doubles:

# %%
def grad_norm(model):
    """Length of all gradients of ``model`` together, as one long vector."""
    return math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters() if p.grad is not None))


untrained.zero_grad()
batch_loss(untrained, inputs, targets).backward()
print(f"after one backward():  global gradient norm {grad_norm(untrained):.4f}")
batch_loss(untrained, inputs, targets).backward()
print(f"after two backward():  global gradient norm {grad_norm(untrained):.4f}   (no zero_grad in between)")
untrained.zero_grad()
print("after zero_grad():     .grad is", untrained.lm_head.weight.grad)

# %% [markdown]
# **为什么要 clipping？** 偶尔会有一个 batch 的梯度特别大（比如训练刚开始，或者碰到一段少见的文本），一步就把权重推得很远。`torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)` 算出所有梯度的 global norm，超过 `max_norm` 时把**每个**梯度都乘上同一个系数 `max_norm / norm`：方向不变，只是步子变小。它修改的是 `.grad`，所以必须放在 `backward()` 之后（有梯度了）、`step()` 之前（还没用掉）。它返回裁剪前的 norm：
#
# > **EN** **Why clipping?** Now and then one batch has a very large gradient (early in training, or on an
# > unusual piece of text) and a single step throws the weights far away.
# > `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)` computes the global norm of all gradients
# > and, above `max_norm`, multiplies **every** gradient by the same factor `max_norm / norm`: same direction,
# > shorter step. It edits `.grad`, so it goes after `backward()` (the gradients exist) and before `step()`
# > (they have not been used yet). It returns the norm before clipping:

# %%
batch_loss(untrained, inputs, targets).backward()
before = nn.utils.clip_grad_norm_(untrained.parameters(), max_norm=0.5)
print(f"norm before clipping {before.item():.4f} -> after clipping {grad_norm(untrained):.4f}")
untrained.zero_grad()

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["zero-grad", "clip-order"])

# %% [markdown]
# ### AdamW 和 weight decay / AdamW and weight decay
#
# 优化器用 **AdamW**：它给每个参数记着梯度的滑动平均（一阶矩）和梯度平方的滑动平均（二阶矩），用它们给每个参数定自己的步长。"W" 指 decoupled **weight decay**：每一步把权重往 0 拉一点点，是一种正则化。GPT-2 式的训练只对矩阵（Linear 和 Embedding 的权重）做 weight decay，不对 bias 和 LayerNorm 的参数做：它们是一维的，数量很少，把 LayerNorm 的 scale 往 0 拉也没有道理。所以参数分成两组：
#
# > **EN** The optimiser is **AdamW**: for every parameter it keeps a moving average of the gradient (first
# > moment) and of the squared gradient (second moment) and uses them to give each parameter its own step
# > size. The "W" is decoupled **weight decay**: every step pulls the weights a little towards 0, a form of
# > regularisation. GPT-2 style training decays only the matrices (Linear and Embedding weights), not biases
# > or LayerNorm parameters: those are 1-D, few, and pulling a LayerNorm scale towards 0 makes no sense. So
# > the parameters go into two groups:

# %%
def configure_adamw(model, lr, weight_decay=0.1, betas=(0.9, 0.95)):
    """AdamW with weight decay for matrices (dim >= 2) and none for vectors (biases, LayerNorms)."""
    matrices = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    vectors = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": weight_decay}, {"params": vectors, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


optimizer = configure_adamw(untrained, lr=1e-3)
for group in optimizer.param_groups:
    print(f"weight_decay {group['weight_decay']}: {len(group['params']):2d} tensors, "
          f"{sum(p.numel() for p in group['params']):9,} numbers")

# %% [markdown]
# 注意 `model.parameters()` 对共享的 tensor 只给一次，所以 weight tying 的那张表只会出现在一个组里。
#
# > **EN** `model.parameters()` yields a shared tensor once, so the tied table lands in one group only.
#
# ### ✍️ 练习 3：`train_step` / Exercise 3: `train_step`

# %% [solution] id=train_step
def train_step(model, optimizer, inputs, targets, max_grad_norm=1.0):
    """One update of ``model`` on one batch; returns the batch loss (before the update) as a float.

    Clears old gradients, computes batch_loss, backpropagates, clips the global gradient norm to
    ``max_grad_norm`` (None: no clipping) with torch.nn.utils.clip_grad_norm_, then optimizer.step().
    Works with any torch optimizer built over model.parameters().
    """
    ### BEGIN SOLUTION
    optimizer.zero_grad(set_to_none=True)  # .grad would otherwise add up across steps
    loss = batch_loss(model, inputs, targets)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # after backward, before step
    optimizer.step()
    return loss.item()
    ### END SOLUTION

# %% [tests] id=test_train_step points=3
import copy
import math
import torch
import torch.nn.functional as F

from course.checks import expect_close, expect_own_work, stand_ins, expect_type
from gpt2ref import GPTConfig, GPTModel
from gpt2ref import training as reference

expect_own_work(train_step, lesson=36, what="train_step")


def _expected_update(model, inputs, targets, max_norm):
    """(loss, clipped gradients) at the model's current weights: from a copy, clipped by hand."""
    clone = copy.deepcopy(model)
    loss = F.cross_entropy(clone(inputs).reshape(-1, 13), targets.reshape(-1))
    grads = torch.autograd.grad(loss, list(clone.parameters()))
    if max_norm is not None:
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        grads = [g * min(1.0, max_norm / (norm + 1e-6)) for g in grads]
    return loss.item(), grads


def _check_steps(max_norm, what, hint, steps=2, lr=0.5):
    """Plain SGD makes each update visible: new weight = old weight - lr * (clipped) gradient."""
    what_zh, what = what  # (Chinese, English)
    torch.manual_seed(0)
    model = GPTModel(GPTConfig(vocab_size=13, context_length=8, d_model=8, num_heads=2, num_layers=1, dropout=0.0))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(2)
    for step in range(steps):
        x, y = torch.randint(13, (2, 6), generator=g), torch.randint(13, (2, 6), generator=g)
        before = [p.detach().clone() for p in model.parameters()]
        loss_expected, grads = _expected_update(model, x, y, max_norm)
        loss = train_step(model, optimizer, x, y, max_grad_norm=max_norm)
        expect_type(loss, float, ("train_step(...) 的返回值", "train_step(...) return value"),
                    hint=("返回 loss.item()，即更新之前的 loss", "return loss.item(), the loss before the update"))
        expect_close(torch.tensor(loss, dtype=torch.float64), torch.tensor(loss_expected, dtype=torch.float64),
                     (f"{what_zh}：第 {step + 1} 步返回的 loss", f"{what}: loss returned by step {step + 1}"), atol=1e-5,
                     hint=("返回这个 batch 的 loss，它要在 optimizer.step() 之前算出",
                           "return the loss of this batch, computed before optimizer.step()"))
        for (name, p), p0, grad in zip(model.named_parameters(), before, grads):
            expect_close(p.detach(), p0 - lr * grad,
                         (f"{what_zh}：第 {step + 1} 步之后的 {name}", f"{what}: {name} after step {step + 1}"),
                         atol=1e-5, hint=hint)


with stand_ins(globals(), batch_loss=reference.batch_loss):  # train_step may call batch_loss
    _check_steps(0.05, ("max_grad_norm=0.05 时走两步", "two steps with max_grad_norm=0.05"),
                 ("先清零旧的梯度，再 backward()，然后用 clip_grad_norm_(model.parameters(), max_grad_norm) 裁剪梯度："
                  "裁剪要放在 backward() 之后、step() 之前",
                  "zero the old gradients, backward, clip with clip_grad_norm_(model.parameters(), max_grad_norm) "
                  "after backward() and before step()"))
    ### BEGIN HIDDEN TESTS
    _check_steps(None, ("max_grad_norm=None 时走三步", "three steps with max_grad_norm=None"), steps=3,
                 hint=("max_grad_norm=None 表示不裁剪；每一步只能用它自己那个 batch 的梯度"
                       "（在 backward 之前调用 optimizer.zero_grad()）",
                       "max_grad_norm=None means no clipping; every step must use only its own batch's gradient "
                       "(optimizer.zero_grad() before backward)"))
    _check_steps(1e-3, ("max_grad_norm=0.001 时走三步", "three steps with max_grad_norm=0.001"), steps=3,
                 hint=("在 backward() 和 step() 之间，把所有梯度合在一起、按它们的 global norm 裁剪",
                       "clip the global norm of all gradients together, between backward() and step()"))
    ### END HIDDEN TESTS
print("test_train_step: ok")

# %% [markdown]
# **先过拟合一个 batch。** 这是调试训练代码最有用的检查：只拿**一个** batch 反复训练，loss 应该一路降到接近 0。降不下去，就说明 loss、梯度或更新里有 bug——这比在整个数据集上训几分钟再发现问题要快得多。
#
# > **EN** **Overfit one batch first.** The most useful check of training code: train on **one** batch over
# > and over and the loss should fall close to 0. If it does not, the loss, the gradients or the update has a
# > bug, found in seconds instead of after minutes of training on the whole data set.

# %%
torch.manual_seed(0)
small = GPTModel(GPTConfig(vocab_size=vocab_size, context_length=context, d_model=64, num_heads=4, num_layers=2,
                           dropout=0.0))
small_opt = configure_adamw(small, lr=3e-3)
one_x, one_y = inputs[:2, :32], targets[:2, :32]  # one small batch: 2 windows of 32 tokens
for step in range(1, 61):
    loss = train_step(small, small_opt, one_x, one_y, max_grad_norm=1.0)
    if step in (1, 10, 20, 40, 60):
        print(f"step {step:2d}: loss {loss:.3f}")

# %% [markdown]
# ## 6. 学习率：warmup 和 cosine decay / The learning rate: warmup and cosine decay
#
# 学习率不是一个常数，而是随步数变化：
#
# - **warmup**：开头的 `warmup_steps` 步从很小线性升到 `max_lr`。刚开始权重是随机的，梯度大而且变化快，AdamW 的滑动平均也只建立在几个 batch 上，这时走大步容易一下子跑偏。
# - **cosine decay**：之后沿半个余弦曲线慢慢降到 `min_lr`。训练后期步子变小，模型才能在一个好的位置稳定下来。
#
# > **EN** The learning rate changes with the step instead of staying constant:
# >
# > - **warmup**: over the first `warmup_steps` steps it climbs linearly from small to `max_lr`. At the start
# >   the weights are random, the gradients are large and change fast, and AdamW's moving averages rest on a
# >   few batches: big steps now easily throw the run off course.
# > - **cosine decay**: then it falls along half a cosine to `min_lr`. Smaller steps late in training let the
# >   model settle in a good place.

# %%
def lr_at(step, max_lr, warmup_steps, total_steps, min_lr=0.0):
    """Learning rate for update number ``step`` (0-based): linear warmup, then half a cosine to min_lr."""
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)  # 0 -> 1
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


demo_schedule = [lr_at(s, max_lr=3e-3, warmup_steps=30, total_steps=1000, min_lr=3e-4) for s in range(1000)]
print("steps 0, 14, 29 (warmup):", [f"{demo_schedule[s]:.1e}" for s in (0, 14, 29)])
print("steps 500, 999 (decay):  ", [f"{demo_schedule[s]:.1e}" for s in (500, 999)])
fig, ax = plt.subplots(figsize=(6, 2.6))
ax.plot(demo_schedule)
ax.axvline(30, color="gray", linestyle=":", label="end of warmup")
ax.set(title="Learning rate: 30 warmup steps, then cosine decay", xlabel="step", ylabel="learning rate")
ax.legend()
fig.tight_layout()
plt.show()

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["warmup"])

# %% [markdown]
# ## 7. 训练循环 / The training loop
#
# 现在把零件串起来。`train` 每一步：按 schedule 设学习率 → 取一个 batch → `train_step` → 记下 loss。每隔 `eval_every` 步，在验证集上 `evaluate` 一次，再让模型生成一小段文字（`sample(model)`），亲眼看看它学到了什么。训练循环还要能**从中间接着跑**（第 9 节要用）：`start_step` 说从第几步开始，`history` 是上一次返回的记录，接着往里写。
#
# 进度条用 `tqdm.auto.tqdm`：在 Jupyter 里是一个 widget，在终端里是一行文字。`bar.set_postfix(loss=...)` 把当前 loss 显示在进度条上，`bar.write(...)` 打印一行而不打乱进度条。
#
# > **EN** Time to chain the parts. Each step `train` sets the learning rate from the schedule → draws a batch →
# > `train_step` → records the loss. Every `eval_every` steps it runs `evaluate` on the validation set and lets
# > the model write a little text (`sample(model)`) so you can see what it has learned. The loop must also
# > **resume from the middle** (section 9 needs it): `start_step` says where to begin and `history` is the
# > record a previous call returned, to be extended.
# >
# > The progress bar is `tqdm.auto.tqdm`: a widget in Jupyter, a line of text in a terminal.
# > `bar.set_postfix(loss=...)` shows the current loss on the bar, `bar.write(...)` prints a line without
# > breaking the bar.
#
# 一步接一步的循环（`step` 从 0 数起）：
#
# > **EN** The loop, step after step (`step` counts from 0):
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     lr["lr_schedule(step): set the learning rate of every param group"] --> batch["get_batch(): inputs, targets (B, T)"]
#     batch --> zero["optimizer.zero_grad()"]
#     zero --> loss["batch_loss: forward to logits (B, T, vocab_size)<br>then cross-entropy: one number"]
#     loss --> bwd["loss.backward(): every parameter's .grad"]
#     bwd --> clip["clip_grad_norm_(params, max_grad_norm)"]
#     clip --> update["optimizer.step(): AdamW updates the weights"]
#     update --> rec["history: step + 1, lr, train_loss"]
#     rec -- "when (step#nbsp;+#nbsp;1)#nbsp;%<br>eval_every#nbsp;==#nbsp;0" --> val["evaluate(model, val_batches) and sample(model)<br>val_loss, text"]
#     rec -- "next step,<br>until num_steps" --> lr
#     val -- "next step,<br>until num_steps" --> lr
# ```
#
# 中间五个框（从 `zero_grad` 到 `optimizer.step()`）就是你在练习 3 里写的 `train_step`。
#
# > **EN** The five boxes in the middle (from `zero_grad` to `optimizer.step()`) are the `train_step` you wrote
# > in exercise 3.
#
# ### ✍️ 练习 4：`train` / Exercise 4: `train`

# %% [solution] id=train
def train(model, optimizer, get_batch, val_batches, num_steps, eval_every, max_grad_norm=1.0,
          lr_schedule=None, sample=None, start_step=0, history=None, progress=True):
    """Run updates number start_step .. num_steps - 1 (0-based) and return the history dict.

    The model is put in train mode first. Each step (0-based ``step``):
      1. if lr_schedule is given: set group["lr"] = lr_schedule(step) for every optimizer.param_groups
      2. inputs, targets = get_batch()
      3. loss = train_step(model, optimizer, inputs, targets, max_grad_norm)
      4. append step + 1 (updates done) to history["step"], the lr of param group 0 to history["lr"],
         loss to history["train_loss"]
      5. if (step + 1) % eval_every == 0: append step + 1 to history["val_step"] and
         evaluate(model, val_batches) to history["val_loss"]; if sample is given, append
         (step + 1, sample(model)) to history["samples"]; print one line about it (when progress).
    history: None -> a new dict with the empty lists "step", "lr", "train_loss", "val_step",
    "val_loss", "samples"; otherwise the dict a previous call returned, extended in place.
    progress: show a tqdm.auto progress bar with the current loss (False: no bar, no printing).
    """
    ### BEGIN SOLUTION
    if history is None:
        history = {key: [] for key in ("step", "lr", "train_loss", "val_step", "val_loss", "samples")}
    model.train()
    bar = tqdm(range(start_step, num_steps), initial=start_step, total=num_steps, desc="training",
               disable=not progress)
    for step in bar:
        if lr_schedule is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_schedule(step)
        inputs, targets = get_batch()
        loss = train_step(model, optimizer, inputs, targets, max_grad_norm)
        history["step"].append(step + 1)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        history["train_loss"].append(loss)
        bar.set_postfix(loss=f"{loss:.3f}")
        if (step + 1) % eval_every == 0:
            val_loss = evaluate(model, val_batches)
            history["val_step"].append(step + 1)
            history["val_loss"].append(val_loss)
            line = f"step {step + 1:4d} | train {loss:.3f} | val {val_loss:.3f}"
            if sample is not None:
                text = sample(model)
                history["samples"].append((step + 1, text))
                line += f" | {text!r}"
            if progress:
                bar.write(line)
    return history
    ### END SOLUTION

# %% [tests] id=test_train points=3
import contextlib
import io
import warnings

import torch

from course.checks import expect, expect_close, expect_equal, expect_own_work, stand_ins
from gpt2ref import GPTConfig, GPTModel, SlidingWindowDataset
from gpt2ref import training as reference

expect_own_work(train, lesson=36, what="train")


_WINDOWS = SlidingWindowDataset(torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9] * 20), max_length=8,
                                stride=1)  # a repeating text the model can learn
_VAL = [tuple(torch.stack(part) for part in zip(*(_WINDOWS[i] for i in range(k, k + 4)))) for k in (0, 40)]


def _setup(seed=0):
    """A fresh tiny model, its AdamW and a batch source: the same seed gives the same start."""
    torch.manual_seed(seed)
    model = GPTModel(GPTConfig(vocab_size=13, context_length=8, d_model=16, num_heads=2, num_layers=1, dropout=0.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed + 1)
    return model, optimizer, (lambda: reference.random_batch(_WINDOWS, 4, g))


def _schedule(step):
    return 1e-2 * (step + 1) / 6


def _check_train():
    model, optimizer, get_batch = _setup()
    model.eval()
    history = train(model, optimizer, get_batch, _VAL, num_steps=6, eval_every=3, lr_schedule=_schedule,
                    progress=False)
    ref_model, ref_optimizer, ref_get_batch = _setup()
    expected = reference.train(ref_model, ref_optimizer, ref_get_batch, _VAL, num_steps=6, eval_every=3,
                               lr_schedule=_schedule, progress=False)
    expect_equal(history["step"], [1, 2, 3, 4, 5, 6], ('6 步之后的 history["step"]', 'history["step"] after 6 steps'),
                 hint=("每一步之后追加 step + 1（已完成的更新次数）",
                       "append step + 1 (the number of updates done) after every step"))
    expect_close(torch.tensor(history["train_loss"]), torch.tensor(expected["train_loss"]),
                 ('6 步的 history["train_loss"]', 'history["train_loss"] of 6 steps'), atol=1e-4,
                 hint=("每一步：设置 lr，调用 get_batch() 和 train_step(...)，记下 train_step 返回的 loss",
                       "each step: set the lr, get_batch(), train_step(...); record the loss it returns"))
    expect_equal(history["val_step"], [3, 6], ('eval_every=3 时的 history["val_step"]', 'history["val_step"] with eval_every=3'),
                 hint=("每当更新次数 step + 1 是 eval_every 的倍数时，在这次更新之后评估一次",
                       "evaluate after every update whose number (step + 1) is a multiple of eval_every"))
    expect(model.training, ("train() 结束后模型的模式", "the model's mode after train()"),
           ("期望是 train 模式", "expected train mode"),
           hint=("在开头调用 model.train()：传进来的模型可能处在 eval 模式",
                 "call model.train() at the start: the model may arrive in eval mode"))
    return model, history, ref_model, expected


def _check_train_continued_quietly():
    """Updates 0-1, then 2-4 with start_step=2 and the first history; progress=False all along."""
    model, optimizer, get_batch = _setup(seed=2)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = train(model, optimizer, get_batch, _VAL[:1], num_steps=2, eval_every=2, progress=False)
        both = train(model, optimizer, get_batch, _VAL[:1], num_steps=5, eval_every=2, start_step=2,
                     history=first, progress=False)
    expect(printed.getvalue() == "", ("train(..., progress=False) 打印的内容", "what train(..., progress=False) printed"),
           (f"期望什么都不打印，实际打印了 {printed.getvalue()[:300]!r}",
            f"expected nothing, got {printed.getvalue()[:300]!r}"),
           hint=("progress=False 表示不显示进度条、也不打印任何行：用 tqdm(..., disable=not progress)，"
                 "只有 progress 为 True 时才 print（或 bar.write）",
                 "progress=False means no progress bar and no printed lines: tqdm(..., disable=not progress), "
                 "and print (or bar.write) only when progress is True"))
    expect(both is first, "train(..., history=h)",
           ("期望返回同一个 dict h，并在其中追加了新的记录", "expected the same dict h back, extended"),
           hint=("传入了 history 时，往它里面追加，而不是新建一个",
                 "when history is given, append to it instead of starting a new one"))
    expect_equal(both["step"], [1, 2, 3, 4, 5],
                 ('先跑第 0-1 步、再用 start_step=2 跑第 2-4 步之后的 history["step"]',
                  'history["step"] of steps 0-1, then 2-4 with start_step=2'),
                 hint=("传入了 history 时往它里面追加；运行第 start_step .. num_steps - 1 步",
                       "when history is given, append to it; run steps start_step .. num_steps - 1"))


with stand_ins(globals(), batch_loss=reference.batch_loss, evaluate=reference.evaluate,
               train_step=reference.train_step):  # train may call all three
    _results = _check_train()
    _check_train_continued_quietly()
    ### BEGIN HIDDEN TESTS
    def _check_train_hidden(model, history, ref_model, expected):
        expect_close(torch.tensor(history["val_loss"]), torch.tensor(expected["val_loss"]), 'history["val_loss"]',
                     atol=1e-4, hint=("在更新之后立刻记下 evaluate(model, val_batches)",
                                      "record evaluate(model, val_batches) right after the update"))
        expect_close(torch.tensor(history["lr"], dtype=torch.float64),
                     torch.tensor([_schedule(s) for s in range(6)], dtype=torch.float64), 'history["lr"]', atol=1e-12,
                     hint=("在更新之前把每个 param group 的 lr 设为 lr_schedule(step)（step 从 0 开始）",
                           "set every param group's lr to lr_schedule(step) before the update (step is 0-based)"))
        for (name, p), q in zip(model.named_parameters(), ref_model.parameters()):
            expect_close(p.detach(), q.detach(), (f"6 步之后的 {name}", f"{name} after 6 steps"), atol=1e-4,
                         hint=("每一步调用一次 train_step，用按计划设置的 lr 和 max_grad_norm",
                               "one train_step per step, with the scheduled lr and max_grad_norm"))

        calls = []

        def sample(m):
            calls.append(m.training)
            return f"text {len(calls)}"

        model, optimizer, get_batch = _setup()
        history = train(model, optimizer, get_batch, _VAL, num_steps=4, eval_every=2, sample=sample, progress=False)
        expect_equal([tuple(s) for s in history["samples"]], [(2, "text 1"), (4, "text 2")], 'history["samples"]',
                     hint=("每次评估时调用一次 sample(model)，记下二元组 (step + 1, text)，text 是它返回的文本",
                           "at every evaluation, call sample(model) once and record (step + 1, its text)"))
        expect(model.training, ("传入 sample 调用 train() 之后模型的模式", "the model's mode after train() with samples"),
               ("期望是 train 模式", "expected train mode"),
               hint=("评估和采样之后，必须回到 train 模式继续训练",
                     "after evaluating and sampling, training must go on in train mode"))

        model, optimizer, get_batch = _setup()
        first = train(model, optimizer, get_batch, _VAL, num_steps=3, eval_every=2, lr_schedule=_schedule,
                      progress=False)
        both = train(model, optimizer, get_batch, _VAL, num_steps=6, eval_every=2, lr_schedule=_schedule,
                     start_step=3, history=first, progress=False)
        ref_model, ref_optimizer, ref_get_batch = _setup()
        straight = reference.train(ref_model, ref_optimizer, ref_get_batch, _VAL, num_steps=6, eval_every=2,
                                   lr_schedule=_schedule, progress=False)
        expect(both is first, "train(..., history=h)",
               ("期望返回同一个 dict h，并在其中追加了新的记录", "expected the same dict h back, extended"),
               hint=("传入了 history 时，往它里面追加，而不是新建一个",
                     "when history is given, append to it instead of starting a new one"))
        expect_equal(both["step"], straight["step"],
                     ('先跑第 0-2 步、再用 start_step=3 跑第 3-5 步之后的 history["step"]',
                      'history["step"] of steps 0-2, then 3-5 with start_step=3'),
                     hint=("运行第 start_step .. num_steps - 1 步", "run steps start_step .. num_steps - 1"))
        expect_equal(both["val_step"], [2, 4, 6], ('两次调用合起来的 history["val_step"]',
                                                   'history["val_step"] across the two calls'),
                     hint=("步数是全局的：step + 1，从整个训练的开头算起",
                           "the step number is global: step + 1, counted from the start of the run"))
        expect_close(torch.tensor(both["train_loss"]), torch.tensor(straight["train_loss"]),
                     ('用 start_step 接着跑的训练的 history["train_loss"]',
                      'history["train_loss"] of a run continued with start_step'), atol=1e-4,
                     hint=("lr_schedule(step) 接收的是全局的 step，所以接着跑的训练沿用同一个学习率计划",
                           "lr_schedule(step) takes the global step, so a continued run follows the same schedule"))

        import contextlib
        import io
        import warnings

        model, optimizer, get_batch = _setup()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train(model, optimizer, get_batch, _VAL, num_steps=4, eval_every=2, sample=lambda m: "a sample",
                  progress=False)
        expect(printed.getvalue() == "", ("train(..., progress=False) 打印的内容", "what train(..., progress=False) printed"),
               (f"期望什么都不打印，实际打印了 {printed.getvalue()[:300]!r}",
                f"expected nothing, got {printed.getvalue()[:300]!r}"),
               hint=("progress=False 表示不显示进度条、也不打印任何行：用 tqdm(..., disable=not progress)，"
                     "只有 progress 为 True 时才 print（或 bar.write）",
                     "progress=False means no progress bar and no printed lines: tqdm(..., disable=not progress), "
                     "and print (or bar.write) only when progress is True"))

        model, optimizer, get_batch = _setup()
        before = reference.evaluate(model, _VAL)
        history = train(model, optimizer, get_batch, _VAL, num_steps=40, eval_every=20, progress=False)
        expect(history["val_loss"][-1] < 0.5 * before,
               ("在重复的模式上训练 40 步之后的验证 loss", "validation loss after 40 steps on a repeating pattern"),
               (f"期望低于 {before:.3f} 的一半，实际是 {history['val_loss'][-1]:.3f}",
                f"expected below half of {before:.3f}, got {history['val_loss'][-1]:.3f}"),
               hint=("模型没有在学习：检查 zero_grad -> backward -> step 的顺序，以及 lr",
                     "the model is not learning: check the order zero_grad -> backward -> step and the lr"))

    _check_train_hidden(*_results)
    ### END HIDDEN TESTS
print("test_train: ok")

# %% [markdown]
# ## 8. 在 Python 文档上训练 / Training on Python's documentation
#
# 一切就绪。模型配置：两层、`d_model = 128`、4 个 head、上下文 64 个 token，紧凑词表，weight tying，不用 dropout（这么短的训练离 overfitting 还远，dropout 只会让它学得更慢；训练结束时打印的最后一行会检查这一点）。每步 16 个窗口（1,024 个 token），学习率 warmup 30 步后从 3e-3 按 cosine 降到 3e-4，梯度 norm 上限 1.0，每 100 步评估一次并从同一个开头 `The "for" statement` 生成一段文字（top-k = 20，固定的 seed，这样每次比较的都是同一种采样）。下面这个 cell 在笔记本电脑上大约要两分钟（机器忙或者慢的话会久一点）。如果你的 `train` 没有显示进度条，这个 cell 会自己显示一个（它数 `get_batch` 被调用了几次）。
#
# > **EN** Everything is ready. The model: two layers, `d_model = 128`, 4 heads, a context of 64 tokens, the
# > compact vocabulary, weight tying, no dropout (a run this short is far from overfitting, so dropout would
# > only slow learning down; the last line printed after training checks that). Each step takes 16 windows
# > (1,024 tokens); the learning rate warms up for 30 steps, then decays along a cosine from 3e-3 to 3e-4; the
# > gradient norm is clipped at 1.0. Every 100 steps the loop evaluates and writes a sample from the same
# > prompt, `The "for" statement` (top-k = 20 and a fixed seed, so every sample is drawn the same way). The
# > cell takes about two minutes on a laptop (a little more on a busy or slow one). If your `train` shows no
# > progress bar, the cell shows one of its own (it counts the calls of `get_batch`).

# %% tags=skip-autograde
NUM_STEPS, EVAL_EVERY, BATCH_SIZE = 1000, 100, 16
MAX_LR, MIN_LR, WARMUP = 3e-3, 3e-4, 30

torch.manual_seed(0)
model = GPTModel(config)  # the config of section 2
optimizer = configure_adamw(model, lr=MAX_LR)
data_rng = torch.Generator().manual_seed(1)
prompt = torch.searchsorted(kept, torch.tensor([enc.encode('The "for" statement')]))  # (1, 4) compact ids


steps_bar = None  # this cell's own progress bar, made only if your train() shows none
bars_before = set(getattr(tqdm, "_instances", ()))  # bars left open by earlier cells do not count


def get_batch():
    """One training batch; also counts the steps, so the cell shows progress whatever train() prints."""
    global steps_bar
    if steps_bar is None:  # first call: is a progress bar (yours) already open?
        bar_open = bool(set(getattr(tqdm, "_instances", ())) - bars_before)
        steps_bar = False if bar_open else tqdm(total=NUM_STEPS, desc="steps (counted by this cell)")
    if steps_bar is not False:
        steps_bar.update(1)
    return random_batch(train_windows, BATCH_SIZE, data_rng)


def schedule(step):
    return lr_at(step, MAX_LR, WARMUP, NUM_STEPS, MIN_LR)


def sample(model):
    out = generate(model, prompt, max_new_tokens=30, top_k=20, seed=0)  # eval mode inside, then back
    return to_text(out[0])


print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
val_start = evaluate(model, val_batches)
print(f"before training: validation loss {val_start:.3f}, perplexity {math.exp(val_start):,.0f}")
start = time.perf_counter()
history = train(model, optimizer, get_batch, val_batches, NUM_STEPS, EVAL_EVERY, max_grad_norm=1.0,
                lr_schedule=schedule, sample=sample)
seconds = time.perf_counter() - start
if steps_bar:
    steps_bar.close()
val_end = history["val_loss"][-1]
print(f"\n{NUM_STEPS} steps in {seconds:.0f} s ({NUM_STEPS * BATCH_SIZE * context / seconds:,.0f} tokens/s)")
print(f"validation loss {val_start:.2f} -> {val_end:.2f}, perplexity {math.exp(val_start):,.0f} -> {math.exp(val_end):.1f}")
print(f"train loss, mean of the last 100 steps: {sum(history['train_loss'][-100:]) / 100:.2f}")
print(f"in eval mode, windows side by side: training text {evaluate(model, train_side_by_side):.2f}, "
      f"validation text {evaluate(model, val_batches):.2f}")

# %% tags=skip-autograde
def smooth(values, weight=0.9):
    """Exponential moving average, to see the trend of a noisy curve."""
    out, avg = [], values[0]
    for v in values:
        avg = weight * avg + (1 - weight) * v
        out.append(avg)
    return out


fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(history["step"], history["train_loss"], color="tab:blue", alpha=0.25, label="train loss (each step)")
ax.plot(history["step"], smooth(history["train_loss"]), color="tab:blue", label="train loss (moving average)")
ax.plot([0] + history["val_step"], [val_start] + history["val_loss"], "o-", color="tab:orange",
        label="validation loss")
ax.axhline(math.log(vocab_size), color="gray", linestyle=":", label=f"ln(vocab_size) = {math.log(vocab_size):.2f}")
ax.set(title="Training a 2-layer GPT on Python's help topics", xlabel="step (updates done)",
       ylabel="cross-entropy loss (nats)")
ax.set_ylim(bottom=0)
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# 验证 loss 从 8.22 降到了 3.0 左右，perplexity 从约 3,700 降到约 20：模型从“在几千个 token 里瞎猜”变成了“在二十来个里挑”。再看上面每隔 100 步打印的样例：开头只会吐出引号、星号、下划线和换行（格式最容易学）；接着出现 `clause`、`statement`、`finally` 这些文档里的常用词；到最后，句子的骨架已经像 Python 的文档了，只是意思还对不上。一个约一百万参数、只训练了 1,000 步的模型，也就能学到这里。
#
# 还有一件值得注意的事：图里橙色的验证 loss 大部分时候在蓝色的训练 loss **下面**。这不是 bug。两条曲线量的是**不同的文本**：验证集是按字母排在最后的那些帮助主题（1.2 节打印了它们：方法、模块、序列类型、`while`、`with`、`yield`……），这些页面格式整齐、重复多，模型先学会的正是格式，所以训练前期它们比训练文本的平均水平好猜。真正该比较的是上面打印的最后一行：同一个模型、同样的 eval 模式、同样首尾相接的窗口，训练文本上的 loss 和验证 loss 差不多一样。两条曲线一起下降、训练文本上的 loss 没有明显低于验证集，说明模型还没有 **overfitting**。如果接着训练很多轮，训练 loss 会继续降，验证 loss 却会停下来甚至回升——那时就该停下，保留验证 loss 最低时的 checkpoint。
#
# > **EN** The validation loss fell from 8.22 to about 3.0, the perplexity from about 3,700 to about 20: from
# > "guessing among thousands of tokens" to "choosing among twenty or so". Now read the samples printed every 100
# > steps: at first only quotes, asterisks, underscores and newlines (layout is the easiest thing to learn); then
# > the documentation's common words, `clause`, `statement`, `finally`; by the end the sentences have the shape
# > of Python's documentation, though not yet its meaning. That is about as far as a model of about a million
# > parameters gets in 1,000 steps.
# >
# > One more thing worth noticing: for most of the run the orange validation loss lies **below** the blue
# > training loss. That is not a bug. The two curves measure **different text**: the validation set is the
# > help topics that come last in alphabetical order (section 1.2 printed them: methods, modules, sequence
# > types, `while`, `with`, `yield`, ...). Those pages are regular and repetitive, and layout
# > is what the model learns first, so early on they are easier to predict than the average training text.
# > The fair comparison is the last line printed above: the same model, in the same eval mode, on windows cut
# > the same way, has about the same loss on the training text as on the validation text. Both curves fall together and the
# > training text is not predicted clearly better than the validation text, so the model is not
# > **overfitting** yet. Train for many more epochs and the training loss keeps falling while the validation
# > loss stalls or rises: that is the moment to stop and keep the checkpoint with the lowest validation loss.

# %% [markdown]
# ## 9. 检查点 / Checkpoints
#
# 训练可能被打断：笔记本合上了、Binder 会话超时了、或者你只是想明天接着训。**checkpoint** 把继续训练所需的一切存进一个文件。只存模型权重是不够的，要让恢复后的训练和没中断过的**一模一样**，还需要：
#
# - **optimizer 的状态**：AdamW 每个参数的一阶、二阶矩。少了它们，恢复后的头几步就像重新开始一样乱走；
# - **步数**：学习率 schedule 要知道走到哪了；
# - **两个随机状态**：数据 generator（接下来抽哪些 batch）和全局的 torch 随机状态（dropout 的 mask）。
#
# `torch.save` 能存一个装着 tensor、数字和 dict 的 dict；`torch.load(path, weights_only=True)` 只读这些简单类型，读别人给的文件也安全。`model.state_dict()` / `optimizer.state_dict()` 给出状态，`load_state_dict` 放回去；随机状态用 `torch.get_rng_state()` / `torch.set_rng_state()` 和 `generator.get_state()` / `generator.set_state()`。
#
# > **EN** Training gets interrupted: the laptop lid closes, the Binder session times out, or you want to go on
# > tomorrow. A **checkpoint** puts everything needed to continue into one file. The weights alone are not
# > enough; for a resumed run to be **identical** to one that never stopped it also needs:
# >
# > - **the optimizer state**: AdamW's first and second moments of every parameter. Without them the first
# >   steps after resuming wander as if training had just begun;
# > - **the step**: the learning-rate schedule must know where it is;
# > - **both random states**: the data generator (which batches come next) and the global torch random state
# >   (the dropout masks).
# >
# > `torch.save` stores a dict of tensors, numbers and dicts; `torch.load(path, weights_only=True)` reads only
# > such plain types and is safe even for files from others. `model.state_dict()` / `optimizer.state_dict()`
# > give the states and `load_state_dict` puts them back; the random states go through
# > `torch.get_rng_state()` / `torch.set_rng_state()` and `generator.get_state()` / `generator.set_state()`.
#
# ### ✍️ 练习 5：`save_checkpoint` 和 `load_checkpoint` / Exercise 5: `save_checkpoint` and `load_checkpoint`

# %% [solution] id=checkpoint
def save_checkpoint(path, model, optimizer, step, data_generator):
    """Write to ``path`` everything a run needs to continue exactly where it stopped.

    That is model.state_dict(), optimizer.state_dict(), ``step`` (updates done, an int), the global
    torch random state (torch.get_rng_state(): dropout) and data_generator.get_state() (batch picks).
    Store only tensors, numbers and dicts, so that torch.load(path, weights_only=True) can read it.
    """
    ### BEGIN SOLUTION
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "torch_rng_state": torch.get_rng_state(),
            "data_rng_state": data_generator.get_state(),
        },
        path,
    )
    ### END SOLUTION


def load_checkpoint(path, model, optimizer, data_generator):
    """Restore what save_checkpoint wrote into the existing model, optimizer and data_generator,
    set the global torch random state, and return the step (an int)."""
    ### BEGIN SOLUTION
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    torch.set_rng_state(checkpoint["torch_rng_state"])
    data_generator.set_state(checkpoint["data_rng_state"])
    return checkpoint["step"]
    ### END SOLUTION

# %% [tests] id=test_checkpoint points=3
import tempfile
from pathlib import Path

import torch

from course.checks import expect, expect_equal, expect_own_work, expect_tensor_equal
from gpt2ref import GPTConfig, GPTModel, SlidingWindowDataset
from gpt2ref import training as reference

expect_own_work(save_checkpoint, lesson=36, what="save_checkpoint")
expect_own_work(load_checkpoint, lesson=36, what="load_checkpoint")

_WINDOWS = SlidingWindowDataset(torch.arange(200) * 5 % 13, max_length=8, stride=1)


def _setup(seed, dropout=0.0):
    """A tiny model, its AdamW, a data generator and a batch source drawing from it."""
    torch.manual_seed(seed)
    model = GPTModel(GPTConfig(vocab_size=13, context_length=8, d_model=16, num_heads=2, num_layers=1,
                               dropout=dropout))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed + 1)
    return model, optimizer, g, (lambda: reference.random_batch(_WINDOWS, 4, g))


def _check_round_trip(path):
    model, optimizer, g, get_batch = _setup(0)
    reference.train(model, optimizer, get_batch, [], num_steps=3, eval_every=10, progress=False)
    save_checkpoint(path, model, optimizer, 3, g)
    fresh, fresh_optimizer, fresh_g, _ = _setup(5)
    step = load_checkpoint(path, fresh, fresh_optimizer, fresh_g)
    expect_equal(step, 3, ("load_checkpoint(...) 的返回值", "load_checkpoint(...) return value"),
                 hint=("把 step 存进文件，加载时返回它", "store step in the file and return it"))
    x = torch.tensor([[1, 2, 3, 4, 5, 6]])
    model.eval()
    fresh.eval()
    with torch.no_grad():
        expect_tensor_equal(fresh(x), model(x), ("load_checkpoint 之后新模型的 logits",
                                                 "logits of a fresh model after load_checkpoint"),
                            hint=("保存 model.state_dict()，加载时调用 model.load_state_dict(...)",
                                  "save model.state_dict() and call model.load_state_dict(...) when loading"))
    return model, optimizer, g, fresh, fresh_optimizer, fresh_g


def _expect_random_states_restored(path, model, optimizer, g, step, fresh, fresh_optimizer, fresh_g, seeds, n):
    """Save with the global seed seeds[0], load into fresh objects after seeds[1]: the next n global and
    data random numbers must be the ones that would have come after saving."""
    torch.manual_seed(seeds[0])
    save_checkpoint(path, model, optimizer, step, g)
    next_global, next_data = torch.rand(n), torch.rand(n, generator=g)
    torch.manual_seed(seeds[1])
    load_checkpoint(path, fresh, fresh_optimizer, fresh_g)
    expect_tensor_equal(torch.rand(n), next_global, ("load_checkpoint 之后全局随机数发生器给出的数",
                                                     "the global random numbers after load_checkpoint"),
                        hint=("保存 torch.get_rng_state()，再用 torch.set_rng_state(...) 恢复",
                              "save torch.get_rng_state() and restore it with torch.set_rng_state(...)"))
    expect_tensor_equal(torch.rand(n, generator=fresh_g), next_data,
                        ("加载之后数据 generator 给出的数", "the data generator's numbers after loading"),
                        hint=("保存 data_generator.get_state()，再用 data_generator.set_state(...) 恢复",
                              "save data_generator.get_state() and restore it with data_generator.set_state(...)"))


def _expect_optimizer_restored(optimizer, fresh_optimizer):
    """The fresh AdamW holds the same entries and the same moments as the one that was saved."""
    state, fresh_state = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    expect_equal(sorted(fresh_state), sorted(state), ("load_checkpoint 之后 optimizer state 里的条目",
                                                      "optimizer state entries after load_checkpoint"),
                 hint=("保存 optimizer.state_dict()，加载时调用 optimizer.load_state_dict(...)",
                       "save optimizer.state_dict() and call optimizer.load_state_dict(...) when loading"))
    for key in state:
        for name in ("exp_avg", "exp_avg_sq"):
            expect_tensor_equal(fresh_state[key][name], state[key][name],
                                (f"参数 {key} 的 AdamW {name}", f"AdamW {name} of parameter {key}"),
                                hint=("保存 optimizer.state_dict()，并调用 optimizer.load_state_dict(...) 恢复",
                                      "save optimizer.state_dict() and call optimizer.load_state_dict(...)"))


def _check_states(path):
    """After 2 updates: AdamW's moments and both random states must come back from the file."""
    model, optimizer, g, get_batch = _setup(2)
    reference.train(model, optimizer, get_batch, [], num_steps=2, eval_every=10, progress=False)
    fresh, fresh_optimizer, fresh_g, _ = _setup(4)
    _expect_random_states_restored(path, model, optimizer, g, 2, fresh, fresh_optimizer, fresh_g, (21, 22), 3)
    _expect_optimizer_restored(optimizer, fresh_optimizer)


with tempfile.TemporaryDirectory() as _tmp:
    _objects = _check_round_trip(Path(_tmp) / "checkpoint.pt")
    _check_states(Path(_tmp) / "states.pt")
    ### BEGIN HIDDEN TESTS
    def _check_checkpoint_hidden(path, model, optimizer, g, fresh, fresh_optimizer, fresh_g):
        expect(isinstance(torch.load(path, weights_only=True), dict),
               ("torch.load(path, weights_only=True) 读出的内容", "torch.load(path, weights_only=True)"),
               ("期望是一个 dict", "expected a dict"),
               hint=("用 torch.save 保存一个 dict，里面放 tensor、数字和 state dict",
                     "save a dict of tensors, numbers and state dicts with torch.save"))
        _expect_optimizer_restored(optimizer, fresh_optimizer)
        _expect_random_states_restored(path, model, optimizer, g, 3, fresh, fresh_optimizer, fresh_g, (11, 12), 5)

        # The promise itself: stop after 3 steps, save, load into fresh objects, go on (with dropout).
        model, optimizer, g, get_batch = _setup(0, dropout=0.3)
        straight = reference.train(model, optimizer, get_batch, [], num_steps=6, eval_every=10,
                                   progress=False)["train_loss"]
        model, optimizer, g, get_batch = _setup(0, dropout=0.3)
        first = reference.train(model, optimizer, get_batch, [], num_steps=3, eval_every=10,
                                progress=False)["train_loss"]
        save_checkpoint(path, model, optimizer, 3, g)
        torch.rand(100)
        model, optimizer, g, get_batch = _setup(7, dropout=0.3)
        step = load_checkpoint(path, model, optimizer, g)
        second = reference.train(model, optimizer, get_batch, [], num_steps=6, eval_every=10, start_step=step,
                                 progress=False)["train_loss"]
        expect_equal([round(v, 6) for v in first + second], [round(v, 6) for v in straight],
                     ("训练 3 步 + 保存 + 加载 + 再训练 3 步的 loss，对比不中断地训练 6 步",
                      "train losses of 3 steps + save + load + 3 steps, against 6 steps without stopping"),
                     hint=("checkpoint 里要有模型、optimizer、step 和两个随机状态",
                           "the checkpoint needs the model, the optimizer, the step and both random states"))

    _check_checkpoint_hidden(Path(_tmp) / "checkpoint.pt", *_objects)
    ### END HIDDEN TESTS
print("test_checkpoint: ok")

# %% [markdown]
# 把第 8 节训练好的模型存下来，再读进一个全新的模型里：logits 应该一模一样，生成的文字也一样。
#
# > **EN** Save the model trained in section 8 and load it into a brand-new model: the logits must be identical,
# > and so must the samples.

# %% tags=skip-autograde
checkpoint_path = Path("checkpoints") / "python-docs-gpt.pt"
checkpoint_path.parent.mkdir(exist_ok=True)
save_checkpoint(checkpoint_path, model, optimizer, NUM_STEPS, data_rng)
print(f"saved {checkpoint_path} ({checkpoint_path.stat().st_size / 1e6:.1f} MB)")

torch.manual_seed(123)  # a different initialisation, to be sure the weights come from the file
restored = GPTModel(config)
restored_opt = configure_adamw(restored, lr=MAX_LR)
step = load_checkpoint(checkpoint_path, restored, restored_opt, torch.Generator())
x, _ = val_batches[0]
model.eval()
restored.eval()
with torch.no_grad():
    same = torch.equal(restored(x), model(x))
print(f"restored step {step}; identical logits on a validation batch: {same}")
print("sample from the restored model:", repr(sample(restored)))
print("sample from the trained model: ", repr(sample(model)))

# %% [markdown]
# 最后验证最强的那个承诺：**中断再恢复的训练和不中断的训练一模一样**。用一个带 dropout 的小模型（这样全局随机状态才真的有用）：一次连续训练 40 步；另一次训练 20 步、存 checkpoint、随便做点别的事打乱随机状态、读回一个全新的模型里、再训练 20 步。
#
# > **EN** Finally the strongest promise: **a run that stops and resumes is identical to one that never
# > stopped.** With a small model that uses dropout (so the global random state really matters): one run
# > trains 40 steps straight; the other trains 20, saves a checkpoint, does something else that disturbs the
# > random state, loads into a brand-new model and trains 20 more.

# %% tags=skip-autograde
resume_config = GPTConfig(vocab_size=vocab_size, context_length=context, d_model=64, num_heads=4, num_layers=2,
                          dropout=0.1)


def fresh_run(seed):
    """Model, optimizer, data generator and batch source, all from ``seed``."""
    torch.manual_seed(seed)
    m = GPTModel(resume_config)
    opt = configure_adamw(m, lr=2e-3)
    rng = torch.Generator().manual_seed(seed + 1)
    return m, opt, rng, (lambda: random_batch(train_windows, 8, rng))


def resume_schedule(step):
    return lr_at(step, 2e-3, 5, 40, 2e-4)


m, opt, rng, batches = fresh_run(0)
straight = train(m, opt, batches, val_batches[:1], 40, eval_every=20, lr_schedule=resume_schedule, progress=False)

m, opt, rng, batches = fresh_run(0)
part1 = train(m, opt, batches, val_batches[:1], 20, eval_every=20, lr_schedule=resume_schedule, progress=False)
save_checkpoint("checkpoints/resume-demo.pt", m, opt, 20, rng)
torch.rand(1000)  # something else happens in between
m, opt, rng, batches = fresh_run(99)  # brand-new objects with other weights and another random state
step = load_checkpoint("checkpoints/resume-demo.pt", m, opt, rng)
part2 = train(m, opt, batches, val_batches[:1], 40, eval_every=20, lr_schedule=resume_schedule, start_step=step,
              progress=False)

print("straight run, losses at steps 21-24:", [round(v, 4) for v in straight["train_loss"][20:24]])
print("resumed run,  losses at steps 21-24:", [round(v, 4) for v in part2["train_loss"][:4]])
print("all 40 train losses identical:", part1["train_loss"] + part2["train_loss"] == straight["train_loss"])
print("validation losses identical:  ", part1["val_loss"] + part2["val_loss"] == straight["val_loss"])

# %% [markdown]
# ## 10. 课后小测 / Post quiz

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# ## 小结 / Summary
#
# 现在你有了一套完整的训练代码：
#
# - `batch_loss`：把 `(B, T, V)` 的 logits 和 `(B, T)` 的 targets 展平，对每个位置的下一个 token 算 cross-entropy；没训练的模型 loss ≈ ln V，perplexity = e^loss ≈ V；
# - `evaluate`：eval 模式、`torch.no_grad()`、结束时恢复原来的模式；验证集在一个位置切开，不和训练集共享窗口；
# - `train_step`：zero_grad → forward → backward → clip → step，先用“过拟合一个 batch”检查它；
# - `train`：warmup + cosine 学习率、进度条、定期评估和生成样例，能从任意一步接着跑；
# - `save_checkpoint` / `load_checkpoint`：权重、AdamW 状态、步数和两个随机状态，恢复后的训练分毫不差。
#
# **下一课**（第 37 课）不再从零训练：把 OpenAI 训练好的 GPT-2 small 权重（在约 40 GB 网页文本上训练、用完整的 50,257 个 id）读进同一个 `GPTModel`——参数名一一对上、该转置的矩阵转置好——再用 KV cache 让生成快起来。
#
# > **EN** **Summary: what now exists.** A complete set of training code:
# >
# > - `batch_loss`: flatten `(B, T, V)` logits and `(B, T)` targets, cross-entropy of every position's next
# >   token; an untrained model has loss ≈ ln V and perplexity = e^loss ≈ V;
# > - `evaluate`: eval mode, `torch.no_grad()`, the mode restored at the end; the validation set is cut at one
# >   place and shares no windows with training;
# > - `train_step`: zero_grad → forward → backward → clip → step, checked first by overfitting one batch;
# > - `train`: warmup + cosine learning rate, a progress bar, periodic evaluation and samples, resumable from
# >   any step;
# > - `save_checkpoint` / `load_checkpoint`: weights, AdamW state, the step and both random states, so a resumed
# >   run matches exactly.
# >
# > **Next** (lesson 37) we stop training from scratch: OpenAI's trained GPT-2 small weights (trained on about
# > 40 GB of web text, with all 50,257 ids) are read into the same `GPTModel` (every parameter name matched,
# > the right matrices transposed), and a KV cache makes generation fast.
