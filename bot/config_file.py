"""Read one configuration file into a checked top-level Section, and check the tables both files share.

Both commitments.toml and feeds.toml are read the same way (every way a file can be unreadable becomes a
Problem, never a traceback), hold ``[[tables]]`` with unique ids, and carry keyword queries; keeping that
here lets ``bot.config_commitments`` and ``bot.config_feeds`` hold only what their own file means.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bot.errors import Problem
from bot.query import check_query
from bot.tomlpos import TomlIndex, syntax_problem
from bot.validate import Section, type_name

MAX_FILE_BYTES = 5_000_000


def read_toml(path: Path, problems: list[Problem]) -> tuple[dict[str, Any], TomlIndex] | None:
    """Read and parse one file, turning every way it can be unreadable into a Problem."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        problems.append(Problem(name, "file not found (pass --config-dir or set PLEDGEWATCH_CONFIG_DIR)"))
        return None
    except OSError as exc:
        problems.append(Problem(name, f"cannot read the file: {exc.strerror or exc}"))
        return None
    if len(raw) > MAX_FILE_BYTES:
        problems.append(Problem(name, f"file is {len(raw):,} bytes, over the {MAX_FILE_BYTES:,}-byte limit"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, f"not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"))
        return None
    if "\x00" in text:
        problems.append(Problem(name, "contains NUL bytes: this is not a text file"))
        return None
    try:
        return tomllib.loads(text), TomlIndex(text)
    except RecursionError:
        problems.append(Problem(name, "values are nested too deeply to read (lists or tables inside each other "
                                      "thousands of levels deep); this is not a hand-written configuration"))
        return None
    except tomllib.TOMLDecodeError as exc:
        line, message = syntax_problem(exc)
        problems.append(Problem(name, message, line))
        return None


def read_top(path: Path, problems: list[Problem], allowed: tuple[str, ...]) -> Section | None:
    """The file's top level as a Section with its unknown keys reported, or None when it could not be read.

    Both files start this way, so a problem in either points at its line with the same wording.
    """
    parsed = read_toml(path, problems)
    if parsed is None:
        return None
    data, index = parsed
    top = Section(str(path), index, problems, data)
    top.unknown_keys(allowed)
    return top


def tables(top: Section, key: str) -> list[dict[str, Any]]:
    """The [[key]] array of tables, reporting a key that was written as something else."""
    value = top.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        top.problem(f"expected [[{key}]] tables, got {type_name(value)}", key)
        return []
    return value


def table_sections(top: Section, key: str, kind: str) -> list[Section]:
    """One Section per [[key]] table, named by its id (or its position when the id is missing) in problems."""
    out = []
    for i, table in enumerate(tables(top, key)):
        ident = table.get("id")
        where = f"{kind} '{ident}'" if isinstance(ident, str) and ident else f"{kind} #{i + 1}"
        out.append(Section(top.file, top.index, top.problems, table, key, i, where))
    return out


def unique(sections: list[tuple[str, Section]], kind: str) -> None:
    """Report every id defined more than once, pointing at the first definition."""
    first: dict[str, Section] = {}
    for ident, section in sections:
        if not ident:
            continue
        if ident in first:
            line = first[ident].index.line(first[ident].table, first[ident].position, "id")
            section.problem(f"duplicate {kind} id '{ident}' (first defined at line {line})", "id")
        else:
            first[ident] = section


def queries(section: Section, key: str = "keywords") -> tuple[str, ...]:
    """Keyword queries, each checked so a typo is caught here rather than silently matching nothing."""
    values = section.strings(key)
    for i, query in enumerate(values):
        if (error := check_query(query)) is not None:
            section.problem(error, f"{key}[{i}]")
    return values
