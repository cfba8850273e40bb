"""OPML 2.0 in and out: share the watched feeds with any feed reader, and take in someone else's list.

OPML files come from strangers, so reading uses the stdlib's expat parser with every DTD refused
(no entity expansion, no external entities, no billion laughs), a size cap, a nesting cap and an
outline cap. Import planning is pure: what the file offers plus the ids and URLs already configured
give the feeds to add and, for every feed not added, the reason. pledgewatch's own settings travel in
attributes of the ``PW_NS`` namespace, so an export imports back as the same feeds.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET
from xml.parsers import expat

from bot.durations import format_duration, parse_duration
from bot.errors import PledgewatchError
from bot.model import Feed
from bot.query import check_query
from bot.text import normalize_link
from bot.validate import SLUG

PW_NS = "urn:x-pledgewatch:opml"
DISABLED_CATEGORY = "/pledgewatch/disabled"
MAX_BYTES = 5_000_000
MAX_DEPTH = 64
MAX_OUTLINES = 20_000
MAX_NAME = 200
FEED_TYPES = ("rss", "atom", "")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_SPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


class OpmlError(PledgewatchError):
    """The file is not OPML we are willing to read; the message says why."""


@dataclass(frozen=True)
class OpmlFeed:
    """One feed outline as the file gives it (pledgewatch attributes only if the file has them)."""

    title: str
    url: str
    language: str = ""
    categories: tuple[str, ...] = ()  # folder path ("News/Pakistan") and category attributes
    feed_type: str = ""
    id: str = ""
    interval: str = ""
    keywords: tuple[str, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class OpmlDocument:
    """The parsed file: its title and every outline that names a feed URL, in document order."""

    title: str
    feeds: tuple[OpmlFeed, ...]


def clean(text: str, limit: int = MAX_NAME) -> str:
    """One line of plain text: control characters and newlines become spaces, so nothing can break a TOML comment."""
    return _SPACE.sub(" ", text).strip()[:limit]


class _Reader:
    """Expat callbacks building OpmlFeeds; any DTD is refused before it can declare an entity."""

    def __init__(self) -> None:
        self.path: list[str] = []  # element names from the root
        self.folders: list[str | None] = []  # one per open outline: its folder name, None for a feed
        self.feeds: list[OpmlFeed] = []
        self.title: list[str] = []
        self.outlines = 0

    def refuse_dtd(self, *_: object) -> NoReturn:
        raise OpmlError("the file has a DOCTYPE; DTDs and entities are refused in OPML from outside")

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(" ", 1)[-1]
        if not self.path and local != "opml":
            raise OpmlError(f"not an OPML file: the root element is <{local}>, not <opml>")
        self.path.append(local)
        if len(self.path) > MAX_DEPTH:
            raise OpmlError(f"outlines nested more than {MAX_DEPTH} deep")
        if local == "outline" and "body" in self.path:
            self.outlines += 1
            if self.outlines > MAX_OUTLINES:
                raise OpmlError(f"more than {MAX_OUTLINES:,} outlines")
            self.folders.append(self._outline(attrs))

    def _outline(self, attrs: dict[str, str]) -> str | None:
        text = clean(attrs.get("title") or attrs.get("text") or "")
        url = (attrs.get("xmlUrl") or "").strip()
        if not url:
            return text or None
        pw = {k.split(" ", 1)[1]: v for k, v in attrs.items() if k.startswith(PW_NS + " ")}
        categories = ["/".join(f for f in self.folders if f)] if any(self.folders) else []
        categories += [c.strip() for c in (attrs.get("category") or "").split(",") if c.strip()]
        try:
            keywords = tuple(str(k) for k in json.loads(pw["keywords"])) if pw.get("keywords") else ()
        except (ValueError, TypeError):
            keywords = ()
        self.feeds.append(OpmlFeed(
            title=text, url=url, language=clean(attrs.get("language") or "", 35), categories=tuple(categories),
            feed_type=(attrs.get("type") or "").strip().lower(), id=pw.get("id", ""), interval=pw.get("interval", ""),
            keywords=keywords,
            enabled=pw.get("enabled", "true") != "false" and DISABLED_CATEGORY not in categories))
        return None

    def end(self, name: str) -> None:
        local = self.path.pop()
        if local == "outline" and "body" in self.path:
            self.folders.pop()

    def text(self, data: str) -> None:
        if self.path[-2:] == ["head", "title"]:
            self.title.append(data)


def parse_opml(data: bytes) -> OpmlDocument:
    """Read an OPML file's feeds, refusing DTDs, entities and oversized or absurdly nested input."""
    if len(data) > MAX_BYTES:
        raise OpmlError(f"the file is {len(data):,} bytes, over the {MAX_BYTES:,}-byte limit")
    reader = _Reader()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = reader.refuse_dtd
    parser.EntityDeclHandler = reader.refuse_dtd
    parser.ExternalEntityRefHandler = reader.refuse_dtd
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"not well-formed XML: {expat.ErrorString(exc.code)} (line {exc.lineno}, column {exc.offset + 1})") from None
    return OpmlDocument(clean("".join(reader.title)), tuple(reader.feeds))


