"""Seen entries, stories and matches: what the poller writes after each fetch, in one transaction.

One story, one post: entries with the same normalized link, or the same normalized title within a
few days, are one story across feeds; a commitment is matched to a story at most once, and later
copies are recorded as "also reported by".
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.feedstate import FeedState
from bot.parse import ParsedEntry, normalize_title
from bot.store import Store, from_db, to_db

STORY_WINDOW = timedelta(days=3)
MIN_TITLE_KEY = 12  # shorter normalized titles ("news", "update") are too generic to merge stories on
CHUNK = 500  # stay well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class EntryMatch:
    """A commitment an entry matched, with the words that hit (so a reader sees why)."""

    commitment_id: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Ingest:
    """Everything one successful fetch of one feed writes."""

    feed_id: str
    state: FeedState
    seen: Sequence[ParsedEntry]  # every entry parsed from the fetched feed (refreshes last_seen)
    new: Sequence[ParsedEntry]  # the unseen ones, as returned by ``unseen``
    matches: Mapping[str, Sequence[EntryMatch]]  # by entry key
    now: datetime
    backfill_before: datetime | None = None  # first poll: older entries are recorded, not posted
    also_seen: Sequence[str] = ()  # keys of entries still in the feed but not parsed again (known items)
    items: Mapping[bytes, str | None] | None = None  # the feed's new item index; None: the body had none


@dataclass(frozen=True)
class NewMatch:
    """A match to announce: new for this (story, commitment) pair and not backfill."""

    match_id: int
    commitment_id: str
    story_id: int
    entry_id: int
    feed_id: str
    title: str
    link: str | None
    published: datetime
    terms: tuple[str, ...]


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


def _existing(store: Store, feed_id: str, column: str, values: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for part in _chunks(values):
        rows = store.query(f"SELECT {column} FROM entries WHERE feed_id = ? AND {column} IN "
                           f"({', '.join('?' * len(part))})", [feed_id, *part])
        found.update(r[0] for r in rows)
    return found


def unseen(store: Store, feed_id: str, entries: Sequence[ParsedEntry]) -> list[ParsedEntry]:
    """Entries this feed has not shown before; an entry whose GUID churns but link stays is not new."""
    by_key: dict[str, ParsedEntry] = {}
    for entry in entries:
        by_key.setdefault(entry.key, entry)
    known = _existing(store, feed_id, "key", list(by_key))
    candidates = [e for k, e in by_key.items() if k not in known]
    links = [e.link_key for e in candidates if e.guid and e.link_key]
    known_links = _existing(store, feed_id, "link_key", links) if links else set()
    out, batch_links = [], set()
    for entry in candidates:
        if entry.guid and entry.link_key and (entry.link_key in known_links or entry.link_key in batch_links):
            continue
        if entry.link_key:
            batch_links.add(entry.link_key)
        out.append(entry)
    return out


def ingest(store: Store, batch: Ingest) -> list[NewMatch]:
    """Write entries, stories, matches and the feed state together; return the matches to announce."""
    now_text = to_db(batch.now)
    announced: list[NewMatch] = []
    with store.transaction() as tx:
        keys = list({e.key for e in batch.seen} | set(batch.also_seen))
        for part in _chunks(keys):
            tx.execute(f"UPDATE entries SET last_seen = ? WHERE feed_id = ? AND key IN ({', '.join('?' * len(part))})",
                       [now_text, batch.feed_id, *part])
        for entry in batch.new:
            published = entry.published or batch.now
            title_key = normalize_title(entry.title)
            story_id = _story_for(tx, entry, title_key, published, batch.feed_id, now_text)
            cursor = tx.execute(
                "INSERT OR IGNORE INTO entries (feed_id, key, link_key, title_key, title, summary, link, categories,"
                " published, dated, first_seen, last_seen, story_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (batch.feed_id, entry.key, entry.link_key, title_key, entry.title, entry.summary, entry.link,
                 "\n".join(entry.categories), to_db(published), int(entry.published is not None),
                 now_text, now_text, story_id))
            if not cursor.rowcount:
                continue
            entry_id = int(cursor.lastrowid or 0)
            old = batch.backfill_before is not None and (entry.published is None or published < batch.backfill_before)
            for m in batch.matches.get(entry.key, ()):
                cursor = tx.execute(
                    "INSERT OR IGNORE INTO matches (story_id, commitment_id, entry_id, terms, matched_at, backfill)"
                    " VALUES (?,?,?,?,?,?)",
                    (story_id, m.commitment_id, entry_id, json.dumps(list(m.terms), ensure_ascii=False), now_text, int(old)))
                if cursor.rowcount and not old:
                    announced.append(NewMatch(int(cursor.lastrowid or 0), m.commitment_id, story_id, entry_id,
                                              batch.feed_id, entry.title, entry.link, published, m.terms))
        store.save_feed_state(batch.state, tx)
        store.save_feed_items(batch.feed_id, batch.items, tx)
    return announced


def _story_for(tx: sqlite3.Connection, entry: ParsedEntry, title_key: str, published: datetime,
               feed_id: str, now_text: str) -> int:
    """The story this entry belongs to, by link first, then by near-identical title within the window."""
    if entry.link_key:
        row = tx.execute("SELECT id FROM stories WHERE link_key = ? ORDER BY id LIMIT 1", (entry.link_key,)).fetchone()
        if row:
            return int(row[0])
    if len(title_key) >= MIN_TITLE_KEY:
        row = tx.execute("SELECT id FROM stories WHERE title_key = ? AND published BETWEEN ? AND ? ORDER BY id LIMIT 1",
                         (title_key, to_db(published - STORY_WINDOW), to_db(published + STORY_WINDOW))).fetchone()
        if row:
            return int(row[0])
    cursor = tx.execute(
        "INSERT INTO stories (link_key, title_key, title, link, feed_id, published, first_seen) VALUES (?,?,?,?,?,?,?)",
        (entry.link_key, title_key, entry.title, entry.link, feed_id, to_db(published), now_text))
    return int(cursor.lastrowid or 0)


def also_reported_by(store: Store, story_id: int) -> list[str]:
    """Feeds that carried the story after the one it was first seen in, in order of arrival."""
    rows = store.query("SELECT feed_id FROM entries WHERE story_id = ? GROUP BY feed_id ORDER BY MIN(id)", (story_id,))
    return [r[0] for r in rows][1:]


@dataclass(frozen=True)
class Headline:
    """A matched headline as commands and reminders show it."""

    commitment_id: str
    title: str
    link: str | None
    feed_id: str
    published: datetime
    terms: tuple[str, ...]
    story_id: int


def latest_headlines(store: Store, commitment_id: str, limit: int = 3) -> list[Headline]:
    """The newest matched headlines for a commitment, newest first, minus those an admin marked not relevant."""
    rows = store.query(
        "SELECT m.commitment_id, e.title, e.link, e.feed_id, e.published, m.terms, m.story_id FROM matches m "
        "JOIN entries e ON e.id = m.entry_id WHERE m.commitment_id = ? AND NOT EXISTS (SELECT 1 FROM curation c "
        "WHERE c.story_id = m.story_id AND c.commitment_id = m.commitment_id AND c.verdict = 'irrelevant') "
        "ORDER BY e.published DESC, m.id DESC LIMIT ?",
        (commitment_id, limit))
    return [Headline(r[0], r[1], r[2], r[3], from_db(r[4]) or datetime.min, tuple(json.loads(r[5])), r[6]) for r in rows]


def last_matched_at(store: Store, commitment_id: str) -> datetime | None:
    """When news about a commitment was last seen ("no related news since ..." when it is long ago)."""
    row = store.query("SELECT MAX(e.published) FROM matches m JOIN entries e ON e.id = m.entry_id "
                      "WHERE m.commitment_id = ?", (commitment_id,))
    return from_db(row[0][0]) if row else None


def prune(store: Store, now: datetime, retention: timedelta) -> int:
    """Forget unmatched entries gone from their feed for ``retention``, so the file stays bounded."""
    cutoff = to_db(now - retention)
    with store.transaction() as tx:
        deleted = tx.execute("DELETE FROM entries WHERE last_seen < ? AND id NOT IN (SELECT entry_id FROM matches)",
                             (cutoff,)).rowcount
        tx.execute("DELETE FROM stories WHERE id NOT IN (SELECT story_id FROM entries) "
                   "AND id NOT IN (SELECT story_id FROM matches)")
    return deleted
