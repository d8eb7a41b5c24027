"""Made-up submissions for lesson 30 (byte-level BPE): see grader/acceptance.py."""

from grader.submissions import Submission

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
    # --- tampering: test cells retyped or deleted come back from the source ----------------
    Submission(
        "tamper-pass-tie-break", why="test cell retyped to `pass`, with a wrong tie-break",
        fails={"test_train_bpe_merges"},
        cells={"test_train_bpe_merges": "pass"},
        edits={"train_bpe": [(TIE_BREAK, "best = max(counts, key=lambda pair: (counts[pair], pair))")]},
    ),
    Submission(
        "tamper-delete-special-test", why="test cell deleted, with <|endoftext|> always allowed",
        fails={"test_encode_special"},
        delete=["test_encode_special"],
        edits={"encode": [('if allowed_special == "all" or special in allowed_special:', "if True:")]},
    ),
]
