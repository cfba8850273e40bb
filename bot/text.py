"""Markup, text and link normalisation for feeds: pure, fast functions that never raise on odd input.

Feed entries arrive as HTML fragments, escaped HTML, or plain text in any script; the matcher and
the duplicate detector need plain, comparable text and a stable identity for links. Feed prologs
may declare XML entities built to explode; those are defused here before any parser sees them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

# --- HTML to text ---------------------------------------------------------------------------

# Every pattern below either matches or stops at the end of the string, so none can backtrack
# badly: the cost stays linear in the input even for hostile, unterminated markup.
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|\Z)", re.S)
_HIDDEN = re.compile(r"<(script|style|noscript|template)\b.*?(?:</\1\s*>|\Z)", re.S | re.I)
_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9:-]*|[!?])(?:[^>"']+|"[^"]*"|'[^']*'|["'])*(?:>|\Z)""")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split()
)
# Invisible characters that only split or glue words differently between sources.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)
_SPACES = re.compile(r"\s+")

MAX_HTML_INPUT = 200_000
"""Characters of markup looked at; beyond this a summary is far past what anyone reads."""


def _tag_to_space(match: re.Match[str]) -> str:
    """Block-level tags separate words, inline ones (b, a, span) must not."""
    return " " if match.group(2).lower() in _BLOCK_TAGS else ""


def collapse_spaces(text: str) -> str:
    """Fold every run of whitespace (Unicode-aware, so NBSP too) into one space, for stable text."""
    return _SPACES.sub(" ", text.translate(_INVISIBLE)).strip()


def html_to_text(fragment: str) -> str:
    """Reduce an HTML fragment to readable plain text, because entries are matched and shown as text."""
    try:
        text = fragment[:MAX_HTML_INPUT]
        if "<" in text:
            text = _COMMENT.sub(" ", text)
            text = _CDATA.sub(r"\1", text)
            text = _HIDDEN.sub(" ", text)
            text = _TAG.sub(_tag_to_space, text)
        if "&" in text:
            text = html.unescape(text)
        return collapse_spaces(text)
    except Exception:  # a text helper must never take down a whole feed
        return ""


def plain_text(value: object, detail: object = None) -> str:
    """A feed text construct as plain text, honouring type="text" so a literal "<" survives."""
    if not isinstance(value, str) or not value:
        return ""
    kind = detail.get("type") if isinstance(detail, Mapping) else None
    return collapse_spaces(value) if kind == "text/plain" else html_to_text(value)


_EMAIL_WITH_NAME = re.compile(r"^\S+@\S+\s*\((.+)\)$")


def author_name(value: object) -> str | None:
    """A display name, unwrapping RSS's "email (Name)" form, which nobody wants to read."""
    if not isinstance(value, str):
        return None
    text = collapse_spaces(value)
    if match := _EMAIL_WITH_NAME.match(text):
        text = match.group(1).strip()
    return text or None


