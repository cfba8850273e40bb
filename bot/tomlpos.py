"""Find the line a problem sits on in a TOML file, because tomllib only reports lines for syntax errors.

The scan is deliberately simple (headers and ``key =`` lines): it is for pointing a person at the right
place, not for parsing.
"""

from __future__ import annotations

import re
import tomllib

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_\-]+))\s*=")
_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_END = re.compile(r"\s*\(at end of document\)\s*$")

_HINTS = {
    "invalid date or datetime": "TOML dates are YYYY-MM-DD and must exist on the calendar (e.g. 2021-02-28)",
    "invalid value": 'strings need double quotes ("..."), lists square brackets ([...])',
    "cannot overwrite a value": "each key may appear once per table",
    "cannot declare": "each key and table may be declared once",
    "unclosed array": "close the list with ]",
    "illegal character '\\n'": "a string cannot run past the end of its line: close it with a quote",
}


class TomlIndex:
    """Line numbers of the table headers and keys of one TOML text."""

    def __init__(self, text: str):
        # blocks: (table name or None for the top, is_array, header line, {key: line})
        self.blocks: list[tuple[str | None, bool, int, dict[str, int]]] = [(None, False, 0, {})]
        for number, line in enumerate(text.splitlines(), start=1):
            if (m := _HEADER.match(line)) and not _KEY.match(line):
                name = m.group(2).replace('"', "").replace("'", "").replace(" ", "")
                self.blocks.append((name, m.group(1) == "[[", number, {}))
            elif m := _KEY.match(line):
                key = next(g for g in m.groups() if g)
                self.blocks[-1][3].setdefault(key, number)

    def line(self, table: str | None = None, index: int | None = None, key: str | None = None) -> int | None:
        """Line of ``key`` in the ``index``-th ``[[table]]`` (or the top level when table is None)."""
        seen = -1
        for name, _is_array, header, keys in self.blocks:
            if name != table:
                continue
            seen += 1
            if index is not None and seen != index:
                continue
            if key is not None and key in keys:
                return keys[key]
            return header or None
        return None


def syntax_problem(error: tomllib.TOMLDecodeError) -> tuple[int | None, str]:
    """Split tomllib's message into (line, message with a hint of what would be valid)."""
    message = str(error)
    line: int | None = None
    if m := _AT.search(message):
        line = int(m.group(1))
        message = message[: m.start()]
    elif m := _END.search(message):
        message = message[: m.start()] + " at the end of the file"
    hint = next((h for k, h in _HINTS.items() if message.lower().startswith(k)), None)
    message = f"TOML syntax error: {message}"
    return line, f"{message} ({hint})" if hint else message
