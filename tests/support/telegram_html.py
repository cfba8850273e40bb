"""A checker for the HTML subset that the Telegram Bot API accepts with ``parse_mode=HTML``.

It turns marked-up text into what Telegram stores: the plain text and a list of
MessageEntity dicts whose offsets and lengths are in UTF-16 code units. Invalid markup raises
:class:`HtmlParseError` whose message follows the wording of the real server (the part after
``Bad Request: can't parse entities: ``), with offsets in UTF-8 bytes from the start of the text.

Written from the Bot API's "HTML style" section and from the error strings the real server is
known to return; it is a test double, not a copy of any implementation.

Deliberate differences from the real server, all on the strict side:

* ``strict=True`` (the default) rejects a ``&`` that does not start one of the documented
  entities (``&lt;`` ``&gt;`` ``&amp;`` ``&quot;`` or a complete numeric ``&#NN;``/``&#xHH;``).
  The real server keeps such text literally (so ``AT&T`` goes through and ``&copy;`` is shown as
  the six characters ``&copy;``), but the documentation says every ``&`` must be escaped, and a
  bot that forgets to escape is one ``<`` away from a rejected message. ``strict=False`` mimics
  the real leniency (and also accepts entities without the trailing ``;`` as the real one does).
* A bare ``>`` is accepted in both modes, as the real server does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Tag name -> entity type (None: handled specially).
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
ALLOWED_TAGS = frozenset(_SIMPLE_TAGS) | {"span", "a", "code", "pre", "blockquote", "tg-emoji", "tg-time"}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_DATE_FORMAT = re.compile(r"r|w?[dD]?[tT]?")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class HtmlParseError(ValueError):
    """Markup that Telegram would refuse; ``str(exc)`` is the text after ``can't parse entities: ``."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram uses for lengths and entity offsets."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, i: int, strict: bool) -> tuple[str | None, int]:
    """At ``text[i] == '&'``: return (decoded, next_index) or (None, i) when no entity starts here."""
    n = len(text)
    j = i + 1
    if j < n and text[j] == "#":
        j += 1
        hexa = j < n and text[j] in "xX"
        if hexa:
            j += 1
        start = j
        digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
        while j < n and text[j] in digits:
            j += 1
        if j == start:
            return None, i
        has_semicolon = j < n and text[j] == ";"
        if strict and not has_semicolon:
            return None, i
        code = int(text[start:j], 16 if hexa else 10)
        if code == 0 or code > 0x10FFFF:
            return None, i
        if 0xD800 <= code <= 0xDFFF:
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        return chr(code), j + 1 if has_semicolon else j
    start = j
    while j < n and text[j].isascii() and text[j].isalpha():
        j += 1
    name = text[start:j]
    if name not in _NAMED_ENTITIES:
        return None, i
    has_semicolon = j < n and text[j] == ";"
    if strict and not has_semicolon:
        return None, i
    return _NAMED_ENTITIES[name], j + 1 if has_semicolon else j


