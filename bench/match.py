"""Benchmark: our FTS5 Matcher against a naive regular-expression loop, 1,000 commitments x 100,000 entries.

    python bench/match.py            # 100,000 entries, naive loop on a 2,000-entry sample (about 3 minutes)
    python bench/match.py --quick    # 10,000 entries, naive on 400 (under a minute)

The entries are bench/feedgen.py's feeds parsed by ``bot.parse.parse_feed`` (titles, summaries and categories
exactly as the poller hands them to the matcher), cached under the temp dir after the first run. The 1,000
commitments get 2-4 queries each, generated deterministically from the corpus's own vocabulary (so they
match something): phrases, AND/OR/NOT and grouping, prefixes (``word*``, ``"a phrase"*``), NEAR with a
distance, Urdu-script terms, capitalised and accented spellings (``ISLAMABAD``, ``Kâbul``).

Three ways to match, checked against each other:

* ours, per feed: ``bot.match.Matcher`` over batches of 50 entries, as the poller sends one feed's new entries;
* ours, large batches: the same Matcher over batches of 2,000 entries;
* naive: for every entry and every commitment, one compiled Python ``re`` pattern (the commitment's queries
  compiled to anchored look-aheads) over the entry's text, folded with ``bot.query_fold.fold``, lower-cased
  and tokenised as FTS5's ``unicode61`` tokenizer does, columns kept apart so a phrase or NEAR never spans
  two of them. It is too slow to run on everything, so it runs on an evenly spread sample and its rate is
  compared with ours; ``identical`` says both found exactly the same (entry, commitment) pairs on the sample
  and both batch sizes found the same pairs on everything.

Last line: ``result: entries_per_s=... vs_naive=... identical=1`` (target: vs_naive >= 10, per-feed batches).
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing
import pickle
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ (common, feedgen); common adds the repo root

import common  # noqa: E402
import feedgen  # noqa: E402
from bot.errors import QueryError  # noqa: E402
from bot.match import Document, Matcher  # noqa: E402
from bot.parse import parse_feed  # noqa: E402
from bot.query import Query, parse_query  # noqa: E402
from bot.query_fold import fold  # noqa: E402
from bot.query_parse import Group, Near, Node, Term, parse_tree  # noqa: E402

TARGET_VS_NAIVE = 10.0
COMMITMENTS = 1000
FULL = {"entries": 100_000, "naive": 2_000, "large": 2_000}
QUICK = {"entries": 10_000, "naive": 400, "large": 2_000}
FEED_BATCH = 50
SEED = 20261123
TOKEN = re.compile(r"[^\W_]+")  # letters and digits (Unicode L*, N*): FTS5 unicode61's token characters
ENTITIES = ["Pakistan", "Afghanistan", "Kabul", "ISLAMABAD", "Torkham", "refugees", "Taliban", "Kâbul", "trade",
            "transit", "border", "Chaman", "railway", "DÂR", "Peshawar"]
STOP = {"the", "and", "for", "with", "that", "this", "from", "have", "said", "were", "will", "been", "their", "after",
        "would", "which", "about", "there", "into", "over", "than", "also", "more", "post", "appeared", "first"}


# --- data -----------------------------------------------------------------------------------------

def _parse_one(args: tuple[int, int, int]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Parse feed ``index`` of a corpus (in a pool process): the entries' title, summary and categories."""
    n_feeds, seed, index = args
    corpus = _corpus(n_feeds, seed)
    spec = corpus.feeds[index]
    parsed = parse_feed(corpus.body(index), {"content-type": spec.content_type}, f"http://127.0.0.1{spec.path}")
    corpus.forget(index)
    return [(e.title, e.summary, e.categories) for e in parsed.entries]


_CORPORA: dict[tuple[int, int], feedgen.Corpus] = {}


def _corpus(n_feeds: int, seed: int) -> feedgen.Corpus:
    if (n_feeds, seed) not in _CORPORA:
        _CORPORA[(n_feeds, seed)] = feedgen.Corpus(n_feeds, seed)
    return _CORPORA[(n_feeds, seed)]


