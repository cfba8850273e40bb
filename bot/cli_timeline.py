"""`pledgewatch timeline [--agreement ID] -o FILE.png`: the /timeline chart written to PNG files.

Statuses and headlines come from the state database when it exists (the same ones the bot shows); the
default database is never created here: without it the chart uses the TOML statuses and shows no news. An
agreement with more rows than fit one image is written as FILE.png, FILE-2.png, ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.app import DB_FILE
from bot.cli_context import Context
from bot.commands_timeline import load_timeline
from bot.store import Store
from bot.timeline import find_agreement, paginate, unknown_agreement
from bot.timeline_chart import render_page


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add the `timeline` subcommand; `common` carries --config-dir like every other command."""
    p = sub.add_parser("timeline", parents=[common], help="draw the deadlines-and-news chart as PNG",
                       description="Draw one row per commitment: deadlines (a marker, or a span for a month or "
                                   "quarter), revised deadlines next to their originals, colour by status, a "
                                   "today line and a dot per matched headline. Writes FILE.png, plus FILE-2.png "
                                   "... when the rows need more than one image.")
    p.add_argument("--agreement", metavar="ID", help="only this agreement's commitments (default: all)")
    p.add_argument("-o", "--output", metavar="FILE.png", required=True, type=Path, help="where to write the PNG")
    p.add_argument("--db", metavar="FILE", help="state database for statuses and headlines "
                                                "(default: $PLEDGEWATCH_DB or DIR/pledgewatch.sqlite3)")
    p.set_defaults(func=cmd_timeline)


def page_path(output: Path, number: int) -> Path:
    """Page 1 is the file asked for; later pages get "-2", "-3" before the suffix."""
    return output if number == 1 else output.with_name(f"{output.stem}-{number}{output.suffix or '.png'}")


def cmd_timeline(ctx: Context) -> int:
    """Write the chart for one agreement (or every commitment) and say which files hold it."""
    if (config := ctx.load()) is None:
        return 1
    catalog = config.catalog
    agreement = None
    if ctx.args.agreement:
        agreement = find_agreement(catalog, ctx.args.agreement)
        if agreement is None:
            print(unknown_agreement(ctx.args.agreement, catalog), file=ctx.err)
            return 1
    db = Path(ctx.args.db or ctx.env.get("PLEDGEWATCH_DB") or ctx.config_dir / DB_FILE)
    if ctx.args.db and not db.exists():
        print(f"no database at {db} (--db): check the path, or leave --db out to chart the TOML alone", file=ctx.err)
        return 1
    now = ctx.clock.now()
    if db.exists():
        store = Store.open(db)
        try:
            timeline = load_timeline(store, catalog, agreement, now)
        finally:
            store.close()
    else:
        print(f"no database at {db}: statuses from commitments.toml, no headlines", file=ctx.err)
        timeline = load_timeline(None, catalog, agreement, now)
    pages = paginate(timeline)
    for page in pages:
        png, layout = render_page(page)
        path = page_path(ctx.args.output, page.number)
        try:
            path.write_bytes(png)
        except OSError as exc:
            print(f"cannot write {path}: {exc.strerror or exc}", file=ctx.err)
            return 1
        rows = f"rows {page.first}-{page.last} of {len(timeline.rows)}" if page.count > 1 else f"{len(page.rows)} rows"
        print(f"wrote {path} ({layout.width}x{layout.height} px, {rows})", file=ctx.out)
    return 0
