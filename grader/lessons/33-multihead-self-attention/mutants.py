"""Made-up submissions for lesson 33: each one-bug mutant must lose exactly the points of the
test that should catch it; correct-but-different answers must keep full marks."""

from grader.submissions import ALL_TESTS, Submission

ATT = "causal_attention"
MHA = "multi_head_attention"
SCORES = "scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., T, T)"
WEIGHTS = 'weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)'
SDPA_DROPOUT = "dropout_p=self.dropout if self.training else 0.0"

SUBMISSIONS = [
    # --- one-bug mutants: causal_attention ----------------------------------------------------
    Submission("attention-unscaled", fails={"test_attention_values"},
               why="forgets to divide the scores by sqrt(d)",
               edits={ATT: [(SCORES, "scores = q @ k.transpose(-2, -1)")]}),
    Submission("attention-scaled-by-d", fails={"test_attention_values"},
               why="divides the scores by d instead of sqrt(d)",
               edits={ATT: [(SCORES, "scores = q @ k.transpose(-2, -1) / d")]}),
    Submission("attention-masks-the-diagonal", fails={"test_attention_mask", "test_attention_values"},
               why="triu(diagonal=0) also hides each token from itself: row 0 becomes NaN",
               edits={ATT: [("diagonal=1)", "diagonal=0)")]}),
    Submission("attention-mask-after-softmax", fails={"test_attention_mask", "test_attention_values"},
               why="softmax first, then zero the future: rows no longer sum to 1",
               edits={ATT: [(WEIGHTS, "weights = torch.softmax(scores, dim=-1).masked_fill(future, 0.0)")]}),
    # --- one-bug mutants: MultiHeadAttention ----------------------------------------------------
    Submission("mha-not-causal", fails={"test_mha_values"},
               why="is_causal=False: every token sees the future",
               edits={MHA: [("is_causal=True", "is_causal=False")]}),
    Submission("mha-k-v-swapped", fails={"test_mha_values"},
               why="cuts the qkv output in the order q, v, k",
               edits={MHA: [("q, k, v = self.qkv(x).chunk(3, dim=-1)", "q, v, k = self.qkv(x).chunk(3, dim=-1)")]}),
    Submission("mha-no-output-projection", fails={"test_mha_values"},
               why="merges the heads but never applies proj",
               edits={MHA: [("self.resid_dropout(self.proj(self.merge_heads(out)))",
                             "self.resid_dropout(self.merge_heads(out))")]}),
    Submission("mha-split-without-transpose", fails={"test_mha_heads", "test_mha_values"},
               why="split_heads reshapes straight to (B, H, T, head_dim): heads get scrambled features",
               edits={MHA: [("return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)",
                             "return x.reshape(B, self.num_heads, T, self.head_dim)")]}),
    Submission("mha-no-divisibility-check", fails={"test_mha_shapes"},
               why="no ValueError when d_model is not divisible by num_heads",
               edits={MHA: [('raise ValueError(f"d_model', 'print(f"d_model')]}),
    Submission("mha-dropout-in-eval", fails={"test_mha_dropout"},
               why="passes dropout_p=self.dropout even in eval mode",
               edits={MHA: [(SDPA_DROPOUT, "dropout_p=self.dropout")]}),
    Submission("mha-dropout-ignored", fails={"test_mha_dropout"},
               why="never applies dropout, whatever the dropout argument",
               edits={MHA: [(SDPA_DROPOUT, "dropout_p=0.0"),
                            ("self.resid_dropout = nn.Dropout(dropout)", "self.resid_dropout = nn.Dropout(0.0)")]}),
    Submission("mha-dropout-attribute-renamed", fails={"test_mha_dropout"},
               why="keeps the probability as self.p: dropout works, but the attribute the docstring promises is missing",
               edits={MHA: [("self.dropout = dropout", "self.p = dropout"),
                            (SDPA_DROPOUT, "dropout_p=self.p if self.training else 0.0")]}),
    # --- correct, differently written ---------------------------------------------------------
    Submission(
        "explicit-softmax-everywhere", fails=set(),
        why="tril mask with torch.where and a finite fill; MHA calls the student's own causal_attention, "
            "dropout on the weights only, reshape/permute for the heads",
        cells={
            ATT: '''def causal_attention(q, k, v):
    T = q.shape[-2]
    scale = 1.0 / q.shape[-1] ** 0.5
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    allowed = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
    scores = torch.where(allowed, scores, torch.full_like(scores, -1e9))
    weights = scores.softmax(dim=-1)
    return torch.matmul(weights, v), weights
''',
            MHA: '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0, bias=True):
        super().__init__()
        if d_model % num_heads:
            raise ValueError("num_heads must divide d_model")
        self.d_model, self.num_heads, self.head_dim, self.dropout = d_model, num_heads, d_model // num_heads, dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x):
        B, T, _ = x.shape
        return x.reshape(B, T, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def merge_heads(self, x):
        B, H, T, hd = x.shape
        return x.permute(0, 2, 1, 3).reshape(B, T, H * hd)

    def forward(self, x):
        q, k, v = self.qkv(x).split(self.d_model, dim=2)
        _, weights = causal_attention(self.split_heads(q), self.split_heads(k), self.split_heads(v))
        weights = F.dropout(weights, p=self.dropout, training=self.training)
        return self.proj(self.merge_heads(weights @ self.split_heads(v)))
''',
        },
    ),
    Submission(
        "einsum-and-module-dropout", fails=set(),
        why="einsum scores, mask built with masked_fill_ of the dtype's lowest value; "
            "an nn.Dropout module on the output only; heads via unflatten/flatten",
        cells={
            ATT: '''def causal_attention(q, k, v):
    T, d = q.shape[-2:]
    scores = torch.einsum("...td,...sd->...ts", q, k) / math.sqrt(d)
    scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    return torch.einsum("...ts,...sd->...td", weights, v), weights
''',
            MHA: '''class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads, dropout=0.0, bias=True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim, rest = divmod(d_model, num_heads)
        if rest != 0:
            raise ValueError(f"{d_model} is not a multiple of {num_heads}")
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)
        self.drop = nn.Dropout(dropout)

    def split_heads(self, x):
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def merge_heads(self, x):
        return x.transpose(1, 2).flatten(-2)

    def forward(self, x):
        q, k, v = (self.split_heads(t) for t in self.qkv(x).chunk(3, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.drop(self.proj(self.merge_heads(out)))
''',
        },
    ),
    # --- tampering -------------------------------------------------------------------------------
    Submission(
        "tampered-tests", fails=ALL_TESTS,
        why="wrong answers, and every test cell retyped to `pass` or deleted: the grader restores them",
        edits={ATT: [(SCORES, "scores = q @ k.transpose(-2, -1) * 0"),
                     (WEIGHTS, "weights = torch.softmax(scores, dim=-1)")],
               MHA: [("self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)",
                      "self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)\n        self.extra = nn.Linear(d_model, d_model)"),
                     ("return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)",
                      "return x.view(B, self.num_heads, T, self.head_dim)"),
                     (SDPA_DROPOUT, "dropout_p=self.dropout")]},
        cells={"test_attention_mask": "pass", "test_attention_values": "pass", "test_mha_shapes": "pass"},
        delete=["test_mha_heads", "test_mha_values", "test_mha_dropout"],
    ),
]
