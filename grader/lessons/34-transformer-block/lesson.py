# Lesson 34: the transformer block (LayerNorm, GELU, feed-forward, pre-LN residual block).
# Build: python -m grader.build 34-transformer-block
# Release: python -m grader.commands release 34-transformer-block

# %% [markdown]
# # 第 34 课 · Transformer block / Lesson 34 · The transformer block
#
# GPT-2 small 就是同一个 block 叠 12 次。这一课把上一课的 attention 和几个新零件装成这个 block：LayerNorm 让每个 token 的向量保持在合适的尺度，feed-forward 网络对每个 token 单独做非线性变换，残差连接让信息（和梯度）可以直接穿过整个深度。
#
# > **EN** GPT-2 small is one block stacked 12 times. This lesson assembles that block from last lesson's
# > attention and a few new parts: LayerNorm keeps every token's vector at a sensible scale, the feed-forward
# > network transforms every token on its own, and residual connections let information (and gradients)
# > pass straight through the whole depth.
#
# **学完这一课，你会 / By the end you will have:**
#
# - 写出 `LayerNorm`（计分），和 `torch.nn.LayerNorm` 一致，包括有偏方差和 `eps` 的位置；
# - 写出 tanh 形式的 `GELU`（计分），并和 ReLU 比较；
# - 写出 `FeedForward`（计分）：`d_model → 4·d_model → d_model`;
# - 写出 pre-LN 的 `TransformerBlock`（计分），并在 `meta` device 上数出 GPT-2 small 每个 block 的参数；
# - 用一张图看清：没有残差连接，深层网络会“忘掉”它的输入。
#
# > **EN**
# > - write `LayerNorm` (graded), matching `torch.nn.LayerNorm`, biased variance and `eps` placement included;
# > - write `GELU` in its tanh form (graded) and compare it with ReLU;
# > - write `FeedForward` (graded): `d_model → 4·d_model → d_model`;
# > - write the pre-LN `TransformerBlock` (graded) and count GPT-2 small's parameters per block on the
# >   `meta` device;
# > - see in one figure how a deep stack without residual connections "forgets" its input.
#
# **怎么用 / How to use:** 从上到下运行。`# YOUR CODE HERE` 的 cell 由你来写，紧跟的测试 cell 检查它。批改时会用别的数据和随机种子把同样的几件事再查一遍（隐藏测试），不会查新的东西：所以只要每个测试 cell 都打印出 ok、Validate 也通过，代码部分就是满分。attention 从 `gpt2ref` 导入（第 33 课的参考实现），所以第 33 课即使没做完也不影响这一课。
#
# > **EN** Run top to bottom. Cells with `# YOUR CODE HERE` are yours; the test cell after each checks it.
# > Grading checks the same things again with other data and seeds (the hidden tests) and nothing new, so
# > when every test cell prints ok and Validate passes, your code gets full marks. Attention comes from
# > `gpt2ref` (lesson 33's reference), so this lesson works even if lesson 33 is unfinished.

# %% [markdown]
# **学习时间 / Study time：** 大约 90 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 90 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | LayerNorm | 把每个 token 的向量归一化到均值 0、方差 1，再缩放平移 | normalises each token's vector to mean 0 and variance 1, then scales and shifts |
# | GELU | 平滑版的 ReLU，GPT-2 用它的 tanh 近似式 | a smooth ReLU; GPT-2 uses its tanh approximation |
# | feed-forward | 对每个 token 单独做的两层 MLP | a two-layer MLP applied to every token on its own |
# | 残差连接 / residual connection | 把子层的输出加回到它的输入上 | adding a sublayer's output back onto its input |
# | pre-LN | LayerNorm 放在每个子层的入口，残差路上没有 norm | LayerNorm at the entrance of each sublayer, no norm on the residual path |

# %%
import math

import torch
import torch.nn.functional as F
from torch import nn

from gpt2ref import GPT2_SMALL, TINY, GPTConfig, MultiHeadAttention

torch.manual_seed(0)
print("torch", torch.__version__)
print("GPT-2 small:", GPT2_SMALL)
print("TINY (for quick experiments):", TINY)

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. Block 的全貌 / The block at a glance
#
# GPT-2 的 block 是 **pre-LN** 结构：每个子层（attention、feed-forward）前面先做 LayerNorm，子层的输出**加回**到输入上（残差连接）。形状从头到尾都是 `(B, T, d_model)`。
#
# > **EN** GPT-2's block is **pre-LN**: each sublayer (attention, feed-forward) is preceded by a LayerNorm, and
# > its output is **added back** onto its input (a residual connection). The shape stays `(B, T, d_model)`
# > from start to end.
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart TD
#     x["x: (B, T, d_model)"] --> norm1["norm1 (LayerNorm)"] --> attn["attn: causal multi-head attention"] --> add1(("+"))
#     x -- "residual: x itself" --> add1
#     add1 --> norm2["norm2 (LayerNorm)"] --> ff["ff: d_model → 4·d_model → d_model"] --> add2(("+"))
#     add1 -- "residual" --> add2
#     add2 --> out["out: (B, T, d_model)"]
# ```
#
# 注意 LayerNorm 只在子层的**入口**：残差这条路上没有任何 norm，输入 `x` 原样加到输出上。
#
# > **EN** Note that LayerNorm sits only at the **entrance** of each sublayer: the residual path has no norm
# > at all, so `x` is added to the output exactly as it came in.
#
# 写成代码只有两行：`x = x + attn(norm1(x))`，然后 `x = x + ff(norm2(x))`。attention 让 token 之间交换信息，feed-forward 让每个 token 单独“消化”取回来的信息。先把 LayerNorm、GELU 和 feed-forward 一个个做出来。
#
# > **EN** In code it is two lines: `x = x + attn(norm1(x))`, then `x = x + ff(norm2(x))`. Attention lets
# > tokens exchange information; the feed-forward network lets every token "digest" what it fetched, on its own.
# > First we build LayerNorm, GELU and the feed-forward network one by one.
#
# ## 2. LayerNorm
#
# LayerNorm 对**每个 token 的向量**单独归一化：减去它自己 d 个分量的均值，除以它们的标准差，再乘上学出来的 `weight`、加上学出来的 `bias`（各 d 个数，初始为 1 和 0）：
#
# `y = (x - mean) / sqrt(var + eps) * weight + bias`
#
# 两个细节：方差是**有偏**的（除以 d 而不是 d - 1），`eps` 在**根号里面**，防止方差为 0 时除以 0。
#
# > **EN** LayerNorm normalises **each token's vector** on its own: subtract the mean of its d entries, divide
# > by their standard deviation, then multiply by a learned `weight` and add a learned `bias` (d numbers each,
# > starting at 1 and 0):
# >
# > `y = (x - mean) / sqrt(var + eps) * weight + bias`
# >
# > Two details: the variance is **biased** (divide by d, not d - 1), and `eps` sits **inside the square
# > root**, so a zero variance never divides by 0.

# %%
row = torch.tensor([1.0, 2.0, 3.0, 6.0])
mean = row.mean()
var_biased = ((row - mean) ** 2).mean()  # divide by d = 4
var_unbiased = row.var()  # torch's default divides by d - 1 = 3
print("mean:", mean.item(), "| biased variance:", var_biased.item(), "| unbiased variance:", round(var_unbiased.item(), 4))
normalised = (row - mean) / torch.sqrt(var_biased + 1e-5)
print("normalised:", normalised, "-> mean", round(normalised.mean().item(), 6), "std (biased)",
      round(normalised.std(unbiased=False).item(), 4))
print("torch.nn.LayerNorm gives:", nn.LayerNorm(4)(row).detach())

