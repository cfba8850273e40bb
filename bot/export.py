"""Everything pledgewatch knows about each commitment, as JSON, CSV rows or calendar events, for use elsewhere.

Pure: the caller reads the TOML and the database into ``ExportData`` and passes ``now``. Decisions:

* Status is the *effective* one: the newest status-history entry, unless commitments.toml says
  something the bot has not recorded yet, in which case the TOML wins (as it will at the bot's next
  sync); such an entry is listed in the history with ``at`` = null.
* Match counts: ``live`` counts matches from regular polling (posted, or about to be); ``backfill``
  counts entries already older than ``backfill`` when their feed was first polled (recorded, never
  posted: they say when a feed was added, not how much news there was); ``dismissed`` counts matches
  an admin marked "not relevant", which are in neither of the other two.
* Calendar: one all-day event per dated commitment, on the due day of the deadline in force. A fuzzy
  deadline ("by end of Q1 2021") is an event on its *last* day, titled with the written words, and its
  window goes in the description: that is the day the bot treats as due, alarms count back from the
  event's start, and a quarter-long event would bury every other entry in the calendar. Ongoing
  pledges have no date, so no event. The UID is the commitment id at a fixed domain, so a subscribed
  calendar moves the event when the deadline changes; SEQUENCE is the number of revisions, and
  LAST-MODIFIED the newest of commitments.toml's modification time, a status change and a curated
  piece of evidence. Alarms mirror the bot's reminders (each lead day and the due day at
  ``remind_at``, in the calendar's own time zone) and are left out once the status is final.
* CSV: one row per commitment, UTF-8 with a BOM (without one, Excel reads Urdu, Pashto and Dari as
  mojibake; LibreOffice, Google Sheets and Python's ``utf-8-sig`` ignore it), CRLF rows. Short lists
  (responsible, tags) are joined with "; ", lists of records (revisions, history, evidence, keywords)
  one per line inside the cell. A text cell starting with = + - @ is prefixed with ' so a spreadsheet
  never runs a headline from a stranger's feed as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bot import __version__
from bot.agenda import Standing, standing
from bot.curation import CuratedEvidence
from bot.deadlines import fmt_day
from bot.ics import Alarm, Event, calendar
from bot.model import Catalog, Commitment, Status
from bot.reminders import lead_days
from bot.statuses import TOML_SOURCE, StatusChange
from bot.views import commitment_json

UID_DOMAIN = "pledgewatch"
CSV_BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MATCHES_NOTE = ("live: matches from regular polling; backfill: entries already old when their feed was first "
                "polled (recorded, never posted); dismissed: marked not relevant by an admin (in neither)")

Cell = str | int | bool | None


@dataclass(frozen=True)
class MatchCounts:
    """How many headlines matched a commitment, split so a first poll's backlog does not read as news volume."""

    live: int = 0
    backfill: int = 0
    dismissed: int = 0
    latest: datetime | None = None  # newest published date among live and backfill matches


@dataclass(frozen=True)
class ExportData:
    """What the exports are made from: the catalog plus what the database knows, read once by the caller."""

    catalog: Catalog
    history: Mapping[str, tuple[StatusChange, ...]] = field(default_factory=dict)  # oldest first
    curated: Mapping[str, tuple[CuratedEvidence, ...]] = field(default_factory=dict)  # newest first
    matches: Mapping[str, MatchCounts] = field(default_factory=dict)
    modified: datetime | None = None  # when commitments.toml last changed, bounding LAST-MODIFIED


def toml_unrecorded(commitment: Commitment, changes: tuple[StatusChange, ...]) -> bool:
    """True when the TOML status differs from the last one the bot recorded, so it is the newest word."""
    last = next((c for c in reversed(changes) if c.source == TOML_SOURCE), None)
    return last is None or last.status is not commitment.status


def effective_status(commitment: Commitment, changes: tuple[StatusChange, ...]) -> Status:
    """The status in force, as the bot will see it after its next sync, without writing to the database."""
    return commitment.status if toml_unrecorded(commitment, changes) else changes[-1].status


def _standing(data: ExportData, commitment: Commitment, now: datetime) -> Standing:
    status = effective_status(commitment, data.history.get(commitment.id, ()))
    return standing(commitment, now, data.catalog.settings.tz, lambda _: status)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment else None  # as ``as_of`` in status --json


def _history(commitment: Commitment, changes: tuple[StatusChange, ...]) -> list[dict[str, Any]]:
    """Actor names are kept (the README promises "who"); Telegram's numeric user ids are not exported."""
    out = [{"status": c.status.value, "source": c.source, "at": _iso(c.at), "actor": c.actor,
            "evidence_url": c.evidence_url, "note": c.note} for c in changes]
    if toml_unrecorded(commitment, changes) and changes:
        out.append({"status": commitment.status.value, "source": TOML_SOURCE, "at": None, "actor": None,
                    "evidence_url": None, "note": "in commitments.toml, not yet recorded by the bot"})
    return out


