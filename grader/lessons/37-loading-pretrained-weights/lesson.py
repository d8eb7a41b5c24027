# Lesson 37: loading pretrained weights. Authoring script; build with `python -m grader.build 37-loading-pretrained-weights`.
# Format: see docs/AUTHORING.md. Graded cells: read_checkpoint, hf_key_to_course, load_gpt2_weights, cache_mask.

# %% [markdown]
# # 第 37 课 · 加载预训练权重 / Lesson 37 · Loading pretrained weights
#
# 第 35 课拼出的 GPT-2 只会胡言乱语：它的参数全是随机数。OpenAI 训练好的 GPT-2 small 就是同样形状的一组数，存在一个文件里。这一课把那个文件读进我们自己的 `GPTModel`——名字对上、形状对上、一个数都不差，然后让生成快起来。
#
# > **EN** The GPT-2 we assembled in lesson 35 only babbles: all its parameters are random. OpenAI's trained
# > GPT-2 small is a set of numbers of exactly that shape, stored in one file. This lesson reads that file into
# > our own `GPTModel` (every name matched, every shape checked, not one number off) and then makes
# > generation fast.
#
# **学完这一课，你会亲手写出 / By the end you will have written:**
#
# 1. `read_checkpoint(path)`：读一个 `.safetensors` 文件；文件坏了就清楚地说出是哪个文件。
#    > **EN** `read_checkpoint(path)`: read a `.safetensors` file, and say plainly which file is broken when it is.
# 2. `hf_key_to_course(key)`：把 Hugging Face 的参数名翻译成我们的名字，并指出哪些矩阵要转置。
#    > **EN** `hf_key_to_course(key)`: translate a Hugging Face parameter name into ours, and say which
#    > matrices must be transposed.
# 3. `load_gpt2_weights(model, state_dict)`：把整个 checkpoint 装进 `GPTModel`；不认识的、缺少的、形状不对的 key 一次全部报出来，出错时模型一个数都不改；weight tying 保持不变。
#    > **EN** `load_gpt2_weights(model, state_dict)`: load a whole checkpoint into `GPTModel`; report every
#    > unknown, missing and mis-shaped key at once, change nothing when anything is wrong, keep weight tying.
# 4. `cache_mask(T_new, T_past)`：KV cache 需要的 attention mask。有了 KV cache，生成时每一步只算一个新 token。
#    > **EN** `cache_mask(T_new, T_past)`: the attention mask a KV cache needs. With the cache, each generation
#    > step runs one new token only.
#
# **怎么用这个 notebook：** 从上到下依次运行。标着 ✍️ 的 cell 由你来写（把 `raise NotImplementedError(...)` 换成你的代码），紧跟着的测试 cell 会告诉你哪里不对、可能的原因是什么。批改时还会运行隐藏测试：它们用别的数据和随机种子重新检查同样的内容，不会检查你在这里看不到的新东西。所以只要每个测试 cell 都显示“ok”、Validate 也通过，代码部分就是满分。这个 notebook **不会自己下载任何东西**：本机有真正的 GPT-2 权重就用它们（第 1 节说怎么找、怎么下载），没有就用一个格式完全相同、数值随机的本地替身。整本 notebook 在笔记本电脑的 CPU 上一两分钟内跑完，内存不超过 1.5 GB。之前几课的零件（`GPTModel`、`generate`……）从 `gpt2ref` 导入。
#
# > **EN** **How to use this notebook:** run it top to bottom. Cells marked ✍️ are yours (replace
# > `raise NotImplementedError(...)` with your code); the test cell right after each says what is wrong and the
# > likely cause. Grading also runs hidden tests: they re-check the same things with other data and seeds,
# > nothing you cannot see here. So if every test cell prints "ok" and Validate passes, the code gets full
# > marks. This notebook **downloads nothing by itself**: if real GPT-2 weights are on this machine it
# > uses them (section 1 says how they are found and how to download them), otherwise a local stand-in in
# > exactly the same format, with random numbers. The whole notebook runs in a minute or two on a laptop CPU,
# > in less than 1.5 GB of memory. Parts from earlier lessons (`GPTModel`, `generate`, ...) are imported from
# > `gpt2ref`.

# %% [markdown]
# **学习时间 / Study time：** 大约 90 分钟，包括练习和小测。下面这些词会反复出现：
#
# > **EN** About 90 minutes, exercises and quizzes included. These terms come up again and again:
#
# | 术语 / Term | 中文 | English |
# |---|---|---|
# | safetensors | 只存 tensor 的文件格式：读取时不执行任何代码 | a file format that holds only tensors: reading it runs no code |
# | state dict | 参数名到 tensor 的字典 | a dictionary from parameter names to tensors |
# | Conv1D | Hugging Face GPT-2 的线性层，权重按 (in, out) 存，加载时要转置 | Hugging Face GPT-2's linear layer; it stores weights as (in, out), so loading transposes them |
# | KV cache | 生成时把算过的 k、v 存起来，每步只算新 token | keeping the computed k and v while generating, so each step computes only the new token |
# | prefill | 第一次把整个 prompt 送进模型、填满缓存 | the first pass that feeds the whole prompt and fills the cache |

# %% [markdown]
# ## 0. 准备 / Setup

# %%
import atexit
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import tiktoken
import torch
import torch.nn.functional as F
import transformers
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from course.pretrained import (
    PretrainedUnavailable,
    download_gpt2_checkpoint,
    find_gpt2_checkpoint,
    hf_gpt2_config,
    make_standin_checkpoint,
)
from gpt2ref import GPT2_SMALL, TINY, CheckpointError, GPTConfig, GPTModel, count_parameters, generate

transformers.utils.logging.set_verbosity_error()  # no progress bars or notices from Hugging Face
transformers.utils.logging.disable_progress_bar()
torch.manual_seed(0)
WORK = Path(tempfile.mkdtemp(prefix="lesson37-"))  # the stand-in files of this lesson go here
atexit.register(shutil.rmtree, WORK, ignore_errors=True)  # removed when the kernel shuts down
print("torch", torch.__version__, "| transformers", transformers.__version__)
print("scratch folder:", WORK)

# %% [markdown]
# 先做几道课前小题。答错没关系，学完后还会再考。
#
# > **EN** A few questions before we start. Wrong answers are fine: the ideas come back at the end.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="pre")

# %% [markdown]
# ## 1. 真正的权重在哪里 / Where the real weights live
#
# GPT-2 small 的权重在 Hugging Face Hub 的仓库 `openai-community/gpt2` 里，是一个叫 `model.safetensors` 的文件。先算算它有多大：每个参数是一个 float32（4 个字节）；文件里另外还存了每个 block 一个 1024 × 1024 的 mask（第 3 节细说）。用 `meta` device 建模型只记录形状、不分配内存，所以数 GPT-2 small 的参数不花一点内存：
#
# > **EN** GPT-2 small's weights are one file, `model.safetensors`, in the Hugging Face Hub repository
# > `openai-community/gpt2`. How big is it? Every parameter is one float32 (4 bytes); the file also holds one
# > 1024 x 1024 mask per block (section 3 explains). A model built on the `meta` device records shapes and
# > allocates nothing, so counting GPT-2 small costs no memory:

# %%
with torch.device("meta"):
    gpt2_shapes = GPTModel(GPT2_SMALL)  # shapes only
n_params = count_parameters(gpt2_shapes)
mask_numbers = GPT2_SMALL.num_layers * GPT2_SMALL.context_length**2
print(f"parameters:    {n_params:,} x 4 bytes = {n_params * 4 / 1e6:.1f} MB")
print(f"mask buffers:  {GPT2_SMALL.num_layers} x 1024 x 1024 = {mask_numbers:,} x 4 bytes = {mask_numbers * 4 / 1e6:.1f} MB")
print(f"model.safetensors: about {(n_params + mask_numbers) * 4 / 1e6:.0f} MB")

# %% [markdown]
# 大约 548 MB。这个 notebook 不会自己去下载它：在学校机房、Binder 或者没有网的地方，下载会失败或者太慢。下面的 cell 只在本机查找（`course.pretrained.find_gpt2_checkpoint`）：
#
# 1. 环境变量 `GPT2_COURSE_WEIGHTS` 指向的文件（或含有 `model.safetensors` 的文件夹）；
# 2. Hugging Face 的本地缓存（`~/.cache/huggingface/hub`）——如果你以前用 `transformers` 下载过 GPT-2，它就在那里。
#
# 想下载的话，在有网络的机器上把 `DOWNLOAD_REAL_WEIGHTS` 改成 `True` 再运行这个 cell：`download_gpt2_checkpoint()` 用 `huggingface_hub` 把文件下载到同一个缓存里，下次就能直接找到。设置了 `HF_HUB_OFFLINE=1` 时它会直接拒绝，不碰网络。
#
# > **EN** About 548 MB. This notebook does not download it by itself: in a classroom, on Binder or offline the
# > download would fail or take too long. The cell below only looks on this machine
# > (`course.pretrained.find_gpt2_checkpoint`):
# > 1. the file (or a folder holding `model.safetensors`) that the environment variable `GPT2_COURSE_WEIGHTS`
# >    points at;
# > 2. the local Hugging Face cache (`~/.cache/huggingface/hub`): if you ever downloaded GPT-2 with
# >    `transformers`, it is there.
# >
# > To download, set `DOWNLOAD_REAL_WEIGHTS = True` on a machine with network access and run the cell again:
# > `download_gpt2_checkpoint()` fetches the file with `huggingface_hub` into that same cache, where it is
# > found next time. With `HF_HUB_OFFLINE=1` set it refuses at once and never touches the network.

# %%
DOWNLOAD_REAL_WEIGHTS = False  # True: download about 548 MB from the Hugging Face Hub (needs network)

real_path = find_gpt2_checkpoint()
if real_path is None and DOWNLOAD_REAL_WEIGHTS:
    try:
        real_path = download_gpt2_checkpoint()
    except PretrainedUnavailable as exc:
        print("Download failed:", exc)
if real_path is not None:
    print(f"Real GPT-2 small weights found: {real_path} ({real_path.stat().st_size / 1e6:.0f} MB)")
else:
    print("No real GPT-2 weights on this machine (looked at $GPT2_COURSE_WEIGHTS and the Hugging Face cache).")
    print("This notebook goes on with a local stand-in: the same file format, random numbers.")

