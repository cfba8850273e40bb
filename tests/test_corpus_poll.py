"""Every file of feedparser's real-world corpus, served over loopback HTTP and polled by the real poller.

The guarantee: no exception escapes, nothing hangs, every feed gets an outcome, and a second poll of
the unchanged server costs only conditional requests.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from bot.clock import FakeClock
from bot.config import load_config
from bot.fetch import FetchPolicy, HttpFetcher
from bot.parser_pool import ParserPool
from bot.poller import Poller
from bot.store import Store
from tests.conftest import REPO
from tests.support.corpus import CORPUS, corpus_files, http_headers, require_corpus
from tests.support.feedserver import FeedServer

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
POLICY = FetchPolicy(allowed_networks=("127.0.0.1",), connect_timeout=5, read_timeout=5, total_timeout=15,
                     max_connections=32, per_host=32)


async def test_every_corpus_file_served_and_polled(tmp_path: Path) -> None:
    require_corpus()
    files = corpus_files()
    with FeedServer() as server:
        lines = []
        for n, path in enumerate(files):
            body = path.read_bytes()
            headers = http_headers(path, body)
            route = f"/c/{n}"
            server.add(route, body, content_type=headers.pop("content-type", "application/xml"),
                       headers={k: v for k, v in headers.items() if k not in ("content-length", "content-encoding",
                                                                            "transfer-encoding", "etag", "last-modified")})
            lines += ["[[feed]]", f'id = "c{n}"', f'url = "{server.url(route)}"']
        (tmp_path / "feeds.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp_path / "commitments.toml").write_text((REPO / "commitments.toml").read_text(encoding="utf-8"), encoding="utf-8")
        config = load_config(tmp_path)
        clock = FakeClock(NOW)
        store = Store.open(tmp_path / "state.sqlite3")
        try:
            async with HttpFetcher(POLICY, clock=clock) as fetcher, ParserPool(2) as parser:
                poller = Poller(store, fetcher, parser, clock, config, random.Random(1))
                first = await asyncio.wait_for(poller.poll(config.feeds.feeds), timeout=240)
                second = await asyncio.wait_for(poller.poll(config.feeds.feeds), timeout=240)
        finally:
            integrity = store.integrity_ok()
            store.close()
    assert len(first.outcomes) == len(files) and integrity
    internal = [o for o in first.outcomes + second.outcomes if o.reason and o.reason.startswith("internal error")]
    assert internal == [], internal[:5]
    results = Counter(o.result for o in first.outcomes)
    # Most corpus files are feeds; the rest (HTML pages, empty documents, JSON) fail cleanly with a reason.
    assert results["ok"] > 0.8 * len(files), results
    assert all(o.reason for o in first.outcomes if o.result == "failed")
    repeat = Counter(o.result for o in second.outcomes)
    assert repeat["not modified"] + repeat["skipped"] == len(files), repeat
    assert CORPUS.is_dir()