# %% [markdown]
# 有偏方差是 3.5，无偏方差是 4.6667：d 很小时两者差得不少。`torch.nn.LayerNorm` 用的是有偏的那个。LayerNorm 归一化的是最后一维（一个 token 的特征），不像 BatchNorm 那样跨 batch 统计，所以 batch 里的每个 token 互不影响，batch 大小为 1 也照样工作。
#
# > **EN** The biased variance is 3.5, the unbiased one 4.6667: for small d they differ a lot.
# > `torch.nn.LayerNorm` uses the biased one. LayerNorm normalises the last dimension (one token's features);
# > unlike BatchNorm it takes no statistics across the batch, so tokens never affect each other and a batch of
# > one works just as well.

# %% [solution] id=layer_norm
class LayerNorm(nn.Module):
    """LayerNorm over the last dimension, the same maths as torch.nn.LayerNorm.

    LayerNorm(d_model, eps=1e-5, bias=True)

    Attributes the tests use:
        weight: nn.Parameter of shape (d_model,), initialised to ones
        bias:   nn.Parameter of shape (d_model,), initialised to zeros; None when bias=False
        eps:    the number added to the variance

    forward(x): x is (..., d_model). Returns y of the same shape:
        y = (x - mean) / sqrt(var + eps) * weight (+ bias), with mean and the *biased* variance
        (divide by d_model) taken over the last dimension of x. Do not change x in place.
    Write the formula yourself (no nn.LayerNorm, no F.layer_norm).
    """

    def __init__(self, d_model, eps=1e-5, bias=True):
        super().__init__()
        ### BEGIN SOLUTION
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1), divide by d
        y = (x - mean) / torch.sqrt(var + self.eps) * self.weight
        return y + self.bias if self.bias is not None else y
        ### END SOLUTION


# %% [tests] id=test_layernorm points=2
import torch
from torch import nn
from course.checks import (
    expect, expect_close, expect_equal, expect_no_calls, expect_own_work, expect_shape, expect_tensor_equal,
)

expect_own_work(LayerNorm, lesson=34, what="LayerNorm")
expect_no_calls(LayerNorm, {"layer_norm", "native_layer_norm", "group_norm"}, "LayerNorm",
                hint=("按公式自己写：均值、有偏方差、sqrt(var + eps)、weight、bias",
                      "write the formula: mean, biased variance, sqrt(var + eps), weight, bias"))
_ln = LayerNorm(8)
expect(not any(isinstance(_m, nn.LayerNorm) for _m in _ln.modules()), "LayerNorm",
       ("里面包含 nn.LayerNorm", "contains an nn.LayerNorm"),
       hint=("自己写公式，不要在 nn.LayerNorm 外面包一层",
             "write the formula yourself instead of wrapping nn.LayerNorm"))
expect_shape(_ln.weight, (8,), "LayerNorm(8).weight", hint="weight = nn.Parameter(torch.ones(d_model))")
expect_shape(_ln.bias, (8,), "LayerNorm(8).bias", hint="bias = nn.Parameter(torch.zeros(d_model))")
torch.manual_seed(0)
_x = torch.randn(2, 3, 8) * 10 + 2
expect_close(_ln(_x), nn.LayerNorm(8)(_x),
             ("初始化时 LayerNorm(8) 与 torch.nn.LayerNorm(8) 对比",
              "LayerNorm(8) vs torch.nn.LayerNorm(8) at initialisation"), atol=1e-5,
             hint=("在最后一维上用有偏方差归一化（unbiased=False）",
                   "normalise over the last dimension with the biased variance (unbiased=False)"))
torch.manual_seed(4)
_ln6, _torch_ln6 = LayerNorm(6), nn.LayerNorm(6)
with torch.no_grad():
    _torch_ln6.weight.copy_(torch.rand(6) * 2 + 0.5)
    _torch_ln6.bias.copy_(torch.randn(6))
    _ln6.weight.copy_(_torch_ln6.weight)
    _ln6.bias.copy_(_torch_ln6.bias)
_x6 = torch.randn(3, 6) * 5 - 1
expect_close(_ln6(_x6), _torch_ln6(_x6),
             ("weight 和 bias 不是 1 和 0 时，LayerNorm(6) 与 torch.nn.LayerNorm(6) 对比",
              "LayerNorm(6) vs torch.nn.LayerNorm(6) when weight and bias are not ones and zeros"), atol=1e-5,
             hint=("归一化之后还要逐维乘上 self.weight、加上 self.bias：(x - mean) / sqrt(var + eps) * weight + bias",
                   "after normalising, multiply by self.weight and add self.bias, feature by feature: "
                   "(x - mean) / sqrt(var + eps) * weight + bias"))
### BEGIN HIDDEN TESTS
expect_equal(sum(_p.numel() for _p in _ln.parameters()), 16,
             ("LayerNorm(8) 的参数量", "parameter count of LayerNorm(8)"),
             hint=("恰好两个参数：weight 和 bias，各有 d_model 个数",
                   "exactly two parameters: weight and bias, d_model numbers each"))
expect_tensor_equal(_ln.weight.detach(), torch.ones(8),
                    ("初始化时的 LayerNorm(8).weight", "LayerNorm(8).weight at initialisation"),
                    hint=("初始值应全为 1", "start from ones"))
expect_tensor_equal(_ln.bias.detach(), torch.zeros(8),
                    ("初始化时的 LayerNorm(8).bias", "LayerNorm(8).bias at initialisation"),
                    hint=("初始值应全为 0", "start from zeros"))
torch.manual_seed(1)
for _shape, _bias in [((4, 5, 32), True), ((7, 32), True), ((2, 3, 32), False)]:
    _theirs = nn.LayerNorm(32, bias=_bias)
    _mine = LayerNorm(32, bias=_bias)
    with torch.no_grad():
        _theirs.weight.copy_(torch.randn(32))
        _mine.weight.copy_(_theirs.weight)
        if _bias:
            _theirs.bias.copy_(torch.randn(32))
            _mine.bias.copy_(_theirs.bias)
    _x = torch.randn(*_shape) * 30 + 3
    _keep = _x.clone()
    expect_close(_mine(_x), _theirs(_x),
                 (f"weight/bias 随机的 LayerNorm(32, bias={_bias})，输入形状 {_shape}",
                  f"LayerNorm(32, bias={_bias}) with random weight/bias, input {_shape}"),
                 atol=1e-5,
                 hint=("在最后一维上算 (x - mean) / sqrt(var + eps) * weight + bias，其中 var 是有偏方差",
                       "(x - mean) / sqrt(biased var + eps) * weight + bias, over the last dimension"))
    expect_tensor_equal(_x, _keep, ("调用之后的输入", "the input after the call"),
                        hint=("不要原地修改 x", "do not change x in place"))
_nb = LayerNorm(32, bias=False)
expect(_nb.bias is None, "LayerNorm(32, bias=False).bias",
       (f"期望是 None，实际是 {type(_nb.bias).__name__}", f"expected None, got {type(_nb.bias).__name__}"),
       hint=("bias=False 时要设 self.bias = None", "with bias=False set self.bias = None"))
expect_equal(sum(_p.numel() for _p in _nb.parameters()), 32,
             ("LayerNorm(32, bias=False) 的参数量", "parameter count of LayerNorm(32, bias=False)"),
             hint=("bias=False 时只有 weight 是参数", "with bias=False only the weight is a parameter"))
_a, _b = torch.randn(1, 32), torch.randn(1, 32)
expect_close(LayerNorm(32)(torch.cat([_a, _b]))[0:1], LayerNorm(32)(_a),
             ("一个 token 单独计算与旁边有另一个 token 时的输出对比",
              "a token's output alone vs next to another token"),
             atol=1e-6,
             hint=("均值和方差按每个 token 单独计算（最后一维），绝不跨 token 或跨 batch",
                   "statistics are per token (last dimension), never across tokens or the batch"))
### END HIDDEN TESTS
print("LayerNorm: ok")

# %% [tests] id=test_layernorm_eps points=1
import math

import torch
from course.checks import expect, expect_close, expect_own_work

