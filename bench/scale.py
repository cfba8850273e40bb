"""Benchmark: the bot with a big state database: 10,000 feeds, 1,000 commitments, 1,000,000 seen entries.

    python bench/scale.py            # builds the database once (a few minutes), then about a minute per run
    python bench/scale.py --quick    # 10,000 feeds, 100,000 entries, 100 due feeds (under a minute once cached)

The database is built through the real schema (``Store.open`` migrates it) with realistic rows inserted by
``executemany`` in big transactions: feed state for every feed, 100 seen entries per feed (bench/feedgen.py's
real entries for the feeds that will be polled, synthetic ones of the same shape for the rest), a story per
entry (wire copies share one), matches for ~3% of entries spread over the commitments, one commitment with
5,000, status history, curation verdicts, subscriptions and the outbox rows the matches produced. It is built
in a child process (so its memory never counts) and cached under the temp dir, keyed by the parameters and
the schema; each run works on a fresh copy of the cached file. Then, with the bot's real code:

* due feeds: ``Store.due_feed_ids`` and what the poll tick runs, ``Store.feed_states`` + ``poller.due_feeds``,
  over 10,000 feed states (median of repeated runs);
* /status: ``bot.command_replies.status_reply`` for the commitment with 5,000 matches (the whole reply,
  minus Telegram; median of repeated runs, and the first run);
* a poll cycle: ``open_core`` + ``build_service`` (console transport) and the service's real poll tick,
  ``poll_and_announce``, with 500 of the feeds due (each served with 5 new entries on a local FeedServer in
  its own process), while the peak RSS of the bot process and its parser workers is sampled;
* the database file's size.

Last line: ``result: peak_rss_mb=... db_mb=... due_query_ms=... status_ms=...`` (targets: peak RSS <= 200 MB,
due-feed query <= 50 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import io
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ (common, feedgen); common adds the repo root

import common  # noqa: E402
import feedgen  # noqa: E402
from bot import schema  # noqa: E402
from bot.app import Runtime, build_service, open_core  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.command_replies import status_reply  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.poller import due_feeds  # noqa: E402
from bot.store import Store, to_db  # noqa: E402
from bot.telegram_transport import ConsoleTransport  # noqa: E402
from bot.text import normalize_link, normalize_title  # noqa: E402

TARGET_RSS_MB, TARGET_DUE_MS = 200.0, 50.0
FULL = {"feeds": 10_000, "commitments": 1_000, "per_feed": 100, "due": 500, "busy": 5_000}
QUICK = {"feeds": 10_000, "commitments": 1_000, "per_feed": 10, "due": 100, "busy": 5_000}
NOW = feedgen.NOW
SEED = 20261123
BUSY = "c0000"  # the commitment with thousands of matches
CHANNEL = "-1001234567890"
TOPICS = ["budget", "wheat", "petrol", "smog", "tariff", "election", "cabinet", "refugees", "border", "railway",
          "customs", "transit", "electricity", "polio", "metro", "census", "cotton", "flour", "housing", "solar",
          "privatisation", "deficit", "inflation", "court", "assembly", "senate", "trade", "visa", "security"]
PLACES = ["Pakistan", "Afghanistan", "Kabul", "Islamabad", "Karachi", "Lahore", "Peshawar", "Quetta", "Torkham"]
AFGHAN = ["Afghanistan", "Kabul", "Torkham", "Afghan", "Taliban", "Chaman"]  # never in feedgen's filler: selective


# --- building the database (in a child process) ------------------------------------------------------

def schema_key() -> str:
    """The schema's identity, so a cached database is rebuilt when a migration is added."""
    return hashlib.sha256("".join(schema.MIGRATIONS).encode()).hexdigest()[:10]


