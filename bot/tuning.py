"""Query tuning: what a query matches among stored entries (``try``), and how keywords score on labels (``eval``).

Both go through the live matcher (:class:`bot.match.Matcher`, SQLite FTS5), including the feed-level
keyword filters, so what they report is exactly what polling would post. Everything here is pure: the
command line (``bot/cli_tuning.py``) reads the database, the files and the clock.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.errors import Problem
from bot.match import Document, Hit, Matcher
from bot.query import Query
from bot.query_fold import fold, fold_with_origins
from bot.validate import did_you_mean

CHUNK = 2000  # documents indexed at once, so a month of entries never sits in one in-memory index
COLUMNS = ("title", "commitments", "summary")
REQUIRED = ("title", "commitments")
Mark = Callable[[str], str]


@dataclass(frozen=True)
class StoredEntry:
    """An entry from the state database, as ``try`` shows it."""

    entry_id: int
    feed_id: str
    title: str
    summary: str
    categories: tuple[str, ...]
    published: datetime
    story_id: int


@dataclass(frozen=True)
class TryMatch:
    """A story the query matches: the entry polling would have posted, and the other feeds that carried it."""

    entry: StoredEntry
    terms: tuple[str, ...]
    also: tuple[str, ...]  # feed ids


@dataclass(frozen=True)
class TryResult:
    """What ``try`` found among the entries it searched."""

    matches: tuple[TryMatch, ...]  # newest first
    entries: int  # entries searched
    matched_entries: int  # entries matched (a story can come from several feeds)
    filtered: int  # entries the query matches but their feed's keyword filter drops


def hits(targets: Mapping[str, Sequence[Query]], docs: Sequence[Document]) -> list[Hit]:
    """Run the live matcher over any number of documents, a chunk at a time."""
    with Matcher(targets) as matcher:
        return [hit for start in range(0, len(docs), CHUNK) for hit in matcher.match(docs[start:start + CHUNK])]


def find_matches(query: Query, entries: Sequence[StoredEntry], filters: Mapping[str, Sequence[Query]]) -> TryResult:
    """Match the query against the entries the way polling does: feed filter first, one post per story."""
    def document(entry: StoredEntry) -> Document:
        """The entry as the poller hands it to the matcher."""
        return Document(str(entry.entry_id), entry.title, entry.summary, entry.categories)

    by_key = {str(e.entry_id): e for e in entries}
    found = {hit.doc_key: hit.terms for hit in hits({"query": [query]}, [document(e) for e in entries])}
    dropped: set[str] = set()
    for feed_id, queries in filters.items():
        candidates = [document(by_key[k]) for k in found if by_key[k].feed_id == feed_id]
        if queries and candidates:
            kept = {hit.doc_key for hit in hits({"feed": queries}, candidates)}
            dropped.update(d.key for d in candidates if d.key not in kept)
    stories: dict[int, list[StoredEntry]] = {}
    for key in found.keys() - dropped:
        stories.setdefault(by_key[key].story_id, []).append(by_key[key])
    matches = []
    for story in stories.values():
        story.sort(key=lambda e: e.entry_id)  # the first seen is the one that was posted
        others = tuple(dict.fromkeys(e.feed_id for e in story[1:] if e.feed_id != story[0].feed_id))
        matches.append(TryMatch(story[0], found[str(story[0].entry_id)], others))
    matches.sort(key=lambda m: (m.entry.published, m.entry.entry_id), reverse=True)
    return TryResult(tuple(matches), len(entries), len(found) - len(dropped), len(dropped))


def highlight_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Where the hit terms occur in ``text``, token for token as FTS5 reads them, as sorted character spans."""
    folded = fold_with_origins(text)
    tokens = _tokens(folded.text)
    keys = [token.casefold() for _, _, token in tokens]
    spans: set[tuple[int, int]] = set()
    for term in terms:
        wanted = [token.casefold() for _, _, token in _tokens(fold(term))]
        for i in range(len(tokens) - len(wanted) + 1):
            if wanted and keys[i:i + len(wanted)] == wanted:
                spans.add(_original(folded.origins, text, tokens[i][0], tokens[i + len(wanted) - 1][1]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: Sequence[str], mark: Mark, width: int | None = None) -> str:
    """Mark the hit terms in ``text``; with ``width``, cut to about that many characters around the first one."""
    spans = highlight_spans(text, terms)
    prefix = suffix = ""
    if width is not None and len(text) > width:
        first = spans[0][0] if spans else 0
        start = 0 if first <= width // 3 else text.rfind(" ", 0, first - width // 3) + 1
        end = text.find(" ", start + width)
        end = len(text) if end < 0 else end
        prefix, suffix = ("…" if start else ""), ("…" if end < len(text) else "")
        spans = [(a - start, b - start) for a, b in spans if a >= start and b <= end]
        text = text[start:end]
    out, cursor = [prefix], 0
    for start, end in spans:
        out += [text[cursor:start], mark(text[start:end])]
        cursor = end
    return "".join(out) + text[cursor:] + suffix


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """Split like FTS5's unicode61: runs of letters, digits and marks; everything else separates."""
    out: list[tuple[int, int, str]] = []
    start = None
    for index, ch in enumerate(text + " "):
        if unicodedata.category(ch)[0] in "LNM" or unicodedata.category(ch) == "Co":
            start = index if start is None else start
        elif start is not None:
            out.append((start, index, text[start:index]))
            start = None
    return out


def _original(origins: tuple[int, ...] | None, text: str, start: int, end: int) -> tuple[int, int]:
    """Map a folded span back to the original text, keeping marks that trail the last letter."""
    if origins is not None:
        start, end = origins[start], origins[end - 1] + 1
    while end < len(text) and unicodedata.category(text[end])[0] == "M":
        end += 1
    return start, end


# --- eval ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labelled:
    """A headline a monitor labelled with the commitments it concerns (none: a negative example)."""

    line: int
    title: str
    summary: str
    commitments: frozenset[str]


@dataclass(frozen=True)
class Outcome:
    """A labelled headline in one commitment's score, with the words that matched (empty for a miss)."""

    row: Labelled
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    """One commitment's confusion counts on the labelled headlines."""

    commitment: str
    hits: tuple[Outcome, ...]
    false_positives: tuple[Outcome, ...]
    misses: tuple[Outcome, ...]
    searchable: bool  # it has keywords at all

    @property
    def precision(self) -> float | None:
        """Share of its matches that were labelled with it; None when it matched nothing."""
        return ratio(len(self.hits), len(self.hits) + len(self.false_positives))

    @property
    def recall(self) -> float | None:
        """Share of its labelled headlines that it matched; None when none was labelled with it."""
        return ratio(len(self.hits), len(self.hits) + len(self.misses))


@dataclass(frozen=True)
class Evaluation:
    """Every commitment's score on one labelled file, and the micro-averaged totals."""

    rows: int
    scores: tuple[Score, ...]  # commitments with a label or a match, in catalog order
    idle: tuple[str, ...]  # commitments neither labelled nor matched

    @property
    def counts(self) -> tuple[int, int, int]:
        """Micro-averaging pools every (headline, commitment) decision: true positives, false positives, misses."""
        return (sum(len(s.hits) for s in self.scores), sum(len(s.false_positives) for s in self.scores),
                sum(len(s.misses) for s in self.scores))


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide (shown as "–", never as 0%)."""
    return part / whole if whole else None


def parse_labels(text: str, file: str, known: Collection[str]) -> tuple[tuple[Labelled, ...], tuple[Problem, ...]]:
    """Read a labelled TSV (header: title, commitments[, summary]); every bad line is a Problem naming it."""
    problems: list[Problem] = []
    rows: list[Labelled] = []
    header: dict[str, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.rstrip("\r").split("\t")
        if header is None:
            header = _header(fields, file, number, problems)
            if header is None:
                break
            continue
        if len(fields) > len(header) or len(fields) <= max(header[c] for c in REQUIRED):
            names = ", ".join(sorted(header, key=header.__getitem__))
            problems.append(Problem(file, f"expected {len(header)} tab-separated fields ({names}), found {len(fields)};"
                                    " separate columns with tabs and keep the tab before an empty commitments", number))
            continue
        title = fields[header["title"]].strip()
        if not title:
            problems.append(Problem(file, "empty title", number, "column 'title'"))
        ids = [part.strip() for part in fields[header["commitments"]].split(",") if part.strip()]
        for ident in ids:
            if ident not in known:
                hint = did_you_mean(ident, known) or "; `pledgewatch status` lists the ids"
                problems.append(Problem(file, f"unknown commitment '{ident}'{hint}", number, "column 'commitments'"))
        summary = fields[header["summary"]].strip() if "summary" in header and header["summary"] < len(fields) else ""
        rows.append(Labelled(number, title, summary, frozenset(ids)))
    if header is None and not problems:
        problems.append(Problem(file, "no header row: the first line must name the columns title, commitments "
                                "(and optionally summary), separated by tabs"))
    elif header is not None and not rows:
        problems.append(Problem(file, "no labelled headlines after the header row"))
    return tuple(rows), tuple(problems)


def _header(fields: Sequence[str], file: str, number: int, problems: list[Problem]) -> dict[str, int] | None:
    """Map column names to positions; a missing or misspelt column is a Problem on the header line."""
    names = [f.strip().lower() for f in fields]
    before = len(problems)
    for index, name in enumerate(names):
        if name in COLUMNS and names.index(name) != index:
            problems.append(Problem(file, f"column '{name}' appears twice", number))
        elif name not in COLUMNS and (hint := did_you_mean(name, COLUMNS)):
            problems.append(Problem(file, f"unknown column '{name}'{hint}", number))
    for column in REQUIRED:
        if column not in names:
            tabs = " (columns must be separated by tabs)" if len(fields) == 1 else ""
            problems.append(Problem(file, f"missing column '{column}': the header row must name title and "
                                    f"commitments, optionally summary{tabs}", number))
    if len(problems) > before:
        return None
    return {name: index for index, name in enumerate(names) if name in COLUMNS}


def evaluate(rows: Sequence[Labelled], targets: Mapping[str, Sequence[Query]],
             commitments: Sequence[str]) -> Evaluation:
    """Match every labelled headline against every commitment's keywords and score each commitment."""
    found = {(int(h.doc_key), h.target): h.terms
             for h in hits(targets, [Document(str(i), r.title, r.summary) for i, r in enumerate(rows)])}
    scores, idle = [], []
    for cid in commitments:
        labelled = {i for i, r in enumerate(rows) if cid in r.commitments}
        matched = {i for i, target in found if target == cid}
        if not labelled and not matched:
            idle.append(cid)
            continue
        scores.append(Score(
            cid, tuple(Outcome(rows[i], found[i, cid]) for i in sorted(labelled & matched)),
            tuple(Outcome(rows[i], found[i, cid]) for i in sorted(matched - labelled)),
            tuple(Outcome(rows[i]) for i in sorted(labelled - matched)), cid in targets))
    return Evaluation(len(rows), tuple(scores), tuple(idle))
