"""The service's jobs, each orchestration only: poll what is due, announce, remind, digest, deliver, reload.

``Service`` holds the current configuration and swaps it on a valid reload; the scheduler (``bot.jobs``)
and ``run --once`` call the same methods, so cron users and the long-running bot behave identically.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bot.agenda import standing
from bot.announce import Audience, announce
from bot.clock import Clock
from bot.config import COMMITMENTS_FILE, FEEDS_FILE, check_config
from bot.digest import digest_message
from bot.errors import Problem
from bot.history import last_matched_at, latest_headlines
from bot.ledger import (digest_due, digest_ref, digest_since, due_reminders, headlines_since, record_digest,
                        record_reminder, status_before)
from bot.messages import config_problems_message, feed_failing_message
from bot.model import Commitment, Config, Feed, Status
from bot.notify import Message
from bot.outbox import enqueue
from bot.poller import FeedOutcome, Poller, PollSummary, due_feeds
from bot.reminder_messages import reminder_message
from bot.sender import DeliveryStats, Sender
from bot.statuses import changes_since, effective_statuses, sync_toml_statuses
from bot.store import Store, from_db
from bot.subscriptions import subscribers

log = logging.getLogger("pledgewatch.service")


@dataclass(frozen=True)
class RunReport:
    """What one ``run --once`` did, for its closing lines."""

    poll: PollSummary
    announced: int
    reminders: int
    digest: bool
    delivery: DeliveryStats


@dataclass
class Service:
    """The live configuration plus every job that acts on it."""

    config: Config
    config_dir: Path
    store: Store
    clock: Clock
    poller: Poller
    sender: Sender
    audience: Audience
    _signature: tuple[object, ...] = field(default=(), init=False)
    _reported: tuple[str, ...] = field(default=(), init=False)
    _polling: dict[str, asyncio.Task[FeedOutcome]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._signature = self._files_signature()
        self.poller.on_failing = self._feed_failing

    # status -----------------------------------------------------------------------------------------

    def status_of(self) -> Callable[[Commitment], Status]:
        """The effective status of each commitment right now (TOML value or a later /mark)."""
        statuses = effective_statuses(self.store, self.config.catalog.commitments)
        return lambda c: statuses.get(c.id, c.status)

    def _chats(self, commitment_id: str | None) -> list[str]:
        extra = subscribers(self.store, commitment_id) if commitment_id else []
        return [self.audience.main_chat, *(c for c in extra if c != self.audience.main_chat)]

    def _enqueue_admins(self, message: Message, ref: str) -> None:
        """Admin notices go to each admin's private chat; without admins (console mode) to the main chat."""
        chats = [str(a) for a in sorted(self.audience.admin_ids)] or [self.audience.main_chat]
        with self.store.transaction() as tx:
            for chat in chats:
                enqueue(tx, chat, message, ref, self.clock.now())

    # jobs -------------------------------------------------------------------------------------------

    async def poll(self, *, due_only: bool = True, force: bool = False,
                   progress: Callable[[FeedOutcome], None] | None = None) -> PollSummary:
        """Poll due feeds (or every enabled feed); matches are stored, ready for ``announce``."""
        config = self.config
        if due_only:
            states = await asyncio.to_thread(self.store.feed_states)
            feeds = due_feeds(config, states, self.clock.now())
        else:
            feeds = [f for f in config.feeds.feeds if f.enabled]
        return await self.poller.poll(feeds, force=force, progress=progress)

    async def poll_and_announce(self, patience: float | None = None) -> int:
        """The scheduled poll tick: start each due feed in its own task, then queue messages for what matched.

        The tick waits for the feeds it started at most ``patience`` seconds (None: until all are done) and
        never starts a feed that is still being fetched, so a feed that hangs or trickles until its timeout
        cannot hold back the other feeds' headlines; whatever it brings later is announced by a later tick."""
        states = await asyncio.to_thread(self.store.feed_states)
        started: list[asyncio.Task[FeedOutcome]] = []
        for feed in due_feeds(self.config, states, self.clock.now()):
            if feed.id not in self._polling:
                task = asyncio.create_task(self.poller.poll_feed(feed), name=f"poll {feed.id}")
                self._polling[feed.id] = task
                task.add_done_callback(partial(self._polled, feed.id))
                started.append(task)
        if started:
            await asyncio.wait(started, timeout=patience)
        unannounced = await asyncio.to_thread(
            self.store.query, "SELECT 1 FROM matches WHERE announced = 0 AND backfill = 0 LIMIT 1")
        return await self.announce() if unannounced else 0

    def _polled(self, feed_id: str, task: asyncio.Task[FeedOutcome]) -> None:
        """Forget a finished feed poll, so the next tick that finds the feed due may start it again."""
        if self._polling.get(feed_id) is task:
            del self._polling[feed_id]

    async def stop_polls(self, timeout: float = 3.0) -> None:
        """Cancel feed polls still in flight (a shutdown must not wait for a hanging feed's timeout)."""
        running = list(self._polling.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)

    async def announce(self) -> int:
        """Queue every unannounced match (grouped per commitment when a poll brought a burst)."""
        status_of = self.status_of()
        by_id = self.config.catalog.by_id
        return await asyncio.to_thread(announce, self.store, self.config, self.audience, self.clock.now(),
                                       lambda cid: status_of(by_id[cid]))

    async def remind(self) -> int:
        """Queue each commitment's most recent unsent reminder, recording it in the ledger in the same transaction."""
        return await asyncio.to_thread(self._remind)

    def _remind(self) -> int:
        now, catalog = self.clock.now(), self.config.catalog
        settings, status_of = catalog.settings, self.status_of()
        names = {f.id: f.name or f.id for f in self.config.feeds.feeds}
        row = self.store.query("SELECT MIN(first_polled) FROM feed_state")
        # Silence is only news once we have actually been watching (some feed polled successfully) that long.
        watching_since = from_db(row[0][0]) if row and row[0][0] else now
        queued = 0
        for due in due_reminders(self.store, catalog, status_of, now):
            c = due.commitment
            item = standing(c, now, settings.tz, status_of)
            message = reminder_message(item, due.slot, latest_headlines(self.store, c.id, 3),
                                       last_matched_at(self.store, c.id), settings.silence_after, now,
                                       tz=settings.tz, feed_names=names,
                                       agreement=catalog.agreements_by_id.get(c.agreement), watching_since=watching_since)
            chats = self._chats(c.id)
            with self.store.transaction() as tx:
                if record_reminder(tx, c.id, due.slot, now):
                    for chat in chats:
                        enqueue(tx, chat, message, due.ref, now)
                    queued += 1
        return queued

    async def digest(self) -> bool:
        """Queue the period's digest once, when its local time has come."""
        return await asyncio.to_thread(self._digest)

    def _digest(self) -> bool:
        now, catalog = self.clock.now(), self.config.catalog
        period = digest_due(self.store, catalog.settings, now)
        if period is None:
            return False
        since = digest_since(self.store, catalog.settings, now)
        message = digest_message(catalog, self.status_of(), now, headlines_today=headlines_since(self.store, since),
                                 status_changes=changes_since(self.store, since), period=period,
                                 status_before=status_before(self.store, since),
                                 feed_names={f.id: f.name or f.id for f in self.config.feeds.feeds})
        with self.store.transaction() as tx:
            if not record_digest(tx, period, now):
                return False
            if message is not None:
                enqueue(tx, self.audience.main_chat, message, digest_ref(period), now)
        return message is not None

    async def deliver(self) -> DeliveryStats:
        """Send whatever the outbox has due, within Telegram's limits."""
        return await self.sender.deliver_due(self.clock.now())

    async def run_once(self, *, force: bool = False) -> RunReport:
        """All work that is due now, once: the cron-style main job."""
        await asyncio.to_thread(sync_toml_statuses, self.store, self.config.catalog, self.clock.now())
        summary = await self.poll(force=force)
        announced = await self.announce()
        reminders = await self.remind()
        digest = await self.digest()
        delivery = await self.deliver()
        while delivery.sent and not delivery.busy and (more := await self.deliver()).sent:
            delivery = more
        return RunReport(summary, announced, reminders, digest, delivery)

    # live reload --------------------------------------------------------------------------------------

    def _files_signature(self) -> tuple[object, ...]:
        out: list[object] = []
        for name in (COMMITMENTS_FILE, FEEDS_FILE):
            try:
                st = (self.config_dir / name).stat()
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                out.append(None)
        return tuple(out)

    async def reload_if_changed(self) -> bool:
        """Pick up edits to either TOML file; an invalid edit keeps the last good config and is reported."""
        signature = self._files_signature()
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            config, problems = await asyncio.to_thread(check_config, self.config_dir)
        except Exception as exc:  # a checker bug must still be reported, and the last good config kept
            log.exception("checking the edited configuration failed")
            problems = [Problem(str(self.config_dir), f"the edit could not be checked ({type(exc).__name__}: {exc}); "
                                "run `pledgewatch check`")]
        if problems:
            self._report(problems)
            return False
        self._reported = ()
        old = self.config
        self.poller.configure(config)
        self.config = config
        await asyncio.to_thread(sync_toml_statuses, self.store, config.catalog, self.clock.now())
        log.info("reloaded configuration: %s", describe_change(old, config))
        return True

    def _report(self, problems: list[Problem]) -> None:
        texts = tuple(str(p) for p in problems)
        for text in texts:
            log.error("config: %s", text)
        if texts == self._reported:
            return
        self._reported = texts
        log.error("keeping the last good configuration (%d problem(s) in the edit)", len(texts))
        self._enqueue_admins(config_problems_message(texts), f"config:{hash(texts) & 0xffffffff:x}:{self.clock.now():%Y%m%d%H%M%S}")

    def _feed_failing(self, feed: Feed, state: object) -> None:
        since = getattr(state, "failing_since", None) or self.clock.now()
        message = feed_failing_message(feed.id, feed.url, since, getattr(state, "last_error", None))
        self._enqueue_admins(message, f"feed-failing:{feed.id}:{since:%Y%m%d%H%M}")


def describe_change(old: Config, new: Config) -> str:
    """A one-line summary of what a reload changed, for the log."""
    def diff(a: dict[str, object], b: dict[str, object], what: str) -> list[str]:
        added, removed = sorted(b.keys() - a.keys()), sorted(a.keys() - b.keys())
        changed = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
        return [f"{what} {label}: {', '.join(ids)}" for label, ids in (("added", added), ("removed", removed),
                                                                      ("changed", changed)) if ids]
    parts = diff(dict(old.catalog.by_id), dict(new.catalog.by_id), "commitments")
    parts += diff(dict(old.feeds.by_id), dict(new.feeds.by_id), "feeds")
    if old.catalog.settings != new.catalog.settings:
        parts.append("settings changed")
    return "; ".join(parts) or "no effective change"

