"""Made-up submissions for lesson 34: each one-bug mutant must lose exactly the points of the
test that should catch it; correct-but-different answers must keep full marks."""

from grader.submissions import ALL_TESTS, Submission

LN, GELU, FF, BLOCK = "layer_norm", "gelu", "feed_forward", "transformer_block"
SQRT = "torch.sqrt(var + self.eps)"
GELU_BODY = "return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))"
ATTN_ADD = "x = x + self.attn(self.norm1(x))  # tokens exchange information"
FF_ADD = "x = x + self.ff(self.norm2(x))  # each token is processed on its own"
FF_FORWARD = "return self.dropout(self.proj(self.act(self.fc(x))))"
NORM1 = "self.norm1 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)"
NORM2 = "self.norm2 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)"
ATTN_DROPOUT = ("config.num_heads, config.dropout, config.bias)", "config.num_heads, 0.0, config.bias)")
FF_DROPOUT = ("FeedForward(config.d_model, config.d_ff, config.dropout, config.bias)",
              "FeedForward(config.d_model, config.d_ff, 0.0, config.bias)")

SUBMISSIONS = [
    # --- one-bug mutants ------------------------------------------------------------------------
    Submission("ln-unbiased-variance", fails={"test_layernorm"},
               why="divides the variance by d - 1 (torch.var's default)",
               edits={LN: [("unbiased=False", "unbiased=True")]}),
    Submission("ln-eps-outside-sqrt", fails={"test_layernorm_eps"},
               why="divides by std + eps instead of sqrt(var + eps)",
               edits={LN: [(SQRT, "(torch.sqrt(var) + self.eps)")]}),
    Submission("ln-eps-ignored", fails={"test_layernorm_eps"},
               why="hard-codes 1e-5 instead of using the eps argument",
               edits={LN: [(SQRT, "torch.sqrt(var + 1e-5)")]}),
    Submission("ln-no-scale", fails={"test_layernorm"},
               why="forgets to multiply by the learned weight",
               edits={LN: [(f"{SQRT} * self.weight", SQRT)]}),
    Submission("gelu-erf-form", fails={"test_gelu"},
               why="writes the exact erf GELU instead of GPT-2's tanh form",
               edits={GELU: [(GELU_BODY, "return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))")]}),
    Submission("gelu-wrong-constant", fails={"test_gelu"},
               why="0.44715 instead of 0.044715",
               edits={GELU: [("0.044715 * x.pow(3)", "0.44715 * x.pow(3)")]}),
    Submission("ff-no-activation", fails={"test_feedforward"},
               why="fc then proj with nothing in between",
               edits={FF: [("self.proj(self.act(self.fc(x)))", "self.proj(self.fc(x))")]}),
    Submission("ff-default-width", fails={"test_feedforward"},
               why="d_ff defaults to d_model instead of 4 * d_model",
               edits={FF: [("d_ff = 4 * d_model if d_ff is None else d_ff", "d_ff = d_model if d_ff is None else d_ff")]}),
    Submission("ff-dropout-on-hidden", fails={"test_feedforward"},
               why="dropout on the hidden layer (after the activation) instead of on proj's output",
               edits={FF: [(FF_FORWARD, "return self.proj(self.dropout(self.act(self.fc(x))))")]}),
    Submission("ff-act-bypassed", fails={"test_feedforward"},
               why="calls a fresh GELU() instead of self.act, so a module put in self.act never runs",
               edits={FF: [(FF_FORWARD, "return self.dropout(self.proj(GELU()(self.fc(x))))")]}),
    Submission("block-post-ln", fails={"test_block_forward"},
               why="the original Transformer's post-LN: norm(x + sublayer(x))",
               edits={BLOCK: [(ATTN_ADD, "x = self.norm1(x + self.attn(x))"),
                              (FF_ADD, "x = self.norm2(x + self.ff(x))")]}),
    Submission("block-no-ff-residual", fails={"test_block_forward"},
               why="forgets the residual add around the feed-forward",
               edits={BLOCK: [(FF_ADD, "x = self.ff(self.norm2(x))")]}),
    Submission("block-norm1-twice", fails={"test_block_forward"},
               why="uses norm1 before the feed-forward too (norm2 is never used)",
               edits={BLOCK: [(FF_ADD, "x = x + self.ff(self.norm1(x))")]}),
    Submission("block-dropout-ignored", fails={"test_block_structure"},
               why="never passes config.dropout on",
               edits={BLOCK: [ATTN_DROPOUT, FF_DROPOUT]}),
    Submission("block-dropout-only-ff", fails={"test_block_structure"},
               why="config.dropout reaches the feed-forward but not the attention",
               edits={BLOCK: [ATTN_DROPOUT]}),
    Submission("block-dropout-only-attn", fails={"test_block_structure"},
               why="config.dropout reaches the attention but not the feed-forward",
               edits={BLOCK: [FF_DROPOUT]}),
    Submission("block-eps-ignored", fails={"test_block_structure"},
               why="both LayerNorms keep eps=1e-5 whatever config.layer_norm_eps says",
               edits={BLOCK: [(NORM1, NORM1.replace("config.layer_norm_eps", "1e-5")),
                              (NORM2, NORM2.replace("config.layer_norm_eps", "1e-5"))]}),
    # --- correct, differently written ---------------------------------------------------------
    Submission(
        "var-mean-and-sigmoid", fails=set(),
        why="var_mean + rsqrt, register_parameter(None); GELU as x * sigmoid(2z); F.linear in the feed-forward; "
            "the block with named intermediates",
        cells={
            LN: '''class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        if bias:
            self.bias = nn.Parameter(torch.zeros(d_model))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        y = (x - mean) * torch.rsqrt(var + self.eps) * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y
''',
            GELU: '''class GELU(nn.Module):
    C = (2.0 / math.pi) ** 0.5

    def forward(self, x):
        # 0.5 * (1 + tanh(z)) == sigmoid(2 z)
        return x * torch.sigmoid(2.0 * self.C * (x + 0.044715 * x * x * x))
''',
            FF: '''class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff=None, dropout=0.0, bias=True):
        super().__init__()
        hidden = d_ff or 4 * d_model
        self.fc = nn.Linear(d_model, hidden, bias=bias)
        self.act = GELU()
        self.proj = nn.Linear(hidden, d_model, bias=bias)
        self.p = dropout

    def forward(self, x):
        h = self.act(F.linear(x, self.fc.weight, self.fc.bias))
        out = F.linear(h, self.proj.weight, self.proj.bias)
        return F.dropout(out, self.p, self.training)
''',
            BLOCK: '''class TransformerBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        d = config.d_model
        self.norm1 = LayerNorm(d, config.layer_norm_eps, config.bias)
        self.attn = MultiHeadAttention(d, config.num_heads, dropout=config.dropout, bias=config.bias)
        self.norm2 = LayerNorm(d, config.layer_norm_eps, config.bias)
        self.ff = FeedForward(d, 4 * d, config.dropout, config.bias)

    def forward(self, x):
        attended = self.attn(self.norm1(x))
        h = x + attended
        fed = self.ff(self.norm2(h))
        return h + fed
''',
        },
    ),
    Submission(
        "sums-and-powers", fails=set(),
        why="mean and variance from sums, ** 0.5 for the root, tanh with x ** 3, a bias-free branch; "
            "the block with in-place-free additions written in one line each",
        cells={
            LN: '''class LayerNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5, bias=True):
        super().__init__()
        self.d, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def forward(self, x):
        mu = x.sum(-1, keepdim=True) / self.d
        centred = x - mu
        var = (centred * centred).sum(-1, keepdim=True) / self.d
        out = self.weight * centred / (var + self.eps) ** 0.5
        return out if self.bias is None else out + self.bias
''',
            GELU: '''class GELU(nn.Module):
    def forward(self, x):
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)
        return x * 0.5 * (torch.tanh(inner) + 1)
''',
            BLOCK: '''class TransformerBlock(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.norm1 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.norm2 = LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = MultiHeadAttention(config.d_model, config.num_heads, config.dropout, config.bias)
        self.ff = FeedForward(config.d_model, dropout=config.dropout, bias=config.bias)

    def forward(self, x):
        y = x + self.attn(self.norm1(x))
        return y + self.ff(self.norm2(y))
''',
        },
    ),
    # --- tampering ---------------------------------------------------------------------------
    Submission(
        "tampered-tests", fails=ALL_TESTS,
        why="wrong answers, and every test cell retyped to `pass` or deleted: the grader restores them",
        edits={LN: [("unbiased=False", "unbiased=True"), (SQRT, "(torch.sqrt(var) + self.eps)")],
               GELU: [(GELU_BODY, "return torch.relu(x)")],
               FF: [("self.proj(self.act(self.fc(x)))", "self.proj(self.fc(x))")],
               BLOCK: [("config.num_heads, config.dropout, config.bias)", "config.num_heads, 0.0, config.bias)"),
                       ("FeedForward(config.d_model, config.d_ff, config.dropout, config.bias)",
                       "FeedForward(config.d_model, config.d_ff, 0.0, config.bias)"),
                       (FF_ADD, "x = self.ff(self.norm2(x))")]},
        cells={"test_layernorm": "pass", "test_gelu": "pass", "test_block_forward": "print('ok')"},
        delete=["test_layernorm_eps", "test_feedforward", "test_block_structure"],
    ),
]
