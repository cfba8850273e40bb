"""Skip targets that cannot match a batch, judged from the batch's vocabulary, so :class:`~bot.match.Matcher`
runs FTS5 MATCH (about 50 µs per big target, mostly parsing the expression) only where it could find something.

For every target we derive, once, a *necessary* condition on the tokens a batch must contain: a term needs
all of its tokens (the last one as a prefix for ``term*``), AND needs every side, OR needs some side, NEAR
needs all its terms, and ``x NOT y`` needs what ``x`` needs (NOT only removes rows). Query terms are
tokenized by FTS5's own tokenizer and the batch's tokens come from an ``fts5vocab`` table over the very
index being searched, so a skipped target provably has no matching row: the results are exactly those of
running every target. Per batch the tokens become one bit mask and each condition is checked with a few
integer operations per AND/OR node, short-circuiting at the first missing word.

Queries whose text does not compile back to their FTS5 expression (hand-made ``Query`` objects) are never
skipped.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Union

from bot.errors import QueryError
from bot.query import FTS5_TOKENIZER, Query, compile_fts
from bot.query_fold import fold
from bot.query_parse import Near, Node, Term, parse_tree

# Reading the batch's vocabulary costs about as much as one or two big targets' MATCH, so prune only with several.
PRUNE_MIN_TARGETS = 4
_VOCAB_CREATE = "CREATE VIRTUAL TABLE vocab USING fts5vocab(docs, 'row')"
_VOCAB = "SELECT term FROM vocab"
_PHRASES = (
    f"CREATE VIRTUAL TABLE temp.phrases USING fts5(phrase, tokenize='{FTS5_TOKENIZER}')",
    "CREATE VIRTUAL TABLE temp.phrase_tokens USING fts5vocab(temp, phrases, 'instance')",
)
_PHRASE_INSERT = "INSERT INTO temp.phrases(rowid, phrase) VALUES (?, ?)"
_PHRASE_TOKENS = "SELECT doc, offset, term FROM temp.phrase_tokens"
_PHRASES_DROP = ("DROP TABLE temp.phrase_tokens", "DROP TABLE temp.phrases")

# A need, before compiling: True (nothing required), an atom "=token" (this token occurs) or "*prefix" (some
# token starts with it), or ("all" | "any", needs).
Need = Union[bool, str, tuple[str, tuple["Need", ...]]]


class _Any(NamedTuple):
    """Holds when an atom of ``mask`` is present, or all atoms of one of ``phrases``, or one of ``parts`` holds."""

    mask: int
    phrases: tuple[int, ...]
    parts: tuple[_All, ...]


class _All(NamedTuple):
    """Holds when every atom of ``mask`` is present, some atom of each of ``groups``, and every one of ``parts``."""

    mask: int
    groups: tuple[int, ...]
    parts: tuple[_Any, ...]


class Pruner:
    """Per-target token conditions over one FTS5 table named ``docs``; one thread at a time, like its Matcher."""

    def __init__(self, connection: sqlite3.Connection, targets: Sequence[Sequence[Query]]) -> None:
        """Derive each target's condition (targets are the Matcher's, in its order) and index atoms as bits."""
        connection.execute(_VOCAB_CREATE)
        trees = [[_tree(query) for query in queries] for queries in targets]
        phrases = sorted({fold(term.text) for nodes in trees for node in nodes if node for term in _terms(node)})
        tokens = _fts5_tokens(connection, phrases)
        needs = [_simplify(("any", tuple(True if node is None else _need(node, tokens) for node in nodes)))
                 for nodes in trees]
        atoms = sorted({atom for need in needs for atom in _atoms(need)})
        bits = {atom: 1 << index for index, atom in enumerate(atoms)}
        self._exact = {atom[1:]: bits[atom] for atom in atoms if atom[0] == "="}
        self._prefixes = [(atom[1:], bits[atom]) for atom in atoms if atom[0] == "*"]
        self._conditions = [None if need is True else _compile_any(need, bits) for need in needs]

    def possible(self, connection: sqlite3.Connection) -> list[int]:
        """Indexes of the targets that may match the batch now indexed in ``docs``; the others certainly do not."""
        vocabulary = sorted(term for (term,) in connection.execute(_VOCAB))
        present = 0
        for token in self._exact.keys() & set(vocabulary):
            present |= self._exact[token]
        for prefix, bit in self._prefixes:
            at = bisect.bisect_left(vocabulary, prefix)
            if at < len(vocabulary) and vocabulary[at].startswith(prefix):
                present |= bit
        return [index for index, condition in enumerate(self._conditions)
                if condition is None or _any_holds(condition, present, ~present)]


def _tree(query: Query) -> Node | None:
    """The query's syntax tree, or None when it does not compile to the very expression FTS5 runs (hand-made)."""
    try:
        tree = parse_tree(query.text)
    except QueryError:
        return None
    return tree if compile_fts(tree) == query.fts else None


