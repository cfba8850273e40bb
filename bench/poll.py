"""Benchmark one poll of many feeds: our Poller against the naive feedparser loop and the parse floor.

    python bench/poll.py                # 1,000 feeds (about 2 minutes on an idle 2-core machine)
    python bench/poll.py --quick        # 150 feeds (under a minute)
    python bench/poll.py --feeds 400 --profile warm    # py-spy on the client during the warm cycle

Everything runs on loopback. A FeedServer (tests/support/feedserver.py, stdlib ThreadingHTTPServer with
conditional GET and gzip) serves the deterministic corpus of bench/feedgen.py from a separate process
(common.CorpusServer), so it never competes with the client for the GIL (it still shares the machine's
cores); its handler gets TCP_NODELAY there (--nagle leaves the stock behaviour). Phases:

1. ours, cold: fresh SQLite state, every feed polled once by the real Poller (HttpFetcher with the SSRF
   guard's production path, ParserPool with one worker per core, Store). The workers are started before
   the clock starts, as in a running bot.
2. ours, warm: 30% of the feeds get 5 new entries each, the rest are unchanged; poll again. The poller
   hands each changed feed's item index to the workers, which parse only the items it does not hold.
3. naive, cold and warm: the same two cycles as ``for url in urls: feedparser.parse(url)`` in a fresh
   interpreter that imports nothing but feedparser (its own fetching, default options, no conditional GET).
4. the parse floor: CPU seconds (time.process_time, one process) that ``bot.parse.parse_feed`` needs for
   the bodies that changed in the warm cycle (and, for reference, all the cold bodies), divided by the
   number of cores; and, as "items warm", what ``bot.parse.parse_items`` needs for those changed bodies
   when it skips the items their cold versions had, as the workers now do.

Alongside the wall times it reports CPU seconds per party (client process, parser workers, feed server,
anyone else on the machine), the client's CPU by thread and by poller step, and peak RSS. The machine is
shared: before each timed phase it waits for other processes to go quiet, and flags a phase that someone
else disturbed.

The last line printed is machine-readable:
    result: cold_s=... warm_s=... cold_vs_naive=... warm_vs_naive=... warm_vs_floor=... peak_rss_mb=...
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ (common, feedgen); common adds the repo root

# Nothing here needs preloading for the parser workers: bot.parser_pool starts them lean (they never import
# this file) and unpickling their first task imports bot.parse and feedparser. The spawned feed server does
# import this file (as __mp_main__), so these imports are in its RSS too.
import common  # noqa: E402
import feedgen  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.fetch import FetchPolicy, HttpFetcher  # noqa: E402
from bot.parse import parse_feed, parse_items  # noqa: E402
from bot.parser_pool import ParserPool  # noqa: E402
from bot.poller import Poller, PollSummary  # noqa: E402
from bot.store import Store  # noqa: E402

CORES = common.CORES
DEFAULT_FEEDS, QUICK_FEEDS = 1000, 150
CHANGED_SHARE, NEW_ENTRIES = 0.30, 5
TARGET_WARM_VS_NAIVE, TARGET_COLD_VS_NAIVE, TARGET_WARM_VS_FLOOR = 10.0, 4.0, 1.5
QUIET_SHARE = 0.10  # before each timed phase, wait until others use less than this share of one core...
QUIET_LIMIT = {"full": 120.0, "quick": 5.0}  # ...but no longer than this (seconds)
POLLER_THREADS = "pledgewatch-poller"  # bot/poller.py: its ThreadPoolExecutor's thread_name_prefix


# --- measuring ------------------------------------------------------------------------------------

def thread_role(thread: threading.Thread) -> str:
    """What a thread of the client process does, for its CPU by thread (common.TreeSampler labels its own)."""
    if thread is threading.main_thread():
        return "event loop"
    if thread.name.startswith(POLLER_THREADS):  # feed_state, feed_items, unseen, match, ingest, save_feed_state
        return "poller threads"
    if "ExecutorManagerThread" in type(thread).__name__ or thread.name == "QueueFeederThread":
        return "parser-pool plumbing"
    return "other threads"  # asyncio's default executor (ParserPool.close, getaddrinfo) and anything else


class Stages:
    """CPU seconds (thread_time) spent in the synchronous steps the poller runs in its own threads.

    The poller calls ``unseen``/``ingest`` through its module globals and the store and matcher through
    the objects we hand it, so wrapping those in this process times them without changing any code;
    a wrapper costs about a microsecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            t = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - t
                with self._lock:
                    self.cpu[name] = self.cpu.get(name, 0.0) + spent
                    self.calls[name] = self.calls.get(name, 0) + 1
        return timed

    def snapshot(self) -> dict[str, tuple[int, float]]:
        with self._lock:
            return {k: (self.calls[k], self.cpu[k]) for k in self.cpu}

    @staticmethod
    def delta(after: dict, before: dict) -> dict[str, tuple[int, float]]:
        return {k: (n - before.get(k, (0, 0.0))[0], c - before.get(k, (0, 0.0))[1]) for k, (n, c) in after.items()}


