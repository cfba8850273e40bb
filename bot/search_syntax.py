"""Translating keyword queries into a news search engine's own syntax, within what the engine reads.

Search feeds (``bot/search_feeds.py``) ask an engine for a commitment's keywords; whatever comes back is
still matched by the commitment's own queries (engines are fuzzy), so the engine query only has to fetch
on-topic candidates:

* prefixes lose their star (``refugee*`` → ``refugee``; engines stem on their own);
* ``NEAR`` becomes Google's ``AROUND(n)``, or plain AND elsewhere;
* ``-cricket`` is kept only where it constrains the whole engine query (engines disagree on ``-x`` inside
  an OR) and only for words, phrases or ORs of them; elsewhere it is dropped, which only broadens;
* words an engine could read as an operator (``site:x``, ``-x``) are quoted;
* "plain" engines cannot say OR: they get the first alternative of each OR group.

A commitment's queries are ORed in keyword order while they fit the engine's word budget (Google reads
32 words, Bing 10) and a 2,000-character URL. A query too long to fit is shortened, exclusions first,
then the last alternative of its longest OR group, one at a time (people list the main spelling first):
that keeps the search on topic, where dropping a whole AND operand would flood it with generic news. A
template with a ``language`` takes only queries written in its script, so English queries do not spend
an Urdu search's budget.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, quote_plus

from bot.errors import QueryError
from bot.model import SearchTemplate
from bot.query import positive_terms
from bot.query_parse import Group, Near, Node, Term, parse_tree

PLACEHOLDER = "{query}"
MAX_URL_LENGTH = 2000  # what every server, proxy and client is known to accept
_ARABIC_SCRIPT_LANGUAGES = frozenset({"ar", "fa", "prs", "ps", "ur", "sd", "ug", "ckb", "ks", "bal"})
_WORD_PUNCTUATION = frozenset("-'’._\u200c")  # inside a word these mean nothing to an engine's query parser


@dataclass(frozen=True)
class Dialect:
    """What one engine's query syntax can express, and how many words of a query it reads."""

    name: str
    max_words: int
    boolean: bool  # OR, parentheses, "phrases" and -exclusions
    around: bool  # Google's AROUND(n) proximity


DIALECTS = {
    "google": Dialect("google", 32, boolean=True, around=True),
    "bing": Dialect("bing", 10, boolean=True, around=False),
    "plain": Dialect("plain", 32, boolean=False, around=False),
}
SYNTAXES = tuple(DIALECTS)


@dataclass(frozen=True)
class Rendered:
    """A translated (sub)query, its word count, and what kind of operand it is when nested."""

    text: str
    words: int
    kind: str  # "atom", "and", "or" or "around"


@dataclass(frozen=True)
class Translation:
    """One commitment's keywords as one engine query, with what went in, so problems can be explained."""

    query: str  # "" when no query fits the budget
    used: tuple[int, ...]  # indexes into the keywords
    candidates: tuple[int, ...]  # keywords written in the template's script
    fewest_words: int  # when nothing fits: words in the shortest form of any candidate, for the message


def search_url(template_url: str, query: str) -> str:
    """Fill the slot, encoded for where it sits: quote_plus in the query string, quote in a path."""
    slot = template_url.index(PLACEHOLDER)
    in_path = "?" not in template_url[:slot] and "#" not in template_url[:slot]
    encoded = quote(query, safe="") if in_path else quote_plus(query, safe="")
    return template_url.replace(PLACEHOLDER, encoded)


