"""The state database: migrations by user_version, owner-only permissions, retention, effective status."""

from __future__ import annotations

import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest

from bot.errors import StoreError
from bot.feedstate import FeedState
from bot.history import Ingest, prune, unseen, ingest
from bot.model import Catalog, Commitment, Status
from bot.parse import ParsedEntry
from bot.schema import MIGRATIONS, migrate
from bot.statuses import changes_since, effective_statuses, history, mark, sync_toml_statuses
from bot.store import Store, from_db, to_db

NOW = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def entry(n: int, link: str | None = None) -> ParsedEntry:
    return ParsedEntry(guid=f"g{n}", link=link or f"https://n.example/{n}", link_key=link or f"https://n.example/{n}",
                       title=f"Headline number {n}", summary="", categories=(), published=NOW, author=None)


def test_new_database_is_owner_only_and_fully_migrated(tmp_path):
    store = Store.open(tmp_path / "sub" / "state.sqlite3")
    try:
        mode = stat.S_IMODE((tmp_path / "sub" / "state.sqlite3").stat().st_mode)
        assert mode == 0o600
        assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
        assert store.query("PRAGMA journal_mode")[0][0] == "wal"
        assert store.integrity_ok()
    finally:
        store.close()


def test_migrates_forward_from_an_older_version(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in [s for s in MIGRATIONS[0].split(";") if s.strip()]:
        conn.execute(statement)
    conn.execute("INSERT INTO feed_state (feed_id) VALUES ('dawn')")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    assert migrate(conn) == len(MIGRATIONS)
    conn.close()
    store = Store.open(path)
    assert store.feed_state("dawn").feed_id == "dawn" and store.query("SELECT COUNT(*) FROM outbox")[0][0] == 0
    store.close()


def test_refuses_a_database_from_a_newer_version(tmp_path):
    path = tmp_path / "new.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this pledgewatch knows"):
        Store.open(path)


def test_unreadable_database_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot open the state database"):
        Store.open(path)


def test_datetimes_round_trip_aware_and_refuse_naive():
    assert from_db(to_db(NOW)) == NOW and from_db(to_db(NOW)).tzinfo is not None
    with pytest.raises(ValueError):
        to_db(datetime(2026, 1, 1))


def test_feed_state_round_trip(tmp_path):
    store = Store.open(tmp_path / "s.sqlite3")
    state = FeedState("dawn", "https://x/feed", etag='"e"', failures=2, failing_since=NOW, next_poll=NOW, reported=True)
    store.save_feed_state(state)
    assert store.feed_state("dawn") == state
    assert store.due_feed_ids(NOW) == ["dawn"] and store.due_feed_ids(NOW - timedelta(seconds=1)) == []
    store.close()


def test_prune_forgets_unmatched_entries_gone_from_the_feed(tmp_path):
    store = Store.open(tmp_path / "s.sqlite3")
    batch = Ingest("dawn", FeedState("dawn"), [entry(1), entry(2)], [entry(1), entry(2)], {}, NOW)
    ingest(store, batch)
    later = NOW + timedelta(days=100)
    ingest(store, Ingest("dawn", FeedState("dawn"), [entry(2)], [], {}, later))  # entry 2 still in the feed
    assert prune(store, later, timedelta(days=90)) == 1
    assert [e.key for e in unseen(store, "dawn", [entry(1), entry(2)])] == ["guid:g1"]
    assert store.query("SELECT COUNT(*) FROM stories")[0][0] == 1
    store.close()


def test_effective_status_is_the_latest_of_toml_and_history(tmp_path):
    store = Store.open(tmp_path / "s.sqlite3")
    catalog = Catalog(commitments=(Commitment("a", "sv", "A"), Commitment("b", "sv", "B", status=Status.IN_PROGRESS)))
    assert [c.commitment_id for c in sync_toml_statuses(store, catalog, NOW)] == ["a", "b"]
    assert sync_toml_statuses(store, catalog, NOW) == []  # nothing new the second time
    mark(store, "a", Status.MET, NOW + timedelta(hours=1), actor="@editor", actor_id=42, evidence_url="https://e.example")
    assert effective_statuses(store, catalog.commitments) == {"a": Status.MET, "b": Status.IN_PROGRESS}
    edited = Catalog(commitments=(Commitment("a", "sv", "A", status=Status.PARTIAL), catalog.commitments[1]))
    assert effective_statuses(store, edited.commitments)["a"] is Status.PARTIAL  # an unsynced edit is newest
    sync_toml_statuses(store, edited, NOW + timedelta(hours=2))  # a later TOML edit wins over the earlier /mark
    assert effective_statuses(store, edited.commitments)["a"] is Status.PARTIAL
    assert [(h.status, h.source, h.actor) for h in history(store, "a")] == [
        (Status.PENDING, "commitments.toml", None), (Status.MET, "telegram", "@editor"),
        (Status.PARTIAL, "commitments.toml", None)]
    assert len(changes_since(store, NOW)) == 2
    store.close()