# %% [markdown]
# ## 2. 本地替身 / A local stand-in
#
# 没有真权重也能把加载这件事做对、测对：我们让 `transformers` 自己随机初始化一个 `GPT2LMHeadModel`，再用它自己的 `save_pretrained` 存盘。这样得到的文件和 Hub 上的文件格式相同、名字相同，只是数值是随机的、尺寸由我们定（这里用小小的 `TINY`，瞬间就能建好）。最关键的是：Hugging Face 自己能读回这个文件，于是我们随时可以拿它的输出当标准答案。
#
# 真实的文件和 `save_pretrained` 写出的文件有两点不同，所以我们做两个替身：
#
# - `save_pretrained` 的 key 带 `transformer.` 前缀（`transformer.h.0.ln_1.weight`），Hub 上的 GPT-2 文件没有（`h.0.ln_1.weight`）；
# - Hub 上的文件每个 block 还多一个 `h.N.attn.bias`。
#
# `make_standin_checkpoint(..., hub_style=True)` 按 Hub 文件的样子重写一遍。
#
# > **EN** We can get loading right, and test it, without the real weights: let `transformers` randomly
# > initialise a `GPT2LMHeadModel` and store it with its own `save_pretrained`. The file has the format and the
# > names of the Hub's file; only the numbers are random and the size is ours to pick (here the tiny `TINY`,
# > built in an instant). Best of all, Hugging Face reads the file back itself, so its outputs are always at
# > hand as the right answer.
# >
# > The real file differs from what `save_pretrained` writes in two ways, so we make two stand-ins:
# > - `save_pretrained` prefixes the keys with `transformer.` (`transformer.h.0.ln_1.weight`); the Hub's GPT-2
# >   file does not (`h.0.ln_1.weight`);
# > - the Hub's file also has an `h.N.attn.bias` in every block.
# >
# > `make_standin_checkpoint(..., hub_style=True)` rewrites the file the way the Hub's looks.

# %%
print(TINY)
standin_dir = WORK / "standin"
standin_path = make_standin_checkpoint(standin_dir, TINY, seed=0)  # as save_pretrained writes it
hub_dir = WORK / "standin-hub"
hub_path = make_standin_checkpoint(hub_dir, TINY, seed=0, hub_style=True)  # as the Hub's file looks
for path in sorted(standin_dir.iterdir()) + [hub_path]:
    print(f"{str(path.relative_to(WORK)):40} {path.stat().st_size:>8,} bytes")

# %% [markdown]
# ## 3. safetensors 文件里有什么 / Inside a safetensors file
#
# `.safetensors` 的格式简单到可以手读：
#
# 1. 开头 8 个字节：一个 little-endian 的无符号整数 N；
# 2. 接下来 N 个字节：一段 JSON，列出每个 tensor 的名字、dtype、shape，以及它的数据在文件里的字节范围；
# 3. 剩下的全是原始数据，一个接一个排好。
#
# 读这种文件只是“查表、取字节”，不会执行任何代码。而 PyTorch 传统的 `.bin` 文件是 pickle：读它时 Python 会按文件的指示构造对象，一个恶意文件可以借此运行任意代码。我们来手读表头：
#
# > **EN** The `.safetensors` format is simple enough to read by hand:
# > 1. the first 8 bytes: one little-endian unsigned integer N;
# > 2. the next N bytes: JSON listing every tensor's name, dtype, shape and the byte range of its data;
# > 3. everything after that: the raw data, one tensor after another.
# >
# > Reading it is looking up a table and taking bytes; no code runs. PyTorch's traditional `.bin` file is a
# > pickle instead: while reading it Python builds objects as the file says, and a malicious file can use that
# > to run any code. Let's read the header by hand:

