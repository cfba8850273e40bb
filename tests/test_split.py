"""Splitting long messages: every part is valid Telegram HTML within the limit, and no text or style is lost.

Parts are checked with the fake server's HTML parser (``tests.support.telegram_html``), which
counts exactly as Telegram does: after entity parsing, in UTF-16 code units.
"""

from __future__ import annotations

import html as htmllib
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.richtext import Rich, a, b, i
from bot.split import html_length, split_html, split_text, visible_text
from tests.support.telegram_html import parse_html, utf16_len

URL = "https://example.org/pledge?id=1&view=full"
URDU = "وزیرِ اعظم نے مشترکہ انٹیلیجنس کے عزم کی تجدید کی"  # contains a combining kasra (U+0650)
FAMILY = "👨\u200d👩\u200d👧"


def styled(html: str) -> list[tuple[str, frozenset]]:
    """Each visible non-space character with the entities covering it: what a reader sees."""
    parsed = parse_html(html)
    out, u16 = [], 0
    for ch in parsed.text:
        covering = frozenset((e["type"], e.get("url")) for e in parsed.entities
                             if e["offset"] <= u16 < e["offset"] + e["length"])
        if not ch.isspace():
            out.append((ch, covering))
        u16 += utf16_len(ch)
    return out


def check_parts(source: str, parts: list[str], limit: int) -> None:
    """Every part parses, fits, is not blank, and together they show exactly the source."""
    for part in parts:
        text = parse_html(part).text
        assert utf16_len(text) <= limit, part
        assert text.strip(), f"blank part {part!r}"
    assert [x for part in parts for x in styled(part)] == styled(source)


def long_reminder() -> Rich:
    rich = Rich().line("⏰ ", b("Deadline reminders"), " for ", i("A Shared Vision"))
    n = 0
    while len(rich.html()) < 10_000:
        n += 1
        rich.line(b(f"{n}. "), a(f"Re-energise joint intelligence work ({n}) & report <progress>", URL))
        rich.line(f"Due in {n} days · {URDU} 🇵🇰🤝🇦🇫")
    return rich


def test_a_message_that_fits_is_returned_unchanged() -> None:
    source = "<b>short</b> &amp; sweet"
    assert split_html(source) == [source]
    assert split_text("short") == ["short"]


def test_length_is_counted_after_entity_parsing_in_utf16_units() -> None:
    assert html_length("<b>" + "&amp;" * 4096 + "</b>") == 4096
    assert split_html("<b>" + "&amp;" * 4096 + "</b>") == ["<b>" + "&amp;" * 4096 + "</b>"]
    assert len(split_html("x" * 4097)) == 2
    assert split_html("😀" * 2048) == ["😀" * 2048]  # 4,096 UTF-16 units exactly
    parts = split_html("😀" * 2049)
    assert [utf16_len(p) for p in parts] == [4096, 2]


def test_a_10000_character_reminder_splits_at_line_boundaries() -> None:
    rich = long_reminder()
    source = rich.html()
    assert len(source) >= 10_000
    parts = split_html(source)
    assert len(parts) >= 2
    check_parts(source, parts, 4096)
    # Only whole lines were moved: joining the parts' texts with newlines gives the original text.
    assert "\n".join(parse_html(p).text for p in parts) == parse_html(source).text
    plain = rich.plain()
    text_parts = split_text(plain)
    assert all(utf16_len(p) <= 4096 for p in text_parts) and "\n".join(text_parts) == plain


def test_an_overlong_line_splits_at_spaces_and_keeps_nested_link_and_bold_open() -> None:
    words = " ".join(f"word{n}" for n in range(60))
    source = f'intro <b>bold <a href="{htmllib.escape(URL)}">{words}</a> tail</b> end'
    parts = split_html(source, limit=50)
    check_parts(source, parts, 50)
    assert len(parts) > 5
    for part in parts[1:-1]:
        assert part.startswith(f'<b><a href="{htmllib.escape(URL)}">') and part.endswith("</a></b>")
    for part in parts:  # cut at spaces: no word is broken
        assert all(w.startswith("word") or w in ("intro", "bold", "tail", "end")
                   for w in parse_html(part).text.split())


