"""Text built once and rendered twice: Telegram HTML (every string escaped) and plain console text.

Building messages from spans instead of HTML strings means feed-supplied text can never inject markup,
and the console shows exactly the same words.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Span:
    text: str
    style: str = ""  # "", "b", "i", "code", "a"
    href: str | None = None


def safe_href(url: str | None) -> str | None:
    """Only http(s) links become clickable; anything else (javascript:, data:) is shown as text."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


@dataclass
class Rich:
    """A message as lines of spans."""

    lines: list[list[Span]] = field(default_factory=list)

    def line(self, *parts: Span | str) -> Rich:
        self.lines.append([p if isinstance(p, Span) else Span(p) for p in parts])
        return self

    def blank(self) -> Rich:
        return self.line()

    def html(self) -> str:
        return "\n".join("".join(_span_html(s) for s in line) for line in self.lines).strip("\n")

    def plain(self) -> str:
        return "\n".join("".join(_span_plain(s) for s in line) for line in self.lines).strip("\n")


def b(text: str) -> Span:
    return Span(text, "b")


def i(text: str) -> Span:
    return Span(text, "i")


def code(text: str) -> Span:
    return Span(text, "code")


def a(text: str, url: str | None) -> Span:
    href = safe_href(url)
    return Span(text, "a", href) if href else Span(text)


def _span_html(span: Span) -> str:
    text = html.escape(span.text, quote=False)
    if span.style == "a" and span.href:
        return f'<a href="{html.escape(span.href, quote=True)}">{text}</a>'
    if span.style in ("b", "i", "code"):
        return f"<{span.style}>{text}</{span.style}>"
    return text


def _span_plain(span: Span) -> str:
    if span.style == "a" and span.href:
        return f"{span.text} <{span.href}>"
    return span.text
