"""Build small RSS documents for tests and benchmarks, with real-world details (HTML, dates, GUIDs)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    title: str
    link: str | None = None
    guid: str | None = None
    published: datetime | None = None
    summary: str = ""
    categories: Sequence[str] = ()


def rss(items: Sequence[Item], title: str = "Test feed", link: str = "https://news.example/") -> bytes:
    """An RSS 2.0 document; titles and summaries are escaped, so HTML in them arrives as markup text."""
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
             f"<title>{escape(title)}</title><link>{escape(link)}</link><description>test</description>"]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{escape(item.title)}</title>")
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.guid:
            parts.append(f'<guid isPermaLink="false">{escape(item.guid)}</guid>')
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        if item.summary:
            parts.append(f"<description>{escape(item.summary)}</description>")
        for category in item.categories:
            parts.append(f"<category>{escape(category)}</category>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")
