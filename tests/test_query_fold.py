"""Tests for text folding: the table-driven fold must equal the plain per-character definition, origins included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.query_fold as query_fold
from bot.query_fold import Folded, _fold_char, fold, fold_with_origins


def reference_fold(text: str) -> str:
    """The original definition: fold every character on its own and join."""
    return "".join(_fold_char(ch) for ch in text)


def reference_fold_with_origins(text: str) -> Folded:
    """The original definition of origins: None exactly when every character folds to exactly one character."""
    pieces = [_fold_char(ch) for ch in text]
    folded = "".join(pieces)
    if all(len(piece) == 1 for piece in pieces):
        return Folded(text, folded, None)
    return Folded(text, folded, tuple(index for index, piece in enumerate(pieces) for _ in piece))


def _chars(*ranges: tuple[int, int]) -> st.SearchStrategy[str]:
    """Characters from inclusive code point ranges."""
    return st.one_of([st.integers(low, high).map(chr) for low, high in ranges])


# News-like text in every script the bot meets, plus everything folding treats specially.
NEWSY = st.text(
    st.one_of(
        st.sampled_from(list("Pakistan Kabul café DÂR İ ß ﬁ ‘’“”…–—\u00a0\n\t\r\x02\x03\x00\x7f")),
        _chars((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF)),  # Arabic script, harakat, tatweel, digits
        _chars((0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),  # Arabic presentation forms (NFKC), BOM
        _chars((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F)),  # marks
        _chars((0x0000, 0x001F), (0x007F, 0x009F)),  # control characters
        _chars((0x2000, 0x206F), (0xFF00, 0xFFEF)),  # spaces, ZWNJ/ZWJ, bidi controls, full width
        _chars((0x00C0, 0x024F), (0x1E00, 0x1FFF), (0x0400, 0x04FF)),  # precomposed Latin, Greek, Cyrillic
        _chars((0x0966, 0x096F), (0x1D7CE, 0x1D7FF), (0x1F300, 0x1FAFF)),  # Devanagari and maths digits, emoji
        _chars((0xAC00, 0xAC40), (0x3040, 0x30FF), (0x4E00, 0x4E40)),  # Hangul, kana, CJK
    ),
    max_size=40,
)


@contextmanager
def tiny_table() -> Iterator[None]:
    """Shrink the translation table's cap, so folding runs through its clearing again and again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(query_fold, "_TABLE_LIMIT", 5)
        query_fold._TABLE.clear()
        query_fold._UNCHANGED.clear()
        try:
            yield
        finally:
            query_fold._TABLE.clear()
            query_fold._UNCHANGED.clear()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(NEWSY, st.text(max_size=40)))
def test_fold_equals_the_per_character_definition(text: str) -> None:
    assert fold(text) == reference_fold(text)
    assert fold_with_origins(text) == reference_fold_with_origins(text)
    assert fold(text) == reference_fold(text)  # again, now that every character is in the table


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(NEWSY, st.text(max_size=20)), min_size=1, max_size=6))
def test_fold_stays_exact_while_its_bounded_table_keeps_being_cleared(texts: list[str]) -> None:
    with tiny_table():
        for text in texts + texts:
            assert fold_with_origins(text) == reference_fold_with_origins(text)
            assert fold(text) == reference_fold(text)
        assert len(query_fold._TABLE) <= 5 and len(query_fold._UNCHANGED) <= 5


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain ascii",
        "tab\there\x02and\x7f",
        "“Quoted” — news…",
        "پاکستان اور افغانستان",
        "کِتاب پاکـــستانِ",  # kasra, tatweel
        "آباد ئی ي ك ۲۰۲۴ ٢٠٢٤",  # decomposing letters, Arabic yeh and kaf, digits
        "ﻻ ﷺ ﷲ",  # presentation forms expanding to several letters
        "cafe\u0301 e\u0301\u0301",  # combining accents after the letter
        "soft\u00adhyphen zero\u200dwidth \u200fbidi\u202e",
        "تجارت\u200cهای",  # ZWNJ stays
        "🇵🇰 emoji 👍🏽",
    ],
)
def test_fold_examples_match_the_definition(text: str) -> None:
    assert fold(text) == reference_fold(text)
    assert fold_with_origins(text) == reference_fold_with_origins(text)


def test_origins_are_none_only_when_every_character_folds_to_one() -> None:
    assert fold_with_origins("پاکستان “x”").origins is None
    assert fold_with_origins("ي and ك").origins is None  # letters replaced one for one
    assert fold_with_origins("a\nb").origins is None  # control characters become one space
    assert fold_with_origins("پاکـستان").origins == (0, 1, 2, 4, 5, 6, 7)  # tatweel dropped
    assert fold_with_origins("ﻻ!").origins == (0, 0, 1)  # lam-alef ligature expanded to two letters
    assert fold_with_origins("ﻻ!").text == "لا!"


def test_hit_spans_still_quote_the_original() -> None:
    folded = fold_with_origins("پاکـــستانِ نو")
    start = folded.text.index("پاکستان")
    assert folded.original_span(start, start + len("پاکستان")) == "پاکـــستانِ"