def write_opml(feeds: Iterable[Feed], now: datetime, title: str = "pledgewatch feeds") -> str:
    """OPML 2.0 of the configured feeds; disabled ones carry a category (readers show it) and pw:enabled."""
    ET.register_namespace("pw", PW_NS)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    for feed in feeds:
        url = feed.url if urlsplit(feed.url).scheme else Path(feed.url).as_uri()
        attrs = {"type": "rss", "text": feed.name or feed.id, "title": feed.name or feed.id, "xmlUrl": url}
        if feed.language:
            attrs["language"] = feed.language
        if not feed.enabled:
            attrs["category"] = DISABLED_CATEGORY
        attrs |= {f"{{{PW_NS}}}id": feed.id, f"{{{PW_NS}}}interval": format_duration(feed.interval),
                  f"{{{PW_NS}}}enabled": "true" if feed.enabled else "false"}
        if feed.keywords:
            attrs[f"{{{PW_NS}}}keywords"] = json.dumps(list(feed.keywords), ensure_ascii=False)
        ET.SubElement(body, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def url_key(url: str) -> str:
    """A URL's identity for duplicate checks: normalised, tracking parameters dropped, http and https and
    "www." alike (a duplicate feed posts every story twice; a false match only means adding it by hand)."""
    normal = normalize_link(url)
    return normal.split("://", 1)[1].removeprefix("www.") if normal else url.strip()


def slugify(text: str, limit: int = 48) -> str:
    """A feed id from a title: ASCII letters and digits joined by hyphens ("" if nothing Latin is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:limit].rstrip("-")


@dataclass(frozen=True)
class NewFeed:
    """A feed to append to feeds.toml, with the OPML folder it came from for the comment above it."""

    id: str
    url: str
    name: str
    language: str = ""
    interval: timedelta | None = None  # only when it differs from the file's default
    keywords: tuple[str, ...] = ()
    enabled: bool = True
    category: str = ""


@dataclass(frozen=True)
class Skipped:
    """A feed outline that was not imported, and why."""

    title: str
    url: str
    reason: str


@dataclass(frozen=True)
class ImportPlan:
    """What an import will add and what it leaves out."""

    added: tuple[NewFeed, ...]
    skipped: tuple[Skipped, ...]


def _unique_id(wanted: Sequence[str], taken: set[str]) -> str:
    """The first usable candidate, else the first with the lowest free "-2", "-3"... suffix."""
    candidates = [w for w in wanted if w and SLUG.match(w)] or ["feed"]
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    base, n = candidates[0][:44], 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _refusal(item: OpmlFeed) -> str | None:
    if item.feed_type not in FEED_TYPES:
        return f"outline type {item.feed_type!r} is not a feed"
    try:
        parts = urlsplit(item.url)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "not a valid URL"
    if not usable:
        return "only http:// and https:// feed URLs are imported"
    if any(ch.isspace() or ord(ch) < 32 for ch in item.url):
        return "the URL contains spaces or control characters"
    for query in item.keywords:
        if (error := check_query(query)) is not None:
            return f"its pw:keywords query {query!r} is invalid: {error}"
    return None


def plan_import(document: OpmlDocument, existing: Sequence[Feed], default_interval: timedelta) -> ImportPlan:
    """Decide which offered feeds to add (with fresh ids) and report every one that is not added."""
    taken = {f.id for f in existing}
    seen = {url_key(f.url): f"already in feeds.toml as '{f.id}'" for f in existing}
    added, skipped = [], []
    for item in document.feeds:
        key = url_key(item.url)
        reason = _refusal(item) or seen.get(key)
        if reason:
            skipped.append(Skipped(item.title, item.url, reason))
            continue
        try:
            interval = parse_duration(item.interval) if item.interval else None
        except (ValueError, OverflowError):
            interval = None
        host = (urlsplit(item.url).hostname or "").removeprefix("www.")
        ident = _unique_id([item.id, slugify(item.title), slugify(host)], taken)
        taken.add(ident)
        seen[key] = f"listed earlier in the OPML file (imported as '{ident}')"
        language = item.language if _LANGUAGE.match(item.language) else ""
        added.append(NewFeed(ident, item.url.strip(), item.title or host, language,
                             interval if interval != default_interval else None, item.keywords, item.enabled,
                             next((c for c in item.categories if c != DISABLED_CATEGORY), "")))
    return ImportPlan(tuple(added), tuple(skipped))
