"""Tests of gpt2ref/bpe.py (lesson 30): a byte-level BPE tokenizer.

Expected values come from hand calculation, from a deliberately naive re-implementation
written here, or from tiktoken's GPT-2 encoding (which the reference must reproduce exactly
when it is given GPT-2's own merges).
"""

from __future__ import annotations

import functools

import pytest
import regex
import tiktoken

from gpt2ref import bpe

A, B, C, D, SP = ord("a"), ord("b"), ord("c"), ord("d"), ord(" ")

SAMPLES = [
    "Hello, world",
    "",
    "plain ASCII: don't stop, we'll see 3.14159 + 2 == 5.14159!",
    "def f(x):\n    return x  # four spaces\n\n\n    \tdone  \n",
    "机器学习把文本切成 token。你好,世界!",
    "emoji 😀👍🏽 and family 👨‍👩‍👧",
    "Ünïcödé — naïve café ½ ∑ x² «quotes»",
    "   leading spaces and trailing   ",
]


@functools.lru_cache(maxsize=1)
def gpt2():
    return tiktoken.get_encoding("gpt2")


@functools.lru_cache(maxsize=1)
def gpt2_merges():
    return bpe.load_gpt2_merges()


# --- pre_split ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", SAMPLES)
def test_pre_split_covers_the_text_and_matches_tiktokens_pattern(text):
    chunks = bpe.pre_split(text)
    assert "".join(chunks) == text
    # tiktoken's own (possessive) spelling of GPT-2's pattern must cut the same chunks.
    assert chunks == regex.findall(gpt2()._pat_str, text)


def test_pre_split_examples():
    assert bpe.pre_split("Hello, world") == ["Hello", ",", " world"]
    assert bpe.pre_split("it's 2024!!") == ["it", "'s", " 2024", "!!"]
    assert bpe.pre_split("a   b") == ["a", "  ", " b"]  # the last space joins the word
    assert bpe.pre_split("你好 世界") == ["你好", " 世界"]


@pytest.mark.parametrize("text", SAMPLES)
def test_gpt2_tokens_never_cross_a_chunk_boundary(text):
    boundaries = set()
    position = 0
    for chunk in bpe.pre_split(text):
        position += len(chunk.encode("utf-8"))
        boundaries.add(position)
    token_ends = set()
    position = 0
    for token in gpt2().encode(text):
        position += len(gpt2().decode_single_token_bytes(token))
        token_ends.add(position)
    assert boundaries <= token_ends


# --- merge_pair --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ids, pair, expected",
    [
        ([1, 2, 3, 1, 2], (1, 2), [99, 3, 99]),
        ([7, 7, 7], (7, 7), [99, 7]),  # left to right, no overlap
        ([7, 7, 7, 7], (7, 7), [99, 99]),
        ([1, 2], (2, 1), [1, 2]),  # order matters
        ([5, 1, 2], (1, 2), [5, 99]),  # pair at the very end
        ([1], (1, 2), [1]),
        ([], (1, 2), []),
    ],
)
def test_merge_pair(ids, pair, expected):
    original = list(ids)
    assert bpe.merge_pair(ids, pair, 99) == expected
    assert ids == original  # the input list is left alone


# --- train_bpe ---------------------------------------------------------------------------


def test_train_bpe_by_hand_with_the_tie_break():
    # "aaabdaaabac" is one chunk. Counts: (a,a)=4 -> 256. Then (a,b)=2 and (256,a)=2 tie:
    # the smaller tuple (97, 98) wins -> 257. Then (256,257)=2 -> 258. Then four pairs
    # with count 1: (258,100), (100,258), (258,97), (97,99): the smallest is (97, 99).
    merges = bpe.train_bpe("aaabdaaabac", 4)
    assert list(merges.items()) == [((A, A), 256), ((A, B), 257), ((256, 257), 258), ((A, C), 259)]


def test_train_bpe_counts_pairs_inside_chunks_only_and_stops_early():
    # Chunks "ab" and " ab": (a,b) twice -> 256; then (" ", 256) -> 257; then every chunk is
    # one token, so training stops after 2 merges although 5 were asked for.
    merges = bpe.train_bpe("ab ab", 5)
    assert list(merges.items()) == [((A, B), 256), ((SP, 256), 257)]
    # "b a" would be a pair across the chunk boundary: it is never counted.
    assert (B, SP) not in bpe.train_bpe("ab ab ab", 10)


def test_train_bpe_edge_cases():
    assert bpe.train_bpe("", 10) == {}
    assert bpe.train_bpe("hello", 0) == {}
    with pytest.raises(ValueError):
        bpe.train_bpe("hello", -1)


def naive_train(text, num_merges):
    """An independent, slow BPE trainer: whole chunk list, sorted candidates, no shortcuts."""
    chunks = [list(c.encode("utf-8")) for c in regex.findall(gpt2()._pat_str, text)]
    merges = []
    for step in range(num_merges):
        counts = {}
        for ids in chunks:
            for i in range(len(ids) - 1):
                counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
        if not counts:
            break
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))
        best = ranked[0][0]
        merges.append((best, 256 + step))
        new_chunks = []
        for ids in chunks:
            out, i = [], 0
            while i < len(ids):
                if ids[i : i + 2] == list(best):
                    out.append(256 + step)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            new_chunks.append(out)
        chunks = new_chunks
    return merges


