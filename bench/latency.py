"""Benchmark: how fast the bot answers /status while a big cold poll runs inside it.

    python bench/latency.py            # 1,000 feeds, 200 /status commands (about a minute)
    python bench/latency.py --quick    # 300 feeds, 60 commands (under a minute)

The bot is assembled as ``pledgewatch run`` assembles it (bot/cli_run.py): ``open_core`` (Store, HttpFetcher,
ParserPool with one worker per core, Poller), the PTB Application from ``build_application`` (with the same
AIORateLimiter) long-polling the fake Bot API server through ``polling()``, ``build_service`` with a
TelegramTransport on its own ``make_bot`` bot, and the real ``Jobs`` schedule (poll, deliver, remind, digest, reload ticks). The only stand-ins are the servers: bench/feedgen.py's
feeds on a FeedServer, and tests/support/fake_telegram.py, each in its own process on 127.0.0.1.

When the first poll tick starts the cold cycle (every feed new: fetch, parse in the pool, match, ingest; it
ends when the last feed's poll does), a driver thread pushes ``/status`` commands (commitment ids, words that
find one or several commitments, misses, the bare overview), each from a new private chat, at an even pace
chosen so that they land inside the cycle; the figures are for the commands pushed while it ran. A reply's latency is measured entirely inside the fake server's process: from the
moment the update was queued to the arrival of the bot's sendMessage in that chat. A 10 ms ticker on the
bot's event loop records how late it wakes (loop lag), to tell a blocked loop from a slow worker thread.

Last line: ``result: p50_ms=... p99_ms=... max_ms=...`` (target: p99 <= 250 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ (common, feedgen); common adds the repo root

import common  # noqa: E402
import feedgen  # noqa: E402
from bot.app import Runtime, build_service, open_core  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.jobs import Jobs  # noqa: E402
from bot.model import Feed  # noqa: E402
from bot.parser_pool import ParserPool  # noqa: E402
from bot.poller import FeedOutcome  # noqa: E402
from bot.service import Service  # noqa: E402
from bot.statuses import sync_toml_statuses  # noqa: E402
from bot.telegram_app import BotServices, build_application, polling  # noqa: E402
from bot.telegram_transport import TelegramTransport, make_bot  # noqa: E402
from telegram.ext import AIORateLimiter  # noqa: E402

TARGET_P99_MS = 250.0
CHANNEL, ADMIN = -1001234567890, 1001
FIRST_CHAT = 5_000_000  # each command comes from its own private chat, so its first reply is the answer
FULL = {"feeds": 1000, "commands": 200, "gap": 0.06}  # 12 s of commands; the cycle takes 15-40 s on 2 cores
QUICK = {"feeds": 300, "commands": 60, "gap": 0.05}
WORDS = ["refugees", "Torkham", "trade", "transit trade", "intelligence", "Ghani visit", "railway", "CASA",
         "banking channels", "terrorism", "border", "DAR", "connectivity", "cricket", "visas", "peace",
         "shared vision", "customs", "sovereignty", "Urdu", "زیارت", "mark", "no-such-pledge", ""]


@dataclass
class CycleInfo:
    """What the cold cycle did and when, on the bench's monotonic clock."""

    started: float = 0.0
    ended: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    detail: str = ""
    threads: str = ""  # CPU of the bot process's threads during the cycle


def commands(catalog_ids: list[str], n: int) -> list[str]:
    """``n`` varied /status commands: ids (some capitalised), words with one or many hits, misses, the overview."""
    out: list[str] = []
    for i in range(n):
        kind = i % 4
        if kind in (0, 1):  # half are ids: the full view, with headlines and history
            cid = catalog_ids[(i * 7) % len(catalog_ids)]
            out.append(f"/status {cid.upper() if i % 8 == 1 else cid}")
        else:
            out.append(f"/status {WORDS[(i * 5) % len(WORDS)]}".rstrip())
    return out


