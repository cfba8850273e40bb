"""Effective status: the latest of the TOML value and the status history (``/mark``), with who and when.

A TOML status is entered into the history when it is first seen or changes, so "latest" is well
defined whichever way a status was set, and the digest can report status changes from either source.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.model import Catalog, Commitment, Status
from bot.store import Store, from_db, to_db

TOML_SOURCE = "commitments.toml"


@dataclass(frozen=True)
class StatusChange:
    """One entry of a commitment's status history."""

    commitment_id: str
    status: Status
    source: str  # "commitments.toml" or "telegram"
    at: datetime
    actor: str | None = None
    actor_id: int | None = None
    evidence_url: str | None = None
    note: str | None = None


def _change(row: object) -> StatusChange:
    r = row  # sqlite3.Row
    return StatusChange(r["commitment_id"], Status(r["status"]), r["source"], from_db(r["at"]),  # type: ignore[index,arg-type]
                        r["actor"], r["actor_id"], r["evidence_url"], r["note"])  # type: ignore[index]


def sync_toml_statuses(store: Store, catalog: Catalog, now: datetime) -> list[StatusChange]:
    """Record each TOML status that is new or changed since last seen; return what was recorded."""
    last_toml = {r["commitment_id"]: r["status"] for r in store.query(
        "SELECT commitment_id, status FROM status_history WHERE id IN "
        "(SELECT MAX(id) FROM status_history WHERE source = ? GROUP BY commitment_id)", (TOML_SOURCE,))}
    changes = [StatusChange(c.id, c.status, TOML_SOURCE, now) for c in catalog.commitments
               if last_toml.get(c.id) != c.status.value]
    if changes:
        with store.transaction() as tx:
            tx.executemany("INSERT INTO status_history (commitment_id, status, source, at) VALUES (?,?,?,?)",
                           [(c.commitment_id, c.status.value, c.source, to_db(now)) for c in changes])
    return changes


def mark(store: Store, commitment_id: str, status: Status, now: datetime, *, actor: str, actor_id: int,
         evidence_url: str | None = None, note: str | None = None) -> StatusChange:
    """Record a status set by an admin in Telegram."""
    with store.transaction() as tx:
        tx.execute("INSERT INTO status_history (commitment_id, status, source, actor, actor_id, at, evidence_url, note)"
                   " VALUES (?,?,?,?,?,?,?,?)",
                   (commitment_id, status.value, "telegram", actor, actor_id, to_db(now), evidence_url, note))
    return StatusChange(commitment_id, status, "telegram", now, actor, actor_id, evidence_url, note)


def history(store: Store, commitment_id: str) -> list[StatusChange]:
    """Oldest first."""
    return [_change(r) for r in store.query(
        "SELECT * FROM status_history WHERE commitment_id = ? ORDER BY id", (commitment_id,))]


def effective_statuses(store: Store, commitments: Iterable[Commitment]) -> dict[str, Status]:
    """The status in force for each commitment: the newest history entry, else the TOML value.

    A TOML value that differs from the last one recorded from the TOML is an edit not yet synced, and
    so the newest fact of all: it wins even before ``sync_toml_statuses`` records it."""
    latest = {r["commitment_id"]: Status(r["status"]) for r in store.query(
        "SELECT commitment_id, status FROM status_history WHERE id IN "
        "(SELECT MAX(id) FROM status_history GROUP BY commitment_id)")}
    last_toml = {r["commitment_id"]: r["status"] for r in store.query(
        "SELECT commitment_id, status FROM status_history WHERE id IN "
        "(SELECT MAX(id) FROM status_history WHERE source = ? GROUP BY commitment_id)", (TOML_SOURCE,))}
    out = {}
    for c in commitments:
        recorded = last_toml.get(c.id)
        out[c.id] = c.status if recorded is not None and recorded != c.status.value else latest.get(c.id, c.status)
    return out


def changes_since(store: Store, since: datetime) -> list[StatusChange]:
    """Status changes after ``since`` (for the digest), oldest first."""
    return [_change(r) for r in store.query(
        "SELECT * FROM status_history WHERE at > ? ORDER BY id", (to_db(since),))]
