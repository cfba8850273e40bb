"""Turn stored matches into outbox messages, exactly once: the messages and the "announced" flag commit together.

Matches are stored per feed as the poll goes (durable at once); after the poll this step reads every
unannounced match, so a burst of more than ``group_after`` matches becomes one message per commitment
instead of a flood, and a crash anywhere leaves each match either announced with its messages queued,
or not announced and picked up next time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot.agenda import Standing, standing
from bot.curation import dismissed
from bot.deadlines import fmt_day
from bot.history import NewMatch, also_reported_by
from bot.keyboards import curation_keyboard
from bot.messages import headline_message
from bot.model import Config, Status
from bot.notify import Message
from bot.outbox import enqueue
from bot.richtext import Rich, a, b, i
from bot.store import Store, from_db
from bot.subscriptions import subscribers
from bot.views import days_text, deadline_text


K = TypeVar("K")


@dataclass(frozen=True)
class Audience:
    """Where announcements go: the main chat (a channel stays clean; a group gets curation buttons)
    plus each subscriber's private chat (admins' copies carry the curation buttons)."""

    main_chat: str
    main_is_group: bool = False
    admin_ids: frozenset[int] = frozenset()

    def wants_buttons(self, chat_id: str) -> bool:
        if chat_id == self.main_chat:
            return self.main_is_group
        return chat_id.lstrip("-").isdigit() and int(chat_id) in self.admin_ids


def _pending(tx: sqlite3.Connection) -> list[NewMatch]:
    rows = tx.execute(
        "SELECT m.id, m.commitment_id, m.story_id, m.entry_id, e.feed_id, e.title, e.link, e.published, m.terms "
        "FROM matches m JOIN entries e ON e.id = m.entry_id WHERE m.announced = 0 AND m.backfill = 0 ORDER BY m.id"
    ).fetchall()
    return [NewMatch(r[0], r[1], r[2], r[3], r[4], r[5], r[6], from_db(r[7]) or datetime.min, tuple(json.loads(r[8])))
            for r in rows]


def _also(store: Store, story_id: int, names: dict[str, str]) -> list[str]:
    """The story's later sources by name (history.also_reported_by; inside our transaction it sees new rows)."""
    return [names.get(f, f) for f in also_reported_by(store, story_id)]


def grouped_message(item: Standing, matches: Sequence[NewMatch], names: dict[str, str]) -> Message:
    """Many headlines about one commitment in one message, newest first."""
    c = item.commitment
    rich = Rich().line("📰 ", b(f"{len(matches)} new headlines: {c.title}"), f" ({c.id})")
    rich.line(f"Deadline: {deadline_text(item.deadline)}", f" · {days_text(item)}" if item.deadline else "",
              f" · Status: {item.status.label}").blank()
    for m in sorted(matches, key=lambda m: m.published, reverse=True):
        rich.line("• ", a(m.title or "(untitled)", m.link), " — ", i(f"{names.get(m.feed_id, m.feed_id)}, {fmt_day(m.published.date())}"))
    return Message.from_rich(rich, "headline")


def announce(store: Store, config: Config, audience: Audience, now: datetime,
             status_of: Callable[[str], Status]) -> int:
    """Queue messages for every unannounced match and flag them announced, in one transaction.

    Normally one message per story, naming every commitment it matched (one story, one post); when the
    batch holds more than ``group_after`` matches, one message per commitment listing its headlines."""
    catalog = config.catalog
    names = {f.id: f.name or f.id for f in config.feeds.feeds}
    queued = 0
    with store.transaction() as tx:
        pending = _pending(tx)
        if not pending:
            return 0
        skip = dismissed(store, [(m.story_id, m.commitment_id) for m in pending])
        live = [m for m in pending if (m.story_id, m.commitment_id) not in skip and m.commitment_id in catalog.by_id]

        def item(commitment_id: str) -> Standing:
            return standing(catalog.by_id[commitment_id], now, catalog.settings.tz, lambda c: status_of(c.id))

        def send(ref: str, message: Message, commitment_ids: Sequence[str], story_id: int | None) -> int:
            chats = [audience.main_chat]
            for cid in commitment_ids:
                chats += [c for c in subscribers(store, cid) if c not in chats]
            for chat in chats:
                buttons = (curation_keyboard(story_id, commitment_ids)
                           if story_id is not None and audience.wants_buttons(chat) else None)
                enqueue(tx, chat, message, ref, now, buttons)
            return len(chats)

        if len(live) > catalog.settings.group_after:
            for commitment_id, matches in _by(live, lambda m: m.commitment_id).items():
                if len(matches) == 1:
                    m = matches[0]
                    message = headline_message(m, [(item(commitment_id), m.terms)], names.get(m.feed_id, m.feed_id),
                                               _also(store, m.story_id, names))
                    queued += send(f"match:{m.match_id}", message, [commitment_id], m.story_id)
                else:
                    message = grouped_message(item(commitment_id), matches, names)
                    queued += send(f"group:{matches[0].match_id}", message, [commitment_id], None)
        else:
            for story_id, matches in _by(live, lambda m: m.story_id).items():
                first = matches[0]
                message = headline_message(first, [(item(m.commitment_id), m.terms) for m in matches],
                                           names.get(first.feed_id, first.feed_id), _also(store, story_id, names))
                queued += send(f"match:{first.match_id}", message, [m.commitment_id for m in matches], story_id)
        tx.executemany("UPDATE matches SET announced = 1 WHERE id = ?", [(m.match_id,) for m in pending])
    return queued


def _by(matches: Sequence[NewMatch], key: Callable[[NewMatch], K]) -> dict[K, list[NewMatch]]:
    out: dict[K, list[NewMatch]] = {}
    for m in matches:
        out.setdefault(key(m), []).append(m)
    return out
