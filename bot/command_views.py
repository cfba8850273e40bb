"""Replies to /status and its search, built as Rich text from catalog and store data plus ``now``.

Pure functions, so every reply can be tested without Telegram; feed and TOML strings only ever enter
as span text, which ``Rich.html`` escapes. Everything that can grow is capped, and ``fit`` keeps any
reply within Telegram's 4,096 characters whatever the data.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.agenda import Standing
from bot.curation import CuratedEvidence
from bot.deadlines import fmt_day
from bot.history import Headline
from bot.keyboards import Keyboard, news_button, open_button
from bot.model import Catalog, Commitment
from bot.richtext import Rich, Span, a, b, code, i, safe_href
from bot.statuses import TOML_SOURCE, StatusChange
from bot.views import days_text, deadline_text

MAX_CHARS = 4096
MAX_TITLE = 300
MAX_QUOTE = 600
MAX_HISTORY = 6
MAX_EVIDENCE = 5
MAX_REVISIONS = 3
MAX_CHOICES = 8


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units, so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def visible_len(rich: Rich) -> int:
    """The length Telegram checks: the text left after HTML parsing."""
    return utf16_len("\n".join("".join(s.text for s in line) for line in rich.lines).strip())


def fit(rich: Rich, limit: int = MAX_CHARS) -> Rich:
    """Drop trailing lines until the message fits, saying so, as a last guard behind the per-list caps."""
    if visible_len(rich) <= limit:
        return rich
    kept: list[list[Span]] = []
    used = 0
    for line in rich.lines:
        size = utf16_len("".join(s.text for s in line)) + 1
        if used + size > limit - 80:
            break
        kept.append(line)
        used += size
    dropped = len(rich.lines) - len(kept)
    return Rich(kept + [[Span(f"…and {dropped} more line{'s' if dropped != 1 else ''} (message shortened)", "i")]])


def short(text: str, limit: int = MAX_TITLE) -> str:
    """One line of at most ``limit`` characters, so a runaway feed title cannot crowd out the rest."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def when(moment: datetime, tz: ZoneInfo) -> str:
    """A timestamp in the monitors' timezone, e.g. "2 Jan 2026 15:00 PKT"."""
    local = moment.astimezone(tz)
    return f"{fmt_day(local.date())} {local:%H:%M} {local.tzname() or ''}".rstrip()


def standing_line(item: Standing) -> list[Span | str]:
    """The second line of a list entry: deadline, days left and effective status."""
    c = item.commitment
    parts: list[Span | str] = ["   ", deadline_text(item.deadline)]
    if c.deadline is not None:
        parts.append(f" · {days_text(item)}")
    parts.append(f" · {item.status.label}")
    return parts


def add_item(rich: Rich, item: Standing, prefix: str = "• ") -> None:
    """One commitment as two list lines: title and id, then where it stands."""
    rich.line(prefix, b(short(item.commitment.title, 160)), " ", code(item.commitment.id))
    rich.line(*standing_line(item))


def cite(text: str, url: str) -> list[Span | str]:
    """A link when the URL is http(s); otherwise the citation as plain text, so nothing is lost or unsafe."""
    if safe_href(url):
        return [a(text, url)]
    plain = short(url, 200)
    return [plain if text in (url, plain) else f"{text}: {plain}"]


def _actor(change: StatusChange) -> str:
    if change.source == TOML_SOURCE:
        return "from commitments.toml"
    return f"by {change.actor or change.actor_id or 'an admin'}"


def _history(rich: Rich, changes: Sequence[StatusChange], tz: ZoneInfo) -> None:
    if not changes:
        return
    shown = changes[-MAX_HISTORY:]
    rich.line("   History:")
    if len(changes) > len(shown):
        rich.line(i(f"   …and {len(changes) - len(shown)} earlier"))
    for change in shown:
        parts: list[Span | str] = [f"   • {when(change.at, tz)}: ", b(change.status.label), f", {_actor(change)}"]
        if change.evidence_url:
            parts += [" · ", *cite("evidence", change.evidence_url)]
        if change.note:
            parts += [" · ", i(short(change.note, 160))]
        rich.line(*parts)