class Trace:
    """Where a /status reply's time goes, by segment; CLOCK_MONOTONIC is one clock for every process here.

    Wraps ``Handlers.status``, ``Handlers.send`` and the ``status_reply`` builder the handler hands to a worker
    thread (``--trace`` only; the bot's code is unchanged; a context variable carries the chat id into the
    thread): dispatch (push -> handler starts), queue (handler -> builder starts in a thread), build (the
    builder: SQLite and formatting), resume (builder done -> handler sends), send (-> the fake receives it)."""

    SEGMENTS = ("dispatch", "queue", "build", "resume", "send")

    def __init__(self) -> None:
        self.marks: dict[int, dict[str, float]] = {}

    def install(self) -> None:
        """Patch the handler class and the builder's module global before the Application is built."""
        import contextvars

        import bot.commands as commands_module

        chat_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("bench_chat", default=None)
        original_status, original_send = commands_module.Handlers.status, commands_module.Handlers.send
        original_reply = getattr(commands_module, "status_reply")
        marks = self.marks

        async def status(handlers: Any, update: Any, context: Any) -> None:
            chat = update.effective_chat.id
            marks.setdefault(chat, {})["handler"] = time.monotonic()
            chat_var.set(chat)
            await original_status(handlers, update, context)

        def reply(store: Any, config: Any, query: str, now: Any) -> Any:
            started = time.monotonic()
            out = original_reply(store, config, query, now)
            if (chat := chat_var.get()) is not None:
                marks.setdefault(chat, {}).update(build0=started, build1=time.monotonic())
            return out

        async def send(handlers: Any, message: Any, reply_: Any) -> None:
            if (chat := chat_var.get()) is not None:
                marks.setdefault(chat, {})["send"] = time.monotonic()
            await original_send(handlers, message, reply_)

        setattr(commands_module.Handlers, "status", status)
        setattr(commands_module.Handlers, "send", send)
        setattr(commands_module, "status_reply", reply)

    def segments(self, chat: int, pushed: float, arrived: float) -> dict[str, float] | None:
        """Milliseconds per segment for one command, or None if a mark is missing."""
        m = self.marks.get(chat, {})
        if not all(k in m for k in ("handler", "build0", "build1", "send")):
            return None
        points = [pushed, m["handler"], m["build0"], m["build1"], m["send"], arrived]
        return {name: 1000 * (b - a) for name, a, b in zip(self.SEGMENTS, points, points[1:])}