def entries(n: int) -> tuple[list[Document], bool]:
    """``n`` parsed entries (cached on disk), and whether they came from the cache."""
    n_feeds = -(-n // feedgen.ENTRIES_PER_FEED)
    path = common.cache_dir("match", feeds=n_feeds, seed=feedgen.DEFAULT_SEED) / "entries.pickle"
    if path.exists():
        rows = pickle.loads(path.read_bytes())
        cached = True
    else:
        # Each pool process builds the corpus once (feeds are independent, so any process can build feed i).
        with multiprocessing.get_context("spawn").Pool(common.CORES) as pool:
            parts = pool.map(_parse_one, [(n_feeds, feedgen.DEFAULT_SEED, i) for i in range(n_feeds)], chunksize=25)
        rows = [row for part in parts for row in part]
        path.write_bytes(pickle.dumps(rows))
        cached = False
    docs = [Document(str(i), title, summary, categories) for i, (title, summary, categories) in enumerate(rows[:n])]
    return docs, cached


def tokens(text: str) -> list[str]:
    """FTS5 ``unicode61 remove_diacritics 2`` tokens of text already folded by ``bot.query_fold.fold``."""
    return TOKEN.findall(text.lower())


def vocabulary(docs: Sequence[Document], rng: random.Random) -> dict[str, list[str]]:
    """Words and phrases by how many entries use them, so generated queries are selective but do match."""
    df: collections.Counter[str] = collections.Counter()
    bigrams: collections.Counter[str] = collections.Counter()
    for doc in docs:
        words = tokens(fold(f"{doc.title} {doc.summary}"))
        df.update(set(words))
        bigrams.update({f"{a} {b}" for a, b in zip(words, words[1:]) if a not in STOP and b not in STOP})
    n = len(docs)

    def band(counter: collections.Counter[str], low: float, high: float, latin: bool | None) -> list[str]:
        out = [w for w, c in counter.items() if low * n <= c <= high * n and not w.isdigit()
               and (latin is None or (w.isascii() == latin)) and len(w) >= (4 if latin else 2)
               and w.split()[0] not in STOP]
        out.sort()
        rng.shuffle(out)
        return out

    return {"mid": band(df, 0.05, 0.25, True), "low": band(df, 0.0005, 0.05, True),
            "phrases": band(bigrams, 0.002, 0.05, True), "urdu": band(df, 0.005, 0.1, False),
            "urdu_phrases": band(bigrams, 0.005, 0.1, False)}


def commitments(vocab: dict[str, list[str]], rng: random.Random, n: int) -> dict[str, list[Query]]:
    """``n`` commitments with 2-4 queries each, every one accepted by ``parse_query``.

    Like the bundled commitments.toml, each query combines two or three concepts (phrases and words of
    middling frequency, names), so it is selective; NEAR never pairs a term with itself (FTS5 lets two
    NEAR phrases overlap, which a regex cannot say, and no real query does it)."""
    def w(kind: str = "mid") -> str:
        word = rng.choice(vocab[kind])
        roll = rng.random()
        return word.upper() if roll < 0.05 else word.title() if roll < 0.3 else word

    def p(kind: str = "phrases") -> str:
        return f'"{rng.choice(vocab[kind])}"'

    def e() -> str:
        return rng.choice(ENTITIES)

    def near(a: str, b: str, distance: int) -> str:
        if set(tokens(fold(a.strip('"')))) & set(tokens(fold(b.strip('"')))):
            raise QueryError("NEAR terms share a word", None)
        return f"NEAR({a} {b}, {distance})"

    def phrase_prefix() -> str:
        words = rng.choice(vocab["phrases"]).split()
        return f'"{words[0]} {words[1][: max(3, len(words[1]) - 3)]}"*'

    templates = [
        lambda: f"{p()} AND ({p()} OR {p()})",
        lambda: f"{p()} AND {w()} NOT ({w()} OR {p()})",
        lambda: f"{w()[:5]}* AND {p()} AND ({w('low')} OR {e()})",
        lambda: f"{near(w(), w(), rng.choice([2, 3, 5]))} AND {p()}",
        lambda: f"{near(p(), w(), rng.choice([3, 5, 8]))} NOT {w('low')}",
        lambda: f"({p('urdu_phrases')} OR {w('urdu')}) AND (پاکستان OR افغانستان OR طورخم) AND ({w('urdu')} OR {w('urdu')})",
        lambda: f"{phrase_prefix()} AND {p()}",
        lambda: f"{w()} {w()} {p()} NOT {w()}",
        lambda: f"(({p()} OR {p()}) AND {w('low')}) NOT {p()}",
        lambda: f"({e()} OR {e()}) AND ({w('low')} OR {w('low')})",
        lambda: f"{w('low')} OR ({p()} AND {p()})",
        lambda: f"{e()} AND {e()} AND ({w('low')} OR {w()[:4]}*)",
    ]
    out: dict[str, list[Query]] = {}
    for i in range(n):
        queries: list[Query] = []
        wanted = rng.randint(2, 4)
        while len(queries) < wanted:
            try:
                queries.append(parse_query(rng.choice(templates)()))
            except QueryError:
                continue
        out[f"c{i:04d}"] = queries
    return out


# --- the naive loop -----------------------------------------------------------------------------

GAP = r"[^ \x1f]"  # a character of a token: tokens are separated by one space, columns by " \x1f "


def naive_text(doc: Document) -> str:
    """Fold, lower-case and tokenise each column like FTS5, then join: `` tok tok \\x1f tok \\x1f tok ``."""
    columns = (doc.title, doc.summary, "\n".join(doc.categories))
    return " " + " \x1f ".join(" ".join(tokens(fold(column))) for column in columns) + " "


def _term_body(term: Term) -> str:
    """A term's tokens as a regex: single spaces between them, the last one open-ended for a prefix."""
    words = tokens(fold(term.text))
    body = " ".join(re.escape(word) for word in words)
    return body + (GAP + "*" if term.prefix else "")


def _assertion(node: Node) -> str:
    """A zero-width regex that holds at the start of the text exactly when ``node`` matches the document."""
    if isinstance(node, Term):
        return f"(?=.*? {_term_body(node)} )"
    if isinstance(node, Near):
        if len(node.terms) != 2:
            raise NotImplementedError("the naive loop only handles NEAR of two terms")
        a, b = (_term_body(t) for t in node.terms)
        gap = f"(?:{GAP}+ ){{0,{node.distance}}}"
        return f"(?=.*? {a} {gap}{b} |.*? {b} {gap}{a} )"
    if node.op == "AND":
        return "".join(_assertion(item) for item in node.items)
    if node.op == "OR":
        if all(isinstance(item, Term) for item in node.items):  # one scan for a list of words, as anyone would write
            return "(?=.*? (?:" + "|".join(_term_body(item) for item in node.items) + ") )"  # type: ignore[arg-type]
        return "(?:" + "|".join(_assertion(item) for item in node.items) + ")"
    first, *excluded = node.items
    return _assertion(first) + "".join(f"(?!{_assertion(item)})" for item in excluded)


def naive_pattern(queries: Sequence[Query]) -> re.Pattern[str]:
    """One compiled pattern per commitment: any of its queries."""
    return re.compile("(?:" + "|".join(_assertion(parse_tree(q.text)) for q in queries) + ")", re.DOTALL)


def naive(docs: Sequence[Document], patterns: Sequence[tuple[int, re.Pattern[str]]]) -> set[tuple[int, int]]:
    """Every (entry, commitment) pair: for each entry, fold it once, then try every commitment's pattern."""
    found: set[tuple[int, int]] = set()
    for doc in docs:
        text = naive_text(doc)
        entry = int(doc.key)
        for index, pattern in patterns:
            if pattern.match(text):
                found.add((entry, index))
    return found


# --- ours -----------------------------------------------------------------------------------------

def ours(matcher: Matcher, docs: Sequence[Document], batch: int, index: dict[str, int]) -> set[tuple[int, int]]:
    """The Matcher over consecutive batches, as the poller calls it."""
    found: set[tuple[int, int]] = set()
    for start in range(0, len(docs), batch):
        for hit in matcher.match(docs[start:start + batch]):
            found.add((int(hit.doc_key), index[hit.target]))
    return found


@dataclass
class Run:
    """One timed way of matching."""

    name: str
    entries: int
    seconds: float
    pairs: int

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds else float("nan")


def timed(name: str, n: int, fn: object, *args: object) -> tuple[Run, set[tuple[int, int]]]:
    """Run ``fn(*args)`` once and time it (CPU-bound and single-threaded: process time is the honest clock)."""
    t0, c0 = time.perf_counter(), time.process_time()
    found = fn(*args)  # type: ignore[operator]
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  {name}: {wall:.1f} s wall, {cpu:.1f} s CPU")
    return Run(name, n, cpu, len(found)), found


def main() -> int:
    args = common.parse_args(__doc__.splitlines()[0], "10,000 entries, naive on 400, under a minute")
    size = QUICK if args.quick else FULL
    print(f"pledgewatch matcher benchmark: {COMMITMENTS} commitments x {size['entries']:,} entries; {common.machine_line()}")
    started = time.perf_counter()
    docs, cached = entries(size["entries"])
    print(f"entries: {len(docs):,} parsed from {-(-len(docs) // feedgen.ENTRIES_PER_FEED):,} feedgen feeds "
          f"({'from the cache' if cached else 'parsed now and cached'} in {common.cache_dir('match', feeds=-(-len(docs) // feedgen.ENTRIES_PER_FEED), seed=feedgen.DEFAULT_SEED)}); "
          f"{sum(not (d.title + d.summary).isascii() for d in docs) / len(docs):.0%} non-ASCII, "
          f"mean {sum(len(d.title) + len(d.summary) for d in docs) / len(docs):.0f} characters")
    rng = random.Random(SEED)
    vocab = vocabulary(docs[: min(len(docs), 20_000)], rng)
    targets = commitments(vocab, rng, COMMITMENTS)
    names = list(targets)
    index = {name: i for i, name in enumerate(names)}
    queries = [q for qs in targets.values() for q in qs]
    kinds = {"phrase": sum('"' in q.text for q in queries), "NOT": sum(" NOT " in q.text for q in queries),
             "prefix": sum("*" in q.text for q in queries), "NEAR": sum("NEAR(" in q.text for q in queries),
             "Urdu": sum(not q.text.isascii() and "Kâbul" not in q.text and "DÂR" not in q.text for q in queries)}
    print(f"commitments: {len(targets)} with {len(queries)} queries (" + ", ".join(f"{v} {k}" for k, v in kinds.items())
          + f"), e.g. {queries[0].text!r}, {queries[5].text!r}")
    t0 = time.perf_counter()
    matcher = Matcher(targets)
    print(f"Matcher built in {time.perf_counter() - t0:.2f} s (every expression checked once, not timed)")
    patterns = [(index[name], naive_pattern(qs)) for name, qs in targets.items()]

    step = max(1, len(docs) // size["naive"])
    sample = docs[::step][: size["naive"]]
    sample_keys = {int(d.key) for d in sample}
    with common.LoadWatch("timed runs") as load:
        per_feed, found_feed = timed(f"ours, batches of {FEED_BATCH}", len(docs), ours, matcher, docs, FEED_BATCH, index)
        large, found_large = timed(f"ours, batches of {size['large']:,}", len(docs), ours, matcher, docs, size["large"], index)
        slow, found_naive = timed("naive re loop", len(sample), naive, sample, patterns)
    matcher.close()

    ours_on_sample = {pair for pair in found_feed if pair[0] in sample_keys}
    same_sample = ours_on_sample == found_naive
    same_batches = found_feed == found_large
    identical = int(same_sample and same_batches)
    if not same_sample:
        only_ours, only_naive = sorted(ours_on_sample - found_naive), sorted(found_naive - ours_on_sample)
        print(f"  MISMATCH on the sample: {len(only_ours)} pairs only ours, {len(only_naive)} only naive; first: "
              f"{(only_ours or only_naive)[:3]}")
        for entry, target in (only_ours or only_naive)[:3]:
            print(f"    entry {entry}: {docs[entry].title!r}; {names[target]}: {[q.text for q in targets[names[target]]]}")
    print(load.note())
    print()
    matched_entries = len({e for e, _ in found_feed})
    rows = [[r.name, r.entries, r.seconds, r.rate, r.pairs, r.rate / slow.rate] for r in (per_feed, large, slow)]
    common.print_table(["matcher", "entries", "CPU s", "entries/s", "pairs found", "x naive"], rows)
    print(f"\n{len(found_feed):,} (entry, commitment) pairs over {matched_entries:,} entries "
          f"({matched_entries / len(docs):.1%} of entries match at least one commitment); naive sample: every "
          f"{step}th entry, {len(found_naive):,} pairs; identical: sample {'yes' if same_sample else 'NO'}, "
          f"batch sizes {'yes' if same_batches else 'NO'}")
    vs_naive = per_feed.rate / slow.rate
    print(f"target: per-feed batches >= {TARGET_VS_NAIVE:g}x the naive loop: {vs_naive:.1f}x  "
          f"{'PASS' if vs_naive >= TARGET_VS_NAIVE and identical else 'MISS'}; elapsed {time.perf_counter() - started:.0f} s")
    print(common.result_line({"entries_per_s": per_feed.rate, "vs_naive": vs_naive, "identical": identical}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
