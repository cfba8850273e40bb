"""Where each item sits in a well-formed feed, so a changed feed need only parse the items it did not have.

A feed that changed since the last poll has usually gained a few items: feedparser needs ~19 ms for a
50-item news feed but ~2.5 ms for the same envelope around 5 items (bench/poll.py's corpus). expat, in C,
finds the byte span of every top-level ``<item>``/``<entry>`` in ~0.5 ms. Each item gets a digest of its
bytes plus everything outside it that could change how it parses (its ancestors' start tags and namespace
declarations, the URL and the content headers), so an item with a known digest is an item we already hold,
byte for byte and in the same context.

Anything unusual (not well-formed, entity declarations, an encoding expat cannot read, an absurd number of
items) gets no scan, and the caller parses the whole body as before. The caller also checks that feedparser
found exactly the items the scan found; see :func:`bot.parse.parse_items`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from xml.parsers import expat

__all__ = ["DIGEST_SIZE", "MAX_ITEMS", "ItemScan", "scan_items"]

DIGEST_SIZE = 8
"""Bytes per item digest: 2^-64 per pair of items for a false "already have it", across one feed's items."""
MAX_ITEMS = 2000
"""Feeds with more items than this are parsed whole: real feeds carry tens to hundreds, and the index of a
larger one would cost more to store than parsing saves."""
SCAN_VERSION = b"pledgewatch-items-1\0"
"""Part of every digest, so a change to what a digest covers can never match digests stored by an older version."""
_ITEM_NAMES = frozenset({"item", "entry"})
_MAX_ITEM_DEPTH = 3  # rss > channel > item; rdf:RDF > item; feed > entry


@dataclass(frozen=True)
class ItemScan:
    """The byte spans of a body's top-level items, in document order, with one digest per item."""

    spans: tuple[tuple[int, int], ...]
    digests: tuple[bytes, ...]

    def keeping(self, body: bytes, keep: Collection[int]) -> bytes:
        """The body with only the items at indices ``keep``; every byte outside the items stays in place."""
        parts: list[bytes] = []
        cursor = 0
        for index, (start, end) in enumerate(self.spans):
            parts.append(body[cursor:start])
            if index in keep:
                parts.append(body[start:end])
            cursor = end
        parts.append(body[cursor:])
        return b"".join(parts)


class _Scanner:
    """expat callbacks tracking depth, the ancestors of the next item, and each item's byte span."""

    def __init__(self, body: bytes, context: bytes) -> None:
        self.body = body
        self.context = SCAN_VERSION + context
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.StartNamespaceDeclHandler = self.namespace
        self.ancestors: list[bytes] = []  # one description per open element outside items
        self.pending: list[str] = []  # namespace declarations of the element about to start
        self.depth = 0
        self.item_depth = 0  # depth of the item being read, 0 outside items
        self.item_start = 0
        self.item_context = b""
        self.spans: list[tuple[int, int]] = []
        self.digests: list[bytes] = []

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        if not self.item_depth:
            self.pending.append(f"xmlns:{prefix or ''}={uri or ''}")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.item_depth:
            return
        if self.depth <= _MAX_ITEM_DEPTH and name.rpartition(" ")[2] in _ITEM_NAMES:
            if len(self.spans) >= MAX_ITEMS:
                raise _TooMany
            self.item_depth = self.depth
            self.item_start = self.parser.CurrentByteIndex
            self.item_context = b"\0".join(self.ancestors)
            self.pending.clear()  # declared on the item's own tag: part of its bytes
            return
        described = repr((name, sorted(attributes.items()), self.pending)).encode("utf-8", "surrogatepass")
        self.ancestors.append(described)
        self.pending = []

    def end(self, name: str) -> None:
        if self.item_depth == self.depth:
            at = self.parser.CurrentByteIndex
            # An end tag has no attributes, so its first '>' closes it; for <item/> the index is the tag's
            # own start, and the first '>' after it closes the empty tag (a '>' in an attribute value of an
            # empty item would cut it short, and feedparser's count check then rejects the scan).
            end = self.body.index(b">", at) + 1
            item = self.body[self.item_start:end]
            digest = hashlib.blake2b(self.context, digest_size=DIGEST_SIZE)
            digest.update(self.item_context)
            digest.update(b"\0")
            digest.update(item)
            self.spans.append((self.item_start, end))
            self.digests.append(digest.digest())
            self.item_depth = 0
        elif not self.item_depth and self.ancestors:
            self.ancestors.pop()
        self.depth -= 1


class _TooMany(Exception):
    """Raised inside expat's callbacks to stop scanning a feed with more than MAX_ITEMS items."""


def scan_items(body: bytes, context: bytes = b"") -> ItemScan | None:
    """Find every top-level item of a well-formed feed, or None when the body is not one we can split safely.

    ``context`` is whatever else decides how items parse (the caller's URL and content headers)."""
    if b"<!ENTITY" in body:  # entity declarations can be used inside items: never split such a document
        return None
    if b"\0" in body:  # UTF-16/32: a byte search for '>' could land inside a character
        return None
    scanner = _Scanner(body, context)
    try:
        scanner.parser.Parse(body, True)
    except Exception:  # ExpatError, LookupError for an unknown encoding, _TooMany...: parse the whole body
        return None
    if not scanner.spans:
        return None
    return ItemScan(tuple(scanner.spans), tuple(scanner.digests))