expect_own_work(LayerNorm, lesson=34, what="LayerNorm")
_flat = torch.full((2, 16), 3.0)  # a token whose entries are all equal: variance 0
_y = LayerNorm(16)(_flat)
expect(not torch.isnan(_y).any(), ("常数向量的 LayerNorm", "LayerNorm of a constant vector"), ("出现了 NaN", "got NaN"),
       hint=("开根号之前先把 eps 加到方差上：sqrt(var + eps)",
             "add eps to the variance before the square root: sqrt(var + eps)"))
expect_close(_y, torch.zeros(2, 16), ("常数向量的 LayerNorm", "LayerNorm of a constant vector"), atol=1e-6,
             hint=("x - mean 处处为 0，所以输出就是 bias（初始化时全为 0）",
                   "x - mean is 0 everywhere, so the output is the bias (zeros at initialisation)"))
# two tokens of 512 features, each feature mean ± 0.1: the variance is exactly 0.01
_x_eps = torch.tensor([0.1, -0.1]).repeat(2, 256) + torch.tensor([[0.0], [2.0]])
expect_close(LayerNorm(512, eps=0.03)(_x_eps), torch.tensor([0.5, -0.5]).repeat(2, 256),
             ("方差为 0.01、eps=0.03 时的 LayerNorm(512, eps=0.03)，x - mean 为 ±0.1",
              "LayerNorm(512, eps=0.03) for variance 0.01, x - mean = ±0.1"), atol=0.0, rtol=1e-3,
             hint=("分母是 sqrt(var + eps) = sqrt(0.01 + 0.03) = 0.2，输出应为 ±0.5：eps 加在根号里面，"
                   "不是 sqrt(var) + eps；用构造函数传入的 self.eps，不要写死 1e-5",
                   "the denominator is sqrt(var + eps) = sqrt(0.01 + 0.03) = 0.2, so the output is ±0.5: eps goes "
                   "inside the square root, not sqrt(var) + eps; use self.eps from the constructor, not a fixed 1e-5"))
### BEGIN HIDDEN TESTS
torch.manual_seed(2)
for _eps in (1e-4, 1e-2):
    _x = torch.randn(3, 2048, dtype=torch.float64)
    _x = (_x - _x.mean(-1, keepdim=True)) / _x.std(-1, unbiased=False, keepdim=True) * 1e-2  # variance exactly 1e-4
    _ln = LayerNorm(2048, eps=_eps).double()
    _scale = _ln(_x) / _x
    expect_close(_scale, torch.full_like(_x, 1 / math.sqrt(1e-4 + _eps)),
                 (f"方差为 1e-4、eps={_eps} 时输出与输入之比", f"output / input for variance 1e-4, eps={_eps}"),
                 atol=0.0, rtol=1e-3,
                 hint=("根号里要用 self.eps（构造函数传入的参数）：sqrt(var + eps)",
                       "use self.eps (the constructor argument) inside the square root: sqrt(var + eps)"))
### END HIDDEN TESTS
print("eps: ok")

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["layernorm-axis", "layernorm-eps"])

# %% [markdown]
# ## 3. GELU
#
# feed-forward 网络需要一个非线性函数，否则两个线性层叠起来还是一个线性层。GPT-2 用 GELU，而且用的是它的 **tanh 近似**（GPT-2 训练时就是这个公式，加载它的权重时也必须用同一个）：
#
# `GELU(x) = 0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))`
#
# 和 ReLU 相比，GELU 在 0 附近是光滑的，对小的负数也给出一点点负输出，而不是一刀切成 0。
#
# > **EN** The feed-forward network needs a non-linearity, or two linear layers would collapse into one.
# > GPT-2 uses GELU, in its **tanh approximation** (the formula GPT-2 was trained with; loading its weights
# > requires the same one):
# >
# > `GELU(x) = 0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))`
# >
# > Unlike ReLU, GELU is smooth around 0 and lets small negative inputs through as small negative outputs
# > instead of cutting them to 0.

# %% [solution] id=gelu
class GELU(nn.Module):
    """GELU in the tanh approximation used by GPT-2 (no parameters).

    forward(x): any shape -> same shape,
        0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    Write the formula yourself (no F.gelu, no nn.GELU).
    """

    def forward(self, x):
        ### BEGIN SOLUTION
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))
        ### END SOLUTION


# %% [tests] id=test_gelu points=1
import math

import torch
from torch import nn
from course.checks import expect, expect_close, expect_no_calls, expect_own_work, expect_shape

expect_own_work(GELU, lesson=34, what="GELU")
expect_no_calls(GELU.forward, {"gelu", "GELU"}, "GELU.forward",
                hint=("自己写出 tanh 公式", "write the tanh formula yourself"))
_xs = [-3.0, -1.0, 0.0, 0.5, 2.0]
_by_hand = torch.tensor([0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))) for v in _xs])
expect_close(GELU()(torch.tensor(_xs)), _by_hand,
             ("GELU 在 -3、-1、0、0.5、2 处的值", "GELU at -3, -1, 0, 0.5, 2"), atol=1e-6,
             hint="0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))")
### BEGIN HIDDEN TESTS
_grid = torch.linspace(-8, 8, 2001, dtype=torch.float64)
_expected = 0.5 * _grid * (1 + torch.tanh(math.sqrt(2 / math.pi) * (_grid + 0.044715 * _grid**3)))
_got = GELU()(_grid)
expect_close(_got, _expected,
             ("GELU 在 [-8, 8] 上 2001 个点的值（float64）", "GELU on 2001 points in [-8, 8] (float64)"), atol=1e-9,
             hint=("用 tanh 形式，常数 0.5、sqrt(2 / pi) 和 0.044715 必须分毫不差",
                   "the tanh form, with the constants 0.5, sqrt(2 / pi) and 0.044715 exactly"))
expect_close(GELU()(_grid.float()), _expected.float(),
             ("GELU 在 [-8, 8] 上 2001 个点的值（float32）", "GELU on 2001 points in [-8, 8] (float32)"), atol=1e-6,
             hint=("用 tanh 形式，并在输入的 dtype 下计算", "the tanh form, computed in the input's dtype"))
expect_shape(GELU()(torch.randn(2, 3, 4)), (2, 3, 4), ("(2, 3, 4) 张量的 GELU", "GELU of a (2, 3, 4) tensor"),
             hint=("逐元素作用", "apply it elementwise"))
expect(sum(_p.numel() for _p in GELU().parameters()) == 0, ("GELU 的参数", "GELU parameters"),
       ("GELU 有可学习的参数", "GELU has learned parameters"),
       hint=("GELU 是固定的函数：不要 nn.Parameter", "GELU is a fixed function: no nn.Parameter"))
### END HIDDEN TESTS
print("GELU: ok")

# %% [markdown]
# 看看它和 ReLU 有什么不同，以及 tanh 近似和“精确”GELU（用误差函数 erf 定义）差多少：
#
# > **EN** How does it differ from ReLU, and how far is the tanh approximation from the "exact" GELU
# > (defined with the error function erf)?

# %%
x = torch.linspace(-4, 4, 801)
gelu = GELU()
print("GELU(-1) =", round(gelu(torch.tensor(-1.0)).item(), 4), "| GELU(1) =", round(gelu(torch.tensor(1.0)).item(), 4))
lowest = gelu(x).min()
print("lowest value:", round(lowest.item(), 4), "at x =", round(x[gelu(x).argmin()].item(), 2))
print("max |tanh form - erf form| on [-4, 4]:", f"{(gelu(x) - F.gelu(x)).abs().max().item():.1e}")

# %% tags=skip-autograde
import matplotlib.pyplot as plt

