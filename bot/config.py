"""Load commitments.toml and feeds.toml into the domain model, reporting every problem at once.

``load_config`` raises ConfigError carrying all problems; ``check_config`` returns them. Nothing here
reads the environment: the caller decides the directory and any overrides.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.deadlines import Deadline, parse_deadline
from bot.errors import ConfigError, Problem
from bot.model import (Agreement, Catalog, Commitment, Config, Evidence, Feed, FeedCatalog,
                       FeedSettings, Implementation, Revision, Settings, Status)
from bot.query import check_query
from bot.search_feeds import search_feeds, search_template
from bot.tomlpos import TomlIndex, syntax_problem
from bot.validate import Section, as_date, as_time, did_you_mean, type_name

COMMITMENTS_FILE = "commitments.toml"
FEEDS_FILE = "feeds.toml"
MAX_FILE_BYTES = 5_000_000

TOP_KEYS = ("timezone", "remind_before", "remind_at", "overdue_every", "group_after", "silence_after", "digest",
            "digest_at", "agreement", "commitment")
DIGEST_CHOICES = ("daily", "weekly", "off")
AGREEMENT_KEYS = ("id", "title", "parties", "signed", "sources", "summary")
COMMITMENT_KEYS = ("id", "agreement", "title", "responsible", "lead", "agreed", "deadline", "revised",
                   "quote", "source", "keywords", "status", "implementation", "evidence", "tags",
                   "remind_before", "search")
REVISION_KEYS = ("date", "source", "note")
EVIDENCE_KEYS = ("url", "date", "note")
FEEDS_TOP_KEYS = ("interval", "backfill", "timeout", "allow_private_hosts", "feed", "search")
FEED_KEYS = ("id", "url", "name", "interval", "language", "keywords", "enabled")
STATUS_HELP = ", ".join(s.value for s in Status)


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


def tables(top: Section, key: str) -> list[dict[str, Any]]:
    """The [[key]] array of tables, reporting a key that was written as something else."""
    value = top.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        top.problem(f"expected [[{key}]] tables, got {type_name(value)}", key)
        return []
    return value


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


def load_catalog(path: Path, problems: list[Problem]) -> Catalog:
    """Validate commitments.toml; problems are appended, a best-effort Catalog is returned."""
    return _load_catalog(path, problems)[0]


def _load_catalog(path: Path, problems: list[Problem]) -> tuple[Catalog, dict[str, Section]]:
    """load_catalog, plus each commitment's section so problems found later can still point at its lines."""
    parsed = read_toml(path, problems)
    if parsed is None:
        return Catalog(), {}
    data, index = parsed
    top = Section(str(path), index, problems, data)
    top.unknown_keys(TOP_KEYS)
    settings = Settings(
        timezone=top.converted("timezone", _timezone, "UTC"),
        remind_before=top.durations("remind_before", Settings.remind_before),
        remind_at=top.converted("remind_at", as_time, Settings.remind_at),
        overdue_every=top.duration("overdue_every", Settings.overdue_every),
        group_after=top.converted("group_after", _group_after, Settings.group_after),
        silence_after=top.duration("silence_after", Settings.silence_after),
        digest=top.converted("digest", _digest, Settings.digest),
        digest_at=top.converted("digest_at", as_time, Settings.digest_at),
    )
    agreements = [(_agreement(s), s) for s in _sections(top, "agreement", "agreement")]
    unique([(a.id, s) for a, s in agreements], "agreement")
    known = {a.id: a for a, _ in agreements if a.id}
    commitments = [(_commitment(s, known), s) for s in _sections(top, "commitment", "commitment")]
    unique([(c.id, s) for c, s in commitments], "commitment")
    if not commitments and not any(p.file == str(path) for p in problems):
        top.problem("no [[commitment]] tables: nothing to track (see README, 'Tracking a new pledge')")
    catalog = Catalog(settings, tuple(a for a, _ in agreements), tuple(c for c, _ in commitments))
    return catalog, {c.id: s for c, s in commitments}


def _sections(top: Section, key: str, kind: str) -> list[Section]:
    out = []
    for i, table in enumerate(tables(top, key)):
        ident = table.get("id")
        where = f"{kind} '{ident}'" if isinstance(ident, str) and ident else f"{kind} #{i + 1}"
        out.append(Section(top.file, top.index, top.problems, table, key, i, where))
    return out


