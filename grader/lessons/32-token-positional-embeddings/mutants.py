"""Made-up submissions for lesson 32: each one-bug mutant must lose exactly the points of the
test that should catch it; correct-but-different answers must keep full marks."""

from grader.submissions import ALL_TESTS, Submission

EMB = "token_position_embedding"
COS = "cosine_similarity_matrix"
RETURN_SUM = "return self.tok_embed(idx) + self.pos_embed(positions)  # (B, T, d_model) + (T, d_model)"

SUBMISSIONS = [
    # --- one-bug mutants -------------------------------------------------------------------
    Submission(
        "scaled-token-vectors", fails={"test_embedding_values"},
        why="multiplies token vectors by sqrt(d_model), as the original Transformer did; GPT-2 does not",
        edits={EMB: [(RETURN_SUM,
                      "return self.tok_embed(idx) * self.tok_embed.weight.size(1) ** 0.5 + self.pos_embed(positions)")]},
    ),
    Submission(
        "positions-reversed", fails={"test_embedding_values"},
        why="numbers the positions from the end: T-1, ..., 0",
        edits={EMB: [("positions = torch.arange(T, device=idx.device)  # (T,)",
                      "positions = torch.arange(T - 1, -1, -1, device=idx.device)")]},
    ),
    Submission(
        "no-position-embedding", fails={"test_embedding_values", "test_embedding_gradients"},
        why="forgets the position table in forward (values and the position rows' gradients both go wrong)",
        edits={EMB: [(RETURN_SUM, "return self.tok_embed(idx)")]},
    ),
    Submission(
        "positions-detached", fails={"test_embedding_gradients"},
        why="adds the position vectors with .detach(): right values, but the position table never learns",
        edits={EMB: [(RETURN_SUM, "return self.tok_embed(idx) + self.pos_embed(positions).detach()")]},
    ),
    Submission(
        "no-length-check", fails={"test_embedding_too_long"},
        why="no ValueError for T > context_length (nn.Embedding raises a cryptic IndexError instead)",
        edits={EMB: [("raise ValueError(", "pass  # raise ValueError(\n            print(")]},
    ),
    Submission(
        "extra-bias-parameter", fails={"test_embedding_shapes"},
        why="adds a learned bias vector (zero at init): right values, wrong parameter count",
        edits={EMB: [("self.context_length = context_length",
                      "self.context_length = context_length\n        self.bias = nn.Parameter(torch.zeros(d_model))"),
                     (RETURN_SUM, "return self.tok_embed(idx) + self.pos_embed(positions) + self.bias")]},
    ),
    Submission(
        "cosine-one-side-normalised", fails={"test_cosine_similarity"},
        why="divides only one side of the product by its length",
        edits={COS: [("return unit @ unit.T  # (N, N)", "return unit @ x.T")]},
    ),
    Submission(
        "cosine-no-eps", fails={"test_cosine_similarity"},
        why="divides by the raw norm: a zero row gives NaN",
        edits={COS: [("x.norm(dim=1, keepdim=True).clamp_min(eps)", "x.norm(dim=1, keepdim=True)")]},
    ),
    Submission(
        "cosine-eps-added", fails={"test_cosine_similarity"},
        why="divides by norm + eps: no NaN either, but a row shorter than eps is not divided by eps",
        edits={COS: [("x.norm(dim=1, keepdim=True).clamp_min(eps)", "(x.norm(dim=1, keepdim=True) + eps)")]},
    ),
    Submission(
        "cosine-eps-ignored", fails={"test_cosine_similarity"},
        why="clamps the norms at a fixed 1e-8 whatever eps the caller passes",
        edits={COS: [("x.norm(dim=1, keepdim=True).clamp_min(eps)", "x.norm(dim=1, keepdim=True).clamp_min(1e-8)")]},
    ),
    Submission(
        "cosine-normalises-columns", fails={"test_cosine_similarity"},
        why="takes the norm over the wrong dimension (columns instead of rows)",
        edits={COS: [("x.norm(dim=1, keepdim=True)", "x.norm(dim=0, keepdim=True)")]},
    ),
    # --- correct, differently written ----------------------------------------------------
    Submission(
        "weight-slicing-and-normalize", fails=set(),
        why="indexes the weight tables directly (expand over the batch) and uses F.normalize",
        cells={
            EMB: '''class TokenPositionEmbedding(nn.Module):
    def __init__(self, vocab_size, context_length, d_model):
        super().__init__()
        self.tok_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(context_length, d_model)

    def forward(self, idx):
        B, T = idx.shape
        limit = self.pos_embed.num_embeddings
        if T > limit:
            raise ValueError(f"got {T} tokens but the position table has only {limit} rows")
        tokens = self.tok_embed.weight[idx]                              # (B, T, d)
        places = self.pos_embed.weight[:T].unsqueeze(0).expand(B, -1, -1)  # (B, T, d)
        return tokens + places
''',
            COS: '''import torch.nn.functional as F


def cosine_similarity_matrix(x, eps=1e-8):
    unit = F.normalize(x, p=2.0, dim=-1, eps=eps)
    return torch.einsum("id,jd->ij", unit, unit)
''',
        },
    ),
    Submission(
        "functional-embedding", fails=set(),
        why="F.embedding on the tables, positions made with unsqueeze; cosine by dividing the Gram matrix",
        cells={
            EMB: '''class TokenPositionEmbedding(nn.Module):
    def __init__(self, vocab_size, context_length, d_model):
        super().__init__()
        self.max_len = context_length
        self.pos_embed = nn.Embedding(context_length, d_model)
        self.tok_embed = nn.Embedding(vocab_size, d_model)

    def forward(self, idx):
        n = idx.shape[-1]
        if n > self.max_len:
            raise ValueError("context_length is %d, sequence has %d tokens" % (self.max_len, n))
        pos = torch.arange(n, device=idx.device).unsqueeze(0)  # (1, T)
        return F.embedding(idx, self.tok_embed.weight) + F.embedding(pos, self.pos_embed.weight)
''',
            COS: '''def cosine_similarity_matrix(x, eps=1e-8):
    gram = x @ x.T
    lengths = torch.sqrt((x * x).sum(dim=1)).clamp(min=eps)
    return gram / lengths[:, None] / lengths[None, :]
''',
        },
    ),
    # --- tampering ---------------------------------------------------------------------------
    Submission(
        "tampered-tests", fails=ALL_TESTS,
        why="wrong answers, and every test cell retyped to `pass` or deleted: the grader restores them",
        edits={EMB: [("self.pos_embed = nn.Embedding(context_length, d_model)",
                      "self.pos_embed = nn.Embedding(vocab_size, d_model)"),
                     (RETURN_SUM, "return self.tok_embed(idx) * 0"),
                     ("raise ValueError(", "pass  # raise ValueError(\n            print(")],
               COS: [("return unit @ unit.T  # (N, N)", "return x @ x.T")]},
        cells={"test_embedding_shapes": "pass", "test_embedding_values": "pass",
               "test_embedding_gradients": "print('all good')"},
        delete=["test_embedding_too_long", "test_cosine_similarity"],
    ),
]
