"""Split a long message into parts Telegram accepts, each one valid HTML on its own.

Telegram limits a message to 4,096 characters counted *after* entity parsing (tags removed,
``&amp;`` and friends decoded) in UTF-16 code units, so an emoji counts twice and markup counts
nothing. Parts are cut at line breaks where possible, then at a space, and only as a last resort
inside a word (never between a letter and its combining marks, nor inside a tag or an entity).
Tags still open at a cut are closed at the end of the part and reopened at the start of the next,
so bold text or a link carries on across parts. The separator at a cut (the newline or space) is
dropped: Telegram would trim it from the edge of a message anyway.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

TELEGRAM_LIMIT = 4096

_TOKEN = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z]+);|[\s\S]""")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")
_EMPTY_ELEMENT = re.compile(r"""<([A-Za-z][\w-]*)(?:\s(?:[^>"']|"[^"]*"|'[^']*')*)?></\1\s*>""")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}  # the only names Telegram decodes
_ZWJ = "\u200d"


@dataclass(frozen=True)
class _Token:
    """One indivisible piece of the source: a character, an entity, or a whole tag."""

    source: str
    width: int  # UTF-16 code units it shows as; 0 for tags
    kind: str  # "char", "entity", "open", "close"
    name: str = ""  # tag name for "open"/"close"


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def decode_entity(entity: str) -> str:
    """What Telegram shows for ``&...;``: the decoded character, or the text itself if unknown."""
    body = entity[1:-1]
    if body.startswith("#"):
        try:
            code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
        except ValueError:
            return entity
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code)
        return entity
    return _NAMED.get(body, entity)


def _tokens_html(html: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKEN.finditer(html):
        piece = match.group()
        if len(piece) > 1 and piece[0] == "<":
            name_match = _TAG_NAME.match(piece)
            name = name_match.group(1).lower() if name_match else ""
            out.append(_Token(piece, 0, "close" if piece.startswith("</") else "open", name))
        elif len(piece) > 1:
            out.append(_Token(piece, utf16_len(decode_entity(piece)), "entity"))
        else:
            out.append(_Token(piece, 2 if ord(piece) > 0xFFFF else 1, "char"))
    return out


def visible_text(html: str) -> str:
    """The text Telegram shows for ``html`` (tags dropped, entities decoded), for plain fallbacks."""
    parts = []
    for token in _tokens_html(html):
        if token.kind == "entity":
            parts.append(decode_entity(token.source))
        elif token.kind == "char":
            parts.append(token.source)
    return "".join(parts)


def html_length(html: str) -> int:
    """The length Telegram checks against its limit: after entity parsing, in UTF-16 code units."""
    return sum(t.width for t in _tokens_html(html))


def _fits_raw(text: str, limit: int) -> bool:
    """True when even the raw source fits: tags show as nothing and an entity never as more than its source,
    so most messages skip tokenising, which cost more than half of a 931-match tick (bench/scale.py)."""
    return limit >= 2 and len(text.encode("utf-16-le", "surrogatepass")) // 2 <= limit


def split_html(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut Telegram HTML into parts of at most ``limit`` visible UTF-16 units, each valid on its own."""
    if _fits_raw(html, limit):
        return [html]
    return _split(_tokens_html(html), limit, html=True)


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Cut plain text (sent without parse_mode) into parts of at most ``limit`` UTF-16 units."""
    if _fits_raw(text, limit):
        return [text]
    return _split([_Token(ch, 2 if ord(ch) > 0xFFFF else 1, "char") for ch in text], limit, html=False)


def _split(tokens: list[_Token], limit: int, html: bool) -> list[str]:
    if limit < 2:
        raise ValueError("limit must leave room for at least one character of any kind")
    if sum(t.width for t in tokens) <= limit:
        return ["".join(t.source for t in tokens)]
    parts: list[str] = []
    stack: list[_Token] = []  # tags open at ``start``
    start, n = 0, len(tokens)
    while start < n:
        cut, resume = _find_cut(tokens, start, limit)
        reopen = "".join(t.source for t in stack)
        body = "".join(t.source for t in tokens[start:cut])
        for token in tokens[start:cut]:
            _track(stack, token)
        close = "".join(f"</{t.name}>" for t in reversed(stack))
        part = reopen + body + close
        if html:
            part = _drop_empty_elements(part)
        if any(t.kind == "entity" or (t.kind == "char" and not t.source.isspace()) for t in tokens[start:cut]):
            parts.append(part)
        start = resume
    return parts


def _find_cut(tokens: list[_Token], start: int, limit: int) -> tuple[int, int]:
    """Where this part ends (``cut``) and the next begins (``resume``; past a dropped separator)."""
    n, total, end = len(tokens), 0, start
    while end < n and total + tokens[end].width <= limit:
        total += tokens[end].width
        end += 1
    if end == n:
        return n, n
    for is_separator in (_is_newline, _is_space):
        for k in range(end, start, -1):  # tokens[end] is the first one that does not fit
            if is_separator(tokens[k]):
                return k, k + 1
    cut = end
    while cut > start + 1 and _glued(tokens, cut):
        cut -= 1
    if cut == start + 1 and _glued(tokens, cut):
        cut = end  # one cluster longer than the whole limit: cutting it is all that is left
    return max(cut, start + 1), max(cut, start + 1)


def _is_newline(token: _Token) -> bool:
    return token.kind == "char" and token.source == "\n"


def _is_space(token: _Token) -> bool:
    return token.kind == "char" and token.source.isspace()


def _glued(tokens: list[_Token], cut: int) -> bool:
    """True when cutting before ``tokens[cut]`` would tear a letter from its marks, an emoji
    sequence at a joiner or modifier, or a flag (a pair of regional indicators) in half."""
    before, after = tokens[cut - 1], tokens[cut]
    if before.kind == "char" and before.source == _ZWJ:
        return True
    if after.kind != "char":
        return False
    ch = after.source
    if _is_regional(after):
        run = 0
        while cut - 1 - run >= 0 and _is_regional(tokens[cut - 1 - run]):
            run += 1
        return run % 2 == 1
    return (unicodedata.category(ch) in ("Mn", "Mc", "Me") or ch == _ZWJ
            or 0xFE00 <= ord(ch) <= 0xFE0F or 0x1F3FB <= ord(ch) <= 0x1F3FF)


def _is_regional(token: _Token) -> bool:
    return token.kind == "char" and 0x1F1E6 <= ord(token.source) <= 0x1F1FF


def _track(stack: list[_Token], token: _Token) -> None:
    if token.kind == "open":
        stack.append(token)
    elif token.kind == "close":
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth].name == token.name:
                del stack[depth:]
                break


def _drop_empty_elements(part: str) -> str:
    """``<b></b>`` left at a cut carries nothing; remove it so no part starts or ends with one."""
    while True:
        shorter = _EMPTY_ELEMENT.sub("", part)
        if shorter == part:
            return part
        part = shorter
