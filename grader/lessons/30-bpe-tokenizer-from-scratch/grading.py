"""Lesson 30, graded (see ``grader.trusted``).

What each part of this file is for: docs/AUTHORING.md, "grading.py".

The probes run twice on the same seed: in a sandbox against the student's solution cells (with
``gpt2ref.bpe`` withheld; SETUP defines the lesson's own ``pre_split``, which the students do not
write), and in the grader against the reference. Each probe isolates one idea, like the test it
stands behind:

- ``merge_pair``: hundreds of seeded (ids, pair) cases over a small alphabet; the input unchanged;
- ``train_ids``: the new ids 256, 257, ... and where training stops (single chunks of distinct
  bytes: exactly len - 1 merges whatever the tie-break), empty text, zero merges;
- ``train_merges``: the bytes each merge joins, merge by merge, on seeded texts (ASCII, code,
  Chinese and emoji);
- ``decode``: seeded ids (made by a trusted encoder of the probes' own, with merges learned by a
  trusted trainer of the probes' own), cut-off UTF-8, the <|endoftext|> id;
- ``encode``: the ids of seeded texts without <|endoftext|> (words, and words of random letters,
  where the order of merging shows);
- ``encode_special``: <|endoftext|> allowed ({"<|endoftext|>"}, "all") and not allowed, checked
  against the student's own encode of the pieces (so a merging slip is ``encode``'s business).

The train, encode and special probes use the student's own merge_pair, as the kernel's tests do:
a merge_pair that moves on by one after a merge costs those tests too, on both sides.

About SUBMISSIONS: Made-up submissions for lesson 30 (byte-level BPE): see grader/acceptance.py.
"""

from grader.proofs.submissions import Submission
from grader.proofs.tampering import TamperWith
from grader.trusted.prelude import _error, decides

# What this lesson asks the student to write, as names in ``gpt2ref`` ("module.name" for names
# only its submodules hold); parts the lesson provides are not listed, so they stay allowed.
GRADED = ("merge_pair", "train_bpe", "bpe.decode", "bpe.build_vocab", "bpe.encode", "bpe.encode_chunk")

WITHHELD = ("bpe",)

SETUP = '''\
from collections import Counter

import regex

GPT2_SPLIT_PATTERN = regex.compile(
    r"""'(?:[sdmt]|ll|ve|re)"""
    r"""| ?\\p{L}+"""
    r"""| ?\\p{N}+"""
    r"""| ?[^\\s\\p{L}\\p{N}]+"""
    r"""|\\s+(?!\\S)"""
    r"""|\\s+"""
)


def pre_split(text):
    """GPT-2's chunks of `text`; joined together they give back `text`."""
    return GPT2_SPLIT_PATTERN.findall(text)
'''


def reference_namespace():
    from gpt2ref import bpe

    return {"merge_pair": bpe.merge_pair, "train_bpe": bpe.train_bpe, "decode": bpe.decode, "encode": bpe.encode,
            "pre_split": bpe.pre_split}


# === probes: from here to the submissions, this text runs in the sandbox and against the reference ===
import random

import regex