x = torch.linspace(-4, 4, 801, requires_grad=True)
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for name, fn, style in [("GELU (tanh form)", gelu, "-"), ("ReLU", torch.relu, "--")]:
    y = fn(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    left.plot(x.detach(), y.detach(), style, label=name)
    right.plot(x.detach(), slope, style, label=name)
left.set_title("Activation")
right.set_title("Derivative")
for ax in (left, right):
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_xlabel("x")
    ax.legend()
plt.show()

# %% [markdown]
# GELU 的最小值约为 -0.17（在 x ≈ -0.75 处），负半轴的导数不是处处为 0，所以负的输入也能得到梯度；ReLU 的导数在 0 处突然从 0 跳到 1。tanh 形式和 erf 形式最多只差 5e-4 左右，但加载 GPT-2 的权重时要用它训练时的那个，logits 才能和原版对得上。
#
# > **EN** GELU's lowest value is about -0.17 (at x ≈ -0.75) and its derivative is not 0 everywhere on the
# > negative side, so negative inputs still get gradient; ReLU's derivative jumps from 0 to 1 at 0. The tanh
# > and erf forms differ by 5e-4 or so at most, but to load GPT-2's weights we need the one it was trained
# > with, or the logits will not match the original.
#
# ## 4. Feed-forward 网络 / The feed-forward network
#
# 每个 token 单独经过同一个两层网络：先放宽到 `d_ff = 4 · d_model`，过 GELU，再投影回 `d_model`。GPT-2 small 的参数有很大一部分就在这里。
#
# > **EN** Every token goes through the same two-layer network on its own: widen to `d_ff = 4 · d_model`,
# > apply GELU, project back to `d_model`. A large share of GPT-2 small's parameters live here.

# %%
d = GPT2_SMALL.d_model
ff_params = d * 4 * d + 4 * d + 4 * d * d + d
attn_params = 4 * d * d + 4 * d
print(f"GPT-2 small feed-forward: {d} -> {4 * d} -> {d}: {ff_params:,} parameters")
print(f"GPT-2 small attention:    {attn_params:,} parameters")

# %% [solution] id=feed_forward
class FeedForward(nn.Module):
    """Position-wise feed-forward network: Linear -> GELU -> Linear -> dropout.

    FeedForward(d_model, d_ff=None, dropout=0.0, bias=True); d_ff=None means 4 * d_model.

    Attributes the tests use (lesson 35 and 37 rely on the same names):
        fc:   nn.Linear(d_model, d_ff, bias=bias)
        act:  the activation module, your GELU(); forward must call self.act (the tests may swap it)
        proj: nn.Linear(d_ff, d_model, bias=bias)

    forward(x): (B, T, d_model) -> (B, T, d_model) = dropout(proj(act(fc(x)))), with dropout of
    probability ``dropout`` active only in training mode.
    """

    def __init__(self, d_model, d_ff=None, dropout=0.0, bias=True):
        super().__init__()
        ### BEGIN SOLUTION
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.fc = nn.Linear(d_model, d_ff, bias=bias)
        self.act = GELU()
        self.proj = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return self.dropout(self.proj(self.act(self.fc(x))))
        ### END SOLUTION


# %% [tests] id=test_feedforward points=2
import torch
import torch.nn.functional as F
from torch import nn
from course.checks import expect, expect_close, expect_equal, expect_own_work, expect_shape, expect_tensor_equal

expect_own_work(FeedForward, lesson=34, what="FeedForward")
_ff = FeedForward(8)
expect_shape(_ff.fc.weight, (32, 8), "FeedForward(8).fc.weight",
             hint=("fc = nn.Linear(d_model, d_ff)，d_ff 默认为 4 * d_model",
                   "fc = nn.Linear(d_model, d_ff) with d_ff = 4 * d_model by default"))
expect_shape(_ff.proj.weight, (8, 32), "FeedForward(8).proj.weight", hint="proj = nn.Linear(d_ff, d_model)")
expect_shape(_ff(torch.randn(2, 5, 8)), (2, 5, 8),
             ("FeedForward(8) 作用于输入 (2, 5, 8)", "FeedForward(8) on input (2, 5, 8)"),
             hint=("输出和输入形状相同", "the output has the input's shape"))
torch.manual_seed(6)
_ff6 = FeedForward(6, 10).eval()
_ff6.act = nn.ReLU()  # the wiring, with an activation that is not GELU (test_gelu checks your GELU)
with torch.no_grad():
    _x6 = torch.randn(2, 3, 6)
    expect_close(_ff6(_x6), torch.relu(_x6 @ _ff6.fc.weight.T + _ff6.fc.bias) @ _ff6.proj.weight.T + _ff6.proj.bias,
                 ("act 换成 nn.ReLU() 后 FeedForward(6, 10) 的输出",
                  "FeedForward(6, 10) output with act replaced by nn.ReLU()"), atol=1e-5,
                 hint=("proj(self.act(fc(x)))：fc 和 proj 之间要调用 self.act（不要漏掉激活，也不要直接写 GELU()）",
                       "proj(self.act(fc(x))): call self.act between fc and proj (do not skip the activation, "
                       "do not write GELU() directly)"))
torch.manual_seed(7)
_ff6 = FeedForward(6, 10, dropout=0.25)
_x6 = torch.randn(10, 20, 6)
with torch.no_grad():
    _plain6 = _ff6.eval()(_x6)
    _out6 = _ff6.train()(_x6)
_zero6 = _out6 == 0
expect(0.15 < _zero6.double().mean().item() < 0.35,
       ("dropout=0.25，train 模式下输出为 0 的比例", "share of zero outputs in train mode with dropout=0.25"),
       (f"{_out6.numel()} 个输出中有 {_zero6.double().mean().item():.1%} 为 0，期望约 25%",
        f"{_zero6.double().mean().item():.1%} of the {_out6.numel()} outputs are zero, expected about 25%"),
       hint=("dropout 放在最后，作用在 proj 的输出上：dropout(proj(act(fc(x))))，只在 train 模式下起作用",
             "dropout comes last, on proj's output: dropout(proj(act(fc(x)))), active in train mode only"))
expect_close(_out6[~_zero6], _plain6[~_zero6] / 0.75,
             ("dropout 保留下来的输出（train 模式，dropout=0.25）",
              "outputs that dropout kept (train mode, dropout=0.25)"), atol=1e-5,
             hint=("dropout 作用在 proj 的输出上（不是隐藏层上），保留下来的值乘以 1 / (1 - p)",
                   "dropout acts on proj's output (not on the hidden layer) and scales what it keeps by 1 / (1 - p)"))
### BEGIN HIDDEN TESTS
expect_shape(FeedForward(8, 20).fc.weight, (20, 8), "FeedForward(8, 20).fc.weight",
             hint=("传入了 d_ff 就用它", "use d_ff when it is given"))
expect_equal(sum(_p.numel() for _p in FeedForward(8, 20).parameters()), 8 * 20 + 20 + 20 * 8 + 8,
             ("FeedForward(8, 20) 的参数量", "parameter count of FeedForward(8, 20)"),
             hint=("fc 和 proj（都带 bias），别的都没有", "fc and proj with biases, nothing else"))
expect_equal(sum(_p.numel() for _p in FeedForward(8, 20, bias=False).parameters()), 8 * 20 + 20 * 8,
             ("FeedForward(8, 20, bias=False) 的参数量", "parameter count of FeedForward(8, 20, bias=False)"),
             hint=("把 bias=bias 传给两个 nn.Linear 层", "pass bias=bias to both nn.Linear layers"))
torch.manual_seed(0)
_ff = FeedForward(8, 20).eval()
_ff.act = nn.GELU(approximate="tanh")  # test the wiring with torch's GELU (test_gelu checks yours)
with torch.no_grad():
    for _p in _ff.parameters():
        _p.normal_(0.0, 0.5)
    _x = torch.randn(3, 4, 8)
    _hidden = _x @ _ff.fc.weight.T + _ff.fc.bias
    _expected = F.gelu(_hidden, approximate="tanh") @ _ff.proj.weight.T + _ff.proj.bias
    expect_close(_ff(_x), _expected,
                 ("FeedForward(8, 20) 的输出（随机权重，act = torch 的 tanh GELU）",
                  "FeedForward(8, 20) output (random weights, act = torch's tanh GELU)"), atol=1e-5,
                 hint=("proj(act(fc(x)))：先 fc，再 self.act，最后 proj",
                       "proj(act(fc(x))): fc first, then self.act, then proj"))
    _ff.act = nn.Tanh()  # any module put in self.act must be the one that runs
    expect_close(_ff(_x), torch.tanh(_hidden) @ _ff.proj.weight.T + _ff.proj.bias,
                 ("act 换成 nn.Tanh() 后 FeedForward(8, 20) 的输出",
                  "FeedForward(8, 20) output with act replaced by nn.Tanh()"), atol=1e-5,
                 hint=("在 forward 里调用 self.act（不要直接写 GELU() 或公式）：测试和后面的课会替换它",
                       "call self.act in forward (not GELU() or a formula): the tests and later lessons swap it"))
torch.manual_seed(1)
_ff = FeedForward(8, dropout=0.5)
_x = torch.randn(4, 6, 8)
_ff.train()
expect(not torch.equal(_ff(_x), _ff(_x)),
       ("dropout=0.5，train 模式下调用两次", "two calls in train mode with dropout=0.5"),
       ("两次输出完全相同", "gave identical outputs"),
       hint=("对输出做 nn.Dropout(dropout)", "apply nn.Dropout(dropout) to the output"))
_ff.eval()
expect_tensor_equal(_ff(_x), _ff(_x), ("eval 模式下调用两次", "two calls in eval mode"),
                    hint=("nn.Dropout 在 eval 模式下什么都不做", "nn.Dropout does nothing in eval mode"))
_x = torch.randn(16, 16, 8)
with torch.no_grad():
    _plain = _ff(_x)  # eval mode: no dropout
    _ff.train()
    _out = _ff(_x)
_dropped = _out == 0
expect(0.4 < _dropped.double().mean().item() < 0.6,
       ("dropout=0.5，train 模式下输出为 0 的比例", "share of zero outputs in train mode with dropout=0.5"),
       (f"{_out.numel()} 个输出中有 {_dropped.double().mean().item():.1%} 为 0，期望约 50%",
        f"{_dropped.double().mean().item():.1%} of the {_out.numel()} outputs are zero, expected about 50%"),
       hint=("dropout 放在最后，在 proj 之后：dropout(proj(act(fc(x))))",
             "dropout comes last, after proj: dropout(proj(act(fc(x))))"))
expect_close(_out[~_dropped], 2.0 * _plain[~_dropped],
             ("dropout 保留下来的输出（train 模式，dropout=0.5）",
              "outputs that dropout kept (train mode, dropout=0.5)"), atol=1e-5,
             hint=("dropout 放在最后，作用在 proj 的输出上（不是隐藏层上），并把保留下来的值乘以 1 / (1 - p)",
                   "dropout comes last, on proj's output (not on the hidden layer), and scales what it keeps by "
                   "1 / (1 - p)"))
with torch.device("meta"):
    _gpt2 = FeedForward(768)
expect_equal(sum(_p.numel() for _p in _gpt2.parameters()), 4_722_432,
             ("FeedForward(768) 的参数量", "parameter count of FeedForward(768)"),
             hint="768 x 3072 + 3072 + 3072 x 768 + 768")
### END HIDDEN TESTS
print("FeedForward: ok")

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["ff-width"])