def _curated(items: tuple[CuratedEvidence, ...]) -> list[dict[str, Any]]:
    return [{"title": e.title, "url": e.link, "published": _iso(e.published), "feed": e.feed_id, "accepted": _iso(e.at)}
            for e in items]


def commitment_record(data: ExportData, commitment: Commitment, now: datetime) -> dict[str, Any]:
    """``status --json``'s shape, plus status history, curated evidence and match counts."""
    item = _standing(data, commitment, now)
    agreement = data.catalog.agreements_by_id.get(commitment.agreement)
    counts = data.matches.get(commitment.id, MatchCounts())
    record = commitment_json(item, now)
    record.update({
        "agreement_title": agreement.title if agreement else None,
        "status_history": _history(commitment, data.history.get(commitment.id, ())),
        "curated_evidence": _curated(data.curated.get(commitment.id, ())),
        "matches": {"live": counts.live, "backfill": counts.backfill, "dismissed": counts.dismissed,
                    "latest": _iso(counts.latest)},
    })
    return record


def export_json(data: ExportData, now: datetime) -> dict[str, Any]:
    """The whole catalog for scripts: agreements, then every commitment in catalog order."""
    cat = data.catalog
    return {
        "generated": _iso(now), "generator": f"pledgewatch {__version__}", "timezone": cat.settings.timezone,
        "matches_note": MATCHES_NOTE,
        "agreements": [{"id": a.id, "title": a.title, "parties": list(a.parties),
                        "signed": a.signed.isoformat() if a.signed else None, "sources": list(a.sources),
                        "summary": a.summary} for a in cat.agreements],
        "commitments": [commitment_record(data, c, now) for c in cat.commitments],
    }


CSV_COLUMNS = (
    "id", "agreement", "agreement_title", "title", "responsible", "lead", "agreed",
    "deadline_written", "deadline_label", "deadline_start", "deadline_due", "deadline_fuzzy",
    "original_deadline_written", "original_deadline_due", "revisions", "days_left", "overdue",
    "status", "final", "implementation", "status_history", "quote", "source", "evidence", "curated_evidence",
    "keywords", "tags", "matches_live", "matches_backfill", "matches_dismissed", "latest_match", "as_of",
)


def _lines(items: list[str]) -> str:
    return "\n".join(items)