# %%
def read_header(path):
    """The JSON header of a .safetensors file: {name: {"dtype", "shape", "data_offsets"}, ...}."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")  # the header's length in bytes
        return json.loads(f.read(n))


header = read_header(hub_path)
print("metadata:", header.pop("__metadata__", None))
print(len(header), "tensors; the first six:")
for name in list(header)[:6]:
    print(f"  {name:24} {header[name]}")
start, end = header["wte.weight"]["data_offsets"]
vocab, width = header["wte.weight"]["shape"]
print(f"wte.weight: {end - start:,} bytes = {vocab} x {width} numbers x 4 bytes = {vocab * width * 4:,}")

# %% [markdown]
# 表头里的 `h.0.attn.bias` 是什么？它不是学出来的权重。画出来看看：
#
# > **EN** What is the `h.0.attn.bias` in the header? It is not a learned weight. Let's draw it:

# %%
mask = load_file(hub_path)["h.0.attn.bias"]
print("h.0.attn.bias:", tuple(mask.shape), mask.dtype, "| distinct values:", mask.unique().tolist())
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(mask[0, 0], cmap="Greys")  # black = 1 (may attend), white = 0
ax.set(title="h.0.attn.bias (black = 1, white = 0)", xlabel="key position", ylabel="query position",
       xticks=range(0, 16, 3), yticks=range(0, 16, 3))
plt.show()

# %% [markdown]
# 一个下三角的 0/1 矩阵：这正是 causal mask（第 33 课）。老版本的实现把 mask 登记成了 module 的 buffer，于是它和权重一起被存进了文件。我们的 attention 自己做 mask，所以加载时**跳过**这些 key（有的文件里还有一个 `h.N.attn.masked_bias`，同样跳过）。
#
# 文件也可能是坏的。最常见的一种：从 git 仓库 clone 下来却没装 Git LFS，得到的 `model.safetensors` 只是一个很小的文本“指针”。用上面的 `read_header` 读它会读出一个荒唐的表头长度：
#
# > **EN** A lower-triangular 0/1 matrix: the causal mask of lesson 33. Older implementations registered the
# > mask as a module buffer, so it was saved with the weights. Our attention masks by itself, so loading
# > **skips** these keys (some files also have an `h.N.attn.masked_bias`; skip it too).
# >
# > A file can also be broken. The most common case: a repository cloned without Git LFS, where
# > `model.safetensors` is a tiny text "pointer". `read_header` finds an absurd header
# > length in it:

# %%
pointer_path = WORK / "lfs-pointer" / "model.safetensors"
pointer_path.parent.mkdir()
pointer_path.write_text("version https://git-lfs.github.com/spec/v1\n"
                        "oid sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
                        "size 548105171\n")
with open(pointer_path, "rb") as f:
    claimed = int.from_bytes(f.read(8), "little")
print(f"file size {pointer_path.stat().st_size} bytes; the first 8 bytes claim a header of {claimed:,} bytes")
try:
    load_file(pointer_path)
except SafetensorError as exc:
    print(f"safetensors.torch.load_file: {type(exc).__name__}: {exc}")

# %% [markdown]
# `safetensors` 会发现问题，但它的错误信息没说是**哪个**文件。你要写的 `read_checkpoint` 把文件名补上。
#
# > **EN** `safetensors` notices, but its message does not say **which** file. The `read_checkpoint` you write
# > adds the file's name.
#
# ## 4. ✍️ 读 checkpoint / Read a checkpoint
#
# 要求 / The contract:
#
# - 返回文件里**所有** tensor：`{名字: torch.Tensor}`（放在 CPU 上）。可以用 `safetensors.torch.load_file`。
# - 文件不存在：抛 `FileNotFoundError`。
# - 文件存在但不是可读的 safetensors 文件（被截断、是 LFS 指针、随便什么字节）：抛 `CheckpointError`（它是 `ValueError` 的子类，已从 `gpt2ref` 导入），错误信息里要有这个文件的路径。`load_file` 遇到坏文件抛的是 `safetensors.SafetensorError`。
#
# > **EN**
# > - Return **every** tensor of the file: `{name: torch.Tensor}` (on the CPU). `safetensors.torch.load_file`
# >   may do the reading.
# > - Missing file: raise `FileNotFoundError`.
# > - A file that exists but is not a readable safetensors file (truncated, an LFS pointer, any other bytes):
# >   raise `CheckpointError` (a subclass of `ValueError`, imported from `gpt2ref`) with the file's
# >   path in the message. On a bad file `load_file` raises `safetensors.SafetensorError`.

# %% [solution] id=read_checkpoint
def read_checkpoint(path):
    """Every tensor of a .safetensors file.

    path: a str or pathlib.Path.
    Returns: dict {tensor name: torch.Tensor on the CPU}, all tensors of the file.
    Raises: FileNotFoundError if there is no file at path;
            CheckpointError (a ValueError) whose message contains the path if the file is not a
            readable safetensors file (truncated, a Git LFS pointer, random bytes, ...).
    """
    ### BEGIN SOLUTION
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        return load_file(path, device="cpu")
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc
    ### END SOLUTION

# %% [tests] id=test_read_checkpoint points=2
import atexit
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from course.checks import expect_equal, expect_own_work, expect_raises, expect_tensor_equal
from gpt2ref import CheckpointError as _CheckpointError

expect_own_work(read_checkpoint, lesson=37, what="read_checkpoint")
_folder = Path(tempfile.mkdtemp(prefix="lesson37-test-"))
atexit.register(shutil.rmtree, _folder, ignore_errors=True)
_tensors = {"wte.weight": torch.randn(5, 3), "h.0.ln_1.bias": torch.arange(3.0)}
save_file(_tensors, _folder / "good.safetensors")
_got = read_checkpoint(_folder / "good.safetensors")
expect_equal(sorted(_got), sorted(_tensors), ("read_checkpoint 读取完好文件得到的名字", "read_checkpoint(good file): the names"),
             hint=("返回一个 dict，包含文件里的每一个 tensor，以 tensor 的名字为 key",
                   "return a dict with every tensor of the file, keyed by its name"))
for _name, _value in _tensors.items():
    expect_tensor_equal(_got[_name], _value, (f"read_checkpoint 读取完好文件的结果[{_name!r}]",
                                              f"read_checkpoint(good file)[{_name!r}]"))
(_folder / "pointer.safetensors").write_text("version https://git-lfs.github.com/spec/v1\nsize 548105171\n")
_error = expect_raises(ValueError, lambda: read_checkpoint(_folder / "pointer.safetensors"),
                       ("read_checkpoint 读取 Git LFS 指针文件", "read_checkpoint(a Git LFS pointer file)"),
                       message_contains=["pointer.safetensors"],
                       hint=("捕获 safetensors.SafetensorError，改为抛出 CheckpointError，并在消息里写上文件路径",
                             "catch safetensors.SafetensorError and raise CheckpointError with the path in the message"))
expect_raises(_CheckpointError, lambda: read_checkpoint(_folder / "pointer.safetensors"),
              ("read_checkpoint 读取 Git LFS 指针文件", "read_checkpoint(a Git LFS pointer file)"),
              hint=("抛出 CheckpointError（从 gpt2ref 导入），而不是普通的 ValueError：调用方捕获的正是这个类",
                    "raise CheckpointError (from gpt2ref), not a plain ValueError: callers catch that class"))
_error = expect_raises(FileNotFoundError, lambda: read_checkpoint(_folder / "missing.safetensors"),
                       ("read_checkpoint 读取一个不存在的文件", "read_checkpoint(a path with no file)"),
                       hint=("文件不存在时应当抛出 FileNotFoundError", "a missing file should raise FileNotFoundError"))
### BEGIN HIDDEN TESTS
_got = read_checkpoint(str(_folder / "good.safetensors"))  # a str path works as well
expect_equal(sorted(_got), sorted(_tensors), ("read_checkpoint 收到 str 类型的路径", "read_checkpoint(path given as a str)"),
             hint=("路径既可以是 pathlib.Path，也可以是 str", "accept a str as well as a pathlib.Path"))
save_file({"a": torch.randn(64, 64), "b": torch.randn(10)}, _folder / "cut.safetensors")
(_folder / "cut.safetensors").write_bytes((_folder / "cut.safetensors").read_bytes()[:-200])
(_folder / "noise.safetensors").write_bytes(bytes(range(256)) * 3)
(_folder / "empty.safetensors").write_bytes(b"")
for _file, (_what_zh, _what) in (("cut.safetensors", ("被截断的文件", "a truncated file")),
                                 ("noise.safetensors", ("随机字节", "random bytes")),
                                 ("empty.safetensors", ("空文件", "an empty file"))):
    _error = expect_raises(ValueError, lambda: read_checkpoint(_folder / _file),
                           (f"read_checkpoint 读取{_what_zh}", f"read_checkpoint({_what})"),
                           message_contains=[_file],
                           hint=("任何读不了的文件都必须抛出 CheckpointError，并在消息里写上文件路径",
                                 "any unreadable file must raise CheckpointError with the file's path in the message"))
from gpt2ref import CheckpointError as _CheckpointError

expect_raises(_CheckpointError, lambda: read_checkpoint(_folder / "noise.safetensors"),
              ("read_checkpoint 读取随机字节", "read_checkpoint(random bytes)"),
              hint=("抛出 CheckpointError（从 gpt2ref 导入），而不是普通的 ValueError：调用方捕获的正是这个类",
                    "raise CheckpointError (from gpt2ref), not a plain ValueError: callers catch that class"))
### END HIDDEN TESTS
print("test_read_checkpoint: ok")

# %% [markdown]
# ## 5. 两套名字 / Two sets of names
#
# 把替身文件读进来，和我们 `GPTModel(TINY)` 的 `state_dict()` 放在一起比一比。先看总数：
#
# > **EN** Read the stand-in file and compare it with the `state_dict()` of our `GPTModel(TINY)`. Counts first:

# %%
hub_state = read_checkpoint(hub_path)
plain_state = read_checkpoint(standin_path)
model = GPTModel(TINY)
course_state = model.state_dict()
print("hub-style file:       ", len(hub_state), "tensors, e.g.", sorted(hub_state)[:2])
print("save_pretrained file: ", len(plain_state), "tensors, e.g.", sorted(plain_state)[:2])
print("GPTModel(TINY):       ", len(course_state), "entries, e.g.", list(course_state)[:2])
print("'lm_head.weight' in either file?", "lm_head.weight" in hub_state or "lm_head.weight" in plain_state)

# %% [markdown]
# 再看一个 block 里的名字和形状，左边是文件，右边是我们的模型：
#
# > **EN** Now the names and shapes inside one block, the file on the left, our model on the right:

# %%
file_block = sorted(k for k in hub_state if k.startswith("h.0."))
model_block = [k for k in course_state if k.startswith("blocks.0.")]
for k in file_block:
    print(f"  {k:24} {str(tuple(hub_state[k].shape)):16}")
print()
for k in model_block:
    print(f"  {k:28} {str(tuple(course_state[k].shape)):16}")

# %% [markdown]
# 对照一下就能写出整张对照表（`N` 是 block 的编号）：
#
# | Hugging Face（`transformer.` 前缀可有可无 / prefix optional） | `GPTModel` | 转置 / transpose |
# |---|---|---|
# | `wte.weight` | `tok_embed.weight` | |
# | `wpe.weight` | `pos_embed.weight` | |
# | `h.N.ln_1.weight` / `.bias` | `blocks.N.norm1.weight` / `.bias` | |
# | `h.N.attn.c_attn.weight` / `.bias` | `blocks.N.attn.qkv.weight` / `.bias` | weight ✔ |
# | `h.N.attn.c_proj.weight` / `.bias` | `blocks.N.attn.proj.weight` / `.bias` | weight ✔ |
# | `h.N.ln_2.weight` / `.bias` | `blocks.N.norm2.weight` / `.bias` | |
# | `h.N.mlp.c_fc.weight` / `.bias` | `blocks.N.ff.fc.weight` / `.bias` | weight ✔ |
# | `h.N.mlp.c_proj.weight` / `.bias` | `blocks.N.ff.proj.weight` / `.bias` | weight ✔ |
# | `ln_f.weight` / `.bias` | `final_norm.weight` / `.bias` | |
# | `lm_head.weight`（常常没有：和 `wte` 共享 / often absent: shared with `wte`） | `lm_head.weight` | |
# | `h.N.attn.bias`, `h.N.attn.masked_bias` | —（mask buffer，跳过 / skipped） | |
#
# 还有三件事要注意：
#
# - 文件里没有 `lm_head.weight`：GPT-2 的 `lm_head` 和 `wte` 共享同一个矩阵（第 35 课的 weight tying），所以只存了一份。`GPT2LMHeadModel.state_dict()` 里却*有*它（和 `transformer.wte.weight` 是同一个 tensor），所以加载函数两种情况都要接受。
# - 我们模型的 `state_dict()` 里有 `lm_head.weight`，因为共享的 tensor 在两个名字下都出现；填好 `tok_embed.weight` 它就跟着有了。
# - 注意 `c_attn.weight` 的形状和 `qkv.weight` 的形状：行列正好反过来。下一节讲为什么。
#
# > **EN** Side by side, the whole table above can be written down (`N` is the block number). Three more
# > things to notice:
# > - The file has no `lm_head.weight`: GPT-2's `lm_head` shares one matrix with `wte` (lesson 35's weight
# >   tying), so it is stored once. `GPT2LMHeadModel.state_dict()` *does* list it (the very tensor of
# >   `transformer.wte.weight`), so the loader must accept both.
# > - Our model's `state_dict()` lists `lm_head.weight` because a shared tensor appears under both names;
# >   filling `tok_embed.weight` fills it too.
# > - Compare the shape of `c_attn.weight` with that of `qkv.weight`: rows and columns are swapped. The next
# >   section explains why.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["prefix", "mask-buffer"])

# %% [markdown]
# ## 6. Conv1D 和 Linear：为什么要转置 / Conv1D and Linear: why transpose
#
# OpenAI 最初的 GPT-2 代码（TensorFlow）把每个线性层写成 `x @ W + b`，`W` 的形状是 `(in, out)`。Hugging Face 为了能直接读那些权重，保留了这个写法，叫它 `Conv1D`（名字有历史原因，它其实就是一个线性层）。PyTorch 的 `nn.Linear` 算的是 `x @ W.T + b`，`W` 存成 `(out, in)`。同一组数，差一个转置：
#
# > **EN** OpenAI's original GPT-2 code (TensorFlow) wrote every linear layer as `x @ W + b` with `W` of shape
# > `(in, out)`. Hugging Face kept that layout so it could read those weights directly, in a layer called
# > `Conv1D` (a historical name: it is just a linear layer). PyTorch's `nn.Linear` computes `x @ W.T + b` and
# > stores `W` as `(out, in)`. The same numbers, one transpose apart:

# %%
from transformers.pytorch_utils import Conv1D

torch.manual_seed(1)
conv = Conv1D(6, 4)  # Hugging Face's layer: 4 inputs -> 6 outputs (note the argument order: nf, nx)
nn.init.normal_(conv.weight, std=0.5)
nn.init.normal_(conv.bias, std=0.5)
linear = nn.Linear(4, 6)  # the same layer in PyTorch's layout
with torch.no_grad():
    linear.weight.copy_(conv.weight.t())  # (in, out) -> (out, in)
    linear.bias.copy_(conv.bias)  # biases: same shape, no transpose
x = torch.randn(2, 4)
print("Conv1D.weight:", tuple(conv.weight.shape), "| Linear.weight:", tuple(linear.weight.shape))
print("max |Conv1D(x) - Linear(x)| =", (conv(x) - linear(x)).abs().max().item())

# %% [markdown]
# 忘了转置会怎样？`c_attn`（`(d, 3d)`）、`c_fc`（`(d, 4d)`）、`mlp.c_proj`（`(4d, d)`）形状对不上，加载时马上就能发现。但 `attn.c_proj` 是 `(d, d)` 的**方阵**：不转置也“放得进去”，不会报错，只是算出来的东西是错的：
#
# > **EN** What if the transpose is forgotten? `c_attn` (`(d, 3d)`), `c_fc` (`(d, 4d)`) and `mlp.c_proj`
# > (`(4d, d)`) do not fit, which loading notices at once. But `attn.c_proj` is a **square** `(d, d)` matrix:
# > it fits without the transpose, raises nothing, and computes the wrong thing:

# %%
square = Conv1D(4, 4)
nn.init.normal_(square.weight, std=0.5)
right, wrong = nn.Linear(4, 4), nn.Linear(4, 4)
with torch.no_grad():
    right.weight.copy_(square.weight.t())
    wrong.weight.copy_(square.weight)  # no error: the shapes agree
    right.bias.copy_(square.bias)
    wrong.bias.copy_(square.bias)
x = torch.randn(3, 4)
print("transposed:     max difference", (right(x) - square(x)).abs().max().item())
print("not transposed: max difference", (wrong(x) - square(x)).abs().max().item())

# %% [markdown]
# 所以“形状对得上”不等于“加载对了”。最终的检验只能是：同一个输入，我们的 logits 和 Hugging Face 的一样。
#
# > **EN** So "the shapes fit" does not mean "loaded correctly". The only real check: on the same input, our
# > logits equal Hugging Face's.
#
# ## 7. ✍️ 名字对照表 / The name table
#
# 把第 5 节的表写成一个函数。要求 / The contract:
#
# - 输入一个 Hugging Face 的 key，`transformer.` 前缀可有可无。
# - 返回 `(我们的名字, 是否转置)`，例如 `"transformer.h.3.mlp.c_fc.weight"` → `("blocks.3.ff.fc.weight", True)`。只有四个 Conv1D 的 **weight** 要转置（bias 不用）。`"lm_head.weight"` → `("lm_head.weight", False)`。
# - 不是 GPT-2 权重的 key（包括 mask buffer `h.N.attn.bias`、`h.N.attn.masked_bias`）返回 `None`。
#
# > **EN** Turn section 5's table into a function:
# > - Input: one Hugging Face key, with or without the `transformer.` prefix.
# > - Return `(our name, transpose)`, e.g. `"transformer.h.3.mlp.c_fc.weight"` → `("blocks.3.ff.fc.weight", True)`.
# >   Only the four Conv1D **weights** are transposed (their biases are not). `"lm_head.weight"` →
# >   `("lm_head.weight", False)`.
# > - A key that is not a GPT-2 weight (the mask buffers `h.N.attn.bias` and `h.N.attn.masked_bias` included)
# >   gives `None`.
#
# 同一张表画成两张图：第一张是 block 以外的键，第二张是每个 block 里的键。粗箭头是那四个要转置的 Conv1D weight，其余的原样复制（`N` 是 block 的编号，`*` 代表 `weight` 或 `bias`）：
#
# > **EN** The same table as two pictures: the first has the keys outside the blocks, the second the keys inside
# > each block. The thick arrows are the four Conv1D weights that need a transpose, everything else is copied as
# > it is (`N` is the block number, `*` stands for `weight` or `bias`):
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart LR
#     key["Hugging Face key,<br>prefix 'transformer.' dropped"] --> wte["wte.weight"] --> tok["tok_embed.weight"]
#     key --> wpe["wpe.weight"] --> pos["pos_embed.weight"]
#     key --> lnf["ln_f.*"] --> fnorm["final_norm.*"]
#     key --> lm["lm_head.weight<br>(often absent: tied to wte)"] --> lmc["lm_head.weight"]
#     key --> block["h.N.rest: one block,<br>see below"]
# ```
#
# ```mermaid
# ---
# config:
#   flowchart:
#     wrappingWidth: 640
# ---
# flowchart LR
#     block["h.N.rest"] --> ln1["h.N.ln_1.*"] --> norm1["blocks.N.norm1.*"]
#     block --> ln2["h.N.ln_2.*"] --> norm2["blocks.N.norm2.*"]
#     block --> cattn["h.N.attn.c_attn.weight<br>(d, 3d)"] ==>|"transpose"| qkv["blocks.N.attn.qkv.weight<br>(3d, d)"]
#     block --> aproj["h.N.attn.c_proj.weight<br>(d, d)"] ==>|"transpose"| proj["blocks.N.attn.proj.weight<br>(d, d)"]
#     block --> cfc["h.N.mlp.c_fc.weight<br>(d, 4d)"] ==>|"transpose"| fc["blocks.N.ff.fc.weight<br>(4d, d)"]
#     block --> mproj["h.N.mlp.c_proj.weight<br>(4d, d)"] ==>|"transpose"| fproj["blocks.N.ff.proj.weight<br>(d, 4d)"]
#     block --> biases["the four Conv1D biases:<br>c_attn, attn.c_proj,<br>c_fc, mlp.c_proj"] --> cbias["qkv, attn.proj, ff.fc, ff.proj<br>biases: same shape,<br>no transpose"]
#     block --> buffers["h.N.attn.bias,<br>h.N.attn.masked_bias:<br>mask buffers"] --> skip["None: not a weight,<br>skipped"]
# ```

# %% [solution] id=hf_key_to_course
def hf_key_to_course(hf_key):
    """Translate one key of a Hugging Face GPT-2 checkpoint into a GPTModel parameter name.

    hf_key: e.g. "transformer.h.3.mlp.c_fc.weight" or "h.3.mlp.c_fc.weight" (the prefix is optional).
    Returns (course_name, transpose), e.g. ("blocks.3.ff.fc.weight", True); transpose is True exactly
    for the four Conv1D weights attn.c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj (never for biases).
    "lm_head.weight" -> ("lm_head.weight", False).
    Returns None for any key that is not a GPT-2 weight, the mask buffers h.N.attn.bias and
    h.N.attn.masked_bias included.
    """
    ### BEGIN SOLUTION
    key = hf_key.removeprefix("transformer.")
    top_level = {
        "wte.weight": "tok_embed.weight",
        "wpe.weight": "pos_embed.weight",
        "ln_f.weight": "final_norm.weight",
        "ln_f.bias": "final_norm.bias",
        "lm_head.weight": "lm_head.weight",
    }
    if key in top_level:
        return top_level[key], False
    in_block = {
        "ln_1.weight": "norm1.weight",
        "ln_1.bias": "norm1.bias",
        "attn.c_attn.weight": "attn.qkv.weight",
        "attn.c_attn.bias": "attn.qkv.bias",
        "attn.c_proj.weight": "attn.proj.weight",
        "attn.c_proj.bias": "attn.proj.bias",
        "ln_2.weight": "norm2.weight",
        "ln_2.bias": "norm2.bias",
        "mlp.c_fc.weight": "ff.fc.weight",
        "mlp.c_fc.bias": "ff.fc.bias",
        "mlp.c_proj.weight": "ff.proj.weight",
        "mlp.c_proj.bias": "ff.proj.bias",
    }
    conv1d_weights = {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"}
    match = re.fullmatch(r"h\.(\d+)\.(.+)", key)  # h.<block number>.<rest>
    if match is None or match.group(2) not in in_block:
        return None
    number, rest = match.groups()
    return f"blocks.{number}.{in_block[rest]}", rest in conv1d_weights
    ### END SOLUTION

# %% [tests] id=test_hf_key_to_course points=2
import torch
import transformers

from course.checks import expect, expect_equal, expect_own_work
from course.pretrained import hf_gpt2_config
from gpt2ref import GPT2_SMALL, GPTModel

expect_own_work(hf_key_to_course, lesson=37, what="hf_key_to_course")


def _mapped(key):
    result = hf_key_to_course(key)
    return None if result is None else tuple(result)


expect_equal(_mapped("wte.weight"), ("tok_embed.weight", False), "hf_key_to_course('wte.weight')",
             hint=("wte 是 token embedding 表：对应 tok_embed.weight，不转置",
                   "wte is the token embedding table: tok_embed.weight, not transposed"))
expect_equal(_mapped("h.3.mlp.c_fc.weight"), ("blocks.3.ff.fc.weight", True), "hf_key_to_course('h.3.mlp.c_fc.weight')",
             hint=("c_fc 是 feed-forward 网络的第一个 Linear（ff.fc）；Conv1D 的权重需要 transpose=True",
                   "c_fc is the first Linear of the feed-forward network (ff.fc); Conv1D weights need transpose=True"))
expect_equal(_mapped("transformer.h.3.mlp.c_fc.weight"), ("blocks.3.ff.fc.weight", True),
             "hf_key_to_course('transformer.h.3.mlp.c_fc.weight')",
             hint=("先去掉可能存在的 'transformer.' 前缀", "remove an optional 'transformer.' prefix first"))
expect_equal(_mapped("h.0.attn.c_attn.bias"), ("blocks.0.attn.qkv.bias", False), "hf_key_to_course('h.0.attn.c_attn.bias')",
             hint=("bias 永远不转置", "biases are never transposed"))
expect_equal(_mapped("h.0.attn.bias"), None, "hf_key_to_course('h.0.attn.bias')",
             hint=("h.N.attn.bias 是 causal mask 的 buffer，不是权重：返回 None",
                   "h.N.attn.bias is a causal-mask buffer, not a weight: return None"))
for _conv1d in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):  # square or not, all four store (in, out)
    _result = _mapped(f"h.1.{_conv1d}.weight")
    expect(_result is not None and bool(_result[1]), (f"hf_key_to_course('h.1.{_conv1d}.weight') 的 transpose 标志",
                                                      f"transpose flag of hf_key_to_course('h.1.{_conv1d}.weight')"),
           (f"期望 True，实际是 {_result!r}", f"expected True, got {_result!r}"),
           hint=("每个 Conv1D 权重都需要 transpose=True，方阵 attn.c_proj（768 x 768）也一样：形状看不出来，只有层的类型能告诉你",
                 "every Conv1D weight needs transpose=True, the square attn.c_proj (768 x 768) too: "
                 "its shape cannot tell you, only the layer type can"))
### BEGIN HIDDEN TESTS
from course.checks import shapes_only
from gpt2ref.hf_weights import hf_to_course_name as reference_key_map

with shapes_only():  # the meta device: GPT-2 small's real names and shapes, no memory
    _hf_keys = list(transformers.GPT2LMHeadModel(hf_gpt2_config(GPT2_SMALL)).state_dict().items())
    _course = GPTModel(GPT2_SMALL).state_dict()
_targets = set()
for _key, _tensor in _hf_keys:
    for _variant in (_key, _key.removeprefix("transformer.")):
        _got = _mapped(_variant)
        _expected = reference_key_map(_variant.removeprefix("transformer."))
        expect_equal(_got, _expected, f"hf_key_to_course({_variant!r})",
                     hint=("检查名字对照表里的这一行（还有 transpose 标志：只有那四种 Conv1D 权重是 True）",
                           "check this row of the name table (and the transpose flag: only the four Conv1D weights)"))
    _name, _transpose = _got
    _shape = tuple(reversed(_tensor.shape)) if _transpose else tuple(_tensor.shape)
    expect_equal(_shape, tuple(_course[_name].shape), (f"{_key} 的形状（transpose={_transpose} 处理之后）对比 {_name}",
                                                       f"shape of {_key} (after transposing: {_transpose}) vs {_name}"),
                 hint=("transpose 标志必须恰好在 Conv1D 权重上为 True",
                       "the transpose flag must be True exactly for the Conv1D weights"))
    _targets.add(_name)
expect_equal(sorted(_targets), sorted(_course), ("GPT-2 small 的全部 checkpoint key 对应到的参数",
                                                 "GPT-2 small parameters reached by all of its checkpoint keys"),
             hint=("GPTModel 的每一个参数都必须有一个 checkpoint key 对应过来",
                   "every GPTModel parameter must be the target of one checkpoint key"))
expect_equal(_mapped("h.11.attn.c_proj.weight"), ("blocks.11.attn.proj.weight", True),
             "hf_key_to_course('h.11.attn.c_proj.weight')",
             hint=("attn.c_proj 是方阵，但它同样是 Conv1D 权重：transpose=True",
                   "attn.c_proj is square, but it is a Conv1D weight too: transpose=True"))
for _key in ("h.5.attn.masked_bias", "transformer.h.0.attn.bias", "score.weight", "wte.bias", "h.0.attn.c_attn",
             "h.0.attn.c_attn.kernel", "h.x.ln_1.weight", "transformer.ln_f", "h.0.mlp.c_fc.weight.extra"):
    expect_equal(_mapped(_key), None, f"hf_key_to_course({_key!r})",
                 hint=("凡是不是 GPT-2 权重的 key，都返回 None", "return None for any key that is not a GPT-2 weight"))
### END HIDDEN TESTS
print("test_hf_key_to_course: ok")

# %% [markdown]
# ## 8. ✍️ 加载整个 checkpoint / Load a whole checkpoint
#
# 现在把所有 tensor 装进模型。难的不是拷贝，而是**出错的时候**：
#
# - **把问题一次说全。** 文件和模型对不上时，列出每一个不认识的 key、每一个缺少的权重、每一个形状不对的 key（带上两边的形状），而不是只报第一个。
# - **要么全装，要么一个数都不动。** 先检查完所有 key，全部没问题才开始拷贝。一个装了一半的模型混着真权重和随机数，输出看上去像模像样，其实是错的——这种 bug 最难查。
# - **保持 weight tying。** `model.lm_head.weight` 和 `model.tok_embed.weight` 是同一个 `Parameter`。用 `param.copy_(value)` 原地拷贝数值，不要给模块赋一个新的 `nn.Parameter`：那样会把两者拆开，`lm_head` 留在随机值上。
#
# > **EN** Now put every tensor into the model. The copying is easy; the hard part is **when something is wrong**:
# > - **Report everything at once.** When file and model disagree, list every unknown key, every missing weight
# >   and every mis-shaped key (with both shapes), not just the first one.
# > - **All or nothing.** Check every key first and copy only when all of them fit. A half-loaded model mixes
# >   real weights with random ones; its output looks plausible and is wrong, the hardest kind of bug to find.
# > - **Keep weight tying.** `model.lm_head.weight` and `model.tok_embed.weight` are one `Parameter`. Copy the
# >   numbers in place with `param.copy_(value)`; never assign a new `nn.Parameter` to a module: that splits
# >   the two and leaves `lm_head` random.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["tying", "atomic"])

# %% [markdown]
# 要求 / The contract:
#
# - `state_dict`：`{名字: tensor}`，来自 `read_checkpoint` 或 `GPT2LMHeadModel.state_dict()`；key 可以带或不带 `transformer.` 前缀。
# - 跳过 mask buffer（`h.N.attn.bias`、`h.N.attn.masked_bias`）；用 `hf_key_to_course` 翻译名字并决定是否转置。
# - `lm_head.weight` 可能有（和 `wte.weight` 相同）也可能没有；两种都要能加载。加载后 `model.lm_head.weight is model.tok_embed.weight` 仍然成立。
# - 有任何不认识的 key、缺少的权重或形状不对的 key 时：抛**一个** `CheckpointError`（`ValueError`），信息里写出**每一个**有问题的 key（缺少的权重用 Hugging Face 的名字或我们的名字都行），而且在抛出之前不改动模型的任何一个数。
# - 成功时原地修改并返回 `model`。
#
# > **EN**
# > - `state_dict`: `{name: tensor}` from `read_checkpoint` or `GPT2LMHeadModel.state_dict()`; keys with or
# >   without the `transformer.` prefix.
# > - Skip the mask buffers (`h.N.attn.bias`, `h.N.attn.masked_bias`); translate names, and decide on the
# >   transpose, with `hf_key_to_course`.
# > - `lm_head.weight` may be there (equal to `wte.weight`) or not; both must load. After loading,
# >   `model.lm_head.weight is model.tok_embed.weight` still holds.
# > - If any key is unknown, any weight missing or any shape wrong: raise **one** `CheckpointError`
# >   (a `ValueError`) whose message names **every** such key (a missing weight by its Hugging Face name or
# >   ours), and change no number of the model before raising.
# > - On success, change `model` in place and return it.

# %% [solution] id=load_gpt2_weights
def load_gpt2_weights(model, state_dict):
    """Copy a Hugging Face GPT-2 checkpoint into a GPTModel (in place) and return the model.

    model: a GPTModel whose lm_head.weight is tok_embed.weight (weight tying, as in GPT-2).
    state_dict: {name: tensor}; keys with or without the "transformer." prefix; the mask buffers
        h.N.attn.bias / h.N.attn.masked_bias are skipped; lm_head.weight may be present or not.
    Conv1D weights are transposed (hf_key_to_course says which). Values are copied in place, so
    lm_head.weight is still tok_embed.weight afterwards.
    Raises one CheckpointError (a ValueError) naming every unknown key, every missing weight and
    every mis-shaped key; in that case no number of the model has changed.
    """
    ### BEGIN SOLUTION
    mask_buffer = re.compile(r"(transformer\.)?h\.\d+\.attn\.(bias|masked_bias)")
    expected = model.state_dict()  # our name -> tensor (lm_head.weight is listed too: it is tok_embed.weight)
    tied = model.lm_head.weight is model.tok_embed.weight
    values, unknown, mis_shaped = {}, [], []

    for key, tensor in state_dict.items():
        if mask_buffer.fullmatch(key):
            continue  # a saved causal mask, not a weight
        mapped = hf_key_to_course(key)
        if mapped is None or mapped[0] not in expected:
            unknown.append(key)
            continue
        name, transpose = mapped
        if tied and name == "lm_head.weight":
            continue  # the same matrix as wte: filled through tok_embed.weight
        value = tensor.t() if transpose else tensor
        if tuple(value.shape) != tuple(expected[name].shape):
            mis_shaped.append(f"{key} {tuple(tensor.shape)} does not fit {name} {tuple(expected[name].shape)}")
            continue
        values[name] = value

    filled = set(values) | ({"lm_head.weight"} if tied and "tok_embed.weight" in values else set())
    missing = [name for name in expected if name not in filled]
    if unknown or missing or mis_shaped:
        problems = [f"unknown keys: {unknown}", f"missing weights: {missing}", f"mis-shaped: {mis_shaped}"]
        raise CheckpointError("the checkpoint does not fit the model; nothing was loaded.\n" + "\n".join(problems))

    with torch.no_grad():
        for name, value in values.items():
            model.get_parameter(name).copy_(value)  # in place: tied parameters stay tied
    return model
    ### END SOLUTION

# %% [tests] id=test_load_standin points=3
import atexit
import shutil
import tempfile
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file

from course.checks import expect, expect_close, expect_own_work, expect_tensor_equal
from course.pretrained import make_standin_checkpoint
from gpt2ref import TINY, GPTConfig, GPTModel, generate

expect_own_work(load_gpt2_weights, lesson=37, what="load_gpt2_weights")
transformers.utils.logging.set_verbosity_error()
_hint = ("某个 Conv1D 权重拷贝时没有 .t()（方阵 attn.c_proj 转不转置形状都对得上！），某个权重拷进了错误的参数，"
         "或者某个 tensor 根本没有拷贝",
         "a Conv1D weight copied without .t() (the square attn.c_proj fits either way!), a weight copied into "
         "the wrong parameter, or a tensor not copied at all")


def _load_valid(model, state, what):
    """load_gpt2_weights on a checkpoint that fits; an exception becomes a failed check with a hint."""
    what_zh, what = what  # (Chinese, English)
    try:
        return load_gpt2_weights(model, state)
    except Exception as exc:  # noqa: BLE001 (reported below)
        expect(False, (f"用 load_gpt2_weights 加载 {what_zh}", f"load_gpt2_weights({what})"),
               (f"抛出了 {type(exc).__name__}：{str(exc)[:700]}", f"raised {type(exc).__name__}: {str(exc)[:700]}"),
               hint=("这个 checkpoint 和模型是匹配的：先去掉可能存在的 'transformer.' 前缀，跳过 "
                     "h.N.attn.bias / h.N.attn.masked_bias，接受 lm_head.weight，并转置 Conv1D 权重",
                     "this checkpoint fits the model: remove an optional 'transformer.' prefix, skip "
                     "h.N.attn.bias / h.N.attn.masked_bias, accept an lm_head.weight, transpose the Conv1D weights"))


_folder = Path(tempfile.mkdtemp(prefix="lesson37-test-"))
atexit.register(shutil.rmtree, _folder, ignore_errors=True)
_path = make_standin_checkpoint(_folder / "hub", TINY, seed=1, hub_style=True)  # no prefix, with mask buffers
_hf = transformers.GPT2LMHeadModel.from_pretrained(_folder / "hub").eval()  # Hugging Face reads the same file
_model = GPTModel(TINY)
_returned = _load_valid(_model, load_file(_path), ("Hub 风格的替身文件", "the hub-style stand-in file"))
expect(_returned is _model, "load_gpt2_weights(model, ...)",
       ("返回的不是传进来的那个模型", "did not return the model it was given"),
       hint=("原地修改传进来的模型，再把它返回", "change the model in place and return it"))
_idx = torch.randint(0, TINY.vocab_size, (2, TINY.context_length), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    expect_close(_model.eval()(_idx), _hf(_idx).logits, ("加载 Hub 风格替身文件后的 logits，对比 Hugging Face",
                                                         "logits after loading the hub-style stand-in vs Hugging Face"),
                 atol=1e-4, hint=_hint)
_state = load_file(_path)
_state["lm_head.weight"] = _state["wte.weight"].clone()  # as in GPT2LMHeadModel.state_dict(): equal to wte
_model = GPTModel(TINY)
_load_valid(_model, _state, ("Hub 风格的替身文件加上 lm_head.weight", "the hub-style stand-in plus an lm_head.weight"))
with torch.no_grad():
    expect_close(_model.eval()(_idx), _hf(_idx).logits, ("加载带 lm_head.weight 的 checkpoint 后的 logits，对比 Hugging Face",
                                                  "logits after loading a checkpoint with lm_head.weight vs Hugging Face"),
                 atol=1e-4, hint=("checkpoint 里可能还有 lm_head.weight（和 wte 相同）：要接受它，不能当成未知的 key",
                                  "a checkpoint may also list lm_head.weight (equal to wte): accept it, it is no unknown key"))
### BEGIN HIDDEN TESTS
_wider = GPTConfig(vocab_size=131, context_length=24, d_model=64, num_heads=8, num_layers=3, dropout=0.0)
_path = make_standin_checkpoint(_folder / "wider", _wider, seed=2)  # save_pretrained layout: "transformer." keys
_hf = transformers.GPT2LMHeadModel.from_pretrained(_folder / "wider").eval()
_model = _load_valid(GPTModel(_wider), load_file(_path),
                     ("save_pretrained 格式的替身文件", "a save_pretrained stand-in file")).eval()
_idx = torch.randint(0, _wider.vocab_size, (2, _wider.context_length), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    expect_close(_model(_idx), _hf(_idx).logits,
                 ("加载 save_pretrained 格式的替身文件（d_model 64，3 个 block）后的 logits",
                  "logits after loading a save_pretrained stand-in (d_model 64, 3 blocks)"),
                 atol=1e-4, hint=(f"{_hint[0]}；key 可能以 'transformer.' 开头", f"{_hint[1]}; keys may start with 'transformer.'"))
_model = _load_valid(GPTModel(_wider), _hf.state_dict(),
                     ("GPT2LMHeadModel.state_dict()", "GPT2LMHeadModel.state_dict()")).eval()  # prefix, lm_head.weight
with torch.no_grad():
    expect_close(_model(_idx), _hf(_idx).logits, ("加载 GPT2LMHeadModel.state_dict() 后的 logits",
                                                  "logits after loading GPT2LMHeadModel.state_dict()"),
                 atol=1e-4, hint=("GPT2LMHeadModel.state_dict() 里还有 lm_head.weight（和 wte 相同）：要接受它",
                                  "GPT2LMHeadModel.state_dict() also lists lm_head.weight (equal to wte): accept it"))
_prompt = torch.randint(0, _wider.vocab_size, (1, 6), generator=torch.Generator().manual_seed(2))
with torch.no_grad():
    _theirs = _hf.generate(_prompt, attention_mask=torch.ones_like(_prompt), max_new_tokens=12, do_sample=False)
expect_tensor_equal(generate(_model, _prompt, 12, top_k=1), _theirs,
                    ("greedy 生成的结果，对比 Hugging Face 的 generate", "greedy generation vs Hugging Face's generate"),
                    hint=_hint)
### END HIDDEN TESTS
print("test_load_standin: ok")

# %% [tests] id=test_tying_kept points=1
import torch
import transformers

from course.checks import expect, expect_close, expect_own_work
from course.pretrained import hf_gpt2_config
from gpt2ref import TINY, GPTModel

expect_own_work(load_gpt2_weights, lesson=37, what="load_gpt2_weights")
torch.manual_seed(3)
_hf = transformers.GPT2LMHeadModel(hf_gpt2_config(TINY))
_state = {k.removeprefix("transformer."): v for k, v in _hf.state_dict().items() if k != "lm_head.weight"}
_model = GPTModel(TINY)
try:
    load_gpt2_weights(_model, _state)
except Exception as _exc:  # noqa: BLE001 (reported below)
    expect(False, ("用 load_gpt2_weights 加载一个匹配的 checkpoint", "load_gpt2_weights(a checkpoint that fits)"),
           (f"抛出了 {type(_exc).__name__}：{str(_exc)[:700]}", f"raised {type(_exc).__name__}: {str(_exc)[:700]}"),
           hint=("这个 checkpoint 和模型是匹配的；先把加载修好（见上一个测试）",
                 "this checkpoint fits the model; fix loading first (see the test above)"))
expect(_model.lm_head.weight is _model.tok_embed.weight,
       ("加载之后：model.lm_head.weight is model.tok_embed.weight", "after loading: model.lm_head.weight is model.tok_embed.weight"),
       ("两者不再是同一个 Parameter", "the two are no longer the same Parameter"),
       hint=("用 param.copy_(...) 原地拷贝数值；给模块赋一个新的 nn.Parameter 会破坏 weight tying",
             "copy values in place with param.copy_(...); assigning a new nn.Parameter breaks weight tying"))
expect_close(_model.lm_head.weight, _state["wte.weight"], ("加载之后的 model.lm_head.weight", "model.lm_head.weight after loading"),
             atol=0.0, hint=("lm_head 最后必须装着 wte 的数值（两者是同一个矩阵）",
                             "lm_head must end up holding wte's numbers (it is the same matrix)"))
print("test_tying_kept: ok")

# %% [tests] id=test_load_errors points=2
import torch
import transformers

from course.checks import expect, expect_own_work, expect_raises
from course.pretrained import hf_gpt2_config
from gpt2ref import TINY, GPTConfig, GPTModel
from gpt2ref import CheckpointError as _CheckpointError

expect_own_work(load_gpt2_weights, lesson=37, what="load_gpt2_weights")


def _named(message, *names):
    return any(name in message for name in names)


torch.manual_seed(4)
_good = transformers.GPT2LMHeadModel(hf_gpt2_config(TINY)).state_dict()
_broken = dict(_good)
del _broken["transformer.h.1.ln_2.bias"]  # missing
_broken["transformer.h.7.attn.c_attn.weight"] = torch.zeros(32, 96)  # unknown: TINY has 2 blocks
_broken["transformer.h.0.mlp.c_fc.weight"] = torch.zeros(3, 3)  # mis-shaped
_error = expect_raises(ValueError, lambda: load_gpt2_weights(GPTModel(TINY), _broken),
                       ("用 load_gpt2_weights 加载一个缺少一个权重、多出一个未知 key、还有一个 key 形状不对的 checkpoint",
                        "load_gpt2_weights(checkpoint with a missing, an unknown and a mis-shaped key)"),
                       hint=("checkpoint 和模型不匹配时抛出 CheckpointError",
                             "raise CheckpointError when the checkpoint does not fit"))
_message = str(_error)
expect(_named(_message, "h.1.ln_2.bias", "blocks.1.norm2.bias"), ("错误信息", "the error message"),
       (f"没有提到缺少的权重 h.1.ln_2.bias；它的内容是：{_message!r}", f"does not name the missing "
        f"weight h.1.ln_2.bias; it says: {_message!r}"),
       hint=("先收集所有问题，再只抛一次异常，在信息里把它们全部列出来",
             "collect every problem first, then raise once naming them all"))
expect(_named(_message, "h.7.attn.c_attn.weight"), ("错误信息", "the error message"),
       (f"没有提到未知的 key transformer.h.7.attn.c_attn.weight；它的内容是：{_message!r}", f"does not name the unknown key "
        f"transformer.h.7.attn.c_attn.weight; it says: {_message!r}"),
       hint=("先收集所有问题，最后只抛一次异常", "collect every problem first, then raise once"))
expect(_named(_message, "h.0.mlp.c_fc.weight", "blocks.0.ff.fc.weight"), ("错误信息", "the error message"),
       (f"没有提到形状不对的 key h.0.mlp.c_fc.weight；它的内容是：{_message!r}", f"does not name the "
        f"mis-shaped key h.0.mlp.c_fc.weight; it says: {_message!r}"),
       hint=("先收集所有问题，最后只抛一次异常", "collect every problem first, then raise once"))
expect_raises(_CheckpointError, lambda: load_gpt2_weights(GPTModel(TINY), _broken),
              ("用 load_gpt2_weights 加载一个缺少一个权重、多出一个未知 key、还有一个 key 形状不对的 checkpoint",
               "load_gpt2_weights(checkpoint with a missing, an unknown and a mis-shaped key)"),
              hint=("抛出 CheckpointError（从 gpt2ref 导入），而不是普通的 ValueError：调用方捕获的正是这个类",
                    "raise CheckpointError (from gpt2ref), not a plain ValueError: callers catch that class"))
### BEGIN HIDDEN TESTS
_wider = GPTConfig(vocab_size=131, context_length=24, d_model=64, num_heads=8, num_layers=3, dropout=0.0)
_other = transformers.GPT2LMHeadModel(hf_gpt2_config(_wider)).state_dict()
_error = expect_raises(ValueError, lambda: load_gpt2_weights(GPTModel(TINY), _other),
                       ("用 load_gpt2_weights 加载另一种尺寸的模型的 checkpoint",
                        "load_gpt2_weights(a checkpoint of another size)"),
                       hint=("拷贝之前先检查每一个形状", "check every shape before copying"))
_message = str(_error)
for _names in (("wte.weight", "tok_embed.weight"), ("h.0.attn.c_attn.weight", "blocks.0.attn.qkv.weight"),
               ("h.2.ln_1.weight",)):
    expect(_named(_message, *_names), ("另一种尺寸的 checkpoint 的错误信息", "the error message for a checkpoint of another size"),
           (f"没有提到 {_names[0]}；它的内容是：{_message[:600]!r}", f"does not name {_names[0]}; it says: {_message[:600]!r}"),
           hint=("列出每一个形状不对的 key 和每一个未知的 key，而不只是第一个",
                 "name every mis-shaped and every unknown key, not only the first"))
_hub = {k.removeprefix("transformer."): v for k, v in _good.items() if k != "lm_head.weight"}
_hub["wpe.weight"] = _hub["wpe.weight"][:8]  # a position table that is too short
_hub["h.0.ln_1.weight"] = _hub["h.0.ln_1.weight"][:-1]
_error = expect_raises(ValueError, lambda: load_gpt2_weights(GPTModel(TINY), _hub),
                       ("用 load_gpt2_weights 加载 Hub 风格 key、其中两个形状不对的 checkpoint",
                        "load_gpt2_weights(hub-style keys, two mis-shaped)"),
                       hint=("拷贝之前先检查每一个形状", "check every shape before copying"))
expect(_named(str(_error), "wpe.weight", "pos_embed.weight") and _named(str(_error), "h.0.ln_1.weight", "blocks.0.norm1.weight"),
       ("错误信息", "the error message"),
       (f"没有同时提到 wpe.weight 和 h.0.ln_1.weight；它的内容是：{str(_error)!r}",
        f"does not name both wpe.weight and h.0.ln_1.weight; it says: {str(_error)!r}"),
       hint=("列出每一个形状不对的 key", "name every mis-shaped key"))
from gpt2ref import CheckpointError as _CheckpointError

expect_raises(_CheckpointError, lambda: load_gpt2_weights(GPTModel(TINY), _hub),
              ("用 load_gpt2_weights 加载 Hub 风格 key、其中两个形状不对的 checkpoint",
               "load_gpt2_weights(hub-style keys, two mis-shaped)"),
              hint=("抛出 CheckpointError（从 gpt2ref 导入），而不是普通的 ValueError：调用方捕获的正是这个类",
                    "raise CheckpointError (from gpt2ref), not a plain ValueError: callers catch that class"))
### END HIDDEN TESTS
print("test_load_errors: ok")

# %% [tests] id=test_no_half_load points=1
import torch
import transformers

from course.checks import expect, expect_own_work, expect_raises
from course.pretrained import hf_gpt2_config
from gpt2ref import TINY, GPTModel

expect_own_work(load_gpt2_weights, lesson=37, what="load_gpt2_weights")
torch.manual_seed(5)
_good = {k.removeprefix("transformer."): v for k, v in
         transformers.GPT2LMHeadModel(hf_gpt2_config(TINY)).state_dict().items() if k != "lm_head.weight"}
_extra = dict(_good)
_extra["h.9.mlp.c_fc.weight"] = torch.zeros(32, 128)  # one unknown key, last in the dict
_short = {k: v for k, v in _good.items() if k != "ln_f.bias"}  # one weight missing
_bent = dict(_good)
_bent["h.1.mlp.c_proj.weight"] = torch.zeros(128, 31)  # one mis-shaped key in the last block
for (_what_zh, _what), _state in ((("末尾多了一个未知的 key", "an unknown key at the end"), _extra),
                                 (("缺少 ln_f.bias", "ln_f.bias missing"), _short),
                                 (("h.1.mlp.c_proj.weight 形状不对", "a mis-shaped h.1.mlp.c_proj.weight"), _bent)):
    _model = GPTModel(TINY)
    _before = {name: value.clone() for name, value in _model.state_dict().items()}
    expect_raises(ValueError, lambda: load_gpt2_weights(_model, _state),
                  (f"用 load_gpt2_weights 加载 checkpoint（{_what_zh}）", f"load_gpt2_weights(checkpoint with {_what})"),
                  hint=("checkpoint 和模型不匹配时抛出 CheckpointError",
                        "raise CheckpointError when the checkpoint does not fit"))
    _changed = [name for name, value in _model.state_dict().items() if not torch.equal(value, _before[name])]
    expect(not _changed, (f"加载失败之后的模型（{_what_zh}）", f"the model after a failed load ({_what})"),
           (f"有 {len(_changed)} 个 tensor 被改动了，例如 {_changed[:3]}", f"{len(_changed)} tensors changed, "
            f"e.g. {_changed[:3]}"),
           hint=("先检查所有 key 和形状；全部匹配之后才开始拷贝",
                 "check every key and shape first; copy only when all of them fit"))
print("test_no_half_load: ok")

# %% [markdown]
# ## 9. 和 Hugging Face 对照 / Checking against Hugging Face
#
# 加载函数写好了。用 Hub 风格的替身文件走一遍完整的流程：读文件、装进 `GPTModel`、和 Hugging Face 读同一个文件得到的模型比 logits，再比较 greedy 生成（`generate(..., top_k=1)`，每步取概率最大的 token）的结果：
#
# > **EN** The loader is written. Run the whole path on the hub-style stand-in: read the file, load it into
# > `GPTModel`, compare the logits with the model Hugging Face builds from the same file, then compare greedy
# > generation (`generate(..., top_k=1)`: the most likely token at every step):

# %%
ours = load_gpt2_weights(GPTModel(TINY), read_checkpoint(hub_path)).eval()
theirs = transformers.GPT2LMHeadModel.from_pretrained(hub_dir).eval()
idx = torch.randint(0, TINY.vocab_size, (2, TINY.context_length), generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    diff = (ours(idx) - theirs(idx).logits).abs().max().item()
print(f"max |logit difference|: {diff:.2e}")
print("lm_head still tied to tok_embed?", ours.lm_head.weight is ours.tok_embed.weight)

prompt = torch.tensor([[10, 20, 30, 40]])
with torch.no_grad():
    hf_tokens = theirs.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, do_sample=False)
our_tokens = generate(ours, prompt, 10, top_k=1)
print("ours:", our_tokens[0].tolist())
print("HF:  ", hf_tokens[0].tolist())
print("identical:", torch.equal(our_tokens, hf_tokens))

# %% [markdown]
# 两边一模一样。生成的 token 大多是在重复 prompt 的最后一个：这是随机初始化加 weight tying 的特点——随机的 block 对 residual stream 改动很小，最后一个位置的向量仍然很像它自己那个 token 的 embedding，而 `lm_head` 就是 `wte`，于是给这个 token 打分最高。真权重不会这样。
#
# > **EN** Identical on both sides. The generated tokens mostly repeat the prompt's last token: a trait of a
# > random initialisation with weight tying. Random blocks change the residual stream only a little, so the
# > last position's vector still looks much like its own token's embedding, and since `lm_head` is `wte`, that
# > token scores highest. Real weights do not do this.
#
# logits 的差别（上面打印的那个数）通常不是 0，而是一个很小的数：两边做的是同样的数学，但浮点加法的顺序不同（不同的 kernel、不同的矩阵形状），舍入误差也就不同。加载出错造成的差别要大好几个数量级——第 6 节里忘了转置的方阵差了一个数量级为 1 的数——所以测试用 1e-4 作为容差。
#
# > **EN** The logit difference printed above is usually not 0 but tiny: both sides do the same maths, but
# > floating-point sums run in a different order (other kernels, other matrix shapes), so the rounding differs.
# > A loading mistake makes differences orders of magnitude larger (the untransposed square matrix of
# > section 6 was off by something of order 1), which is why the tests use a tolerance of 1e-4.
#
# ## 10. GPT-2 small 的尺寸 / At GPT-2 small's size
#
# 替身很小，真文件里的 tensor 要大得多。把一个 GPT-2 small 大小的模型、Hugging Face 的模型和文件里的数同时放进内存，需要的内存超过这一课的 1.5 GB 预算（第 1 节算过，每份大约 0.5 GB）。好在检查名字和形状并不需要数值：在 `meta` device 上，tensor 只有形状、没有数据。下面按 Hub 文件的样子造出 GPT-2 small 的全部 key 和形状（包括 12 个 mask buffer），交给你的加载函数：
#
# > **EN** The stand-in is small; the real file's tensors are far larger. A GPT-2-small-sized model, Hugging
# > Face's model and the file's numbers in memory at once would need more than this lesson's 1.5 GB budget
# > (about 0.5 GB each, as section 1 worked out). Checking names and shapes needs no
# > numbers, though: on the `meta` device a tensor has a shape and no data. Below, every key and shape of a
# > GPT-2 small file as the Hub stores it (the 12 mask buffers included) goes through your loader:

# %%
with torch.device("meta"):
    hf_meta = transformers.GPT2LMHeadModel(hf_gpt2_config(GPT2_SMALL))
    big = GPTModel(GPT2_SMALL)
meta_state = {k.removeprefix("transformer."): v for k, v in hf_meta.state_dict().items() if k != "lm_head.weight"}
for i in range(GPT2_SMALL.num_layers):
    meta_state[f"h.{i}.attn.bias"] = torch.empty(1, 1, GPT2_SMALL.context_length, GPT2_SMALL.context_length, device="meta")
load_gpt2_weights(big, meta_state)  # raises if a single name or shape does not fit
print(f"all {len(meta_state)} tensors of a GPT-2 small file fit GPTModel(GPT2_SMALL)")
print(f"parameters: {count_parameters(big):,}; lm_head tied: {big.lm_head.weight is big.tok_embed.weight}")

# %% [markdown]
# 如果第 1 节找到了真权重，下面的 cell 把它们装进 `GPTModel`，用 GPT-2 的 tokenizer 让它续写一句话（greedy）。没有真权重时，它建一个同样大小、权重随机的 `GPTModel`，下一节用它来计时。模型本身占第 1 节算出的约 0.5 GB；读真权重的文件时还要再加一份。
#
# > **EN** If section 1 found the real weights, the cell below loads them into `GPTModel` and lets it
# > continue a sentence greedily through GPT-2's tokenizer. Without real weights it builds a `GPTModel` of
# > the same size with random weights, which the next section times. The model takes the 0.5 GB or so
# > worked out in section 1; reading the real file takes as much again.

# %% tags=skip-autograde
enc = tiktoken.get_encoding("gpt2")
if real_path is not None:
    gpt2 = load_gpt2_weights(GPTModel(GPT2_SMALL), read_checkpoint(real_path)).eval()
    text_prompt = torch.tensor([enc.encode("The most important thing about a transformer is")])
    out = generate(gpt2, text_prompt, 30, top_k=1, use_cache=True)
    print("real GPT-2 small, greedy:")
    print(enc.decode(out[0].tolist()))
else:
    torch.manual_seed(0)
    gpt2 = GPTModel(GPT2_SMALL).eval()
    print("No real weights: a GPT-2-small-sized GPTModel with random weights, for timing only.")
print(f"{count_parameters(gpt2):,} parameters")

# %% [markdown]
# ## 11. 让生成更快：KV cache / Make it fast: the KV cache
#
# 第 35 课的 `generate` 每一步都把整个窗口重新送进模型。可是第 t 步真正新的只有最后一个 token：前面每个 token 的 key 和 value 只取决于它自己和它前面的 token（causal mask），后来的 token 改变不了它们。上一步已经算过一遍，这一步又全部重算。数一数两种做法一共让模型处理了多少个 token 位置：
#
# > **EN** Lesson 35's `generate` feeds the whole window to the model at every step. Yet at step t only the
# > last token is new: every earlier token's key and value depend only on that token and the ones before it
# > (the causal mask), and later tokens cannot change them. The previous step computed them all; this step
# > computes them all again. Count the token positions the model processes either way:

# %%
prompt_len, new_tokens = 32, 64
without_cache = sum(prompt_len + step for step in range(new_tokens))  # the whole sequence at every step
with_cache = prompt_len + (new_tokens - 1)  # the prompt once, then one token per step
print(f"prompt {prompt_len} tokens, {new_tokens} new tokens:")
print(f"  without a cache: {without_cache:,} token positions through the model")
print(f"  with a cache:    {with_cache:,} token positions ({without_cache / with_cache:.0f}x fewer)")

# %% [markdown]
# KV cache 的做法：每个 attention 层把已经算出的 k、v 存起来，形状 `(B, heads, T_cached, head_dim)`。第一步把整个 prompt 送进去（**prefill**），之后每一步只送最新的一个 token：算出它的 q、k、v，把 k、v 接到缓存后面，再让它的 q 和缓存里全部的 k、v 做 attention。位置 embedding 也要接着往后数：新 token 的位置是 `T_cached`，不是 0。
#
# > **EN** The KV cache: every attention layer keeps the keys and values it has computed, of shape
# > `(B, heads, T_cached, head_dim)`. The first step feeds the whole prompt (the **prefill**); every later step
# > feeds only the newest token: compute its q, k, v, append k and v to the cache, and attend with its q over
# > all cached keys and values. Positions continue too: the new token stands at position `T_cached`, not 0.

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="check", ids=["kv-cache-what"])

# %% [markdown]
# 一次送进几个新 token 时（比如 prefill 之后接着喂一段文字），每个新 query 能看到的 key 是：缓存里的全部，加上新 token 中它自己及之前的。新 token i 站在位置 `T_past + i`，所以 mask 是一个 `(T_new, T_past + T_new)` 的矩阵，下三角**对齐右下角**。注意 `F.scaled_dot_product_attention(..., is_causal=True)` 的 mask 对齐的是**左上角**：只有 `T_past = 0` 时它才是对的。
#
# > **EN** When several new tokens arrive at once (say, more text after the prefill), each new query may see
# > every cached key plus the new tokens up to itself. New token i stands at position `T_past + i`, so the mask
# > is a `(T_new, T_past + T_new)` matrix whose lower triangle is aligned to the **bottom-right** corner.
# > `F.scaled_dot_product_attention(..., is_causal=True)` aligns its mask to the **top-left** corner: right only
# > when `T_past = 0`.
#
# ### ✍️ cache_mask
#
# 要求 / The contract：返回 `torch.bool` 的 `(T_new, T_past + T_new)` 矩阵，`mask[i, j]` 为 True 当且仅当 `j <= T_past + i`（可以看）。`T_past = 0` 时就是普通的下三角 causal mask。
#
# > **EN** Return a `torch.bool` matrix of shape `(T_new, T_past + T_new)` with `mask[i, j]` True exactly when
# > `j <= T_past + i` (may attend). With `T_past = 0` it is the ordinary lower-triangular causal mask.

# %% [solution] id=cache_mask
def cache_mask(T_new, T_past):
    """Attention mask for T_new new queries when T_past tokens are already in the cache.

    Returns a torch.bool tensor of shape (T_new, T_past + T_new): entry [i, j] is True when new
    token i (standing at position T_past + i) may attend to key j, i.e. exactly when j <= T_past + i.
    T_past = 0 gives the ordinary lower-triangular causal mask. Use it as the attn_mask of
    F.scaled_dot_product_attention (True = may attend).
    """
    ### BEGIN SOLUTION
    return torch.ones(T_new, T_past + T_new, dtype=torch.bool).tril(diagonal=T_past)
    ### END SOLUTION

# %% [tests] id=test_cache_mask points=1
import torch
import torch.nn.functional as F

from course.checks import expect_close, expect_dtype, expect_own_work, expect_tensor_equal

expect_own_work(cache_mask, lesson=37, what="cache_mask")
_mask = cache_mask(2, 3)
expect_dtype(_mask, torch.bool, "cache_mask(2, 3).dtype",
             hint=("返回布尔 tensor（True 表示可以看到这个 key）", "return a boolean tensor (True = may attend)"))
expect_tensor_equal(_mask, torch.tensor([[True, True, True, True, False], [True, True, True, True, True]]),
                    "cache_mask(2, 3)", hint=("第 i 个新 token 位于位置 T_past + i，能看到第 0 .. T_past + i 个 key",
                                              "new token i stands at position T_past + i and sees keys 0 .. T_past + i"))
expect_tensor_equal(cache_mask(1, 4), torch.ones(1, 5, dtype=torch.bool), "cache_mask(1, 4)",
                    hint=("只有一个新 token 时，它能看到缓存里的每一个 key 和它自己",
                          "one new token sees every cached key and itself"))
### BEGIN HIDDEN TESTS
for _new, _past in ((1, 0), (4, 0), (3, 5), (6, 1), (1, 9)):
    _expected = torch.arange(_past + _new)[None, :] <= (_past + torch.arange(_new))[:, None]
    expect_tensor_equal(cache_mask(_new, _past), _expected, f"cache_mask({_new}, {_past})",
                        hint=("元素 [i, j] 为 True 当且仅当 j <= T_past + i（对齐右下角）",
                              "entry [i, j] is True exactly when j <= T_past + i (bottom-right aligned)"))
_g = torch.Generator().manual_seed(0)
_q, _k, _v = (torch.randn(2, 3, 9, 8, generator=_g) for _ in range(3))
_full = F.scaled_dot_product_attention(_q, _k, _v, is_causal=True)  # all 9 tokens at once
_last = F.scaled_dot_product_attention(_q[:, :, 5:], _k, _v, attn_mask=cache_mask(4, 5))  # 4 new on top of 5 cached
expect_close(_last, _full[:, :, 5:], ("用 cache_mask(4, 5) 时，4 个新 query 对 5 个缓存的 key 加 4 个新 key 的 attention",
                                      "attention of 4 new queries over 5 cached + 4 new keys with cache_mask(4, 5)"),
             atol=1e-5, hint=("mask 必须对齐到右下角", "the mask must be aligned to the bottom-right corner"))
### END HIDDEN TESTS
print("test_cache_mask: ok")

# %% [markdown]
# 用你的 mask 验证一下：9 个 token 一次算完的 attention，和“前 5 个在缓存里、后 4 个新来”分开算，结果一样；换成 `is_causal=True` 就错了：
#
# > **EN** Check it with your mask: attention over 9 tokens at once equals "5 in the cache, 4 new"; with
# > `is_causal=True` instead it is wrong:

# %%
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(1, 2, 9, 8, generator=g) for _ in range(3))  # (B, heads, T, head_dim)
full = F.scaled_dot_product_attention(q, k, v, is_causal=True)
with_mask = F.scaled_dot_product_attention(q[:, :, 5:], k, v, attn_mask=cache_mask(4, 5))
top_left = F.scaled_dot_product_attention(q[:, :, 5:], k, v, is_causal=True)
print("cache_mask(4, 5):\n", cache_mask(4, 5).int())
print("with cache_mask:  max difference", (with_mask - full[:, :, 5:]).abs().max().item())
print("with is_causal:   max difference", (top_left - full[:, :, 5:]).abs().max().item())

# %% [markdown]
# `gpt2ref` 里的 GPT-2 已经带上了 KV cache（`gpt2ref/attention.py` 里的 `KVCache`，和你写的同一种 mask）：`model(idx, cache=cache)` 把 `idx` 当作接在缓存后面的新 token；`generate(..., use_cache=True)` 先 prefill，再每步送一个 token。还剩一个细节：**序列比 `context_length` 长以后怎么办？** 窗口每一步向前滑一格，每个 token 的位置都变了；而位置 embedding 是加在 k、v 的输入里的，缓存里的 k、v 是按旧位置算的，全都过时了。要和不用缓存时逐 token 一致，就只能每步重新算整个窗口。参考实现正是这么做的。在 `TINY`（`context_length = 16`）上看一看每一步送进模型的 token 数：
#
# > **EN** The GPT-2 in `gpt2ref` already has a KV cache (`KVCache` in `gpt2ref/attention.py`,
# > with the same mask you wrote): `model(idx, cache=cache)` treats `idx` as new tokens after the cached ones;
# > `generate(..., use_cache=True)` prefills, then feeds one token per step. One detail is left: **what happens
# > once the sequence is longer than `context_length`?** The window slides by one every step, so every token's
# > position changes; position embeddings go into the inputs of k and v, so the cached k and v were computed
# > at the old positions and are all stale. To match the uncached path token for token, each step must
# > recompute the whole window, which is what the reference does. On `TINY` (`context_length = 16`), the
# > number of tokens fed to the model at every step:

# %%
class CallLog(nn.Module):
    """Wraps a GPTModel and records how many tokens each call feeds it."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, model.config
        self.fed = []

    def new_kv_cache(self):
        return self.model.new_kv_cache()

    def forward(self, idx, cache=None):
        self.fed.append(idx.shape[1])
        return self.model(idx) if cache is None else self.model(idx, cache=cache)