class LoopLag:
    """A 10 ms ticker on the event loop: how late each wake-up is shows whether anything blocks the loop."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.lags.append(max(0.0, loop.time() - due))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def driver(tg: common.TelegramProcess, texts: list[str], gap: float, start: threading.Event,
           pushed_at: list[float]) -> None:
    """Push each command at its slot (open loop: a slow bot does not slow the arrivals)."""
    start.wait()
    t0 = time.monotonic()
    for i, text in enumerate(texts):
        delay = t0 + i * gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pushed_at.append(time.monotonic())
        tg.push(FIRST_CHAT + i, FIRST_CHAT + i, text)


async def run_bot(args: dict[str, Any], tg: common.TelegramProcess, workdir: Path, texts: list[str]) -> tuple[CycleInfo, list[float], LoopLag, common.LoadWatch]:
    """Start the bot as `pledgewatch run` does, run the cold cycle under the commands, stop it."""
    asyncio.get_running_loop().slow_callback_duration = 0.05  # only reported in --debug-loop runs
    config = load_config(workdir)
    runtime = Runtime(config_dir=workdir, db_path=workdir / "state.sqlite3", allow_private_hosts=True,
                      telegram_token=tg.token, telegram_chat_id=str(CHANNEL), admin_ids=(ADMIN,),
                      api_base_url=tg.base_url)
    clock = FakeClock(feedgen.NOW)
    cycle = CycleInfo()
    pushed_at: list[float] = []
    lag = LoopLag()
    async with open_core(config, runtime, clock) as core:
        await asyncio.to_thread(sync_toml_statuses, core.store, config.catalog, clock.now())
        service: Service | None = None
        services = BotServices(core.store, clock, lambda: service.config if service else config,
                               frozenset(runtime.admin_ids))
        # As bot/cli_run.py's run_forever: command replies through PTB's limiter (with retries), the outbox
        # through its own bot (make_bot: the limiter without retries; the sender keeps a 429's wait in SQLite).
        limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=20,
                                 group_time_period=60, max_retries=3)
        app = build_application(tg.token, base_url=tg.base_url, services=services, rate_limiter=limiter)
        outbox_bot = make_bot(tg.token, tg.base_url)
        async with polling(app, timeout=10), outbox_bot:
            service = await build_service(core, config, runtime, clock, TelegramTransport(outbox_bot))
            await warm_up(core.parser, tg)
            start = threading.Event()
            outcomes: list[FeedOutcome] = []
            poll_feed = core.poller.poll_feed
            n_feeds = sum(f.enabled for f in config.feeds.feeds)

            async def timed_poll_feed(feed: Feed, *, force: bool = False) -> FeedOutcome:
                """Each feed's poll, whichever tick starts it: the cold cycle runs from the first start to the last end."""
                if not cycle.started:
                    cycle.started = time.monotonic()
                    start.set()
                outcome = await poll_feed(feed, force=force)
                outcomes.append(outcome)
                if len(outcomes) == n_feeds:
                    cycle.ended = time.monotonic()
                    counts = ", ".join(f"{sum(o.result == r for o in outcomes)} {r}" for r in ("ok", "failed", "skipped")
                                       if any(o.result == r for o in outcomes))
                    cycle.detail = (f"{counts}; {sum(o.new_entries for o in outcomes)} new entries, "
                                    f"{sum(len(o.matches) for o in outcomes)} new matches")
                    cycle.done.set()
                return outcome

            core.poller.poll_feed = timed_poll_feed  # type: ignore[method-assign]
            thread = threading.Thread(target=driver, args=(tg, texts, args["gap"], start, pushed_at), daemon=True)
            thread.start()
            lag.start()
            jobs = Jobs(service)
            spy = common.PySpy("latency", gil_only=args.get("profile") == "gil") if args.get("profile") else None
            threads_before = common.thread_cpu()
            with common.LoadWatch("cold cycle") as load:
                jobs.start()
                await cycle.done.wait()
            cycle.threads = common.thread_cpu_delta(threads_before, common.thread_cpu())
            if spy is not None:
                spy.stop()
                spy.report()
                spy.report(thread_filter="MainThread", top=40)
            await asyncio.to_thread(thread.join)
            await wait_replies(tg, len(texts))
            await lag.stop()
            await jobs.stop()
    return cycle, pushed_at, lag, load


async def warm_up(parser: ParserPool, tg: common.TelegramProcess) -> None:
    """Start the parser workers and answer a few commands first: a running bot has done both long ago."""
    tiny = feedgen.Corpus(1, seed=1).body(0)
    await asyncio.gather(*(parser.parse(tiny, {"content-type": "application/rss+xml"}, "http://127.0.0.1/")
                           for _ in range(common.CORES)))
    for i in range(5):
        await asyncio.to_thread(tg.push, FIRST_CHAT - 1 - i, FIRST_CHAT - 1 - i, "/status sv-joint-intelligence-work")
    await wait_replies(tg, 5, warm=True)


