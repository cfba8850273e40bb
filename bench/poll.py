"""Benchmark one poll of many feeds: our Poller against the naive feedparser loop and the parse floor.

    python bench/poll.py                # 1,000 feeds (about 2 minutes on an idle 2-core machine)
    python bench/poll.py --quick        # 150 feeds (under a minute)
    python bench/poll.py --feeds 400 --profile warm    # py-spy on the client during the warm cycle

Everything runs on loopback. A FeedServer (tests/support/feedserver.py, stdlib ThreadingHTTPServer with
conditional GET and gzip) serves the deterministic corpus of bench/feedgen.py from a separate process, so
it never competes with the client for the GIL (it still shares the machine's cores); its handler gets
TCP_NODELAY there (see serve_corpus; --nagle leaves the stock behaviour). Phases:

1. ours, cold: fresh SQLite state, every feed polled once by the real Poller (HttpFetcher with the SSRF
   guard's production path, ParserPool with one worker per core, Store). The workers are started before
   the clock starts, as in a running bot.
2. ours, warm: 30% of the feeds get 5 new entries each, the rest are unchanged; poll again.
3. naive, cold and warm: the same two cycles as ``for url in urls: feedparser.parse(url)`` in a fresh
   interpreter that imports nothing but feedparser (its own fetching, default options, no conditional GET).
4. the parse floor: CPU seconds (time.process_time, one process) that ``bot.parse.parse_feed`` needs for
   the bodies that changed in the warm cycle (and, for reference, all the cold bodies), divided by the
   number of cores.

Alongside the wall times it reports CPU seconds per party (client process, parser workers, feed server,
anyone else on the machine), the client's CPU by thread and by poller step, and peak RSS. The machine is
shared: before each timed phase it waits for other processes to go quiet, and flags a phase that someone
else disturbed.

The last line printed is machine-readable:
    result: cold_s=... warm_s=... cold_vs_naive=... warm_vs_naive=... warm_vs_floor=... peak_rss_mb=...
"""

from __future__ import annotations

import argparse
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
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for _p in (str(BENCH), str(ROOT)):  # feedgen is a sibling module; bot and tests.support live at the root
    if _p not in sys.path:
        sys.path.insert(0, _p)

# Imported at module level on purpose: the ParserPool's forkserver preloads __main__ (this file), so its
# workers start with bot.parse and feedparser already imported, as they do under the real entry point.
import feedgen  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.fetch import FetchPolicy, HttpFetcher  # noqa: E402
from bot.parse import parse_feed  # noqa: E402
from bot.parser_pool import ParserPool  # noqa: E402
from bot.poller import Poller, PollSummary  # noqa: E402
from bot.store import Store  # noqa: E402

CORES = os.cpu_count() or 1
DEFAULT_FEEDS, QUICK_FEEDS = 1000, 150
CHANGED_SHARE, NEW_ENTRIES = 0.30, 5
TARGET_WARM_VS_NAIVE, TARGET_COLD_VS_NAIVE, TARGET_WARM_VS_FLOOR = 10.0, 4.0, 1.5
INTERNATIONAL_FILTER = "Pakistan OR Pakistani OR Afghanistan OR Afghan OR Kabul OR Islamabad OR Taliban OR Torkham"
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# --- a shared 2-core machine: CPU accounting from /proc ----------------------------------------------

def machine_busy() -> float:
    """CPU seconds all processes on the machine have used since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


QUIET_LIMIT = [120.0]  # seconds to wait for a quiet machine before each timed phase (--quick: 5)


def wait_quiet(label: str, limit: float | None = None, share: float = 0.10) -> None:
    """Wait until the machine is idle (others < ``share`` of one core for a second): it is shared, and 2 cores
    leave no slack for someone else's test run. Gives up after ``limit`` seconds and says so."""
    limit = QUIET_LIMIT[0] if limit is None else limit
    started = time.perf_counter()
    while True:
        m0, own0 = machine_busy(), _family_cpu()
        time.sleep(1.0)
        other = (machine_busy() - m0) - (_family_cpu() - own0)
        if other < share:
            break
        if time.perf_counter() - started > limit:
            print(f"  (machine still busy before {label}: {100 * other:.0f}% of a core used by others; measuring anyway)")
            return
    if (waited := time.perf_counter() - started) > 1.5:
        print(f"  (waited {waited:.0f} s for the machine to go quiet before {label})")


def _family_cpu() -> float:
    """CPU seconds of this process and every live descendant (feed server, workers), from /proc."""
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        if (got := _proc_sample(pid)) is not None:
            total += got[0]
        todo.extend(_children(pid))
    return total


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the feed server, in its own process ----------------------------------------------------------

