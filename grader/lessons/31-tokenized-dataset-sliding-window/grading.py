"""Lesson 31, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.dataset`` withheld), and in the grader against the reference. Each probe isolates one
idea, like the test it stands behind:

- ``count``: len() for seeded (num_tokens, max_length, stride), from a list and from a tensor;
- ``content``: the input and target (values and dtype) of every window but the last on seeded
  ids (how many windows there are is ``count``'s business), and IndexError for the indices just
  outside 0 .. len - 1 (negative ones included);
- ``short``: the ValueErrors (too few tokens, with both numbers in the message; max_length or
  stride below 1) and the one-window edge;
- ``batches``: create_dataloader without shuffling on a seeded text: every batch, drop_last both
  ways, <|endoftext|>, a text too short for one window;
- ``seed``: what the seed promises, as properties (same seed same order, another seed another
  order, a new order each pass, the same windows, torch's global random state untouched); the
  order itself is not compared (the docstring does not fix how the shuffle is drawn).

The lesson's contract refuses negative indices; ``gpt2ref.SlidingWindowDataset`` accepts them
(later lessons use that), so the reference's side runs a subclass that refuses them
(create_dataloader never asks for a negative index, so it stays the reference's own).

About SUBMISSIONS: Made-up submissions for lesson 31 (sliding-window dataset): see grader/acceptance.py.
"""

from grader.proofs.submissions import Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _error, _gen, _pick, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("SlidingWindowDataset", "create_dataloader")

WITHHELD = ("dataset",)

SETUP = """\
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset
"""


def reference_namespace():
    import gpt2ref

    class SlidingWindowDataset(gpt2ref.SlidingWindowDataset):
        """The reference, with the lesson's index contract: only 0 .. len - 1."""

        def __getitem__(self, index):
            if not 0 <= index < len(self):
                raise IndexError(f"window {index} out of range for {len(self)} windows")
            return super().__getitem__(index)

    return {"SlidingWindowDataset": SlidingWindowDataset, "create_dataloader": gpt2ref.create_dataloader}


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
import torch

_WORDS = ("model", "token", "window", "learns", "the", "next", "one", "text", "of", "a", "stride", "batch",
          "Python", "is", "fun", "42", "and", "every", "day", ",", ".", "GPT", "shift", "data")


def _text(g, words):
    return " ".join(_WORDS[_pick(g, 0, len(_WORDS) - 1)] for _ in range(words))


def _configs(g, count):
    out = []
    for _ in range(count):
        max_length = _pick(g, 1, 12)
        out.append((max_length + _pick(g, 1, 60), max_length, _pick(g, 1, 15)))
    return out


@decides("test_window_count")
def probe_count(ns, seed):
    Dataset = ns["SlidingWindowDataset"]
    g = _gen(seed, 1)
    lengths = [len(Dataset(list(range(n)), m, s)) for n, m, s in _configs(g, 12)]
    n, m, s = _configs(g, 1)[0]
    lengths.append(len(Dataset(torch.arange(n), m, s)))
    return {"lengths": [int(x) for x in lengths]}


