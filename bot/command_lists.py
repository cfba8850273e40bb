"""Replies to the other commands (/help, /list, /upcoming, /overdue, /news, subscriptions, /mark) as Rich text.

Pure like ``bot.command_views``: data and ``now`` in, escaped text out, every list capped with
"…and N more" so no reply can pass Telegram's length limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bot.agenda import Standing
from bot.command_views import add_item, cite, fit, headline_lines, short, when
from bot.history import Headline
from bot.keyboards import Button, Keyboard, open_button, page_button
from bot.model import Catalog, Commitment, Status
from bot.richtext import Rich, Span, a, b, code, i
from bot.statuses import StatusChange
from bot.subscriptions import ALL
from bot.validate import did_you_mean

PER_PAGE = 10
MAX_ITEMS = 25
MENU: tuple[tuple[str, str], ...] = (
    ("status", "One commitment in full: /status ID or words"),
    ("list", "Browse commitments: /list [agreement or tag]"),
    ("upcoming", "Deadlines in the next N days (default 30)"),
    ("overdue", "Open commitments past their deadline"),
    ("timeline", "Chart of deadlines and news: /timeline [agreement]"),
    ("news", "Latest matched headlines: /news ID"),
    ("subscribe", "Follow a commitment here (private chat)"),
    ("unsubscribe", "Stop following a commitment"),
    ("help", "What this bot does and how to ask it"),
)
MARK_USAGE = "/mark ID STATUS [URL] [note]"
STATUS_NAMES = ", ".join(s.value for s in Status)


def help_view(greeting: bool = False) -> Rich:
    """/start and /help: what the bot is for, then every command."""
    rich = Rich()
    if greeting:
        rich.line("👋 ", b("Welcome to pledgewatch."))
    rich.line("I keep track of commitments governments have signed: what they promised, by when, and where "
              "each one stands. I watch news feeds and post matching headlines and deadline reminders to the channel.")
    rich.blank().line(b("Commands"))
    for name, text in MENU:
        rich.line(f"/{name} — {text}")
    rich.blank().line(i(f"Admins: {MARK_USAGE} sets a status ({STATUS_NAMES})."))
    return fit(rich)


def list_view(items: Sequence[Standing], page: int, filter_: str, filter_title: str = "",
              per_page: int = PER_PAGE) -> tuple[Rich, Keyboard]:
    """One page of commitments, with a button to open each and prev/next buttons that keep the filter."""
    pages = max(1, -(-len(items) // per_page))
    page = min(max(page, 0), pages - 1)
    chunk = items[page * per_page:(page + 1) * per_page]
    scope = f" · {short(filter_title or filter_, 100)}" if filter_ else ""
    rich = Rich().line("📋 ", b(f"Commitments{scope}"), f" — page {page + 1} of {pages} ({len(items)} in all)")
    if not items:
        rich.line(i("None."))
    for n, item in enumerate(chunk, start=page * per_page + 1):
        add_item(rich, item, f"{n}. ")
    rows: list[tuple[Button, ...]] = [(open_button(f"{n}. {s.commitment.title}", s.commitment.id),)
            for n, s in enumerate(chunk, start=page * per_page + 1)]
    nav = []
    if page > 0:
        nav.append(page_button("« prev", page - 1, filter_))
    if page < pages - 1:
        nav.append(page_button("next »", page + 1, filter_))
    if nav:
        rows.append(tuple(nav))
    return fit(rich), Keyboard(tuple(rows))


def unknown_filter_view(word: str, agreements: Sequence[str], tags: Sequence[str]) -> Rich:
    """/list with a filter that is neither an agreement nor a tag: show what would work."""
    hint = did_you_mean(word, [*agreements, *tags])
    rich = Rich().line(f"“{short(word, 100)}” is neither an agreement nor a tag{hint}")
    rich.line("Agreements: ", *_codes(agreements))
    rich.line("Tags: ", *_codes(tags))
    return fit(rich)


def _codes(values: Sequence[str], limit: int = 40) -> list[Span | str]:
    out: list[Span | str] = []
    for n, value in enumerate(values[:limit]):
        out += ([", "] if n else []) + [code(short(value, 64))]
    if len(values) > limit:
        out.append(f" …and {len(values) - limit} more")
    return out or ["none"]


def _items(rich: Rich, items: Sequence[Standing]) -> None:
    for item in items[:MAX_ITEMS]:
        add_item(rich, item)
    if len(items) > MAX_ITEMS:
        rich.line(i(f"…and {len(items) - MAX_ITEMS} more (see /list)"))


def upcoming_view(items: Sequence[Standing], days: int) -> Rich:
    """Open commitments due soon, soonest first."""
    rich = Rich().line("⏳ ", b(f"Due in the next {days} day{'s' if days != 1 else ''}"), f" ({len(items)})")
    if not items:
        rich.line(i("Nothing open falls due in that time."))
    _items(rich, items)
    return fit(rich)


def overdue_view(items: Sequence[Standing]) -> Rich:
    """Open commitments past their deadline, longest overdue first."""
    rich = Rich().line("⚠️ ", b("Overdue"), f" ({len(items)})")
    if not items:
        rich.line(i("Nothing open is past its deadline."))
    _items(rich, items)
    return fit(rich)


def news_view(commitment: Commitment, headlines: Sequence[Headline], feed_names: dict[str, str], tz: ZoneInfo) -> Rich:
    """The latest matched headlines for one commitment, with why each matched."""
    rich = Rich().line("📰 ", b(f"Latest news: {short(commitment.title, 200)}"), " ", code(commitment.id))
    if not headlines:
        rich.line(i("No matched headlines yet."))
    headline_lines(rich, headlines, feed_names, tz, terms=True)
    return fit(rich)


def usage_view(usage: str, hint: str = "") -> Rich:
    """A command used without what it needs: show how it is used."""
    rich = Rich().line("Usage: ", code(usage))
    if hint:
        rich.line(hint)
    return rich


def _target(target: str, catalog: Catalog) -> list[Span | str]:
    if target == ALL:
        return [b("all commitments")]
    c = catalog.by_id.get(target)
    return [b(short(c.title, 160)), " ", code(target)] if c else [code(target), i(" (no longer tracked)")]


def subscriptions_view(ids: Sequence[str], catalog: Catalog, lead: Sequence[Span | str] = ()) -> Rich:
    """What this chat follows, after any confirmation, with how to change it."""
    rich = Rich()
    if lead:
        rich.line(*lead).blank()
    if not ids:
        rich.line("You don't follow any commitment yet.")
    else:
        rich.line(b("You follow:"))
        for ident in ids[:MAX_ITEMS]:
            rich.line("• ", *_target(ident, catalog))
        if len(ids) > MAX_ITEMS:
            rich.line(i(f"…and {len(ids) - MAX_ITEMS} more"))
    rich.line(i("/subscribe ID or /subscribe all to follow; /unsubscribe ID or /unsubscribe all to stop."))
    return fit(rich)


def subscribed_view(target: str, new: bool, ids: Sequence[str], catalog: Catalog) -> Rich:
    """Confirm a subscription, then the current list."""
    verb = "🔔 You now follow " if new else "You already follow "
    return subscriptions_view(ids, catalog, [verb, *_target(target, catalog), "."])


def unsubscribed_view(target: str, removed: int, ids: Sequence[str], catalog: Catalog) -> Rich:
    """Confirm an unsubscription (or say there was nothing to stop), then the current list."""
    if removed:
        lead: list[Span | str] = ["🔕 You no longer follow ", *_target(target, catalog), "."]
    elif ALL in ids:
        lead = ["You follow all commitments; send /unsubscribe all to stop."]
    else:
        lead = ["You were not following ", *_target(target, catalog), "."]
    return subscriptions_view(ids, catalog, lead)


def private_only_view(command: str, bot_username: str) -> Rich:
    """Subscriptions are personal, so in a group the bot points to a private chat instead."""
    return Rich().line(f"/{command} works in a private chat, so updates reach only you: message me at ",
                       a(f"@{bot_username}", f"https://t.me/{bot_username}"), f" and send /{command} there.")


def refusal_view() -> Rich:
    """A non-admin tried an admin command."""
    return Rich().line("Sorry, only the bot's admins can change a status. Ask one of them, with a source.")


def bad_status_view(word: str) -> Rich:
    """/mark with a status that does not exist: list the valid ones."""
    hint = did_you_mean(word, [s.value for s in Status])
    rich = Rich().line(f"“{short(word, 60)}” is not a status{hint}")
    return rich.line("Valid statuses: ", *_codes([s.value for s in Status]))


def marked_view(change: StatusChange, commitment: Commitment, tz: ZoneInfo) -> Rich:
    """Confirm a /mark with who, when and the evidence, exactly as /status will show it."""
    rich = Rich().line("✅ ", b(short(commitment.title, 200)), " ", code(commitment.id))
    rich.line("Status is now ", b(change.status.label), f", set by {change.actor} on {when(change.at, tz)}.")
    if change.evidence_url:
        rich.line("Evidence: ", *cite(short(change.evidence_url, 200), change.evidence_url))
    if change.note:
        rich.line("Note: ", i(short(change.note, 500)))
    return fit(rich)