def _digest(value: object) -> str:
    if isinstance(value, str) and value in DIGEST_CHOICES:
        return value
    hint = did_you_mean(value, DIGEST_CHOICES) if isinstance(value, str) else ""
    raise ValueError(f"expected one of {', '.join(DIGEST_CHOICES)}, got {type_name(value)}{hint}")


def _group_after(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"expected a whole number of at least 1 (matches per poll before grouping), got {type_name(value)}")


def _timezone(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f'expected an IANA timezone name such as "Asia/Karachi", got {type_name(value)}')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown timezone {value!r}; use an IANA name such as "Asia/Karachi" or "UTC"') from None
    return value


def _agreement(s: Section) -> Agreement:
    s.unknown_keys(AGREEMENT_KEYS)
    return Agreement(id=s.slug(), title=s.text("title", required=True), parties=s.strings("parties"),
                     signed=s.day("signed"), sources=s.strings("sources"), summary=s.text("summary"))


def _commitment(s: Section, agreements: dict[str, Agreement]) -> Commitment:
    s.unknown_keys(COMMITMENT_KEYS)
    agreement_id = s.text("agreement", required=True)
    agreement = agreements.get(agreement_id)
    if agreement_id and agreement is None:
        hint = did_you_mean(agreement_id, agreements) or (
            f"; known agreements: {', '.join(sorted(agreements))}" if agreements else "; define it in an [[agreement]] table")
        s.problem(f"unknown agreement '{agreement_id}'{hint}", "agreement")
    agreed = s.day("agreed", agreement.signed if agreement else None)
    deadline = s.converted("deadline", lambda v: parse_deadline(v, agreed), None)
    keywords = queries(s)
    search = s.get("search", bool, False)
    if search and not keywords and isinstance(s.data.get("keywords", []), list):
        s.problem("search = true needs keywords: the search feeds are built from them (add a query to "
                  "'keywords' or remove 'search')", "search")
    return Commitment(
        id=s.slug(), agreement=agreement_id, title=s.text("title", required=True),
        responsible=s.strings("responsible"), lead=s.text("lead"), agreed=agreed, deadline=deadline,
        revisions=_revisions(s, agreed), quote=s.text("quote"), source=s.text("source"),
        keywords=keywords, status=s.converted("status", _status, Status.PENDING),
        implementation=s.converted("implementation", _implementation, None),
        evidence=_evidence(s), tags=s.strings("tags"),
        remind_before=s.durations("remind_before", ()) or None, search=search,
    )


def _status(value: object) -> Status:
    if isinstance(value, str) and value in Status._value2member_map_:
        return Status(value)
    hint = did_you_mean(value, [x.value for x in Status]) if isinstance(value, str) else ""
    raise ValueError(f"unknown status {value!r}{hint}; valid: {STATUS_HELP}")


def _implementation(value: object) -> Implementation:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
        return Implementation(value)
    raise ValueError(f"expected 0-3 (0 not initiated, 1 minimal, 2 intermediate, 3 full), got {type_name(value)}")


def _subtables(s: Section, key: str, allowed: tuple[str, ...]) -> list[tuple[str, Section]]:
    values = s.get(key, list, [])
    out = []
    for i, item in enumerate(values):
        label = f"{key}[{i}]"
        if not isinstance(item, dict):
            s.problem(f"expected a table {{ {', '.join(k + ' = ...' for k in allowed)} }}, got {type_name(item)}", label)
            continue
        sub = Section(s.file, s.index, s.problems, item, s.table, s.position, s.where)
        for k in item:
            if k not in allowed:
                hint = did_you_mean(k, allowed) or f"; valid keys: {', '.join(allowed)}"
                s.problem(f"unknown key '{k}'{hint}", label)
        out.append((label, sub))
    return out


def _revisions(s: Section, agreed: Any) -> tuple[Revision, ...]:
    out = []
    for label, sub in _subtables(s, "revised", REVISION_KEYS):
        if "date" not in sub.data:
            s.problem("a revision needs 'date', the new deadline", label)
            continue
        try:
            deadline: Deadline = parse_deadline(sub.data["date"], agreed)
        except ValueError as exc:
            s.problem(str(exc), f"{label}.date")
            continue
        out.append(Revision(deadline, _text(s, sub, "source", label), _text(s, sub, "note", label)))
    return tuple(out)


