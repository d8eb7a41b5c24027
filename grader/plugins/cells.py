"""Reading cells and notebooks that may be malformed (a submission is whatever the student
handed in), and the course's own bookkeeping in a notebook's metadata (``META``)."""

from __future__ import annotations

import json

import nbformat

# Notebook metadata key where the plug-ins leave what they found for the next ones.
META = "gpt2_course"


def as_text(value) -> str:
    """A cell's source (a string, or a list of strings) as one string; anything else is ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


def metadata_of(cell) -> dict:
    """The metadata of a cell (or a notebook), {} when it has none or it is not a dict."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    return meta if isinstance(meta, dict) else {}


def nbgrader_of(cell) -> dict:
    value = metadata_of(cell).get("nbgrader")
    return value if isinstance(value, dict) else {}


def tags_of(cell) -> list:
    value = metadata_of(cell).get("tags")
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def is_grade(cell) -> bool:
    return bool(nbgrader_of(cell).get("grade"))


def cell_label(cell) -> str:
    """How notes and messages name a cell: its grade id, else its cell id."""
    return nbgrader_of(cell).get("grade_id") or cell.get("id") or "?"


def content_bytes(content: dict) -> int:
    """Roughly the bytes an output message adds to the notebook (its text or its data)."""
    if "text" in content:
        return len(str(content.get("text", "")))
    data = content.get("data")
    if not isinstance(data, dict):
        return 0
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str)) for v in data.values())


def has_error(cell) -> bool:
    return any(o.get("output_type") == "error" for o in cell.get("outputs", []))


def error_output(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def course_info(nb) -> dict:
    """The course's bookkeeping in the notebook's metadata (created if missing)."""
    info = nb.metadata.get(META)
    if not isinstance(info, dict):
        info = nb.metadata[META] = nbformat.NotebookNode()
    return info


# What a review detail or a note may contain: letters and digits of any script and a few marks.
# No '<', '>', '&', quotes, brackets, backticks, '*', '#', '!', '|' or control characters: the text
# is shown as Markdown/HTML (the review note, Formgrader, feedback) and printed to a terminal.
_PLAIN_MARKS = frozenset(" .,:;()/'+-=%?~@_")


def plain(text: str, limit: int = 500) -> str:
    """``text`` reduced to characters that are inert in Markdown, HTML and a terminal, cut at
    ``limit``. Every detail and note the course shows goes through it: most are the course's own
    words, but some quote names (of files, cells, tags) that a student chose."""
    kept = "".join(ch if (ch.isalnum() or ch in _PLAIN_MARKS) else " " for ch in str(text))
    kept = " ".join(kept.split())
    return kept[:limit] + (" ..." if len(kept) > limit else "")