tiny_prompt = torch.randint(0, TINY.vocab_size, (1, 10), generator=torch.Generator().manual_seed(1))
plain_log, cached_log = CallLog(ours), CallLog(ours)
plain = generate(plain_log, tiny_prompt, 12, seed=0)  # sampling, not greedy
cached = generate(cached_log, tiny_prompt, 12, seed=0, use_cache=True)
print("tokens fed per step, no cache:", plain_log.fed)
print("tokens fed per step, cache:   ", cached_log.fed)
print("same tokens:", torch.equal(plain, cached))

# %% [markdown]
# 有缓存时：先 prefill 10 个 token，然后每步 1 个，直到缓存装满 16 个；之后窗口开始滑动，每步又送进整整 16 个——和不用缓存时一样。两种做法生成的 token 完全相同（同一个 `seed`，采样也一样）。
#
# 最后，在 GPT-2 small 的尺寸上计时。每生成一个 token 要多少毫秒？不用缓存时，一步 = 把整个序列送进模型；用缓存时，一步 = 只送最新的一个 token，前面的 k、v 已在缓存里。在几个序列长度上轮流量 9 轮（每一轮把每个长度、两种做法各量一次，机器忙的那一刻对大家都一样），每个取中位数：
#
# > **EN** With the cache: a prefill of 10 tokens, then 1 per step until the cache holds 16; from then on the
# > window slides and every step feeds all 16 again, as without a cache. Both ways generate exactly the same
# > tokens (same `seed`, sampling included).
# >
# > Finally, timing at GPT-2 small's size. How many milliseconds does one new token take? Without the cache a
# > step feeds the whole sequence to the model; with it, a step feeds only the newest token, the earlier keys
# > and values being in the cache. Nine rounds over a few sequence lengths (each round times every length both
# > ways once, so a busy moment hits them all alike), and the median of each counts:

