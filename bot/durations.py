"""Human durations ("30d", "12h", "1h30m") as written in the TOML files, parsed once at load time."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d{1,9})\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d{1,9}\s*[smhdw]\s*)+$")
MAX_DURATION = timedelta(days=3660)  # ten years: anything longer in a reminder or poll setting is a typo

DURATION_HELP = 'a duration such as "30m", "12h", "7d", "2w" or "1h30m" (units s, m, h, d, w)'


def parse_duration(text: str) -> timedelta:
    """Parse a positive duration; raise ValueError whose message says what would be valid."""
    if not isinstance(text, str) or not _WHOLE.match(text.lower()):
        raise ValueError(f"{text!r} is not {DURATION_HELP}")
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(text.lower()))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero: use {DURATION_HELP}")
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{text!r} is longer than ten years; use {DURATION_HELP}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Print a duration the way people write it in the TOML ("7d", "1h30m")."""
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if unit == "w" and seconds % size:
            continue  # "10d" reads better than "1w3d"
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
