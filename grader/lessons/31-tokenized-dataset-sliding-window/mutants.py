"""Made-up submissions for lesson 31 (sliding-window dataset): see grader/acceptance.py."""

from grader.submissions import Submission

GENERATOR = "generator = torch.Generator().manual_seed(seed) if seed is not None else None"
RETURN_WINDOW = "return window[:-1], window[1:]"

SUBMISSIONS = [
    # --- one bug each -------------------------------------------------------------------
    Submission(
        "count-missing-plus-one", why="len = (n - max_length - 1) // stride: one window too few",
        fails={"test_window_count", "test_short_text", "test_dataloader_batches"},
        edits={"sliding_window_dataset": [
            ("return (len(self.token_ids) - self.max_length - 1) // self.stride + 1",
             "return (len(self.token_ids) - self.max_length - 1) // self.stride")]},
    ),
    Submission(
        "target-not-shifted", why="the target is the input itself",
        fails={"test_window_content", "test_dataloader_batches"},
        edits={"sliding_window_dataset": [(RETURN_WINDOW, "return window[:-1], window[:-1]")]},
    ),
    Submission(
        "float-ids", why="ids stored as float32",
        fails={"test_window_content", "test_dataloader_batches"},
        edits={"sliding_window_dataset": [("torch.as_tensor(token_ids, dtype=torch.long)",
                                           "torch.as_tensor(token_ids, dtype=torch.float32)")]},
    ),
    Submission(
        "stride-ignored", why="window i starts at i * max_length whatever the stride",
        fails={"test_window_content", "test_dataloader_batches"},
        edits={"sliding_window_dataset": [("start = i * self.stride", "start = i * self.max_length")]},
    ),
    Submission(
        "negative-index-accepted", why="only i >= len is refused: dataset[-1] silently gives a wrong (here empty) window",
        fails={"test_window_content"},
        edits={"sliding_window_dataset": [("if not 0 <= i < len(self):", "if i >= len(self):")]},
    ),
    Submission(
        "no-short-text-error", why="a text shorter than one window is accepted silently (create_dataloader "
        "still raises: the DataLoader's sampler rejects an empty dataset)",
        fails={"test_short_text"},
        edits={"sliding_window_dataset": [(
            "        if len(self.token_ids) < max_length + 1:\n            raise ValueError(",
            "        if False:\n            raise ValueError(")]},
    ),
    Submission(
        "vague-short-text-error", why="the error message does not say how many tokens there are",
        fails={"test_short_text"},
        edits={"sliding_window_dataset": [(
            'f"the text has {len(self.token_ids)} tokens, but one window needs "',
            '"the text is too short for one window; it needs "')]},
    ),
    Submission(
        "drop-last-ignored", why="the DataLoader always keeps the last, smaller batch",
        fails={"test_dataloader_batches"},
        edits={"create_dataloader": [("drop_last=drop_last,", "drop_last=False,")]},
    ),
    Submission(
        "endoftext-not-allowed", why="tiktoken raises on <|endoftext|> in the text",
        fails={"test_dataloader_batches"},
        edits={"create_dataloader": [('tokenizer.encode(text, allowed_special={"<|endoftext|>"})',
                                      "tokenizer.encode(text)")]},
    ),
    Submission(
        "seed-ignored", why="no generator: the order depends on the global random state",
        fails={"test_dataloader_seed"},
        edits={"create_dataloader": [(GENERATOR, "generator = None")]},
    ),
    Submission(
        "seed-via-global-rng", why="torch.manual_seed(seed) instead of a generator of its own",
        fails={"test_dataloader_seed"},
        edits={"create_dataloader": [(GENERATOR, "generator = None\n    if seed is not None:\n        torch.manual_seed(seed)")]},
    ),
    Submission(
        "shuffle-ignored", why="the windows are never shuffled",
        fails={"test_dataloader_seed"},
        edits={"create_dataloader": [("shuffle=shuffle,", "shuffle=False,")]},
    ),
    # --- correct, written differently -------------------------------------------------------
    Submission(
        "dataset-precomputed-windows", fails=set(), why="every window copied into two lists in __init__",
        cells={"sliding_window_dataset": '''class SlidingWindowDataset(Dataset):
    def __init__(self, token_ids, max_length, stride):
        if max_length <= 0 or stride <= 0:
            raise ValueError("max_length and stride must be positive")
        ids = [int(t) for t in token_ids]
        if len(ids) <= max_length:
            raise ValueError(f"{len(ids)} tokens are not enough for max_length={max_length} (need one more)")
        self.inputs, self.targets = [], []
        for start in range(0, len(ids) - max_length, stride):
            self.inputs.append(torch.tensor(ids[start:start + max_length]))
            self.targets.append(torch.tensor(ids[start + 1:start + max_length + 1]))

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        if i < 0 or i >= len(self.inputs):
            raise IndexError(f"no window {i}")
        return self.inputs[i], self.targets[i]
'''},
    ),
    Submission(
        "dataset-unfold", fails=set(), why="all windows at once with Tensor.unfold",
        cells={"sliding_window_dataset": '''class SlidingWindowDataset(Dataset):
    def __init__(self, token_ids, max_length, stride):
        if min(max_length, stride) < 1:
            raise ValueError(f"bad max_length={max_length} or stride={stride}")
        ids = torch.as_tensor(token_ids).long()
        if ids.numel() < max_length + 1:
            raise ValueError(f"got {ids.numel()} tokens; max_length {max_length} needs at least one more")
        self.windows = ids.unfold(0, max_length + 1, stride)  # (num_windows, max_length + 1)

    def __len__(self):
        return self.windows.shape[0]

    def __getitem__(self, i):
        if i not in range(len(self)):
            raise IndexError(i)
        return self.windows[i, :-1], self.windows[i, 1:]
'''},
    ),
    Submission(
        "dataloader-own-sampler", fails=set(),
        why="a hand-written sampler drawing torch.randperm from one persistent generator",
        cells={"create_dataloader": '''class _Shuffler(torch.utils.data.Sampler):
    def __init__(self, n, generator):
        self.n, self.generator = n, generator

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(torch.randperm(self.n, generator=self.generator).tolist())


def create_dataloader(text, batch_size=4, max_length=256, stride=128, shuffle=True, drop_last=True,
                      seed=None, num_workers=0):
    ids = tiktoken.get_encoding("gpt2").encode(text, allowed_special="all")
    dataset = SlidingWindowDataset(ids, max_length, stride)
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    sampler = _Shuffler(len(dataset), generator) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, generator=generator)
'''},
    ),
    # --- tampering: test cells retyped or deleted come back from the source ----------------
    Submission(
        "tamper-pass-content", why="test cell retyped to `pass`, with the target not shifted",
        fails={"test_window_content", "test_dataloader_batches"},
        cells={"test_window_content": "pass"},
        edits={"sliding_window_dataset": [(RETURN_WINDOW, "return window[:-1], window[:-1]")]},
    ),
    Submission(
        "tamper-delete-seed-test", why="test cell deleted, with the seed ignored",
        fails={"test_dataloader_seed"},
        delete=["test_dataloader_seed"],
        edits={"create_dataloader": [(GENERATOR, "generator = None")]},
    ),
]
