"""The daily or weekly digest: one message per period saying where every agreement stands.

It is built purely from the catalog, the effective statuses, the period's matched headlines and
status history handed in, so it can be tested at any ``now``. Grouped by agreement, each with a
promise-tracker meter ("1 met, 1 partial, 3 missed, 5 pending"), what falls due within a week, what
is overdue, real status changes, and the news. A quiet period still gets its digest: "nothing due,
nothing overdue" and the meter are information too. Only an empty catalog gives no digest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.agenda import Standing, StatusOf, overdue, score, standings, upcoming
from bot.clock import require_aware
from bot.deadlines import describe_days, fmt_day
from bot.history import Headline
from bot.model import Catalog, Commitment, Status
from bot.notify import Message
from bot.reminder_messages import clip
from bot.richtext import Rich, Span, a, b, i
from bot.statuses import TOML_SOURCE, StatusChange

HORIZON_DAYS = 7
LIMIT = 4096  # Telegram's message length; the outbox splits anything longer, but one message reads better
CAPS = (8, 4, 2, 0)  # items per section per agreement, tightened until the digest fits in LIMIT
TITLE_LIMIT = 90


@dataclass(frozen=True)
class Transition:
    """A real status change: the history entry and the status it replaced (None: nothing recorded before)."""

    change: StatusChange
    before: Status | None


def real_changes(changes: Sequence[StatusChange], before: Mapping[str, Status] | None = None) -> list[Transition]:
    """Drop repeats (same status as the previous entry) and first TOML recordings, which change nothing.

    ``before`` maps commitment ids to their status just before the window (``ledger.status_before``);
    without it, the first TOML entry in the window per commitment counts as a first recording.
    """
    last: dict[str, Status] = dict(before or {})
    out = []
    for change in changes:
        previous = last.get(change.commitment_id)
        last[change.commitment_id] = change.status
        if previous == change.status or (previous is None and change.source == TOML_SOURCE):
            continue
        out.append(Transition(change, previous))
    return out


def period_title(period: str) -> str:
    """"Daily digest · Mon 23 Nov 2026" or "Weekly digest · week 48 of 2026 (23 Nov – 29 Nov)"."""
    if "-W" in period:
        year, week = (int(x) for x in period.split("-W"))
        monday, sunday = date.fromisocalendar(year, week, 1), date.fromisocalendar(year, week, 7)
        return f"Weekly digest · week {week} of {year} ({fmt_day(monday)} – {fmt_day(sunday)})"
    day = date.fromisoformat(period)
    return f"Daily digest · {day:%a} {fmt_day(day)}"


METER = (Status.MET, Status.PARTIAL, Status.MISSED, Status.IN_PROGRESS, Status.STALLED, Status.PENDING)


def score_line(items: Sequence[Standing]) -> str:
    """"1 met, 1 partial, 3 missed, 5 pending": the agreement's meter, verdicts first, as promise trackers print it."""
    counts = score(items)
    return ", ".join(f"{counts[s]} {s.value.replace('_', ' ')}" for s in METER if s in counts) or "no commitments"


@dataclass(frozen=True)
class _Group:
    """What the digest says about one agreement."""

    title: str
    members: tuple[Standing, ...]
    soon: tuple[Standing, ...]
    late: tuple[Standing, ...]
    changes: tuple[Transition, ...]
    news: tuple[tuple[Headline, tuple[str, ...]], ...]  # one per story, with every commitment it matched


def _groups(catalog: Catalog, status_of: StatusOf, now: datetime, headlines: Sequence[Headline],
            transitions: Sequence[Transition]) -> list[_Group]:
    everyone = standings(catalog, now, status_of)
    soon, late = upcoming(catalog, now, HORIZON_DAYS, status_of), overdue(catalog, now, status_of)
    order = [x.id for x in catalog.agreements] + sorted({c.agreement for c in catalog.commitments}
                                                        - {x.id for x in catalog.agreements})
    out = []
    for agreement_id in order:
        def mine(c: Commitment | None) -> bool:
            return c is not None and c.agreement == agreement_id
        members = tuple(s for s in everyone if mine(s.commitment))
        if not members:
            continue
        stories: dict[int, tuple[Headline, list[str]]] = {}
        for h in headlines:
            if mine(catalog.by_id.get(h.commitment_id)):
                entry = stories.setdefault(h.story_id, (h, []))
                if h.commitment_id not in entry[1]:
                    entry[1].append(h.commitment_id)
        known = catalog.agreements_by_id.get(agreement_id)
        out.append(_Group(
            known.title if known else agreement_id, members,
            tuple(s for s in soon if mine(s.commitment)), tuple(s for s in late if mine(s.commitment)),
            tuple(t for t in transitions if mine(catalog.by_id.get(t.change.commitment_id))),
            tuple((h, tuple(ids)) for h, ids in stories.values())))
    return out


