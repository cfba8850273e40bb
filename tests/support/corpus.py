"""Where feedparser's real-world corpus lives (``../shared/corpus/feedparser``) and how its files are served.

Under CI (``CI`` set) a missing corpus is an error, not a skip, so a broken checkout cannot pass quietly.
"""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "feedparser"
_HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.M)
_BOMS = ((codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_BE, "utf-16"), (codecs.BOM_UTF16_LE, "utf-16"))


def require_corpus() -> None:
    """Skip locally when the corpus is absent (e.g. a clone in /tmp); fail under CI."""
    if CORPUS.is_dir():
        return
    if os.environ.get("CI"):
        pytest.fail(f"feedparser corpus not found at {CORPUS} (CI must run with shared/ beside the clone)")
    pytest.skip(f"feedparser corpus not found at {CORPUS}")


def corpus_files() -> list[Path]:
    """Every data file of the corpus (its README is ours, not a test case)."""
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")


def http_headers(path: Path, body: bytes) -> dict[str, str]:
    """The "Header:" lines that feedparser's tests send as HTTP headers for files under an http path."""
    if "http" not in path.relative_to(CORPUS).as_posix():
        return {}
    encoding = next((name for bom, name in _BOMS if body.startswith(bom)), "latin-1")
    text = body.decode(encoding, "replace")
    return {name.strip().lower(): value.strip() for name, value in _HEADER.findall(text)}
