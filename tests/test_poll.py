"""The poller end to end against a loopback feed server: real HTTP, real parsing, a real SQLite file."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import load_config
from bot.fetch import FetchPolicy, HttpFetcher
from bot.history import also_reported_by
from bot.parse import ParsedFeed
from bot.parser_pool import ParserPool
from bot.poller import Poller, PollSummary
from bot.store import Store
from tests.support.feedserver import FeedServer
from tests.support.fixtures import LOOPBACK_POLICY, REFUGEES, SHARED_VISION
from tests.support.rss import Item, rss

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
FRESH = NOW - timedelta(hours=3)

COMMITMENTS = f'''
timezone = "Asia/Karachi"
{SHARED_VISION}
[[commitment]]
id = "trade"
agreement = "sv"
title = "Expand transit trade"
keywords = ['(trade OR transit OR APTTA) NOT (cricket OR T20 OR "world cup")']
[[commitment]]
id = "intel"
agreement = "sv"
title = "Joint intelligence work"
deadline = 2020-12-15
keywords = ['"joint intelligence"', 'NEAR(intelligence Kabul, 4)']
{REFUGEES}'''


class CountingParser:
    """The real parser, counting how often it is asked to parse (to prove 304s parse nothing) and keeping results."""

    def __init__(self) -> None:
        self.pool = ParserPool(0)
        self.calls = 0
        self.results: list[ParsedFeed] = []

    async def parse(self, body: bytes, headers: Mapping[str, str], url: str, known: Collection[bytes] = ()) -> ParsedFeed:
        self.calls += 1
        self.results.append(result := await self.pool.parse(body, headers, url, known))
        return result


@dataclass
class Env:
    server: FeedServer
    store: Store
    clock: FakeClock
    parser: CountingParser
    poller: Poller
    dir: Path

    async def poll(self, force: bool = False) -> PollSummary:
        return await self.poller.poll([f for f in self.poller.config.feeds.feeds if f.enabled], force=force)

    def reload(self) -> None:
        self.poller.configure(load_config(self.dir))


def write_feeds(directory: Path, server: FeedServer, feeds: Mapping[str, str], extra: Mapping[str, str] = {}) -> None:
    lines = ['backfill = "2d"']
    for feed_id, path in feeds.items():
        lines += ["[[feed]]", f'id = "{feed_id}"', f'url = "{server.url(path)}"', f'name = "{feed_id.title()} News"']
        if feed_id in extra:
            lines.append(extra[feed_id])
    (directory / "feeds.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@asynccontextmanager
async def environment(tmp_path: Path, feeds: Mapping[str, str], extra: Mapping[str, str] = {},
                      server: FeedServer | None = None) -> AsyncIterator[Env]:
    own = server is None
    server = server or FeedServer()
    (tmp_path / "commitments.toml").write_text(COMMITMENTS, encoding="utf-8")
    write_feeds(tmp_path, server, feeds, extra)
    store = Store.open(tmp_path / "state.sqlite3")
    clock = FakeClock(NOW)
    try:
        async with HttpFetcher(LOOPBACK_POLICY, clock=clock) as fetcher:
            parser = CountingParser()
            poller = Poller(store, fetcher, parser, clock, load_config(tmp_path), random.Random(1))
            yield Env(server, store, clock, parser, poller, tmp_path)
    finally:
        store.close()
        if own:
            server.stop()


def by_feed(summary: PollSummary) -> dict:
    return {o.feed_id: o for o in summary.outcomes}


async def test_first_poll_backfill_then_only_new_entries(tmp_path):
    old = NOW - timedelta(days=5)
    items = [Item("Old transit trade deal signed", "https://n.example/old", "g-old", old),
             Item("Torkham transit trade reopens", "https://n.example/1", "g1", FRESH),
             Item("Weather in Lahore", "https://n.example/2", "g2", FRESH)]
    async with environment(tmp_path, {"dawn": "/dawn.xml"}) as env:
        env.server.add("/dawn.xml", rss(items))
        summary = await env.poll()
        outcome = by_feed(summary)["dawn"]
        assert outcome.result == "ok" and outcome.new_entries == 3
        assert [(m.commitment_id, m.title) for m in summary.matches] == [("trade", "Torkham transit trade reopens")]
        assert summary.matches[0].terms == ("transit", "trade")
        backfilled = env.store.query("SELECT backfill FROM matches m JOIN entries e ON e.id = m.entry_id WHERE e.key = 'guid:g-old'")
        assert [r[0] for r in backfilled] == [1]  # recorded, not posted

        env.server.update("/dawn.xml", rss([Item("Refugees return via Chaman", "https://n.example/3", "g3", NOW), *items]))
        env.clock.advance(timedelta(hours=1))
        summary = await env.poll()
        assert by_feed(summary)["dawn"].new_entries == 1
        assert [m.commitment_id for m in summary.matches] == ["refugees"]


async def test_unchanged_feed_costs_one_304_and_no_parse(tmp_path):
    async with environment(tmp_path, {"dawn": "/dawn.xml"}) as env:
        env.server.add("/dawn.xml", rss([Item("Transit trade", "https://n.example/1", "g1", FRESH)]))
        await env.poll()
        assert env.parser.calls == 1
        summary = await env.poll()
        assert by_feed(summary)["dawn"].result == "not modified" and env.parser.calls == 1
        sent = env.server.last_headers("/dawn.xml")
        assert sent.get("if-none-match") and sent.get("if-modified-since")


async def test_same_body_without_validators_is_not_parsed_again(tmp_path):
    async with environment(tmp_path, {"plain": "/plain.xml"}) as env:
        env.server.add("/plain.xml", rss([Item("Transit trade", "https://n.example/1", "g1", FRESH)]),
                       etag=False, last_modified=None)
        await env.poll()
        summary = await env.poll()
        assert by_feed(summary)["plain"].result == "unchanged" and env.parser.calls == 1


async def test_guid_that_changes_every_fetch_is_not_new(tmp_path):
    counter = itertools.count()
    body = lambda: rss([Item("Transit trade talks", "https://n.example/a?utm_source=x", f"random-{next(counter)}", FRESH)])  # noqa: E731
    async with environment(tmp_path, {"churn": "/churn.xml"}) as env:
        env.server.add("/churn.xml", body, etag=False, last_modified=None)
        first = await env.poll()
        second = await env.poll()
        assert by_feed(first)["churn"].new_entries == 1 and len(first.matches) == 1
        assert by_feed(second)["churn"].result == "ok" and by_feed(second)["churn"].new_entries == 0
        assert second.matches == []


async def test_one_story_across_feeds_is_posted_once(tmp_path):
    async with environment(tmp_path, {"dawn": "/dawn.xml", "tribune": "/tribune.xml", "geo": "/geo.xml"}) as env:
        env.server.add("/dawn.xml", rss([Item("Pakistan, Afghanistan agree on transit trade", "https://wire.example/s1", "d1", FRESH)]))
        env.server.add("/tribune.xml", rss([Item("Pakistan, Afghanistan agree on transit trade",
                                                 "https://wire.example/s1?utm_campaign=rss", "t1", FRESH)]))
        env.server.add("/geo.xml", rss([Item("PAKISTAN-AFGHANISTAN AGREE ON TRANSIT TRADE!", "https://geo.example/x", "g1",
                                             FRESH + timedelta(hours=5))]))
        summary = await env.poll()
        assert len(summary.matches) == 1
        story = summary.matches[0].story_id
        assert sorted(also_reported_by(env.store, story) + [summary.matches[0].feed_id]) == ["dawn", "geo", "tribune"]
        assert env.store.query("SELECT COUNT(*) FROM stories")[0][0] == 1


async def test_feed_level_keyword_filter_applies_first(tmp_path):
    async with environment(tmp_path, {"world": "/world.xml"}, {"world": "keywords = ['Pakistan OR Afghanistan']"}) as env:
        env.server.add("/world.xml", rss([Item("EU transit trade rules change", "https://w.example/1", "w1", FRESH),
                                          Item("Afghanistan transit trade via Gwadar", "https://w.example/2", "w2", FRESH)]))
        summary = await env.poll()
        assert [m.title for m in summary.matches] == ["Afghanistan transit trade via Gwadar"]


async def test_matching_excludes_sport_and_handles_script_and_proximity(tmp_path):
    items = [Item("Pakistan beat Afghanistan in T20 cricket thriller, trade barbs", "https://s.example/1", "s1", FRESH),
             Item("پاکستان سے افغان مہاجرین کی واپسی", "https://s.example/2", "s2", FRESH),
             Item("Intelligence chiefs meet in Kabul", "https://s.example/3", "s3", FRESH,
                  summary="Talks on joint intelligence work"),
             Item("Kabul hosts a big regional conference on water; intelligence was not on the agenda",
                  "https://s.example/4", "s4", FRESH)]
    async with environment(tmp_path, {"mix": "/mix.xml"}) as env:
        env.server.add("/mix.xml", rss(items))
        summary = await env.poll()
        got = sorted((m.commitment_id, m.title) for m in summary.matches)
        assert got == [("intel", "Intelligence chiefs meet in Kabul"), ("refugees", "پاکستان سے افغان مہاجرین کی واپسی")]


async def test_permanent_redirect_is_remembered(tmp_path):
    async with environment(tmp_path, {"moved": "/old.xml"}) as env:
        env.server.redirect("/old.xml", "/new.xml", 301)
        env.server.add("/new.xml", rss([Item("Transit trade", "https://n.example/1", "g1", FRESH)]))
        await env.poll()
        assert env.server.count("/old.xml") == 1
        env.server.update("/new.xml", rss([Item("More transit trade", "https://n.example/2", "g2", FRESH)]))
        summary = await env.poll()
        assert env.server.count("/old.xml") == 1 and env.server.count("/new.xml") == 2
        assert by_feed(summary)["moved"].new_entries == 1


async def test_fault_matrix_leaves_healthy_feeds_unaffected(tmp_path):
    healthy = rss([Item("Transit trade corridor opens", "https://h.example/1", "h1", FRESH)])
    wrong_encoding = ('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>Café talks '
                      'on transit trade</title><link>https://e.example/1</link><guid>e1</guid><pubDate>' + format_datetime(FRESH)
                      + '</pubDate></item></channel></rss>').encode("cp1252")
    truncated_xml = rss([Item("Transit trade first", "https://t.example/1", "t1", FRESH),
                         Item("Transit trade second", "https://t.example/2", "t2", FRESH)])
    truncated_xml = truncated_xml[: truncated_xml.index(b"Transit trade second")]
    feeds = {"healthy": "/healthy.xml", "slow": "/slow.xml", "hang": "/hang.xml", "e500": "/e500.xml",
             "e503": "/e503.xml", "e404": "/e404.xml", "gone": "/gone.xml", "loop": "/loop1.xml",
             "page": "/page.html", "huge": "/huge.xml", "bomb": "/bomb.xml", "encoding": "/enc.xml",
             "truncated": "/trunc.xml"}
    async with environment(tmp_path, feeds) as env:
        s = env.server
        s.add("/healthy.xml", healthy)
        s.slow("/slow.xml", healthy, interval=0.2, chunk=1)
        s.hang("/hang.xml")
        s.error("/e500.xml", 500)
        s.error("/e503.xml", 503, retry_after=3600)
        s.error("/e404.xml", 404)
        s.error("/gone.xml", 410)
        s.redirect("/loop1.xml", "/loop2.xml", 302)
        s.redirect("/loop2.xml", "/loop1.xml", 302)
        s.add("/page.html", b"<!doctype html><html><head><title>Home</title></head><body>Hi</body></html>",
              content_type="text/html; charset=utf-8")
        s.huge("/huge.xml")
        s.gzip_bomb("/bomb.xml")
        s.add("/enc.xml", wrong_encoding, content_type="application/rss+xml; charset=utf-8")
        s.add("/trunc.xml", truncated_xml)
        summary = await env.poll()
        out = by_feed(summary)
        assert out["healthy"].result == "ok" and [m.title for m in out["healthy"].matches] == ["Transit trade corridor opens"]
        for feed_id in ("slow", "hang"):
            assert out[feed_id].result == "failed" and "timed out" in out[feed_id].reason
        assert out["e500"].reason.startswith("HTTP 500") and out["e404"].reason.startswith("HTTP 404")
        assert out["gone"].result == "disabled"
        assert out["loop"].result == "failed" and "redirect" in out["loop"].reason.lower()
        assert out["page"].result == "failed" and "not a feed" in out["page"].reason
        assert out["huge"].result == "failed" and out["bomb"].result == "failed"
        assert "over the 10000000-byte limit" in out["huge"].reason and "limit" in out["bomb"].reason
        assert out["encoding"].result == "ok" and "Caf" in out["encoding"].matches[0].title
        assert out["truncated"].result == "ok" and out["truncated"].new_entries >= 1
        state = env.store.feed_state("e503")
        assert state.hold == "retry-after" and state.next_poll == NOW + timedelta(hours=1)
        assert env.store.feed_state("gone").disabled.startswith("410 Gone")

        # Next poll without --force: the 503 feed (Retry-After) and backing-off feeds are skipped and said so.
        summary = await env.poll()
        out = by_feed(summary)
        assert out["e503"].result == "skipped" and "retry after" in out["e503"].reason
        assert out["e500"].result == "skipped" and "backing off" in out["e500"].reason
        assert out["gone"].result == "disabled" and out["healthy"].result == "not modified"
        forced = by_feed(await env.poll(force=True))
        assert forced["e503"].result == "failed" and forced["gone"].result == "disabled"
        assert env.store.integrity_ok()


async def test_unexpected_error_in_one_feed_is_contained(tmp_path):
    class Exploding(CountingParser):
        async def parse(self, body, headers, url, known=()):
            if "bad" in url:
                raise RuntimeError("parser bug")
            return await super().parse(body, headers, url, known)

    async with environment(tmp_path, {"bad": "/bad.xml", "good": "/good.xml"}) as env:
        env.poller.parser = Exploding()
        env.server.add("/bad.xml", rss([Item("Transit trade", "https://b.example/1", "b1", FRESH)]))
        env.server.add("/good.xml", rss([Item("Transit trade", "https://g.example/1", "g1", FRESH)]))
        out = by_feed(await env.poll())
        assert out["bad"].result == "failed" and "RuntimeError" in out["bad"].reason
        assert out["good"].result == "ok" and len(out["good"].matches) == 1


@pytest.mark.parametrize("private", [False])
async def test_loopback_feed_refused_without_permission(tmp_path, private):
    async with environment(tmp_path, {"local": "/x.xml"}) as env:
        env.server.add("/x.xml", rss([]))
        async with HttpFetcher(FetchPolicy(allow_private_hosts=private), clock=env.clock) as guarded:
            env.poller.fetcher = guarded
            out = by_feed(await env.poll())
        assert out["local"].result == "failed" and "loopback" in out["local"].reason