def build(path: Path, size: dict[str, int]) -> None:
    """Create the database at ``path`` through the real schema and fill it (runs in a spawned process)."""
    rng = random.Random(SEED)
    store = Store.open(path)
    conn = store.conn
    conn.execute("PRAGMA synchronous = OFF")  # building a fixture: durability is not the point
    corpus = feedgen.Corpus(size["due"], feedgen.DEFAULT_SEED)  # the feeds that will be polled: real entries
    sentences = [" ".join(feedgen._sentence(rng) for _ in range(rng.randint(2, 5))) for _ in range(2000)]
    sentences = [html.unescape(s) for s in sentences]
    headlines = [html.unescape(feedgen._headline(rng)) for _ in range(5000)]
    n_feeds, per_feed = size["feeds"], size["per_feed"]

    def states() -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = []
        for i in range(n_feeds):
            due = i < size["due"]
            next_poll = NOW - timedelta(minutes=rng.uniform(0, 20)) if due else NOW + timedelta(minutes=rng.uniform(1, 33))
            rows.append((f"feed-{i:05d}", f"http://127.0.0.1/feeds/{i:04d}.xml", None, f'"{rng.getrandbits(64):x}"',
                         "Mon, 23 Nov 2026 11:00:00 GMT", f"{rng.getrandbits(128):032x}", to_db(NOW - timedelta(days=60)),
                         to_db(NOW - timedelta(minutes=31)), to_db(NOW - timedelta(minutes=31)), 0, None,
                         to_db(next_poll), None, None, 0, None))
        return rows

    conn.execute("BEGIN")
    conn.executemany("INSERT INTO feed_state (feed_id, config_url, redirect_url, etag, last_modified, body_hash, "
                     "first_polled, last_attempt, last_success, failures, failing_since, next_poll, hold, last_error, "
                     "reported, disabled) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", states())
    conn.execute("COMMIT")

    entry_id = 0
    wire: list[tuple[str, int]] = []  # (title, story id) of shared wire stories
    match_rows: list[tuple[object, ...]] = []
    weights = [1.0 / (k + 1) for k in range(size["commitments"])]  # a few commitments get most of the news
    ids = [f"c{k:04d}" for k in range(size["commitments"])]
    busy_left = size["busy"]
    for first in range(0, n_feeds, 500):
        entry_rows: list[tuple[object, ...]] = []
        story_rows: list[tuple[object, ...]] = []
        for i in range(first, min(n_feeds, first + 500)):
            feed_id = f"feed-{i:05d}"
            host = f"www.news{i}.com.pk"
            real = corpus.feeds[i].entries if i < size["due"] else []
            for j in range(per_feed):
                entry_id += 1
                published = NOW - timedelta(minutes=30 * (j + 1) + rng.uniform(0, 30))
                if j < len(real):  # exactly what the poller will find in the served feed (so it is "seen")
                    e = real[j]
                    title = html.unescape(e.title)
                    key, link = f"guid:{e.guid}", e.link
                    published = e.published
                else:
                    title = rng.choice(headlines)
                    link = f"https://{host}/{published:%Y/%m/%d}/story-{i}-{j}/"
                    key = f"guid:https://{host}/?p={100_000 + j}"
                summary = rng.choice(sentences)[: rng.choice([200, 300, 600, 1200, 2000])]
                story = entry_id
                if rng.random() < 0.04 and wire:  # wire copy: another feed's story
                    title, story = rng.choice(wire)
                else:
                    story_rows.append((story, normalize_link(link), normalize_title(title), title, link, feed_id,
                                       to_db(published), to_db(published)))
                    if rng.random() < 0.01:
                        wire.append((title, story))
                categories = "\n".join(rng.sample(TOPICS, rng.randint(1, 3)))
                entry_rows.append((entry_id, feed_id, key, normalize_link(link), normalize_title(title), title,
                                   summary, link, categories, to_db(published), 1, to_db(published), to_db(NOW), story))
                if busy_left and rng.random() < size["busy"] / (n_feeds * per_feed) * 1.05:
                    busy_left -= 1
                    match_rows.append((story, BUSY, entry_id, json.dumps([rng.choice(PLACES), rng.choice(TOPICS)]),
                                       to_db(published), 0, 1))
                elif rng.random() < 0.03:
                    cid = rng.choices(ids, weights)[0]
                    if cid != BUSY:
                        match_rows.append((story, cid, entry_id, json.dumps([rng.choice(PLACES)]), to_db(published), 0, 1))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO stories (id, link_key, title_key, title, link, feed_id, published, first_seen) "
                         "VALUES (?,?,?,?,?,?,?,?)", story_rows)
        conn.executemany("INSERT INTO entries (id, feed_id, key, link_key, title_key, title, summary, link, categories, "
                         "published, dated, first_seen, last_seen, story_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         entry_rows)
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.executemany("INSERT OR IGNORE INTO matches (story_id, commitment_id, entry_id, terms, matched_at, backfill, "
                     "announced) VALUES (?,?,?,?,?,?,?)", match_rows)
    announced = conn.execute("SELECT id, commitment_id, matched_at FROM matches").fetchall()
    conn.executemany("INSERT OR IGNORE INTO outbox (chat_id, kind, ref, html, text, created, state, attempts, message_id, "
                     "sent_at) VALUES (?,?,?,?,?,?,'sent',1,?,?)",
                     [(CHANNEL, "headline", f"match:{mid}", f"<b>📰 {cid}</b> headline", f"📰 {cid} headline", at, mid, at)
                      for mid, cid, at in announced])
    conn.executemany("INSERT INTO status_history (commitment_id, status, source, at) VALUES (?,?,?,?)",
                     [(cid, "pending", "commitments.toml", to_db(NOW - timedelta(days=90))) for cid in ids])
    conn.executemany("INSERT INTO status_history (commitment_id, status, source, actor, actor_id, at, evidence_url, note) "
                     "VALUES (?,?,?,?,?,?,?,?)",
                     [(BUSY, status, "telegram", "@ann", 1001, to_db(NOW - timedelta(days=80 - 8 * k)),
                       f"https://example.org/evidence/{k}", "reviewed at the monthly meeting")
                      for k, status in enumerate(["in_progress", "stalled", "in_progress", "partial", "in_progress"] * 2)])
    busy_stories = [r[0] for r in conn.execute("SELECT story_id FROM matches WHERE commitment_id = ? LIMIT 40", (BUSY,))]
    conn.executemany("INSERT OR IGNORE INTO curation (story_id, commitment_id, verdict, actor_id, at) VALUES (?,?,?,?,?)",
                     [(s, BUSY, "evidence" if k % 2 else "dismissed", 1001, to_db(NOW - timedelta(days=k)))
                      for k, s in enumerate(busy_stories)])
    conn.executemany("INSERT OR IGNORE INTO subscriptions (chat_id, commitment_id, created) VALUES (?,?,?)",
                     [(str(10_000 + k), rng.choice(ids[:50]), to_db(NOW)) for k in range(20)])
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    store.close()


def database(size: dict[str, int]) -> tuple[Path, bool, float]:
    """The cached database for these parameters (built now if missing): path, whether cached, build seconds."""
    folder = common.cache_dir("scale", schema=schema_key(), seed=SEED, **size)
    path, done = folder / "state.sqlite3", folder / "complete"
    if done.exists():
        return path, True, 0.0
    for stale in folder.glob("state.sqlite3*"):
        stale.unlink()
    started = time.perf_counter()
    process = multiprocessing.get_context("spawn").Process(target=build, args=(path, size), name="build-db")
    process.start()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"building the database failed (exit code {process.exitcode})")
    done.write_text("ok")
    return path, False, time.perf_counter() - started


