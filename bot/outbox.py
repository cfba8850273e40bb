"""The durable outbox: every message to Telegram is a row in SQLite before anything is sent.

A match or reminder and its message commit in one transaction (:func:`enqueue` runs inside the
caller's), so a crash can lose neither and a re-run cannot queue one twice: ``ref`` is unique per
chat. The sender (:mod:`bot.sender`) reads :func:`due` items and settles each with
:func:`mark_sent`, :func:`mark_retry` or :func:`mark_failed`. Nothing is ever deleted: a failed
item stays with its error for admins (:func:`failed`).

Chat state lives in table ``chats``: a 429's wait (``blocked_until``) survives a restart, a chat
that refused us (403) is ``disabled``, and a group upgraded to a supergroup is ``migrated_to`` its
new id, which :func:`enqueue` follows. Chat ids are 64-bit integers stored as text.

The schema has no ``failed_at`` column: for a ``failed`` row ``next_attempt`` holds the time it
failed (no attempt follows); :attr:`OutboxItem.failed_at` reads it under that name.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime

from bot.buttons import Keyboard
from bot.notify import Message
from bot.split import TELEGRAM_LIMIT, split_html, split_text, visible_text
from bot.store import Store, from_db, to_db

Db = Store | sqlite3.Connection  # a store (own transaction) or the caller's open transaction


@dataclass(frozen=True)
class OutboxItem:
    """One queued message part as stored; ``plain`` asks the transport to send ``text`` without HTML."""

    id: int
    chat_id: str
    kind: str
    ref: str
    html: str
    text: str
    buttons: Keyboard | None
    created: datetime
    state: str  # "pending", "sent", "failed"
    attempts: int
    next_attempt: datetime | None
    message_id: int | None
    sent_at: datetime | None
    error: str | None
    plain: bool = False  # not stored: set for the plain-text resend after Telegram refused the HTML

    @property
    def failed_at(self) -> datetime | None:
        return self.next_attempt if self.state == "failed" else None


def normalize_chat_id(chat_id: str | int) -> str:
    """``-100123`` and ``"-100123 "`` are the same chat; ``@name`` stays a name."""
    text = str(chat_id).strip()
    try:
        return str(int(text))
    except ValueError:
        return text


def enqueue(tx: sqlite3.Connection, chat_id: str, message: Message, ref: str, now: datetime,
            buttons: Keyboard | None = None) -> int:
    """Queue ``message`` inside the caller's transaction; returns how many rows were added (0: already queued).

    ``chat_id`` is the target (``message.chat_id`` is not consulted: resolving "the channel" is the
    caller's job). A message over Telegram's limit becomes several rows ``ref#1``, ``ref#2``... in order, with
    the buttons on the last. A chat that moved is followed to its new id; a disabled chat still
    gets the rows, as ``failed`` with the reason, so nothing disappears unseen.
    """
    chat = _follow_migrations(tx, normalize_chat_id(chat_id))
    exists = tx.execute("SELECT 1 FROM outbox WHERE chat_id = ? AND ref IN (?, ?) LIMIT 1",
                        (chat, ref, f"{ref}#1")).fetchone()
    if exists:
        return 0
    parts = message_parts(message.html, message.text)
    refs = [ref] if len(parts) == 1 else [f"{ref}#{n}" for n in range(1, len(parts) + 1)]
    disabled = tx.execute("SELECT disabled FROM chats WHERE chat_id = ? AND disabled IS NOT NULL",
                          (chat,)).fetchone()
    state, error = ("failed", f"chat disabled: {disabled[0]}") if disabled else ("pending", None)
    added = 0
    for n, ((html, text), part_ref) in enumerate(zip(parts, refs), start=1):
        keyboard = buttons.to_json() if buttons is not None and n == len(parts) else None
        cursor = tx.execute(
            "INSERT OR IGNORE INTO outbox (chat_id, kind, ref, html, text, buttons, created, state, "
            "next_attempt, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (chat, message.kind, part_ref, html, text, keyboard, to_db(now), state, to_db(now), error))
        added += cursor.rowcount
    return added


@functools.lru_cache(maxsize=256)
def message_parts(html: str, text: str, limit: int = TELEGRAM_LIMIT) -> tuple[tuple[str, str], ...]:
    """Pair HTML parts with plain parts; when the two split differently, plain parts come from the HTML.

    Cached: the announcer queues one message for the channel and every subscriber, and splitting is the
    costly part of enqueueing (bench/scale.py)."""
    html_parts, text_parts = split_html(html, limit), split_text(text, limit)
    if len(html_parts) == len(text_parts):
        return tuple(zip(html_parts, text_parts))
    return tuple((part, visible_text(part)) for part in html_parts)


def due(store: Store, now: datetime, limit: int = 100) -> list[OutboxItem]:
    """Pending items whose time has come, oldest first, in chats that may be written to now.

    Per chat strictly in order: an item is never returned while an earlier pending item of the
    same chat waits for a later retry, so item N+1 cannot overtake item N.
    """
    at = to_db(now)
    rows = store.query(
        "SELECT o.* FROM outbox o LEFT JOIN chats c ON c.chat_id = o.chat_id "
        "WHERE o.state = 'pending' AND (o.next_attempt IS NULL OR o.next_attempt <= ?) "
        "AND (c.chat_id IS NULL OR (c.disabled IS NULL AND c.migrated_to IS NULL "
        "     AND (c.blocked_until IS NULL OR c.blocked_until <= ?))) "
        "AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.state = 'pending' AND p.chat_id = o.chat_id "
        "                AND p.id < o.id AND p.next_attempt > ?) "
        "ORDER BY o.id LIMIT ?", (at, at, at, limit))
    return [_item(row) for row in rows]


def mark_sent(store: Db, item_id: int, message_id: int, now: datetime) -> None:
    """Record Telegram's message_id; from here on the item is never sent again."""
    with _tx(store) as tx:
        tx.execute("UPDATE outbox SET state = 'sent', message_id = ?, sent_at = ?, attempts = attempts + 1, "
                   "next_attempt = NULL WHERE id = ? AND state = 'pending'", (message_id, to_db(now), item_id))


def mark_retry(store: Db, item_id: int, error: str, next_attempt: datetime) -> None:
    """Count a failed attempt and say when to try again."""
    with _tx(store) as tx:
        tx.execute("UPDATE outbox SET attempts = attempts + 1, error = ?, next_attempt = ? "
                   "WHERE id = ? AND state = 'pending'", (error, to_db(next_attempt), item_id))


def mark_failed(store: Db, item_id: int, error: str, now: datetime) -> None:
    """Give up on an item but keep it, with its error, for admins to see."""
    with _tx(store) as tx:
        tx.execute("UPDATE outbox SET state = 'failed', attempts = attempts + 1, error = ?, next_attempt = ? "
                   "WHERE id = ? AND state = 'pending'", (error, to_db(now), item_id))


def failed(store: Store, limit: int | None = None) -> list[OutboxItem]:
    """Items that will never be sent, newest first, so admins can see what was lost and why."""
    sql = "SELECT * FROM outbox WHERE state = 'failed' ORDER BY id DESC"
    rows = store.query(sql + " LIMIT ?", (limit,)) if limit is not None else store.query(sql)
    return [_item(row) for row in rows]


def pending_count(store: Store) -> int:
    """How many parts still wait to be sent (blocked chats included)."""
    return int(store.query("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0])


def item(store: Store, item_id: int) -> OutboxItem | None:
    """One row by id, for callers that need its current state."""
    rows = store.query("SELECT * FROM outbox WHERE id = ?", (item_id,))
    return _item(rows[0]) if rows else None


# chats ---------------------------------------------------------------------------------------------


def chat_kind(chat_id: str) -> str:
    """Telegram's id convention: positive is a person, ``-100…`` a channel or supergroup, else a group."""
    if chat_id.startswith("-100") or chat_id.startswith("@"):
        return "channel"
    return "group" if chat_id.startswith("-") else "private"


def block_chat(store: Db, chat_id: str, until: datetime, *, now: datetime) -> None:
    """Hold a chat after a 429 until ``until``; stored, so a restart keeps waiting."""
    with _tx(store) as tx:
        _upsert_chat(tx, normalize_chat_id(chat_id), now, blocked_until=to_db(until))


def disable_chat(store: Db, chat_id: str, reason: str, *, now: datetime) -> int:
    """Stop writing to a chat that refused us; its pending items fail with the reason. Returns how many."""
    chat = normalize_chat_id(chat_id)
    with _tx(store) as tx:
        _upsert_chat(tx, chat, now, disabled=reason)
        cursor = tx.execute("UPDATE outbox SET state = 'failed', error = ?, next_attempt = ? "
                            "WHERE chat_id = ? AND state = 'pending'", (f"chat disabled: {reason}", to_db(now), chat))
        return cursor.rowcount


def migrate_chat(store: Db, old: str, new: str, *, now: datetime) -> int:
    """Move a group's pending items and subscriptions to its new supergroup id; returns items moved.

    An item whose ref is already queued for the new id fails as a duplicate instead of being lost.
    """
    old_id, new_id = normalize_chat_id(old), normalize_chat_id(new)
    with _tx(store) as tx:
        _upsert_chat(tx, old_id, now, migrated_to=new_id)
        _upsert_chat(tx, new_id, now)
        moved = tx.execute("UPDATE OR IGNORE outbox SET chat_id = ? WHERE chat_id = ? AND state = 'pending'",
                           (new_id, old_id)).rowcount
        tx.execute("UPDATE outbox SET state = 'failed', error = ?, next_attempt = ? WHERE chat_id = ? "
                   "AND state = 'pending'", (f"duplicate: already queued for {new_id}", to_db(now), old_id))
        tx.execute("UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?", (new_id, old_id))
        tx.execute("DELETE FROM subscriptions WHERE chat_id = ?", (old_id,))
        return moved


def chat_state(store: Store, chat_id: str) -> sqlite3.Row | None:
    """The ``chats`` row (blocked_until, disabled, migrated_to), for admins and tests."""
    rows = store.query("SELECT * FROM chats WHERE chat_id = ?", (normalize_chat_id(chat_id),))
    return rows[0] if rows else None


# internals -----------------------------------------------------------------------------------------


@contextmanager
def _tx(db: Db) -> Iterator[sqlite3.Connection]:
    """Join the caller's transaction when given a connection, else open one on the store."""
    with db.transaction() if isinstance(db, Store) else nullcontext(db) as tx:
        yield tx


def _upsert_chat(tx: sqlite3.Connection, chat_id: str, now: datetime, **values: str) -> None:
    names = ["chat_id", "kind", "updated", *values]
    params = [chat_id, chat_kind(chat_id), to_db(now), *values.values()]
    updates = ", ".join(f"{name} = excluded.{name}" for name in ["updated", *values])
    tx.execute(f"INSERT INTO chats ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
               f"ON CONFLICT(chat_id) DO UPDATE SET {updates}", params)


def _follow_migrations(tx: sqlite3.Connection, chat_id: str) -> str:
    for _ in range(8):  # a chat migrates once; the bound only guards against a corrupt cycle
        row = tx.execute("SELECT migrated_to FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        if row is None or row[0] is None:
            break
        chat_id = row[0]
    return chat_id


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        id=row["id"], chat_id=row["chat_id"], kind=row["kind"], ref=row["ref"], html=row["html"],
        text=row["text"], buttons=Keyboard.from_json(row["buttons"]) if row["buttons"] else None,
        created=from_db(row["created"]), state=row["state"], attempts=row["attempts"],  # type: ignore[arg-type]
        next_attempt=from_db(row["next_attempt"]), message_id=row["message_id"],
        sent_at=from_db(row["sent_at"]), error=row["error"])
