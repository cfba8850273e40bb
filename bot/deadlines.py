"""Deadlines that keep the precision people wrote them with, and resolve to a due date (their last day).

Agreements rarely say "on 2021-03-31": they say "in the first quarter of 2021", "by the beginning of
December" or "within 135 days". A Deadline remembers which, so reminders and tables print it the way
the agreement did while the planner still gets one concrete due date.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

DEADLINE_HELP = (
    'a TOML date (2020-12-15), a month ("2020-12"), part of a month ("early 2020-12", "mid 2020-12", '
    '"late 2020-12"), a quarter ("2021-Q1"), a year ("2021"), or a period after the agreed date '
    '("+135d", "+6w", "+14mo", "+2y")'
)


class Precision(Enum):
    """How exactly the agreement stated the deadline."""

    DAY = "day"
    MONTH = "month"
    EARLY = "early"
    MID = "mid"
    LATE = "late"
    QUARTER = "quarter"
    YEAR = "year"
    RELATIVE = "relative"


@dataclass(frozen=True)
class Deadline:
    """A deadline as written plus the window it denotes; ``due`` is the window's last day."""

    written: str
    precision: Precision
    start: date
    due: date
    rule: str | None = None  # "+135d" for relative deadlines

    @property
    def fuzzy(self) -> bool:
        """True when the agreement named a period rather than a day, so reminders say "by end of"."""
        return self.precision not in (Precision.DAY, Precision.RELATIVE)

    def label(self) -> str:
        """Print the deadline the way people wrote it, e.g. "by end of Q1 2021"."""
        p = self.precision
        if p is Precision.DAY:
            return f"by {fmt_day(self.due)}"
        if p is Precision.MONTH:
            return f"by end of {_month(self.due)}"
        if p is Precision.EARLY:
            return f"early {_month(self.due)}"
        if p is Precision.MID:
            return f"mid-{_month(self.due)}"
        if p is Precision.LATE:
            return f"late {_month(self.due)}"
        if p is Precision.QUARTER:
            return f"by end of Q{(self.due.month - 1) // 3 + 1} {self.due.year}"
        if p is Precision.YEAR:
            return f"by end of {self.due.year}"
        return f"within {_rule_words(self.rule or '')} (by {fmt_day(self.due)})"

    def due_end(self, tz: ZoneInfo) -> datetime:
        """The last instant of the due day in the configured timezone, as an aware datetime."""
        return datetime.combine(self.due + timedelta(days=1), time(0), tzinfo=tz) - timedelta(microseconds=1)


def fmt_day(day: date) -> str:
    """"15 Dec 2020": unambiguous for readers on both sides of the date-order divide."""
    return f"{day.day} {calendar.month_abbr[day.month]} {day.year}"


def _month(day: date) -> str:
    return f"{calendar.month_name[day.month]} {day.year}"


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_PART = re.compile(r"^(early|mid|late)\s+(\d{4})-(\d{2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_RELATIVE = re.compile(r"^\+(\d{1,6})\s*(d|w|mo|y)$")
_RULE_UNITS = {"d": ("day", "days"), "w": ("week", "weeks"), "mo": ("month", "months"), "y": ("year", "years")}


def _rule_words(rule: str) -> str:
    m = _RELATIVE.match(rule)
    if not m:
        return rule
    n = int(m.group(1))
    one, many = _RULE_UNITS[m.group(2)]
    return f"{n} {one if n == 1 else many}"


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _check_month(year: int, month: int, text: str) -> None:
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r} has month {month:02d}; months run 01-12")
    if not 1900 <= year <= 2200:
        raise ValueError(f"{text!r} has year {year}; expected a year between 1900 and 2200")


def add_months(day: date, months: int) -> date:
    """Calendar months, clamping to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_deadline(value: object, agreed: date | None = None) -> Deadline:
    """Turn a TOML deadline value into a Deadline; raise ValueError naming what would be valid."""
    if isinstance(value, datetime):
        raise ValueError(f"{value.isoformat()} has a time of day; a deadline is {DEADLINE_HELP}")
    if isinstance(value, date):
        _check_month(value.year, value.month, value.isoformat())
        return Deadline(value.isoformat(), Precision.DAY, value, value)
    if not isinstance(value, str):
        raise ValueError(f"expected {DEADLINE_HELP}, got {type(value).__name__} {value!r}")
    text = value.strip()
    if m := _DAY.match(text):
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise ValueError(f"{text!r} is not a date that exists") from None
        return Deadline(text, Precision.DAY, day, day)
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        _check_month(year, month, text)
        return Deadline(text, Precision.MONTH, date(year, month, 1), _last_day(year, month))
    if m := _PART.match(text):
        part, year, month = m[1].lower(), int(m[2]), int(m[3])
        _check_month(year, month, text)
        first, last = {"early": (1, 10), "mid": (11, 20), "late": (21, None)}[part]
        end = _last_day(year, month) if last is None else date(year, month, last)
        return Deadline(text, Precision(part), date(year, month, first), end)
    if m := _QUARTER.match(text):
        year, quarter = int(m[1]), int(m[2])
        _check_month(year, 1, text)
        return Deadline(
            text, Precision.QUARTER, date(year, 3 * quarter - 2, 1), _last_day(year, 3 * quarter)
        )
    if m := _YEAR.match(text):
        year = int(m[1])
        _check_month(year, 1, text)
        return Deadline(text, Precision.YEAR, date(year, 1, 1), date(year, 12, 31))
    if m := _RELATIVE.match(text):
        if agreed is None:
            raise ValueError(f"{text!r} is relative to the agreed date, but there is no 'agreed' date")
        n, unit = int(m[1]), m[2]
        if n <= 0:
            raise ValueError(f"{text!r} must be a positive period")
        try:
            if unit == "d":
                due = agreed + timedelta(days=n)
            elif unit == "w":
                due = agreed + timedelta(weeks=n)
            else:
                due = add_months(agreed, n * 12 if unit == "y" else n)
            _check_month(due.year, due.month, f"{text} after {agreed.isoformat()}")
        except (OverflowError, ValueError):
            raise ValueError(f"{text!r} after {agreed.isoformat()} falls outside 1900-2200; "
                             f"expected {DEADLINE_HELP}") from None
        return Deadline(text, Precision.RELATIVE, agreed, due, rule=text)
    raise ValueError(f"{text!r} is not a deadline; expected {DEADLINE_HELP}")


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """Today's date where the monitors are, which decides "due today" and "overdue"."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).date()


def days_left(due: date, now: datetime, tz: ZoneInfo) -> int:
    """Days until the due date (0 = due today, negative = overdue by that many days)."""
    return (due - local_today(now, tz)).days


def describe_days(days: int) -> str:
    """"3 days left", "due today", "overdue by 12 days"."""
    if days == 0:
        return "due today"
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} left"
    return f"overdue by {-days} day{'s' if days != -1 else ''}"
