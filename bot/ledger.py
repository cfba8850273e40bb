"""The reminder and digest ledgers: which planned reminders and which digest periods have been handled.

The planner says when reminders *should* happen; this ledger remembers which of them did, so a
restart, a crash or a second process never repeats one. A row is written by ``record_reminder`` /
``record_digest`` inside the caller's transaction, together with enqueuing the message in the
outbox, so "recorded" and "queued" can never disagree. Also here: the small reads the digest needs
(the window since the last digest, the period's headlines, each commitment's status before it).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.agenda import StatusOf
from bot.clock import require_aware
from bot.history import Headline
from bot.model import Catalog, Commitment, Settings, Status
from bot.reminders import Slot, due_phrase, earliest, latest_due_slot, local_instant, next_slot_after
from bot.store import Store, from_db, to_db


@dataclass(frozen=True)
class DueReminder:
    """A reminder to send now: the commitment, its effective status, and the slot it fulfils."""

    commitment: Commitment
    status: Status
    slot: Slot

    @property
    def ref(self) -> str:
        """The outbox ref: unique per commitment and slot, so a re-run cannot queue it twice."""
        return reminder_ref(self.commitment.id, self.slot)


@dataclass(frozen=True)
class NextReminder:
    """The soonest planned reminder, for the start-up line and for scheduling the next wake-up."""

    commitment: Commitment
    slot: Slot

    def line(self, settings: Settings) -> str:
        """"next reminder: sv-x at 2026-12-01 09:00 PKT (due in 7 days)", in the monitors' time zone."""
        local = self.slot.at.astimezone(settings.tz)
        return f"next reminder: {self.commitment.id} at {local:%Y-%m-%d %H:%M %Z} ({due_phrase(self.slot.days)})"


def reminder_ref(commitment_id: str, slot: Slot) -> str:
    """"reminder/sv-x/2020-12-15/lead/7d": the outbox ref of one reminder."""
    return f"reminder/{commitment_id}/{slot.key}"


def digest_ref(period: str) -> str:
    """"digest/2026-W48": the outbox ref of one digest."""
    return f"digest/{period}"


def reminder_recorded(store: Store, commitment_id: str, slot: Slot) -> bool:
    """True once the slot has been handled (queued) for this commitment."""
    return bool(store.query("SELECT 1 FROM reminders WHERE commitment_id = ? AND slot = ?",
                            (commitment_id, slot.key)))


def due_reminders(store: Store, catalog: Catalog, status_of: StatusOf, now: datetime) -> list[DueReminder]:
    """For each open dated commitment, its latest slot at or before ``now`` if not yet recorded: at most one each.

    Anacron semantics: after downtime only the most recent missed slot comes back, once.
    Soonest-planned first, so a catch-up goes out in the order it would have.
    """
    now = require_aware(now, "now")
    out = []
    for commitment in catalog.commitments:
        status = status_of(commitment)
        slot = latest_due_slot(commitment, catalog.settings, status, now)
        if slot is not None and not reminder_recorded(store, commitment.id, slot):
            out.append(DueReminder(commitment, status, slot))
    return sorted(out, key=lambda r: (r.slot.at, r.commitment.id))


def record_reminder(tx: sqlite3.Connection, commitment_id: str, slot: Slot, now: datetime) -> bool:
    """Mark a slot handled, inside the caller's transaction; False if it already was (then queue nothing)."""
    cursor = tx.execute("INSERT OR IGNORE INTO reminders (commitment_id, slot, kind, due, sent_at) VALUES (?,?,?,?,?)",
                        (commitment_id, slot.key, slot.kind, slot.due.isoformat(), to_db(require_aware(now, "now"))))
    return bool(cursor.rowcount)


def next_reminder(catalog: Catalog, settings: Settings, status_of: StatusOf, now: datetime) -> NextReminder | None:
    """The soonest slot after ``now`` over all open dated commitments, or None when nothing is planned."""
    candidates = [(c.id, slot) for c in catalog.commitments
                  if (slot := next_slot_after(c, settings, status_of(c), now)) is not None]
    found = earliest(candidates)
    return None if found is None else NextReminder(catalog.by_id[found[0]], found[1])