def truncate(text: str, limit: int) -> str:
    """Cut long text at a word boundary with an ellipsis, so stored summaries stay small."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"


# --- XML entity declarations --------------------------------------------------------------

_ENTITY_DECL = re.compile(rb"<!ENTITY[^>]*(?:>|\Z)", re.I)  # always matches: linear on junk
# Mirrors what feedparser itself calls a safe entity (one character reference or plain text),
# plus a length cap: without it, one 100 kB entity used 20,000 times makes feedparser's loose
# parser build a 2 GB string, since expat's amplification limit only protects the strict parser.
_SAFE_ENTITY_DECL = re.compile(rb'<!ENTITY\s+[A-Za-z_][\w.-]*\s+"(?:&#\w+;|[^&"%<]{0,32})"\s*>')
_FIRST_ELEMENT = re.compile(rb"<\w")


def defuse_entities(data: bytes) -> bytes:
    """Drop entity declarations that could expand explosively, keeping short harmless ones."""
    first = _FIRST_ELEMENT.search(data)
    end = first.start() if first else len(data)
    head = data[:end]
    if not _ENTITY_DECL.search(head):
        return data

    def keep_if_safe(match: re.Match[bytes]) -> bytes:
        return match.group(0) if _SAFE_ENTITY_DECL.fullmatch(match.group(0)) else b""

    return _ENTITY_DECL.sub(keep_if_safe, head) + data[end:]


# --- titles for near-duplicate detection ---------------------------------------------------

_MARKS = re.compile(
    "["
    "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"  # Latin/Greek/Cyrillic accents
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"  # Hebrew points
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"  # Arabic harakat
    "]+"
)
# Arabic code points that Urdu and Persian sources use interchangeably with their local letters.
_ARABIC_VARIANTS = {"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"}
_APOSTROPHES = frozenset("'\u2019\u02bc\u2018`\u00b4")


class _TitleCharMap(dict[int, str | None]):
    """A lazily filled str.translate table, so each distinct character is classified only once."""

    def __missing__(self, codepoint: int) -> str | None:
        char = chr(codepoint)
        category = unicodedata.category(char)
        value: str | None
        if char in _APOSTROPHES or category == "Cf":  # "don't" -> "dont"; ZWNJ/ZWJ only shape glyphs
            value = None
        elif char in _ARABIC_VARIANTS:
            value = _ARABIC_VARIANTS[char]
        elif category == "Nd":  # Arabic-Indic, Devanagari... digits compare equal to ASCII ones
            value = str(unicodedata.decimal(char))
        elif category[0] in "PSZC":
            value = " "
        else:
            value = char
        self[codepoint] = value
        return value


_TITLE_MAP = _TitleCharMap()


def normalize_title(title: str) -> str:
    """Reduce a headline to a comparison key, so the same story from two outlets is spotted."""
    text = unicodedata.normalize("NFKD", title.casefold())
    text = _MARKS.sub("", text).translate(_TITLE_MAP)
    return " ".join(unicodedata.normalize("NFC", text).split())


# --- links ---------------------------------------------------------------------------------

_TRACKING_EXACT = frozenset(
    "fbclid gclid dclid gbraid wbraid msclkid yclid twclid igshid mc_cid mc_eid ocid cmpid cmp "
    "_ga _gl _hsenc _hsmi mkt_tok smid soc_src soc_trk at_medium at_campaign at_custom1 "
    "at_custom2 at_custom3 at_custom4 ito itid spm share_source".split()
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
# Characters that may stay literal in a path or query; everything else is percent-encoded, so
# "/خبر" and "/%D8%AE%D8%A8%D8%B1" give the same key.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def _is_tracking(param: str) -> bool:
    """Campaign and click-id parameters say who shared a link, not which story it is."""
    name = unquote_plus(param.split("=", 1)[0]).strip().lower()
    return name.startswith("utm_") or name in _TRACKING_EXACT


def _canonical_escapes(part: str) -> str:
    """Percent-encode raw characters and upper-case existing escapes, so equal URLs compare equal."""
    encoded = quote(part, safe=_PATH_SAFE)
    return _PERCENT.sub(lambda m: m.group(0).upper(), encoded)


def absolute_link(link: object, base: str | None) -> str | None:
    """Resolve a link against the feed's address, since feeds often give "/news/1"."""
    if not isinstance(link, str) or not (link := link.strip()):
        return None
    try:
        return urljoin(base, link) if base else link
    except ValueError:  # e.g. a malformed IPv6 host in the base
        return link


def normalize_link(url: str) -> str | None:
    """Give a link a canonical form for identity, so tracking variants of one story match.

    Returns None for anything that is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        if scheme not in _DEFAULT_PORTS or not host:
            return None
        port = parts.port
    except (ValueError, AttributeError):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    path = _canonical_escapes(parts.path).rstrip("/")
    params = sorted(
        _canonical_escapes(p) for p in parts.query.split("&") if p and not _is_tracking(p)
    )
    # A hash-bang fragment ("#!/story/1") is how some sites address an article; others are noise.
    fragment = _canonical_escapes(parts.fragment) if parts.fragment.startswith("!") else ""
    return urlunsplit((scheme, netloc, path, "&".join(params), fragment))