def _deadline(rich: Rich, item: Standing) -> None:
    c = item.commitment
    if item.deadline is None:
        rich.line("⏰ Deadline: ongoing (no deadline)")
        return
    due = f" (due {fmt_day(item.deadline.due)})" if item.deadline.fuzzy else ""
    rich.line("⏰ Deadline: ", b(item.deadline.label()), due, f" · {days_text(item)}")
    if c.revisions and c.deadline is not None:
        rich.line(f"   Originally: {c.deadline.label()} (written “{short(c.deadline.written, 60)}”)")
        if len(c.revisions) > MAX_REVISIONS:
            rich.line(i(f"   …and {len(c.revisions) - MAX_REVISIONS} earlier revisions"))
        for revision in c.revisions[-MAX_REVISIONS:]:
            extra: list[Span | str] = []
            if revision.note:
                extra += [" · ", short(revision.note, 160)]
            if revision.source:
                extra += [" · ", *cite("source", revision.source)]
            rich.line(f"   Revised to: {revision.deadline.label()}", *extra)


def _evidence(rich: Rich, c: Commitment, curated: Sequence[CuratedEvidence], names: Mapping[str, str],
              tz: ZoneInfo, limit: int = MAX_EVIDENCE) -> None:
    if not c.evidence and not curated:
        return
    rich.blank().line("📎 ", b("Evidence"))
    for e in c.evidence[:limit]:
        rich.line("• ", *cite(short(e.note or e.url, 160), e.url), f" ({fmt_day(e.date)})" if e.date else "")
    for h in curated[:limit]:
        day = f", {fmt_day(h.published.astimezone(tz).date())}" if h.published else ""
        source = names.get(h.feed_id, h.feed_id)
        rich.line("• ✅ ", a(short(h.title or "(untitled)", 160), h.link), i(f" ({source}{day})"))
    hidden = max(0, len(c.evidence) - limit) + max(0, len(curated) - limit)
    if hidden:
        rich.line(i(f"…and {hidden} more"))


def headline_lines(rich: Rich, headlines: Sequence[Headline], names: Mapping[str, str], tz: ZoneInfo,
                   terms: bool) -> None:
    """Linked headlines with source and local date (and why they matched, when asked)."""
    for h in headlines:
        rich.line("• ", a(short(h.title or "(untitled)", 200), h.link))
        source = f"   {names.get(h.feed_id, h.feed_id)} · {fmt_day(h.published.astimezone(tz).date())}"
        rich.line(i(source + (f" · matched: {short(', '.join(h.terms), 200)}" if terms and h.terms else "")))


def status_view(item: Standing, catalog: Catalog, changes: Sequence[StatusChange],
                curated: Sequence[CuratedEvidence], headlines: Sequence[Headline], feed_names: Mapping[str, str]) -> Rich:
    """One commitment in full: what was promised, by when, where it stands and why we think so."""
    c, tz = item.commitment, catalog.settings.tz
    agreement = catalog.agreements_by_id.get(c.agreement)
    rich = Rich().line("📌 ", b(short(c.title)))
    rich.line(code(c.id), " · ", short(agreement.title if agreement else c.agreement, 200))
    who = [f"Responsible: {short(', '.join(c.responsible), 200)}"] if c.responsible else []
    who += [f"Lead: {short(c.lead, 200)}"] if c.lead else []
    if who:
        rich.line(" · ".join(who))
    if c.agreed:
        rich.line(f"Agreed: {fmt_day(c.agreed)}")
    rich.blank()
    _deadline(rich, item)
    implementation = f" · implementation: {c.implementation.label}" if c.implementation is not None else ""
    rich.line("📊 Status: ", b(item.status.label), implementation)
    _history(rich, changes, tz)
    _evidence(rich, c, curated, feed_names, tz)
    if c.quote:
        rich.blank().line("💬 ", i(f"“{short(c.quote, MAX_QUOTE)}”"))
    if c.source:
        rich.line("Source: ", *cite(short(c.source, 200), c.source))
    rich.blank().line("📰 ", b("Latest headlines"))
    if headlines:
        headline_lines(rich, headlines, feed_names, tz, terms=False)
    else:
        rich.line(i("No matched headlines yet."))
    return fit(rich)