def _terms(node: Node) -> list[Term]:
    """Every term in the tree, including those under NOT (tokenizing a few extra is simpler than sorting them out)."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Near):
        return list(node.terms)
    return [term for item in node.items for term in _terms(item)]


def _fts5_tokens(connection: sqlite3.Connection, phrases: list[str]) -> dict[str, list[str]]:
    """Tokenize phrases with the FTS5 tokenizer itself, in order, so pruning never disagrees with MATCH."""
    for statement in _PHRASES:
        connection.execute(statement)
    try:
        connection.executemany(_PHRASE_INSERT, enumerate(phrases))
        positions: dict[int, list[tuple[int, str]]] = {}
        for doc, offset, term in connection.execute(_PHRASE_TOKENS):
            positions.setdefault(doc, []).append((offset, term))
    finally:
        for statement in _PHRASES_DROP:
            connection.execute(statement)
    return {phrase: [term for _, term in sorted(positions.get(doc, []))] for doc, phrase in enumerate(phrases)}


def _need(node: Node, tokens: Mapping[str, list[str]]) -> Need:
    """A necessary condition for ``node`` to match some row of the batch."""
    if isinstance(node, Term):
        words = tokens[fold(node.text)]
        if not words:
            return True  # FTS5 sees no token here; assume it may match rather than guess what FTS5 does
        return ("all", (*(f"={word}" for word in words[:-1]), ("*" if node.prefix else "=") + words[-1]))
    if isinstance(node, Near):
        return ("all", tuple(_need(term, tokens) for term in node.terms))
    if node.op == "NOT":
        return _need(node.items[0], tokens)  # x NOT y only ever removes rows from x
    return ("all" if node.op == "AND" else "any", tuple(_need(item, tokens) for item in node.items))


def _simplify(need: Need) -> Need:
    """Flatten nested all/any, drop repeats and settle constant parts, so the compiled checks stay small."""
    if need is True or isinstance(need, str):
        return need
    kind, parts = need
    flat: dict[Need, None] = {}
    for part in map(_simplify, parts):
        if part is True:
            if kind == "any":
                return True
        elif isinstance(part, tuple) and part[0] == kind:
            flat.update(dict.fromkeys(part[1]))
        else:
            flat[part] = None
    if not flat:
        return True  # nothing left to require
    return next(iter(flat)) if len(flat) == 1 else (kind, tuple(flat))


def _atoms(need: Need) -> list[str]:
    """Every atom in a need, to number them as bits."""
    if need is True:
        return []
    if isinstance(need, str):
        return [need]
    return [atom for part in need[1] for atom in _atoms(part)]


def _compile_any(need: Need, bits: Mapping[str, int]) -> _Any:
    """Compile a simplified need as an OR node: its atoms merged into one mask, all-atom ANDs into phrase masks."""
    parts = need[1] if isinstance(need, tuple) and need[0] == "any" else (need,)
    mask, phrases, nested = 0, [], []
    for part in parts:
        if isinstance(part, str):
            mask |= bits[part]
        elif all(isinstance(atom, str) for atom in part[1]):
            phrases.append(_mask(part[1], bits))
        else:
            nested.append(_compile_all(part, bits))
    return _Any(mask, tuple(phrases), tuple(nested))


def _compile_all(need: Need, bits: Mapping[str, int]) -> _All:
    """Compile a simplified AND need: its atoms merged into one mask, all-atom ORs into group masks."""
    mask, groups, nested = 0, [], []
    for part in need[1]:
        if isinstance(part, str):
            mask |= bits[part]
        elif all(isinstance(atom, str) for atom in part[1]):
            groups.append(_mask(part[1], bits))
        else:
            nested.append(_compile_any(part, bits))
    return _All(mask, tuple(groups), tuple(nested))


def _mask(atoms: Sequence[Need], bits: Mapping[str, int]) -> int:
    """The bits of some atoms, OR-ed (not summed, so a repeated atom cannot carry into another's bit)."""
    mask = 0
    for atom in atoms:
        mask |= bits[atom]  # type: ignore[index]
    return mask


def _any_holds(node: _Any, present: int, absent: int) -> bool:
    """Evaluate an OR node against the batch's atoms (``absent`` is ``~present``), cheapest checks first."""
    mask, phrases, parts = node
    if present & mask or (phrases and not all(map(absent.__and__, phrases))):
        return True
    for part in parts:
        if _all_holds(part, present, absent):
            return True
    return False


def _all_holds(node: _All, present: int, absent: int) -> bool:
    """Evaluate an AND node: no atom of its mask absent, every group met, every nested OR holding."""
    mask, groups, parts = node
    if absent & mask or not all(map(present.__and__, groups)):
        return False
    for part in parts:
        if not _any_holds(part, present, absent):
            return False
    return True