def instrument(poller: Poller, store: Store, stages: Stages) -> None:
    import bot.poller as poller_module
    store.feed_state = stages.wrap("store.feed_state", store.feed_state)
    store.feed_items = stages.wrap("store.feed_items (item index)", store.feed_items)
    save = store.save_feed_state
    timed_save = stages.wrap("store.save_feed_state (304, unchanged, failed)", save)
    # ingest calls it too, with its transaction: that time is already inside ingest, so only time direct calls
    store.save_feed_state = lambda state, conn=None: save(state, conn) if conn is not None else timed_save(state)
    poller._match = stages.wrap("match (Matcher + feed filter)", poller._match)
    poller_module.unseen = stages.wrap("history.unseen", poller_module.unseen)
    poller_module.ingest = stages.wrap("history.ingest (entries, stories, state)", poller_module.ingest)


@dataclass
class Cycle:
    name: str
    wall: float
    main_cpu: float = 0.0
    worker_cpu: float = 0.0
    server_cpu: float = 0.0
    requests: int = 0
    machine: float = 0.0  # CPU seconds used by every process on the machine during the cycle
    detail: str = ""
    extra: dict = field(default_factory=dict)


def describe(summary: PollSummary) -> str:
    counts = [f"{summary.count(r)} {r}" for r in ("ok", "not modified", "unchanged", "failed", "skipped", "disabled")
              if summary.count(r)]
    return f"{', '.join(counts)}; {summary.new_entries} new entries, {len(summary.matches)} new matches"


