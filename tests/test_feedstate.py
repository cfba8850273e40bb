"""The pure polling decisions: schedule, exponential backoff with jitter, Retry-After, 410, reporting."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from bot.errors import HTTPStatusError, TransportError
from bot.feedstate import (BACKOFF_CAP, held, initial, is_due, needs_report, on_failed, on_fetched)
from bot.model import Feed

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
FEED = Feed("dawn", "https://example.org/feed", interval=timedelta(minutes=30))
RNG = random.Random(7)


def fetched(state, now=NOW, permanent=None):
    return on_fetched(state, FEED, now, RNG, etag='"v1"', last_modified=None, body_hash="h", permanent_url=permanent)


def test_new_feed_is_due_and_success_schedules_within_jitter():
    state = initial(FEED)
    assert is_due(state, NOW)
    state = fetched(state)
    assert state.first_polled == NOW and state.failures == 0 and state.etag == '"v1"'
    assert timedelta(minutes=27) <= state.next_poll - NOW <= timedelta(minutes=33)
    assert not is_due(state, NOW + timedelta(minutes=20)) and is_due(state, NOW + timedelta(minutes=34))


def test_jitter_spreads_a_thousand_feeds():
    times = {fetched(initial(FEED)).next_poll for _ in range(1000)}
    assert len({t.replace(microsecond=0) for t in times}) > 300


def test_backoff_grows_exponentially_and_is_capped():
    state, delays = initial(FEED), []
    for _ in range(12):
        state = on_failed(state, FEED, NOW, RNG, TransportError(FEED.url, "connection refused"))
        delays.append(state.next_poll - NOW)
    assert state.failures == 12 and state.hold == "backoff" and state.last_error == "connection refused"
    assert delays[5] > delays[2] > timedelta(minutes=20)
    assert max(delays) <= BACKOFF_CAP and delays[-1] >= BACKOFF_CAP * 0.75
    assert "backing off after 12 failure(s)" in held(state, NOW)
    assert held(state, NOW + timedelta(days=2)) is None


def test_retry_after_is_honoured_when_longer_than_backoff():
    state = on_failed(initial(FEED), FEED, NOW, RNG, HTTPStatusError(FEED.url, 503, retry_after=7200))
    assert state.next_poll == NOW + timedelta(hours=2) and state.hold == "retry-after"
    assert "server asked to retry after" in held(state, NOW)
    capped = on_failed(initial(FEED), FEED, NOW, RNG, HTTPStatusError(FEED.url, 429, retry_after=10**9))
    assert capped.next_poll - NOW == timedelta(days=7)


def test_success_clears_failures():
    state = on_failed(initial(FEED), FEED, NOW, RNG, TransportError(FEED.url, "reset"))
    state = fetched(state, NOW + timedelta(hours=1))
    assert state.failures == 0 and state.hold is None and state.failing_since is None and state.last_error is None


def test_gone_disables_with_a_reason():
    state = on_failed(initial(FEED), FEED, NOW, RNG, HTTPStatusError(FEED.url, 410))
    assert state.disabled.startswith("410 Gone") and not is_due(state, NOW + timedelta(days=30))


def test_failing_three_days_is_reported_once_and_slowed():
    state, now = initial(FEED), NOW
    while not needs_report(state, now):
        state = on_failed(state, FEED, now, RNG, TransportError(FEED.url, "timeout"))
        now = max(now + timedelta(hours=1), state.next_poll)
    assert now - NOW >= timedelta(days=3) and state.next_poll - state.last_attempt >= timedelta(hours=12)
    from dataclasses import replace
    assert not needs_report(replace(state, reported=True), now)


def test_permanent_redirect_remembered_until_config_url_changes():
    state = fetched(initial(FEED), permanent="https://example.org/new-feed")
    assert state.url_for(FEED) == "https://example.org/new-feed"
    assert fetched(state).url_for(FEED) == "https://example.org/new-feed"
    moved = Feed("dawn", "https://other.example/feed")
    assert state.url_for(moved) == "https://other.example/feed"