# digests ------------------------------------------------------------------------------------------

def digest_period(settings: Settings, now: datetime) -> tuple[str, datetime] | None:
    """The current period's key and the instant its digest is due: ("2026-11-23", ...) or ("2026-W48", Monday)."""
    if settings.digest not in ("daily", "weekly"):
        return None
    today = require_aware(now, "now").astimezone(settings.tz).date()
    if settings.digest == "daily":
        return today.isoformat(), local_instant(today, settings.digest_at, settings.tz)
    year, week, weekday = today.isocalendar()
    monday = today - timedelta(days=weekday - 1)
    return f"{year}-W{week:02d}", local_instant(monday, settings.digest_at, settings.tz)


def digest_due(store: Store, settings: Settings, now: datetime) -> str | None:
    """The current period's key once its ``digest_at`` has passed and no digest is recorded for it, else None.

    Only the current period is ever due: a bot that was down for a week sends one digest, not seven.
    """
    current = digest_period(settings, now)
    if current is None or current[1] > require_aware(now, "now"):
        return None
    period = current[0]
    return None if store.query("SELECT 1 FROM digests WHERE period = ?", (period,)) else period


def record_digest(tx: sqlite3.Connection, period: str, now: datetime) -> bool:
    """Mark a period's digest handled, inside the caller's transaction; False if it already was."""
    cursor = tx.execute("INSERT OR IGNORE INTO digests (period, sent_at) VALUES (?, ?)",
                        (period, to_db(require_aware(now, "now"))))
    return bool(cursor.rowcount)


def last_digest_at(store: Store) -> datetime | None:
    """When the previous digest was recorded, so the next one covers exactly what happened since."""
    rows = store.query("SELECT MAX(sent_at) FROM digests")
    return from_db(rows[0][0]) if rows else None


def digest_since(store: Store, settings: Settings, now: datetime) -> datetime:
    """Start of the window a digest covers: the previous digest, but never more than one period back."""
    now = require_aware(now, "now")
    floor = now - (timedelta(days=7) if settings.digest == "weekly" else timedelta(days=1))
    last = last_digest_at(store)
    return floor if last is None else max(last, floor)


def headlines_since(store: Store, since: datetime, limit: int = 200) -> list[Headline]:
    """Headlines matched after ``since`` (not backfill, not dismissed by an admin), oldest first."""
    rows = store.query(
        "SELECT m.commitment_id, e.title, e.link, e.feed_id, e.published, m.terms, m.story_id FROM matches m "
        "JOIN entries e ON e.id = m.entry_id WHERE m.matched_at > ? AND m.backfill = 0 AND NOT EXISTS "
        "(SELECT 1 FROM curation c WHERE c.story_id = m.story_id AND c.commitment_id = m.commitment_id "
        "AND c.verdict = 'irrelevant') ORDER BY e.published, m.id LIMIT ?",
        (to_db(require_aware(since, "since")), limit))
    return [Headline(r[0], r[1], r[2], r[3], from_db(r[4]) or datetime.min, tuple(json.loads(r[5])), r[6])
            for r in rows]


def status_before(store: Store, since: datetime) -> dict[str, Status]:
    """Each commitment's latest recorded status at ``since``, so the digest can tell real changes from repeats."""
    rows = store.query("SELECT commitment_id, status FROM status_history WHERE id IN "
                       "(SELECT MAX(id) FROM status_history WHERE at <= ? GROUP BY commitment_id)",
                       (to_db(require_aware(since, "since")),))
    return {r["commitment_id"]: Status(r["status"]) for r in rows}


def reminders_sent(store: Store, commitment_id: str) -> list[tuple[str, str, date, datetime]]:
    """The ledger rows of one commitment (slot key, kind, due, recorded at), oldest first, for admins and tests."""
    rows = store.query("SELECT slot, kind, due, sent_at FROM reminders WHERE commitment_id = ? ORDER BY sent_at, slot",
                       (commitment_id,))
    return [(r[0], r[1], date.fromisoformat(r[2]), from_db(r[3]) or datetime.min) for r in rows]