def test_train_bpe_matches_a_naive_trainer_and_is_deterministic():
    from course.corpus import python_docs

    text = python_docs()[:6000] + "\n" + SAMPLES[4] * 3 + SAMPLES[5]
    merges = bpe.train_bpe(text, 120)
    assert list(merges.items()) == naive_train(text, 120)
    assert list(bpe.train_bpe(text, 120).items()) == list(merges.items())
    # one new id per merge, consecutive from 256
    assert list(merges.values()) == list(range(256, 256 + 120))
    assert len(bpe.build_vocab(merges)) == 256 + 120 + 1


def test_trained_merges_compress_their_training_text():
    from course.corpus import python_docs

    text = python_docs()[:20000]
    merges = bpe.train_bpe(text, 200)
    ids = bpe.encode(text, merges)
    assert len(ids) < 0.6 * len(text.encode("utf-8"))
    assert bpe.decode(ids, merges) == text


# --- encode / decode: GPT-2's merges must give tiktoken's ids ------------------------------


def test_gpt2_byte_order_matches_tiktoken():
    order = bpe.gpt2_byte_order()
    assert sorted(order) == list(range(256))
    for gpt2_id, byte in enumerate(order):
        assert gpt2().decode_single_token_bytes(gpt2_id) == bytes([byte])
    assert order[0] == ord("!") and order.index(SP) == 220


def test_gpt2_merges_build_gpt2s_vocabulary():
    merges = gpt2_merges()
    assert len(merges) == 50_000
    assert list(merges.values()) == list(range(256, 50256))
    vocab = bpe.build_vocab(merges)
    for token_id in [256, 257, 1000, 15496, 31373, 50255]:
        assert vocab[token_id] == gpt2().decode_single_token_bytes(token_id)
    assert bpe.endoftext_id(merges) == gpt2().eot_token == 50256


@pytest.mark.parametrize("text", SAMPLES)
def test_encode_with_gpt2_merges_equals_tiktoken(text):
    ours = bpe.encode(text, gpt2_merges())
    assert bpe.to_gpt2_ids(ours) == gpt2().encode(text)


def test_encode_longer_text_equals_tiktoken():
    from course.corpus import python_docs

    text = python_docs()[100_000:130_000]
    assert bpe.to_gpt2_ids(bpe.encode(text, gpt2_merges())) == gpt2().encode(text)


def test_hello_world_ids():
    assert bpe.to_gpt2_ids(bpe.encode("Hello, world", gpt2_merges())) == [15496, 11, 995]


# --- the special token -----------------------------------------------------------------------


def test_endoftext_is_rejected_unless_allowed():
    merges = bpe.train_bpe("hello world, hello there", 5)
    text = "hi<|endoftext|>there"
    with pytest.raises(ValueError, match="endoftext"):
        bpe.encode(text, merges)
    with pytest.raises(ValueError):
        gpt2().encode(text)  # tiktoken's default behaves the same
    eot = 256 + 5
    for allowed in ({"<|endoftext|>"}, "all"):
        ids = bpe.encode(text, merges, allowed_special=allowed)
        assert ids == bpe.encode("hi", merges) + [eot] + bpe.encode("there", merges)
        assert bpe.decode(ids, merges) == text
    with pytest.raises(ValueError):
        bpe.encode("x", merges, allowed_special={"<|im_start|>"})


@pytest.mark.parametrize(
    "text", ["<|endoftext|>", "a<|endoftext|><|endoftext|>b", "end.<|endoftext|>\n\nNew doc 你好"]
)
def test_allowed_endoftext_equals_tiktoken(text):
    ours = bpe.encode(text, gpt2_merges(), allowed_special={"<|endoftext|>"})
    assert bpe.to_gpt2_ids(ours) == gpt2().encode(text, allowed_special={"<|endoftext|>"})


# --- decode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip(text):
    merges = bpe.train_bpe(" ".join(SAMPLES) * 2, 60)
    assert bpe.decode(bpe.encode(text, merges), merges) == text
    assert bpe.decode(bpe.encode(text, gpt2_merges()), gpt2_merges()) == text


def test_decode_bytes_and_broken_utf8():
    assert bpe.decode([], {}) == ""
    assert bpe.decode([72, 105], {}) == "Hi"
    half = list("你".encode())[:2]  # two of the three bytes of one character
    assert bpe.decode(half, {}) == "\ufffd"
    assert bpe.decode([104, 0xFF, 105], {}) == "h\ufffdi"
    # tiktoken replaces broken bytes the same way
    assert gpt2().decode([bpe.to_gpt2_ids([0xFF])[0]]) == "\ufffd"
    assert bpe.decode([256], {}) == "<|endoftext|>"  # no merges: <|endoftext|> is 256
    with pytest.raises(KeyError):
        bpe.decode([257], {})


def test_decode_merged_ids_by_hand():
    merges = {(A, B): 256, (256, C): 257}
    assert bpe.build_vocab(merges)[257] == b"abc"
    assert bpe.decode([257, 256, A, 258], merges) == "abcaba<|endoftext|>"
