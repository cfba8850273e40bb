"""Keyword queries: what a commitment's ``keywords = [...]`` entries mean, checked and compiled for SQLite FTS5.

A commitment lists one or more queries; a news entry matches when ANY of them matches its
title, summary or categories. Query syntax::

    refugees                    a word; case- and accent-insensitive (Dar finds DÂR, cafe finds
                                café), in any script (پاکستان, طالبان)
    "joint intelligence"        a phrase: these words, in this order, next to each other
    trade transit               adjacent terms must all appear (same as trade AND transit)
    trade AND transit           both must appear, anywhere in title, summary or categories
    trade OR transit            either may appear
    trade NOT cricket           trade, but never together with cricket (NOT needs a left side)
    (trade OR transit) NOT T20  parentheses group
    refugee*                    prefix: refugee, refugees, refugee-led...
    "customs post"*             a phrase whose last word is a prefix (customs posts); writing
                                "customs post*" means the same
    NEAR(imran ghani, 5)        the terms within 5 words of each other (default 10, at most
                                1000); the terms may be words, "phrases" or prefix*

Operators are recognised only in UPPERCASE: ``and``, ``or``, ``not`` and ``near`` are ordinary
words. NOT binds tightest, then AND (written or implied), then OR, so
``pakistan afghanistan trade OR transit NOT cricket`` means
``(pakistan AND afghanistan AND trade) OR (transit NOT cricket)``. Curly quotes (“…”) work like
straight ones. Punctuation inside a word separates words, so ``U.S.`` is the phrase ``"u s"``.
A query may be at most 1000 characters long and nest parentheses 10 deep.

Errors are :class:`~bot.errors.QueryError` with a 0-based ``position``; :func:`check_query`
gives the same message with a 1-based "character N" for people.

The compiled ``Query.fts`` quotes every term as an FTS5 string, so nothing a user types
(``col:term``, ``^x``, ``{a b}:x``, stray quotes) can reach FTS5 as syntax.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import QueryError
from bot.query_fold import fold
from bot.query_parse import Group, Near, Node, Term, parse_tree

MAX_QUERY_LENGTH = 1000
FTS5_TOKENIZER = "unicode61 remove_diacritics 2"
FTS5_COLUMNS = ("title", "summary", "categories")


@dataclass(frozen=True)
class Query:
    """A parsed keyword query, ready to hand to FTS5 and to show to people."""

    text: str  # as the user wrote it
    fts: str  # the equivalent FTS5 MATCH expression; every term is a quoted FTS5 string
    terms: tuple[str, ...]  # positive terms/phrases (not under NOT), for display


def parse_query(text: str) -> Query:
    """Parse and compile a keyword query, raising a positioned QueryError a person can act on."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query is too long: {len(text)} characters, the limit is {MAX_QUERY_LENGTH}", MAX_QUERY_LENGTH
        )
    if not text.strip():
        raise QueryError("empty query: write at least one word", 0)
    tree = parse_tree(text)
    fts = compile_fts(tree)
    _probe(fts)
    return Query(text=text, fts=fts, terms=_dedupe(term.display for term in positive_terms(tree)))


def check_query(text: str) -> str | None:
    """Validate a query for a person: None when fine, else the problem and its 1-based character."""
    try:
        parse_query(text)
    except QueryError as error:
        if error.position is None:
            return error.message
        return f"{error.message} (at character {error.position + 1})"
    return None


def compile_fts(node: Node) -> str:
    """Render a syntax tree as an FTS5 expression with explicit operators and quoted terms."""
    if isinstance(node, Term):
        return _fts_string(node)
    if isinstance(node, Near):
        return f"NEAR({' '.join(_fts_string(term) for term in node.terms)}, {node.distance})"
    # FTS5 operators are left-associative, so a flat `a NOT b NOT c` keeps its meaning and its depth low.
    return f" {node.op} ".join(_fts_operand(item) for item in node.items)


def positive_terms(node: Node) -> list[Term]:
    """List the terms whose presence can make the query match, i.e. those not on the right of a NOT."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Near):
        return list(node.terms)
    items = node.items[:1] if node.op == "NOT" else node.items
    return [term for item in items for term in positive_terms(item)]


def _fts_operand(node: Node) -> str:
    """Parenthesise compound operands so FTS5's own precedence never comes into play."""
    compiled = compile_fts(node)
    return f"({compiled})" if isinstance(node, Group) else compiled


def _fts_string(term: Term) -> str:
    """Quote a term as an FTS5 string (doubling quotes), so its text is only ever tokenized, never parsed."""
    body = fold(term.text).replace('"', '""')
    return f'"{body}"' + ("*" if term.prefix else "")


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    """Keep the first of case-insensitively equal display terms, in order."""
    seen: set[str] = set()
    kept: list[str] = []
    for item in items:
        key = item.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return tuple(kept)


_probe_lock = threading.Lock()
_probe_connection: sqlite3.Connection | None = None


def _probe(fts: str) -> None:
    """Run the compiled expression against an empty FTS5 table, so anything FTS5 rejects fails here, in words."""
    global _probe_connection
    with _probe_lock:
        if _probe_connection is None:
            connection = sqlite3.connect(":memory:", check_same_thread=False)
            columns = ", ".join(FTS5_COLUMNS)
            connection.execute(f"CREATE VIRTUAL TABLE probe USING fts5({columns}, tokenize='{FTS5_TOKENIZER}')")
            _probe_connection = connection
        try:
            _probe_connection.execute("SELECT rowid FROM probe WHERE probe MATCH ?", (fts,)).fetchall()
        except sqlite3.Error as error:
            raise QueryError(_explain_engine_error(error), 0) from None


def _explain_engine_error(error: sqlite3.Error) -> str:
    """Translate an FTS5 complaint into advice, without repeating the engine's jargon."""
    if any(sign in str(error) for sign in ("overflow", "too big", "too many", "too long")):
        return "the query is too deeply nested or too long for the search engine; simplify it"
    return "the search engine cannot run this query; simplify it or split it into several keywords"
