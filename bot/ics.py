"""A small RFC 5545 (iCalendar) writer for all-day events with alarms, so deadlines land in any calendar.

Only what pledgewatch publishes is supported: one VCALENDAR of all-day VEVENTs, each with display
VALARMs. It is written by hand because the format is small and the rules that matter are few: CRLF line
ends, lines folded at 75 octets without splitting a UTF-8 character, TEXT values escaped, and every
timestamp in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from bot.clock import require_aware

CRLF = "\r\n"
MAX_OCTETS = 75
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # CTLs other than HTAB and LF are not allowed in TEXT
_SAFE_URI = re.compile(r"^https?://[^\s\x00-\x1f\x7f\"<>\\^`{|}]+$")


@dataclass(frozen=True)
class Alarm:
    """A display alarm, ``trigger`` after (negative: before) the start of its all-day event."""

    trigger: timedelta
    description: str


@dataclass(frozen=True)
class Event:
    """An all-day event; ``uid`` must stay the same across exports so subscribed calendars update it in place."""

    uid: str
    summary: str
    day: date
    sequence: int = 0
    last_modified: datetime | None = None
    description: str = ""
    url: str = ""
    categories: tuple[str, ...] = ()
    alarms: tuple[Alarm, ...] = ()


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11), so commas, semicolons and newlines survive as data."""
    value = _CONTROL.sub(" ", value.replace("\r\n", "\n").replace("\r", "\n"))
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold one content line into pieces of at most 75 octets (RFC 5545 3.1), never inside a UTF-8 character."""
    pieces: list[str] = []
    current: list[str] = []
    size, limit = 0, MAX_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append("".join(current))
            current, size, limit = [], 0, MAX_OCTETS - 1  # continuation lines start with one space
        current.append(char)
        size += width
    pieces.append("".join(current))
    return (CRLF + " ").join(pieces)


def utc_stamp(moment: datetime) -> str:
    """A DATE-TIME in UTC form ("20201215T090000Z"): unambiguous without a VTIMEZONE."""
    return require_aware(moment, "an iCalendar timestamp").strftime("%Y%m%dT%H%M%SZ")


def date_value(day: date) -> str:
    """A DATE value ("20201215")."""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def duration(delta: timedelta) -> str:
    """A DURATION value ("-P29DT15H"), as TRIGGER needs; hours, minutes and seconds stay contiguous."""
    seconds = int(delta.total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    parts = [rest // 3600, rest % 3600 // 60, rest % 60]
    text = f"{sign}P" + (f"{days}D" if days else "")
    if rest:
        used = [i for i, n in enumerate(parts) if n]
        text += "T" + "".join(f"{parts[i]}{'HMS'[i]}" for i in range(used[0], used[-1] + 1))
    return text if text not in ("P", "-P") else "PT0S"


def _line(name: str, value: str, params: str = "") -> str:
    return fold(f"{name}{params}:{value}")


def _event_lines(event: Event, stamp: str) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        _line("UID", escape_text(event.uid)),
        _line("DTSTAMP", stamp),
        _line("DTSTART", date_value(event.day), ";VALUE=DATE"),
        _line("DTEND", date_value(event.day + timedelta(days=1)), ";VALUE=DATE"),
        _line("SEQUENCE", str(max(0, event.sequence))),
        _line("SUMMARY", escape_text(event.summary)),
        "TRANSP:TRANSPARENT",  # a deadline does not make anyone busy
    ]
    if event.last_modified is not None:
        lines.append(_line("LAST-MODIFIED", utc_stamp(event.last_modified)))
    if event.description:
        lines.append(_line("DESCRIPTION", escape_text(event.description)))
    if event.url and _SAFE_URI.match(event.url):
        lines.append(_line("URL", event.url, ";VALUE=URI"))
    if event.categories:
        lines.append(_line("CATEGORIES", ",".join(escape_text(c) for c in event.categories)))
    for alarm in event.alarms:
        lines += ["BEGIN:VALARM", "ACTION:DISPLAY", _line("TRIGGER", duration(alarm.trigger)),
                  _line("DESCRIPTION", escape_text(alarm.description)), "END:VALARM"]
    lines.append("END:VEVENT")
    return lines


def calendar(events: Iterable[Event], now: datetime, *, name: str, prodid: str,
             extra: Sequence[tuple[str, str]] = ()) -> str:
    """A whole VCALENDAR as text with CRLF line ends; ``now`` becomes every event's DTSTAMP."""
    stamp = utc_stamp(now.astimezone(timezone.utc))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", _line("PRODID", escape_text(prodid)), "CALSCALE:GREGORIAN",
             _line("NAME", escape_text(name)), _line("X-WR-CALNAME", escape_text(name))]
    lines += [_line(key, escape_text(value)) for key, value in extra]
    for event in events:
        lines += _event_lines(event, stamp)
    lines.append("END:VCALENDAR")
    return CRLF.join(lines) + CRLF