_SPLIT = regex.compile(r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"
_WORDS = ["the", "model", "token", "tokens", "learns", "merge", "merges", "pair", "byte", "bytes", "it's", "we'll",
          "don't", "data", "text", "42", "2024", "3.14", "x", "=", "+", "(", ")", ":", ",", ".", "!", "?", "\n",
          "    ", "\t", "  ", "def", "return", "你好", "世界", "朋友", "机器学习", "😀", "👍🏽", "café", "naïve", "ünï",
          "½", "∑", "Hello", "World"]


def _rng(seed, salt):
    return random.Random(seed * 1000003 + salt)


def _text(rng, words):
    return "".join(rng.choice(_WORDS) + rng.choice(["", " ", " ", " ", "  "]) for _ in range(words))


def _letters(rng, words, alphabet="abcdé"):
    """Words of random letters: many overlapping merges, where the order of merging shows."""
    return " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(words))


# --- a trusted BPE of the probes' own (to make merges and ids without the student's code) -------

def _merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _train(text, num_merges):
    words = {}
    for chunk in _SPLIT.findall(text):
        words[chunk] = words.get(chunk, 0) + 1
    chunks = [list(c.encode("utf-8")) for c in words]
    freqs = list(words.values())
    merges = {}
    for i in range(num_merges):
        counts = {}
        for ids, freq in zip(chunks, freqs):
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges[best] = 256 + i
        chunks = [_merge(ids, best, 256 + i) for ids in chunks]
    return merges


def _encode_plain(text, merges):
    out = []
    for chunk in _SPLIT.findall(text):
        ids = list(chunk.encode("utf-8"))
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
            if pair not in merges:
                break
            ids = _merge(ids, pair, merges[pair])
        out.extend(ids)
    return out


def _decode(ids, merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (left, right), new_id in merges.items():
        vocab[new_id] = vocab[left] + vocab[right]
    vocab[256 + len(merges)] = EOT.encode("utf-8")
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


def _learned_pieces(merges):
    pieces = {i: bytes([i]) for i in range(256)}
    joined = []
    for (left, right), new_id in merges.items():
        joined.append([pieces.get(left, b"?").hex(), pieces.get(right, b"?").hex()])
        pieces[new_id] = pieces.get(left, b"?") + pieces.get(right, b"?")
    return joined


# --- the probes ----------------------------------------------------------------------------------

@decides("test_merge_pair")
def probe_merge_pair(ns, seed):
    merge_pair = ns["merge_pair"]
    rng = _rng(seed, 1)
    results, kept, lists = [], True, True
    for _ in range(300):
        alphabet = rng.randint(1, 4)
        ids = [rng.randrange(alphabet) for _ in range(rng.randrange(14))]
        pair = (rng.randrange(alphabet), rng.randrange(alphabet))
        before = list(ids)
        got = merge_pair(ids, pair, 90 + rng.randrange(10))
        kept = kept and ids == before
        lists = lists and isinstance(got, list)
        results.append([int(x) for x in got])
    return {"results": results, "input_kept": kept, "lists": lists}


@decides("test_train_bpe_ids")
def probe_train_ids(ns, seed):
    return _train_ids(ns["train_bpe"], seed)


def _train_ids(train_bpe, seed):
    rng = _rng(seed, 2)
    n = rng.randint(20, 60)
    merges = train_bpe(_text(rng, rng.randint(60, 120)), n)
    word = "".join(rng.sample("abcdefghijklmnopqrstuvwxyz", rng.randint(3, 12)))  # one chunk, distinct bytes
    return {"ids": [int(v) for v in merges.values()], "is_dict": isinstance(merges, dict),
            "early_stop": len(train_bpe(word, len(word) + rng.randint(1, 20))),
            "empty_text": len(train_bpe("", rng.randint(1, 5))), "zero_merges": len(train_bpe(_text(rng, 10), 0))}


@decides("test_train_bpe_merges")
def probe_train_merges(ns, seed):
    return _train_merges(ns["train_bpe"], seed)


def _train_merges(train_bpe, seed):
    rng = _rng(seed, 3)
    out = {}
    for i in range(3):
        text = _text(rng, rng.randint(80, 200))
        out[f"pieces{i}"] = _learned_pieces(train_bpe(text, rng.randint(15, 60)))
    return out


@decides("test_decode")
def probe_decode(ns, seed):
    decode = ns["decode"]
    rng = _rng(seed, 4)
    merges = _train(_text(rng, 300), rng.randint(40, 120))
    eot = 256 + len(merges)
    out = {}
    for i in range(4):
        out[f"text{i}"] = decode(_encode_plain(_text(rng, rng.randint(0, 25)), merges), merges)
    cut = list("你好😀".encode())
    out["cut"] = decode(cut[: rng.randint(1, len(cut) - 1)] + [0xFF], {})  # 0xFF is never valid UTF-8
    out["eot"] = decode(_encode_plain(_text(rng, 3), merges) + [eot] + _encode_plain(_text(rng, 3), merges), merges)
    out["eot_no_merges"] = decode([rng.randint(97, 122), 256], {})
    out["empty"] = decode([], merges)
    return out


@decides("test_encode")
def probe_encode(ns, seed):
    return _encode(ns["encode"], seed)


def _encode(encode, seed):
    rng = _rng(seed, 5)
    merges = _train(_text(rng, 300), rng.randint(40, 150))
    out = {f"ids{i}": [int(x) for x in encode(_text(rng, rng.randint(1, 40)), merges)] for i in range(4)}
    merges = _train(_letters(rng, 150), rng.randint(30, 80))
    out.update({f"letters{i}": [int(x) for x in encode(_letters(rng, 30), merges)] for i in range(2)})
    out["empty"] = encode("", merges)
    return out


@decides("test_encode_special")
def probe_encode_special(ns, seed):
    return _encode_special(ns["encode"], seed)


def _encode_special(encode, seed):
    rng = _rng(seed, 6)
    merges = _train(_text(rng, 200), rng.randint(10, 60))
    eot = 256 + len(merges)
    out = {}
    for i in range(3):
        pieces = [_text(rng, rng.randint(0, 8)) for _ in range(rng.randint(2, 4))]
        text = EOT.join(pieces)
        expected = []
        for n, piece in enumerate(pieces):
            expected += ([eot] if n else []) + list(encode(piece, merges))
        for name, allowed in (("set", {EOT}), ("all", "all")):
            out[f"allowed_{name}{i}"] = list(encode(text, merges, allowed_special=allowed)) == expected
        out[f"not_allowed{i}"] = _error(lambda: encode(text, merges))
    plain = _text(rng, 10)
    out["allowed_without_eot"] = list(encode(plain, merges, allowed_special={EOT})) == list(encode(plain, merges))
    partial = _text(rng, 3) + EOT[: rng.randint(1, len(EOT) - 1)] + _text(rng, 3)
    out["partial_is_text"] = _decode(encode(partial, merges), merges) == partial
    return out


# === made-up submissions that prove the grading ===

TIE_BREAK = "best = min(counts, key=lambda pair: (-counts[pair], pair))"

SUBMISSIONS = [
    # --- one bug each -------------------------------------------------------------------
    Submission(
        "merge-overlapping", why="merge_pair moves on by 1 after a merge, so [7, 7, 7] gives [99, 99, 7]; "
        "train_bpe (which then never runs out of pairs) and encode use merge_pair, so their tests fail too",
        fails={"test_merge_pair", "test_train_bpe_ids", "test_train_bpe_merges", "test_encode", "test_encode_special"},
        edits={"merge_pair": [("i += 2  # both ids of the pair are used up", "i += 1")]},
    ),
    Submission(
        "tie-break-largest", why="ties go to the LARGER pair",
        fails={"test_train_bpe_merges"},
        edits={"train_bpe": [(TIE_BREAK, "best = max(counts, key=lambda pair: (counts[pair], pair))")]},
    ),
    Submission(
        "tie-break-first-seen", why="max(counts, key=counts.get): ties go to the pair counted first",
        fails={"test_train_bpe_merges"},
        edits={"train_bpe": [(TIE_BREAK, "best = max(counts, key=counts.get)")]},
    ),
    Submission(
        "ids-from-255", why="the first merge gets id 255, overwriting a byte",
        fails={"test_train_bpe_ids"},
        edits={"train_bpe": [("new_id = 256 + i", "new_id = 255 + i")]},
    ),
    Submission(
        "no-early-stop", why="keeps merging after every chunk is one token: min() of an empty dict",
        fails={"test_train_bpe_ids"},
        edits={"train_bpe": [("        if not counts:\n            break\n", "")]},
    ),
    Submission(
        "train-without-pre-split", why="counts pairs over the whole text, across word boundaries",
        fails={"test_train_bpe_merges"},
        edits={"train_bpe": [("chunk_counts = Counter(pre_split(text))", "chunk_counts = Counter([text])")]},
    ),
    Submission(
        "encode-without-pre-split", why="encodes the text as one chunk, so merges cross chunk boundaries",
        fails={"test_encode"},
        edits={"encode": [("for chunk in pre_split(piece):", "for chunk in [piece]:")]},
    ),
    Submission(
        "encode-leftmost-first", why="merges the leftmost known pair instead of the earliest learned one",
        fails={"test_encode"},
        edits={"encode": [(
            'pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))',
            "pair = next((p for p in zip(ids, ids[1:]) if p in merges), None)",
        )]},
    ),
    Submission(
        "special-always-allowed", why="<|endoftext|> becomes the special id even when not allowed",
        fails={"test_encode_special"},
        edits={"encode": [('if allowed_special == "all" or special in allowed_special:', "if True:")]},
    ),
    Submission(
        "special-as-plain-text", why="never raises: <|endoftext|> is encoded as ordinary text when not allowed",
        fails={"test_encode_special"},
        edits={"encode": [("elif special in text:", "elif False:")]},
    ),
    Submission(
        "decode-strict-utf8", why='decode without errors="replace" raises on cut-off characters',
        fails={"test_decode"},
        edits={"decode": [('for i in ids).decode("utf-8", errors="replace")', 'for i in ids).decode("utf-8")')]},
    ),
    Submission(
        "decode-no-endoftext", why="the id 256 + len(merges) is missing from the table",
        fails={"test_decode"},
        edits={"decode": [('    vocab[256 + len(merges)] = "<|endoftext|>".encode("utf-8")\n', "")]},
    ),
    # --- correct, written differently -------------------------------------------------------
    Submission(
        "merge-pair-skip-flag", fails=set(), why="a for loop with a skip flag",
        cells={"merge_pair": '''def merge_pair(ids, pair, new_id):
    out, skip = [], False
    for i, token in enumerate(ids):
        if skip:
            skip = False
            continue
        if i + 1 < len(ids) and token == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            skip = True
        else:
            out.append(token)
    return out
'''},
    ),
    Submission(
        "train-all-chunks-sorted", fails=set(),
        why="no chunk deduplication; the best pair from sorting (count desc, pair asc)",
        cells={"train_bpe": '''def train_bpe(text, num_merges):
    chunks = [list(c.encode("utf-8")) for c in pre_split(text)]
    merges = {}
    for step in range(num_merges):
        counts = Counter()
        for ids in chunks:
            counts.update(zip(ids, ids[1:]))
        if not counts:
            break
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        best = ranked[0][0]
        merges[best] = 256 + step
        chunks = [merge_pair(ids, best, 256 + step) for ids in chunks]
    return merges
'''},
    ),
    Submission(
        "encode-replays-every-merge", fails=set(),
        why="applies every merge in learned order to each chunk (slow, but the same result)",
        cells={"encode": '''def encode(text, merges, allowed_special=()):
    eot = "<|endoftext|>"
    allowed = allowed_special == "all" or eot in allowed_special
    if eot in text and not allowed:
        raise ValueError("text contains <|endoftext|>, which is not allowed here")
    result = []
    for index, piece in enumerate(text.split(eot) if allowed else [text]):
        if index:
            result.append(256 + len(merges))
        for chunk in pre_split(piece):
            ids = list(chunk.encode("utf-8"))
            for pair, new_id in merges.items():
                if len(ids) < 2:
                    break
                ids = merge_pair(ids, pair, new_id)
            result += ids
    return result
'''},
    ),
    Submission(
        "decode-recursive", fails=set(), why="expands merged ids recursively instead of building a table",
        cells={"decode": '''def decode(ids, merges):
    parts = {new_id: pair for pair, new_id in merges.items()}
    eot = 256 + len(merges)

    def expand(token):
        if token < 256:
            return bytes([token])
        if token == eot:
            return b"<|endoftext|>"
        left, right = parts[token]
        return expand(left) + expand(right)

    return b"".join(expand(t) for t in ids).decode("utf-8", "replace")
'''},
    ),
]

# The shared tampering submissions (grader/proofs/tampering.py), built on a one-bug mutant of this lesson.
TAMPERING = TamperWith("tie-break-largest")
