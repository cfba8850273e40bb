"""The words of a deadline reminder: what was promised, by whom, by when, and what the news says about it.

A reminder is only useful if it carries the evidence with it, so it quotes the agreement, links the
source, and lists the latest matched headlines, or says plainly that there are none: a pledge nobody
reports on as its deadline nears is a story in itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.agenda import Standing
from bot.clock import require_aware
from bot.deadlines import Deadline, fmt_day
from bot.history import Headline
from bot.model import Agreement
from bot.notify import Message
from bot.reminders import Slot, due_phrase
from bot.richtext import Rich, Span, a, b, i, safe_href

UTC = ZoneInfo("UTC")
QUOTE_LIMIT = 700  # characters; the source link has the rest
HEADLINE_LIMIT = 3
ICONS = {"lead": "⏳", "due": "📅", "overdue": "⚠️"}


def due_line(deadline: Deadline) -> str:
    """"Due by 15 Dec 2020"; a fuzzy deadline names its period and the last day it resolves to."""
    text = f"Due {deadline.label()}"
    return f"{text} (last day: {fmt_day(deadline.due)})" if deadline.fuzzy else text


def clip(text: str, limit: int) -> str:
    """Shorten on a word boundary with an ellipsis, so a long quote never crowds out the evidence."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def source_span(source: str) -> Span:
    """A URL becomes a link named by its site ("archive.pakistantoday.com.pk"); a citation stays text."""
    href = safe_href(source)
    if href is None:
        return Span(source)
    host = urlsplit(href).hostname or href
    return a(host.removeprefix("www."), href)


def silence_days(last_news_at: datetime | None, silence_after: timedelta, now: datetime,
                 watching_since: datetime | None = None) -> int | None:
    """Whole days without matched news when that is at least ``silence_after``, else None.

    With no news ever, the silence is counted from ``watching_since`` (when feeds were first polled)
    if known, so a bot that started yesterday never claims a month of silence.
    """
    since = last_news_at if last_news_at is not None else watching_since
    if since is None:
        return int(silence_after / timedelta(days=1))
    quiet = now - require_aware(since, "last_news_at")
    return int(quiet / timedelta(days=1)) if quiet >= silence_after else None


def headline_line(headline: Headline, tz: ZoneInfo, feed_names: Mapping[str, str]) -> list[Span | str]:
    """"• <linked title> — Dawn · 3 Dec 2020": the headline, who published it, and when (local date)."""
    day = fmt_day(headline.published.astimezone(tz).date()) if headline.published.tzinfo else ""
    source = feed_names.get(headline.feed_id, headline.feed_id)
    return ["• ", a(headline.title or "(untitled)", headline.link), f" — {source}" + (f" · {day}" if day else "")]


def reminder_message(item: Standing, slot: Slot, headlines: Sequence[Headline], last_news_at: datetime | None,
                     silence_after: timedelta, now: datetime, *, tz: ZoneInfo = UTC,
                     feed_names: Mapping[str, str] | None = None, agreement: Agreement | None = None,
                     watching_since: datetime | None = None) -> Message:
    """A reminder for one slot, worded by the days left *now* (a late catch-up never says a stale number).

    ``headlines`` are the newest matched headlines (``history.latest_headlines``), ``last_news_at``
    the newest match's date (``history.last_matched_at``); ``tz`` is ``settings.tz``.
    """
    now = require_aware(now, "now").astimezone(timezone.utc)
    c, names = item.commitment, feed_names or {}
    days = item.days_left if item.days_left is not None else slot.days
    rich = Rich()
    rich.line(f"{ICONS.get(slot.kind, '⏰')} ", b(f"Reminder: {due_phrase(days)}"))
    rich.line(b(c.title), f" ({c.id})")
    if item.deadline is not None:
        rich.line(due_line(item.deadline))
        if c.revisions and c.deadline is not None:
            rich.line(i(f"Originally {c.deadline.label()}; revised {len(c.revisions)} time"
                        f"{'s' if len(c.revisions) != 1 else ''}"))
    rich.line(f"Status: {item.status.label}")
    if agreement is not None:
        rich.line(f"Agreement: {agreement.title}")
    if c.lead:
        rich.line(f"Lead: {c.lead}")
    elif c.responsible:
        rich.line(f"Responsible: {', '.join(c.responsible)}")
    if c.quote:
        rich.blank().line(i(f"“{clip(c.quote, QUOTE_LIMIT)}”"))
    if c.source:
        rich.line("Source: ", source_span(c.source))
    rich.blank()
    shown = list(headlines)[:HEADLINE_LIMIT]
    if shown:
        rich.line(b("Latest related news:"))
        for headline in shown:
            rich.line(*headline_line(headline, tz, names))
    elif last_news_at is not None:
        rich.line(f"No related news seen since {fmt_day(last_news_at.astimezone(tz).date())}.")
    else:
        rich.line("No related news seen yet.")
    quiet = silence_days(last_news_at, silence_after, now, watching_since)
    if quiet is not None:
        rich.line("🔇 ", b(f"No related news in the last {quiet} day{'s' if quiet != 1 else ''}"),
                  " (silence is news too).")
    return Message.from_rich(rich, "reminder")