# %% [markdown]
# ## 5. 组装 block / Assembling the block
#
# 2017 年的原始 Transformer 是 **post-LN**：`x = norm(x + sublayer(x))`，LayerNorm 在残差相加之后。GPT-2 把它挪到了子层的**输入**上（pre-LN）：`x = x + sublayer(norm(x))`。这样残差这条“主干道”上什么都不做，只有加法，深层网络更容易训练。
#
# > **EN** The original 2017 Transformer is **post-LN**: `x = norm(x + sublayer(x))`, LayerNorm after the
# > residual add. GPT-2 moved it to the sublayer's **input** (pre-LN): `x = x + sublayer(norm(x))`. The
# > residual "main road" then carries nothing but additions, and deep stacks train more easily.

# %% [solution] id=transformer_block
class TransformerBlock(nn.Module):
    """GPT-2's pre-LN transformer block.

    TransformerBlock(config) with a GPTConfig (d_model, num_heads, d_ff, dropout, bias, layer_norm_eps).

    Attributes the tests use (lesson 35 builds GPT-2 from these names):
        norm1: LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)  (your LayerNorm)
        attn:  MultiHeadAttention(d_model, num_heads, config.dropout, config.bias)  (from gpt2ref)
        norm2: LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)
        ff:    FeedForward(d_model, config.d_ff, config.dropout, config.bias)  (your FeedForward)

    forward(x): (B, T, d_model) -> (B, T, d_model):
        x = x + attn(norm1(x)), then x = x + ff(norm2(x)). Use the four attributes above (the tests may
        replace them with other modules of the same kind).
    """

    def __init__(self, config):
        super().__init__()
        ### BEGIN SOLUTION
        self.norm1 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout, config.bias)
        self.norm2 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.ff = FeedForward(config.d_model, config.d_ff, config.dropout, config.bias)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        x = x + self.attn(self.norm1(x))  # tokens exchange information
        x = x + self.ff(self.norm2(x))  # each token is processed on its own
        return x
        ### END SOLUTION


# %% [tests] id=test_block_structure points=1
import torch
from course.checks import expect, expect_close, expect_equal, expect_own_work, expect_shape, expect_tensor_equal
from gpt2ref import TINY  # d_model 32, 4 heads, dropout 0, bias=True, layer_norm_eps 1e-5

expect_own_work(TransformerBlock, lesson=34, what="TransformerBlock")
_blk = TransformerBlock(TINY)
for _name in ("norm1", "attn", "norm2", "ff"):
    expect(hasattr(_blk, _name), f"TransformerBlock.{_name}", ("不存在", "is missing"),
           hint=("属性名要用 docstring 里给的", "use the attribute names from the docstring"))
expect_shape(_blk(torch.randn(2, 7, 32)), (2, 7, 32),
             ("输入为 (2, 7, 32) 时 TransformerBlock 的输出", "TransformerBlock output for input (2, 7, 32)"),
             hint=("block 从不改变形状：输入和输出都是 (B, T, d_model)",
                   "a block never changes the shape: (B, T, d_model) in and out"))
from dataclasses import replace as _replace

torch.manual_seed(8)
_blk_cfg = TransformerBlock(_replace(TINY, dropout=0.3, layer_norm_eps=0.1)).train()
with torch.no_grad():
    _h = torch.randn(1, 5, 32)
    for _name, _how in (("attn", "MultiHeadAttention(d_model, num_heads, config.dropout, config.bias)"),
                        ("ff", "FeedForward(d_model, config.d_ff, config.dropout, config.bias)")):
        expect(not torch.equal(getattr(_blk_cfg, _name)(_h), getattr(_blk_cfg, _name)(_h)),
               (f"config.dropout=0.3 时 block.{_name} 在 train 模式下调用两次",
                f"block.{_name}: two calls in train mode with config.dropout=0.3"),
               ("两次输出完全相同：config.dropout 没有传进去", "gave identical outputs: config.dropout never got there"),
               hint=(f"把 config.dropout 传下去：{_how}", f"pass config.dropout on: {_how}"))
    _h = torch.randn(1, 5, 32) * 0.1  # variance about 0.01: eps = 0.1 changes the result a lot
    for _name in ("norm1", "norm2"):
        expect_close(getattr(_blk_cfg, _name)(_h), LayerNorm(32, eps=0.1)(_h),
                     (f"config.layer_norm_eps=0.1 时 block.{_name} 与 LayerNorm(32, eps=0.1) 对比",
                      f"block.{_name} vs LayerNorm(32, eps=0.1) with config.layer_norm_eps=0.1"), atol=1e-5,
                     hint=("norm1 和 norm2 都要用 config 里的 eps：LayerNorm(d_model, eps=config.layer_norm_eps, "
                           "bias=config.bias)",
                           "both norms take the eps from the config: "
                           "LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)"))
