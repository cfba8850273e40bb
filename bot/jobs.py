"""The long-running schedule, on APScheduler 3's AsyncIOScheduler in the bot's own event loop.

Due times live in SQLite, not in APScheduler's job store: every job is a short periodic tick that asks
the database what is due (feeds by ``next_poll``, reminders by the ledger, the digest by its period), so
a restart loses nothing and 1,000 feeds with jittered due times never fire in the same second.
APScheduler 3 silently drops a run that misses its time by more than ``misfire_grace_time`` (default
1 s), so each job sets one; ``coalesce`` makes a stalled loop run a job once rather than N times, and
``max_instances=1`` keeps a long poll from overlapping itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.history import prune
from bot.service import Service

log = logging.getLogger("pledgewatch.jobs")
RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class Intervals:
    """Seconds between ticks; each tick does only what is due."""

    poll: float = 15
    deliver: float = 3
    remind: float = 60
    digest: float = 60
    reload: float = 5  # edits are picked up within 10 s
    prune: float = 86400


def intervals_for(service: Service) -> Intervals:
    """Tick often enough for the shortest feed interval (a third of it), between 1 and 15 seconds."""
    shortest = min((f.interval.total_seconds() for f in service.config.feeds.feeds if f.enabled), default=900.0)
    return Intervals(poll=max(1.0, min(15.0, shortest / 3)))


class Jobs:
    """Starts the ticks and stops them cleanly, cancelling any run in flight."""

    def __init__(self, service: Service, intervals: Intervals | None = None):
        self.service = service
        self.intervals = intervals or intervals_for(service)
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self._running: set[asyncio.Task[object]] = set()

    def start(self) -> None:
        s, i = self.service, self.intervals
        first = datetime.now(timezone.utc)  # APScheduler runs on wall time: this edge is where it is read

        async def do_prune() -> None:
            deleted = await asyncio.to_thread(prune, s.store, s.clock.now(), RETENTION)
            log.info("pruned %d old entries", deleted)

        async def poll() -> None:
            await s.poll_and_announce(patience=i.poll)  # a slow feed finishes in the background

        ticks: list[tuple[str, float, Callable[[], Awaitable[object]]]] = [
            ("poll", i.poll, poll), ("deliver", i.deliver, s.deliver), ("remind", i.remind, s.remind),
            ("digest", i.digest, s.digest), ("reload", i.reload, s.reload_if_changed), ("prune", i.prune, do_prune)]
        for name, seconds, func in ticks:
            self.scheduler.add_job(self._guarded(name, func), "interval", seconds=seconds, id=name, name=name,
                                   coalesce=True, max_instances=1, misfire_grace_time=max(30, int(seconds)),
                                   next_run_time=None if name == "prune" else first)
        self.scheduler.start()

    def _guarded(self, name: str, func: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """Log a failing run and carry on: one bad tick must not stop the service."""
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)  # type: ignore[arg-type]
            try:
                await func()
            except asyncio.CancelledError:
                log.info("job %s cancelled by shutdown", name)
            except Exception:
                log.exception("job %s failed; it runs again at its next tick", name)
            finally:
                if task is not None:
                    self._running.discard(task)  # type: ignore[arg-type]
        return run

    async def stop(self, timeout: float = 3.0) -> None:
        """Stop scheduling, cancel runs in flight and wait briefly for them to unwind."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        running = list(self._running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)
        await self.service.stop_polls(timeout)
