"""Deliver due outbox items to Telegram at Telegram's pace, settling each one in SQLite.

Every item ends as *sent* (Telegram's message_id recorded), stays *pending* (with the time of
its next attempt, or behind its chat's 429 wait), or becomes *failed* (kept with its error and
listed for admins). Nothing is dropped.

Delivery is at-least-once, and there is exactly one window in which a message can arrive twice:
**from the moment Telegram stores the message until our** ``mark_sent`` **commits**. The Bot API
has no idempotency key, so whatever interrupts that window leaves the item pending and it is
sent again: the process crashing or being killed mid-send, the SQLite write of ``mark_sent``
failing, or the HTTP response being lost after Telegram accepted the request (a connection
reset, a read timeout, a proxy's 5xx). Those last three reach us as :class:`Transient`; we cannot
tell "never arrived" from "arrived, answer lost", and resending is the only way not to lose the
message. Every other outcome (429, 403, 400, migration) is Telegram saying it did *not* store
the message, so retrying it cannot duplicate. We keep the window as short as we can:
``mark_sent`` commits right after each send, before the next one starts.

Pacing is ours: at most one message per second per chat, 20 per minute per group or channel
(negative ids) and 30 per second overall, as sliding windows over the times our requests
*completed* (never earlier than Telegram saw them). A wait longer than ``max_pause`` ends the
round; the rest goes in the next call. The sleep and the monotonic clock are injected.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from bot import outbox
from bot.clock import require_aware
from bot.notify import Message
from bot.outbox import OutboxItem
from bot.richtext import Rich, b, code
from bot.store import Store
from bot.telegram_transport import (BadEntities, BadRequest, Delivery, FloodWait, Forbidden, Migrated, Sent,
                                    Transient, Transport)

log = logging.getLogger("pledgewatch.sender")
Window = tuple[int, float]  # (messages, seconds)


@dataclass(frozen=True)
class RateLimits:
    """Telegram's published flood limits as sliding windows; tests shrink the windows."""

    per_chat: Window = (1, 1.0)
    per_group: Window = (20, 60.0)
    overall: Window = (30, 1.0)


UNLIMITED = RateLimits((10**9, 1.0), (10**9, 1.0), (10**9, 1.0))  # the console has no flood limits


@dataclass(frozen=True)
class DeliveryStats:
    """What one round did, for logs and tests."""

    sent: int = 0
    retried: int = 0  # transient errors, item rescheduled with backoff
    failed: int = 0
    flood_waits: int = 0  # 429s: chat blocked, item untouched
    disabled: int = 0
    migrated: int = 0
    plain_fallbacks: int = 0
    deferred: int = 0  # due but left for the next round by pacing
    busy: bool = False  # another round was running; this call did nothing

    @property
    def attempted(self) -> int:
        return self.sent + self.retried + self.failed + self.flood_waits + self.disabled + self.migrated


def backoff(attempts: int, base: timedelta = timedelta(seconds=30), cap: timedelta = timedelta(hours=1)) -> timedelta:
    """Delay before the next try after ``attempts`` transient failures: doubling, capped."""
    return min(cap, base * (1 << min(max(attempts - 1, 0), 30)))  # bounded: no overflow however many


class Pacer:
    """Sliding-window rate limits per chat, per group and overall, on an injected monotonic clock."""

    def __init__(self, limits: RateLimits, monotonic: Callable[[], float]):
        self.limits = limits
        self._monotonic = monotonic
        self._overall: collections.deque[float] = collections.deque()
        self._chats: dict[str, collections.deque[float]] = {}
        self._groups: dict[str, collections.deque[float]] = {}

    def wait(self, chat_id: str) -> float:
        """Seconds to wait before a message to ``chat_id`` keeps within every limit."""
        now = self._monotonic()
        waits = [_window_wait(self._overall, self.limits.overall, now),
                 _window_wait(self._chats.get(chat_id), self.limits.per_chat, now)]
        if outbox.chat_kind(chat_id) != "private":
            waits.append(_window_wait(self._groups.get(chat_id), self.limits.per_group, now))
        return max(waits)

    def record(self, chat_id: str) -> None:
        """Count one request to ``chat_id``, at the time it completed."""
        now = self._monotonic()
        self._overall.append(now)
        self._chats.setdefault(chat_id, collections.deque()).append(now)
        if outbox.chat_kind(chat_id) != "private":
            self._groups.setdefault(chat_id, collections.deque()).append(now)
        if len(self._chats) > 1024:
            for table, (_, span) in ((self._chats, self.limits.per_chat), (self._groups, self.limits.per_group)):
                for key in [k for k, q in table.items() if q[-1] <= now - span]:
                    del table[key]