# --- configuration ------------------------------------------------------------------------------------

def commitments_toml(n: int) -> str:
    """1,000 commitments in 20 agreements, with deadlines, tags and 2-3 keyword queries each."""
    rng = random.Random(SEED)
    parts = ['timezone = "Asia/Karachi"', ""]
    for a in range(20):
        parts += ["[[agreement]]", f'id = "agreement-{a:02d}"', f'title = "Bench agreement {a}"',
                  f"signed = 2025-0{1 + a % 9}-1{a % 9}", ""]
    for k in range(n):
        place, other, topic = rng.choice(PLACES), rng.choice(AFGHAN), rng.choice(TOPICS)
        queries = [f'({place} OR Islamabad) AND {other} AND ({topic} OR "{rng.choice(TOPICS)} {rng.choice(TOPICS)}")',
                   f'{topic}* AND {rng.choice(AFGHAN)} AND {rng.choice(TOPICS)} NOT cricket',
                   f'NEAR({other} {topic}, 8)'][: rng.randint(2, 3)]
        deadline = f"deadline = 2026-{1 + k % 12:02d}-{1 + k % 28:02d}" if k % 3 else 'deadline = "2027-Q1"'
        parts += ["[[commitment]]", f'id = "c{k:04d}"', f'agreement = "agreement-{k % 20:02d}"',
                  f'title = "Commitment {k}: {topic} cooperation between {place} and {other}"',
                  'responsible = ["Pakistan", "Afghanistan"]', deadline,
                  f'quote = "Both sides agreed to work on {topic}."', 'source = "https://example.org/source"',
                  "keywords = [" + ", ".join(json.dumps(q) for q in queries) + "]",
                  f'tags = ["{topic}", "{rng.choice(TOPICS)}"]', ""]
    return "\n".join(parts)