async def wait_replies(tg: common.TelegramProcess, n: int, warm: bool = False, timeout: float = 60.0) -> None:
    """Wait until every pushed command has its reply (or the timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(tg.latencies)
        if sum(v is not None for k, v in got.items() if (k < FIRST_CHAT) == warm) >= n:
            return
        await asyncio.sleep(0.2)


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug-loop", action="store_true",
                        help="asyncio debug mode: log every callback that holds the loop over 50 ms (slows the bot: "
                             "for finding culprits, not for figures)")
    parser.add_argument("--trace", action="store_true",
                        help="split each reply's time into dispatch, queue, build, resume and send (wraps the "
                             "handler; diagnostics)")
    parser.add_argument("--profile", choices=("all", "gil"),
                        help="sample the bot's process with py-spy during the cycle (all: every running thread; gil: "
                             "only the thread holding the GIL) and print where its time goes; py-spy costs CPU too: "
                             "don't quote figures from a profiled run")


def main() -> int:
    args_ns = common.parse_args(__doc__.splitlines()[0], "300 feeds and 60 commands, under a minute", _extra)
    args = dict(QUICK if args_ns.quick else FULL, profile=args_ns.profile)
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    print(f"pledgewatch /status latency during a cold poll: {args['feeds']} feeds x {feedgen.ENTRIES_PER_FEED} "
          f"entries, {args['commands']} commands every {args['gap'] * 1000:.0f} ms; {common.machine_line()}")
    layout = feedgen.Corpus(args["feeds"], feedgen.DEFAULT_SEED)
    workdir = Path(tempfile.mkdtemp(prefix="pledgewatch-latency-"))
    try:
        with common.CorpusServer(args["feeds"], feedgen.DEFAULT_SEED) as feeds, \
                common.TelegramProcess(common.TelegramOptions(chats=((CHANNEL, "channel"),))) as tg:
            shutil.copy(common.ROOT / "commitments.toml", workdir / "commitments.toml")
            (workdir / "feeds.toml").write_text(common.feeds_toml(layout.feeds, feeds.url, common.INTERNATIONAL_FILTER),
                                                encoding="utf-8")
            ids = [c.id for c in load_config(workdir).catalog.commitments]
            texts = commands(ids, args["commands"])
            trace = Trace() if args_ns.trace else None
            if trace is not None:
                trace.install()
            cycle, pushed_at, lag, load = asyncio.run(run_bot(args, tg, workdir, texts), debug=args_ns.debug_loop)
            timings = tg.timings()
            latencies = {chat: (None if arrived is None else arrived - pushed) for chat, (pushed, arrived) in timings.items()}
            stats = tg.stats()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    inside = {FIRST_CHAT + i for i, t in enumerate(pushed_at) if cycle.started <= t <= cycle.ended}
    measured = {chat: value for chat, value in latencies.items() if chat in inside}
    answered = [v * 1000 for v in measured.values() if v is not None]
    every = [v * 1000 for chat, v in latencies.items() if chat >= FIRST_CHAT and v is not None]
    during = len(inside)
    print(f"cold cycle: {cycle.ended - cycle.started:.1f} s ({cycle.detail})")
    print(f"commands: {len(texts)} pushed, {len(every)} answered, {during} pushed while the cycle ran (measured); "
          f"the fake Bot API saw {stats['messages_sent']} sendMessage in all (channel posts included)")
    print(load.note())
    print(f"bot process CPU by thread during the cycle: {cycle.threads}")
    lags = [x * 1000 for x in lag.lags]
    rows = [["/status reply (push -> sendMessage)", len(answered), common.percentile(answered, 50),
             common.percentile(answered, 90), common.percentile(answered, 99), max(answered, default=float("nan"))],
            ["  every command, also after the cycle", len(every), common.percentile(every, 50),
             common.percentile(every, 90), common.percentile(every, 99), max(every, default=float("nan"))],
            ["event-loop lag (10 ms ticker)", len(lags), common.percentile(lags, 50), common.percentile(lags, 90),
             common.percentile(lags, 99), max(lags, default=float("nan"))]]
    print()
    common.print_table(["ms", "n", "p50", "p90", "p99", "max"], rows)
    if trace is not None:
        split = [(1000 * (arrived - pushed), seg) for chat, (pushed, arrived) in timings.items()
                 if chat >= FIRST_CHAT and arrived is not None and (seg := trace.segments(chat, pushed, arrived))]
        split.sort(key=lambda item: item[0])
        slow = split[-max(1, len(split) // 10):]
        print()
        common.print_table(["segment (ms)", "p50 all", "p99 all", "mean of slowest 10%"],
                           [[name, common.percentile([s[name] for _, s in split], 50),
                             common.percentile([s[name] for _, s in split], 99),
                             sum(s[name] for _, s in slow) / len(slow)] for name in Trace.SEGMENTS])
    print()
    p50, p99 = common.percentile(answered, 50), common.percentile(answered, 99)
    worst = max(answered, default=float("nan"))
    missing = len(measured) - len(answered)
    ok = p99 <= TARGET_P99_MS and not missing
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms: {p99:.0f} ms  {'PASS' if ok else 'MISS'}"
          + (f" ({missing} commands got no reply)" if missing else ""))
    print(common.result_line({"p50_ms": p50, "p99_ms": p99, "max_ms": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