def _decode_attribute(value: str, strict: bool, source: str, value_start: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded, nxt = _decode_entity(value, i, strict)
            if decoded is not None:
                out.append(decoded)
                i = nxt
                continue
            if strict:
                raise _unescaped_ampersand(source, value_start + i)
        out.append(value[i])
        i += 1
    return "".join(out)


def _unescaped_ampersand(source: str, index: int) -> HtmlParseError:
    # Not a message the real server sends (it keeps such text literally): see the module doc.
    return HtmlParseError(f'Unescaped "&" at byte offset {_byte_offset(source, index)}')


def _normalise_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    if not _URL_SCHEME.match(url):
        url = "http://" + url
    scheme, _, rest = url.partition("://")
    if not rest and scheme.lower() not in ("tg", "mailto"):
        return None
    if scheme.lower() in ("http", "https"):
        host_end = len(rest)
        for sep in "/?#":
            pos = rest.find(sep)
            if pos >= 0:
                host_end = min(host_end, pos)
        if host_end == 0:
            return None
        if not rest[host_end:].startswith("/"):
            url = f"{scheme}://{rest[:host_end]}/{rest[host_end:]}"
    return url


@dataclass
class _Open:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output
    begin_index: int  # index of '<' in the source
    text_start: int  # index in the output list, to recover the entity's text


def parse_html(source: str, *, strict: bool = True) -> ParsedText:
    """Parse Telegram-HTML ``source``; raise :class:`HtmlParseError` like the Bot API would."""
    out: list[str] = []
    u16 = 0
    stack: list[_Open] = []
    entities: list[dict] = []
    n = len(source)
    i = 0

    def emit(chunk: str) -> None:
        nonlocal u16
        out.append(chunk)
        u16 += utf16_len(chunk)

    def at(index: int) -> int:
        return _byte_offset(source, index)

    while i < n:
        ch = source[i]
        if ch == "&":
            decoded, nxt = _decode_entity(source, i, strict)
            if decoded is not None:
                emit(decoded)
                i = nxt
                continue
            if strict:
                raise _unescaped_ampersand(source, i)
            emit("&")
            i += 1
            continue
        if ch != "<":
            # Copy a run of ordinary characters in one go.
            j = i + 1
            while j < n and source[j] not in "<&":
                j += 1
            emit(source[i:j])
            i = j
            continue

        begin = i
        i += 1
        if i < n and source[i] == "/":
            # ---- end tag ----
            i += 1
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {at(begin)}")
            name_start = i
            while i < n and not source[i].isspace() and source[i] != ">":
                i += 1
            end_name = source[name_start:i].lower()
            while i < n and source[i].isspace():
                i += 1
            if i >= n or source[i] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {at(begin)}")
            i += 1
            top = stack[-1]
            if end_name and end_name != top.name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {at(begin)}, expected "</{top.name}>", '
                    f'found "</{end_name}>"'
                )
            stack.pop()
            _close(top, u16, "".join(out[top.text_start:]), stack, entities)
            continue

        # ---- start tag ----
        name_start = i
        while i < n and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= n:
            raise HtmlParseError(f"Unclosed start tag at byte offset {at(begin)}")
        name = source[name_start:i].lower()
        if name not in ALLOWED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {at(begin)}')
        attrs: dict[str, str] = {}
        while True:
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {at(begin)}')
            if source[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and not source[i].isspace() and source[i] not in "=>":
                i += 1
            attr_name = source[attr_start:i].lower()
            if not attr_name:
                raise HtmlParseError(f'Empty attribute name in the tag "{name}" at byte offset {at(begin)}')
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {at(begin)}')
            if source[i] != "=":
                attrs[attr_name] = ""  # a valueless attribute such as "expandable"
                continue
            i += 1
            while i < n and source[i].isspace():
                i += 1
            if i >= n:
                raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {at(begin)}')
            if source[i] in "\"'":
                quote = source[i]
                close = source.find(quote, i + 1)
                if close < 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {at(begin)}")
                attrs[attr_name] = _decode_attribute(source[i + 1 : close], strict, source, i + 1)
                i = close + 1
            else:
                value_start = i
                while i < n and (source[i].isascii() and (source[i].isalnum() or source[i] in ".-")):
                    i += 1
                if i >= n:
                    raise HtmlParseError(f'Unclosed start tag "{name}" at byte offset {at(begin)}')
                if not source[i].isspace() and source[i] != ">":
                    raise HtmlParseError(f"Unexpected end of name token at byte offset {at(value_start)}")
                attrs[attr_name] = source[value_start:i]

        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at(begin)}')
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise HtmlParseError(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {at(begin)}')
        if name == "tg-time":
            if not attrs.get("unix", "").isdigit():
                raise HtmlParseError(f'Tag "tg-time" must have attribute "unix" at byte offset {at(begin)}')
            if not _DATE_FORMAT.fullmatch(attrs.get("format", "")):
                raise HtmlParseError("Invalid date format used")
        if name == "blockquote" and any(o.name == "blockquote" for o in stack):
            raise HtmlParseError(f"Blockquote entities can't be nested at byte offset {at(begin)}")
        stack.append(_Open(name, attrs, u16, begin, len(out)))

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')

    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), finalize_entities(entities))


def _close(tag: _Open, end_u16: int, inner_text: str, stack: list[_Open], entities: list[dict]) -> None:
    length = end_u16 - tag.start
    if length <= 0:
        return
    entity: dict | None
    name = tag.name
    if name in _SIMPLE_TAGS:
        entity = {"type": _SIMPLE_TAGS[name]}
    elif name == "span":
        entity = {"type": "spoiler"}
    elif name == "a":
        url = _normalise_url(tag.attrs["href"]) if "href" in tag.attrs else _normalise_url(inner_text)
        if url is None:
            entity = None
        elif url.startswith("tg://user?id=") and url[len("tg://user?id=") :].isdigit():
            user_id = int(url[len("tg://user?id=") :])
            entity = {"type": "text_mention", "user": {"id": user_id, "is_bot": False, "first_name": inner_text}}
        else:
            entity = {"type": "text_link", "url": url}
    elif name == "tg-emoji":
        entity = {"type": "custom_emoji", "custom_emoji_id": tag.attrs["emoji-id"]}
    elif name == "tg-time":
        entity = {"type": "date_time", "unix_time": int(tag.attrs["unix"])}
        if tag.attrs.get("format"):
            entity["date_time_format"] = tag.attrs["format"]
    elif name == "blockquote":
        entity = {"type": "expandable_blockquote" if "expandable" in tag.attrs else "blockquote"}
    elif name == "pre":
        entity = {"type": "pre"}
        # <pre><code class="language-x">…</code></pre> with the code spanning the whole pre
        # becomes one pre entity with a language.
        for other in entities:
            if (
                other["type"] == "code"
                and other.get("_language")
                and other["offset"] == tag.start
                and other["length"] == length
            ):
                entity["language"] = other["_language"]
                entities.remove(other)
                break
    elif name == "code":
        cls = tag.attrs.get("class", "")
        language = cls[len("language-") :] if cls.startswith("language-") else ""
        # <code class="language-x"><pre>…</pre></code> also sets the pre's language.
        if language:
            for other in entities:
                if other["type"] == "pre" and other["offset"] == tag.start and other["length"] == length:
                    other.setdefault("language", language)
                    return
        entity = {"type": "code"}
        if language and stack and stack[-1].name == "pre":
            entity["_language"] = language
    else:  # pragma: no cover - ALLOWED_TAGS and this chain are kept in step
        entity = None
    if entity is None:
        return
    entity["offset"] = tag.start
    entity["length"] = length
    entities.append(entity)


def finalize_entities(entities: list[dict]) -> list[dict]:
    """Drop internal keys before entities leave the server."""
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in entities]
