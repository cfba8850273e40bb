"""Batch matching of news entries against many targets' keyword queries, using one in-memory FTS5 index.

Checking every query against every entry one by one would cost a pattern pass per target per
entry. Instead :class:`Matcher` indexes a whole batch of documents once (title, summary and
categories, folded by :mod:`bot.query_fold` and tokenized with ``unicode61 remove_diacritics 2``),
then runs one FTS5 MATCH per target — the target's queries OR-ed together — and reads the words
that made each document match from FTS5's ``highlight()``. With several targets, :mod:`bot.match_prune`
first skips those whose words the batch provably lacks (most targets, in most batches). The same class
serves the feed-level keyword filter (a single target) and :func:`matches` serves one-off checks.

A Matcher owns one SQLite connection. It may be created in one thread and used in another, but
only one thread may use it at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType

from bot.errors import QueryError
from bot.match_prune import PRUNE_MIN_TARGETS, Pruner
from bot.query import FTS5_COLUMNS, FTS5_TOKENIZER, Query
from bot.query_fold import Folded, fold_key, fold_with_origins

OPEN_MARK = "\x02"  # highlight markers: folding turns every control character in the input into a space,
CLOSE_MARK = "\x03"  # so these can only come from FTS5's highlight()
CATEGORY_SEPARATOR = "\n"
_COLUMNS = ", ".join(FTS5_COLUMNS)
# An external-content table: clearing it is a cheap 'delete-all' instead of re-tokenizing every row to delete it.
_CREATE = (
    f"CREATE TABLE content({_COLUMNS})",
    f"CREATE VIRTUAL TABLE docs USING fts5({_COLUMNS}, content='content', tokenize='{FTS5_TOKENIZER}')",
)
_INSERT = (
    f"INSERT INTO content(rowid, {_COLUMNS}) VALUES (?, ?, ?, ?)",
    f"INSERT INTO docs(rowid, {_COLUMNS}) VALUES (?, ?, ?, ?)",
)
_CLEAR = ("INSERT INTO docs(docs) VALUES ('delete-all')", "DELETE FROM content")
_HIGHLIGHTS = ", ".join(f"highlight(docs, {index}, char(2), char(3))" for index in range(len(FTS5_COLUMNS)))
_SELECT = f"SELECT rowid, {_HIGHLIGHTS} FROM docs WHERE docs MATCH ?"


@dataclass(frozen=True)
class Document:
    """One news entry as the matcher sees it; ``key`` lets callers map hits back to their entries."""

    key: str
    title: str
    summary: str = ""
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A document matched a target; ``terms`` are the matching words exactly as the document wrote them."""

    doc_key: str
    target: str  # e.g. a commitment id
    terms: tuple[str, ...]  # deduplicated case-insensitively, in order of appearance, title first


class Matcher:
    """Match batches of documents against fixed targets; one thread at a time may use an instance."""

    def __init__(self, targets: Mapping[str, Sequence[Query]]) -> None:
        """Compile every target's queries into one FTS5 expression and check FTS5 accepts it, once."""
        self._targets: list[tuple[str, str]] = []
        for name, queries in targets.items():
            expressions = list(dict.fromkeys(query.fts for query in queries))
            if expressions:
                combined = expressions[0] if len(expressions) == 1 else " OR ".join(f"({e})" for e in expressions)
                self._targets.append((name, combined))
        self._connection: sqlite3.Connection | None = sqlite3.connect(
            ":memory:", check_same_thread=False, isolation_level=None
        )
        for statement in _CREATE:
            self._connection.execute(statement)
        for name, expression in self._targets:
            try:
                self._connection.execute(_SELECT, (expression,)).fetchall()
            except sqlite3.Error:
                self.close()
                raise QueryError(f"the keywords of {name!r} cannot be searched; check each query", None) from None
        self._pruner: Pruner | None = None
        if len(self._targets) >= PRUNE_MIN_TARGETS:
            try:
                self._pruner = Pruner(self._connection, [targets[name] for name, _ in self._targets])
            except sqlite3.Error:  # e.g. an SQLite without fts5vocab: running every target gives the same hits
                self._pruner = None

    def match(self, docs: Sequence[Document]) -> list[Hit]:
        """Index ``docs`` once, run each target's expression over them, and return hits in (doc, target) order."""
        connection = self._require_open()
        if not docs or not self._targets:
            return []
        folded = [_fold_document(doc) for doc in docs]
        rows = [(row, *(column.text for column in columns)) for row, columns in enumerate(folded)]
        try:
            connection.execute("BEGIN")
            for statement in _INSERT:
                connection.executemany(statement, rows)
            connection.execute("COMMIT")
            found: list[tuple[int, int, tuple[str, ...]]] = []
            possible = range(len(self._targets)) if self._pruner is None else self._pruner.possible(connection)
            for index in possible:
                for row, *marked in connection.execute(_SELECT, (self._targets[index][1],)):
                    found.append((row, index, _hit_terms(folded[row], marked)))
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for statement in _CLEAR:
                connection.execute(statement)
        found.sort(key=lambda item: (item[0], item[1]))
        return [Hit(docs[row].key, self._targets[index][0], terms) for row, index, terms in found]

    def close(self) -> None:
        """Release the SQLite connection; further match() calls raise."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Matcher:
        """Allow ``with Matcher(...) as matcher:`` so the connection is always released."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Close on leaving the ``with`` block."""
        self.close()

    def _require_open(self) -> sqlite3.Connection:
        """Fail clearly instead of with a bare sqlite error when used after close()."""
        if self._connection is None:
            raise RuntimeError("this Matcher has been closed")
        return self._connection


def matches(query: Query, doc: Document) -> bool:
    """Check one query against one document, for tests and the interactive `try` command."""
    with Matcher({"query": [query]}) as matcher:
        return bool(matcher.match([doc]))


def _fold_document(doc: Document) -> tuple[Folded, Folded, Folded]:
    """Fold each searchable column, keeping the map back to the original text for reporting."""
    return (
        fold_with_origins(doc.title),
        fold_with_origins(doc.summary),
        fold_with_origins(CATEGORY_SEPARATOR.join(doc.categories)),
    )


def _hit_terms(columns: tuple[Folded, ...], marked: Sequence[str]) -> tuple[str, ...]:
    """Turn highlight() output into the original words, title first, dropping case/accent repeats."""
    seen: set[str] = set()
    terms: list[str] = []
    for column, text in zip(columns, marked):
        for start, end in _marked_spans(text):
            term = column.original_span(start, end)
            key = fold_key(term)
            if key not in seen:
                seen.add(key)
                terms.append(term)
    return tuple(terms)


def _marked_spans(marked: str) -> list[tuple[int, int]]:
    """Find highlighted spans as offsets into the unmarked text (each earlier span added two markers)."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    while (start := marked.find(OPEN_MARK, cursor)) >= 0:
        end = marked.find(CLOSE_MARK, start + 1)
        if end < 0:
            break
        shift = 2 * len(spans)
        spans.append((start - shift, end - shift - 1))
        cursor = end + 1
    return spans