### BEGIN HIDDEN TESTS
from dataclasses import replace
from course.checks import expect_close
from gpt2ref import GPT2_SMALL as _GPT2, TransformerBlock as _RefBlock

expect_equal(sum(_p.numel() for _p in _blk.parameters()), sum(_p.numel() for _p in _RefBlock(TINY).parameters()),
             ("d_model = 32 的 block 的参数量", "parameter count of a block with d_model = 32"),
             hint=("两个 LayerNorm、一个 attention、一个宽为 4 * d_model 的 feed-forward",
                   "two LayerNorms, one attention, one feed-forward of width 4 * d_model"))
with torch.device("meta"):
    _gpt2 = TransformerBlock(_GPT2)
expect_equal(sum(_p.numel() for _p in _gpt2.parameters()), 7_087_872,
             ("GPT-2 small 一个 block 的参数量", "parameter count of one GPT-2 small block"),
             hint=("attention 2,362,368 + feed-forward 4,722,432 + 两个 LayerNorm 2 x 1,536",
                   "attention 2,362,368 + feed-forward 4,722,432 + two LayerNorms 2 x 1,536"))
_cfg_nb = replace(TINY, bias=False)
expect_equal(sum(_p.numel() for _p in TransformerBlock(_cfg_nb).parameters()),
             sum(_p.numel() for _p in _RefBlock(_cfg_nb).parameters()),
             ("config.bias=False 时的参数量", "parameter count with config.bias=False"),
             hint=("把 config.bias 传给两个 LayerNorm、attention 和 feed-forward",
                   "pass config.bias to the LayerNorms, the attention and the feed-forward"))
_cfg_drop = replace(TINY, dropout=0.5)
torch.manual_seed(0)
_blk = TransformerBlock(_cfg_drop)
_x = torch.randn(2, 6, 32)
_blk.train()
expect(not torch.equal(_blk(_x), _blk(_x)),
       ("config.dropout=0.5，train 模式下调用两次", "two calls in train mode with config.dropout=0.5"),
       ("两次输出完全相同", "gave identical outputs"),
       hint=("把 config.dropout 传给 MultiHeadAttention 和 FeedForward",
             "pass config.dropout to MultiHeadAttention and FeedForward"))
_blk.eval()
expect_tensor_equal(_blk(_x), _blk(_x), ("eval 模式下调用两次", "two calls in eval mode"),
                    hint=("eval 模式下 dropout 必须关闭", "dropout must be off in eval mode"))
_blk.train()
with torch.no_grad():
    _h = torch.randn(2, 6, 32)
    expect(not torch.equal(_blk.attn(_h), _blk.attn(_h)),
           ("block.attn：train 模式下调用两次，config.dropout=0.5",
            "block.attn: two calls in train mode, config.dropout=0.5"),
           ("两次输出完全相同", "gave identical outputs"),
           hint=("attn 要这样构造：MultiHeadAttention(d_model, num_heads, config.dropout, config.bias)",
                 "MultiHeadAttention(d_model, num_heads, config.dropout, config.bias)"))
    expect(not torch.equal(_blk.ff(_h), _blk.ff(_h)),
           ("block.ff：train 模式下调用两次，config.dropout=0.5",
            "block.ff: two calls in train mode, config.dropout=0.5"),
           ("两次输出完全相同", "gave identical outputs"),
           hint=("ff 要这样构造：FeedForward(d_model, config.d_ff, config.dropout, config.bias)",
                 "FeedForward(d_model, config.d_ff, config.dropout, config.bias)"))
_blk = TransformerBlock(replace(TINY, layer_norm_eps=1e-2))
_h = torch.randn(2, 6, 32) * 1e-2  # variance about 1e-4: eps = 0.01 changes the result a lot
with torch.no_grad():
    for _name in ("norm1", "norm2"):
        expect_close(getattr(_blk, _name)(_h), LayerNorm(32, eps=1e-2)(_h),
                     (f"config.layer_norm_eps=0.01 时 block.{_name} 与 LayerNorm(32, eps=0.01) 对比",
                      f"block.{_name} vs LayerNorm(32, eps=0.01) with config.layer_norm_eps=0.01"), atol=1e-5,
                     hint=("norm1 和 norm2 都用 LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias)",
                           "LayerNorm(d_model, eps=config.layer_norm_eps, bias=config.bias) for norm1 and norm2"))
for _T in (1, 16):
    expect_shape(TransformerBlock(TINY)(torch.randn(3, _T, 32)), (3, _T, 32),
                 (f"输入为 (3, {_T}, 32) 时的输出", f"output for input (3, {_T}, 32)"),
                 hint=("block 从不改变形状", "a block never changes the shape"))
### END HIDDEN TESTS
print("block structure: ok")

# %% [tests] id=test_block_forward points=3
import torch
from course.checks import expect_close, expect_own_work, expect_tensor_equal
from gpt2ref import TINY

expect_own_work(TransformerBlock, lesson=34, what="TransformerBlock")
torch.manual_seed(0)
_blk = TransformerBlock(TINY).eval()
with torch.no_grad():  # silence both sublayers: the block must then pass x through unchanged
    for _linear in (_blk.attn.proj, _blk.ff.proj):
        _linear.weight.zero_()
        _linear.bias.zero_()
_x = torch.randn(2, 5, 32)
expect_tensor_equal(_blk(_x), _x,
                    ("attn.proj 和 ff.proj 全为 0 时 block 的输出",
                     "block output when attn.proj and ff.proj are all zeros"),
                    hint=("保留残差路径：x = x + attn(norm1(x))；x = x + ff(norm2(x))（相加之后不要再做 norm）",
                          "keep the residual path: x = x + attn(norm1(x)); x = x + ff(norm2(x)) (no norm after the add)"))
from dataclasses import replace as _replace

torch.manual_seed(9)
_blk = TransformerBlock(_replace(TINY, d_model=24, num_heads=3)).eval()
with torch.no_grad():  # random weights everywhere, so norm1 and norm2 differ
    for _p in _blk.parameters():
        _p.normal_(0.0, 0.4)
    _x = torch.randn(2, 4, 24)
    _mid = _x + _blk.attn(_blk.norm1(_x))
    expect_close(_blk(_x), _mid + _blk.ff(_blk.norm2(_mid)),
                 ("随机权重下 block 的输出与用它自己的 norm1、attn、norm2、ff 逐步算出的结果对比",
                  "block output vs a step-by-step computation from its own norm1, attn, norm2, ff (random weights)"),
                 atol=1e-5,
                 hint=("pre-LN：x = x + attn(norm1(x))，然后 x = x + ff(norm2(x))；ff 之前用 norm2，不是 norm1",
                       "pre-LN: x = x + attn(norm1(x)), then x = x + ff(norm2(x)); ff gets norm2, not norm1"))
### BEGIN HIDDEN TESTS
from dataclasses import replace
from gpt2ref import TransformerBlock as _RefBlock

