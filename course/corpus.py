"""Offline training text for the lessons: it ships with Python itself, nothing is downloaded.

``python_docs()`` is the text of Python's own interactive help topics (``help("assert")``
and friends), stored in the standard-library module ``pydoc_data.topics``: about 465,000
characters of English prose and code examples on Python 3.11. The exact text differs a
little between Python versions, so lessons print the numbers they quote instead of
hard-coding them.
"""

from __future__ import annotations

import codecs


def python_docs() -> str:
    """Every help topic of ``pydoc_data.topics``, in sorted order, separated by blank lines."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip() for name in sorted(topics))


def zen_of_python() -> str:
    """The Zen of Python (``import this``), decoded without printing it."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import this  # noqa: F401 (the module prints the poem on first import)
    return codecs.decode(this.s, "rot13")
