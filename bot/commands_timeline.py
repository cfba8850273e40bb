"""/timeline [agreement] [page]: the deadlines-and-news chart as a photo, with the score in its caption.

Reading the store and drawing the chart both happen in one worker thread (``asyncio.to_thread``), so the
bot keeps answering other commands while matplotlib works. The CLI's ``pledgewatch timeline`` shares
``load_timeline`` so both show the same statuses and headlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import InputFile, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.command_views import fit, short
from bot.commands import BotServices
from bot.curation import IRRELEVANT
from bot.model import Agreement, Catalog, Config, Status
from bot.richtext import Rich, b, code
from bot.statuses import effective_statuses
from bot.store import Store, from_db
from bot.timeline import Page, Timeline, agreement_hint, build_timeline, find_agreement, paginate
from bot.timeline_chart import ChartUnavailable, render_page

USAGE = "/timeline [agreement] [page]"
CAPTION_LIMIT = 1024  # Telegram's limit for a photo caption, counted after HTML parsing
CHUNK = 500  # stay well under SQLite's bound-parameter limit
Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class TimelineReply:
    """A chart to send as a photo with its caption, or (``png`` None) a text reply saying what went wrong."""

    rich: Rich
    png: bytes | None = None


def matched_dates(store: Store, commitment_ids: Iterable[str]) -> dict[str, list[datetime]]:
    """Publication times of each commitment's matched headlines, one per story, minus those admins dismissed."""
    ids = sorted(set(commitment_ids))
    found: dict[str, list[datetime]] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        rows = store.query(
            "SELECT m.commitment_id, e.published FROM matches m JOIN entries e ON e.id = m.entry_id "
            "WHERE m.commitment_id IN (" + ", ".join("?" * len(part)) + ") AND NOT EXISTS (SELECT 1 FROM curation c "
            "WHERE c.story_id = m.story_id AND c.commitment_id = m.commitment_id AND c.verdict = ?) "
            "ORDER BY e.published", [*part, IRRELEVANT])
        for commitment_id, published in rows:
            when = from_db(published)
            if when is not None:
                found.setdefault(commitment_id, []).append(when)
    return found


def load_timeline(store: Store | None, catalog: Catalog, agreement: Agreement | None, now: datetime) -> Timeline:
    """The chart's data with effective statuses and headlines from the store; without one, the TOML alone."""
    chosen = [c for c in catalog.commitments if agreement is None or c.agreement == agreement.id]
    if store is None:
        statuses: dict[str, Status] = {c.id: c.status for c in chosen}
        headlines: dict[str, list[datetime]] = {}
    else:
        statuses, headlines = effective_statuses(store, chosen), matched_dates(store, (c.id for c in chosen))
    return build_timeline(catalog, agreement, statuses, headlines, now)


def parse_words(words: Sequence[str]) -> tuple[str, int | None]:
    """"shared-vision-2020 2" → the agreement word and page; a lone number is a page of everything."""
    parts = [w for w in words if w.strip()]
    page = int(parts.pop()) if parts and parts[-1].isdecimal() and len(parts[-1]) <= 4 else None
    return " ".join(parts), page


def caption(page: Page) -> Rich:
    """Title, score line, and the commands that show the other pages."""
    timeline = page.timeline
    rich = Rich().line("🗓 ", b(short(timeline.title, 300))).line(f"Score: {timeline.score}")
    if page.count > 1:
        target = f"/timeline {timeline.agreement_id or ''}".rstrip()
        rich.line(f"Page {page.number} of {page.count}: rows {page.first}–{page.last} of {len(timeline.rows)}.")
        others = [n for n in range(1, page.count + 1) if n != page.number]
        rich.line("Other pages: ", *[part for n in others for part in (code(f"{target} {n}"), " ")])
    return fit(rich, CAPTION_LIMIT)


def unknown_view(word: str, catalog: Catalog) -> Rich:
    """An agreement id that does not exist: the closest one and every valid id, so the next try works."""
    ids = [a.id for a in catalog.agreements]
    hint = agreement_hint(word, ids) or "."
    rich = Rich().line(f"I don't know an agreement “{short(word, 100)}”{hint}")
    rich.line("Agreements: ", *[part for n, ident in enumerate(ids[:40]) for part in ((", ", code(ident)) if n
                                                                                     else (code(ident),))])
    return fit(rich.line("Usage: ", code(USAGE), " — without an agreement, all commitments."))


def timeline_reply(store: Store, config: Config, words: Sequence[str], now: datetime) -> TimelineReply:
    """Everything /timeline does off the event loop: resolve the arguments, read the store, draw the page."""
    catalog = config.catalog
    word, number = parse_words(words)
    if number is not None and find_agreement(catalog, " ".join(words)):  # an agreement whose id is a number
        word, number = " ".join(words), None
    agreement = find_agreement(catalog, word) if word else None
    if word and agreement is None:
        return TimelineReply(unknown_view(word, catalog))
    pages = paginate(load_timeline(store, catalog, agreement, now))
    number = number or 1
    if not 1 <= number <= len(pages):
        target = f"/timeline {agreement.id if agreement else ''}".rstrip()
        plural = "s" if len(pages) != 1 else ""
        return TimelineReply(Rich().line(f"There is no page {number}: this timeline has {len(pages)} page{plural} "
                                         f"({target} 1 to {len(pages)})."))
    page = pages[number - 1]
    try:
        png, _ = render_page(page)
    except ChartUnavailable as exc:
        return TimelineReply(Rich().line(f"Sorry, I can't draw charts here: {exc}."))
    return TimelineReply(caption(page), png)


def timeline_command(services: BotServices) -> Handler:
    """The /timeline handler, bound to the same services as the other commands."""

    async def timeline(update: Update, context: Context) -> None:
        """Send the chart as a photo; a bad argument gets a text reply naming the valid agreement ids."""
        message = update.effective_message
        if message is None:
            return
        config, now = services.config(), services.clock.now()
        reply = await asyncio.to_thread(timeline_reply, services.store, config, list(context.args or []), now)
        if reply.png is None:
            await message.reply_html(reply.rich.html(), link_preview_options=LinkPreviewOptions(is_disabled=True))
            return
        await message.reply_photo(InputFile(reply.png, filename="timeline.png"), caption=reply.rich.html(),
                                  parse_mode=ParseMode.HTML)

    return timeline
