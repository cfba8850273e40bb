"""Recursive-descent parser for keyword queries, kept apart from FTS5 so errors stay human and positioned.

The grammar (the user-facing description lives in ``bot/query.py``)::

    query    := or_expr
    or_expr  := and_expr ( "OR" and_expr )*
    and_expr := not_expr ( ["AND"] not_expr )*        adjacent operands are ANDed
    not_expr := primary ( "NOT" primary )*             NOT is binary and binds tightest
    primary  := term | "(" or_expr ")" | "NEAR" "(" term term+ [ "," distance ] ")"
    term     := ( word | '"' phrase '"' ) [ "*" ]      the * must touch the term

Every error is a :class:`~bot.errors.QueryError` with a 0-based character position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from bot.errors import QueryError
from bot.query_fold import has_word_character
from bot.query_lex import Token, tokenize

MAX_NESTING = 10  # each level can cost FTS5 three of its ~32 nesting levels; real queries use 2 or 3
DEFAULT_NEAR_DISTANCE = 10
MAX_NEAR_DISTANCE = 1000
EXAMPLE_NOT = "e.g. `trade NOT cricket`"
EXAMPLE_NEAR = "e.g. `NEAR(imran ghani, 5)`"
EXAMPLE_PREFIX = "e.g. `refugee*`"


@dataclass(frozen=True)
class Term:
    """A word or quoted phrase, optionally a prefix, as the user wrote it."""

    text: str
    phrase: bool
    prefix: bool
    position: int

    @property
    def display(self) -> str:
        """Render the term the way a user would write it, for lists of what a pledge watches."""
        body = f'"{self.text}"' if self.phrase else self.text
        return body + ("*" if self.prefix else "")


@dataclass(frozen=True)
class Near:
    """Terms that must all occur within ``distance`` tokens of each other."""

    terms: tuple[Term, ...]
    distance: int


@dataclass(frozen=True)
class Group:
    """Operands joined by one operator; for NOT the first operand is kept and the rest are excluded."""

    op: str  # "AND", "OR" or "NOT"
    items: tuple["Node", ...]


Node = Union[Term, Near, Group]


class _Parser:
    """Recursive descent over the token list; one instance parses one query."""

    def __init__(self, tokens: list[Token]) -> None:
        """Start before the first token, outside any parentheses."""
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> Token:
        """Look at the next token without consuming it."""
        return self.tokens[self.index]

    def take(self) -> Token:
        """Consume and return the next token."""
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        """Parse the whole query and insist nothing dangles after it."""
        self.expect_operand(None)
        node = self.or_expr()
        token = self.peek()
        if token.kind == "RPAREN":
            raise QueryError("unmatched `)`: there is no `(` before it", token.start)
        if token.kind != "EOF":
            self.fail_unexpected(token)
        return node

    def or_expr(self) -> Node:
        """Parse operands joined by OR, the loosest operator."""
        items = [self.and_expr()]
        while self.peek().kind == "OR":
            operator = self.take()
            self.expect_operand(operator)
            items.append(self.and_expr())
        return _group("OR", items)

    def and_expr(self) -> Node:
        """Parse operands joined by AND or simply written side by side."""
        items = [self.not_expr()]
        while True:
            token = self.peek()
            if token.kind == "AND":
                self.take()
                self.expect_operand(token)
            elif token.kind not in ("WORD", "PHRASE", "LPAREN", "NEAR"):
                return _group("AND", items)
            items.append(self.not_expr())

    def not_expr(self) -> Node:
        """Parse ``x NOT y NOT z``: keep x, drop anything matching y or z."""
        items = [self.primary()]
        while self.peek().kind == "NOT":
            operator = self.take()
            self.expect_operand(operator)
            items.append(self.primary())
        return items[0] if len(items) == 1 else Group("NOT", tuple(items))

    def primary(self) -> Node:
        """Parse a term, a parenthesised group or a NEAR group."""
        token = self.peek()
        if token.kind == "LPAREN":
            return self.parenthesised()
        if token.kind == "NEAR":
            return self.near()
        return self.term()

    def parenthesised(self) -> Node:
        """Parse ``( ... )`` and report the very parenthesis left open."""
        opening = self.take()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise QueryError(f"too many nested parentheses (the limit is {MAX_NESTING})", opening.start)
        self.expect_operand(opening)
        node = self.or_expr()
        closing = self.peek()
        if closing.kind == "EOF":
            raise QueryError("unclosed parenthesis: this `(` has no matching `)`", opening.start)
        if closing.kind != "RPAREN":
            self.fail_unexpected(closing)
        self.take()
        self.depth -= 1
        return node

    def term(self) -> Term:
        """Parse a word or phrase and an attached ``*``."""
        token = self.take()
        if token.kind == "PHRASE" and not token.text.strip():
            raise QueryError("empty phrase: put some words between the quotes", token.start)
        if not has_word_character(token.text):
            what = f'the phrase "{token.text}"' if token.kind == "PHRASE" else f"`{token.text}`"
            raise QueryError(f"{what} has no letter or digit, so it can never match", token.start)
        text, prefix = token.text, False
        if token.kind == "PHRASE" and text.rstrip().endswith("*"):
            text, prefix = text.rstrip().rstrip("*"), True  # "customs post*" means "customs post"*
        star = self.peek()
        if star.kind == "STAR" and star.start == token.end:
            self.take()
            prefix = True
            after = self.peek()
            if after.kind in ("WORD", "PHRASE", "NEAR", "AND", "OR", "NOT") and after.start == star.end:
                raise QueryError(f"`*` can only end a term, {EXAMPLE_PREFIX}", star.start)
        return Term(text, token.kind == "PHRASE", prefix, token.start)

    def near(self) -> Near:
        """Parse ``NEAR(a b "c d", 5)``: two or more terms and an optional distance."""
        keyword = self.take()
        opening = self.peek()
        if opening.kind != "LPAREN":
            raise QueryError(
                f"NEAR needs parentheses, {EXAMPLE_NEAR} (to search for the word itself, write it in lowercase)",
                keyword.start,
            )
        self.take()
        terms: list[Term] = []
        while self.peek().kind in ("WORD", "PHRASE"):
            terms.append(self.term())
        if len(terms) < 2 and self.peek().kind in ("COMMA", "RPAREN"):
            raise QueryError(f"NEAR needs at least two terms, {EXAMPLE_NEAR}", keyword.start)
        distance = DEFAULT_NEAR_DISTANCE
        token = self.peek()
        if token.kind == "COMMA":
            self.take()
            distance = self.near_distance(token)
            token = self.peek()
            if token.kind not in ("RPAREN", "EOF"):
                raise QueryError(f"NEAR(...) must end right after its distance, {EXAMPLE_NEAR}", token.start)
        if token.kind == "EOF":
            raise QueryError("unclosed parenthesis: this `(` has no matching `)`", opening.start)
        if token.kind == "STAR":
            raise QueryError(f"`*` must come right after a word or phrase, {EXAMPLE_PREFIX}", token.start)
        if token.kind != "RPAREN":
            raise QueryError(
                f"only words, phrases and prefixes can go inside NEAR(...), {EXAMPLE_NEAR}", token.start
            )
        self.take()
        return Near(tuple(terms), distance)

    def near_distance(self, comma: Token) -> int:
        """Read the distance after NEAR's comma: a whole number of words from 0 to 1000."""
        token = self.peek()
        if token.kind in ("RPAREN", "EOF"):
            raise QueryError(f"NEAR needs a distance after the comma, {EXAMPLE_NEAR}", comma.start)
        self.take()
        text = token.text
        if token.kind != "WORD" or not (text.isascii() and text.isdigit()) or int(text) > MAX_NEAR_DISTANCE:
            shown = f'"{text}"' if token.kind == "PHRASE" else text
            raise QueryError(
                f"NEAR distance must be a whole number from 0 to {MAX_NEAR_DISTANCE}, not `{shown}`", token.start
            )
        return int(text)

    def expect_operand(self, after: Token | None) -> None:
        """Make sure an operand follows ``after`` (an operator, a `(` or the start), else say what is missing."""
        token = self.peek()
        if token.kind in ("WORD", "PHRASE", "LPAREN", "NEAR"):
            return
        if token.kind == "EOF":
            if after is None:
                raise QueryError("empty query: write at least one word", 0)
            if after.kind == "LPAREN":
                raise QueryError("unclosed parenthesis: this `(` has no matching `)`", after.start)
            example = f", {EXAMPLE_NOT}" if after.kind == "NOT" else ""
            raise QueryError(f"{after.kind} needs something after it{example}", after.start)
        if token.kind == "RPAREN":
            if after is None:
                raise QueryError("unmatched `)`: there is no `(` before it", token.start)
            if after.kind == "LPAREN":
                raise QueryError("empty parentheses: put a word or phrase inside", after.start)
            raise QueryError(f"{after.kind} needs something after it", after.start)
        if token.kind == "NOT" and after is not None and after.kind == "AND":
            raise QueryError(
                "NOT already means 'and not': write `trade NOT cricket`, not `trade AND NOT cricket`", token.start
            )
        if token.kind == "NOT":
            raise QueryError(f"NOT needs something before it, {EXAMPLE_NOT}", token.start)
        if token.kind in ("AND", "OR") and after is not None and after.kind in ("AND", "OR", "NOT"):
            message = f"{after.kind} is followed by {token.kind}: put a word or phrase between them"
            raise QueryError(message, token.start)
        self.fail_unexpected(token)

    def fail_unexpected(self, token: Token) -> None:
        """Explain a token that cannot appear where it stands."""
        if token.kind == "STAR":
            raise QueryError(f"`*` must come right after a word or phrase, {EXAMPLE_PREFIX}", token.start)
        if token.kind in ("AND", "OR"):
            raise QueryError(f"{token.kind} needs something before it", token.start)
        raise QueryError(f"unexpected `{token.text}`", token.start)


def _group(op: str, items: list[Node]) -> Node:
    """Join operands under ``op``, flattening nested groups of the same (associative) operator."""
    flat: list[Node] = []
    for item in items:
        if isinstance(item, Group) and item.op == op:
            flat.extend(item.items)
        else:
            flat.append(item)
    return flat[0] if len(flat) == 1 else Group(op, tuple(flat))


def parse_tree(text: str) -> Node:
    """Parse query text into a syntax tree or raise a positioned QueryError."""
    return _Parser(tokenize(text)).parse()
