"""The words of pledgewatch's messages: a matched headline, and (later) reminders and digests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.agenda import Standing
from bot.deadlines import fmt_day
from bot.history import NewMatch
from bot.notify import Message
from bot.richtext import Rich, a, b, i
from bot.views import days_text, deadline_text


def headline_message(match: NewMatch, items: Sequence[tuple[Standing, tuple[str, ...]]], source: str,
                     also: Sequence[str] = ()) -> Message:
    """A matched headline: the commitment(s) it bears on and where each stands, the linked headline, why it matched."""
    rich = Rich()
    if len(items) == 1:
        item, terms = items[0]
        rich.line("📰 ", b(item.commitment.title), f" ({item.commitment.id})")
        rich.line(_standing_line(item)).blank()
    else:
        rich.line("📰 ", b(f"A headline on {len(items)} commitments")).blank()
    rich.line(a(match.title or "(untitled)", match.link))
    rich.line(i(f"{source} · {fmt_day(match.published.date())}"))
    if also:
        rich.line(f"Also reported by: {', '.join(also)}")
    if len(items) == 1:
        if items[0][1]:
            rich.line(f"Matched: {', '.join(items[0][1])}")
    else:
        for item, terms in items:
            rich.blank().line("• ", b(item.commitment.title), f" ({item.commitment.id})")
            rich.line("  ", _standing_line(item))
            if terms:
                rich.line(f"  Matched: {', '.join(terms)}")
    return Message.from_rich(rich, "headline")


def _standing_line(item: Standing) -> str:
    days = f" · {days_text(item)}" if item.deadline else ""
    return f"Deadline: {deadline_text(item.deadline)}{days} · Status: {item.status.label}"


def feed_failing_message(feed_id: str, url: str, since: datetime, reason: str | None) -> Message:
    """Told to admins once when a feed has failed for days, so a dead source does not go unnoticed."""
    rich = Rich().line("⚠️ ", b(f"Feed {feed_id} has been failing since {since:%Y-%m-%d %H:%M} UTC"))
    rich.line(f"Last error: {reason or 'unknown'}").line(a(url, url))
    rich.line("It is polled less often now, not dropped. Fix or remove it in feeds.toml.")
    return Message.from_rich(rich, "admin")


def config_problems_message(problems: tuple[str, ...], limit: int = 20) -> Message:
    """Told to admins when an edit to the TOML is invalid: the service keeps the last good version."""
    rich = Rich().line("⚠️ ", b("The last edit to the configuration is invalid; the previous version keeps running."))
    for text in problems[:limit]:
        rich.line("• ", text)
    if len(problems) > limit:
        rich.line(f"…and {len(problems) - limit} more (run `pledgewatch check`)")
    return Message.from_rich(rich, "admin")