def serve_corpus(conn, n_feeds: int, seed: int, nagle: bool) -> None:  # runs in the server process
    """Serve the corpus with FeedServer and obey commands from the pipe until told to stop."""
    from tests.support import feedserver
    from tests.support.feedserver import FeedServer

    # The stdlib handler leaves Nagle on and writes headers and body separately, so every response on a
    # kept-alive connection waits ~40 ms for the client's delayed ACK. Real servers (nginx: tcp_nodelay on)
    # don't; httpx keeps connections alive, the naive urllib loop does not. Set here, in this process only.
    feedserver._Handler.disable_nagle_algorithm = not nagle

    def load(server: FeedServer) -> feedgen.Corpus:
        corpus = feedgen.Corpus(n_feeds, seed)
        for spec in corpus.feeds:
            server.add(spec.path, corpus.body(spec.index), content_type=spec.content_type, gzip=spec.gzip)
            corpus.forget(spec.index)  # FeedServer holds the bytes; don't keep a second copy
        return corpus

    with FeedServer() as server:
        corpus = load(server)
        conn.send(server.port)
        while True:
            command, *args = conn.recv()
            if command == "update":
                indices, count = args
                for i in indices:
                    server.update(corpus.feeds[i].path, corpus.add_entries(i, count))
                    corpus.forget(i)
                conn.send(len(indices))
            elif command == "reset":  # back to version 0 (same bytes as at start)
                corpus = load(server)
                conn.send(True)
            elif command == "stats":
                requests = len(server.requests())
                server.reset_stats()
                conn.send({"cpu": _cpu_self(), "requests": requests,
                           "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            elif command == "stop":
                conn.send(True)
                return


class ServerProcess:
    """The FeedServer in a spawned child process, driven over a pipe."""

    def __init__(self, n_feeds: int, seed: int, nagle: bool = False) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve_corpus, args=(child, n_feeds, seed, nagle), name="feedserver", daemon=True)
        self.process.start()
        self.port: int = self._conn.recv()

    def call(self, *command):
        self._conn.send(command)
        return self._conn.recv()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.is_alive():
            self.call("stop")
        self.process.join(10)


# --- watching our own worker processes ------------------------------------------------------------

def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _proc_sample(pid: int) -> tuple[float, int, int] | None:
    """(CPU seconds, current RSS kB, peak RSS kB) of a live process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return cpu, int(fields[21]) * PAGE_KB, hwm


class Descendants:
    """Samples this process's descendants (parser workers, the forkserver) except the feed server.

    RUSAGE_CHILDREN cannot see the parser workers: they are children of multiprocessing's forkserver,
    which is only reaped when this interpreter exits. So their CPU and peak RSS are read from /proc
    every ``interval`` seconds; a worker that exits between samples loses at most that much CPU."""

    def __init__(self, exclude: set[int], interval: float = 0.25) -> None:
        self.exclude = exclude
        self.interval = interval
        self.cpu: dict[int, float] = {}
        self.hwm: dict[int, int] = {}
        self.threads: dict[str, tuple[str, float]] = {}  # tid -> (role, CPU s), kept after the thread ends
        self.peak_concurrent_kb = 0  # max over samples of the sum of live descendants' peak RSS
        self.peak_live = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)

    def pids(self) -> list[int]:
        out, todo = [], [os.getpid()]
        while todo:
            for child in _children(todo.pop()):
                if child not in self.exclude:
                    out.append(child)
                    todo.append(child)
        return out

    def sample(self) -> None:
        names = {t.native_id: f"{type(t).__name__}:{t.name}" for t in threading.enumerate()}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            name = names.get(int(tid))
            if name is None:  # the thread has ended: keep its role and last CPU reading
                continue
            role = ("event loop" if int(tid) == os.getpid() else  # the main thread's id is the process id
                    "sampler" if int(tid) == self._thread.native_id else
                    "parser-pool plumbing" if "ExecutorManagerThread" in name or "QueueFeederThread" in name
                    else "to_thread pool")  # asyncio's default executor: store, unseen, match, ingest
            self.threads[tid] = (role, (int(fields[11]) + int(fields[12])) / TICK)
        live = 0
        pids = self.pids()
        for pid in pids:
            if (got := _proc_sample(pid)) is not None:
                cpu, _rss, hwm = got
                self.cpu[pid], self.hwm[pid] = cpu, hwm
                live += hwm
        self.peak_concurrent_kb = max(self.peak_concurrent_kb, live)
        self.peak_live = max(self.peak_live, len(pids))

    def total_cpu(self) -> float:
        return sum(self.cpu.values())

    def thread_roles(self) -> dict[str, float]:
        roles: dict[str, float] = {}
        for role, cpu in self.threads.values():
            roles[role] = roles.get(role, 0.0) + cpu
        return roles

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- profiling (optional: needs py-spy, which is not a project dependency) ---------------------------

class PySpy:
    """py-spy sampling this process (only the thread holding the GIL: what the interpreter spends) for one cycle; collapsed stacks out."""

    def __init__(self, phase: str) -> None:
        self.path = Path(tempfile.gettempdir()) / f"pledgewatch-pyspy-{phase}-{os.getpid()}.txt"
        exe = shutil.which("py-spy")
        if exe is None:
            raise SystemExit("--profile needs py-spy on PATH (pip install py-spy; not a project dependency)")
        self.proc = subprocess.Popen([exe, "record", "--pid", str(os.getpid()), "--rate", "100", "--gil", "--format", "raw",
                                      "--output", str(self.path), "--nonblocking"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let it attach before the cycle starts

    def stop(self) -> None:
        self.proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
        self.proc.wait(30)

    def report(self, top: int = 25) -> None:
        """Inclusive share of samples per function, and self share per function, from the collapsed stacks."""
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        total = 0
        for line in self.path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 2)[-1] + ")"
                      if " (" in f else f for f in stack.split(";")]
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n
            own[frames[-1]] = own.get(frames[-1], 0) + n
        print(f"  py-spy: {total} GIL-holding samples at 100 Hz ({total / 100:.1f} s holding the GIL), raw stacks in {self.path}")
        print("  inclusive (% of samples):")
        for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / total:5.1f}%  {frame}")
        print("  self (% of samples):")
        for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / total:5.1f}%  {frame}")


# --- measuring ------------------------------------------------------------------------------------

class Stages:
    """CPU seconds (thread_time) spent in the synchronous steps the poller runs in worker threads.

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
    save, timed_save = store.save_feed_state, stages.wrap("store.save_feed_state (304 path)", store.save_feed_state)
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


def write_config(directory: Path, server: ServerProcess, corpus: feedgen.Corpus) -> None:
    shutil.copy(ROOT / "commitments.toml", directory / "commitments.toml")
    lines = ['interval = "30m"', 'backfill = "2d"', 'timeout = "30s"', ""]
    for spec in corpus.feeds:
        lines += ["[[feed]]", f'id = "feed-{spec.index:04d}"', f'url = "{server.url(spec.path)}"',
                  f'name = "{spec.title}"', f'language = "{spec.language}"']
        if spec.international:
            lines.append(f'keywords = ["{INTERNATIONAL_FILTER}"]')
        lines.append("")
    (directory / "feeds.toml").write_text("\n".join(lines), encoding="utf-8")


def describe(summary: PollSummary) -> str:
    counts = [f"{summary.count(r)} {r}" for r in ("ok", "not modified", "unchanged", "failed", "skipped", "disabled")
              if summary.count(r)]
    return f"{', '.join(counts)}; {summary.new_entries} new entries, {len(summary.matches)} new matches"


async def our_cycles(args, server: ServerProcess, workdir: Path, changed: list[int],
                     watcher: Descendants) -> tuple[Cycle, Cycle, dict]:
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
                # Start the workers outside the timed cycles: a running bot has them already.
                started = time.perf_counter()
                tiny = feedgen.Corpus(1, seed=1).body(0)
                await asyncio.gather(*(parser.parse(tiny, {"content-type": "application/rss+xml"}, "http://x/")
                                       for _ in range(max(1, args.workers))))
                info["pool_start_s"] = time.perf_counter() - started
                poller = Poller(store, fetcher, parser, clock, config, random.Random(1))
                stages = Stages()
                instrument(poller, store, stages)
                for name in ("ours cold", "ours warm"):
                    if name == "ours warm":
                        server.call("update", changed, NEW_ENTRIES)
                        clock.advance(timedelta(hours=1))
                    wait_quiet(name)
                    before_server = server.call("stats")
                    watcher.sample()
                    roles0 = watcher.thread_roles()
                    stages0 = stages.snapshot()
                    spy = PySpy(name.split()[-1]) if args.profile == name.split()[-1] else None
                    cpu0, wcpu0, m0 = _cpu_self(), watcher.total_cpu(), machine_busy()
                    t0 = time.perf_counter()
                    summary = await poller.poll(feeds)
                    wall = time.perf_counter() - t0
                    m1 = machine_busy()
                    if spy is not None:
                        spy.stop()
                        info["profile"] = spy
                    watcher.sample()
                    roles1 = watcher.thread_roles()
                    cpu1, wcpu1 = _cpu_self(), watcher.total_cpu()
                    after_server = server.call("stats")
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


def naive_cycle(name: str, urls_file: Path, server: ServerProcess) -> Cycle:
    """A fresh interpreter that imports only feedparser (not bot.parse, which patches feedparser)."""
    wait_quiet(name)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"  # loopback only, whatever the shell has set
    before = server.call("stats")
    m0, children0 = machine_busy(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", NAIVE_SCRIPT, str(urls_file)], env=env, check=True,
                          capture_output=True, text=True)
    m1, children1 = machine_busy(), resource.getrusage(resource.RUSAGE_CHILDREN)
    after = server.call("stats")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    spent = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    other = (m1 - m0) - spent - (after["cpu"] - before["cpu"])
    if other > 0.05 * got["wall"] * CORES:
        print(f"  WARNING: other processes used {other:.1f} CPU s during {name}; the figures are disturbed")
    # The subprocess's start-up (imports) is outside its own timing, so "other" load is only judged for ours.
    return Cycle(name, got["wall"], got["cpu"], 0.0, after["cpu"] - before["cpu"], after["requests"], m1 - m0,
                 f"{got['entries']} entries parsed, {got['bozo']} bozo")


def parse_floor(n_feeds: int, seed: int, changed: list[int]) -> dict:
    """CPU seconds parse_feed (our options) needs, one process, for all cold bodies and the warm changes."""
    wait_quiet("the parse floor")  # process_time is per process, but a busy machine still slows caches
    corpus = feedgen.Corpus(n_feeds, seed)
    cold = 0.0
    for spec in corpus.feeds:
        body = corpus.body(spec.index)
        t = time.process_time()
        parse_feed(body, {"content-type": spec.content_type}, f"http://127.0.0.1/{spec.path}")
        cold += time.process_time() - t
        corpus.forget(spec.index)
    warm = 0.0
    for i in changed:
        spec = corpus.feeds[i]
        body = corpus.add_entries(i, NEW_ENTRIES)
        t = time.process_time()
        parse_feed(body, {"content-type": spec.content_type}, f"http://127.0.0.1/{spec.path}")
        warm += time.process_time() - t
        corpus.forget(i)
    return {"cold_cpu": cold, "warm_cpu": warm}


def server_probe(server: ServerProcess, paths: list[str], threads: int = 4) -> dict:
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

    before = server.call("stats")
    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    after = server.call("stats")
    return {"wall": wall, "server_cpu": after["cpu"] - before["cpu"], "requests": after["requests"]}


# --- report ---------------------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", type=int, default=None, help=f"number of feeds (default {DEFAULT_FEEDS})")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_FEEDS} feeds, under a minute")
    ap.add_argument("--workers", type=int, default=CORES, help=f"parser processes (default: cores = {CORES})")
    ap.add_argument("--seed", type=int, default=feedgen.DEFAULT_SEED)
    ap.add_argument("--nagle", action="store_true",
                    help="leave Nagle on in the feed server, as stock FeedServer does (~40 ms per kept-alive response)")
    ap.add_argument("--skip-naive", action="store_true", help="only our cycles and the floor")
    ap.add_argument("--profile", choices=("cold", "warm"),
                    help="sample the client process with py-spy during that cycle and print where its time goes "
                         "(py-spy adds a few %% CPU: don't quote timings from a profiled run)")
    args = ap.parse_args(argv)
    n = args.feeds or (QUICK_FEEDS if args.quick else DEFAULT_FEEDS)
    QUIET_LIMIT[0] = 5.0 if args.quick else 120.0
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    changed = sorted(random.Random(f"{args.seed}:changed").sample(range(n), round(n * CHANGED_SHARE)))

    print(f"load average before start: {open('/proc/loadavg').read().split()[0]}")
    print(f"pledgewatch poll benchmark: {n} feeds x {feedgen.ENTRIES_PER_FEED} entries, {len(changed)} change "
          f"({NEW_ENTRIES} new entries each) before the warm cycle; {CORES} cores, Python {sys.version.split()[0]}, "
          f"{args.workers} parser workers{'; feed server with Nagle on' if args.nagle else ''}")
    t_start = time.perf_counter()
    layout = feedgen.Corpus(n, args.seed)  # only the feed list is used here; bodies are built in the server
    sizes = [len(layout.body(i)) for i in range(n)]
    for i in range(n):
        layout.forget(i)
    print(f"corpus: {sum(sizes) / 1e6:.1f} MB, {min(sizes) / 1000:.0f}-{max(sizes) / 1000:.0f} KB per feed; "
          f"{sum(s.gzip for s in layout.feeds)} gzip, {sum(s.style == 'atom' for s in layout.feeds)} Atom, "
          f"{sum(s.language == 'ur' for s in layout.feeds)} Urdu, {sum(s.international for s in layout.feeds)} with a "
          f"feed-level filter")

    server = ServerProcess(n, args.seed, args.nagle)
    workdir = Path(tempfile.mkdtemp(prefix="pledgewatch-bench-"))
    watcher = Descendants(exclude={server.process.pid})
    try:
        write_config(workdir, server, layout)
        paths = [s.path for s in layout.feeds]
        del layout
        watcher.start()
        cold, warm, info = asyncio.run(our_cycles(args, server, workdir, changed, watcher))
        watcher.sample()
        watcher.stop()
        self_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        workers_rss_mb = watcher.peak_concurrent_kb / 1024
        print(f"  pool start {info['pool_start_s']:.2f} s (not timed); db after both cycles: {info['entries_in_db']} "
              f"entries, {info['stories_in_db']} stories, {info['matches_in_db']} matches")
        if "profile" in info:
            info["profile"].report()

        probe = server_probe(server, paths)
        server.call("reset")
        urls_file = workdir / "urls.json"
        urls_file.write_text(json.dumps([server.url(p) for p in paths]))
        naive = []
        if not args.skip_naive:
            naive.append(naive_cycle("naive cold", urls_file, server))
            server.call("update", changed, NEW_ENTRIES)
            naive.append(naive_cycle("naive warm", urls_file, server))
        floor = parse_floor(n, args.seed, changed)
        server_rss = server.call("stats")["maxrss_mb"]
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    cold_floor, warm_floor = floor["cold_cpu"] / CORES, floor["warm_cpu"] / CORES
    print()
    print(f"{'cycle':<12} {'wall s':>8} {'client CPU s':>13} {'workers CPU s':>14} {'server CPU s':>13} {'requests':>9}  outcome")
    for c in (cold, warm, *naive):
        print(f"{c.name:<12} {c.wall:8.2f} {c.main_cpu:13.2f} {c.worker_cpu:14.2f} {c.server_cpu:13.2f} {c.requests:9d}  {c.detail}")
    print(f"{'floor cold':<12} {cold_floor:8.2f} {floor['cold_cpu']:13.2f} {'':>14} {'':>13} {n:9d}  "
          f"parse_feed CPU for all {n} bodies / {CORES} cores")
    print(f"{'floor warm':<12} {warm_floor:8.2f} {floor['warm_cpu']:13.2f} {'':>14} {'':>13} {len(changed):9d}  "
          f"parse_feed CPU for the {len(changed)} changed bodies / {CORES} cores")
    print(f"{'server only':<12} {probe['wall']:8.2f} {'':>13} {'':>14} {probe['server_cpu']:13.2f} {probe['requests']:9d}  "
          f"every feed fetched by 4 bare keep-alive threads, no parsing")
    print()
    peak_rss_mb = self_rss_mb + workers_rss_mb
    print(f"peak RSS: main process {self_rss_mb:.0f} MB (RUSAGE_SELF ru_maxrss) + parser workers and forkserver "
          f"{workers_rss_mb:.0f} MB (sum of their peaks while alive together, /proc VmHWM; {watcher.peak_live} at most)"
          f" = {peak_rss_mb:.0f} MB. RUSAGE_CHILDREN ru_maxrss = {children_rss_mb:.0f} MB (the workers are the "
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
        print(f"  of which in worker threads: {steps}")
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
        result |= {"cold_vs_naive": cold_vs_naive, "warm_vs_naive": warm_vs_naive}
    print(f"target warm <= {TARGET_WARM_VS_FLOOR:g}x the parse floor:    {warm_vs_floor:5.2f}x  {verdict(warm_vs_floor <= TARGET_WARM_VS_FLOOR)}")
    result |= {"warm_vs_floor": warm_vs_floor, "peak_rss_mb": peak_rss_mb}
    print("result: " + " ".join(f"{k}={v:.{2 if k in ('cold_s', 'warm_s', 'warm_vs_floor') else 1}f}"
                                for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
