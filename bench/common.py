"""Shared helpers for the benchmarks in bench/: arguments, tables, the ``result:`` line, memory and load.

Every benchmark is a script (``python bench/NAME.py [--quick]``) that prints a readable table and ends
with exactly one machine-readable line ``result: key=value ...``. The pieces they share live here so the
figures are measured the same way everywhere:

* :func:`parse_args` gives every script the same ``--quick`` flag (a smaller run, under a minute);
* :func:`print_table` and :func:`result_line` print what people and tools read;
* :class:`TreeSampler` follows the peak RSS of this process and its descendants (the parser workers are
  the forkserver's children, so ``RUSAGE_CHILDREN`` cannot see them), and on request their CPU and this
  process's CPU by thread; :func:`reset_peak_rss` lets a phase measure its own peak rather than the one
  left by building its fixtures;
* :class:`LoadWatch` says how much CPU *other* processes took during a timed phase: the machine has two
  cores and is shared, and a figure taken while someone else's test suite runs must say so;
* :class:`CorpusServer` serves bench/feedgen.py's feeds from a separate process, and
  :class:`TelegramProcess` runs the fake Bot API server (tests/support/fake_telegram.py) in another,
  so neither competes with the bot under test for its GIL (they still share the cores, as real
  servers on the same host would not: the figures are pessimistic, never flattering).

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
for _path in (str(BENCH), str(ROOT)):  # feedgen is a sibling module; bot and tests.support live at the root
    if _path not in sys.path:
        sys.path.insert(0, _path)

CORES = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
LOOPBACK = "127.0.0.1"


# --- arguments and output -------------------------------------------------------------------------

def parse_args(description: str, quick_help: str,
               extra: Callable[[argparse.ArgumentParser], None] | None = None,
               argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The same ``--quick`` flag everywhere, so every script can be smoke-run in under a minute."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--nice", type=int, default=None, metavar="N",
                        help="run the benchmark (and every process it starts) at this nice value, e.g. -10 (needs "
                             "root): shields the figures from other work on a shared machine; quote it with them")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.nice is not None:
        set_priority(args.nice)
    return args


def set_priority(nice: int) -> None:
    """Set this process's nice value before any thread or child exists, so all of them inherit it."""
    os.setpriority(os.PRIO_PROCESS, 0, nice)