async def our_cycles(args, server: common.CorpusServer, workdir: Path, changed: list[int],
                     watcher: common.TreeSampler) -> tuple[Cycle, Cycle, dict]:
    config = load_config(workdir)
    feeds = [f for f in config.feeds.feeds if f.enabled]
    store = Store.open(workdir / "state.sqlite3")
    clock = FakeClock(feedgen.NOW)
    policy = FetchPolicy(allowed_networks=("127.0.0.1",))
    info: dict = {}
    cycles = []
    try:
        async with HttpFetcher(policy, clock=clock) as fetcher:
            parser = ParserPool(args.workers)
            try:
                # Start the workers outside the timed cycles: a running bot has them already (and each lean
                # worker imports bot.parse and feedparser with its first task).
                started = time.perf_counter()
                tiny = feedgen.Corpus(1, seed=1).body(0)
                await asyncio.gather(*(parser.parse(tiny, {"content-type": "application/rss+xml"}, "http://x/")
                                       for _ in range(max(1, args.workers))))
                info["pool_start_s"] = time.perf_counter() - started
                # Our peak starts here: the benchmark's own set-up (building every body once to size the corpus)
                # must not count as the bot's memory, and ru_maxrss cannot be reset, VmHWM can.
                info["rss_reset"] = common.reset_peak_rss()
                info["rss_start_mb"] = common.rss_mb()
                poller = Poller(store, fetcher, parser, clock, config, random.Random(1))
                stages = Stages()
                instrument(poller, store, stages)
                for name in ("ours cold", "ours warm"):
                    if name == "ours warm":
                        server.update(changed, NEW_ENTRIES)
                        clock.advance(timedelta(hours=1))
                    common.wait_quiet(name, args.quiet, QUIET_SHARE)
                    before_server = server.stats()
                    watcher.sample()
                    roles0 = watcher.thread_roles()
                    stages0 = stages.snapshot()
                    phase = name.split()[-1]
                    spy = common.PySpy(phase, gil_only=True, rate=100) if args.profile == phase else None
                    if spy is not None:
                        watcher.exclude.add(spy.proc.pid)  # py-spy is our child, but no parser worker
                    cpu0, wcpu0, m0 = time.process_time(), watcher.cpu_seconds(), common.machine_busy()
                    t0 = time.perf_counter()
                    summary = await poller.poll(feeds)
                    wall = time.perf_counter() - t0
                    m1 = common.machine_busy()
                    if spy is not None:
                        spy.stop()
                        info["profile"] = spy
                    watcher.sample()
                    roles1 = watcher.thread_roles()
                    cpu1, wcpu1 = time.process_time(), watcher.cpu_seconds()
                    after_server = server.stats()
                    cycles.append(Cycle(name, wall, cpu1 - cpu0, wcpu1 - wcpu0,
                                        after_server["cpu"] - before_server["cpu"], after_server["requests"],
                                        m1 - m0, describe(summary),
                                        {"roles": {r: roles1.get(r, 0.0) - roles0.get(r, 0.0) for r in roles1},
                                         "stages": Stages.delta(stages.snapshot(), stages0)}))
                    failed = [o for o in summary.outcomes if o.result == "failed"]
                    if failed:
                        print(f"  WARNING {name}: {len(failed)} feeds failed, e.g. {failed[0].feed_id}: {failed[0].reason}")
            finally:
                await asyncio.to_thread(parser.close)
        info["entries_in_db"] = store.query("SELECT COUNT(*) FROM entries")[0][0]
        info["matches_in_db"] = store.query("SELECT COUNT(*) FROM matches")[0][0]
        info["stories_in_db"] = store.query("SELECT COUNT(*) FROM stories")[0][0]
    finally:
        store.close()
    return cycles[0], cycles[1], info


NAIVE_SCRIPT = r"""
import json, sys, time
import feedparser
urls = json.load(open(sys.argv[1]))
t0 = time.perf_counter(); c0 = time.process_time()
entries = bozo = 0
for url in urls:
    d = feedparser.parse(url)
    entries += len(d.entries); bozo += bool(d.bozo)
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "entries": entries, "bozo": bozo}))
"""


def naive_cycle(name: str, urls_file: Path, server: common.CorpusServer, quiet: float) -> Cycle:
    """A fresh interpreter that imports only feedparser (not bot.parse, which patches feedparser)."""
    common.wait_quiet(name, quiet, QUIET_SHARE)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # loopback only, whatever the shell has set
    before = server.stats()
    m0, children0 = common.machine_busy(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", NAIVE_SCRIPT, str(urls_file)], env=env, check=True,
                          capture_output=True, text=True)
    m1, children1 = common.machine_busy(), resource.getrusage(resource.RUSAGE_CHILDREN)
    after = server.stats()
    got = json.loads(done.stdout.strip().splitlines()[-1])
    spent = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    other = (m1 - m0) - spent - (after["cpu"] - before["cpu"])
    if other > 0.05 * got["wall"] * CORES:
        print(f"  WARNING: other processes used {other:.1f} CPU s during {name}; the figures are disturbed")
    # The subprocess's start-up (imports) is outside its own timing, so "other" load is only judged for ours.
    return Cycle(name, got["wall"], got["cpu"], 0.0, after["cpu"] - before["cpu"], after["requests"], m1 - m0,
                 f"{got['entries']} entries parsed, {got['bozo']} bozo")


def describe_corpus(n_feeds: int, seed: int) -> tuple[list[feedgen.FeedSpec], list[int]]:
    """The feed list (without entries) and body sizes, worked out in a child process: building the corpus
    here would leave ~120 MB of freed-but-kept arenas in the client (1,000 feeds), counted as its peak RSS."""
    corpus = feedgen.Corpus(n_feeds, seed)
    sizes = []
    for spec in corpus.feeds:
        sizes.append(len(corpus.body(spec.index)))
        corpus.forget(spec.index)
    return [replace(spec, entries=[]) for spec in corpus.feeds], sizes


