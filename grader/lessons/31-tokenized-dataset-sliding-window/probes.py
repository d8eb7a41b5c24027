"""Lesson 31, checked from outside the student's kernel (see ``grader/trusted.py``).

PROBE_CODE runs twice on the same seed: in a sandbox against the student's solution cells (with
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
"""

WITHHELD = ("dataset",)

SETUP = """\
import tiktoken
import torch
from torch.utils.data import DataLoader, Dataset
"""

# test grade id -> the probes that must agree with the reference for it to keep its points
TESTS = {
    "test_window_count": ["count"],
    "test_window_content": ["content"],
    "test_short_text": ["short"],
    "test_dataloader_batches": ["batches"],
    "test_dataloader_seed": ["seed"],
}


def reference_namespace():
    import gpt2ref

    class SlidingWindowDataset(gpt2ref.SlidingWindowDataset):
        """The reference, with the lesson's index contract: only 0 .. len - 1."""

        def __getitem__(self, index):
            if not 0 <= index < len(self):
                raise IndexError(f"window {index} out of range for {len(self)} windows")
            return super().__getitem__(index)

    return {"SlidingWindowDataset": SlidingWindowDataset, "create_dataloader": gpt2ref.create_dataloader}


PROBE_CODE = r'''
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


def probe_count(ns, seed):
    Dataset = ns["SlidingWindowDataset"]
    g = _gen(seed, 1)
    lengths = [len(Dataset(list(range(n)), m, s)) for n, m, s in _configs(g, 12)]
    n, m, s = _configs(g, 1)[0]
    lengths.append(len(Dataset(torch.arange(n), m, s)))
    return {"lengths": [int(x) for x in lengths]}


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
'''
