"""`pledgewatch poll --once`: poll every enabled feed now, show progress, print matches and a summary."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.app import Runtime, open_service, transport_for
from bot.cli_context import Context
from bot.poller import FeedOutcome, PollSummary


class Progress:
    """A one-line progress bar on a terminal, plain lines otherwise (logs, CI, pipes)."""

    def __init__(self, total: int, stream: TextIO, tty: bool):
        self.total, self.stream, self.tty, self.done = total, stream, tty, 0

    def __call__(self, outcome: FeedOutcome) -> None:
        self.done += 1
        if self.tty:
            width = 30
            filled = int(width * self.done / max(1, self.total))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} feeds")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            detail = f" ({outcome.reason})" if outcome.reason else ""
            extra = f", {outcome.new_entries} new, {len(outcome.matches)} match(es)" if outcome.result == "ok" else ""
            self.stream.write(f"[{self.done}/{self.total}] {outcome.feed_id}: {outcome.result}{detail}{extra}\n")
        self.stream.flush()


def summary_text(summary: PollSummary) -> str:
    """The closing summary: counts, then every feed that failed or was skipped, with its reason."""
    counts = [f"{summary.count(r)} {r}" for r in ("ok", "not modified", "unchanged", "failed", "skipped", "disabled")
              if summary.count(r)]
    lines = [f"Polled {len(summary.outcomes)} feed(s) in {summary.seconds:.1f} s: {', '.join(counts) or 'nothing to do'}",
             f"New entries: {summary.new_entries}; new matches: {len(summary.matches)}"]
    for o in summary.outcomes:
        if o.result in ("failed", "skipped", "disabled"):
            lines.append(f"  {o.result:8} {o.feed_id}: {o.reason}")
    return "\n".join(lines)


async def poll_once(ctx: Context, runtime: Runtime, force: bool) -> int:
    """Load, poll every enabled feed, announce and deliver, summarise; only a bad config or database fails."""
    config = ctx.load()
    if config is None:
        return 1
    feeds = [f for f in config.feeds.feeds if f.enabled]
    async with transport_for(runtime, ctx.out) as transport, open_service(config, runtime, ctx.clock, transport) as service:
        tty = ctx.out is sys.stdout and sys.stdout.isatty()
        progress = Progress(len(feeds), sys.stderr if tty else ctx.out, tty)
        summary = await service.poll(due_only=False, force=force, progress=progress)
        await service.announce()
        delivery = await service.deliver()
        print(summary_text(summary), file=ctx.out)
        if delivery.failed or delivery.retried:
            print(f"Messages: {delivery.sent} sent, {delivery.retried} to retry, {delivery.failed} failed", file=ctx.out)
    return 0


def cmd_poll(ctx: Context) -> int:
    """Poll every enabled feed once, whatever its interval."""
    runtime = Runtime.from_env(ctx.env, ctx.config_dir, ctx.args.db)
    return asyncio.run(poll_once(ctx, runtime, ctx.args.force))
