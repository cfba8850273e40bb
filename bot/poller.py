"""One poll of a set of feeds: fetch, parse off the loop, keep the unseen, match, store in one transaction.

Every feed is isolated: whatever one feed does (hang, bomb, garbage), the others in the same poll are
unaffected and no exception escapes ``poll``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol, TypeVar

from bot.clock import Clock
from bot.errors import FetchError
from bot.feedstate import FeedState, held, initial, is_due, needs_report, on_failed, on_fetched
from bot.fetch_types import Fetcher, Validators
from bot.history import EntryMatch, Ingest, NewMatch, ingest, unseen
from bot.match import Document, Matcher
from bot.model import Config, Feed
from bot.parse import ParsedEntry, ParsedFeed
from bot.query import parse_query
from bot.store import FeedStates, Store, to_db

log = logging.getLogger("pledgewatch.poller")
FEED_FILTER = "__feed__"
BLOCKING_THREADS = 2
"""Threads for the poller's SQLite and matching steps. They are its own, not asyncio's default executor
(6 threads on 2 cores), because a 1,000-feed poll queues hundreds of steps there and every bot command's
reply (``asyncio.to_thread``) waited behind them: in bench/latency.py the reply's median wait for a thread
was 306 ms and /status p99 1.1 s; with these threads (and the store's read connection) p99 was 0.54 s.
Two suffice: store writes serialise on the store's lock and matching on the poller's, and fewer runnable
threads leave the event loop more of the GIL."""
MAX_IN_FLIGHT = 32
"""Feeds polled at once, from fetch to ingest. Fetching outruns parsing (two workers on two cores), so without
a bound every fetched body of a big poll waits in memory for a worker: 500 due feeds held ~45 MB in the bot
process (bench/scale.py). 32 keeps both workers busy even with second-long fetches (the fetcher's own
connection limit is 50), and bounds those bodies to a few MB."""
T = TypeVar("T")


class Parser(Protocol):
    """Turns fetched bytes into entries; the real one runs in a process pool."""

    async def parse(self, body: bytes, headers: Mapping[str, str], url: str,
                    known: Collection[bytes] = ()) -> ParsedFeed: ...
    """``known``: digests of items parsed before (a ParsedFeed's ``items``), which need no parsing again."""


@dataclass(frozen=True)
class FeedOutcome:
    """What happened to one feed in one poll, for the summary line."""

    feed_id: str
    result: str  # "ok", "not modified", "unchanged", "failed", "skipped", "disabled"
    reason: str | None = None
    new_entries: int = 0
    matches: tuple[NewMatch, ...] = ()


@dataclass(frozen=True)
class PollSummary:
    outcomes: tuple[FeedOutcome, ...]
    seconds: float

    def count(self, result: str) -> int:
        return sum(o.result == result for o in self.outcomes)

    @property
    def matches(self) -> list[NewMatch]:
        return [m for o in self.outcomes for m in o.matches]

    @property
    def new_entries(self) -> int:
        return sum(o.new_entries for o in self.outcomes)


@dataclass
class Poller:
    """Polls feeds against one configuration; ``configure`` swaps in a new one (live reload)."""

    store: Store
    fetcher: Fetcher
    parser: Parser
    clock: Clock
    config: Config
    rng: random.Random = field(default_factory=random.Random)
    on_failing: Callable[[Feed, FeedState], None] | None = None  # a feed failing for 3 days, once

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="pledgewatch-poller")
        self._in_flight: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self.configure(self.config)

    def _slots(self) -> asyncio.Semaphore:
        """The in-flight bound, made on first use so it belongs to the running loop (a poller may outlive one)."""
        loop = asyncio.get_running_loop()
        if self._in_flight is None or self._in_flight[0] is not loop:
            self._in_flight = (loop, asyncio.Semaphore(MAX_IN_FLIGHT))
        return self._in_flight[1]

    async def _blocking(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking step in the poller's own threads, so commands never queue behind a poll's steps."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, functools.partial(fn, *args))

    def configure(self, config: Config) -> None:
        """Compile every commitment's and feed's queries once for this configuration."""
        targets = {c.id: [parse_query(q) for q in c.keywords] for c in config.catalog.commitments if c.keywords}
        filters = {f.id: Matcher({FEED_FILTER: [parse_query(q) for q in f.keywords]})
                   for f in config.feeds.feeds if f.keywords}
        with self._lock:
            self.config, self.matcher, self.filters = config, Matcher(targets), filters

    async def poll(self, feeds: Sequence[Feed], *, force: bool = False,
                   progress: Callable[[FeedOutcome], None] | None = None) -> PollSummary:
        """Poll the given feeds concurrently (the fetcher bounds concurrency); never raises for a feed."""
        started = time.monotonic()

        async def one(feed: Feed) -> FeedOutcome:
            outcome = await self.poll_feed(feed, force=force)
            if progress is not None:
                progress(outcome)
            return outcome

        outcomes = await asyncio.gather(*(one(f) for f in feeds))
        return PollSummary(tuple(outcomes), time.monotonic() - started)

    async def poll_feed(self, feed: Feed, *, force: bool = False) -> FeedOutcome:
        """Poll one feed; all failures become a FeedOutcome and a backed-off state."""
        try:
            async with self._slots():
                return await self._poll_feed(feed, force)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not stop the other feeds; it is logged with its traceback
            log.exception("feed %s: unexpected error", feed.id)
            return FeedOutcome(feed.id, "failed", f"internal error: {type(exc).__name__}: {exc}")

    async def _poll_feed(self, feed: Feed, force: bool) -> FeedOutcome:
        now = self.clock.now()
        state = await self._blocking(self.store.feed_state, feed.id) or initial(feed)
        if state.disabled and state.config_url == feed.url:
            return FeedOutcome(feed.id, "disabled", state.disabled)
        if state.disabled:  # feeds.toml now has another URL: try again from scratch
            state = initial(feed)
        if not force and (why := held(state, now)):
            return FeedOutcome(feed.id, "skipped", why)
        url = state.url_for(feed)
        same_url = state.config_url == feed.url
        validators = Validators(state.etag, state.last_modified) if same_url else Validators()
        try:
            result = await self.fetcher.fetch(url, validators)
        except FetchError as exc:
            return await self._failed(feed, state, exc)
        now = self.clock.now()

        def fetched(body_hash: str | None) -> FeedState:
            return on_fetched(state, feed, now, self.rng, etag=result.validators.etag,
                              last_modified=result.validators.last_modified, body_hash=body_hash,
                              permanent_url=result.permanent_url)
        if result.not_modified or result.body is None:
            await self._blocking(self.store.save_feed_state, fetched(None))
            return FeedOutcome(feed.id, "not modified")
        body_hash = hashlib.sha256(result.body).hexdigest()
        if same_url and body_hash == state.body_hash:
            await self._blocking(self.store.save_feed_state, fetched(body_hash))
            return FeedOutcome(feed.id, "unchanged")
        # The item index lets the parser skip the items this feed already showed us (bot.feeditems).
        index = await self._blocking(self.store.feed_items, feed.id) if same_url else {}
        parsed = await self.parser.parse(result.body, result.headers, result.final_url, index.keys())
        if not parsed.is_feed:
            reason = parsed.bozo_reason or "the response is not a feed"
            return await self._failed(feed, state, FetchError(url, f"not a feed ({reason})"))
        # First poll of a feed, and every poll of a search feed (search results are not in date order):
        # entries older than `backfill` are recorded without posting.
        first = state.first_polled is None or feed.search is not None
        backfill = now - self.config.feeds.settings.backfill if first else None
        items = None if parsed.items is None else {**{d: index.get(d) for d in parsed.skipped}, **dict(parsed.items)}
        also_seen = [key for d in parsed.skipped if (key := index.get(d))]

        def record() -> tuple[list[ParsedEntry], list[NewMatch]]:
            """Unseen, match and ingest in one thread hop: three hops cost the event loop more than the work."""
            new = unseen(self.store, feed.id, parsed.entries)
            matches = self._match(feed, new)
            batch = Ingest(feed.id, fetched(body_hash), parsed.entries, new, matches, now, backfill, also_seen, items)
            return new, ingest(self.store, batch)

        new, announced = await self._blocking(record)
        if parsed.bozo:
            log.debug("feed %s: malformed but usable (%s)", feed.id, parsed.bozo_reason)
        return FeedOutcome(feed.id, "ok", None, len(new), tuple(announced))

    def _match(self, feed: Feed, entries: Sequence[ParsedEntry]) -> dict[str, list[EntryMatch]]:
        """Feed-level filter first, then every commitment's queries over the batch at once."""
        docs = [Document(e.key, e.title, e.summary, e.categories) for e in entries]
        with self._lock:
            if (feed_filter := self.filters.get(feed.id)) is not None:
                keep = {h.doc_key for h in feed_filter.match(docs)}
                docs = [d for d in docs if d.key in keep]
            hits = self.matcher.match(docs) if docs else []
        out: dict[str, list[EntryMatch]] = {}
        for hit in hits:
            out.setdefault(hit.doc_key, []).append(EntryMatch(hit.target, hit.terms))
        return out

    async def _failed(self, feed: Feed, state: FeedState, error: FetchError) -> FeedOutcome:
        now = self.clock.now()
        new_state = on_failed(state, feed, now, self.rng, error)
        if needs_report(new_state, now):
            log.warning("feed %s has been failing since %s: %s", feed.id,
                        f"{new_state.failing_since:%Y-%m-%d %H:%M} UTC", error.reason)
            if self.on_failing is not None:
                self.on_failing(feed, new_state)
            new_state = replace(new_state, reported=True)
        if new_state.disabled:
            log.warning("feed %s disabled: %s", feed.id, new_state.disabled)
        await self._blocking(self.store.save_feed_state, new_state)
        return FeedOutcome(feed.id, "disabled" if new_state.disabled else "failed", error.reason)


def due_feeds(config: Config, states: Mapping[str, FeedState], now: datetime) -> list[Feed]:
    """Enabled feeds whose next poll has come (never-polled feeds are due).

    Given ``Store.feed_states()`` it decides from the stored columns, without building a FeedState per feed:
    with 10,000 feeds that is the difference between ~5 ms and ~70 ms per poll tick (bench/scale.py)."""
    if isinstance(states, FeedStates):
        now_text = to_db(now)
        return [f for f in config.feeds.feeds if f.enabled and (f.id not in states or states.is_due(f.id, now_text))]
    return [f for f in config.feeds.feeds if f.enabled and (f.id not in states or is_due(states[f.id], now))]
