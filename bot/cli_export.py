"""`pledgewatch export --format ics|json|csv [-o FILE] [--db FILE]`: the catalog and its history, for elsewhere.

The one impure part of exporting: it reads the TOML, the state database and the clock, then hands
everything to the pure ``bot.export``. The database is only read; without one the export still works
from the TOML alone.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from bot.app import Runtime
from bot.cli_context import STATE_DB_HELP, Context
from bot.config import COMMITMENTS_FILE
from bot.curation import curated_evidence
from bot.errors import Problem
from bot.export import ExportData, MatchCounts, export_csv, export_ics, export_json
from bot.model import Catalog
from bot.statuses import history
from bot.store import Store, from_db

FORMATS: dict[str, Callable[[ExportData, datetime], str]] = {
    "ics": export_ics,
    "json": lambda data, now: json.dumps(export_json(data, now), ensure_ascii=False, indent=2) + "\n",
    "csv": export_csv,
}

MATCH_COUNTS_SQL = (
    "SELECT m.commitment_id, m.backfill, c.verdict IS NOT NULL AS dismissed, COUNT(*), MAX(e.published) "
    "FROM matches m JOIN entries e ON e.id = m.entry_id "
    "LEFT JOIN curation c ON c.story_id = m.story_id AND c.commitment_id = m.commitment_id AND c.verdict = 'irrelevant' "
    "GROUP BY m.commitment_id, m.backfill, dismissed")


def match_counts(store: Store) -> dict[str, MatchCounts]:
    """Live, backfill and dismissed matches per commitment, in one query."""
    live: Counter[str] = Counter()
    backfill: Counter[str] = Counter()
    dismissed: Counter[str] = Counter()
    latest: dict[str, str] = {}
    for commitment_id, is_backfill, is_dismissed, n, newest in store.query(MATCH_COUNTS_SQL):
        (dismissed if is_dismissed else backfill if is_backfill else live)[commitment_id] += int(n)
        if not is_dismissed and newest and newest > latest.get(commitment_id, ""):
            latest[commitment_id] = newest  # fixed-width ISO UTC text sorts as time
    return {cid: MatchCounts(live[cid], backfill[cid], dismissed[cid], from_db(latest.get(cid)))
            for cid in sorted({*live, *backfill, *dismissed})}


def gather(store: Store | None, catalog: Catalog, modified: datetime | None) -> ExportData:
    """Read what the exports need from the database (status history, curated evidence, match counts)."""
    if store is None:
        return ExportData(catalog, modified=modified)
    ids = [c.id for c in catalog.commitments]
    return ExportData(catalog, history={i: tuple(history(store, i)) for i in ids},
                      curated={i: tuple(curated_evidence(store, i)) for i in ids},
                      matches=match_counts(store), modified=modified)


def file_modified(path: Path) -> datetime | None:
    """When a file last changed, as an aware UTC datetime (None if it cannot be read)."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except OSError:
        return None


def write_atomically(path: Path, data: bytes, check: Callable[[Path], list[Problem]] | None = None) -> list[Problem]:
    """Write via a temporary file in the same folder and rename, so a reader never sees half a file.

    With ``check``, the temporary file is checked first and nothing is replaced if it reports problems.
    """
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        mode = 0o666 & ~mask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        problems = check(Path(tmp)) if check is not None else []
        if not problems:
            os.replace(tmp, path)
        return problems
    finally:
        Path(tmp).unlink(missing_ok=True)


def emit(ctx: Context, text: str, output: str | None) -> None:
    """To the file (atomically) or to stdout as UTF-8 bytes, so CRLF and non-Latin scripts pass unchanged."""
    if output:
        write_atomically(Path(output), text.encode("utf-8"))
        return
    buffer = getattr(ctx.out, "buffer", None)
    if buffer is None:
        ctx.out.write(text)
        return
    ctx.out.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def cmd_export(ctx: Context) -> int:
    """Export every commitment with its effective status, history, evidence and match counts."""
    if (config := ctx.load()) is None:
        return 1
    runtime = Runtime.from_env(ctx.env, ctx.config_dir, ctx.args.db)
    modified = file_modified(ctx.config_dir / COMMITMENTS_FILE)
    if runtime.db_path.exists():
        store = Store.open(runtime.db_path)
        try:
            data = gather(store, config.catalog, modified)
        finally:
            store.close()
    else:
        print(f"note: no state database at {runtime.db_path}; exporting commitments.toml alone "
              "(no status history, curated evidence or match counts)", file=ctx.err)
        data = gather(None, config.catalog, modified)
    text = FORMATS[ctx.args.format](data, ctx.clock.now())
    try:
        emit(ctx, text, ctx.args.output)
    except OSError as exc:
        print(f"pledgewatch: cannot write {ctx.args.output or 'to stdout'}: {exc.strerror or exc}", file=ctx.err)
        return 1
    if ctx.args.output:
        print(f"wrote {ctx.args.format} export of {len(config.catalog.commitments)} commitment(s) to "
              f"{ctx.args.output}", file=ctx.err)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """Add the ``export`` command to the CLI's subcommands."""
    p = sub.add_parser("export", parents=[common], help="export commitments as iCalendar, JSON or CSV",
                       description="Export every commitment with its effective status, status history, evidence "
                                   "and match counts: ics (an all-day event per deadline, with alarms), json or "
                                   "csv (one row per commitment, UTF-8 with BOM). Reads the state database "
                                   "without changing it; works without one, from the TOML alone.")
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="ics, json or csv")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    p.add_argument("--db", metavar="FILE", help=STATE_DB_HELP)
    p.set_defaults(func=cmd_export)