def _joined(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def csv_row(data: ExportData, commitment: Commitment, now: datetime) -> dict[str, Cell]:
    """One flat row; the record's lists become joined text."""
    r = commitment_record(data, commitment, now)
    deadline, original = r["deadline"] or {}, r["original_deadline"] or {}
    revisions = [_joined(f"{v['deadline']['written']} (due {v['deadline']['due']})", v["note"], v["source"])
                 for v in r["revisions"]]
    history = [_joined(h["at"] or "(not yet recorded)", h["status"], f"({h['source']})", h["actor"] and f"by {h['actor']}",
                       h["evidence_url"], h["note"]) for h in r["status_history"]]
    evidence = [_joined(e["date"], e["url"], e["note"]) for e in r["evidence"]]
    curated = [_joined(e["published"] and e["published"][:10], e["title"], e["url"] and f"<{e['url']}>")
               for e in r["curated_evidence"]]
    return {
        "id": r["id"], "agreement": r["agreement"], "agreement_title": r["agreement_title"], "title": r["title"],
        "responsible": "; ".join(r["responsible"]), "lead": r["lead"], "agreed": r["agreed"],
        "deadline_written": deadline.get("written"), "deadline_label": deadline.get("label"),
        "deadline_start": deadline.get("start"), "deadline_due": deadline.get("due"),
        "deadline_fuzzy": deadline.get("fuzzy"),
        "original_deadline_written": original.get("written"), "original_deadline_due": original.get("due"),
        "revisions": _lines(revisions), "days_left": r["days_left"], "overdue": r["overdue"],
        "status": r["status"], "final": r["final"], "implementation": r["implementation"],
        "status_history": _lines(history), "quote": r["quote"], "source": r["source"],
        "evidence": _lines(evidence), "curated_evidence": _lines(curated), "keywords": _lines(r["keywords"]),
        "tags": "; ".join(r["tags"]), "matches_live": r["matches"]["live"],
        "matches_backfill": r["matches"]["backfill"], "matches_dismissed": r["matches"]["dismissed"],
        "latest_match": r["matches"]["latest"], "as_of": r["as_of"],
    }


def csv_cell(value: Cell) -> str:
    """Text for one cell: booleans as JSON writes them, and text that a spreadsheet would evaluate defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def export_csv(data: ExportData, now: datetime) -> str:
    """The CSV file's text, BOM first, header row, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for commitment in data.catalog.commitments:
        row = csv_row(data, commitment, now)
        writer.writerow([csv_cell(row[name]) for name in CSV_COLUMNS])
    return CSV_BOM + buffer.getvalue()


def event_uid(commitment_id: str, domain: str = UID_DOMAIN) -> str:
    """The same for every export of a commitment, whatever its deadline, so calendars update instead of duplicating."""
    return f"{commitment_id}@{domain}"


def _alarms(data: ExportData, item: Standing) -> tuple[Alarm, ...]:
    """The bot's reminder days as alarms at ``remind_at``; none for a final status, which stops reminders."""
    c, deadline = item.commitment, item.deadline
    if deadline is None or item.status.is_final:
        return ()
    at = data.catalog.settings.remind_at
    offset = timedelta(hours=at.hour, minutes=at.minute)
    out = []
    for days in lead_days(c, data.catalog.settings):
        if c.agreed is not None and deadline.due - timedelta(days=days) < c.agreed:
            continue  # the bot does not remind before the pledge was made either
        out.append(Alarm(offset - timedelta(days=days), f"{c.title}: due in {days} day{'s' if days != 1 else ''} "
                                                         f"({deadline.label()})"))
    out.append(Alarm(offset, f"{c.title}: due today ({deadline.label()})"))
    return tuple(out)


def _description(data: ExportData, item: Standing) -> str:
    c, deadline = item.commitment, item.deadline
    assert deadline is not None
    agreement = data.catalog.agreements_by_id.get(c.agreement)
    window = f" (the period {fmt_day(deadline.start)} – {fmt_day(deadline.due)})" if deadline.fuzzy else ""
    lines = [f"Status: {item.status.label}", f"Deadline: {deadline.label()}{window}"]
    if c.revisions and c.deadline is not None:
        last = c.revisions[-1]
        times = f" {len(c.revisions)} times" if len(c.revisions) > 1 else ""
        lines.append(f"Originally: {c.deadline.label()}; revised{times}"
                     + "".join(f"; {x}" for x in (last.note, last.source) if x))
    lines.append(f"Agreement: {agreement.title if agreement else c.agreement}")
    if c.responsible:
        lines.append(f"Responsible: {', '.join(c.responsible)}")
    if c.lead:
        lines.append(f"Lead: {c.lead}")
    if c.quote:
        lines += ["", f"“{c.quote}”"]
    if c.source:
        lines += ["", f"Source: {c.source}"]
    lines += [f"Evidence: {_joined(e.url, f'({fmt_day(e.date)})' if e.date else None, e.note)}" for e in c.evidence]
    lines += [f"Evidence (curated): {_joined(e.title, e.link and f'<{e.link}>')}" for e in data.curated.get(c.id, ())]
    lines += ["", f"pledgewatch id: {c.id}"]
    return "\n".join(lines)


def _last_modified(data: ExportData, commitment: Commitment, now: datetime) -> datetime | None:
    known = [x.at for x in data.history.get(commitment.id, ())] + [e.at for e in data.curated.get(commitment.id, ())]
    if data.modified is not None:
        known.append(data.modified)
    known = [k for k in known if k.tzinfo is not None]
    return min(max(known), now) if known else None


def calendar_events(data: ExportData, now: datetime, domain: str = UID_DOMAIN) -> list[Event]:
    """An all-day event on the due day of every dated commitment, in catalog order."""
    events = []
    for c in data.catalog.commitments:
        item = _standing(data, c, now)
        if item.deadline is None:
            continue
        prefix = f"[{item.status.value}] " if item.status.is_final else ""
        url = c.source if c.source.startswith(("https://", "http://")) else ""
        events.append(Event(
            uid=event_uid(c.id, domain), summary=f"{prefix}{c.title} — due {item.deadline.label()}",
            day=item.deadline.due, sequence=len(c.revisions), last_modified=_last_modified(data, c, now),
            description=_description(data, item), url=url, categories=c.tags, alarms=_alarms(data, item)))
    return events


def export_ics(data: ExportData, now: datetime, domain: str = UID_DOMAIN) -> str:
    """The iCalendar file's text (CRLF, folded), for a calendar to import or subscribe to."""
    return calendar(calendar_events(data, now, domain), now, name="pledgewatch deadlines",
                    prodid=f"-//pledgewatch//pledgewatch {__version__}//EN")