def render(node: Node, dialect: Dialect, whole: bool) -> Rendered:
    """Translate a query tree; exclusions survive only where they constrain the whole engine query."""
    if isinstance(node, Term):
        return _term(node, dialect)
    if isinstance(node, Near):
        parts = [_term(term, dialect) for term in node.terms]
        joiner = f" AROUND({node.distance}) " if dialect.around else " "
        return Rendered(joiner.join(p.text for p in parts), sum(p.words for p in parts),
                        "around" if dialect.around else "and")
    if node.op == "NOT":
        left = render(node.items[0], dialect, whole)
        excluded = _exclusions(node.items[1:], dialect) if whole and dialect.boolean else []
        if not excluded:
            return left
        text = " ".join([_operand(left, ("or", "around")), *(e.text for e in excluded)])
        return Rendered(text, left.words + sum(e.words for e in excluded), "and")
    if node.op == "OR" and not dialect.boolean:
        return render(node.items[0], dialect, whole)  # a words-only engine cannot say OR: keep the first spelling
    if node.op == "OR":
        parts = [render(item, dialect, False) for item in node.items]
        return Rendered(" OR ".join(_operand(p, ("and", "around")) for p in parts), sum(p.words for p in parts), "or")
    parts = [render(item, dialect, whole) for item in node.items]
    return Rendered(" ".join(_operand(p, ("or", "around")) for p in parts), sum(p.words for p in parts), "and")


def translate(keywords: Sequence[str], template: SearchTemplate) -> Translation:
    """Turn a commitment's keywords into one engine query within the template's word and URL budget."""
    dialect = DIALECTS[template.syntax]
    budget = template.max_words or dialect.max_words
    arabic = _arabic_script(template.language)
    trees: list[tuple[int, Node]] = []
    for index, text in enumerate(keywords):
        try:
            tree = parse_tree(text)
        except QueryError:
            continue  # reported by the keyword check already
        if _in_script(tree, arabic):
            trees.append((index, tree))
    if not trees:
        return Translation("", (), (), 0)

    def fits(parts: Sequence[Rendered]) -> bool:
        """Whether these queries ORed together stay within the word budget and the URL length."""
        text = _combine(parts)
        return sum(p.words for p in parts) <= budget and len(search_url(template.url, text)) <= MAX_URL_LENGTH

    chosen: list[tuple[int, Node, Rendered]] = []
    for index, tree in trees:
        for candidate in _relaxations(tree, dialect):
            if _words(candidate, dialect) + sum(r.words for _, _, r in chosen) > budget:
                continue  # cheap check first: rendering and encoding every step of a long query adds up
            rendered = render(candidate, dialect, whole=False)
            if any(r.text == rendered.text for _, _, r in chosen):
                break  # says nothing the URL does not say already
            if fits([*(r for _, _, r in chosen), rendered]):
                chosen.append((index, tree, rendered))
                break
        if chosen and not dialect.boolean:
            break  # a words-only engine cannot OR two queries together
    if len(chosen) == 1:  # alone in the URL, its exclusions constrain the whole query: keep them if they fit
        index, tree, _ = chosen[0]
        whole = (render(candidate, dialect, whole=True) for candidate in _relaxations(tree, dialect))
        chosen = [(index, tree, next((r for r in whole if fits([r])), chosen[0][2]))]
    if not chosen:  # say how short the shortest form of each query gets, for the problem message
        fewest = min(_words(deque(_relaxations(tree, dialect), maxlen=1)[0], dialect) for _, tree in trees)
        return Translation("", (), tuple(i for i, _ in trees), fewest)
    return Translation(_combine([r for _, _, r in chosen]), tuple(i for i, _, _ in chosen),
                       tuple(i for i, _ in trees), 0)


@lru_cache(maxsize=4096)
def _term(term: Term, dialect: Dialect) -> Rendered:
    """A word or phrase for the engine: prefixes lose their star, odd characters are quoted away."""
    if not dialect.boolean:
        words = _words_only(term.text)
        return Rendered(" ".join(words), len(words), "and")
    words = term.text.split()
    if len(words) == 1 and _plain_word(words[0]):
        word = words[0].lower() if dialect.around and words[0] == "AROUND" else words[0]
        return Rendered(word, 1, "atom")
    return Rendered(f'"{" ".join(words)}"', len(words), "atom")


def _plain_word(word: str) -> bool:
    """Letters, digits and inner hyphens or apostrophes only: nothing an engine could read as an operator."""
    def wordy(ch: str) -> bool:
        """Letters, digits and combining marks: what a word is made of in any script."""
        return unicodedata.category(ch)[0] in "LNM"
    return wordy(word[0]) and all(wordy(ch) or ch in _WORD_PUNCTUATION for ch in word)


