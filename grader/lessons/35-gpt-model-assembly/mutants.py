"""Made-up submissions for lesson 35 (GPT model assembly) that prove its grading.

One-bug mutants each lose exactly the points of the test cell written for that idea; the two
correct-but-different submissions score full marks; tampering earns nothing it should not.
Run: python -m grader.acceptance 35-gpt-model-assembly
"""

import json

from grader.submissions import ALL_TESTS, Submission, forge_quiz_cell, insert_cell

GENERATE_TESTS = {"test_generate_sampling", "test_generate_window", "test_generate_contract"}
GPT_TESTS = {"test_gpt_shapes", "test_gpt_embeddings", "test_gpt_blocks", "test_gpt_final_norm",
             "test_weight_tying", "test_init", "test_gpt_dropout"}

# The graded post quiz (quiz.json): untied-extra -> 2, random-gibberish -> 0; one point each.
QUIZ_ONE_WRONG = {"untied-extra": 2, "random-gibberish": 1}
HUGE_ANSWERS = json.dumps({"version": 1, "lesson": "35-gpt-model-assembly", "stage": "post", "pad": "x" * 70000,
                           "answers": {"untied-extra": 2, "random-gibberish": 0}})

TIE = "self.lm_head.weight = self.tok_embed.weight  # one Parameter, used twice"
EMBED_DROPOUT = "        x = self.drop(x)\n"
FINAL_NORM = "self.final_norm = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)"
KEEP_LARGEST = [("torch.topk(logits, k, dim=-1)", "torch.topk(logits, k, dim=-1, largest=False)"),
                ("logits < kth_largest", "logits > kth_largest")]

TOP_K_VIA_SORT = '''\
def top_k_filter(logits, top_k):
    """Sort each row, read off the k-th largest value, blank everything below it."""
    if not top_k:
        return logits.clone()
    k = min(int(top_k), logits.shape[-1])
    ordered, _ = torch.sort(logits, dim=-1, descending=True)
    threshold = ordered[..., k - 1 : k]
    filtered = logits.clone()
    filtered[filtered < threshold] = float("-inf")
    return filtered
'''

# A GPTModel that brings its own attention and block (separate q/k/v projections, an explicit
# causal mask, torch's nn.LayerNorm) and keeps the blocks in an nn.Sequential.
OWN_BLOCKS_GPT = '''\
class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.h = config.num_heads
        self.q = nn.Linear(config.d_model, config.d_model)
        self.k = nn.Linear(config.d_model, config.d_model)
        self.v = nn.Linear(config.d_model, config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)

    def forward(self, x):
        B, T, D = x.shape
        heads = lambda t: t.reshape(B, T, self.h, D // self.h).permute(0, 2, 1, 3)
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = q @ k.transpose(-1, -2) * (D // self.h) ** -0.5
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.proj((weights @ v).permute(0, 2, 1, 3).reshape(B, T, D))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.d_model, 4 * config.d_model)
        self.proj = nn.Linear(4 * config.d_model, config.d_model)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_a = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_b = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.ff = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_a(x))
        return x + self.ff(self.ln_b(x))


class GPTModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_embed = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_embed = nn.Embedding(config.context_length, config.d_model)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.num_layers)])
        self.final_norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.weight_tying:
            self.tok_embed.weight = self.lm_head.weight
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, std=0.02 / (2 * config.num_layers) ** 0.5)
            elif name.endswith("bias") and "ln_" not in name and "norm" not in name:
                nn.init.zeros_(p)
            elif p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        if T > self.config.context_length:
            raise ValueError(f"{T} tokens do not fit a context of {self.config.context_length}")
        x = F.dropout(self.tok_embed(idx) + self.pos_embed.weight[:T], self.config.dropout, self.training)
        return self.lm_head(self.final_norm(self.blocks(x)))
'''

GENERATE_MANUAL_SEED = '''\
@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, seed=None):
    if not temperature > 0:
        raise ValueError("temperature must be positive")
    if seed is not None:
        torch.manual_seed(seed)
    mode = model.training
    model.train(False)
    n = model.config.context_length
    for step in range(max_new_tokens):
        scores = model(idx if idx.shape[1] <= n else idx[:, idx.shape[1] - n:])[:, -1] / temperature
        probs = F.softmax(top_k_filter(scores, top_k), dim=-1)
        idx = torch.cat((idx, torch.multinomial(probs, 1)), dim=1)
    model.train(mode)
    return idx
'''