def _evidence(s: Section) -> tuple[Evidence, ...]:
    out = []
    for label, sub in _subtables(s, "evidence", EVIDENCE_KEYS):
        url = _text(s, sub, "url", label)
        if not url:
            s.problem("evidence needs a 'url' (or a citation string)", label)
            continue
        day = None
        if "date" in sub.data:
            try:
                day = as_date(sub.data["date"])
            except ValueError as exc:
                s.problem(str(exc), f"{label}.date")
        out.append(Evidence(url, day, _text(s, sub, "note", label)))
    return tuple(out)


def _text(s: Section, sub: Section, key: str, label: str) -> str:
    value = sub.data.get(key, "")
    if not isinstance(value, str):
        s.problem(f"expected a string, got {type_name(value)}", f"{label}.{key}")
        return ""
    return value


def load_feed_catalog(path: Path, problems: list[Problem]) -> FeedCatalog:
    """Validate feeds.toml; problems are appended, a best-effort FeedCatalog (without search feeds) is returned."""
    return _load_feed_catalog(path, problems)[0]


def _load_feed_catalog(path: Path, problems: list[Problem]) -> tuple[FeedCatalog, dict[str, Section]]:
    """load_feed_catalog, plus each search template's section so cross-file problems can point at it."""
    parsed = read_toml(path, problems)
    if parsed is None:
        return FeedCatalog(), {}
    data, index = parsed
    top = Section(str(path), index, problems, data)
    top.unknown_keys(FEEDS_TOP_KEYS)
    defaults = FeedSettings()
    settings = FeedSettings(
        interval=top.duration("interval", defaults.interval),
        backfill=top.duration("backfill", defaults.backfill),
        timeout=top.duration("timeout", defaults.timeout),
        allow_private_hosts=top.get("allow_private_hosts", bool, False),
    )
    feeds = []
    for s in _sections(top, "feed", "feed"):
        s.unknown_keys(FEED_KEYS)
        url = s.text("url", required=True)
        if url and (error := _url_problem(url)):
            s.problem(error, "url")
        elif url and not urlsplit(url).scheme and not Path(url).is_absolute():
            url = str((path.parent / url).resolve())  # a local feed path is relative to feeds.toml
        feeds.append((Feed(id=s.slug(), url=url, name=s.text("name"),
                           interval=s.duration("interval", settings.interval),
                           language=s.text("language"), keywords=queries(s),
                           enabled=s.get("enabled", bool, True)), s))
    unique([(f.id, s) for f, s in feeds], "feed")
    searches = [(search_template(s, settings.interval), s) for s in _sections(top, "search", "search template")]
    unique([(t.id, s) for t, s in searches], "search template")
    catalog = FeedCatalog(settings, tuple(f for f, _ in feeds), tuple(t for t, _ in searches))
    return catalog, {t.id: s for t, s in searches}


def _url_problem(url: str) -> str | None:
    if "\x00" in url or any(ord(ch) < 32 for ch in url.strip()):
        return f"{url!r} contains control characters; write the feed's URL on one line"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for an out-of-range or non-numeric port
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc}); use http://, https://, file:// or a file path"
    if parts.scheme in ("http", "https"):
        return None if parts.hostname else f"{url!r} has no host name"
    if parts.scheme == "file" or (not parts.scheme and url.strip()):
        return None  # local files are allowed; a missing file is a fetch error, not a config one
    return f"unsupported URL scheme {parts.scheme!r}; use http://, https://, file:// or a file path"


def check_config(directory: Path) -> tuple[Config, list[Problem]]:
    """Load both files, returning the best-effort config and every problem found."""
    problems: list[Problem] = []
    catalog, commitment_sections = _load_catalog(directory / COMMITMENTS_FILE, problems)
    feeds, template_sections = _load_feed_catalog(directory / FEEDS_FILE, problems)
    feeds_ok = not any(p.file == str(directory / FEEDS_FILE) for p in problems)
    generated, issues = search_feeds(catalog, feeds, report_unsearched=feeds_ok)
    for issue in issues:
        sections = template_sections if issue.owner == "search" else commitment_sections
        sections[issue.ident].problem(issue.message, issue.key)
    return Config(catalog, replace(feeds, feeds=feeds.feeds + generated)), problems


def load_config(directory: Path, *, allow_private_hosts: bool | None = None) -> Config:
    """Load both files or raise ConfigError with every problem; the override comes from the caller's env."""
    config, problems = check_config(directory)
    if problems:
        raise ConfigError(problems)
    if allow_private_hosts:
        config = replace(config, feeds=replace(config.feeds, settings=replace(
            config.feeds.settings, allow_private_hosts=True)))
    return config
