"""The per-feed polling state and the pure decisions about it: when to poll next, how to back off.

Like reader's "decider", these functions take the state, the outcome and ``now`` and return a new
state; the poller does the I/O and the store persists what they decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.errors import FetchError, HTTPStatusError
from bot.model import Feed

BACKOFF_CAP = timedelta(days=1)
BACKOFF_BASE = timedelta(minutes=2)
RETRY_AFTER_CAP = timedelta(days=7)
REPORT_AFTER = timedelta(days=3)
SLOW_INTERVAL = timedelta(hours=12)


@dataclass(frozen=True)
class FeedState:
    """What we remember about one feed between polls."""

    feed_id: str
    config_url: str = ""  # the URL in feeds.toml when the state was written (a change resets redirects)
    redirect_url: str | None = None  # remembered 301/308 target
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    first_polled: datetime | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    failures: int = 0
    failing_since: datetime | None = None
    next_poll: datetime | None = None  # None: due now
    hold: str | None = None  # "retry-after" or "backoff" while next_poll was pushed by the server or failures
    last_error: str | None = None
    reported: bool = False  # a long failure was reported to the admins
    disabled: str | None = None  # why polling stopped (410 Gone)

    def url_for(self, feed: Feed) -> str:
        """The URL to fetch: a remembered permanent redirect unless feeds.toml changed since."""
        if self.redirect_url and self.config_url == feed.url:
            return self.redirect_url
        return feed.url


def initial(feed: Feed) -> FeedState:
    """A feed never polled before: due now."""
    return FeedState(feed_id=feed.id, config_url=feed.url)


def is_due(state: FeedState, now: datetime) -> bool:
    return state.disabled is None and (state.next_poll is None or state.next_poll <= now)


def held(state: FeedState, now: datetime) -> str | None:
    """Why a forced-by-schedule poll should skip this feed (server asked to wait, or backing off)."""
    if state.disabled:
        return f"disabled: {state.disabled}"
    if state.hold and state.next_poll and state.next_poll > now:
        why = "server asked to retry after" if state.hold == "retry-after" else f"backing off after {state.failures} failure(s) until"
        return f"{why} {state.next_poll:%Y-%m-%d %H:%M} UTC"
    return None


def _jittered(delay: timedelta, rng: random.Random, spread: float = 0.1) -> timedelta:
    """Spread polls so a thousand feeds with one interval never fire in the same second."""
    return delay * (1 + rng.uniform(-spread, spread))


def on_fetched(state: FeedState, feed: Feed, now: datetime, rng: random.Random, *, etag: str | None,
               last_modified: str | None, body_hash: str | None, permanent_url: str | None) -> FeedState:
    """A successful fetch (200 or 304): reset failures and schedule the next regular poll."""
    return replace(
        state, config_url=feed.url,
        redirect_url=permanent_url if permanent_url else (state.redirect_url if state.config_url == feed.url else None),
        etag=etag, last_modified=last_modified, body_hash=body_hash if body_hash is not None else state.body_hash,
        first_polled=state.first_polled or now, last_attempt=now, last_success=now, failures=0,
        failing_since=None, next_poll=now + _jittered(feed.interval, rng), hold=None, last_error=None,
        reported=False, disabled=None)


def backoff_delay(failures: int, interval: timedelta) -> timedelta:
    """Exponential in the number of consecutive failures, never below the interval, capped at a day."""
    return min(BACKOFF_CAP, max(interval, BACKOFF_BASE * (2 ** min(failures - 1, 20))))


def on_failed(state: FeedState, feed: Feed, now: datetime, rng: random.Random, error: FetchError) -> FeedState:
    """A failed fetch: back off with jitter, honour Retry-After, disable on 410 Gone."""
    failures = state.failures + 1
    since = state.failing_since or now
    status = error.status if isinstance(error, HTTPStatusError) else None
    if status == 410:
        return replace(state, config_url=feed.url, last_attempt=now, failures=failures, failing_since=since,
                       last_error=error.reason, disabled=f"410 Gone at {now:%Y-%m-%d %H:%M} UTC; remove or fix the URL")
    delay = min(BACKOFF_CAP, _jittered(backoff_delay(failures, feed.interval), rng, 0.25))
    hold = "backoff"
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    if retry_after is not None and status in (429, 503):
        wait = min(RETRY_AFTER_CAP, timedelta(seconds=max(0.0, retry_after)))
        if wait >= delay:
            delay, hold = wait, "retry-after"
    if now - since >= REPORT_AFTER:
        delay = max(delay, SLOW_INTERVAL)  # a feed down for days is slowed, not dropped
    return replace(state, config_url=feed.url, first_polled=state.first_polled, last_attempt=now,
                   failures=failures, failing_since=since, next_poll=now + delay, hold=hold,
                   last_error=error.reason)


def needs_report(state: FeedState, now: datetime) -> bool:
    """True once when a feed has been failing for three days, so admins hear about it exactly once."""
    return (not state.reported and state.failing_since is not None
            and now - state.failing_since >= REPORT_AFTER)