# Wiring: give the block the reference's parts (with random weights), so only the forward is tested.
torch.manual_seed(1)
for _d, _H, _B, _T in [(32, 4, 2, 7), (16, 2, 3, 5)]:
    _cfg = replace(TINY, d_model=_d, num_heads=_H)
    _ref = _RefBlock(_cfg).eval()
    with torch.no_grad():
        for _p in _ref.parameters():
            _p.normal_(0.0, 0.3)
    _blk = TransformerBlock(_cfg).eval()
    _blk.norm1, _blk.attn, _blk.norm2, _blk.ff = _ref.norm1, _ref.attn, _ref.norm2, _ref.ff
    _x = torch.randn(_B, _T, _d)
    with torch.no_grad():
        expect_close(_blk(_x), _ref(_x),
                     (f"换上参考实现的零件后 block 的 forward（d_model={_d}）",
                      f"block forward (d_model={_d}) with the reference's parts plugged in"), atol=1e-5,
                     hint=("pre-LN：先 x = x + attn(norm1(x))，再 x = x + ff(norm2(x))；norm1 在 attn 之前，norm2 在 ff 之前",
                           "pre-LN: x = x + attn(norm1(x)), then x = x + ff(norm2(x)); norm1 before attn, norm2 before ff"))
### END HIDDEN TESTS
print("block forward: ok")

# %% [markdown]
# 在 `meta` device 上数一下 GPT-2 small 的一个 block，以及 12 个 block 加起来：
#
# > **EN** Count one GPT-2 small block on the `meta` device, and all 12 blocks together:

# %%
with torch.device("meta"):
    block = TransformerBlock(GPT2_SMALL)
parts = {name: sum(p.numel() for p in module.parameters()) for name, module in block.named_children()}
total = sum(p.numel() for p in block.parameters())
for name, count in parts.items():
    print(f"  {name:6s} {count:>10,}  ({count / total:.1%})")
print(f"one block: {total:,} | {GPT2_SMALL.num_layers} blocks: {GPT2_SMALL.num_layers * total:,}")

# %% [markdown]
# 一个 block 有 7,087,872 个参数，其中三分之二在 feed-forward 里；12 个 block 一共 85,054,464 个。再加上第 32 课的两张 embedding 表和最后一个 LayerNorm，就是第 35 课要组装的整个 GPT-2 small。
#
# > **EN** One block has 7,087,872 parameters, two thirds of them in the feed-forward network; 12 blocks hold
# > 85,054,464. Add lesson 32's two embedding tables and one final LayerNorm and you have the whole GPT-2 small
# > that lesson 35 assembles.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["pre-ln", "block-params"])

# %% [markdown]
# ## 6. 为什么要残差连接？/ Why residual connections?
#
# 叠 24 个 block（用 GPT-2 的初始化，第 35 课会讲），比较两种写法：有残差的 `x = x + sublayer(norm(x))`，和去掉残差的 `x = sublayer(norm(x))`。随着深度记录两件事：激活值的标准差，以及同一个序列里不同 token 的向量之间的平均余弦相似度（接近 1 表示所有 token 都变成了同一个向量）。
#
# > **EN** Stack 24 blocks (with GPT-2's initialisation, explained in lesson 35) and compare two versions: with
# > residuals, `x = x + sublayer(norm(x))`, and without, `x = sublayer(norm(x))`. Along the depth we record two
# > things: the standard deviation of the activations, and the mean cosine similarity between the vectors of
# > different tokens of one sequence (close to 1 means every token has become the same vector).

# %% tags=skip-autograde
from gpt2ref import init_weights

depth = 24
config = GPTConfig(vocab_size=50, context_length=16, d_model=64, num_heads=4, num_layers=depth, dropout=0.0)
torch.manual_seed(0)
stack = nn.ModuleList(TransformerBlock(config) for _ in range(depth)).apply(init_weights)
for blk in stack:  # GPT-2's smaller init for the two projections that write into the residual stream
    for linear in (blk.attn.proj, blk.ff.proj):
        nn.init.normal_(linear.weight, mean=0.0, std=0.02 / math.sqrt(2 * depth))
x0 = torch.randn(8, 16, 64) * 0.02  # a batch of random token vectors at the scale of GPT-2's embeddings


def token_similarity(x):
    """Mean cosine similarity between the vectors of different tokens of the same sequence."""
    unit = F.normalize(x, dim=-1)
    sim = unit @ unit.transpose(1, 2)  # (B, T, T)
    T = x.size(1)
    return ((sim.sum(dim=(1, 2)) - T) / (T * (T - 1))).mean().item()


history = {}
with torch.no_grad():
    for residual in (True, False):
        x, stds, sims = x0, [x0.std().item()], [token_similarity(x0)]
        for blk in stack:
            if residual:
                x = blk(x)
            else:
                x = blk.ff(blk.norm2(blk.attn(blk.norm1(x))))  # the same parts, no "x +"
            stds.append(x.std().item())
            sims.append(token_similarity(x))
        history[residual] = (stds, sims)
        label = "with residuals   " if residual else "without residuals"
        print(f"{label}: std {stds[0]:.4f}, after 1 block {stds[1]:.4f}, after {depth} {stds[-1]:.4f} | "
              f"token similarity {sims[0]:.2f}, after 4 blocks {sims[4]:.2f}, after {depth} {sims[-1]:.2f}")

# %% tags=skip-autograde
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for residual, style in [(True, "-o"), (False, "--s")]:
    stds, sims = history[residual]
    label = "with residuals" if residual else "without residuals"
    left.plot(range(depth + 1), stds, style, markersize=3, label=label)
    right.plot(range(depth + 1), sims, style, markersize=3, label=label)
left.set_yscale("log")
left.set_title("Activation std across the stack")
left.set_ylabel("std of the block output (log scale)")
right.set_title("How alike the tokens become")
right.set_ylabel("mean cosine similarity between tokens")
right.set_ylim(-0.05, 1.05)
for ax in (left, right):
    ax.set_xlabel("number of blocks applied")
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# 有残差时，激活的尺度一直在同一个量级（24 个 block 里从 0.0197 慢慢长到 0.0285），不同 token 的向量始终各不相同（相似度最后只有 0.11）：每个 block 只是往“残差流”里**加**一点东西，输入一直都在。去掉残差后，第一个 block 就把尺度压小了一个数量级（0.0197 → 0.0017），4 个 block 之后所有 token 的向量几乎完全一样（相似度 0.99）：模型已经分不出序列里谁是谁，输入的信息丢光了。残差连接让每一层都能直接拿到原始输入，反向传播时梯度也能沿着这条加法通路直达底层。
#
# > **EN** With residuals the scale stays in the same order of magnitude (it creeps from 0.0197 to 0.0285 over
# > 24 blocks) and the tokens' vectors stay distinct (similarity only 0.11 at the end): each block only **adds**
# > a little to the "residual stream", and the input is always there. Without residuals the very first block
# > shrinks the scale by an order of magnitude (0.0197 → 0.0017), and after 4 blocks every token's vector is
# > almost the same (similarity 0.99): the model can no longer tell the tokens of the sequence apart, the input
# > is lost. Residual connections give every layer direct access to the original input, and in the backward
# > pass gradients reach the bottom layers along the same path of additions.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["residual-identity"])

# %% [markdown]
# ### Pre-LN 还是 post-LN？梯度怎么走 / Pre-LN or post-LN? How the gradient travels
#
# 第 5 节说过，原始的 Transformer 是 post-LN：`x = norm(x + sublayer(x))`。两种写法用的零件和参数完全一样，区别只在 LayerNorm 放在哪里。下面叠 12 个 block（和 GPT-2 small 一样深），同一套初始权重做成两个版本：pre-LN 用你的 `TransformerBlock`，post-LN 是 cell 里的 `PostLNBlock`，它借用同一个 block 的四个子模块，只改 `forward`。前面接一张 token 表，后面接一个输出层，在随机的 token 序列上训练（没有 warmup，学习率偏大）。我们记录 loss 对**每个 block 的输入**（也就是残差流）的梯度有多大：先在初始化时看一次，再在训练 20 步之后看一次。它只是演示，自动评分时会跳过。
#
# > **EN** Section 5 said that the original Transformer is post-LN: `x = norm(x + sublayer(x))`. Both forms use
# > exactly the same parts and parameters; only the place of the LayerNorm differs. Below we stack 12 blocks (as deep as GPT-2
# > small) and make two versions from one set of initial weights: pre-LN uses your `TransformerBlock`, post-LN is the
# > `PostLNBlock` written in the cell, which borrows the four submodules of the same block and changes only
# > `forward`. A token table goes in front and an output layer on top, and both train on random token sequences
# > (no warmup, a rather large learning rate). We record how large the gradient of the loss is with respect to
# > **each block's input** (the residual stream): once at initialisation, once after 20 training steps. It is a
# > demo, skipped while autograding.

