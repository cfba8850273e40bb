"""Each command's reply, computed from the live catalog and the store: run in a worker thread by the handlers.

Everything a command needs from disk is read here, synchronously, so the handlers only hop to a thread
once per update and the event loop never waits on SQLite. Statuses shown are always the effective ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.agenda import Standing, overdue, standing, standings, upcoming
from bot.command_lists import (bad_status_view, list_view, marked_view, news_view, subscribed_view,
                               subscriptions_view, unknown_filter_view, unsubscribed_view, upcoming_view,
                               overdue_view)
from bot.command_views import choices_view, fold, not_found_view, overview_view, search, status_view, suggest
from bot.curation import curated_evidence
from bot.history import latest_headlines
from bot.keyboards import Keyboard, list_filters
from bot.model import Catalog, Commitment, Config, Status
from bot.richtext import Rich, safe_href
from bot.statuses import effective_statuses, history, mark
from bot.store import Store
from bot.subscriptions import ALL, subscribe, subscriptions, unsubscribe

DETAIL_HEADLINES = 3
NEWS_HEADLINES = 10


@dataclass(frozen=True)
class Reply:
    """A reply to send: the text and, optionally, an inline keyboard."""

    rich: Rich
    keyboard: Keyboard | None = None


def feed_names(config: Config) -> dict[str, str]:
    """Feed ids to the names readers recognise."""
    return {f.id: f.name or f.id for f in config.feeds.feeds}


def all_standings(store: Store, catalog: Catalog, now: datetime) -> list[Standing]:
    """Every commitment at ``now`` with its effective status (TOML or the latest /mark)."""
    effective = effective_statuses(store, catalog.commitments)
    return standings(catalog, now, lambda c: effective[c.id])


def exact(catalog: Catalog, word: str) -> Commitment | None:
    """The commitment with this id, ignoring case (ids are lower-case slugs, phones capitalise)."""
    return catalog.by_id.get(word.strip().lower())


def detail_reply(store: Store, config: Config, commitment: Commitment, now: datetime) -> Reply:
    """The full /status view of one commitment."""
    catalog = config.catalog
    status = effective_statuses(store, [commitment])[commitment.id]
    item = standing(commitment, now, catalog.settings.tz, lambda _: status)
    return Reply(status_view(item, catalog, history(store, commitment.id), curated_evidence(store, commitment.id),
                             latest_headlines(store, commitment.id, DETAIL_HEADLINES), feed_names(config)))


def news_reply(store: Store, config: Config, commitment: Commitment) -> Reply:
    """/news for one commitment."""
    return Reply(news_view(commitment, latest_headlines(store, commitment.id, NEWS_HEADLINES), feed_names(config),
                           config.catalog.settings.tz))


def status_reply(store: Store, config: Config, query: str, now: datetime) -> Reply:
    """/status: overview, one commitment, a choice of several, or suggestions."""
    catalog = config.catalog
    if not query.strip():
        return Reply(overview_view(all_standings(store, catalog, now)))
    return _found(store, config, query, now, news=False)


def news_query_reply(store: Store, config: Config, query: str, now: datetime) -> Reply:
    """/news ID (or words that find exactly one commitment)."""
    return _found(store, config, query, now, news=True)


def _found(store: Store, config: Config, query: str, now: datetime, news: bool) -> Reply:
    catalog = config.catalog
    hits = search(catalog, query)
    if len(hits) == 1:
        return news_reply(store, config, hits[0]) if news else detail_reply(store, config, hits[0], now)
    if hits:
        rich, keyboard = choices_view(query, hits, news=news)
        return Reply(rich, keyboard)
    return Reply(not_found_view(query, suggest(catalog, query), catalog))


def list_reply(store: Store, config: Config, word: str, page: int, now: datetime) -> Reply:
    """/list and its paging buttons; the filter is an agreement id or a tag, matched without case."""
    catalog = config.catalog
    filters = list_filters(catalog)
    chosen = next((f for f in filters if fold(f) == fold(word.strip())), None) if word.strip() else ""
    if chosen is None:
        tags = sorted({t for c in catalog.commitments for t in c.tags})
        return Reply(unknown_filter_view(word, [a.id for a in catalog.agreements], tags))
    agreement = catalog.agreements_by_id.get(chosen)
    picked = [c for c in catalog.commitments
              if not chosen or (c.agreement == chosen if agreement else chosen in c.tags)]
    effective = effective_statuses(store, picked)
    items = standings(catalog, now, lambda c: effective[c.id], picked)
    title = agreement.title if agreement else (f"tag {chosen}" if chosen else "")
    rich, keyboard = list_view(items, page, chosen, title)
    return Reply(rich, keyboard)


def upcoming_reply(store: Store, config: Config, days: int, now: datetime) -> Reply:
    """/upcoming N."""
    effective = effective_statuses(store, config.catalog.commitments)
    return Reply(upcoming_view(upcoming(config.catalog, now, days, lambda c: effective[c.id]), days))


def overdue_reply(store: Store, config: Config, now: datetime) -> Reply:
    """/overdue."""
    effective = effective_statuses(store, config.catalog.commitments)
    return Reply(overdue_view(overdue(config.catalog, now, lambda c: effective[c.id])))


def subscribe_reply(store: Store, config: Config, chat_id: int, word: str, now: datetime) -> Reply:
    """/subscribe [ID|all] in a private chat."""
    catalog = config.catalog
    if not word.strip():
        return Reply(subscriptions_view(subscriptions(store, chat_id), catalog))
    found = exact(catalog, word)
    target = ALL if word.strip().lower() in ("all", ALL) else (found.id if found else None)
    if target is None:
        return Reply(not_found_view(word, suggest(catalog, word), catalog))
    new = subscribe(store, chat_id, target, now)
    return Reply(subscribed_view(target, new, subscriptions(store, chat_id), catalog))


def unsubscribe_reply(store: Store, config: Config, chat_id: int, word: str) -> Reply:
    """/unsubscribe [ID|all] in a private chat; an id no longer in the TOML can still be dropped."""
    catalog = config.catalog
    current = subscriptions(store, chat_id)
    if not word.strip():
        return Reply(subscriptions_view(current, catalog))
    wanted = word.strip().lower()
    target = ALL if wanted in ("all", ALL) else (wanted if wanted in catalog.by_id or wanted in current else None)
    if target is None:
        return Reply(not_found_view(word, suggest(catalog, word), catalog))
    removed = unsubscribe(store, chat_id, target)
    return Reply(unsubscribed_view(target, removed, subscriptions(store, chat_id), catalog))


def parse_status(word: str) -> Status | None:
    """A status as people type it: "in_progress", "in-progress" or "IN_PROGRESS"."""
    value = word.strip().lower().replace("-", "_")
    return Status(value) if value in Status._value2member_map_ else None


def mark_reply(store: Store, config: Config, args: list[str], actor: str, actor_id: int, now: datetime) -> Reply:
    """/mark ID STATUS [URL] [note], already known to come from an admin with at least two arguments."""
    catalog = config.catalog
    commitment = exact(catalog, args[0])
    if commitment is None:
        return Reply(not_found_view(args[0], suggest(catalog, args[0]), catalog))
    status = parse_status(args[1])
    if status is None:
        return Reply(bad_status_view(args[1]))
    rest = args[2:]
    url = rest[0] if rest and safe_href(rest[0]) else None
    note = " ".join(rest[1:] if url else rest).strip() or None
    change = mark(store, commitment.id, status, now, actor=actor, actor_id=actor_id, evidence_url=url, note=note)
    return Reply(marked_view(change, commitment, catalog.settings.tz))
