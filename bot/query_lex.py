"""The query tokenizer: words, phrases, parentheses, ``*``, NEAR's comma and the UPPERCASE operators.

Kept separate from the parser so the single context-sensitive rule lives in one place: a comma
is part of a word (``1,000``, ``Pakistan,``) except inside ``NEAR(...)``, where it introduces
the distance.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import QueryError

OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
QUOTES = frozenset('"\u201c\u201d\u201e')  # straight quotes plus the curly ones phones insert
_SINGLE = {"(": "LPAREN", ")": "RPAREN", "*": "STAR", ",": "COMMA"}


@dataclass(frozen=True)
class Token:
    """One lexical unit with its span in the query text, so every error can point at it."""

    kind: str  # WORD, PHRASE, LPAREN, RPAREN, STAR, COMMA, AND, OR, NOT, NEAR, EOF
    text: str  # for PHRASE: the content between the quotes
    start: int
    end: int


def _ends_word(ch: str, in_near: bool) -> bool:
    """Say whether ``ch`` ends a bare word; commas only separate inside NEAR(...), where they introduce the distance."""
    return ch.isspace() or ch in QUOTES or ch in "()*" or (in_near and ch == ",")


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens, rejecting unterminated phrases at their opening quote."""
    tokens: list[Token] = []
    i, n, in_near = 0, len(text), False
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in QUOTES:
            close = next((j for j in range(i + 1, n) if text[j] in QUOTES), -1)
            if close < 0:
                raise QueryError('unterminated phrase: the opening " is never closed', i)
            tokens.append(Token("PHRASE", text[i + 1 : close], i, close + 1))
            i = close + 1
            continue
        single = _SINGLE.get(ch)
        if single is not None and (ch != "," or in_near):
            if single == "LPAREN":
                in_near = bool(tokens) and tokens[-1].kind == "NEAR"
            elif single == "RPAREN":
                in_near = False
            tokens.append(Token(single, ch, i, i + 1))
            i += 1
            continue
        j = i
        while j < n and not _ends_word(text[j], in_near):
            j += 1
        word = text[i:j]
        tokens.append(Token(word if word in OPERATORS else "WORD", word, i, j))
        i = j
    tokens.append(Token("EOF", "", n, n))
    return tokens
