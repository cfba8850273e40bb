"""`pledgewatch site -o DIR`: write the public status page (DIR/index.html) from the TOML and the database.

Read-only towards the database and safe to run from cron next to a running bot: a missing database is
not created (the page then shows the TOML alone), and the page is replaced atomically so a web server
never serves half a file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bot.app import Runtime
from bot.cli_context import Context
from bot.site import render
from bot.site_data import SiteFacts, gather
from bot.store import Store

PAGE = "index.html"


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename over it, so readers see the old page or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # a public page: readable by the web server, unlike the database
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_site(ctx: Context) -> int:
    """Build the status page for now and write it to DIR/index.html."""
    if (config := ctx.load()) is None:
        return 1
    runtime = Runtime.from_env(ctx.env, ctx.config_dir, ctx.args.db)
    commitments = config.catalog.commitments
    if runtime.db_path.exists():
        store = Store.open(runtime.db_path)
        try:
            facts = gather(store, commitments)
        finally:
            store.close()
    else:
        print(f"no database at {runtime.db_path} yet: the page shows commitments.toml only", file=ctx.err)
        facts = SiteFacts()
    target = Path(ctx.args.output) / PAGE
    write_atomically(target, render(config, facts, ctx.clock.now()))
    headlines = sum(len(h) for h in facts.headlines.values())
    print(f"wrote {target} ({len(commitments)} commitments, {headlines} headlines)", file=ctx.out)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add the `site` subcommand to the main parser (called from ``bot.cli.build_parser``)."""
    p = sub.add_parser("site", parents=[common], help="write the public status page (DIR/index.html)",
                       description="Write a self-contained static HTML status page to DIR/index.html: a meter per "
                                   "agreement, every commitment with its status, deadline, evidence and latest "
                                   "headlines. Reads the database without changing it.")
    p.add_argument("-o", "--output", metavar="DIR", required=True,
                   help="folder to write index.html into (created if needed)")
    p.add_argument("--db", metavar="FILE",
                   help="state database to read (default: $PLEDGEWATCH_DB or pledgewatch.sqlite3 in the config folder)")
    p.set_defaults(func=cmd_site)
