"""Build the FeedCatalog (settings, feeds, search templates) from feeds.toml, reporting every problem.

What each key of feeds.toml means lives here; the search feeds generated from the templates need
commitments.toml too, so ``bot.config`` adds them once both files are loaded.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from bot.config_file import queries, read_top, table_sections, unique
from bot.errors import Problem
from bot.model import Feed, FeedCatalog, FeedSettings
from bot.search_feeds import search_template
from bot.validate import Section

FEEDS_TOP_KEYS = ("interval", "backfill", "timeout", "allow_private_hosts", "feed", "search")
FEED_KEYS = ("id", "url", "name", "interval", "language", "keywords", "enabled")


def load_feed_catalog(path: Path, problems: list[Problem]) -> FeedCatalog:
    """Validate feeds.toml; problems are appended, a best-effort FeedCatalog (without search feeds) is returned."""
    return feed_catalog_with_sections(path, problems)[0]


def feed_catalog_with_sections(path: Path, problems: list[Problem]) -> tuple[FeedCatalog, dict[str, Section]]:
    """load_feed_catalog, plus each search template's section so cross-file problems can point at it."""
    top = read_top(path, problems, FEEDS_TOP_KEYS)
    if top is None:
        return FeedCatalog(), {}
    defaults = FeedSettings()
    settings = FeedSettings(
        interval=top.duration("interval", defaults.interval),
        backfill=top.duration("backfill", defaults.backfill),
        timeout=top.duration("timeout", defaults.timeout),
        allow_private_hosts=top.get("allow_private_hosts", bool, False),
    )
    feeds = [(_feed(s, path, settings), s) for s in table_sections(top, "feed", "feed")]
    unique([(f.id, s) for f, s in feeds], "feed")
    searches = [(search_template(s, settings.interval), s) for s in table_sections(top, "search", "search template")]
    unique([(t.id, s) for t, s in searches], "search template")
    catalog = FeedCatalog(settings, tuple(f for f, _ in feeds), tuple(t for t, _ in searches))
    return catalog, {t.id: s for t, s in searches}


def _feed(s: Section, path: Path, settings: FeedSettings) -> Feed:
    """One [[feed]] table; a local file path is made absolute so the feed does not depend on the working folder."""
    s.unknown_keys(FEED_KEYS)
    url = s.text("url", required=True)
    if url and (error := _url_problem(url)):
        s.problem(error, "url")
    elif url and not urlsplit(url).scheme and not Path(url).is_absolute():
        url = str((path.parent / url).resolve())  # a local feed path is relative to feeds.toml
    return Feed(id=s.slug(), url=url, name=s.text("name"), interval=s.duration("interval", settings.interval),
                language=s.text("language"), keywords=queries(s), enabled=s.get("enabled", bool, True))


def _url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched as written, or None: caught at load so the bot never polls a broken address."""
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