def parse_floor(n_feeds: int, seed: int, changed: list[int], quiet: float) -> dict:
    """CPU seconds, one process: parse_feed (our options) for all cold bodies and for the changed warm bodies,
    and parse_items for the changed warm bodies given the digests of their cold bodies' items (the item index
    the poller holds after the cold cycle), so it parses only the new items, as the workers do."""
    # process_time is per process, but a busy machine still slows caches
    common.wait_quiet("the parse floor", quiet, QUIET_SHARE)
    corpus = feedgen.Corpus(n_feeds, seed)
    todo, known = set(changed), {}

    def request(spec: feedgen.FeedSpec) -> tuple[dict[str, str], str]:
        return {"content-type": spec.content_type}, f"http://127.0.0.1/{spec.path}"

    cold = 0.0
    for spec in corpus.feeds:
        body = corpus.body(spec.index)
        t = time.process_time()
        parse_feed(body, *request(spec))
        cold += time.process_time() - t
        if spec.index in todo:  # not timed
            known[spec.index] = [digest for digest, _ in parse_items(body, *request(spec)).items or ()]
        corpus.forget(spec.index)
    warm = items_warm = 0.0
    skipped = 0
    for i in changed:
        spec = corpus.feeds[i]
        body = corpus.add_entries(i, NEW_ENTRIES)
        t = time.process_time()
        parse_feed(body, *request(spec))
        warm += time.process_time() - t
        t = time.process_time()
        skipped += len(parse_items(body, *request(spec), known[i]).skipped)
        items_warm += time.process_time() - t
        corpus.forget(i)
    return {"cold_cpu": cold, "warm_cpu": warm, "items_warm_cpu": items_warm, "items_skipped": skipped}


def server_probe(server: common.CorpusServer, paths: list[str], threads: int = 4) -> dict:
    """How fast the server alone answers: every feed fetched once (200, gzip where offered), no parsing."""
    import http.client
    import queue

    todo: queue.Queue[str] = queue.Queue()
    for p in paths:
        todo.put(p)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while True:
            try:
                p = todo.get_nowait()
            except queue.Empty:
                break
            conn.request("GET", p, headers={"Accept-Encoding": "gzip, deflate"})
            conn.getresponse().read()
        conn.close()

    before = server.stats()
    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    after = server.stats()
    return {"wall": wall, "server_cpu": after["cpu"] - before["cpu"], "requests": after["requests"]}


# --- report ---------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _options(ap) -> None:
    ap.add_argument("--feeds", type=int, default=None, help=f"number of feeds (default {DEFAULT_FEEDS})")
    ap.add_argument("--workers", type=int, default=CORES, help=f"parser processes (default: cores = {CORES})")
    ap.add_argument("--seed", type=int, default=feedgen.DEFAULT_SEED)
    ap.add_argument("--nagle", action="store_true",
                    help="leave Nagle on in the feed server, as stock FeedServer does (~40 ms per kept-alive response)")
    ap.add_argument("--skip-naive", action="store_true", help="only our cycles and the floor")
    ap.add_argument("--profile", choices=("cold", "warm"),
                    help="sample the client process with py-spy during that cycle and print where its time goes "
                         "(py-spy adds a few %% CPU: don't quote timings from a profiled run)")