def test_a_line_without_spaces_is_cut_hard_but_never_inside_an_entity_or_a_grapheme() -> None:
    source = "<i>" + ("&amp;x" + URDU.replace(" ", "") + FAMILY) * 20 + "</i>"
    parts = split_html(source, limit=37)
    check_parts(source, parts, 37)
    for part in parts:
        text = parse_html(part).text
        assert unicodedata.category(text[0]) not in ("Mn", "Mc") and text[0] != "\u200d"
        assert text[-1] != "\u200d"


def test_urdu_and_emoji_text_in_plain_mode() -> None:
    text = "\n".join(f"{URDU} {FAMILY} {n}" for n in range(400))
    parts = split_text(text, limit=500)
    assert all(utf16_len(p) <= 500 for p in parts)
    assert "\n".join(parts) == text


def test_visible_text_is_what_telegram_shows() -> None:
    assert visible_text('<b>A &amp; B</b> <a href="https://x.org/?a&amp;b">&lt;link&gt;</a> &#128512;') == "A & B <link> 😀"


# --------------------------------------------------------------------------- property

_CHARS = st.sampled_from(["a", "b", "z", " ", " ", "\n", "&", "<", ">", '"', "😀", "ی", "ی\u0650", FAMILY, "🇵🇰"])
_TEXT = st.lists(_CHARS, min_size=1, max_size=12).map("".join)
_SPAN = st.tuples(_TEXT, st.sampled_from(["", "b", "i", "a", "b+a", "code"]))


def _render(spans: list[tuple[str, str]]) -> str:
    out = []
    for text, style in spans:
        body = htmllib.escape(text, quote=False)
        link = f'<a href="{htmllib.escape(URL)}">{body}</a>'
        out.append({"": body, "b": f"<b>{body}</b>", "i": f"<i>{body}</i>", "code": f"<code>{body}</code>",
                    "a": link, "b+a": f"<b>x {link} y</b>"}[style])
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(spans=st.lists(_SPAN, min_size=1, max_size=25), limit=st.integers(min_value=8, max_value=60))
def test_any_escaped_html_splits_into_valid_parts_losing_nothing(spans: list[tuple[str, str]], limit: int) -> None:
    source = _render(spans)
    if not parse_html(source).text.strip():
        return
    parts = split_html(source, limit)
    check_parts(source, parts, limit)
    for part in parts:  # marks only ever follow a letter here, so a part starting with one tore a cluster
        text = parse_html(part).text.strip()
        assert not unicodedata.category(text[0]).startswith("M") and text[0] != "\u200d" and text[-1] != "\u200d"
        flags = [ch for ch in text if 0x1F1E6 <= ord(ch) <= 0x1F1FF]
        assert len(flags) % 2 == 0


def test_flags_are_never_cut_in_half() -> None:
    parts = split_html("🇵🇰🇦🇫" * 20, limit=10)
    assert all(len(p) % 2 == 0 and utf16_len(p) <= 10 for p in parts) and "".join(parts) == "🇵🇰🇦🇫" * 20


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(["a", " ", "\n", "é", "😀", "ی", "<b>", "</b>", "&amp;", "&#128512;", "&x;", "<"]),
                     max_size=40).map("".join), limit=st.integers(min_value=2, max_value=50))
def test_the_fits_as_is_shortcut_gives_what_the_full_split_gives(text: str, limit: int) -> None:
    from bot.split import _split, _Token, _tokens_html

    assert split_html(text, limit) == _split(_tokens_html(text), limit, html=True)
    plain = [_Token(ch, 2 if ord(ch) > 0xFFFF else 1, "char") for ch in text]
    assert split_text(text, limit) == _split(plain, limit, html=False)