def _window_wait(window: collections.deque[float] | None, limit: Window, now: float) -> float:
    count, span = limit
    if window is None:
        return 0.0
    while window and window[0] <= now - span:
        window.popleft()
    return 0.0 if len(window) < count else max(0.0, window[-count] + span - now)


class Sender:
    """Takes due items from the outbox and settles each through a :class:`Transport`."""

    def __init__(self, store: Store, transport: Transport, *, admin_chat_ids: Sequence[str | int] = (),
                 limits: RateLimits = RateLimits(), sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic, max_attempts: int = 8,
                 backoff_base: timedelta = timedelta(seconds=30), backoff_cap: timedelta = timedelta(hours=1),
                 batch: int = 100, max_pause: float = 5.0):
        self.store = store
        self.transport = transport
        self.admin_chat_ids = tuple(outbox.normalize_chat_id(a) for a in admin_chat_ids)
        self.pacer = Pacer(limits, monotonic)
        self.max_attempts = max_attempts
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.batch, self.max_pause = batch, max_pause
        self._sleep = sleep
        self._monotonic = monotonic
        self._lock = asyncio.Lock()

    async def deliver_due(self, now: datetime) -> DeliveryStats:
        """One round: send what is due at ``now``; a call during another round returns at once (busy)."""
        now = require_aware(now, "now")
        if self._lock.locked():
            return DeliveryStats(busy=True)
        async with self._lock:
            items = await asyncio.to_thread(outbox.due, self.store, now, self.batch)
            if not items:
                return DeliveryStats()
            round_ = _Round(now, self._monotonic(), {f.name: 0 for f in fields(DeliveryStats) if f.name != "busy"})
            for item in items:
                round_.queues.setdefault(item.chat_id, collections.deque()).append(item)
            while round_.queues:
                chat_id, wait = min(((c, self.pacer.wait(c)) for c in round_.queues),
                                    key=lambda cw: (cw[1], round_.queues[cw[0]][0].id))
                if wait > self.max_pause:
                    round_.tally["deferred"] += sum(len(q) for q in round_.queues.values())
                    break
                if wait > 0:
                    await self._sleep(wait)
                queue = round_.queues[chat_id]
                item = queue.popleft()
                if not queue:
                    del round_.queues[chat_id]
                if not await self._attempt(item, round_):
                    round_.tally["deferred"] += sum(len(q) for q in round_.queues.values())
                    break
            counts: dict[str, Any] = dict(round_.tally)
            return DeliveryStats(**counts)

    async def _attempt(self, item: OutboxItem, round_: _Round) -> bool:
        """Send one item and settle it; False ends the round (Telegram or the network is unwell).

        A shutdown (the round's task cancelled) never aborts a request in flight: Telegram may already have
        stored the message, so the request is finished and its outcome recorded before the cancellation goes
        on; otherwise a clean stop would leave an accepted message pending, to be sent again after a restart.
        """
        request = asyncio.ensure_future(self._send(item))
        try:
            delivery = await asyncio.shield(request)
        except asyncio.CancelledError:
            await self._settle(item, await request, round_)
            raise
        return await self._settle(item, delivery, round_)

    async def _send(self, item: OutboxItem) -> Delivery:
        """The transport's answer; a transport bug must not strand the item, so it counts as transient."""
        try:
            return await self.transport.send(item)
        except Exception as exc:
            log.exception("outbox item %d to chat %s: the transport raised", item.id, item.chat_id)
            return Transient(f"{type(exc).__name__}: {exc}")

    async def _settle(self, item: OutboxItem, delivery: Delivery, round_: _Round) -> bool:
        """Record one send's outcome in the outbox; False ends the round."""
        self.pacer.record(item.chat_id)
        at = round_.now + timedelta(seconds=self._monotonic() - round_.started)
        tally, store = round_.tally, self.store
        match delivery:
            case Sent(message_id=message_id):
                await asyncio.to_thread(outbox.mark_sent, store, item.id, message_id, at)
                tally["sent"] += 1
            case FloodWait(seconds=seconds):
                log.info("chat %s: Telegram asks us to wait %.0f s (429); holding the chat", item.chat_id, seconds)
                await asyncio.to_thread(outbox.block_chat, store, item.chat_id, at + timedelta(seconds=seconds), now=at)
                round_.queues.pop(item.chat_id, None)
                tally["flood_waits"] += 1
            case Transient(error=error):
                if item.attempts + 1 >= self.max_attempts:
                    log.warning("outbox item %d to chat %s failed for good: %s", item.id, item.chat_id, error)
                    await asyncio.to_thread(outbox.mark_failed, store, item.id,
                                            f"gave up after {item.attempts + 1} attempts: {error}", at)
                    tally["failed"] += 1
                else:
                    retry_at = at + backoff(item.attempts + 1, self.backoff_base, self.backoff_cap)
                    log.info("outbox item %d to chat %s: %s; retrying at %s", item.id, item.chat_id, error, retry_at)
                    await asyncio.to_thread(outbox.mark_retry, store, item.id, error, retry_at)
                    tally["retried"] += 1
                return False
            case Forbidden(description=description):
                log.warning("chat %s refused the bot (%s); disabling it", item.chat_id, description)
                await asyncio.to_thread(self._disable, item, description, at)
                round_.queues.pop(item.chat_id, None)
                tally["disabled"] += 1
            case Migrated(new_chat_id=new_chat_id):
                await self._migrate(item, new_chat_id, at, round_)
            case BadEntities(description=description) if not item.plain:
                log.warning("outbox item %d to chat %s: Telegram refused its HTML (%s); resending as plain text",
                            item.id, item.chat_id, description)
                round_.queues.setdefault(item.chat_id, collections.deque()).appendleft(replace(item, plain=True))
                tally["plain_fallbacks"] += 1
            case BadEntities(description=description) | BadRequest(description=description):
                log.warning("outbox item %d to chat %s was refused: %s", item.id, item.chat_id, description)
                await asyncio.to_thread(outbox.mark_failed, store, item.id, description, at)
                tally["failed"] += 1
        return True

    async def _migrate(self, item: OutboxItem, new_chat_id: str, at: datetime, round_: _Round) -> None:
        """Follow a group to its supergroup and resend there at once (once per item per round)."""
        log.info("chat %s became supergroup %s; moving its queue", item.chat_id, new_chat_id)
        await asyncio.to_thread(outbox.migrate_chat, self.store, item.chat_id, new_chat_id, now=at)
        round_.queues.pop(item.chat_id, None)  # the rest follows next round, re-read from the store
        round_.tally["migrated"] += 1
        moved = await asyncio.to_thread(outbox.item, self.store, item.id)
        if moved is None or moved.state != "pending" or item.id in round_.migrated:
            return
        if moved.chat_id in round_.queues:  # two streams merge: let the next round read them in id order
            del round_.queues[moved.chat_id]
            return
        round_.migrated.add(item.id)
        round_.queues[moved.chat_id] = collections.deque([replace(moved, plain=item.plain)])

    def _disable(self, item: OutboxItem, description: str, at: datetime) -> None:
        """In one transaction: fail the item, disable the chat, drop its subscriptions, tell the admins."""
        with self.store.transaction() as tx:
            outbox.mark_failed(tx, item.id, f"forbidden: {description}", at)
            outbox.disable_chat(tx, item.chat_id, description, now=at)
            tx.execute("DELETE FROM subscriptions WHERE chat_id = ?", (item.chat_id,))
            admins = [a for a in self.admin_chat_ids if a != item.chat_id]
            if not admins:
                log.warning("chat %s is disabled and no admin chat is configured to hear about it", item.chat_id)
            for admin in admins:
                outbox.enqueue(tx, admin, disabled_notice(item.chat_id, description), f"chat-disabled:{item.chat_id}", at)


def disabled_notice(chat_id: str, description: str) -> Message:
    """The admin message for a chat that refused the bot, so a lost audience is noticed."""
    rich = Rich().line("⚠️ ", b("Stopped writing to chat "), code(chat_id))
    rich.line(f"Telegram said: {description}")
    rich.line("Its pending messages are kept as failed and its subscriptions were removed. "
              "Once the bot may write there again, subscribe the chat anew.")
    return Message.from_rich(rich, "admin")


@dataclass
class _Round:
    """The mutable state of one ``deliver_due`` call."""

    now: datetime
    started: float
    tally: dict[str, int]
    queues: dict[str, collections.deque[OutboxItem]] = field(default_factory=dict)
    migrated: set[int] = field(default_factory=set)