def _item(s: Standing) -> list[Span | str]:
    deadline = s.deadline.label() if s.deadline else ""
    c = s.commitment
    return ["• ", b(describe_days(s.days_left or 0)), f" — {clip(c.title, TITLE_LIMIT)} ({c.id}), {deadline}"]


def _change(t: Transition, catalog: Catalog) -> list[Span | str]:
    c, commitment = t.change, catalog.by_id[t.change.commitment_id]
    arrow = f"{t.before.label} → {c.status.label}" if t.before is not None else f"now {c.status.label}"
    who = "commitments.toml" if c.source == TOML_SOURCE else (f"@{c.actor}" if c.actor else c.source)
    parts: list[Span | str] = ["• ", f"{clip(commitment.title, TITLE_LIMIT)} ({commitment.id}): ", b(arrow),
                               f" ({who})"]
    if c.evidence_url:
        parts += [" ", a("evidence", c.evidence_url)]
    return parts


def _news(h: Headline, ids: tuple[str, ...], catalog: Catalog, names: Mapping[str, str]) -> list[Span | str]:
    day = fmt_day(h.published.astimezone(catalog.settings.tz).date()) if h.published.tzinfo else ""
    return ["• ", a(h.title or "(untitled)", h.link),
            f" — {names.get(h.feed_id, h.feed_id)}" + (f" · {day}" if day else "") + f" [{', '.join(ids)}]"]


def _section(rich: Rich, heading: str, lines: Sequence[list[Span | str]], cap: int) -> None:
    if not lines:
        return
    rich.line(i(heading))
    for parts in lines[:cap]:
        rich.line(*parts)
    if len(lines) > cap:
        rich.line(f"  … and {len(lines) - cap} more")


def _render(title: str, groups: Sequence[_Group], catalog: Catalog, names: Mapping[str, str], cap: int) -> Rich:
    rich = Rich().line("🗞 ", b(title))
    n_soon, n_late = sum(len(g.soon) for g in groups), sum(len(g.late) for g in groups)
    n_changes, n_news = sum(len(g.changes) for g in groups), sum(len(g.news) for g in groups)
    rich.line(f"Due in the next {HORIZON_DAYS} days: {n_soon or 'nothing'} · overdue: {n_late or 'nothing'} · "
              f"status changes: {n_changes or 'none'} · new headlines: {n_news or 'none'}")
    for g in groups:
        rich.blank().line(b(clip(g.title, TITLE_LIMIT)))
        rich.line(f"Score: {score_line(g.members)}")
        _section(rich, f"Due in the next {HORIZON_DAYS} days:", [_item(s) for s in g.soon], cap)
        _section(rich, "Overdue:", [_item(s) for s in g.late], cap)
        _section(rich, "Status changes:", [_change(t, catalog) for t in g.changes], cap)
        _section(rich, "News:", [_news(h, ids, catalog, names) for h, ids in g.news], cap)
    return rich


def digest_message(catalog: Catalog, status_of: StatusOf, now: datetime, *, headlines_today: Sequence[Headline],
                   status_changes: Sequence[StatusChange], period: str,
                   status_before: Mapping[str, Status] | None = None,
                   feed_names: Mapping[str, str] | None = None) -> Message | None:
    """The digest for ``period`` (a ``ledger.digest_due`` key), or None when the catalog tracks nothing.

    ``headlines_today``: the period's matched headlines (``ledger.headlines_since``);
    ``status_changes``: ``statuses.changes_since`` over the same window, filtered here by
    :func:`real_changes` against ``status_before`` (``ledger.status_before``).
    """
    now = require_aware(now, "now")
    if not catalog.commitments:
        return None
    transitions = [t for t in real_changes(status_changes, status_before) if t.change.commitment_id in catalog.by_id]
    groups = _groups(catalog, status_of, now, headlines_today, transitions)
    names = feed_names or {}
    for cap in CAPS:
        rich = _render(period_title(period), groups, catalog, names, cap)
        if len(rich.plain()) <= LIMIT:
            break
    return Message.from_rich(rich, "digest")