@decides("test_window_content")
def probe_content(ns, seed):
    Dataset = ns["SlidingWindowDataset"]
    g = _gen(seed, 2)
    out = {}
    for c in range(3):
        m, s = _pick(g, 1, 12), _pick(g, 1, 15)
        n = m + 1 + s * _pick(g, 2, 8) + _pick(g, 0, s - 1)  # at least three windows
        ids = torch.randint(0, 50257, (n,), generator=g)
        ds = Dataset(ids.tolist() if c % 2 == 0 else ids.to(torch.int32), m, s)
        # windows before the last one (counting them is test_window_count's business)
        items = [ds[i] for i in range((n - m - 1) // s)]
        out[f"inputs{c}"] = torch.stack([x for x, _ in items])
        out[f"targets{c}"] = torch.stack([y for _, y in items])
        out[f"dtypes{c}"] = sorted({str(t.dtype) for item in items for t in item})
        out[f"tuple{c}"] = all(isinstance(item, tuple) and len(item) == 2 for item in items)
        out[f"outside{c}"] = [_error(lambda i=i: ds[i]) for i in (len(ds), -1, -len(ds))]
    return out


@decides("test_short_text")
def probe_short(ns, seed):
    Dataset = ns["SlidingWindowDataset"]
    g = _gen(seed, 3)
    m = _pick(g, 30, 95)
    n = _pick(g, 10, m - 5)  # two digits each, never one inside the other
    try:
        Dataset(list(range(n)), m, _pick(g, 1, 9))
        error, names_both = "none", False
    except Exception as exc:  # the contract: ValueError naming the number of tokens and max_length
        error, names_both = type(exc).__name__, str(n) in str(exc) and str(m) in str(exc)
    m = _pick(g, 2, 30)
    return {"error": error, "names_both": names_both,
            "exactly_max_length": _error(lambda: Dataset(list(range(m)), m, 1)),
            "one_window": int(len(Dataset(list(range(m + 1)), m, _pick(g, 1, 5)))),
            "stride_zero": _error(lambda: Dataset(list(range(3 * m)), m, 0)),
            "max_length_zero": _error(lambda: Dataset(list(range(3 * m)), 0, 1))}


def _rows(loader):
    batches = list(loader)
    return (torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches]),
            [int(x.shape[0]) for x, _ in batches], sorted({str(t.dtype) for b in batches for t in b}))


@decides("test_dataloader_batches")
def probe_batches(ns, seed):
    create = ns["create_dataloader"]
    g = _gen(seed, 4)
    text = _text(g, _pick(g, 60, 120))
    batch, m, s = _pick(g, 2, 5), _pick(g, 3, 9), _pick(g, 2, 10)
    out = {}
    for name, drop in (("drop", True), ("keep", False)):
        x, y, sizes, dtypes = _rows(create(text, batch_size=batch, max_length=m, stride=s, shuffle=False,
                                           drop_last=drop))
        out.update({f"{name}_inputs": x, f"{name}_targets": y, f"{name}_sizes": sizes, f"{name}_dtypes": dtypes})
    # a batch size that does not divide the number of windows, so that drop_last always shows
    windows = sum(out["keep_sizes"])
    uneven = next((b for b in range(2, windows + 1) if windows % b), None)
    if uneven is not None:
        out["uneven_drop_sizes"] = _rows(create(text, batch_size=uneven, max_length=m, stride=s, shuffle=False,
                                                drop_last=True))[2]
    eot = _text(g, 8) + "<|endoftext|>" + _text(g, 20)
    out["eot_inputs"] = _rows(create(eot, batch_size=1, max_length=6, stride=3, shuffle=False))[0]
    out["too_short"] = _error(lambda: create(_text(g, 5), max_length=64))
    return out


@decides("test_dataloader_seed")
def probe_seed(ns, seed):
    create = ns["create_dataloader"]
    g = _gen(seed, 5)
    text = _text(g, _pick(g, 150, 250))
    m = _pick(g, 3, 6)

    def epoch(loader_seed, **kwargs):
        return [x.tolist() for x, _ in create(text, batch_size=2, max_length=m, stride=m, seed=loader_seed, **kwargs)]

    a, b = _pick(g, 0, 10**6), _pick(g, 0, 10**6)
    plain = epoch(None, shuffle=False)
    loader = create(text, batch_size=2, max_length=m, stride=m, seed=a)
    first = [x.tolist() for x, _ in loader]
    second = [x.tolist() for x, _ in loader]
    torch.manual_seed(seed)
    state = torch.get_rng_state()
    epoch(b)
    untouched = torch.equal(torch.get_rng_state(), state)
    rows = lambda batches: sorted(row for batch in batches for row in batch)
    return {"same_seed_same_order": epoch(a) == epoch(a), "other_seed_other_order": epoch(a) != epoch(a + 1),
            "shuffled": epoch(a) != plain, "new_order_each_pass": first != second,
            "same_windows": rows(epoch(a, drop_last=False)) == rows(epoch(None, shuffle=False, drop_last=False)),
            "global_state_untouched": untouched}


# === made-up submissions that prove the grading ===

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
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("seed-ignored")