SUBMISSIONS = [
    # --- one bug each ---------------------------------------------------------------------
    Submission("tying-by-copy", fails={"test_weight_tying"}, why="lm_head gets a copy of the embedding",
               edits={"gpt_model": [(TIE, "self.lm_head.weight.data.copy_(self.tok_embed.weight.data)")]}),
    Submission("no-tying", fails={"test_weight_tying"}, why="weight_tying ignored",
               edits={"gpt_model": [("        if config.weight_tying:\n            " + TIE, "        pass")]}),
    Submission("no-position-embedding", fails={"test_gpt_embeddings"}, why="only token embeddings reach the blocks",
               edits={"gpt_model": [("x = self.tok_embed(idx) + self.pos_embed(positions)", "x = self.tok_embed(idx)")]}),
    Submission("no-final-norm", fails={"test_gpt_final_norm"}, why="lm_head reads the raw residual stream",
               edits={"gpt_model": [("        x = self.final_norm(x)\n", "")]}),
    Submission("blocks-not-chained", fails={"test_gpt_blocks"}, why="every block reads the embeddings",
               edits={"gpt_model": [("            x = block(x)  # (B, T, d_model)", "            h = block(x)"),
                                    ("        x = self.final_norm(x)", "        x = self.final_norm(h)")]}),
    Submission("no-residual-scaling", fails={"test_init"}, why="attn.proj / ff.proj keep std 0.02",
               edits={"gpt_model": [("residual_std = 0.02 / math.sqrt(2 * config.num_layers)", "residual_std = 0.02")]}),
    Submission("no-length-check", fails={"test_gpt_shapes"}, why="too long inputs crash in pos_embed instead",
               edits={"gpt_model": [("if T > self.config.context_length:", "if T > 10 * self.config.context_length:")]}),
    Submission("length-check-off-by-one", fails={"test_gpt_shapes"}, why="refuses exactly context_length tokens",
               edits={"gpt_model": [("if T > self.config.context_length:", "if T >= self.config.context_length:")]}),
    Submission("no-embedding-dropout", fails={"test_gpt_dropout"},
               why="the embeddings reach the blocks without dropout, even in train mode",
               edits={"gpt_model": [(EMBED_DROPOUT, "")]}),
    Submission("embedding-dropout-always-on", fails={"test_gpt_dropout"},
               why="F.dropout(..., training=True): the embedding dropout stays on in eval mode",
               edits={"gpt_model": [(EMBED_DROPOUT, "        x = F.dropout(x, self.config.dropout, training=True)\n")]}),
    Submission("embedding-dropout-functional-default", fails={"test_gpt_dropout"},
               why="F.dropout(x, p) without training=self.training: F.dropout defaults to training=True",
               edits={"gpt_model": [(EMBED_DROPOUT, "        x = F.dropout(x, self.config.dropout)\n")]}),
    Submission("final-norm-eps-ignored", fails={"test_gpt_final_norm"},
               why="final_norm keeps LayerNorm's default eps whatever config.layer_norm_eps says",
               edits={"gpt_model": [(FINAL_NORM, "self.final_norm = LayerNorm(config.d_model, bias=config.bias)")]}),
    Submission("final-norm-bias-ignored", fails={"test_gpt_final_norm"},
               why="final_norm has a bias even when config.bias is False",
               edits={"gpt_model": [(FINAL_NORM, "self.final_norm = LayerNorm(config.d_model, eps=config.layer_norm_eps)")]}),
    Submission("count-tied-twice", fails={"test_count_parameters"}, why="tied weights counted under both names",
               edits={"count_parameters": [("for p in model.parameters()",
                                            "for _, p in model.named_parameters(remove_duplicate=False)")]}),
    Submission("top-k-keeps-smallest", fails={"test_top_k_filter"}, why="keeps the k smallest logits",
               edits={"top_k_filter": KEEP_LARGEST}),
    Submission("top-k-2d-only", fails={"test_top_k_filter"},
               why="reads the k-th largest with [:, -1:]: right for (batch, vocab), wrong with more leading dimensions",
               edits={"top_k_filter": [("torch.topk(logits, k, dim=-1).values[..., -1:]",
                                        "torch.topk(logits, k, dim=-1).values[:, -1:]")]}),
    Submission("top-k-not-written", fails={"test_top_k_filter"},
               why="top_k_filter left as released; generate is still graded on its own",
               cells={"top_k_filter": "def top_k_filter(logits, top_k):\n    # YOUR CODE HERE\n"
                                      "    raise NotImplementedError()\n"}),
    Submission("temperature-multiplies", fails={"test_generate_sampling"}, why="logits * T instead of / T",
               edits={"generate": [("logits / temperature", "logits * temperature")]}),
    Submission("no-sliding-window", fails={"test_generate_window"}, why="feeds the whole sequence every step",
               edits={"generate": [("window = idx[:, -context_length:]", "window = idx")]}),
    Submission("seed-none-fixed", fails={"test_generate_contract"},
               why="seed=None falls back to seed 0: every unseeded call draws the same tokens",
               edits={"generate": [("generator = None if seed is None else torch.Generator(device=idx.device).manual_seed(seed)",
                                    "generator = torch.Generator(device=idx.device).manual_seed(0 if seed is None else seed)")]}),
    Submission("no-eval-mode", fails={"test_generate_contract"}, why="samples with dropout on",
               edits={"generate": [("    model.eval()  # no dropout while sampling\n", "")]}),
    Submission("loops-forever", fails=GENERATE_TESTS, why="while True: never stops after max_new_tokens",
               edits={"generate": [("for _ in range(max_new_tokens):", "while True:")]}),
    # --- correct, written differently: full marks ---------------------------------------------
    Submission("top-k-via-sort-tied-other-way", fails=set(),
               why="top-k by sorting; tok_embed.weight = lm_head.weight",
               cells={"top_k_filter": TOP_K_VIA_SORT},
               edits={"gpt_model": [(TIE, "self.tok_embed.weight = self.lm_head.weight")]}),
    Submission("own-blocks-sequential-manual-seed", fails=set(),
               why="own attention/block in nn.Sequential, functional embedding dropout; generate seeded with "
                   "torch.manual_seed",
               cells={"gpt_model": OWN_BLOCKS_GPT, "generate": GENERATE_MANUAL_SEED}),
    # --- tampering -------------------------------------------------------------------------------
    Submission("tamper-pass-tying-test", fails={"test_weight_tying"},
               why="no tying, and the tying test retyped to `pass` (restored by nbgrader)",
               edits={"gpt_model": [("        if config.weight_tying:\n            " + TIE, "        pass")]},
               cells={"test_weight_tying": "pass"}),
    Submission("tamper-delete-top-k-test", fails={"test_top_k_filter"},
               why="keeps the smallest, and the top-k test cell deleted (re-added by nbgrader)",
               edits={"top_k_filter": KEEP_LARGEST}, delete=["test_top_k_filter"]),
    Submission("neuters-the-checks", fails={"test_weight_tying"}, flagged=True, review={"outside check"},
               why="no tying, and course.checks' expect/expect_equal replaced by no-ops: the tying test passes "
                   "in the kernel; the outside check finds no tying (0 points, NEEDS REVIEW), the scan reports it",
               edits={"gpt_model": [("class GPTModel(nn.Module):",
                                     "import course.checks\n"
                                     "course.checks.expect = course.checks.expect_equal = lambda *a, **k: None\n\n\n"
                                     "class GPTModel(nn.Module):"),
                                    ("        if config.weight_tying:\n            " + TIE, "        pass")]}),
    Submission("patches-torch-indirectly", fails={"test_gpt_final_norm"}, review={"outside check"},
               why="final_norm ignores config.layer_norm_eps, and Tensor.any is patched through importlib so that "
                   "every closeness check passes in the kernel; the outside check finds the wrong norm",
               edits={"gpt_model": [(FINAL_NORM, "self.final_norm = LayerNorm(config.d_model, bias=config.bias)"),
                                    ("class GPTModel(nn.Module):",
                                     "import importlib\nsetattr(importlib.import_module('tor' + 'ch').Tensor, 'an' + 'y',"
                                     " lambda self, *a, **k: False)\n\n\nclass GPTModel(nn.Module):")]}),
    Submission("reference-in-disguise", fails=ALL_TESTS, why="hands every answer to gpt2ref",
               cells={"gpt_model": "from gpt2ref import GPTModel as _Ref\n\n\nclass GPTModel(_Ref):\n    pass\n",
                      "count_parameters": "import gpt2ref as _r\n\n\ndef count_parameters(model):\n"
                                          "    return _r.count_parameters(model)\n",
                      "top_k_filter": "from gpt2ref.generation import top_k_filter\n",
                      "generate": "from gpt2ref import generate as _gen\n\n\ndef generate(*args, **kwargs):\n"
                                  "    return _gen(*args, **kwargs)\n"}),
    # --- the graded post quiz: scored outside the kernel from quiz-answers.json (every other
    # submission hands in right answers, those that must score zero none) -------------------
    Submission("quiz-one-wrong", fails={"post_quiz"}, quiz=QUIZ_ONE_WRONG, scores={"post_quiz": 1},
               why="one of the two post answers wrong: 1 of the quiz's 2 points, the rest full marks"),
    Submission("quiz-no-answers-file", fails={"post_quiz"}, quiz=None, scores={"post_quiz": 0},
               why="no quiz-answers.json handed in: 0 for the quiz only"),
    Submission("quiz-answers-huge", fails={"post_quiz"}, files={"quiz-answers.json": HUGE_ANSWERS},
               scores={"post_quiz": 0}, why="right answers in a 70 kB file: over the cap, 0 for the quiz only"),
    Submission("quiz-forged-in-kernel", fails={"post_quiz"}, quiz=QUIZ_ONE_WRONG, scores={"post_quiz": 1},
               why="a cell of its own makes the quiz cell print a full score and end with the value 2 in the "
                   "kernel: still 1 point",
               transform=lambda nb: insert_cell(nb, "test_generate_contract", "forge-quiz", forge_quiz_cell(2))),
]
