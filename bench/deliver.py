"""Benchmark: delivering a burst from the outbox within Telegram's flood limits, with none of them tripped.

    python bench/deliver.py            # 1,000 messages: 100 to the channel, 45 to each of 20 private chats
    python bench/deliver.py --quick    # 300 messages: 40 to the channel, 13 to each of 20 private chats

The real ``bot.sender.Sender`` (with ``RateLimits``) sends through the real ``TelegramTransport`` and a PTB bot
built as ``make_bot`` builds the outbox's (AIORateLimiter, no retries) to tests/support/fake_telegram.py, started in
its own process with ``enforce_limits=True``: it answers 429 whenever a request would break Telegram's limits
(1 message per second per chat, 20 per minute per group or channel, 30 per second overall, as sliding windows).

Time is shrunk so the run is short: every window, on both sides, is multiplied by ``--scale`` (default 0.1:
1 message per 0.1 s per chat, 20 per 6 s in the channel, 30 per 0.1 s overall), and so are PTB's limiter's
periods, the service's deliver tick (3 s in bot/jobs.py) and the sender's ``max_pause`` (5 s). Ratios are
what matter.

The messages are queued as a burst of headlines is: each story to the channel, then copies to subscribers'
private chats, in one outbox. The deliver job then runs on its tick until the outbox is empty. The theoretical
best for the mix is the longest time any one chat, or the overall limit, forces when every message is sent
as early as its windows allow (a channel: one per second *and* 20 per minute, so 100 messages need at least
4 min 19 s); the figure is that time over the time the fake server saw between its first and last sendMessage.

Last line: ``result: messages=... http_429=... rate_pct=...`` (targets: no 429, rate >= 90%).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ (common, feedgen); common adds the repo root

import common  # noqa: E402
from bot.notify import Message  # noqa: E402
from bot.outbox import enqueue, pending_count  # noqa: E402
from bot.richtext import Rich, a, b, i  # noqa: E402
from bot.sender import RateLimits, Sender  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.telegram_transport import TelegramTransport  # noqa: E402

TARGET_RATE_PCT = 90.0
CHANNEL = -1001234567890
PRIVATE = [10_000 + k for k in range(20)]
FULL = {"channel": 100, "per_private": 45}
QUICK = {"channel": 40, "per_private": 13}
DELIVER_TICK, MAX_PAUSE = 3.0, 5.0  # bot/jobs.py Intervals.deliver, Sender's default max_pause


def headline(n: int) -> Message:
    """A headline message of the usual size, with a link (HTML parsed by the fake server)."""
    rich = Rich().line("📰 ", b(f"Commitment {n % 37}: cut transit fees on Afghan trade"), f" (commitment-{n % 37})")
    rich.line("Deadline: by 31 Dec 2025 · overdue by 327 days · Status: in progress").blank()
    rich.line(a(f"Pakistan, Afghanistan agree to expand transit trade through Torkham ({n})",
                f"https://tribune.example/story/{n}"))
    rich.line(i("Express Tribune · 23 Nov 2026")).line("Matched: Pakistan, Afghanistan, transit, trade")
    return Message.from_rich(rich, "headline")


def queue(store: Store, size: dict[str, int], now: datetime) -> dict[str, int]:
    """The burst, in announce order: story k to the channel, then to the private chats that follow it."""
    counts = {str(CHANNEL): 0, **{str(p): 0 for p in PRIVATE}}
    total_private = size["per_private"] * len(PRIVATE)
    copies = [str(PRIVATE[k % len(PRIVATE)]) for k in range(total_private)]  # round-robin: equal shares
    per_story = math.ceil(total_private / size["channel"])
    with store.transaction() as tx:
        for story in range(size["channel"]):
            message = headline(story)
            for chat in [str(CHANNEL), *copies[story * per_story:(story + 1) * per_story]]:
                counts[chat] += enqueue(tx, chat, message, f"match:{story}", now)
    return counts


def earliest(n: int, windows: list[tuple[int, float]]) -> float:
    """The earliest the last of ``n`` messages can go (the first at 0) under sliding windows of ``(count, seconds)``:
    message k may go no sooner than ``s`` after message ``k - c``, for every window; sending each as early as
    allowed is optimal for one stream."""
    times: list[float] = []
    for k in range(n):
        times.append(max([0.0] + [times[k - c] + s for c, s in windows if k >= c]))
    return times[-1] if times else 0.0


def ideal_seconds(counts: dict[str, int], limits: RateLimits) -> tuple[float, str]:
    """The least time from first to last send the limits allow for this mix, and which limit binds.

    Each chat alone (a channel is bound by both its per-chat and its per-group window), and all messages
    under the overall window; the largest is a lower bound on the time (an upper bound on the rate)."""
    bounds = {"overall 30/s": earliest(sum(counts.values()), [limits.overall])}
    for chat, n in counts.items():
        group = chat.startswith("-")
        windows = [limits.per_chat, limits.per_group] if group else [limits.per_chat]
        bounds[f"{'channel' if group else 'private chat'} {chat}"] = earliest(n, windows)
    binding = max(bounds, key=lambda k: bounds[k])
    return bounds[binding], binding


async def run(size: dict[str, int], scale: float, tg: common.TelegramProcess, workdir: Path,
              limits: RateLimits, variant: argparse.Namespace) -> tuple[dict[str, int], int, float]:
    """Queue the burst and run the deliver job on its (scaled) tick until the outbox is empty."""
    from telegram.ext import AIORateLimiter, ExtBot

    store = Store.open(workdir / "state.sqlite3")
    counts = queue(store, size, datetime.now(timezone.utc))
    # bot/telegram_transport.py's make_bot, with its limiter's periods shrunk like everything else.
    limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1 * scale, group_max_rate=20,
                             group_time_period=60 * scale, max_retries=0)
    bot = ExtBot(tg.token, base_url=tg.base_url, rate_limiter=limiter)
    rounds = 0
    async with bot:
        sender = Sender(store, TelegramTransport(bot), limits=limits, max_pause=MAX_PAUSE * scale, batch=variant.batch)
        started = time.monotonic()
        tick = DELIVER_TICK * scale
        while await asyncio.to_thread(pending_count, store):
            rounds += 1
            await sender.deliver_due(datetime.now(timezone.utc))
            # APScheduler's interval trigger with max_instances=1: ticks that fire during a round are skipped,
            # so the next round starts at the first tick after this one ended.
            elapsed = time.monotonic() - started
            await asyncio.sleep((math.floor(elapsed / tick) + 1) * tick - elapsed)
            if time.monotonic() - started > 600:
                break
    store.close()
    return counts, rounds, time.monotonic() - started


def main() -> int:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--scale", type=float, default=0.1,
                            help="multiply every time window (limits, tick, max_pause) by this (default 0.1)")
        parser.add_argument("--batch", type=int, default=100,
                            help="the Sender's batch (items read from the outbox per round; the bot uses 100)")

    args = common.parse_args(__doc__.splitlines()[0], "300 messages, under a minute", extra)
    size = QUICK if args.quick else FULL
    f = args.scale
    limits = RateLimits(per_chat=(1, 1.0 * f), per_group=(20, 60.0 * f), overall=(30, 1.0 * f))
    logging.basicConfig(level=logging.WARNING, format="  %(levelname)s %(name)s: %(message)s")
    total = size["channel"] + size["per_private"] * len(PRIVATE)
    print(f"pledgewatch delivery benchmark: {total} messages ({size['channel']} to one channel, {size['per_private']} "
          f"to each of {len(PRIVATE)} private chats); time x{f:g}: 1 msg/{f:g} s per chat, 20/{60 * f:g} s per "
          f"channel, 30/{f:g} s overall, deliver tick {DELIVER_TICK * f:g} s; Sender batch {args.batch}"
          f"; {common.machine_line()}")
    options = common.TelegramOptions(enforce_limits=True, per_chat=limits.per_chat, per_group=limits.per_group,
                                     overall=limits.overall,
                                     chats=((CHANNEL, "channel"), *((p, "private") for p in PRIVATE)))
    with tempfile.TemporaryDirectory(prefix="pledgewatch-deliver-") as tmp, common.TelegramProcess(options) as tg:
        with common.LoadWatch("delivery") as load:
            counts, rounds, wall = asyncio.run(run(size, f, tg, Path(tmp), limits, args))
        sends = tg.sends()
        stats = tg.stats()

    ok = [(at, chat) for at, chat, status in sends if status == 200]
    span = (ok[-1][0] - ok[0][0]) if len(ok) > 1 else float("nan")
    ideal, binding = ideal_seconds(counts, limits)
    rate_pct = 100 * ideal / span if span else float("nan")
    by_kind = {"channel": [t for t, c in ok if c == CHANNEL], "private": [t for t, c in ok if c != CHANNEL]}
    print(load.note())
    if by_kind["channel"]:
        t0 = ok[0][0]
        shown = by_kind["channel"][:24]
        print("channel sends at (s): " + " ".join(f"{t - t0:.2f}" for t in shown)
              + (" ..." if len(by_kind["channel"]) > len(shown) else ""))
    print(f"{rounds} deliver rounds; {len(ok)} sendMessage accepted, {stats['flood_429']} answered 429, "
          f"{len(sends) - len(ok) - stats['flood_429']} other errors")
    print()
    rows = []
    for kind, times in by_kind.items():
        n = len(times)
        least = ideal_seconds({str(CHANNEL): n} if kind == "channel" else
                              {str(p): n // len(PRIVATE) for p in PRIVATE}, limits)[0]
        rows.append([kind, n, (times[-1] - times[0]) if n > 1 else 0.0, least])
    rows.append(["all", len(ok), span, ideal])
    common.print_table(["messages to", "n", "first->last s", "least the limits allow s"], rows)
    print()
    print(f"binding limit: {binding}; theoretical best {ideal:.2f} s ({len(ok) / ideal if ideal else 0:.1f} msg/s), "
          f"achieved {span:.2f} s ({len(ok) / span:.1f} msg/s) = {rate_pct:.0f}% of what the limits allow")
    print(f"targets: zero 429s: {stats['flood_429']}  {'PASS' if stats['flood_429'] == 0 else 'MISS'}; "
          f"rate >= {TARGET_RATE_PCT:.0f}%: {rate_pct:.0f}%  {'PASS' if rate_pct >= TARGET_RATE_PCT else 'MISS'}")
    print(common.result_line({"messages": len(ok), "http_429": int(stats["flood_429"]), "rate_pct": rate_pct}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
