"""Feed parsing: turn fetched bytes into plain-text entries with a stable identity, never raising.

feedparser does the lenient XML work; this module decides what we trust from it (bozo feeds still
give their entries, one bad entry is skipped alone), reduces everything to plain text, and keeps
the CPU-heavy parse picklable so bot.parser_pool can run it off the event loop.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import xml.sax
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.api

from bot.feeditems import scan_items
from bot.text import absolute_link, author_name, collapse_spaces, defuse_entities, html_to_text
from bot.text import normalize_link, normalize_title, plain_text, truncate

__all__ = ["ParsedEntry", "ParsedFeed", "parse_feed", "parse_items"]
__all__ += ["html_to_text", "normalize_link", "normalize_title"]  # re-exported from bot.text

SUMMARY_LIMIT = 2000
TITLE_LIMIT = 1000  # headlines are far shorter; this only stops a hostile multi-megabyte title
_MIN_YEAR, _MAX_YEAR = 1990, 2100


@dataclass(frozen=True)
class ParsedEntry:
    """One feed item reduced to what matching and deduplication need."""

    guid: str | None
    link: str | None
    link_key: str | None
    title: str
    summary: str
    categories: tuple[str, ...]
    published: datetime | None
    author: str | None

    @property
    def key(self) -> str:
        """Identity across polls: feeds re-send items, and guid beats link beats content."""
        if self.guid:
            return "guid:" + self.guid
        if self.link_key:
            return "link:" + self.link_key
        stamp = self.published.isoformat() if self.published else ""
        return "hash:" + hashlib.sha256((self.title + stamp).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class ParsedFeed:
    """A whole parse result, including why a feed was ill-formed, so the poller can report it."""

    title: str
    link: str | None
    entries: tuple[ParsedEntry, ...]
    bozo: bool
    bozo_reason: str | None
    is_feed: bool
    items: tuple[tuple[bytes, str | None], ...] | None = None
    """(digest, entry key or None) for each item parsed this time, from parse_items; None when the body
    could not be split into items (not well-formed, say), so the next poll parses it whole again."""
    skipped: tuple[bytes, ...] = ()
    """Digests of the items parse_items left unparsed because the caller already had them."""


def _failed(reason: str) -> ParsedFeed:
    """An empty result that still says what went wrong, for bodies we cannot use at all."""
    return ParsedFeed(title="", link=None, entries=(), bozo=True, bozo_reason=reason, is_feed=False)


# --- entity-expansion guard ------------------------------------------------------------------

_feedparser_replace_doctype = feedparser.api.replace_doctype


def _guarded_replace_doctype(data: bytes) -> Any:
    """feedparser's DOCTYPE step, fed defused bytes; it runs after decoding to UTF-8, so no
    charset trick (UTF-16, UTF-7, EBCDIC) can hide a declaration from the guard."""
    return _feedparser_replace_doctype(defuse_entities(data))


# feedparser looks this name up at call time; wrapping it is the one place where every body is
# already UTF-8 and the entity table is still unbuilt.
feedparser.api.replace_doctype = _guarded_replace_doctype


# --- extraction ----------------------------------------------------------------------------


def _title(container: dict[str, Any]) -> str:
    """A title as plain text; dict.get bypasses FeedParserDict's alias fallbacks."""
    title = plain_text(dict.get(container, "title"), dict.get(container, "title_detail"))
    return truncate(title, TITLE_LIMIT)


def _summary(raw: dict[str, Any]) -> str:
    """The description, else the first content block, because Atom feeds may carry only content."""
    text = plain_text(dict.get(raw, "summary"), dict.get(raw, "summary_detail"))
    for block in () if text else dict.get(raw, "content") or ():
        if isinstance(block, Mapping) and (text := plain_text(block.get("value"), block)):
            break
    return truncate(text, SUMMARY_LIMIT)


def _categories(raw: dict[str, Any]) -> tuple[str, ...]:
    """Tag terms in order without repeats, since feeds often list a category twice."""
    seen: dict[str, None] = {}
    for tag in dict.get(raw, "tags") or ():
        if isinstance(tag, Mapping):
            term = tag.get("term") or tag.get("label")
            if isinstance(term, str) and (term := collapse_spaces(term)):
                seen.setdefault(term, None)
    return tuple(seen)


