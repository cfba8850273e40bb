"""`pledgewatch run` (the long-running bot) and `pledgewatch run --once` (all due work, then exit)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram.ext import AIORateLimiter

from bot.app import Runtime, build_service, open_core, open_service, transport_for
from bot.cli_context import Context
from bot.cli_poll import summary_text
from bot.jobs import Jobs
from bot.ledger import next_reminder
from bot.service import RunReport, Service
from bot.statuses import sync_toml_statuses
from bot.telegram_app import BotServices, build_application, polling
from bot.telegram_transport import ConsoleTransport, TelegramTransport, make_bot

log = logging.getLogger("pledgewatch.run")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def loaded_line(service: Service, runtime: Runtime) -> str:
    """What the service loaded, printed at start so an operator sees at once what it watches."""
    cat, feeds = service.config.catalog, service.config.feeds.feeds
    nxt = next_reminder(cat, cat.settings, service.status_of(), service.clock.now())
    where = f"telegram chat {runtime.telegram_chat_id} (long polling)" if runtime.telegram_token else "console (no TELEGRAM_BOT_TOKEN)"
    return (f"loaded {len(cat.agreements)} agreements, {len(cat.commitments)} commitments, {len(feeds)} feeds "
            f"({sum(f.enabled for f in feeds)} enabled); mode: {where}; database: {runtime.db_path}; "
            + (nxt.line(cat.settings) if nxt else "no reminders planned"))


def report_text(report: RunReport) -> str:
    d = report.delivery
    lines = [summary_text(report.poll),
             f"Queued: {report.announced} headline message(s), {report.reminders} reminder(s)"
             + (", the digest" if report.digest else ""),
             f"Delivered: {d.sent} message(s)" + (f"; {d.retried} to retry" if d.retried else "")
             + (f"; {d.failed} failed" if d.failed else "") + (f"; {d.deferred} left for the next run (flood limits)" if d.deferred else "")]
    return "\n".join(lines)


async def run_once(ctx: Context, runtime: Runtime) -> int:
    """Poll due feeds, send due reminders and the digest, deliver the outbox, exit."""
    config = ctx.load()
    if config is None:
        return 1
    async with transport_for(runtime, ctx.out) as transport, open_service(config, runtime, ctx.clock, transport) as service:
        print(loaded_line(service, runtime), file=ctx.out)
        report = await service.run_once(force=ctx.args.force)
        print(report_text(report), file=ctx.out)
    return 0


@asynccontextmanager
async def _stop_on_signals(stop: asyncio.Event) -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def run_forever(ctx: Context, runtime: Runtime) -> int:
    """The bot: commands answered by long polling (with a token) and every job on its schedule until a signal."""
    config = ctx.load()
    if config is None:
        return 1
    stop = asyncio.Event()
    async with _stop_on_signals(stop), open_core(config, runtime, ctx.clock) as core:
        await asyncio.to_thread(sync_toml_statuses, core.store, config.catalog, ctx.clock.now())
        service: Service | None = None
        if runtime.telegram_token:
            services = BotServices(core.store, ctx.clock, lambda: service.config if service else config, runtime.admin_ids)
            # Command replies: PTB's limiter paces them and retries a 429 (it retries nothing unless
            # max_retries is set). The outbox has its own bot without retries: its sender keeps a 429's wait
            # in SQLite per chat, which can be an hour, instead of sleeping inside a request.
            limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=20,
                                     group_time_period=60, max_retries=3)
            app = build_application(runtime.telegram_token, base_url=runtime.api_base_url, services=services,
                                    rate_limiter=limiter)
            outbox_bot = make_bot(runtime.telegram_token, runtime.api_base_url)
            async with polling(app), outbox_bot:
                service = await build_service(core, config, runtime, ctx.clock, TelegramTransport(outbox_bot))
                await _serve(service, runtime, stop, ctx)
        else:
            service = await build_service(core, config, runtime, ctx.clock, ConsoleTransport(ctx.out))
            await _serve(service, runtime, stop, ctx)
    log.info("stopped cleanly")
    return 0


async def _serve(service: Service, runtime: Runtime, stop: asyncio.Event, ctx: Context) -> None:
    line = loaded_line(service, runtime)
    print(line, file=ctx.out, flush=True)
    log.info(line)
    jobs = Jobs(service)
    jobs.start()
    try:
        await stop.wait()
        log.info("stopping: signal received")
    finally:
        await jobs.stop()


def cmd_run(ctx: Context) -> int:
    """Run the bot, or with --once do all due work and exit."""
    runtime = Runtime.from_env(ctx.env, ctx.config_dir, ctx.args.db)
    return asyncio.run(run_once(ctx, runtime) if ctx.args.once else run_forever(ctx, runtime))
