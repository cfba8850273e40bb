"""The ``pledgewatch`` command line: the one place that reads argv, the environment and the clock."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

from telegram.error import InvalidToken, TelegramError

from bot import __version__, cli_export, cli_feeds
from bot.agenda import overdue, standing, standings, upcoming
from bot.clock import Clock, SystemClock
from bot.cli_context import ENV_CONFIG_DIR, STATE_DB_HELP, Context
from bot.cli_poll import cmd_poll
from bot.cli_run import cmd_run
from bot.cli_site import register as register_site
from bot.cli_timeline import register as register_timeline
from bot.cli_tuning import register as register_tuning
from bot.config import COMMITMENTS_FILE, FEEDS_FILE, check_config
from bot.errors import PledgewatchError
from bot.telegram_app import TokenFilter, redact
from bot.validate import did_you_mean
from bot.views import commitment_json, detail, table

log = logging.getLogger("pledgewatch")
DB_HELP = ("the bot's state database, for statuses set with /mark (default: $PLEDGEWATCH_DB or "
           "DIR/pledgewatch.sqlite3; used only if it exists)")


def setup_logging(verbose: bool, stream: TextIO, secret: str | None = None) -> None:
    """One line per event with level and component; httpx is held at WARNING because its request
    lines contain URLs, and Telegram's API URLs contain the bot token, which a handler-level filter
    also scrubs from every record of every logger."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if secret:
        handler.addFilter(TokenFilter(secret))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_check(ctx: Context) -> int:
    """Validate both TOML files and report every problem at once."""
    config, problems = check_config(ctx.config_dir)
    for p in problems:
        print(p, file=ctx.out)
    if problems:
        print(f"\n{len(problems)} problem(s) found.", file=ctx.out)
        return 1
    cat, feeds = config.catalog, config.feeds
    print(f"{ctx.config_dir / COMMITMENTS_FILE}: ok ({len(cat.agreements)} agreements, "
          f"{len(cat.commitments)} commitments, timezone {cat.settings.timezone})", file=ctx.out)
    enabled = sum(f.enabled for f in feeds.feeds)
    generated = sum(f.search is not None for f in feeds.feeds)
    print(f"{ctx.config_dir / FEEDS_FILE}: ok ({len(feeds.feeds)} feeds, {enabled} enabled"
          + (f", {generated} from [[search]]" if generated else "") + ")", file=ctx.out)
    return 0


def cmd_status(ctx: Context) -> int:
    """Show one commitment in full, or all of them as a table."""
    if (config := ctx.load()) is None:
        return 1
    cat, now = config.catalog, ctx.clock.now()
    if ctx.args.id:
        commitment = cat.by_id.get(ctx.args.id)
        if commitment is None:
            hint = did_you_mean(ctx.args.id, cat.by_id) or "; run `pledgewatch status` to list the ids"
            print(f"unknown commitment '{ctx.args.id}'{hint}", file=ctx.err)
            return 1
        item = standing(commitment, now, cat.settings.tz, ctx.status_of(config))
        if ctx.args.json:
            ctx.emit_json(commitment_json(item, now))
        else:
            print(detail(item, cat, ctx.width), file=ctx.out)
        return 0
    items = standings(cat, now, ctx.status_of(config))
    if ctx.args.json:
        ctx.emit_json([commitment_json(s, now) for s in items])
    else:
        print(table(items, ctx.width), file=ctx.out)
    return 0


def cmd_upcoming(ctx: Context) -> int:
    """List open commitments due within the next N days."""
    if (config := ctx.load()) is None:
        return 1
    now = ctx.clock.now()
    items = upcoming(config.catalog, now, ctx.args.days, ctx.status_of(config))
    if ctx.args.json:
        ctx.emit_json([commitment_json(s, now) for s in items])
    else:
        print(f"Due in the next {ctx.args.days} days:", file=ctx.out)
        print(table(items, ctx.width), file=ctx.out)
    return 0


