"""The state database: one SQLite file (WAL) holding feed state, seen entries, stories and matches.

Writes go through one connection guarded by a lock, so the asyncio side can run store calls in a worker
thread (``asyncio.to_thread``) without ever blocking the event loop on disk I/O. Reads outside a write
transaction use a second, read-only connection with its own lock: in WAL mode a reader never waits for a
writer, so a bot command's queries do not queue behind a big poll's ingest transactions (bench/latency.py).
A read inside a transaction, on the thread that holds it, uses the write connection and sees its own writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
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

    def __init__(self, conn: sqlite3.Connection, path: str, reader: sqlite3.Connection | None = None):
        self.conn = conn
        self.path = path
        self.lock = threading.RLock()
        self._reader = reader  # None (e.g. ":memory:"): every read shares the write connection
        self._read_lock = threading.Lock()

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating with owner-only permissions) and migrate the database."""
        name = str(path)
        try:
            if name != ":memory:":
                Path(name).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new folder is owner-only too
                fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)  # never world-readable, even briefly
                os.close(fd)
            conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.row_factory = sqlite3.Row
            migrate(conn)
            reader = None if name == ":memory:" else _read_connection(name)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state database {name}: {exc}") from exc
        return cls(conn, name, reader)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()

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
        """Rows of one SELECT; never waits for another thread's write transaction (see the module docstring)."""
        if self._reader is None or self.lock._is_owned():  # type: ignore[attr-defined]  # inside our own transaction
            with self.lock:
                return self.conn.execute(sql, params).fetchall()
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    def integrity_ok(self) -> bool:
        return self.query("PRAGMA integrity_check")[0][0] == "ok"

    # feed state -----------------------------------------------------------------------------------

    def feed_states(self) -> FeedStates:
        """Every feed's state; see :class:`FeedStates` for why only the scheduling columns are read up front."""
        sql = "SELECT feed_id, next_poll, disabled FROM feed_state"
        if self._reader is None or self.lock._is_owned():  # type: ignore[attr-defined]
            with self.lock:
                rows = [tuple(row) for row in self.conn.execute(sql)]
        else:
            with self._read_lock:
                cursor = self._reader.cursor()
                cursor.row_factory = None  # plain tuples: much cheaper than sqlite3.Row for 10,000 rows
                rows = cursor.execute(sql).fetchall()
        return FeedStates(rows, self.feed_state)

    def feed_state(self, feed_id: str) -> FeedState | None:
        rows = self.query(f"SELECT {', '.join(_STATE_FIELDS)} FROM feed_state WHERE feed_id = ?", (feed_id,))
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

    def feed_items(self, feed_id: str) -> dict[bytes, str | None]:
        """The feed's item index (digest -> entry key, None for an item that gave no entry); empty if unknown."""
        rows = self.query("SELECT items FROM feed_items WHERE feed_id = ?", (feed_id,))
        try:
            stored = json.loads(rows[0][0]) if rows else {}
            return {bytes.fromhex(digest): key if isinstance(key, str) else None for digest, key in stored.items()}
        except (ValueError, TypeError, AttributeError):  # damaged: the next parse is a whole one and rewrites it
            return {}

    def save_feed_items(self, feed_id: str, items: Mapping[bytes, str | None] | None, conn: sqlite3.Connection) -> None:
        """Replace the feed's item index inside ``conn``'s transaction (with the entries it vouches for);
        None or empty removes it, so the next changed body is parsed whole."""
        if not items:
            conn.execute("DELETE FROM feed_items WHERE feed_id = ?", (feed_id,))
            return
        text = json.dumps({digest.hex(): key for digest, key in items.items()}, ensure_ascii=False)
        conn.execute("INSERT INTO feed_items (feed_id, items) VALUES (?, ?) "
                     "ON CONFLICT(feed_id) DO UPDATE SET items = excluded.items", (feed_id, text))

    def due_feed_ids(self, now: datetime) -> list[str]:
        """Feeds with state whose next poll has come (feeds without state are due too: the caller adds them)."""
        rows = self.query("SELECT feed_id FROM feed_state WHERE disabled IS NULL AND "
                          "(next_poll IS NULL OR next_poll <= ?) ORDER BY next_poll", (to_db(now),))
        return [r[0] for r in rows]


class FeedStates(Mapping[str, FeedState]):
    """All feed states by feed id; a full FeedState is read only when one is looked up.

    The poll tick reads every state to decide which feeds are due; reading every column and building 10,000
    frozen dataclasses with five parsed datetimes each took ~70 ms of the tick (bench/scale.py), for feeds
    that are mostly not due. :meth:`is_due` answers from the two scheduling columns (fixed-width ISO text
    sorts like the datetimes it encodes); a lookup reads that feed's row then (it may be newer)."""

    def __init__(self, rows: list[tuple[str, str | None, str | None]],
                 load: Callable[[str], FeedState | None]) -> None:
        self._rows = {row[0]: row for row in rows}
        self._load = load
        self._built: dict[str, FeedState] = {}

    def __getitem__(self, feed_id: str) -> FeedState:
        state = self._built.get(feed_id)
        if state is None:
            self._rows[feed_id]  # KeyError for a feed without state, as a dict would
            loaded = self._load(feed_id)
            if loaded is None:  # deleted since: nothing to show
                raise KeyError(feed_id)
            state = self._built[feed_id] = loaded
        return state

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, feed_id: object) -> bool:
        return feed_id in self._rows

    def is_due(self, feed_id: str, now_text: str) -> bool:
        """``feedstate.is_due`` for a stored feed, from its raw columns; ``now_text`` is ``to_db(now)``."""
        _, next_poll, disabled = self._rows[feed_id]
        return disabled is None and (next_poll is None or next_poll <= now_text)


def _read_connection(name: str) -> sqlite3.Connection:
    """The read-only second connection: WAL lets it read committed data while the writer holds its lock."""
    reader = sqlite3.connect(name, isolation_level=None, check_same_thread=False, timeout=30)
    reader.execute("PRAGMA query_only = ON")
    reader.execute("PRAGMA busy_timeout = 30000")
    reader.row_factory = sqlite3.Row
    return reader


def _to_column(name: str, value: Any) -> Any:
    if name in _STATE_TIMES:
        return None if value is None else to_db(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _state(row: Any) -> FeedState:
    """A FeedState from a row whose columns are in ``_STATE_FIELDS`` order (a tuple or an sqlite3.Row)."""
    values: list[Any] = [_CONVERT[i](value) for i, value in enumerate(row)]
    return FeedState(*values)


def _same(value: Any) -> Any:
    return value


_CONVERT = [from_db if name in _STATE_TIMES else bool if name == "reported" else _same for name in _STATE_FIELDS]
