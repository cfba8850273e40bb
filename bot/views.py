"""Plain-text and JSON renderings of commitments for the terminal and for scripts."""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any

from bot.agenda import Standing
from bot.deadlines import Deadline, describe_days, fmt_day
from bot.durations import format_duration
from bot.model import Catalog, Commitment


def deadline_text(deadline: Deadline | None) -> str:
    return deadline.label() if deadline else "ongoing (no deadline)"


def days_text(item: Standing) -> str:
    if item.days_left is None:
        return "ongoing"
    if item.status.is_final:
        return f"closed ({item.status.value})"
    return describe_days(item.days_left)


def table(items: list[Standing], width: int = 100) -> str:
    """A readable fixed-width table; the title column takes whatever width is left."""
    if not items:
        return "(none)"
    rows = [(s.commitment.id, deadline_text(s.deadline), s.due.isoformat() if s.due else "-",
             days_text(s), s.status.value, s.commitment.title) for s in items]
    headers = ("ID", "DEADLINE", "DUE", "DAYS", "STATUS", "TITLE")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers[:-1])]
    room = max(20, width - sum(widths) - 2 * len(widths))
    lines = []
    for row in [headers, *rows]:
        cells = [c.ljust(w) for c, w in zip(row, widths)]
        title = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        lines.append("  ".join([*cells, title]).rstrip())
    return "\n".join(lines)


def detail(item: Standing, catalog: Catalog, width: int = 100) -> str:
    """Everything known about one commitment, for `pledgewatch status ID`."""
    c = item.commitment
    agreement = catalog.agreements_by_id.get(c.agreement)
    wrap = lambda text, indent="  ": textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)  # noqa: E731
    lines = [f"{c.id}: {c.title}", f"  agreement:   {agreement.title if agreement else c.agreement}"]
    if c.responsible:
        lines.append(f"  responsible: {', '.join(c.responsible)}")
    if c.lead:
        lines.append(f"  lead:        {c.lead}")
    if c.agreed:
        lines.append(f"  agreed:      {fmt_day(c.agreed)}")
    lines.append(f"  deadline:    {deadline_text(item.deadline)}"
                 + (f" (due {item.due.isoformat()}, {days_text(item)})" if item.due else ""))
    if c.revisions:
        lines.append(f"  original:    {deadline_text(c.deadline)}")
        for r in c.revisions:
            note = "; ".join(x for x in (r.note, r.source) if x)
            lines.append(f"  revised to:  {r.deadline.label()}" + (f" ({note})" if note else ""))
    status = item.status.value + (f", implementation: {c.implementation.label}" if c.implementation is not None else "")
    lines.append(f"  status:      {status}")
    if c.quote:
        lines += ["  quote:", wrap(f"“{c.quote}”", "    ")]
    if c.source:
        lines.append(f"  source:      {c.source}")
    if c.keywords:
        lines.append("  keywords:    " + "\n               ".join(c.keywords))
    for e in c.evidence:
        lines.append(f"  evidence:    {e.url}" + (f" ({fmt_day(e.date)})" if e.date else "") + (f" {e.note}" if e.note else ""))
    if c.tags:
        lines.append(f"  tags:        {', '.join(c.tags)}")
    if c.remind_before:
        lines.append(f"  reminders:   {', '.join(format_duration(d) for d in c.remind_before)} before")
    return "\n".join(lines)


def deadline_json(deadline: Deadline | None) -> dict[str, Any] | None:
    if deadline is None:
        return None
    return {"written": deadline.written, "label": deadline.label(), "precision": deadline.precision.value,
            "start": deadline.start.isoformat(), "due": deadline.due.isoformat(), "fuzzy": deadline.fuzzy}


def commitment_json(item: Standing, now: datetime) -> dict[str, Any]:
    """A stable, script-friendly shape: deadline as written plus its resolved ISO due date."""
    c: Commitment = item.commitment
    return {
        "id": c.id, "agreement": c.agreement, "title": c.title,
        "responsible": list(c.responsible), "lead": c.lead,
        "agreed": c.agreed.isoformat() if c.agreed else None,
        "deadline": deadline_json(item.deadline),
        "original_deadline": deadline_json(c.deadline) if c.revisions else None,
        "revisions": [{"deadline": deadline_json(r.deadline), "source": r.source, "note": r.note} for r in c.revisions],
        "due": item.due.isoformat() if item.due else None,
        "days_left": item.days_left, "overdue": item.overdue,
        "status": item.status.value, "final": item.status.is_final,
        "implementation": int(c.implementation) if c.implementation is not None else None,
        "quote": c.quote, "source": c.source, "keywords": list(c.keywords), "search": c.search, "tags": list(c.tags),
        "evidence": [{"url": e.url, "date": e.date.isoformat() if e.date else None, "note": e.note} for e in c.evidence],
        "as_of": now.isoformat(),
    }
