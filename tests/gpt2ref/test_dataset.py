"""Tests of gpt2ref/dataset.py (lesson 31): sliding windows and the DataLoader.

Window counts are checked against a brute-force enumeration of start positions, window
contents against plain list slicing, token ids against tiktoken.
"""

from __future__ import annotations

import pytest
import tiktoken
import torch

from gpt2ref.dataset import SlidingWindowDataset, create_dataloader, num_windows


def brute_force_starts(num_tokens, max_length, stride):
    """Every start s = 0, stride, 2*stride, ... whose window of max_length + 1 tokens fits."""
    starts, s = [], 0
    while s + max_length + 1 <= num_tokens:
        starts.append(s)
        s += stride
    return starts


TRIPLES = [(10, 4, 1), (10, 4, 2), (10, 4, 4), (10, 4, 5), (9, 4, 4), (5, 4, 4), (5, 4, 1),
           (100, 7, 3), (101, 10, 10), (1000, 256, 128), (1000, 256, 256), (257, 256, 300)]


@pytest.mark.parametrize("n, max_length, stride", TRIPLES)
def test_window_count_matches_brute_force(n, max_length, stride):
    expected = len(brute_force_starts(n, max_length, stride))
    assert num_windows(n, max_length, stride) == expected
    assert len(SlidingWindowDataset(list(range(n)), max_length, stride)) == expected


def test_window_count_hand_values():
    # 10 tokens, windows of 5 (4 inputs + 1 shift): starts 0,2,4 with stride 2; 0,4 with stride 4
    assert len(SlidingWindowDataset(list(range(10)), 4, 2)) == 3
    assert len(SlidingWindowDataset(list(range(10)), 4, 4)) == 2
    assert len(SlidingWindowDataset(list(range(5)), 4, 4)) == 1


@pytest.mark.parametrize("n, max_length, stride", TRIPLES)
def test_windows_are_slices_and_targets_are_shifted(n, max_length, stride):
    ids = [(7 * i + 3) % 50257 for i in range(n)]
    ds = SlidingWindowDataset(ids, max_length, stride)
    for i, start in enumerate(brute_force_starts(n, max_length, stride)):
        x, y = ds[i]
        assert x.dtype == torch.long and y.dtype == torch.long
        assert x.shape == (max_length,) and y.shape == (max_length,)
        assert x.tolist() == ids[start : start + max_length]
        assert y.tolist() == ids[start + 1 : start + max_length + 1]
        assert torch.equal(x[1:], y[:-1])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_overlap_between_neighbours():
    ds = SlidingWindowDataset(list(range(100)), 8, 3)
    (x0, _), (x1, _) = ds[0], ds[1]
    assert x0[3:].tolist() == x1[:5].tolist()  # 8 - 3 = 5 shared tokens
    side_by_side = SlidingWindowDataset(list(range(100)), 8, 8)
    seen = [t for i in range(len(side_by_side)) for t in side_by_side[i][0].tolist()]
    assert len(seen) == len(set(seen))  # stride = max_length: no token is an input twice


def test_accepts_a_tensor_and_keeps_one_copy():
    ids = torch.arange(50, dtype=torch.int32)
    ds = SlidingWindowDataset(ids, 4, 2)
    x, y = ds[3]
    assert x.tolist() == [6, 7, 8, 9] and y.tolist() == [7, 8, 9, 10]
    assert x.dtype == torch.long
    assert x.untyped_storage().data_ptr() == ds[0][0].untyped_storage().data_ptr()


def test_short_text_and_bad_arguments_raise():
    with pytest.raises(ValueError) as info:
        SlidingWindowDataset(list(range(7)), 12, 1)
    assert "7" in str(info.value) and "12" in str(info.value)
    with pytest.raises(ValueError):
        SlidingWindowDataset(list(range(4)), 4, 1)  # needs 5 tokens
    with pytest.raises(ValueError):
        SlidingWindowDataset(list(range(10)), 4, 0)
    with pytest.raises(ValueError):
        SlidingWindowDataset(list(range(10)), 0, 1)


TEXT = " ".join(f"Sentence number {i} is about token windows." for i in range(60))


def test_dataloader_batches_follow_tiktoken():
    ids = tiktoken.get_encoding("gpt2").encode(TEXT)
    loader = create_dataloader(TEXT, batch_size=3, max_length=8, stride=8, shuffle=False)
    batches = list(loader)
    windows = brute_force_starts(len(ids), 8, 8)
    assert len(batches) == len(windows) // 3  # drop_last
    for b, (x, y) in enumerate(batches):
        assert x.shape == (3, 8) and y.shape == (3, 8) and x.dtype == torch.long
        for row in range(3):
            start = windows[3 * b + row]
            assert x[row].tolist() == ids[start : start + 8]
            assert y[row].tolist() == ids[start + 1 : start + 9]
    kept = list(create_dataloader(TEXT, batch_size=3, max_length=8, stride=8, shuffle=False, drop_last=False))
    assert len(kept) == -(-len(windows) // 3)
    assert kept[-1][0].shape[0] == len(windows) - 3 * (len(kept) - 1)


def test_dataloader_seed_makes_the_order_reproducible():
    def order(seed):
        return [x for x, _ in create_dataloader(TEXT, batch_size=2, max_length=6, stride=6, seed=seed)]

    first, again, other = order(0), order(0), order(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    # shuffled, not sorted: the same windows in another order
    plain = [x for x, _ in create_dataloader(TEXT, batch_size=2, max_length=6, stride=6, shuffle=False)]
    assert sorted(map(tuple, torch.cat(first).tolist())) == sorted(map(tuple, torch.cat(plain).tolist()))
    assert torch.cat(first).tolist() != torch.cat(plain).tolist()


def test_dataloader_seed_does_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    list(create_dataloader(TEXT, batch_size=2, max_length=6, stride=6, seed=5))
    assert torch.equal(torch.rand(3), expected)


def test_dataloader_encodes_endoftext_as_its_id():
    text = "first document.<|endoftext|>second document, a bit longer than the first."
    x, y = next(iter(create_dataloader(text, batch_size=1, max_length=4, stride=1, shuffle=False)))
    ids = tiktoken.get_encoding("gpt2").encode(text, allowed_special="all")
    assert 50256 in ids
    assert x[0].tolist() == ids[:4]


def test_dataloader_short_text_error():
    with pytest.raises(ValueError, match="256"):
        create_dataloader("far too short", max_length=256)
