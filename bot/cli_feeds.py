"""`pledgewatch feeds import FILE.opml` and `pledgewatch feeds export [-o FILE]`: feeds.toml to and from OPML.

Import never rewrites what is already in feeds.toml: the new ``[[feed]]`` tables (rendered by tomlkit)
are appended after the untouched original text under a comment naming the OPML file, so every comment
and blank line stays byte for byte. The result is written to a temporary file beside feeds.toml,
checked with the same loader as ``pledgewatch check``, and only then renamed over it; an invalid result
is refused with its problems and the file is left as it was.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import tomlkit

from bot.cli_context import Context
from bot.cli_export import emit, write_atomically
from bot.config import FEEDS_FILE, check_config, load_feed_catalog
from bot.durations import format_duration
from bot.errors import Problem
from bot.model import FeedCatalog
from bot.opml import MAX_BYTES, ImportPlan, OpmlError, clean, parse_opml, plan_import, write_opml


LOADER_CRASHES = (ValueError, OverflowError, RecursionError)


def feed_tables(plan: ImportPlan, source: str, title: str, now: datetime) -> str:
    """The text to append: a comment naming the OPML source, then one commented ``[[feed]]`` table per feed."""
    named = f' ("{clean(title)}")' if title else ""
    lines = ["", f"# --- Imported from {clean(source)}{named} by `pledgewatch feeds import` on {now:%Y-%m-%d} ---"]
    for feed in plan.added:
        table = tomlkit.table()
        table.add("id", feed.id)
        table.add("url", feed.url)
        table.add("name", feed.name)
        if feed.language:
            table.add("language", feed.language)
        if feed.interval is not None:
            table.add("interval", format_duration(feed.interval))
        if feed.keywords:
            table.add("keywords", list(feed.keywords))
        table.add("enabled", feed.enabled)
        doc = tomlkit.document()
        array = tomlkit.aot()
        array.append(table)
        doc.append("feed", array)
        lines.append("")
        if feed.category:
            lines.append(f"# OPML folder: {clean(feed.category)}")
        lines.append(tomlkit.dumps(doc).rstrip("\n"))
    return "\n".join(lines) + "\n"


def appended(original: str, addition: str) -> str:
    """The original text unchanged, then the addition (in the file's own line ends)."""
    newline = "\r\n" if "\r\n" in original else "\n"
    if not original:
        addition = addition.lstrip("\n")
    elif not original.endswith("\n"):
        original += newline
    return original + addition.replace("\n", newline)


def _checker(target: Path) -> Callable[[Path], list[Problem]]:
    """Validate a candidate file with feeds.toml's own loader, naming the real file in every problem."""
    def check(candidate: Path) -> list[Problem]:
        problems: list[Problem] = []
        try:
            load_feed_catalog(candidate, problems)
        except LOADER_CRASHES as exc:  # a loader that cannot finish has not said the file is valid
            return [Problem(str(target), f"could not be validated ({type(exc).__name__}: {exc})")]
        return [replace(p, file=str(target)) for p in problems]
    return check


def _print_problems(ctx: Context, heading: str, problems: list[Problem]) -> None:
    print(heading, file=ctx.err)
    for p in problems:
        print(f"  {p}", file=ctx.err)


def _read_opml(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_BYTES + 1)


def cmd_feeds_import(ctx: Context) -> int:
    """Append the OPML file's new feeds to feeds.toml, keeping everything already there."""
    source = Path(ctx.args.file)
    target = (ctx.config_dir / FEEDS_FILE).resolve()
    try:
        document = parse_opml(_read_opml(source))
    except OSError as exc:
        print(f"pledgewatch: cannot read {source}: {exc.strerror or exc}", file=ctx.err)
        return 1
    except OpmlError as exc:
        print(f"pledgewatch: {source}: {exc}", file=ctx.err)
        return 1
    existing, original = FeedCatalog(), ""
    if target.exists():
        try:
            config, problems = check_config(ctx.config_dir)  # its feeds include any generated ones: their ids are taken
        except LOADER_CRASHES as exc:
            print(f"pledgewatch: cannot check {target} ({type(exc).__name__}: {exc}); run `pledgewatch check`",
                  file=ctx.err)
            return 1
        problems = [p for p in problems if Path(p.file).resolve() == target]
        if problems:
            _print_problems(ctx, f"{target} has problems; fix them (see `pledgewatch check`) before importing:", problems)
            return 1
        existing, original = config.feeds, target.read_bytes().decode("utf-8")
    plan = plan_import(document, existing.feeds, existing.settings.interval)
    for s in plan.skipped:
        print(f"skipped {s.url} ({clean(s.title) or 'untitled'}): {s.reason}", file=ctx.out)
    if not plan.added:
        print(f"Nothing to add from {source} ({len(plan.skipped)} skipped); {target} is unchanged.", file=ctx.out)
        return 0
    text = appended(original, feed_tables(plan, source.name, document.title, ctx.clock.now()))
    try:
        problems = write_atomically(target, text.encode("utf-8"), _checker(target))
    except OSError as exc:
        print(f"pledgewatch: cannot write {target}: {exc.strerror or exc}", file=ctx.err)
        return 1
    if problems:
        _print_problems(ctx, f"refusing to write {target}: the result would be invalid:", problems)
        return 1
    for feed in plan.added:
        state = "" if feed.enabled else " (disabled)"
        print(f"added {feed.id}: {feed.url} ({feed.name}){state}", file=ctx.out)
    print(f"Imported {len(plan.added)} feed(s) from {source} into {target}; {len(plan.skipped)} skipped.",
          file=ctx.out)
    return 0


def cmd_feeds_export(ctx: Context) -> int:
    """Write the configured feeds as OPML 2.0, to a file or stdout."""
    path = ctx.config_dir / FEEDS_FILE
    problems: list[Problem] = []
    catalog = load_feed_catalog(path, problems)
    if problems:
        _print_problems(ctx, f"{path} has problems; fix them (see `pledgewatch check`):", problems)
        return 1
    try:
        emit(ctx, write_opml(catalog.feeds, ctx.clock.now()), ctx.args.output)
    except OSError as exc:
        print(f"pledgewatch: cannot write {ctx.args.output or 'to stdout'}: {exc.strerror or exc}", file=ctx.err)
        return 1
    if ctx.args.output:
        print(f"wrote {len(catalog.feeds)} feed(s) to {ctx.args.output}", file=ctx.err)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add ``feeds import`` and ``feeds export`` to the CLI's subcommands."""
    p = sub.add_parser("feeds", parents=[common], help="import or export feeds as OPML",
                       description="Exchange feeds.toml's feeds with feed readers as OPML 2.0.")
    actions = p.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    i = actions.add_parser("import", parents=[common], help="add an OPML file's feeds to feeds.toml",
                           description="Append the OPML file's http(s) feeds to feeds.toml under a comment naming "
                                       "the file, keeping its comments and layout. Feeds whose URL is already "
                                       "configured are skipped and listed; ids are made from titles. The result "
                                       "is validated before it replaces feeds.toml, and refused if invalid.")
    i.add_argument("file", metavar="FILE.opml", help="the OPML file (DTDs and entities are refused)")
    i.set_defaults(func=cmd_feeds_import)
    e = actions.add_parser("export", parents=[common], help="write the configured feeds as OPML 2.0",
                           description="Write feeds.toml's feeds as OPML 2.0 (title, xmlUrl, language; disabled "
                                       "feeds in the /pledgewatch/disabled category; pledgewatch settings in the "
                                       "pw: namespace so they import back unchanged).")
    e.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    e.set_defaults(func=cmd_feeds_export)