def _words_only(text: str) -> list[str]:
    """Split into runs of letters, digits and marks (ZWNJ stays inside Persian words), for words-only engines."""
    return re.findall(r"(?:[^\W_]|[\u0300-\u036f\u064b-\u065f\u0670\u200c])+", text)


def _exclusions(items: Sequence[Node], dialect: Dialect) -> list[Rendered]:
    """``-word`` / ``-"phrase"`` for each excluded term or OR of terms; anything else is dropped (broader)."""
    out: list[Rendered] = []
    for item in items:
        alternatives = item.items if isinstance(item, Group) and item.op == "OR" else (item,)
        terms = [_term(a, dialect) for a in alternatives if isinstance(a, Term)]
        if len(terms) == len(alternatives):
            out += [Rendered("-" + t.text, t.words, "atom") for t in terms]
    return out


def _operand(part: Rendered, parenthesised: tuple[str, ...]) -> str:
    """Wrap an operand whose kind would otherwise bind differently in the enclosing operator."""
    return f"({part.text})" if part.kind in parenthesised else part.text


def _combine(parts: Sequence[Rendered]) -> str:
    """OR several translated queries together (a single one stays as it is)."""
    return parts[0].text if len(parts) == 1 else " OR ".join(_operand(p, ("and", "around")) for p in parts)


def _relaxations(tree: Node, dialect: Dialect) -> Iterator[Node]:
    """The query, then shorter versions: without exclusions, then minus the last alternative of its longest OR."""
    yield tree
    node: Node | None = _without_exclusions(tree)
    while node is not None:
        yield node
        node = _trim_longest_or(node, dialect)


def _trim_longest_or(node: Node, dialect: Dialect) -> Node | None:
    """The tree minus the last alternative of its longest OR group (the later one on ties); None without ORs."""
    def walk(n: Node) -> Iterator[Node]:
        """Every node of the tree, parents first."""
        yield n
        for item in n.items if isinstance(n, Group) else ():
            yield from walk(item)

    groups = [n for n in walk(node) if isinstance(n, Group) and n.op == "OR"]
    if not groups:
        return None
    target = max(reversed(groups), key=lambda g: _words(g, dialect))

    def rebuild(n: Node) -> Node:
        """Copy the tree with the target group trimmed (nodes are immutable)."""
        if n is target:
            return target.items[0] if len(target.items) == 2 else Group("OR", target.items[:-1])
        return Group(n.op, tuple(rebuild(i) for i in n.items)) if isinstance(n, Group) else n
    return rebuild(node)


def _words(node: Node, dialect: Dialect) -> int:
    """Words the engine reads for this (sub)query without exclusions: what render() counts, without the text."""
    if isinstance(node, Term):
        return _term(node, dialect).words
    if isinstance(node, Near):
        return sum(_term(term, dialect).words for term in node.terms)
    if node.op == "NOT" or (node.op == "OR" and not dialect.boolean):
        return _words(node.items[0], dialect)
    return sum(_words(item, dialect) for item in node.items)


def _without_exclusions(node: Node) -> Node:
    """Drop every NOT's right side, flattening ANDs that meet, so what remains can be shortened further."""
    if not isinstance(node, Group):
        return node
    if node.op == "NOT":
        return _without_exclusions(node.items[0])
    items: list[Node] = []
    for item in (_without_exclusions(i) for i in node.items):
        items.extend(item.items if isinstance(item, Group) and item.op == node.op else (item,))
    return Group(node.op, tuple(items))


def _arabic_script(language: str) -> bool | None:
    """Whether a BCP-47 tag is written in Arabic script (True), another script (False), or unknown (None)."""
    parts = language.strip().lower().replace("_", "-").split("-")
    if not parts[0]:
        return None
    scripts = [p for p in parts[1:] if len(p) == 4 and p.isalpha()]
    return scripts[0] == "arab" if scripts else parts[0] in _ARABIC_SCRIPT_LANGUAGES


def _in_script(tree: Node, arabic: bool | None) -> bool:
    """Whether any positive term is written in the wanted script (mixed-script queries go everywhere)."""
    if arabic is None:
        return True
    letters = [ch for term in positive_terms(tree) for ch in term.text if ch.isalpha()]
    return not letters or any(("ARABIC" in unicodedata.name(ch, "")) == arabic for ch in letters)
