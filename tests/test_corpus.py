"""The parser-level guarantee over feedparser's 2,107-file test corpus: every file goes through
parse_feed, via real worker processes on both cores, without an exception and within a time bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timezone
from pathlib import Path

import pytest

from bot.parse import ParsedFeed
from bot.parser_pool import ParserPool
from tests.support.corpus import CORPUS, corpus_files, http_headers, require_corpus

PER_FILE_SECONDS = 5.0  # the slowest file takes ~20 ms; this only catches a runaway parse
BASE_URL = "http://127.0.0.1:8097/"  # where feedparser's own tests pretend to serve the files


@pytest.fixture(autouse=True)
def _corpus() -> None:
    require_corpus()


async def parse_all(files: list[Path]) -> dict[Path, tuple[ParsedFeed, float]]:
    """Parse every file through a two-worker pool, timing each parse from dispatch to result."""
    results: dict[Path, tuple[ParsedFeed, float]] = {}
    async with ParserPool(2, inline_below=0) as pool:
        in_flight = asyncio.Semaphore(4)  # keeps both workers busy without queueing for long

        async def one(path: Path) -> None:
            body = path.read_bytes()
            async with in_flight:
                started = time.perf_counter()
                feed = await pool.parse(body, http_headers(path, body), BASE_URL + path.relative_to(CORPUS).as_posix())
                results[path] = (feed, time.perf_counter() - started)

        await asyncio.gather(*(one(path) for path in files))
    return results


def check_entries(feed: ParsedFeed) -> list[str]:
    """Invariants every parsed entry must hold, whatever the input looked like."""
    problems = []
    for e in feed.entries:
        if not e.key.startswith(("guid:", "link:", "hash:")):
            problems.append(f"bad key {e.key!r}")
        if e.published is not None and (e.published.tzinfo is not timezone.utc or not 1990 <= e.published.year <= 2100):
            problems.append(f"bad date {e.published!r}")
        if e.title != e.title.strip() or "  " in e.title or len(e.summary) > 2000:
            problems.append(f"uncollapsed or long text {e.title!r}")
        if e.link_key is not None and not e.link_key.startswith(("http://", "https://")):
            problems.append(f"bad link key {e.link_key!r}")
        if any(not c or c != c.strip() for c in e.categories):
            problems.append(f"bad categories {e.categories!r}")
    return problems


async def test_every_corpus_file_parses() -> None:
    files = corpus_files()
    assert len(files) >= 2000, f"corpus looks incomplete: {len(files)} files"
    started = time.perf_counter()
    results = await parse_all(files)
    elapsed = time.perf_counter() - started

    assert len(results) == len(files)
    slow = {str(p): round(t, 2) for p, (_, t) in results.items() if t > PER_FILE_SECONDS}
    assert not slow, f"files over {PER_FILE_SECONDS}s: {slow}"
    # The boundary catch-all and the per-entry skip exist for hostile input; in this corpus they
    # would only ever hide a bug of ours.
    hidden = {str(p): f.bozo_reason for p, (f, _) in results.items()
              if f.bozo_reason and (f.bozo_reason.startswith("parser failed") or "unreadable" in f.bozo_reason)}
    assert not hidden, hidden
    broken = {str(p): problems for p, (f, _) in results.items() if (problems := check_entries(f))}
    assert not broken, broken

    by_folder: Counter[str] = Counter()
    for path, (feed, _) in results.items():
        folder = path.relative_to(CORPUS).parts[0]
        by_folder[folder] += 1
        by_folder[folder + ":feed"] += feed.is_feed
        by_folder[folder + ":bozo"] += feed.bozo
        by_folder[folder + ":titled"] += bool(feed.title or any(e.title for e in feed.entries))
    wellformed_non_cdf = [f for p, (f, _) in results.items()
                          if p.relative_to(CORPUS).parts[:2] != ("wellformed", "cdf") and "wellformed" in p.parts]
    # Well-formed files are feeds (bar 9 obsolete CDF snippets with no items) and none is bozo,
    # even the HTTP cases parsed with their headers.
    assert all(f.is_feed for f in wellformed_non_cdf)
    assert by_folder["wellformed:bozo"] == 0, by_folder
    # Each entity test puts one named HTML entity in a title: almost all must survive as text.
    assert by_folder["entities:titled"] >= 0.95 * by_folder["entities"], by_folder
    assert by_folder["entities:bozo"] == by_folder["entities"]  # undefined in XML, so bozo, yet read
    assert by_folder["illformed:feed"] >= by_folder["illformed"] - 1, by_folder  # all but the empty one
    assert elapsed < 60, f"corpus took {elapsed:.1f}s"