def feeds_toml(n: int, url: str) -> str:
    """Every feed at the local server (only the due ones are ever fetched)."""
    lines = ['interval = "30m"', 'backfill = "2d"', 'timeout = "30s"', "allow_private_hosts = true", ""]
    for i in range(n):
        lines += ["[[feed]]", f'id = "feed-{i:05d}"', f'url = "{url}/feeds/{i:04d}.xml"', f'name = "Feed {i}"', ""]
    return "\n".join(lines)


# --- measuring -------------------------------------------------------------------------------------------

def timings(fn: object, repeat: int) -> tuple[float, float]:
    """(first run, median of the rest) in milliseconds."""
    values = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        values.append(1000 * (time.perf_counter() - t0))
    return values[0], statistics.median(values[1:] or values)


async def poll_cycle(workdir: Path, db: Path, size: dict[str, int], exclude: set[int],
                     profile: bool = False) -> dict[str, object]:
    """The real poll tick over the due feeds, with the bot process and its parser workers sampled for RSS."""
    config = load_config(workdir)
    runtime = Runtime(config_dir=workdir, db_path=db, allow_private_hosts=True)
    clock = FakeClock(NOW)
    out: dict[str, object] = {}
    async with open_core(config, runtime, clock) as core:
        service = await build_service(core, config, runtime, clock, ConsoleTransport(io.StringIO()))
        out["rss_before"] = common.rss_mb()
        common.reset_peak_rss()
        spy = common.PySpy("scale") if profile else None
        with common.TreeSampler(exclude=exclude, interval=0.02) as sampler, common.LoadWatch("poll cycle") as load:
            t0 = time.perf_counter()
            announced = await service.poll_and_announce()
            out["cycle_s"] = time.perf_counter() - t0
        if spy is not None:
            spy.stop()
            spy.report(top=45)
        out["sampler"], out["load"], out["announced"] = sampler, load, announced
        out["rss_after"] = common.rss_mb()
        out["new_entries"] = core.store.query("SELECT COUNT(*) FROM entries WHERE first_seen = ?", (to_db(NOW),))[0][0]
    return out


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--profile", action="store_true", help="sample the bot process with py-spy during the "
                            "poll cycle (py-spy costs CPU: don't quote figures from a profiled run)")

    args = common.parse_args(__doc__.splitlines()[0], "100,000 entries and 100 due feeds, under a minute once cached",
                             extra)
    size = QUICK if args.quick else FULL
    total = size["feeds"] * size["per_feed"]
    print(f"pledgewatch scale benchmark: {size['feeds']:,} feeds, {size['commitments']:,} commitments, {total:,} seen "
          f"entries, {size['due']} due feeds; {common.machine_line()}")
    cached_db, cached, build_s = database(size)
    print(f"database: {'cached' if cached else f'built in {build_s:.0f} s and cached'} at {cached_db} "
          f"(delete the folder to rebuild)")
    workdir = Path(tempfile.mkdtemp(prefix="pledgewatch-scale-"))
    try:
        db = workdir / "state.sqlite3"
        shutil.copy(cached_db, db)  # each run starts from the same state
        (workdir / "commitments.toml").write_text(commitments_toml(size["commitments"]), encoding="utf-8")
        with common.CorpusServer(size["due"], feedgen.DEFAULT_SEED, bump=5) as server:
            (workdir / "feeds.toml").write_text(feeds_toml(size["feeds"], f"http://127.0.0.1:{server.port}"),
                                                encoding="utf-8")
            config = load_config(workdir)
            store = Store.open(db)
            try:
                counts = {t: store.query(f"SELECT COUNT(*) FROM {t}")[0][0]
                          for t in ("feed_state", "entries", "stories", "matches", "outbox")}
                busy = store.query("SELECT COUNT(*) FROM matches WHERE commitment_id = ?", (BUSY,))[0][0]
                print("rows: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + f"; {busy:,} matches for {BUSY}")
                ids_first, ids_ms = timings(lambda: store.due_feed_ids(NOW), 21)
                due_ids = store.due_feed_ids(NOW)
                tick_first, tick_ms = timings(lambda: due_feeds(config, store.feed_states(), NOW), 11)
                due = due_feeds(config, store.feed_states(), NOW)
                status_first, status_ms = timings(lambda: status_reply(store, config, BUSY, NOW), 11)
                reply = status_reply(store, config, BUSY, NOW)
            finally:
                store.close()
            cycle = asyncio.run(poll_cycle(workdir, db, size, {server.process.pid or 0}, args.profile))
        db_mb = sum(p.stat().st_size for p in workdir.glob("state.sqlite3*")) / 1e6
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    sampler: common.TreeSampler = cycle["sampler"]  # type: ignore[assignment]
    load: common.LoadWatch = cycle["load"]  # type: ignore[assignment]
    print(f"poll tick: {cycle['cycle_s']:.1f} s for {len(due)} due feeds, {cycle['new_entries']} new entries, "
          f"{cycle['announced']} messages queued")
    print(load.note())
    print(f"/status {BUSY}: {len(reply.rich.html())} characters of HTML")
    print(f"bot process RSS: {cycle['rss_before']:.0f} MB before the tick, {cycle['rss_after']:.0f} MB after")
    print("peak RSS by process (VmHWM, MB): " + ", ".join(f"{name} {kb / 1024:.0f}" for name, kb in sampler.by_name()))
    print()
    common.print_table(["measure", "first", "median", "target", "note"], [
        ["Store.due_feed_ids (ms)", ids_first, ids_ms, "", f"{len(due_ids)} due of {size['feeds']:,} states"],
        ["feed_states + due_feeds (ms)", tick_first, tick_ms, f"<= {TARGET_DUE_MS:.0f}", "what the poll tick runs"],
        [f"/status {BUSY} (ms)", status_first, status_ms, "", f"{busy:,} matches"],
        ["peak RSS, sum of VmHWM (MB)", "", sampler.peak_hwm_mb, f"<= {TARGET_RSS_MB:.0f}",
         f"bot + forkserver + workers ({sampler.peak_processes} processes)"],
        ["peak RSS, sampled sum (MB)", "", sampler.peak_sum_mb, "", "largest sum seen at once (20 ms samples)"],
        ["database (MB)", "", db_mb, "", "after the cycle, with -wal"],
    ])
    due_ms = max(ids_ms, tick_ms)
    peak = sampler.peak_hwm_mb
    print()
    print(f"target peak RSS <= {TARGET_RSS_MB:.0f} MB: {peak:.0f} MB  {'PASS' if peak <= TARGET_RSS_MB else 'MISS'}")
    print(f"target due-feed decision <= {TARGET_DUE_MS:.0f} ms: {due_ms:.1f} ms  {'PASS' if due_ms <= TARGET_DUE_MS else 'MISS'}")
    print(common.result_line({"peak_rss_mb": peak, "db_mb": db_mb, "due_query_ms": due_ms, "status_ms": status_ms}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
