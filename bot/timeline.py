"""What the timeline chart shows: one row per commitment with its deadlines, effective status and news days.

Pure: the catalog, the effective statuses, the matched headlines' publication times and ``now`` go in,
frozen values come out. The renderer only draws these values, so what a deadline or a page means is
decided (and tested) here, without matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.agenda import standings
from bot.deadlines import Deadline, describe_days, local_today
from bot.digest import score_line
from bot.model import Agreement, Catalog, Commitment, Status
from bot.validate import did_you_mean

MAX_ROWS = 12  # rows per image: more would make a phone shrink the picture below readable text
EMPTY_SPAN = timedelta(days=365)  # the period shown when nothing on the chart has a date


@dataclass(frozen=True)
class Window:
    """A deadline as drawn: a marker on its day, or a span over the period the agreement named."""

    start: date
    due: date
    label: str
    fuzzy: bool

    @classmethod
    def of(cls, deadline: Deadline) -> Window:
        """Relative deadlines ("within 135 days") resolve to one day, so only calendar periods become spans."""
        return cls(deadline.start if deadline.fuzzy else deadline.due, deadline.due, deadline.label(), deadline.fuzzy)


@dataclass(frozen=True)
class Row:
    """One commitment on the chart: the deadline in force, the ones it replaced, and when news matched it."""

    commitment_id: str
    title: str
    status: Status
    agreed: date | None
    deadline: Window | None  # the deadline in force; None for an ongoing (undated) pledge
    superseded: tuple[Window, ...]  # the original and any earlier revisions, oldest first
    headlines: tuple[date, ...]  # local publication days of matched headlines, from the chart's start to today
    days_left: int | None  # to the deadline in force (negative: overdue); None when ongoing

    @property
    def ongoing(self) -> bool:
        """Undated pledges are drawn as a band from the agreed day to today instead of a deadline."""
        return self.deadline is None

    @property
    def overdue(self) -> bool:
        """Past the deadline in force and not closed: the chart draws the stretch since it was due."""
        return self.days_left is not None and self.days_left < 0 and not self.status.is_final


@dataclass(frozen=True)
class Timeline:
    """Every row of one chart, with the period the x axis spans and the agreement's score line."""

    title: str
    agreement_id: str | None
    rows: tuple[Row, ...]
    start: date
    end: date
    today: date
    score: str
    hidden_headlines: int  # matched headlines dated before the period or after today (bad feed dates)


@dataclass(frozen=True)
class Page:
    """The rows one image holds; long agreements are split into balanced pages sharing one x axis."""

    timeline: Timeline
    rows: tuple[Row, ...]
    number: int  # 1-based
    count: int
    first: int  # 1-based position of the first row in the whole timeline

    @property
    def last(self) -> int:
        """1-based position of the last row, for "rows 1–9 of 25"."""
        return self.first + len(self.rows) - 1


def find_agreement(catalog: Catalog, word: str) -> Agreement | None:
    """The agreement with this id, ignoring case and surrounding spaces, because phones capitalise."""
    return catalog.agreements_by_id.get(word.strip().lower())


def unknown_agreement(word: str, catalog: Catalog) -> str:
    """Name the valid ids, so a typo is fixed without another round trip."""
    ids = [a.id for a in catalog.agreements]
    hint = agreement_hint(word, ids)
    valid = ", ".join(ids) or "none (no [[agreement]] yet)"
    return f"unknown agreement '{word.strip()}'{hint or '.'} Valid ids: {valid}"


def agreement_hint(word: str, ids: Sequence[str]) -> str:
    """"; did you mean 'x'?" for a near miss or the one id that starts with what was typed, else ""."""
    wanted = word.strip().lower()
    starting = [i for i in ids if wanted and i.startswith(wanted)]
    return f"; did you mean '{starting[0]}'?" if len(starting) == 1 else did_you_mean(wanted, ids)


def build_timeline(catalog: Catalog, agreement: Agreement | None, statuses: Mapping[str, Status],
                   headlines: Mapping[str, Sequence[datetime]], now: datetime) -> Timeline:
    """Rows for one agreement (or every commitment when ``agreement`` is None), dated ones first by due day."""
    if agreement is None and len(catalog.agreements) == 1:
        agreement = catalog.agreements[0]
    tz = catalog.settings.tz
    today = local_today(now, tz)
    chosen = [c for c in catalog.commitments if agreement is None or c.agreement == agreement.id]
    items = standings(catalog, now, lambda c: statuses.get(c.id, c.status), chosen)
    dated = sorted((s for s in items if s.due is not None), key=lambda s: (s.due or today, s.commitment.id))
    ordered = dated + [s for s in items if s.due is None]
    start, end = _period(chosen, agreement, today)
    rows, hidden = [], 0
    for item in ordered:
        days = sorted(d.astimezone(tz).date() for d in headlines.get(item.commitment.id, ()))
        shown = tuple(d for d in days if start <= d <= today)  # a date after today is a feed's mistake
        hidden += len(days) - len(shown)
        rows.append(_row(item.commitment, item.status, shown, item.days_left))
    title = agreement.title if agreement else "All agreements"
    return Timeline(title, agreement.id if agreement else None, tuple(rows), start, end, today,
                    score_line(items), hidden)


def _row(commitment: Commitment, status: Status, headlines: tuple[date, ...], days_left: int | None) -> Row:
    """The deadline in force plus every one it replaced, so the chart can link them in order."""
    current = commitment.current_deadline
    earlier = [commitment.deadline, *(r.deadline for r in commitment.revisions[:-1])] if commitment.revisions else []
    return Row(commitment.id, commitment.title, status, commitment.agreed, Window.of(current) if current else None,
               tuple(Window.of(d) for d in earlier if d is not None), headlines, days_left)


def _period(commitments: Sequence[Commitment], agreement: Agreement | None, today: date) -> tuple[date, date]:
    """From the earliest agreed day or deadline to the later of today and the last deadline."""
    starts: list[date] = [agreement.signed] if agreement and agreement.signed else []
    ends = [today]
    for c in commitments:
        if c.agreed:
            starts.append(c.agreed)
        for d in (c.deadline, *(r.deadline for r in c.revisions)):
            if d is not None:
                starts.append(d.start)
                ends.append(d.due)
    start = min(starts) if starts else today - EMPTY_SPAN
    return min(start, today), max(ends)


def paginate(timeline: Timeline, max_rows: int = MAX_ROWS) -> list[Page]:
    """Balanced pages (25 rows at 12 a page: 9, 8, 8), so the last image is never a lone row."""
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    rows = timeline.rows
    count = max(1, math.ceil(len(rows) / max_rows))
    size, extra = divmod(len(rows), count)
    pages, first = [], 0
    for n in range(count):
        last = first + size + (1 if n < extra else 0)
        pages.append(Page(timeline, rows[first:last], n + 1, count, first + 1))
        first = last
    return pages


def deadline_text(row: Row) -> str:
    """The deadline as the agreement wrote it, how far past or ahead it is, and what it replaced."""
    assert row.deadline is not None
    text = row.deadline.label
    if row.days_left is not None and not row.status.is_final:
        text += f" · {describe_days(row.days_left)}"
    if row.superseded:
        text += f" (was {row.superseded[0].label})"
    return text


def subtitle(page: Page) -> str:
    """Score, then which rows of how many this image holds."""
    timeline = page.timeline
    where = f" · page {page.number} of {page.count}: rows {page.first}–{page.last} of {len(timeline.rows)}" \
        if page.count > 1 else ""
    return f"Score: {timeline.score}{where}"
