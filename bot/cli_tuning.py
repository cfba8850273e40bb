"""``pledgewatch try`` and ``pledgewatch eval``: tune keyword queries on stored news and on labelled headlines.

``try "QUERY"`` shows the stored entries of the last N days the query matches, hit words highlighted;
``eval FILE.tsv`` scores every commitment's current keywords against headlines a monitor labelled. The
logic lives in :mod:`bot.tuning`; this module reads the edge (arguments, files, database, clock).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from bot.app import Runtime
from bot.cli_context import STATE_DB_HELP, Context
from bot.config import check_config
from bot.errors import QueryError
from bot.match import CATEGORY_SEPARATOR
from bot.query import check_query, parse_query
from bot.store import Store, from_db, to_db
from bot.tuning import (Evaluation, Mark, Outcome, Score, StoredEntry, TryMatch, TryResult, evaluate, find_matches,
                        highlight, highlight_spans, parse_labels, ratio)

BOLD, RESET = "\x1b[1m", "\x1b[0m"
SNIPPET = 160  # characters of a summary shown around its first hit


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add the ``try`` and ``eval`` subcommands to the pledgewatch parser."""
    p = sub.add_parser("try", parents=[common], help="show which stored entries a query matches",
                       description="Match a keyword query against the entries stored in the last N days, with the "
                                   "live matcher, and show the matches newest first with the hit words highlighted.")
    p.add_argument("query", help='a keyword query, e.g. \'"transit trade" NOT cricket\'')
    p.add_argument("--days", type=_positive, default=30, metavar="N", help="search the last N days (default 30)")
    p.add_argument("--db", metavar="FILE", help=STATE_DB_HELP)
    p.set_defaults(func=cmd_try)
    p = sub.add_parser("eval", parents=[common], help="score the keywords on labelled headlines",
                       description="Match labelled headlines (a TSV with the columns title, commitments and optionally "
                                   "summary) against the keywords in commitments.toml and print precision and recall "
                                   "per commitment, with the false positives and misses.")
    p.add_argument("file", metavar="FILE.tsv", help="labelled headlines, tab-separated, with a header row")
    p.set_defaults(func=cmd_eval)


def cmd_try(ctx: Context) -> int:
    """Show what a query would match among the stored entries, exactly as polling would."""
    text: str = ctx.args.query
    try:
        query = parse_query(text)
    except QueryError as error:
        print(f"pledgewatch try: invalid query: {check_query(text)}", file=ctx.err)
        if error.position is not None and error.position < len(text):
            print(f"  {text}\n  {' ' * error.position}^", file=ctx.err)
        return 1
    runtime = Runtime.from_env(ctx.env, ctx.config_dir, ctx.args.db)
    if not runtime.db_path.exists():
        print(f"pledgewatch try: no database at {runtime.db_path}: run `pledgewatch poll --once` first, "
              "or pass --db FILE", file=ctx.err)
        return 1
    config, problems = check_config(ctx.config_dir)
    if problems:
        print(f"note: the configuration has {len(problems)} problem(s) (see `pledgewatch check`); feed-level "
              "keyword filters are not applied", file=ctx.err)
    filters = {} if problems else {f.id: [parse_query(q) for q in f.keywords] for f in config.feeds.feeds if f.keywords}
    now = ctx.clock.now()
    store = Store.open(runtime.db_path)
    try:
        entries = load_entries(store, now - timedelta(days=ctx.args.days))
    finally:
        store.close()
    names = {f.id: f.name or f.id for f in config.feeds.feeds}
    print(format_try(find_matches(query, entries, filters), ctx.args.days, names, config.catalog.settings.tz,
                     _marker(ctx)), file=ctx.out)
    return 0


