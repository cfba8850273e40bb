"""The poller with the item index: a changed feed parses only its new items, across polls and restarts,
and what it does not parse still counts as seen."""

from __future__ import annotations

from datetime import timedelta

from bot.history import prune
from bot.store import Store, to_db
from tests.support.feedserver import FeedServer
from tests.support.rss import Item, rss
from tests.test_poll import FRESH, NOW, by_feed, environment, write_feeds

ITEMS = [Item("Torkham transit trade reopens", "https://n.example/1", "g1", FRESH),
         Item("Weather in Lahore", "https://n.example/2", "g2", FRESH),
         Item("Cricket: Pakistan win T20 series", "https://n.example/3", "g3", FRESH)]


def last_seen(store: Store) -> dict[str, str]:
    return {r[0]: r[1] for r in store.query("SELECT key, last_seen FROM entries")}


async def test_a_changed_feed_parses_only_new_items_and_refreshes_the_rest(tmp_path):
    async with environment(tmp_path, {"dawn": "/dawn.xml"}) as env:
        env.server.add("/dawn.xml", rss(ITEMS))
        await env.poll()
        first = env.parser.results[-1]
        assert first.items is not None and len(first.items) == 3 and first.skipped == ()

        # a new item on top, and the channel's own elements changed too (as lastBuildDate does)
        env.server.update("/dawn.xml", rss([Item("Refugees return via Chaman", "https://n.example/4", "g4", NOW), *ITEMS],
                                           title="Test feed, updated"))
        env.clock.advance(timedelta(hours=1))
        summary = await env.poll()
        second = env.parser.results[-1]
        assert len(second.skipped) == 3 and [e.key for e in second.entries] == ["guid:g4"]
        assert by_feed(summary)["dawn"].new_entries == 1 and [m.commitment_id for m in summary.matches] == ["refugees"]
        assert set(last_seen(env.store).values()) == {to_db(env.clock.now())}  # the skipped three too
        assert len(env.store.feed_items("dawn")) == 4

        # an item edited in place is parsed again (its bytes changed) but is not new
        edited = [Item("Refugees return via Chaman border", "https://n.example/4", "g4", NOW), *ITEMS]
        env.server.update("/dawn.xml", rss(edited))
        env.clock.advance(timedelta(hours=1))
        summary = await env.poll()
        assert [e.key for e in env.parser.results[-1].entries] == ["guid:g4"] and summary.new_entries == 0


async def test_the_index_survives_a_restart_and_is_dropped_for_a_malformed_body(tmp_path):
    server = FeedServer()
    async with environment(tmp_path, {"dawn": "/dawn.xml"}, server=server) as env:
        env.server.add("/dawn.xml", rss(ITEMS))
        await env.poll()
    async with environment(tmp_path, {"dawn": "/dawn.xml"}, server=server) as env:  # same database file
        env.server.update("/dawn.xml", rss([Item("Refugees return via Chaman", "https://n.example/4", "g4", NOW), *ITEMS]))
        summary = await env.poll(force=True)
        assert len(env.parser.results[-1].skipped) == 3 and summary.new_entries == 1

        broken = rss([Item("Joint intelligence work begins", "https://n.example/5", "g5", NOW), *ITEMS])
        env.server.update("/dawn.xml", broken.replace(b"</channel></rss>", b"</channel>"))  # unclosed
        env.clock.advance(timedelta(hours=1))
        summary = await env.poll()
        assert env.parser.results[-1].items is None and summary.new_entries == 1  # parsed whole, still usable
        assert env.store.feed_items("dawn") == {}

        env.server.update("/dawn.xml", broken)
        env.clock.advance(timedelta(hours=1))
        await env.poll()
        assert env.parser.results[-1].skipped == () and len(env.store.feed_items("dawn")) == 4
    server.stop()


async def test_a_new_url_starts_a_new_index(tmp_path):
    async with environment(tmp_path, {"dawn": "/dawn.xml"}) as env:
        env.server.add("/dawn.xml", rss(ITEMS))
        env.server.add("/moved.xml", rss([Item("Refugees return via Chaman", "https://n.example/4", "g4", NOW), *ITEMS]))
        await env.poll()
        write_feeds(env.dir, env.server, {"dawn": "/moved.xml"})
        env.reload()
        env.clock.advance(timedelta(hours=1))
        summary = await env.poll()
        assert env.parser.results[-1].skipped == () and len(env.parser.results[-1].entries) == 4
        assert summary.new_entries == 1  # the three it had are still known by key


async def test_items_kept_in_the_feed_but_never_reparsed_are_not_pruned(tmp_path):
    async with environment(tmp_path, {"dawn": "/dawn.xml"}) as env:
        env.server.add("/dawn.xml", rss(ITEMS))
        await env.poll()
        for hour in range(1, 4):  # every later body differs, but only by new items
            env.server.update("/dawn.xml", rss([Item(f"Update {hour}", f"https://n.example/u{hour}", f"u{hour}", NOW),
                                                *ITEMS]))
            env.clock.advance(timedelta(days=10))
            await env.poll(force=True)
            assert len(env.parser.results[-1].skipped) == 3
        prune(env.store, env.clock.now(), timedelta(days=15))
        keys = set(last_seen(env.store))
        assert {"guid:g1", "guid:g2", "guid:g3", "guid:u3"} <= keys  # still in the feed: kept
        assert "guid:u1" not in keys  # gone from the feed for 20 days and never matched: pruned
