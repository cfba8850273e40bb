"""From stored matches to queued messages: one story one post, subscribers, admin buttons, grouping."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.announce import Audience, announce
from bot.buttons import Keyboard
from bot.config import load_config
from bot.curation import record_verdict
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.keyboards import EVIDENCE, curation_keyboard, settle
from bot.model import Status
from bot.parse import ParsedEntry
from bot.store import Store
from bot.subscriptions import subscribe

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
ADMIN, READER = 42, 77


def entry(n: int, title: str) -> ParsedEntry:
    return ParsedEntry(guid=f"g{n}", link=f"https://n.example/{n}", link_key=f"https://n.example/{n}", title=title,
                       summary="", categories=(), published=NOW - timedelta(hours=1), author=None)


@pytest.fixture
def env(config_dir):
    store = Store.open(config_dir / "state.sqlite3")
    yield store, load_config(config_dir)
    store.close()


def add(store: Store, feed: str, entries: list[ParsedEntry], hits: dict[str, list[str]]) -> None:
    matches = {f"guid:{e.guid}": [EntryMatch(cid, ("intelligence",)) for cid in hits.get(e.guid or "", [])] for e in entries}
    ingest(store, Ingest(feed, FeedState(feed), entries, entries, matches, NOW))


def queued(store: Store) -> list[tuple[str, str, str, str | None]]:
    return [(r["chat_id"], r["ref"], r["text"], r["buttons"]) for r in store.query("SELECT * FROM outbox ORDER BY id")]


def test_one_story_on_two_commitments_is_one_post(env):
    store, config = env
    subscribe(store, str(ADMIN), "joint-intel", NOW)
    subscribe(store, str(READER), "*", NOW)
    add(store, "local", [entry(1, "Ghani to visit Islamabad; joint intelligence cell agreed")],
        {"g1": ["joint-intel", "reciprocal-visit"]})
    audience = Audience("-1001", main_is_group=False, admin_ids=frozenset({ADMIN}))
    assert announce(store, config, audience, NOW, lambda cid: Status.PENDING) == 3
    rows = queued(store)
    assert [r[0] for r in rows] == ["-1001", str(ADMIN), str(READER)]
    assert len({r[1] for r in rows}) == 1  # the same message (one ref) to each chat
    text = rows[0][2]
    assert "A headline on 2 commitments" in text and "(joint-intel)" in text and "(reciprocal-visit)" in text
    assert "overdue by" in text and "by end of Q1 2021" in text
    channel, admin, reader = (r[3] for r in rows)
    assert channel is None and reader is None  # the channel stays clean; a non-admin cannot curate
    keyboard = Keyboard.from_json(admin)
    assert len(keyboard.rows) == 2 and "joint-intel" in keyboard.rows[0][0].text
    assert announce(store, config, audience, NOW, lambda cid: Status.PENDING) == 0  # announced once


def test_group_main_chat_gets_buttons_and_dismissed_stories_are_skipped(env):
    store, config = env
    add(store, "local", [entry(1, "Joint intelligence talks"), entry(2, "More joint intelligence talks")],
        {"g1": ["joint-intel"], "g2": ["joint-intel"]})
    record_verdict(store, 2, "joint-intel", "irrelevant", ADMIN, NOW)
    audience = Audience("-555", main_is_group=True, admin_ids=frozenset({ADMIN}))
    assert announce(store, config, audience, NOW, lambda cid: Status.PENDING) == 1
    (chat, ref, text, buttons), = queued(store)
    assert "Joint intelligence talks" in text and "More joint" not in text and buttons is not None
    from bot.history import latest_headlines
    assert [h.title for h in latest_headlines(store, "joint-intel", 5)] == ["Joint intelligence talks"]


def test_a_burst_goes_out_one_message_per_commitment(env):
    store, config = env
    entries = [entry(n, f"Joint intelligence story number {n}") for n in range(1, 8)]
    add(store, "local", entries, {e.guid: ["joint-intel"] for e in entries if e.guid})
    audience = Audience("-1001")
    assert announce(store, config, audience, NOW, lambda cid: Status.PENDING) == 1
    (_, ref, text, _), = queued(store)
    assert ref.startswith("group:") and "7 new headlines" in text and text.count("Joint intelligence story number") == 7


def test_pressing_one_row_settles_only_that_commitment():
    keyboard = curation_keyboard(9, ["joint-intel", "reciprocal-visit"])
    pressed = keyboard.rows[1][0].data
    settled = settle(keyboard, pressed, EVIDENCE, "@ed", "reciprocal-visit")
    assert settled.rows[0] == keyboard.rows[0]
    assert len(settled.rows[1]) == 1 and "reciprocal-visit" in settled.rows[1][0].text and "@ed" in settled.rows[1][0].text
    single = curation_keyboard(9, ["joint-intel"])
    assert "joint-intel" not in single.rows[0][0].text
    assert len(settle(single, single.rows[0][1].data, EVIDENCE, "@ed", "joint-intel").rows) == 1