# %% tags=skip-autograde
import statistics


def ms(fn):
    """Wall time of one call of fn(), in milliseconds."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


seq_lengths = [16, 64, 128, 256]
ROUNDS = 9  # every round times every length once, both ways: a busy moment hits all of them alike
runs_plain = {T: [] for T in seq_lengths}
runs_cached = {T: [] for T in seq_lengths}
with torch.no_grad():
    seqs, caches = {}, {}
    for T in seq_lengths:
        seqs[T] = torch.randint(0, GPT2_SMALL.vocab_size, (1, T), generator=torch.Generator().manual_seed(T))
        caches[T] = gpt2.new_kv_cache()
        gpt2(seqs[T][:, :-1], cache=caches[T])  # prefill: T - 1 tokens into the cache (not timed)
    gpt2(seqs[16])  # warm-up, not timed
    for _ in range(ROUNDS):
        for T in seq_lengths:
            runs_plain[T].append(ms(lambda: gpt2(seqs[T])))  # the whole sequence
            # one new token (the cache grows by 1 a round: T - 1 + round tokens cached)
            runs_cached[T].append(ms(lambda: gpt2(seqs[T][:, -1:], cache=caches[T])))
ms_plain = [statistics.median(runs_plain[T]) for T in seq_lengths]
ms_cached = [statistics.median(runs_cached[T]) for T in seq_lengths]
for T, plain_ms, cached_ms in zip(seq_lengths, ms_plain, ms_cached):
    print(f"T = {T:3}: no cache {plain_ms:7.1f} ms per step, KV cache {cached_ms:6.1f} ms per step "
          f"({plain_ms / cached_ms:.1f}x)  [median of {ROUNDS}]")

fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(seq_lengths, ms_plain, "o-", label="no cache: the whole sequence every step")
ax.plot(seq_lengths, ms_cached, "o-", label="KV cache: one new token per step")
ax.set(title="GPT-2 small size: time to generate one token", xlabel="tokens in the sequence",
       ylabel="milliseconds per step", ylim=(0, None))
ax.legend()
plt.show()

# %% [markdown]
# 不用缓存时，一步的时间随序列变长而增加：要处理的 token 越来越多。用缓存时，一步只处理一个 token，时间几乎是平的（它还要和缓存里所有的 k、v 做 attention，但在这些长度上，这比起读一遍全部权重来只是小头）。最后用 `generate` 本身确认一下：32 个 token 的 prompt，greedy 生成 16 个 token，两种做法的结果逐 token 相同：
#
# > **EN** Without the cache a step takes longer as the sequence grows: more and more tokens to process. With
# > the cache a step processes one token and the time stays nearly flat (it still attends over every cached
# > key and value, but at these lengths that is small next to reading all the weights once). Finally, check
# > with `generate` itself: a 32-token prompt, 16 greedy new tokens, token for token the same both ways:

# %% tags=skip-autograde
timing_prompt = torch.randint(0, GPT2_SMALL.vocab_size, (1, 32), generator=torch.Generator().manual_seed(2))
results = {}
for use_cache in (False, True):
    start = time.perf_counter()
    tokens = generate(gpt2, timing_prompt, 16, top_k=1, use_cache=use_cache)
    results[use_cache] = (tokens, time.perf_counter() - start)
    print(f"{'with' if use_cache else 'without':7} cache: {results[use_cache][1]:5.2f} s, "
          f"{16 / results[use_cache][1]:5.1f} tokens/s")
print("same tokens:", torch.equal(results[False][0], results[True][0]))

# %% [markdown]
# 序列越长，差距越大。`make bench` 在 GPT-2 small 上用更长的生成（32 个 token 的 prompt、128 个新 token）把参考实现（有缓存、没缓存）和 Hugging Face 的 `generate` 放在一起比较。
#
# > **EN** The longer the sequence, the larger the gap. `make bench` compares the reference (with and without
# > the cache) with Hugging Face's `generate` on GPT-2 small over a longer run (a 32-token prompt, 128 new
# > tokens).

# %%
from quiz import show_quiz
show_quiz("quiz.json", stage="post")

# %% [markdown]
# ## 总结 / Summary
#
# 现在你有了 / You now have:
#
# - `read_checkpoint`：读 safetensors 文件，坏文件会报出文件名；
# - `hf_key_to_course`：Hugging Face 和我们的命名之间的对照表，知道哪四个矩阵要转置；
# - `load_gpt2_weights`：一次报出所有问题、要么全装要么不动、保持 weight tying 的加载函数，在两种文件布局上和 Hugging Face 的 logits 一致到 1e-4，greedy 生成逐 token 相同；
# - `cache_mask`，以及它背后的 KV cache：同样的输出，每步只算一个新 token。
#
# 这是课程的最后一课，没有下一课了：从 BPE tokenizer 到能加载 OpenAI 权重、能快速生成的 GPT-2，每个零件你都亲手写过。下一步可以试试：在有网络的机器上下载真权重（第 1 节）看看它写出的句子；用第 36 课的训练循环在自己的文本上 fine-tune；或者读一读更大的 GPT-2（medium、large）的文件——名字的规律一模一样，只是 block 更多、形状更大。
#
# > **EN**
# > - `read_checkpoint`: reads a safetensors file and names the file when it is broken;
# > - `hf_key_to_course`: the table between Hugging Face's names and ours, and which four matrices to transpose;
# > - `load_gpt2_weights`: a loader that reports every problem at once, loads all or nothing and keeps weight
# >   tying; on both file layouts its logits equal Hugging Face's within 1e-4 and greedy generation matches
# >   token for token;
# > - `cache_mask`, and the KV cache behind it: the same outputs, one new token of work per step.
# >
# > There is no next lesson: this is the course's last. From the BPE tokenizer to a GPT-2 that loads
# > OpenAI's weights and generates quickly, you have written every part. Next you could download the real
# > weights on a machine with network access (section 1) and read what it writes; fine-tune on your own text
# > with lesson 36's training loop; or open the files of the larger GPT-2s (medium, large): the names follow
# > the same pattern, with more blocks and bigger shapes.
