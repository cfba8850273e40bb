"""The reminder planner: pure arithmetic from a commitment's deadline in force to the instants reminders are due.

A reminder *slot* is an instant at ``remind_at`` local time on a lead day (due day minus each
``remind_before``), on the due day, and every ``overdue_every`` after it while the status is open.
Slots derive from ``Commitment.current_deadline`` alone, so editing or revising a deadline re-plans by
itself, and each slot carries the due date it was planned from, so the ledger sees an edited
deadline's slots as new. The caller applies anacron semantics: it asks for the latest slot at or
before ``now`` and sends it once if the ledger has not seen it, so downtime never floods the channel.
Nothing here reads the clock: ``now`` is always an argument.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import count
from typing import Literal
from zoneinfo import ZoneInfo

from bot.clock import require_aware
from bot.model import Commitment, Settings, Status

SlotKind = Literal["lead", "due", "overdue"]
DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Slot:
    """One planned reminder: when (UTC), what kind, and how many days are left at that moment."""

    at: datetime  # aware, UTC
    kind: SlotKind
    days: int  # due day minus the slot's local day: >0 lead, 0 due, <0 overdue (as ``deadlines.days_left``)
    due: date  # the due date the slot was planned from; an edited deadline gives new slots

    @property
    def key(self) -> str:
        """The ledger key, stable across restarts and ``remind_at`` changes: "2020-12-15/lead/7d"."""
        return f"{self.due.isoformat()}/{self.kind}/{abs(self.days)}d"


def whole_days(delta: timedelta) -> int:
    """A duration in whole days, half up; at least 1, since a positive lead must fall before the due day."""
    return max(1, int(delta / DAY + 0.5))


def lead_days(commitment: Commitment, settings: Settings) -> tuple[int, ...]:
    """Days before the due day to remind, largest first; the commitment's own list overrides the top level."""
    durations = commitment.remind_before if commitment.remind_before is not None else settings.remind_before
    return tuple(sorted({whole_days(d) for d in durations}, reverse=True))


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``at`` on ``day`` in ``tz`` as a UTC instant, never skipped and never doubled across DST changes.

    With ``fold=0`` an ambiguous time (clocks going back) is its first occurrence, and a nonexistent
    one (clocks going forward) is read with the offset before the change, i.e. moved later by the
    gap: 02:30 on a New York spring-forward day becomes 03:30 EDT.
    """
    local = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(timezone.utc)


def _open(commitment: Commitment, status: Status | None) -> bool:
    return commitment.current_deadline is not None and not (status is not None and status.is_final)


def _fixed(commitment: Commitment, settings: Settings) -> list[Slot]:
    """The lead slots (not before the pledge was agreed) and the due-day slot, in time order."""
    deadline = commitment.current_deadline
    assert deadline is not None
    due, tz, at = deadline.due, settings.tz, settings.remind_at
    out = []
    for days in lead_days(commitment, settings):
        day = due - timedelta(days=days)
        if commitment.agreed is not None and day < commitment.agreed:
            continue  # "due in 30 days" before the promise was made reminds nobody of anything
        out.append(Slot(local_instant(day, at, tz), "lead", days, due))
    out.append(Slot(local_instant(due, at, tz), "due", 0, due))
    return sorted(out)


def _overdue(commitment: Commitment, settings: Settings, k: int) -> Slot:
    """The k-th overdue slot (k >= 1), ``k * overdue_every`` (whole days) after the due day."""
    deadline = commitment.current_deadline
    assert deadline is not None
    step = whole_days(settings.overdue_every) * k
    return Slot(local_instant(deadline.due + timedelta(days=step), settings.remind_at, settings.tz),
                "overdue", -step, deadline.due)


def slots(commitment: Commitment, settings: Settings, status: Status | None = None,
          until: datetime | None = None) -> Iterator[Slot]:
    """Every slot in time order, lazily: overdue slots never end unless bounded by ``until`` (inclusive).

    No slots for an ongoing (undated) commitment or a final status.
    """
    if not _open(commitment, status):
        return
    limit = require_aware(until, "until") if until is not None else None
    for slot in _fixed(commitment, settings):
        if limit is not None and slot.at > limit:
            return
        yield slot
    for k in count(1):
        slot = _overdue(commitment, settings, k)
        if limit is not None and slot.at > limit:
            return
        yield slot


def _overdue_index(commitment: Commitment, settings: Settings, now: datetime) -> int:
    """How many whole overdue periods lie between the due day and today's local date (may be <= 0)."""
    deadline = commitment.current_deadline
    assert deadline is not None
    today = now.astimezone(settings.tz).date()
    return (today - deadline.due).days // whole_days(settings.overdue_every)


def latest_due_slot(commitment: Commitment, settings: Settings, status: Status | None, now: datetime) -> Slot | None:
    """The most recent slot at or before ``now``: the one reminder to send if the ledger lacks it."""
    now = require_aware(now, "now")
    if not _open(commitment, status):
        return None
    k = _overdue_index(commitment, settings, now)
    # local_instant keeps a slot on its own local day, so only today's and the previous period's can qualify
    for j in (k + 1, k, k - 1):
        if j >= 1 and (slot := _overdue(commitment, settings, j)).at <= now:
            return slot
    past = [s for s in _fixed(commitment, settings) if s.at <= now]
    return past[-1] if past else None


def next_slot_after(commitment: Commitment, settings: Settings, status: Status | None, now: datetime) -> Slot | None:
    """The first slot strictly after ``now``, for scheduling the next wake-up and the start-up line."""
    now = require_aware(now, "now")
    if not _open(commitment, status):
        return None
    for slot in _fixed(commitment, settings):
        if slot.at > now:
            return slot
    k = max(1, _overdue_index(commitment, settings, now))
    for j in (k - 1, k, k + 1, k + 2):
        if j >= 1 and (slot := _overdue(commitment, settings, j)).at > now:
            return slot
    return None  # unreachable: the period after today's is always in the future


def due_phrase(days: int) -> str:
    """"due in 7 days", "due today", "overdue by 3 days": the words a reminder leads with."""
    if days == 0:
        return "due today"
    n = abs(days)
    unit = "day" if n == 1 else "days"
    return f"due in {n} {unit}" if days > 0 else f"overdue by {n} {unit}"


def earliest(candidates: Sequence[tuple[str, Slot]]) -> tuple[str, Slot] | None:
    """The soonest (id, slot) pair, ties broken by id so the answer is stable."""
    return min(candidates, key=lambda pair: (pair[1].at, pair[0]), default=None)