def overview_view(items: Sequence[Standing]) -> Rich:
    """/status without an argument: the scoreboard, and how to ask about one commitment."""
    rich = Rich().line("📊 ", b(f"{len(items)} commitments tracked"))
    counts: dict[str, int] = {}
    for item in items:
        counts[item.status.label] = counts.get(item.status.label, 0) + 1
    for name, count in counts.items():
        rich.line(f"• {name}: {count}")
    overdue = sum(1 for s in items if s.overdue)
    if overdue:
        rich.line(f"⚠️ {overdue} overdue (see /overdue)")
    rich.blank().line("Ask about one: /status ", code("ID"), " or /status ", i("words"), "; browse with /list.")
    return fit(rich)


def fold(text: str) -> str:
    """Case- and accent-insensitive form for searching ("Dâr" finds "dar")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _haystack(c: Commitment) -> str:
    return fold(" ".join([c.id, c.title, c.agreement, *c.tags]))


MAX_QUERY = 100  # longer arguments are cut: no id or title is that long, and difflib is quadratic


def search(catalog: Catalog, query: str) -> list[Commitment]:
    """An exact id (any case) alone, else commitments whose id, title, agreement or tags hold every word."""
    q = fold(query.strip()[:MAX_QUERY])
    exact = [c for c in catalog.commitments if c.id.casefold() == q]
    if exact:
        return exact
    words = list(dict.fromkeys(q.split()))
    if not words:
        return []
    haystacks = ((c, _haystack(c)) for c in catalog.commitments)  # fold each commitment once
    return [c for c, hay in haystacks if all(w in hay for w in words)]


def suggest(catalog: Catalog, query: str, n: int = 3) -> list[str]:
    """The closest ids to a miss: by spelling of the id or title, then by any shared word."""
    q = fold(query.strip()[:MAX_QUERY])
    words = list(dict.fromkeys(q.split()))
    scores: dict[str, float] = {}
    for c in catalog.commitments:
        hay = _haystack(c)
        close = max(difflib.SequenceMatcher(None, q, c.id).ratio(),
                    difflib.SequenceMatcher(None, q, fold(c.title)).ratio())
        scores[c.id] = close + (0.3 if any(w in hay for w in words) else 0.0)
    ranked = sorted(scores, key=lambda cid: (-scores[cid], cid))
    return [cid for cid in ranked if scores[cid] >= 0.5][:n]


def choices_view(query: str, hits: Sequence[Commitment], news: bool = False) -> tuple[Rich, Keyboard]:
    """Several commitments match: list them, with a button to open each (or its news, for /news)."""
    shown = hits[:MAX_CHOICES]
    rich = Rich().line(f"🔎 {len(hits)} commitments match “{short(query, 100)}”:")
    for c in shown:
        rich.line("• ", b(short(c.title, 160)), " ", code(c.id))
    if len(hits) > len(shown):
        rich.line(i(f"…and {len(hits) - len(shown)} more: add words to narrow it down, or browse with /list."))
    rich.blank().line("Tap one to see it in full.")
    button = news_button if news else open_button
    return fit(rich), Keyboard(tuple((button(c.title, c.id),) for c in shown))


def not_found_view(query: str, suggestions: Sequence[str], catalog: Catalog) -> Rich:
    """No commitment matches: offer the closest ids instead of a dead end."""
    rich = Rich().line(f"I don't know a commitment matching “{short(query, 100)}”.")
    if suggestions:
        rich.line("Did you mean:")
        for ident in suggestions:
            rich.line("• ", code(ident), " — ", short(catalog.by_id[ident].title, 160))
    rich.line("Browse them all with /list.")
    return fit(rich)
