"""Checking of TOML values one key at a time, collecting every problem instead of stopping at the first.

People edit these files by hand, so each message names the file, the line, the commitment or feed,
the key, and what would be valid.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from bot.durations import parse_duration
from bot.errors import Problem
from bot.tomlpos import TomlIndex

T = TypeVar("T")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
SLUG_HELP = "lower-case letters, digits, '-' and '_' (at most 64, starting with a letter or digit)"
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number", list: "a list", dict: "a table"}


def type_name(value: object) -> str:
    """How a TOML value reads to the person who typed it."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, datetime):
        return f"date-time {value.isoformat()}"
    if isinstance(value, date):
        return f"date {value.isoformat()}"
    if isinstance(value, (list, dict)):
        return _TYPE_NAMES[type(value)]
    return f"{_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """"; did you mean 'deadline'?" for near misses, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Section:
    """One table of a file (the top level, or the n-th [[commitment]]), with a shared problem list."""

    def __init__(self, file: str, index: TomlIndex, problems: list[Problem], data: dict[str, Any],
                 table: str | None = None, position: int | None = None, where: str | None = None):
        self.file, self.index, self.problems, self.data = file, index, problems, data
        self.table, self.position, self.where = table, position, where

    def problem(self, message: str, key: str | None = None) -> None:
        """Record a problem at ``key`` (its line if we can find it)."""
        base = key.split("[", 1)[0].split(".", 1)[0] if key else None
        line = self.index.line(self.table, self.position, base)
        self.problems.append(Problem(self.file, message, line, self.where, key))

    def unknown_keys(self, allowed: Iterable[str]) -> None:
        """Report keys nobody reads, which are almost always typos."""
        allowed = list(allowed)
        for key in self.data:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or f"; valid keys: {', '.join(sorted(allowed))}"
                self.problem(f"unknown key{hint}", key)

    def get(self, key: str, kind: type, default: T, required: bool = False) -> Any:
        """Fetch a value of one TOML type, or report and fall back to the default."""
        if key not in self.data:
            if required:
                self.problem(f"missing; it is required ({_TYPE_NAMES.get(kind, kind.__name__)})", key)
            return default
        value = self.data[key]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            self.problem(f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {type_name(value)}", key)
            return default
        return value

    def text(self, key: str, default: str = "", required: bool = False) -> str:
        value = self.get(key, str, default, required)
        if required and isinstance(value, str) and not value.strip() and key in self.data:
            self.problem("must not be empty", key)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """A list of strings; each bad element is reported by its index."""
        values = self.get(key, list, [])
        out = []
        for i, item in enumerate(values):
            if isinstance(item, str):
                out.append(item)
            else:
                self.problem(f"expected a string, got {type_name(item)}", f"{key}[{i}]")
        return tuple(out)

    def slug(self, key: str = "id") -> str:
        value = self.text(key, required=True)
        if value and not SLUG.match(value):
            self.problem(f"{value!r} is not a valid id: use {SLUG_HELP}", key)
        return value

    def converted(self, key: str, convert: Callable[[Any], T], default: T) -> T:
        """Run a converter that raises ValueError with a human message."""
        if key not in self.data:
            return default
        try:
            return convert(self.data[key])
        except (ValueError, TypeError, OverflowError) as exc:
            self.problem(str(exc), key)
            return default

    def day(self, key: str, default: date | None = None) -> date | None:
        return self.converted(key, as_date, default)

    def duration(self, key: str, default: timedelta) -> timedelta:
        return self.converted(key, as_duration, default)

    def durations(self, key: str, default: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if key not in self.data:
            return default
        values = self.get(key, list, None)
        if values is None:
            return default
        out = []
        for i, item in enumerate(values):
            try:
                out.append(as_duration(item))
            except (ValueError, OverflowError) as exc:
                self.problem(str(exc), f"{key}[{i}]")
        return tuple(sorted(set(out), reverse=True))


def as_date(value: object) -> date:
    """A TOML date, or a "YYYY-MM-DD" string that exists on the calendar."""
    if isinstance(value, datetime):
        raise ValueError(f"expected a date (YYYY-MM-DD) without a time, got {value.isoformat()}")
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date that exists on the calendar") from None
    if isinstance(value, date):
        if not 1900 <= value.year <= 2200:
            raise ValueError(f"{value.isoformat()} is outside the years 1900-2200; check the year")
        return value
    raise ValueError(f"expected a date such as 2020-11-19, got {type_name(value)}")


def as_duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration string such as "7d", got {type_name(value)}')
    return parse_duration(value)


def as_time(value: object) -> time:
    """"09:00" (24-hour local time) or a TOML local time."""
    if isinstance(value, time):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = (int(p) for p in value.strip().split(":"))
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError(f'expected a 24-hour local time such as "09:00", got {type_name(value)}')