def _utc(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; absurd years mean a broken feed clock."""
    try:
        year, month, day, hour, minute, second = (int(part) for part in tuple(value)[:6])
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            return None
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _published(raw: dict[str, Any]) -> datetime | None:
    """Publication time, falling back to the update time that many feeds give instead."""
    for key in ("published_parsed", "updated_parsed"):
        value = dict.get(raw, key)
        if value and (when := _utc(value)) is not None:
            return when
    return None


def _author(raw: dict[str, Any]) -> str | None:
    """The author's name from the parsed detail, else the raw author field."""
    detail = dict.get(raw, "author_detail")
    name = detail.get("name") if isinstance(detail, Mapping) else None
    return author_name(name or dict.get(raw, "author"))


def _entry(raw: dict[str, Any], base: str | None) -> ParsedEntry | None:
    """One entry, or None when it carries nothing we could match or show."""
    guid = dict.get(raw, "id")
    guid = (guid.strip() or None) if isinstance(guid, str) else None
    link = absolute_link(dict.get(raw, "link"), base)
    title = _title(raw)
    summary = _summary(raw)
    if not (guid or link or title or summary):
        return None
    return ParsedEntry(
        guid=guid,
        link=link,
        link_key=normalize_link(link) if link else None,
        title=title,
        summary=summary,
        categories=_categories(raw),
        published=_published(raw),
        author=_author(raw),
    )


_BOMS = (codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF8, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)
_XML_DECLS = tuple("<?xml".encode(c) for c in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037"))


def _added_lines(body: bytes) -> int:
    """1 when feedparser will prepend an XML declaration line, which shifts its error line numbers."""
    bom = next((bom for bom in _BOMS if body.startswith(bom)), b"")
    return 0 if body[len(bom):].startswith(_XML_DECLS) else 1


def _describe(exc: object, body: bytes) -> str:
    """A one-line reason for a bozo feed, short enough for a status message."""
    if isinstance(exc, xml.sax.SAXParseException):
        return f"{exc.getMessage()} at line {max(1, (exc.getLineNumber() or 1) - _added_lines(body))}"
    if not isinstance(exc, BaseException):
        return "ill-formed feed"
    text = collapse_spaces(str(exc))
    return truncate(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 200)


def _prepare(headers: Mapping[str, str], url: str | None) -> tuple[dict[str, str], str | None]:
    """The headers as feedparser should see them, and the base URL links resolve against."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    if lowered and "content-type" not in lowered:
        # Without this, feedparser would flag the feed and default to ISO-8859-1 rather than the
        # UTF-8 it assumes when given no headers at all: a missing type is no reason to differ.
        lowered["content-type"] = "application/xml"
    base = url
    if location := lowered.get("content-location", "").strip():
        base = urljoin(url, location) if url else location
        lowered["content-location"] = base  # let feedparser apply xml:base against an absolute URI
    return lowered, base


def _feedparse(body: bytes, lowered: dict[str, str], base: str | None) -> tuple[ParsedFeed, list[ParsedEntry | None]]:
    """One feedparser run, with what became of each of its entries (None: skipped), in document order."""
    # A BytesIO, never bare bytes: feedparser tries bytes as a *file name* first, so a body
    # reading "/etc/passwd" or "/dev/zero" would be opened and read.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=lowered,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    per_item: list[ParsedEntry | None] = []
    unreadable = 0
    for raw in result.get("entries") or ():
        try:
            per_item.append(_entry(raw, base))
        except Exception:  # one broken entry must not cost the others
            unreadable += 1
            per_item.append(None)
    entries = tuple(entry for entry in per_item if entry is not None)
    bozo = bool(result.get("bozo"))
    reason = _describe(result.get("bozo_exception"), body) if bozo else None
    if unreadable:
        bozo = True
        reason = reason or f"skipped {unreadable} unreadable entries"
    feed = result.get("feed") or {}
    parsed = ParsedFeed(
        title=_title(feed),
        link=absolute_link(dict.get(feed, "link"), base),
        entries=entries,
        bozo=bozo,
        bozo_reason=reason,
        is_feed=bool(result.get("version")) or bool(entries),
    )
    return parsed, per_item


def _parse(body: bytes, headers: Mapping[str, str], url: str | None, known: Collection[bytes] | None) -> ParsedFeed:
    """parse_feed and parse_items without the safety net, so the net stays one obvious line."""
    if not isinstance(body, bytes):
        body = bytes(body)
    if not body or body.isspace():
        return _failed("empty body")
    lowered, base = _prepare(headers, url)
    scan = None
    if known is not None:
        context = repr((url, base, lowered.get("content-type"), lowered.get("content-location"))).encode()
        scan = scan_items(body, context)
    if scan is None:
        return _feedparse(body, lowered, base)[0]
    keep = [index for index, digest in enumerate(scan.digests) if digest not in known] if known else None
    text = body if keep is None or len(keep) == len(scan.digests) else scan.keeping(body, set(keep))
    parsed, per_item = _feedparse(text, lowered, base)
    kept = range(len(scan.digests)) if keep is None else keep
    if parsed.bozo or len(per_item) != len(kept):
        # feedparser saw the body differently from the scan (or not cleanly): trust it, and keep no index
        return _feedparse(body, lowered, base)[0] if text is not body else parsed
    items = tuple((scan.digests[index], entry.key if entry is not None else None)
                  for index, entry in zip(kept, per_item))
    kept_set = set(kept)
    skipped = tuple(digest for index, digest in enumerate(scan.digests) if index not in kept_set)
    return replace(parsed, items=items, skipped=skipped)


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None, url: str | None = None) -> ParsedFeed:
    """Parse any bytes into a ParsedFeed without ever raising, because one hostile feed must not
    stop a poll of hundreds."""
    try:
        return _parse(body, headers or {}, url, None)
    except Exception as exc:
        return _failed(f"parser failed: {type(exc).__name__}: {exc}"[:200])


def parse_items(body: bytes, headers: Mapping[str, str] | None = None, url: str | None = None,
                known: Collection[bytes] = ()) -> ParsedFeed:
    """parse_feed for a feed polled before: items whose digest is in ``known`` (from an earlier result's
    ``items``) are not parsed again, and the result says which were skipped. Never raises."""
    try:
        return _parse(body, headers or {}, url, known)
    except Exception as exc:
        return _failed(f"parser failed: {type(exc).__name__}: {exc}"[:200])