def cmd_eval(ctx: Context) -> int:
    """Score the current keywords on a labelled TSV; problems in the file are listed with their lines."""
    if (config := ctx.load()) is None:
        return 1
    path = Path(ctx.args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        print(f"pledgewatch eval: cannot read {path}: {reason}", file=ctx.err)
        return 1
    commitments = config.catalog.commitments
    rows, problems = parse_labels(text, str(path), [c.id for c in commitments])
    if problems:
        for problem in problems:
            print(problem, file=ctx.err)
        print(f"{len(problems)} problem(s) in {path}; fix them and run `pledgewatch eval` again.", file=ctx.err)
        return 1
    targets = {c.id: [parse_query(q) for q in c.keywords] for c in commitments if c.keywords}
    print(format_evaluation(evaluate(rows, targets, [c.id for c in commitments]), str(path)), file=ctx.out)
    return 0


def load_entries(store: Store, since: datetime) -> list[StoredEntry]:
    """Every stored entry published since ``since``, from every feed."""
    rows = store.query("SELECT id, feed_id, title, summary, categories, published, story_id FROM entries "
                       "WHERE published >= ? ORDER BY id", (to_db(since),))
    return [StoredEntry(r[0], r[1], r[2], r[3], tuple(c for c in r[4].split(CATEGORY_SEPARATOR) if c),
                        from_db(r[5]) or since, r[6]) for r in rows]


def format_try(result: TryResult, days: int, feed_names: Mapping[str, str], tz: tzinfo, mark: Mark) -> str:
    """One block per matched story, newest first, then the count."""
    lines = []
    for match in result.matches:
        lines += _match_lines(match, feed_names, tz, mark)
    stories = len(result.matches)
    count = (f"{result.matched_entries} matching {_plural(result.matched_entries, 'entry', 'entries')}"
             f" ({stories} {_plural(stories, 'story', 'stories')})" if stories else "No match")
    lines.append(f"{count} among {result.entries} {_plural(result.entries, 'entry', 'entries')} "
                 f"stored in the last {days} {_plural(days, 'day', 'days')}.")
    if result.filtered:
        lines.append(f"{result.filtered} more {_plural(result.filtered, 'entry matches', 'entries match')} "
                     "but their feed's keywords filter drops them.")
    if not result.entries:
        lines.append("Nothing stored in that period: run `pledgewatch poll --once`, or try a larger --days.")
    return "\n".join(lines)


def _match_lines(match: TryMatch, feed_names: Mapping[str, str], tz: tzinfo, mark: Mark) -> list[str]:
    """The date, feed and highlighted title; the summary and categories only where they hold a hit."""
    entry, pad = match.entry, " " * 4
    lines = [f"{entry.published.astimezone(tz):%Y-%m-%d %H:%M}  {feed_names.get(entry.feed_id, entry.feed_id)}",
             pad + highlight(" ".join(entry.title.split()), match.terms, mark)]
    summary = " ".join(entry.summary.split())
    if highlight_spans(summary, match.terms):
        lines.append(f"{pad}summary: {highlight(summary, match.terms, mark, SNIPPET)}")
    categories = ", ".join(entry.categories)
    if highlight_spans(categories, match.terms):
        lines.append(f"{pad}categories: {highlight(categories, match.terms, mark)}")
    if match.also:
        lines.append(f"{pad}also in: {', '.join(feed_names.get(f, f) for f in match.also)}")
    return lines


def format_evaluation(evaluation: Evaluation, file: str) -> str:
    """Per-commitment precision and recall with the false positives and misses, then the micro-averaged totals."""
    width = max((len(s.commitment) for s in evaluation.scores), default=10)
    lines = [f"{evaluation.rows} labelled headlines from {file}.", "",
             f"{'commitment':{width}}  precision     recall   TP  FP  FN"]
    for score in evaluation.scores:
        lines.append(f"{score.commitment:{width}}  {_percent(score.precision):>9}  {_percent(score.recall):>9}  "
                     f"{len(score.hits):3} {len(score.false_positives):3} {len(score.misses):3}"
                     + ("" if score.searchable else "  (no keywords)"))
        lines += _outcome_lines(score)
    if evaluation.idle:
        lines += ["", f"Neither labelled nor matched ({len(evaluation.idle)}): {', '.join(evaluation.idle)}"]
    tp, fp, fn = evaluation.counts
    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = ratio(2 * tp, 2 * tp + fp + fn)
    lines += ["", f"Overall (micro-averaged over {len(evaluation.scores)} commitments): "
                  f"precision {_percent(precision)} ({tp}/{tp + fp}), recall {_percent(recall)} ({tp}/{tp + fn}), "
                  f"F1 {_percent(f1)}"]
    return "\n".join(lines)


def _outcome_lines(score: Score) -> list[str]:
    """List what went wrong for one commitment, each with its line in the TSV."""
    def line(kind: str, outcome: Outcome) -> str:
        """One headline with its TSV line, and the words that matched when it is a false positive."""
        matched = f"  [matched: {', '.join(outcome.terms)}]" if outcome.terms else ""
        return f"    {kind} (line {outcome.row.line}): {outcome.row.title}{matched}"
    return ([line("false positive", o) for o in score.false_positives] + [line("missed", o) for o in score.misses])


def _percent(value: float | None) -> str:
    """A ratio as a percentage, or a dash when it is undefined (0% would claim something false)."""
    return "–" if value is None else f"{100 * value:.1f}%"


def _plural(count: int, one: str, many: str) -> str:
    """Pick the form that reads right for ``count``."""
    return one if count == 1 else many


def _marker(ctx: Context) -> Mark:
    """Bold on a terminal (unless NO_COLOR is set), ``[[term]]`` everywhere else so pipes and logs stay readable."""
    isatty = getattr(ctx.out, "isatty", None)
    if isatty is not None and isatty() and "NO_COLOR" not in ctx.env:
        return lambda text: f"{BOLD}{text}{RESET}"
    return lambda text: f"[[{text}]]"


def _positive(text: str) -> int:
    """Parse --days: a window of zero days would always be empty."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value
