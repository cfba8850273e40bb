"""Text folding applied to both queries and documents, so that both sides show FTS5 the same letters.

FTS5's ``unicode61 remove_diacritics 2`` tokenizer already ignores case and Latin accents, but it
splits Arabic-script words at every short vowel mark (harakat), keeps the tatweel stretch
character inside words, and cannot see through invisible format characters. News in Urdu, Dari
and Pashto mixes these freely, so before anything reaches SQLite we:

* drop combining diacritics (Latin accents, Arabic harakat, superscript alef...), decomposing
  precomposed letters first (``é`` → ``e``, ``آ`` → ``ا``, ``ئ`` → ``ی``);
* drop tatweel (``ـ``), soft hyphens, zero-width joiners and bidi controls;
* unify letters that look identical but come from different keyboards (Arabic ``ي ى`` → Farsi
  ``ی``, Arabic ``ك`` → keheh ``ک``);
* turn any decimal digit (``۲۰۲۴``, ``٢٠٢٤``) into its ASCII digit;
* expand Arabic presentation forms and full-width Latin (NFKC);
* turn control characters (including the highlight markers ``\\x02``/``\\x03``) into spaces.

The zero-width non-joiner (ZWNJ) is kept: FTS5 splits words at it, so ``تجارت`` still finds
``تجارت‌های``. Documents are folded with a map back to the original characters, so highlighted
words can be reported exactly as they were written.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Combining marks that carry no meaning for matching: generic diacritics and Arabic-script vowel signs.
_DROPPABLE_MARK_RANGES: tuple[tuple[int, int], ...] = (
    (0x0300, 0x036F),  # combining diacritical marks (Latin, Greek, Cyrillic accents)
    (0x0610, 0x061A),  # Arabic honorific and small marks
    (0x064B, 0x065F),  # Arabic harakat: fatha, kasra, damma, shadda, sukun, hamza above/below...
    (0x0670, 0x0670),  # Arabic superscript alef
    (0x06D6, 0x06ED),  # Quranic annotation marks
    (0x08CA, 0x08FF),  # Arabic extended-A marks
    (0x1AB0, 0x1AFF),  # combining diacritical marks extended
    (0x1DC0, 0x1DFF),  # combining diacritical marks supplement
    (0x20D0, 0x20FF),  # combining marks for symbols
    (0xFE20, 0xFE2F),  # combining half marks
)
# Invisible or purely typographic characters that should vanish rather than split a word.
_DELETED = frozenset(
    "\u0640"  # tatweel, the Arabic stretch character
    "\u00ad\u200d\u2060\ufeff"  # soft hyphen, zero-width joiner, word joiner, BOM
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi controls
)
# Look-alike letters typed on Arabic versus Persian/Urdu keyboards.
_LETTERS = {"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"}
# Ranges where compatibility (NFKC) forms are the only sensible reading: Arabic presentation forms, full-width Latin.
_NFKC_RANGES: tuple[tuple[int, int], ...] = ((0xFB50, 0xFDFF), (0xFE70, 0xFEFC), (0xFF01, 0xFF5E))
# ASCII fast path: control characters become spaces, everything else is already folded.
_ASCII_TABLE = {code: " " for code in [*range(0x00, 0x20), 0x7F]}


@dataclass(frozen=True)
class Folded:
    """Folded text plus, for each folded character, the index of the original character it came from."""

    original: str
    text: str
    origins: tuple[int, ...] | None  # None when folding kept every character in place

    def original_span(self, start: int, end: int) -> str:
        """Return the original text behind folded characters ``start:end``, so reports quote the source verbatim."""
        if self.origins is not None:
            start, end = self.origins[start], self.origins[end - 1] + 1
        # Marks folded away after the last letter (an accent, a kasra) still belong to the word on screen.
        while end < len(self.original) and unicodedata.category(self.original[end])[0] == "M":
            end += 1
        return self.original[start:end]


def _in_ranges(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """Check a code point against inclusive ranges; the tables are tiny so a scan is fastest."""
    return any(low <= code <= high for low, high in ranges)


def _droppable(ch: str) -> bool:
    """Say whether ``ch`` is a combining mark we ignore, because matching must be accent-insensitive."""
    return unicodedata.category(ch) == "Mn" and _in_ranges(ord(ch), _DROPPABLE_MARK_RANGES)


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    """Fold one character into zero or more characters; cached because documents repeat letters endlessly."""
    if ch in _DELETED or _droppable(ch):
        return ""
    category = unicodedata.category(ch)
    if category == "Cc":
        return " "
    if _in_ranges(ord(ch), _NFKC_RANGES):
        expanded = unicodedata.normalize("NFKC", ch)
        if expanded != ch:
            return "".join(_fold_char(part) for part in expanded)
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    decomposed = unicodedata.normalize("NFD", ch)
    if len(decomposed) > 1 and any(_droppable(part) for part in decomposed):
        base = unicodedata.normalize("NFC", "".join(part for part in decomposed if not _droppable(part)))
        return "".join(_LETTERS.get(part, part) for part in base)
    return _LETTERS.get(ch, ch)


class _FoldTable(dict[int, str]):
    """Code point -> folded text for ``str.translate``, filled on demand so folding runs at C speed."""

    def __missing__(self, code: int) -> str:
        """Fold a character not seen yet and classify it, so later texts can skip translating or mapping origins."""
        ch = chr(code)
        folded = _fold_char(ch)
        if len(self) >= _TABLE_LIMIT:
            self.clear()  # hostile text can hold any number of distinct characters; keep memory bounded
            _UNCHANGED.clear()
        if folded == ch:
            _UNCHANGED.add(ch)
        elif len(folded) != 1:
            _IRREGULAR.add(ch)
        self[code] = folded
        return folded


_TABLE_LIMIT = 8192
_TABLE = _FoldTable()
# Characters in _TABLE that fold to themselves: text made only of these is already folded (checking is 4x cheaper).
_UNCHANGED: set[str] = set()
# Characters seen so far that fold to zero or several characters. Never cleared (Unicode has only ~840 of them),
# so every character ever translated through _TABLE is accounted for here.
_IRREGULAR: set[str] = set()


def fold(text: str) -> str:
    """Fold ``text`` for matching; queries use this so their terms meet documents on equal terms."""
    if text.isascii():
        return text if text.isprintable() else text.translate(_ASCII_TABLE)  # ASCII: only controls change
    if _UNCHANGED.issuperset(text):
        return text
    return text.translate(_TABLE)


def fold_with_origins(text: str) -> Folded:
    """Fold ``text`` and remember where each folded character came from, for verbatim highlights."""
    if text.isascii():
        return Folded(text, fold(text), None)
    if _UNCHANGED.issuperset(text):
        return Folded(text, text, None)
    folded = text.translate(_TABLE)  # classifies every character of text into _IRREGULAR first
    if _IRREGULAR.isdisjoint(text):
        return Folded(text, folded, None)
    origins = tuple(index for index, ch in enumerate(text) for _ in _fold_char(ch))
    return Folded(text, folded, origins)


def has_word_character(text: str) -> bool:
    """Say whether ``text`` has a letter or digit after folding, since FTS5 ignores everything else."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in fold(text))


def fold_key(text: str) -> str:
    """A case-, accent- and spacing-insensitive key, so the same word is reported only once."""
    return " ".join(fold(text).casefold().split())