def machine_line() -> str:
    """Cores, Python, load and our priority, printed first so a pasted table always says where it came from."""
    load = open("/proc/loadavg").read().split()[0]
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    return (f"{CORES} cores, Python {sys.version.split()[0]}, load average {load} at start"
            + (f", benchmark at nice {nice}" if nice else ""))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    """A plain aligned table: numbers right-aligned, text left-aligned, so it pastes into Markdown code blocks."""
    body = [[_cell(value) for value in row] for row in rows]
    numeric = [all(_is_number(row[i]) for row in body if i < len(row) and row[i] != "") for i in range(len(headers))]
    widths = [max([len(h)] + [len(row[i]) for row in body if i < len(row)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    if title:
        print(title)
    print(line(list(headers)))
    print("  ".join("-" * w for w in widths))
    for row in body:
        print(line(row))


def _cell(value: Any) -> str:
    """Floats get a sensible number of decimals for their size, so the table stays readable."""
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _is_number(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).lstrip("-").isdigit() or text == "-"


def result_line(values: dict[str, float | int], decimals: int = 1) -> str:
    """The one machine-readable line a benchmark ends with: ``result: key=value ...`` (no units, no spaces)."""
    parts = []
    for key, value in values.items():
        parts.append(f"{key}={value}" if isinstance(value, int) and not isinstance(value, bool)
                     else f"{key}={value:.{decimals}f}")
    return "result: " + " ".join(parts)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation), so p99 of 200 samples is an observed sample, the 198th."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]


def cache_dir(name: str, **params: object) -> Path:
    """A folder under the temp dir keyed by the parameters that shape its contents, for reusable fixtures."""
    key = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"pledgewatch-bench-{name}-{key}"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- CPU and memory from /proc ----------------------------------------------------------------------

def machine_busy() -> float:
    """CPU seconds every process on the machine has used since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux ``/proc/PID/task/PID/children``)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def descendants(pid: int | None = None) -> list[int]:
    """Every live descendant of ``pid`` (default: this process), depth first."""
    out: list[int] = []
    todo = [pid or os.getpid()]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def proc_sample(pid: int) -> tuple[float, int, int] | None:
    """(CPU seconds, current RSS kB, peak RSS kB) of a live process, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            hwm = next((int(line.split()[1]) for line in f if line.startswith("VmHWM:")), 0)
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, int(fields[21]) * PAGE_KB, hwm


def tree_cpu(root: int | None = None, exclude: Iterable[int] = ()) -> float:
    """CPU seconds of a process and its live descendants (finished children are not counted)."""
    skip = set(exclude)
    pids = [root or os.getpid(), *descendants(root)]
    return sum(got[0] for pid in pids if pid not in skip and (got := proc_sample(pid)) is not None)


def reset_peak_rss(pid: int | None = None) -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so a phase measures its own peak; False where unsupported."""
    try:
        with open(f"/proc/{pid or 'self'}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_mb(pid: int | None = None) -> float:
    """Current RSS of a process in MB."""
    got = proc_sample(pid or os.getpid())
    return got[1] / 1024 if got else 0.0


class TreeSampler:
    """Samples this process and its descendants (minus ``exclude``) every ``interval`` s: peak summed RSS.

    Two figures: ``peak_sum_mb``, the largest sum of *current* RSS seen in one sample (what the bot costs the
    machine at its worst moment, up to the sampling gap), and ``peak_hwm_mb``, the sum over live processes of
    the kernel's own per-process peak (VmHWM), which cannot miss a short spike but may add peaks that never
    coincided. Reset the marks with :func:`reset_peak_rss` before a phase to exclude set-up work.

    ``include_self=False`` samples the descendants only. Every sample also keeps each process's last CPU
    reading (:meth:`cpu_seconds`: a process that exits between samples loses at most ``interval`` of CPU),
    and, given ``thread_role`` (a Thread -> label function), each of this process's threads' CPU by role
    (:meth:`thread_roles`; the sampler's own thread is "sampler"), kept after a thread ends."""

    def __init__(self, exclude: Iterable[int] = (), interval: float = 0.05, *, include_self: bool = True,
                 thread_role: Callable[[threading.Thread], str] | None = None) -> None:
        self.exclude = set(exclude)
        self.interval = interval
        self.include_self = include_self
        self.thread_role = thread_role
        self.peak_sum_kb = 0
        self.peak_hwm_kb = 0
        self.peak_processes = 0
        self.by_pid_hwm: dict[int, int] = {}
        self.cpu_by_pid: dict[int, float] = {}  # last CPU reading of every process sampled, kept after it exits
        self.threads: dict[int, tuple[str, float]] = {}  # thread id -> (role, last CPU reading), with thread_role
        self._lock = threading.Lock()  # sample() may be called from another thread while the sampler runs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> None:
        """Take one sample now."""
        with self._lock:
            pids = [os.getpid()] if self.include_self else []
            pids += [p for p in descendants() if p not in self.exclude]
            current = hwm = 0
            for pid in pids:
                got = proc_sample(pid)
                if got is None:
                    continue
                self.cpu_by_pid[pid] = got[0]
                current += got[1]
                self.by_pid_hwm[pid] = max(self.by_pid_hwm.get(pid, 0), got[2])
                hwm += got[2]
            self.peak_sum_kb = max(self.peak_sum_kb, current)
            self.peak_hwm_kb = max(self.peak_hwm_kb, hwm)
            self.peak_processes = max(self.peak_processes, len(pids))
            if self.thread_role is not None:
                for tid, (thread, cpu) in thread_times().items():
                    if thread is not None:  # None: not a Python thread, or just ended (its last reading stays)
                        role = "sampler" if thread is self._thread else self.thread_role(thread)
                        self.threads[tid] = (role, cpu)

    def cpu_seconds(self) -> float:
        """CPU seconds of the sampled processes (their last readings), for differences across a phase."""
        return sum(self.cpu_by_pid.values())

    def thread_roles(self) -> dict[str, float]:
        """CPU seconds of this process's threads by role (needs ``thread_role``), for differences across a phase."""
        roles: dict[str, float] = {}
        for role, cpu in self.threads.values():
            roles[role] = roles.get(role, 0.0) + cpu
        return roles

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def by_name(self) -> list[tuple[str, int]]:
        """Each sampled process's peak (kB) with a short name from its command line, largest first."""
        out = []
        for pid, kb in self.by_pid_hwm.items():
            out.append((f"{pid}:{_short_name(pid)}", kb))
        return sorted(out, key=lambda item: -item[1])

    @property
    def peak_sum_mb(self) -> float:
        return self.peak_sum_kb / 1024

    @property
    def peak_hwm_mb(self) -> float:
        return self.peak_hwm_kb / 1024


def _short_name(pid: int) -> str:
    """main / forkserver / worker / resource_tracker / the script name, from /proc/PID/cmdline."""
    if pid == os.getpid():
        return "main"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    for key in ("forkserver", "resource_tracker", "spawn_main"):
        if key in cmd:
            return key
    return cmd.split(" ")[-1][-30:] or cmd[:30]


class LoadWatch:
    """CPU used on the whole machine during a phase, and how much of it was not ours (other sessions' work).

    Our share is this process, its reaped children, and every descendant sampled every 0.25 s (the parser
    workers are the forkserver's children and are recycled, so their CPU would otherwise be lost)."""

    def __init__(self, label: str, interval: float = 0.25) -> None:
        self.label = label
        self.interval = interval
        self.wall = self.machine = self.ours = 0.0
        self._seen: dict[int, float] = {}
        self._start_seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-watch", daemon=True)

    def _sample(self) -> None:
        for pid in descendants():
            got = proc_sample(pid)
            if got is not None:
                self._seen[pid] = got[0]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> LoadWatch:
        self._sample()
        self._start_seen = dict(self._seen)
        self._t, self._m, self._o = time.perf_counter(), machine_busy(), _self_cpu()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall = time.perf_counter() - self._t
        self.machine = machine_busy() - self._m
        spent = sum(cpu - self._start_seen.get(pid, 0.0) for pid, cpu in self._seen.items())
        self.ours = _self_cpu() - self._o + spent

    @property
    def others(self) -> float:
        """CPU seconds used by processes outside this benchmark's tree during the phase."""
        return max(0.0, self.machine - self.ours)

    def note(self) -> str:
        """One line for the report: how busy the machine was and with what."""
        share = self.others / self.wall if self.wall else 0.0
        text = (f"{self.label}: {self.wall:.1f} s wall; machine {self.machine / max(self.wall, 1e-9) / CORES:.0%} busy, "
                f"this benchmark {self.ours:.1f} CPU s, other processes {self.others:.1f} CPU s ({share:.2f} cores)")
        if share > 0.1:
            text += "  <- the machine was shared: figures are pessimistic"
        return text


def _self_cpu() -> float:
    """CPU of this process and its reaped children (live descendants are sampled separately)."""
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_usage.ru_utime + self_usage.ru_stime + reaped.ru_utime + reaped.ru_stime


def other_load(seconds: float = 1.0) -> float:
    """Cores' worth of CPU that processes outside this benchmark use right now, over ``seconds``."""
    with LoadWatch("probe") as watch:
        time.sleep(seconds)
    return watch.others / max(watch.wall, 1e-9)


def wait_quiet(label: str, limit: float, share: float = 0.15) -> float:
    """Wait (up to ``limit`` s) for other processes to use less than ``share`` of a core; return the last reading."""
    started = time.perf_counter()
    while True:
        load = other_load()
        if load < share:
            if (waited := time.perf_counter() - started) > 1.5:
                print(f"  (waited {waited:.0f} s for the machine to go quiet before {label})")
            return load
        if time.perf_counter() - started > limit:
            print(f"  (other processes still use {load:.2f} cores before {label}; measuring anyway)")
            return load


# --- servers in their own processes, driven over a pipe ---------------------------------------------

class _PipeProcess:
    """A server in a spawned process that answers one reply per command sent over a pipe."""

    def _start(self, target: Callable[..., None], name: str, *args: object) -> Any:
        """Spawn ``target(conn, *args)`` and return the first thing it sends (its address)."""
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._lock = threading.Lock()
        self.process = ctx.Process(target=target, args=(child, *args), name=name, daemon=True)
        self.process.start()
        return self._conn.recv()

    def call(self, *command: object) -> Any:
        """One request/reply over the pipe (thread-safe)."""
        with self._lock:
            self._conn.send(command)
            return self._conn.recv()

    def stop(self) -> None:
        if self.process.is_alive():
            self.call("stop")
        self.process.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the feed corpus, served from its own process -------------------------------------------------

def _serve_corpus(conn: Connection, n_feeds: int, seed: int, indices: list[int] | None,
                  bump: int, nagle: bool = False) -> None:  # runs in the server process
    """Serve feedgen's corpus (only ``indices`` if given; ``bump`` newer entries on each) until told to stop."""
    import feedgen
    from tests.support import feedserver
    from tests.support.feedserver import FeedServer

    # The stdlib handler leaves Nagle on and writes headers and body apart, so each kept-alive response
    # waits ~40 ms for a delayed ACK; real servers (nginx: tcp_nodelay on) don't. Off (unless ``nagle``),
    # in this process only.
    feedserver._Handler.disable_nagle_algorithm = not nagle

    def load(server: FeedServer) -> feedgen.Corpus:
        corpus = feedgen.Corpus(n_feeds, seed)
        for spec in corpus.feeds:
            if indices is not None and spec.index not in indices:
                continue
            body = corpus.add_entries(spec.index, bump) if bump else corpus.body(spec.index)
            server.add(spec.path, body, content_type=spec.content_type, gzip=spec.gzip)
            corpus.forget(spec.index)  # FeedServer holds the bytes; don't keep a second copy
        return corpus

    with FeedServer(LOOPBACK) as server:
        corpus = load(server)
        conn.send(server.port)
        while True:
            command, *args = conn.recv()
            if command == "requests":
                conn.send(len(server.requests()))
            elif command == "update":  # (feed indices, count): count newer entries on top of each
                changed, count = args
                for index in changed:
                    server.update(corpus.feeds[index].path, corpus.add_entries(index, count))
                    corpus.forget(index)
                conn.send(len(changed))
            elif command == "reset":  # every feed back to the bytes it was served with at start
                corpus = load(server)
                conn.send(True)
            elif command == "stats":  # this process's CPU and peak RSS; requests since the last "stats"
                requests = len(server.requests())
                server.reset_stats()
                conn.send({"cpu": _cpu_self(), "requests": requests,
                           "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
            elif command == "stop":
                conn.send(True)
                return


class CorpusServer(_PipeProcess):
    """bench/feedgen.py's feeds on a FeedServer (tests/support/feedserver.py) in a spawned process.

    ``nagle=True`` leaves the stock handler's Nagle algorithm on (see _serve_corpus)."""

    def __init__(self, n_feeds: int, seed: int, *, indices: Sequence[int] | None = None, bump: int = 0,
                 nagle: bool = False) -> None:
        self.port: int = self._start(_serve_corpus, "feedserver", n_feeds, seed,
                                     list(indices) if indices is not None else None, bump, nagle)

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def requests(self) -> int:
        """Requests served so far (since the last :meth:`stats`)."""
        return int(self.call("requests"))

    def update(self, indices: Iterable[int], count: int) -> None:
        """Put ``count`` newer entries on top of each of those feeds (feedgen's ``add_entries``)."""
        self.call("update", list(indices), count)

    def reset(self) -> None:
        """Every feed back to the bytes it was served with at start."""
        self.call("reset")

    def stats(self) -> dict[str, Any]:
        """The server process's CPU seconds (``cpu``) and peak RSS (``maxrss_mb``), and the ``requests`` served
        since the previous call (the count then starts again)."""
        stats: dict[str, Any] = self.call("stats")
        return stats


def feeds_toml(specs: Iterable[Any], url: Callable[[str], str], international_filter: str | None = None,
               interval: str = "30m") -> str:
    """A feeds.toml for feedgen specs served at ``url(path)``; broad feeds get the feed-level filter."""
    lines = [f'interval = "{interval}"', 'backfill = "2d"', 'timeout = "30s"', "allow_private_hosts = true", ""]
    for spec in specs:
        lines += ["[[feed]]", f'id = "feed-{spec.index:05d}"', f'url = "{url(spec.path)}"',
                  f'name = "{spec.title}"', f'language = "{spec.language}"']
        if spec.international and international_filter:
            lines.append(f'keywords = ["{international_filter}"]')
        lines.append("")
    return "\n".join(lines)


INTERNATIONAL_FILTER = "Pakistan OR Pakistani OR Afghanistan OR Afghan OR Kabul OR Islamabad OR Taliban OR Torkham"


# --- the fake Bot API, served from its own process --------------------------------------------------

@dataclass(frozen=True)
class TelegramOptions:
    """How to start the fake Bot API server (picklable, for the spawned process)."""

    enforce_limits: bool = False
    per_chat: tuple[int, float] = (1, 1.0)
    per_group: tuple[int, float] = (20, 60.0)
    overall: tuple[int, float] = (30, 1.0)
    chats: tuple[tuple[int, str], ...] = ()


def _serve_telegram(conn: Connection, options: TelegramOptions) -> None:  # runs in the server process
    """Run FakeTelegram and answer commands: push messages (timing them), report reply latencies and stats."""
    from tests.support.fake_telegram import FakeTelegram, Limits

    limits = Limits(per_chat=options.per_chat, per_group=options.per_group, overall=options.overall)
    fake = FakeTelegram(enforce_limits=options.enforce_limits, limits=limits)
    for chat_id, kind in options.chats:
        fake.add_chat(chat_id, kind)
    pushed: dict[int, float] = {}
    with fake:
        conn.send((fake.token, fake.base_url))
        while True:
            command, *args = conn.recv()
            if command == "push":  # (chat, user, text): the chat is private and new, so its first reply is the answer
                chat_id, user_id, text = args
                pushed[chat_id] = time.monotonic()
                fake.push_message(chat_id, user_id, text)
                conn.send(None)
            elif command == "timings":  # push time and arrival of the bot's first sendMessage to that chat
                first: dict[int, float] = {}
                for call in fake.calls_to("sendMessage"):
                    chat = call.params.get("chat_id")
                    if chat in pushed and chat not in first and call.at >= pushed[chat]:
                        first[chat] = call.at
                conn.send({chat: (at, first.get(chat)) for chat, at in pushed.items()})
            elif command == "sends":  # arrival time and chat of every sendMessage, with its HTTP status
                conn.send([(call.at, call.params.get("chat_id"), call.status) for call in fake.calls_to("sendMessage")])
            elif command == "stats":
                stats = fake.stats
                conn.send({"flood_429": stats.flood_429, "messages_sent": stats.messages_sent,
                           "requests": dict(stats.requests), "cpu": _cpu_self()})
            elif command == "stop":
                conn.send(True)
                return


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TelegramProcess(_PipeProcess):
    """tests/support/fake_telegram.py's FakeTelegram in a spawned process, driven over a pipe."""

    def __init__(self, options: TelegramOptions = TelegramOptions()) -> None:
        self.token, self.base_url = self._start(_serve_telegram, "fake-telegram", options)

    def push(self, chat_id: int, user_id: int, text: str) -> None:
        """A user writes ``text`` to the bot in private chat ``chat_id``; the push time is taken in the server."""
        self.call("push", chat_id, user_id, text)

    def timings(self) -> dict[int, tuple[float, float | None]]:
        """(push time, arrival of the bot's first reply in that chat or None), CLOCK_MONOTONIC seconds."""
        timings: dict[int, tuple[float, float | None]] = self.call("timings")
        return timings

    def latencies(self) -> dict[int, float | None]:
        """Seconds from each push to the arrival of the bot's first reply in that chat (None: no reply)."""
        return {chat: (None if arrived is None else arrived - pushed) for chat, (pushed, arrived) in self.timings().items()}

    def sends(self) -> list[tuple[float, Any, int | None]]:
        """(arrival, chat_id, HTTP status) of every sendMessage, in arrival order."""
        sends: list[tuple[float, Any, int | None]] = self.call("sends")
        return sends

    def stats(self) -> dict[str, Any]:
        """429s answered, messages stored, requests by method, and the server process's CPU seconds."""
        stats: dict[str, Any] = self.call("stats")
        return stats


# --- profiling (optional: py-spy is not a project dependency; pip install py-spy) -------------------

class PySpy:
    """py-spy sampling a process for one phase (collapsed stacks per thread), with a short text report."""

    def __init__(self, label: str, pid: int | None = None, *, gil_only: bool = False, rate: int = 200) -> None:
        import shutil
        import subprocess

        exe = shutil.which("py-spy")
        if exe is None:
            raise SystemExit("--profile needs py-spy on PATH (pip install py-spy; not a project dependency)")
        self.path = Path(tempfile.gettempdir()) / f"pledgewatch-pyspy-{label}-{os.getpid()}.txt"
        command = [exe, "record", "--pid", str(pid or os.getpid()), "--rate", str(rate), "--format", "raw",
                   "--threads", "--output", str(self.path), "--nonblocking"]
        if gil_only:
            command.append("--gil")
        self.rate, self.gil_only = rate, gil_only
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let it attach before the phase starts

    def stop(self) -> None:
        """SIGINT makes py-spy write its output and exit."""
        self.proc.send_signal(2)
        self.proc.wait(60)

    def report(self, top: int = 25, thread_filter: str | None = None) -> None:
        """Per-thread sample counts, then inclusive and self shares per function (optionally one thread only)."""
        inclusive: dict[str, int] = {}
        own: dict[str, int] = {}
        threads: dict[str, int] = {}
        total = 0
        for line in self.path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            thread = frames[0] if frames and frames[0].startswith("thread") else "?"
            threads[thread] = threads.get(thread, 0) + n
            if thread_filter is not None and thread_filter not in thread:
                continue
            total += n
            names = [_frame_name(f) for f in frames[1:]] or ["?"]
            for name in set(names):
                inclusive[name] = inclusive.get(name, 0) + n
            own[names[-1]] = own.get(names[-1], 0) + n
        print(f"  py-spy: samples per thread: " + ", ".join(f"{t} {n}" for t, n in sorted(threads.items(), key=lambda kv: -kv[1])))
        print(f"  raw stacks in {self.path}; {total} samples{' in ' + thread_filter if thread_filter else ''}"
              f" ({total / self.rate:.1f} s{' holding the GIL' if self.gil_only else ''} at {self.rate} Hz)")
        print("  inclusive:")
        for name, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / max(total, 1):5.1f}%  {name}")
        print("  self:")
        for name, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
            print(f"    {100 * n / max(total, 1):5.1f}%  {name}")


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:12)`` as ``func (file.py)``, so lines of one function add up."""
    if " (" not in frame:
        return frame
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})"


def thread_times() -> dict[int, tuple[threading.Thread | None, float]]:
    """Each live thread of this process by native id: its Thread (None if threading does not know it) and CPU seconds."""
    threads = {t.native_id: t for t in threading.enumerate()}
    out: dict[int, tuple[threading.Thread | None, float]] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (threads.get(int(tid)), (int(fields[11]) + int(fields[12])) / TICK)
    return out


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by thread name (numbered suffixes merged: pool_0, pool_1 -> pool)."""
    out: dict[str, float] = {}
    for thread, cpu in thread_times().values():
        name = thread.name if thread is not None else "other"
        base = name.rstrip("0123456789").rstrip("_-") if name[-1:].isdigit() else name
        out[base] = out.get(base, 0.0) + cpu
    return out


def thread_cpu_delta(before: dict[str, float], after: dict[str, float]) -> str:
    """``after - before`` per thread group, largest first, as one line."""
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return ", ".join(f"{k} {v:.1f} s" for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v >= 0.05)