# %% tags=skip-autograde
import copy

import matplotlib.pyplot as plt


class PostLNBlock(nn.Module):
    """The same four parts as a TransformerBlock, in the original post-LN order."""

    def __init__(self, block):
        super().__init__()
        self.norm1, self.attn, self.norm2, self.ff = block.norm1, block.attn, block.norm2, block.ff

    def forward(self, x):
        x = self.norm1(x + self.attn(x))  # LayerNorm after the residual add
        return self.norm2(x + self.ff(x))


ln_depth, ln_steps, ln_lr = 12, 20, 1e-2
ln_config = GPTConfig(vocab_size=64, context_length=16, d_model=64, num_heads=4, num_layers=ln_depth, dropout=0.0)
torch.manual_seed(0)
shared_blocks = [TransformerBlock(ln_config) for _ in range(ln_depth)]  # one set of initial weights for both
shared_embed, shared_head = nn.Embedding(64, 64), nn.Linear(64, 64)
sequences = torch.randint(0, 64, (32, 17), generator=torch.Generator().manual_seed(1))  # random tokens


def input_gradients(model, batch):
    """Loss on one batch, and the gradient norm at the input of every block (bottom first)."""
    x = model["embed"](batch[:, :-1])
    inputs = []
    for block in model["blocks"]:
        x.retain_grad()  # keep the gradient of this intermediate tensor
        inputs.append(x)
        x = block(x)
    logits = model["head"](model["final"](x))
    loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
    model.zero_grad()
    loss.backward()
    return loss.item(), [t.grad.norm().item() for t in inputs]


ln_results = {}
threads = torch.get_num_threads()
torch.set_num_threads(1)  # tiny tensors: one thread is faster and steadier
try:
    for name in ("pre-LN", "post-LN"):
        blocks = [copy.deepcopy(b) for b in shared_blocks]
        model = nn.ModuleDict({
            "embed": copy.deepcopy(shared_embed),
            "blocks": nn.ModuleList(blocks if name == "pre-LN" else [PostLNBlock(b) for b in blocks]),
            "final": LayerNorm(64) if name == "pre-LN" else nn.Identity(),  # post-LN output is already normalised
            "head": copy.deepcopy(shared_head),
        })
        optimizer = torch.optim.Adam(model.parameters(), lr=ln_lr)
        picks = torch.Generator().manual_seed(2)  # both versions see the same batches
        for step in range(ln_steps + 1):
            batch = sequences[torch.randint(0, len(sequences), (8,), generator=picks)]
            loss, grads = input_gradients(model, batch)
            if step in (0, ln_steps):
                ln_results[name, step] = (loss, grads)
            optimizer.step()
finally:
    torch.set_num_threads(threads)

for (name, step), (loss, grads) in ln_results.items():
    print(f"{name:7} after {step:2} steps: loss {loss:.3f}, gradient at the bottom block / at the top block "
          f"= {grads[0] / grads[-1]:.3g}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, step in zip(axes, (0, ln_steps)):
    for name, style in (("pre-LN", "-o"), ("post-LN", "--s")):
        ax.plot(range(ln_depth), ln_results[name, step][1], style, markersize=3, label=name)
    ax.set_yscale("log")
    ax.set_title("At initialisation" if step == 0 else f"After {ln_steps} Adam steps (lr {ln_lr}, no warmup)")
    ax.set_xlabel("block (0 = next to the embeddings)")
    ax.legend()
axes[0].set_ylabel("gradient norm at the block's input (log scale)")
fig.tight_layout()
plt.show()

# %% [markdown]
# 左图：刚初始化时，两种写法的梯度沿深度都差不多平。右图：训练 20 步之后就不一样了。上面的输出打印了两种写法的 loss 和“最底层 block 的梯度 / 最顶层 block 的梯度”：post-LN 的梯度越往下越小，底层几乎收不到信号，loss 也几乎没降；pre-LN 的梯度各层有高有低，但没有哪一层收不到信号，loss 正常下降。
#
# 原因在梯度回传的路上。post-LN 里，从 loss 回到第 l 个 block，梯度要穿过它上面**每一个** LayerNorm（12 个 block 就是 24 个）。LayerNorm 要除以 `x + sublayer(x)` 的标准差；训练让子层的输出变大以后，每穿过一个 LayerNorm 梯度就被缩小一次，这些系数一路**相乘**，到了底层就所剩无几。pre-LN 的残差路上只有加法：`x_{l+1} = x_l + sublayer(norm(x_l))`，所以到达 `x_{l+1}` 的梯度会原样传给 `x_l`，再加上子层那条支路的贡献。不管堆多深，每个 block 都能直接收到来自 loss 的梯度。这也是 post-LN 的模型训练时离不开学习率 warmup、而 GPT-2 之后的模型几乎都用 pre-LN 的原因之一。
#
# > **EN** Left: at initialisation both forms have a gradient that is about flat along the depth. Right: twenty
# > training steps later they differ. The output above prints each form's loss and "gradient at the
# > bottom block / at the top block": in post-LN the gradient gets smaller the lower the block, the bottom
# > blocks receive almost no signal and the loss hardly falls; in pre-LN the gradient differs somewhat from block to
# > block, but no block goes without a signal, and the loss falls normally.
# >
# > The reason lies on the gradient's way back. In post-LN the gradient from the loss to block l has to pass
# > through **every** LayerNorm above it (24 of them for 12 blocks). A LayerNorm divides by the standard
# > deviation of `x + sublayer(x)`; once training has made the sublayer outputs larger, every LayerNorm the
# > gradient passes shrinks it once more, and these factors **multiply** on the way down until little is left at
# > the bottom. The residual path of pre-LN has only additions: `x_{l+1} = x_l + sublayer(norm(x_l))`, so the
# > gradient arriving at `x_{l+1}` passes to `x_l` unchanged, plus what the sublayer branch contributes. However
# > deep the stack, every block gets the loss's gradient directly. This is one reason why post-LN models need
# > a learning-rate warmup to train, and why nearly every model after GPT-2 uses pre-LN.


# %% [markdown]
# ## 7. 学完了 / Wrap-up

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# **现在你有了 / What now exists:** `LayerNorm`、`GELU`（tanh 形式）、`FeedForward`(d → 4d → d)，以及 GPT-2 的 pre-LN `TransformerBlock`：`x + attn(norm1(x))`，再 `+ ff(norm2(x))`。GPT-2 small 的一个 block 有 7,087,872 个参数。
#
# > **EN** `LayerNorm`, `GELU` (tanh form), `FeedForward` (d → 4d → d) and GPT-2's pre-LN `TransformerBlock`:
# > `x + attn(norm1(x))`, then `+ ff(norm2(x))`. One GPT-2 small block has 7,087,872 parameters.
#
# **下一课 / Next:** 第 35 课组装完整的 GPT-2：token 和位置 embedding → 12 个 block → 最后的 LayerNorm → LM head（和 token 表共享权重），再讲初始化、参数量和文本生成。第 35 课从 `gpt2ref` 导入 block，所以这里的错误不会影响下一课。
#
# > **EN** Lesson 35 assembles the full GPT-2: token and position embeddings → 12 blocks → a final LayerNorm →
# > the LM head (sharing its weight with the token table), then initialisation, parameter counts and text
# > generation. Lesson 35 imports the block from `gpt2ref`, so a mistake here never blocks the next
# > lesson.
