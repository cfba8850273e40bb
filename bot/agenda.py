"""What is due, upcoming and overdue at a given moment: pure selections over the catalog.

The effective status is passed in as a function, because the TOML value can be overridden by the
status history kept in the database (``/mark``); the selection logic should not care where it comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.deadlines import Deadline, days_left
from bot.model import Catalog, Commitment, Status

StatusOf = Callable[[Commitment], Status]


def toml_status(commitment: Commitment) -> Status:
    """The status as written in the TOML, used when no history is available."""
    return commitment.status


@dataclass(frozen=True)
class Standing:
    """A commitment seen at one moment: its deadline in force, days left, and effective status."""

    commitment: Commitment
    status: Status
    deadline: Deadline | None
    days_left: int | None  # None for ongoing commitments

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0 and not self.status.is_final

    @property
    def due(self) -> date | None:
        return self.deadline.due if self.deadline else None


def standing(commitment: Commitment, now: datetime, tz: ZoneInfo, status_of: StatusOf = toml_status) -> Standing:
    """Where one commitment stands at ``now``."""
    deadline = commitment.current_deadline
    left = days_left(deadline.due, now, tz) if deadline else None
    return Standing(commitment, status_of(commitment), deadline, left)


def standings(catalog: Catalog, now: datetime, status_of: StatusOf = toml_status,
              commitments: Iterable[Commitment] | None = None) -> list[Standing]:
    """Every commitment's standing, in catalog order."""
    tz = catalog.settings.tz
    return [standing(c, now, tz, status_of) for c in (catalog.commitments if commitments is None else commitments)]


def _by_due(s: Standing) -> tuple[date, str]:
    assert s.due is not None
    return s.due, s.commitment.id


def upcoming(catalog: Catalog, now: datetime, days: int, status_of: StatusOf = toml_status) -> list[Standing]:
    """Open commitments due between today and ``days`` from now, soonest first."""
    chosen = [s for s in standings(catalog, now, status_of)
              if s.days_left is not None and 0 <= s.days_left <= days and not s.status.is_final]
    return sorted(chosen, key=_by_due)


def overdue(catalog: Catalog, now: datetime, status_of: StatusOf = toml_status) -> list[Standing]:
    """Open commitments whose deadline has passed, longest overdue first."""
    return sorted((s for s in standings(catalog, now, status_of) if s.overdue), key=_by_due)


def score(items: Iterable[Standing]) -> dict[Status, int]:
    """Counts per status, in the scale's order, for a promise-tracker style meter."""
    counts = {s: 0 for s in Status}
    for item in items:
        counts[item.status] += 1
    return {k: v for k, v in counts.items() if v}
