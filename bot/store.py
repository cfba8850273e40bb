"""The state database: one SQLite file (WAL) holding feed state, seen entries, stories and matches.

All access goes through one connection guarded by a lock, so the asyncio side can run store calls in a
worker thread (``asyncio.to_thread``) without ever blocking the event loop on disk I/O.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.errors import StoreError
from bot.feedstate import FeedState
from bot.schema import migrate

_STATE_FIELDS = [f.name for f in fields(FeedState)]
_STATE_TIMES = {"first_polled", "last_attempt", "last_success", "failing_since", "next_poll"}


def to_db(value: datetime) -> str:
    """Fixed-width ISO UTC text: sorts as text, and a naive datetime is refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"refusing to store naive datetime {value!r}")
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def from_db(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Store:
    """The open state database; create with ``Store.open(path)``."""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating with owner-only permissions) and migrate the database."""
        name = str(path)
        try:
            if name != ":memory:":
                Path(name).parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)  # never world-readable, even briefly
                os.close(fd)
            conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.row_factory = sqlite3.Row
            migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state database {name}: {exc}") from exc
        return cls(conn, name)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything inside commits together or not at all."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def integrity_ok(self) -> bool:
        return self.query("PRAGMA integrity_check")[0][0] == "ok"

    # feed state -----------------------------------------------------------------------------------

    def feed_states(self) -> dict[str, FeedState]:
        return {row["feed_id"]: _state(row) for row in self.query("SELECT * FROM feed_state")}

    def feed_state(self, feed_id: str) -> FeedState | None:
        rows = self.query("SELECT * FROM feed_state WHERE feed_id = ?", (feed_id,))
        return _state(rows[0]) if rows else None

    def save_feed_state(self, state: FeedState, conn: sqlite3.Connection | None = None) -> None:
        """Upsert; pass ``conn`` to make it part of a larger transaction."""
        values = [_to_column(name, getattr(state, name)) for name in _STATE_FIELDS]
        sql = (f"INSERT INTO feed_state ({', '.join(_STATE_FIELDS)}) VALUES ({', '.join('?' * len(values))}) "
               f"ON CONFLICT(feed_id) DO UPDATE SET "
               + ", ".join(f"{n} = excluded.{n}" for n in _STATE_FIELDS[1:]))
        if conn is not None:
            conn.execute(sql, values)
        else:
            with self.transaction() as tx:
                tx.execute(sql, values)

    def due_feed_ids(self, now: datetime) -> list[str]:
        """Feeds with state whose next poll has come (feeds without state are due too: the caller adds them)."""
        rows = self.query("SELECT feed_id FROM feed_state WHERE disabled IS NULL AND "
                          "(next_poll IS NULL OR next_poll <= ?) ORDER BY next_poll", (to_db(now),))
        return [r[0] for r in rows]


def _to_column(name: str, value: Any) -> Any:
    if name in _STATE_TIMES:
        return None if value is None else to_db(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _state(row: sqlite3.Row) -> FeedState:
    values: dict[str, Any] = {}
    for name in _STATE_FIELDS:
        value = row[name]
        if name in _STATE_TIMES:
            value = from_db(value)
        elif name == "reported":
            value = bool(value)
        values[name] = value
    return FeedState(**values)