def main(argv: list[str] | None = None) -> int:
    args = common.parse_args(__doc__.split("\n")[0], f"{QUICK_FEEDS} feeds, under a minute", _options, argv)
    n = args.feeds or (QUICK_FEEDS if args.quick else DEFAULT_FEEDS)
    args.quiet = QUIET_LIMIT["quick" if args.quick else "full"]
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    changed = sorted(random.Random(f"{args.seed}:changed").sample(range(n), round(n * CHANGED_SHARE)))

    print(f"pledgewatch poll benchmark: {n} feeds x {feedgen.ENTRIES_PER_FEED} entries, {len(changed)} change "
          f"({NEW_ENTRIES} new entries each) before the warm cycle; {common.machine_line()}, "
          f"{args.workers} parser workers{'; feed server with Nagle on' if args.nagle else ''}")
    t_start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # see describe_corpus
        layout_feeds, sizes = pool.apply(describe_corpus, (n, args.seed))
    print(f"corpus: {sum(sizes) / 1e6:.1f} MB, {min(sizes) / 1000:.0f}-{max(sizes) / 1000:.0f} KB per feed; "
          f"{sum(s.gzip for s in layout_feeds)} gzip, {sum(s.style == 'atom' for s in layout_feeds)} Atom, "
          f"{sum(s.language == 'ur' for s in layout_feeds)} Urdu, {sum(s.international for s in layout_feeds)} with a "
          f"feed-level filter")

    with common.CorpusServer(n, args.seed, nagle=args.nagle) as server, \
            tempfile.TemporaryDirectory(prefix="pledgewatch-bench-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        shutil.copy(common.ROOT / "commitments.toml", workdir / "commitments.toml")
        (workdir / "feeds.toml").write_text(common.feeds_toml(layout_feeds, server.url, common.INTERNATIONAL_FILTER),
                                            encoding="utf-8")
        paths = [s.path for s in layout_feeds]
        del layout_feeds
        # The parser workers and the forkserver (not the feed server): RUSAGE_CHILDREN cannot see the workers,
        # which are the forkserver's children, so their CPU and peak RSS are read from /proc every 0.25 s.
        watcher = common.TreeSampler(exclude={server.process.pid}, interval=0.25, include_self=False,
                                     thread_role=thread_role)
        with watcher:
            cold, warm, info = asyncio.run(our_cycles(args, server, workdir, changed, watcher))
        maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        hwm = common.proc_sample(os.getpid()) if info["rss_reset"] else None
        self_rss_mb = hwm[2] / 1024 if hwm else maxrss_mb
        self_rss_how = (f"VmHWM from the start of our cycles, {info['rss_start_mb']:.0f} MB then; the process's lifetime "
                        f"peak, set-up included, is {maxrss_mb:.0f} MB" if hwm else "RUSAGE_SELF ru_maxrss, set-up included")
        children_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        workers_rss_mb = watcher.peak_hwm_mb
        print(f"  pool start {info['pool_start_s']:.2f} s (not timed); db after both cycles: {info['entries_in_db']} "
              f"entries, {info['stories_in_db']} stories, {info['matches_in_db']} matches")
        if "profile" in info:
            info["profile"].report()

        probe = server_probe(server, paths)
        server.reset()
        urls_file = workdir / "urls.json"
        urls_file.write_text(json.dumps([server.url(p) for p in paths]))
        naive = []
        if not args.skip_naive:
            naive.append(naive_cycle("naive cold", urls_file, server, args.quiet))
            server.update(changed, NEW_ENTRIES)
            naive.append(naive_cycle("naive warm", urls_file, server, args.quiet))
        floor = parse_floor(n, args.seed, changed, args.quiet)
        server_rss = server.stats()["maxrss_mb"]

    cold_floor, warm_floor = floor["cold_cpu"] / CORES, floor["warm_cpu"] / CORES
    items_floor = floor["items_warm_cpu"] / CORES
    print()
    print(f"{'cycle':<12} {'wall s':>8} {'client CPU s':>13} {'workers CPU s':>14} {'server CPU s':>13} {'requests':>9}  outcome")
    for c in (cold, warm, *naive):
        print(f"{c.name:<12} {c.wall:8.2f} {c.main_cpu:13.2f} {c.worker_cpu:14.2f} {c.server_cpu:13.2f} {c.requests:9d}  {c.detail}")
    print(f"{'floor cold':<12} {cold_floor:8.2f} {floor['cold_cpu']:13.2f} {'':>14} {'':>13} {n:9d}  "
          f"parse_feed CPU for all {n} bodies / {CORES} cores")
    print(f"{'floor warm':<12} {warm_floor:8.2f} {floor['warm_cpu']:13.2f} {'':>14} {'':>13} {len(changed):9d}  "
          f"parse_feed CPU for the {len(changed)} changed bodies / {CORES} cores")
    print(f"{'items warm':<12} {items_floor:8.2f} {floor['items_warm_cpu']:13.2f} {'':>14} {'':>13} {len(changed):9d}  "
          f"parse_items CPU for the {len(changed)} changed bodies, {floor['items_skipped']} known items skipped / {CORES} cores")
    print(f"{'server only':<12} {probe['wall']:8.2f} {'':>13} {'':>14} {probe['server_cpu']:13.2f} {probe['requests']:9d}  "
          f"every feed fetched by 4 bare keep-alive threads, no parsing")
    print("items warm is what the workers do in the warm cycle (the poller passes each feed's item index, so only new "
          "items are parsed); warm_vs_floor stays against floor warm, feedparser on the whole changed bodies.")
    print()
    peak_rss_mb = self_rss_mb + workers_rss_mb
    print(f"peak RSS: main process {self_rss_mb:.0f} MB ({self_rss_how}) + parser workers and forkserver "
          f"{workers_rss_mb:.0f} MB (sum of their peaks while alive together, /proc VmHWM; {watcher.peak_processes} at "
          f"most) = {peak_rss_mb:.0f} MB. RUSAGE_CHILDREN ru_maxrss = {children_rss_mb:.0f} MB (the workers are the "
          f"forkserver's children, not ours, so it cannot see them). Feed server (not counted): {server_rss:.0f} MB.")
    for c in (cold, warm):
        ours = c.main_cpu + c.worker_cpu + c.server_cpu
        other = max(0.0, c.machine - ours)
        print(f"{c.name}: machine {100 * c.machine / (c.wall * CORES):.0f}% busy ({c.main_cpu:.1f} s client + "
              f"{c.worker_cpu:.1f} s workers + {c.server_cpu:.1f} s server + {other:.1f} s other over {c.wall:.1f} s "
              f"x {CORES} cores); server CPU is {100 * c.server_cpu / c.wall:.0f}% of one core")
        roles = ", ".join(f"{role} {cpu:.2f} s" for role, cpu in sorted(c.extra["roles"].items(), key=lambda kv: -kv[1])
                          if cpu >= 0.005)
        print(f"  client CPU by thread: {roles}")
        steps = "; ".join(f"{name} {cpu:.2f} s / {calls} calls" for name, (calls, cpu)
                          in sorted(c.extra["stages"].items(), key=lambda kv: -kv[1][1]) if calls)
        print(f"  of which in poller threads: {steps}")
        if other > 0.05 * c.wall * CORES:
            print(f"  WARNING: other processes used {other:.1f} CPU s during {c.name}; the figures are disturbed")
    print(f"elapsed {time.perf_counter() - t_start:.0f} s")
    print()

    warm_vs_floor = warm.wall / warm_floor if warm_floor else float("inf")
    result = {"cold_s": cold.wall, "warm_s": warm.wall}
    if naive:
        cold_vs_naive, warm_vs_naive = naive[0].wall / cold.wall, naive[1].wall / warm.wall
        print(f"target warm >= {TARGET_WARM_VS_NAIVE:g}x faster than naive: {warm_vs_naive:5.1f}x  {verdict(warm_vs_naive >= TARGET_WARM_VS_NAIVE)}")
        print(f"target cold >= {TARGET_COLD_VS_NAIVE:g}x faster than naive: {cold_vs_naive:5.1f}x  {verdict(cold_vs_naive >= TARGET_COLD_VS_NAIVE)}")
        # A cycle that cost nothing but parsing every body with feedparser could be at most this much faster.
        bound = naive[0].wall / cold_floor if cold_floor else float("inf")
        print(f"  cold bound with feedparser: naive cold / floor cold = {bound:.2f}x"
              + (f"; the {TARGET_COLD_VS_NAIVE:g}x cold target is above what parsing every body with feedparser "
                 f"allows on {CORES} cores" if bound < TARGET_COLD_VS_NAIVE else ""))
        result |= {"cold_vs_naive": cold_vs_naive, "warm_vs_naive": warm_vs_naive}
    print(f"target warm <= {TARGET_WARM_VS_FLOOR:g}x the parse floor:    {warm_vs_floor:5.2f}x  {verdict(warm_vs_floor <= TARGET_WARM_VS_FLOOR)}")
    result |= {"warm_vs_floor": warm_vs_floor, "peak_rss_mb": peak_rss_mb}
    print("result: " + " ".join(f"{k}={v:.{2 if k in ('cold_s', 'warm_s', 'warm_vs_floor') else 1}f}"
                                for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
