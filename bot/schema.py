"""The state database's schema as a list of forward migrations, applied by ``PRAGMA user_version``.

Never edit a released migration: append a new one, so every existing database upgrades in place.
Datetimes are stored as fixed-width ISO-8601 UTC text (``2020-12-15T09:00:00.000000+00:00``), which
sorts correctly as text and never loses its timezone.
"""

from __future__ import annotations

import sqlite3

from bot.errors import StoreError

MIGRATIONS: list[str] = [
    # 1: feeds, entries, stories, matches
    """
    CREATE TABLE feed_state (
        feed_id TEXT PRIMARY KEY,
        config_url TEXT NOT NULL DEFAULT '',
        redirect_url TEXT, etag TEXT, last_modified TEXT, body_hash TEXT,
        first_polled TEXT, last_attempt TEXT, last_success TEXT,
        failures INTEGER NOT NULL DEFAULT 0, failing_since TEXT,
        next_poll TEXT, hold TEXT, last_error TEXT,
        reported INTEGER NOT NULL DEFAULT 0, disabled TEXT
    );
    CREATE INDEX feed_state_next_poll ON feed_state(next_poll);
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        link_key TEXT, title_key TEXT NOT NULL, title TEXT NOT NULL, link TEXT,
        feed_id TEXT NOT NULL, published TEXT NOT NULL, first_seen TEXT NOT NULL
    );
    CREATE INDEX stories_link ON stories(link_key) WHERE link_key IS NOT NULL;
    CREATE INDEX stories_title ON stories(title_key, published);
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        feed_id TEXT NOT NULL, key TEXT NOT NULL, link_key TEXT, title_key TEXT NOT NULL,
        title TEXT NOT NULL, summary TEXT NOT NULL DEFAULT '', link TEXT,
        categories TEXT NOT NULL DEFAULT '',
        published TEXT NOT NULL, dated INTEGER NOT NULL,
        first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        UNIQUE (feed_id, key)
    );
    CREATE INDEX entries_feed_link ON entries(feed_id, link_key) WHERE link_key IS NOT NULL;
    CREATE INDEX entries_feed_title ON entries(feed_id, title_key, published);
    CREATE INDEX entries_story ON entries(story_id);
    CREATE INDEX entries_last_seen ON entries(last_seen);
    CREATE TABLE matches (
        id INTEGER PRIMARY KEY,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        commitment_id TEXT NOT NULL,
        entry_id INTEGER NOT NULL REFERENCES entries(id),
        terms TEXT NOT NULL,
        matched_at TEXT NOT NULL,
        backfill INTEGER NOT NULL DEFAULT 0,
        UNIQUE (story_id, commitment_id)
    );
    CREATE INDEX matches_commitment ON matches(commitment_id, matched_at);
    """,
    # 2: Telegram: outbox, chats, subscriptions, status history, curation; matches wait to be announced
    """
    ALTER TABLE matches ADD COLUMN announced INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX matches_unannounced ON matches(announced, backfill, id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        chat_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        buttons TEXT,
        created TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT,
        message_id INTEGER,
        sent_at TEXT,
        error TEXT,
        UNIQUE (chat_id, ref)
    );
    CREATE INDEX outbox_pending ON outbox(state, chat_id, id);
    CREATE TABLE chats (
        chat_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL DEFAULT 'channel',
        blocked_until TEXT,
        disabled TEXT,
        migrated_to TEXT,
        updated TEXT NOT NULL
    );
    CREATE TABLE subscriptions (
        chat_id TEXT NOT NULL,
        commitment_id TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (chat_id, commitment_id)
    );
    CREATE TABLE status_history (
        id INTEGER PRIMARY KEY,
        commitment_id TEXT NOT NULL,
        status TEXT NOT NULL,
        source TEXT NOT NULL,
        actor TEXT,
        actor_id INTEGER,
        at TEXT NOT NULL,
        evidence_url TEXT,
        note TEXT
    );
    CREATE INDEX status_history_commitment ON status_history(commitment_id, id);
    CREATE TABLE curation (
        story_id INTEGER NOT NULL REFERENCES stories(id),
        commitment_id TEXT NOT NULL,
        verdict TEXT NOT NULL,
        actor_id INTEGER,
        at TEXT NOT NULL,
        PRIMARY KEY (story_id, commitment_id)
    );
    """,
    # 3: the reminder ledger (each planned reminder slot happens once) and the digest ledger
    """
    CREATE TABLE reminders (
        commitment_id TEXT NOT NULL,
        slot TEXT NOT NULL,
        kind TEXT NOT NULL,
        due TEXT NOT NULL,
        sent_at TEXT NOT NULL,
        PRIMARY KEY (commitment_id, slot)
    );
    CREATE TABLE digests (
        period TEXT PRIMARY KEY,
        sent_at TEXT NOT NULL
    );
    """,
    # 4: each feed's item index (bot.feeditems): the digest of every item in its last parsed body and the
    # entry key that item gave, so the next changed body is parsed only for the items that are new
    """
    CREATE TABLE feed_items (
        feed_id TEXT PRIMARY KEY,
        items TEXT NOT NULL
    );
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest schema, one migration per transaction; return the version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise StoreError(
            f"the database has schema version {version}, newer than this pledgewatch knows "
            f"({len(MIGRATIONS)}); upgrade pledgewatch or point --db at another file")
    for number in range(version, len(MIGRATIONS)):
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"could not migrate the database to schema {number + 1}: {exc}") from exc
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a migration into statements (ours never contain ';' inside strings or triggers)."""
    return [s.strip() for s in script.split(";") if s.strip()]