def cmd_overdue(ctx: Context) -> int:
    """List open commitments whose deadline has passed."""
    if (config := ctx.load()) is None:
        return 1
    now = ctx.clock.now()
    items = overdue(config.catalog, now, ctx.status_of(config))
    if ctx.args.json:
        ctx.emit_json([commitment_json(s, now) for s in items])
    else:
        print("Overdue and not marked met, partial or missed:", file=ctx.out)
        print(table(items, ctx.width), file=ctx.out)
    return 0


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    """All subcommands; each has --help and takes --config-dir wherever it is placed."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config-dir", metavar="DIR", default=argparse.SUPPRESS,
                        help=f"folder with {COMMITMENTS_FILE} and {FEEDS_FILE} (default: ${ENV_CONFIG_DIR} or .)")
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")

    parser = argparse.ArgumentParser(
        prog="pledgewatch", parents=[common],
        description="Track signed commitments, their deadlines and the news that follows them.")
    parser.add_argument("--version", action="version", version=f"pledgewatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("check", parents=[common], help="validate commitments.toml and feeds.toml",
                       description="Validate both TOML files and report every problem at once (exit 1 if any).")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("status", parents=[common, json_flag], help="show one commitment, or all",
                       description="Show one commitment in full, or all commitments as a table.")
    p.add_argument("id", nargs="?", help="a commitment id (omit for all)")
    p.add_argument("--db", metavar="FILE", help=DB_HELP)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("upcoming", parents=[common, json_flag], help="commitments due soon",
                       description="List open commitments due within the next N days.")
    p.add_argument("--days", type=_non_negative, default=30, metavar="N", help="look ahead N days (default 30)")
    p.add_argument("--db", metavar="FILE", help=DB_HELP)
    p.set_defaults(func=cmd_upcoming)
    p = sub.add_parser("overdue", parents=[common, json_flag], help="commitments past their deadline",
                       description="List open commitments whose deadline has passed.")
    p.add_argument("--db", metavar="FILE", help=DB_HELP)
    p.set_defaults(func=cmd_overdue)
    p = sub.add_parser("poll", parents=[common], help="poll every enabled feed now",
                       description="Poll every enabled feed once, whatever its interval; print new matches "
                                   "and a summary. Exit 0 even when some feeds fail.")
    p.add_argument("--once", action="store_true", required=True, help="poll once and exit (required)")
    p.add_argument("--force", action="store_true",
                   help="also poll feeds that asked us to wait (Retry-After) or are backing off after failures")
    p.add_argument("--db", metavar="FILE", help=STATE_DB_HELP)
    p.set_defaults(func=cmd_poll)
    p = sub.add_parser("run", parents=[common], help="run the bot (or --once: all due work, then exit)",
                       description="Run the bot: feed polling, reminders, the digest, delivery and live reload on "
                                   "a schedule, and commands over Telegram long polling when TELEGRAM_BOT_TOKEN is "
                                   "set (console output otherwise). Stops cleanly on SIGINT/SIGTERM.")
    p.add_argument("--once", action="store_true", help="do all work that is due now, then exit (for cron)")
    p.add_argument("--force", action="store_true", help="with --once: poll feeds that are backing off too")
    p.add_argument("--db", metavar="FILE", help=STATE_DB_HELP)
    p.set_defaults(func=cmd_run)
    register_timeline(sub, common)
    register_site(sub, common)
    register_tuning(sub, common)
    cli_export.register(sub, common)
    cli_feeds.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None, *, env: Mapping[str, str] | None = None, clock: Clock | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; returns the exit status. Tests pass env, clock and streams explicitly."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "config_dir"):
        args.config_dir = None
    ctx = Context(args, os.environ if env is None else env, clock or SystemClock(),
                  out or sys.stdout, err or sys.stderr)
    token = (ctx.env.get("TELEGRAM_BOT_TOKEN") or "").strip() or None
    setup_logging(args.verbose, ctx.err, token)
    try:
        return int(args.func(ctx))
    except PledgewatchError as exc:
        print(f"pledgewatch: {exc}", file=ctx.err)
        return 1
    except InvalidToken:
        print("pledgewatch: Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped); "
              "get the bot's current token from @BotFather", file=ctx.err)
        return 1
    except TelegramError as exc:
        text = redact(str(exc), token) if token else str(exc)
        print(f"pledgewatch: Telegram did not answer as expected ({type(exc).__name__}: {text}); "
              "check TELEGRAM_API_BASE_URL and the network, then try again", file=ctx.err)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=ctx.err)
        return 130
