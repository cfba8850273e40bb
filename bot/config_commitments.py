"""Build the Catalog (settings, agreements, commitments) from commitments.toml, reporting every problem.

What each key of commitments.toml means and which values are valid lives here; reading the file and the
checks it shares with feeds.toml are in ``bot.config_file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config_file import queries, read_top, table_sections, unique
from bot.deadlines import Deadline, parse_deadline
from bot.errors import Problem
from bot.model import Agreement, Catalog, Commitment, Evidence, Implementation, Revision, Settings, Status
from bot.validate import Section, as_date, as_time, did_you_mean, type_name

TOP_KEYS = ("timezone", "remind_before", "remind_at", "overdue_every", "group_after", "silence_after", "digest",
            "digest_at", "agreement", "commitment")
DIGEST_CHOICES = ("daily", "weekly", "off")
AGREEMENT_KEYS = ("id", "title", "parties", "signed", "sources", "summary")
COMMITMENT_KEYS = ("id", "agreement", "title", "responsible", "lead", "agreed", "deadline", "revised",
                   "quote", "source", "keywords", "status", "implementation", "evidence", "tags",
                   "remind_before", "search")
REVISION_KEYS = ("date", "source", "note")
EVIDENCE_KEYS = ("url", "date", "note")
STATUS_HELP = ", ".join(s.value for s in Status)


def load_catalog(path: Path, problems: list[Problem]) -> Catalog:
    """Validate commitments.toml; problems are appended, a best-effort Catalog is returned."""
    return catalog_with_sections(path, problems)[0]


def catalog_with_sections(path: Path, problems: list[Problem]) -> tuple[Catalog, dict[str, Section]]:
    """load_catalog, plus each commitment's section so problems found later can still point at its lines."""
    top = read_top(path, problems, TOP_KEYS)
    if top is None:
        return Catalog(), {}
    settings = Settings(
        timezone=top.converted("timezone", _timezone, "UTC"),
        remind_before=top.durations("remind_before", Settings.remind_before),
        remind_at=top.converted("remind_at", as_time, Settings.remind_at),
        overdue_every=top.duration("overdue_every", Settings.overdue_every),
        group_after=top.converted("group_after", _group_after, Settings.group_after),
        silence_after=top.duration("silence_after", Settings.silence_after),
        digest=top.converted("digest", _digest, Settings.digest),
        digest_at=top.converted("digest_at", as_time, Settings.digest_at),
    )
    agreements = [(_agreement(s), s) for s in table_sections(top, "agreement", "agreement")]
    unique([(a.id, s) for a, s in agreements], "agreement")
    known = {a.id: a for a, _ in agreements if a.id}
    commitments = [(_commitment(s, known), s) for s in table_sections(top, "commitment", "commitment")]
    unique([(c.id, s) for c, s in commitments], "commitment")
    if not commitments and not any(p.file == str(path) for p in problems):
        top.problem("no [[commitment]] tables: nothing to track (see README, 'Tracking a new pledge')")
    catalog = Catalog(settings, tuple(a for a, _ in agreements), tuple(c for c, _ in commitments))
    return catalog, {c.id: s for c, s in commitments}


def _digest(value: object) -> str:
    """How often the digest goes out; a near miss is named, since a typo would otherwise silence it."""
    if isinstance(value, str) and value in DIGEST_CHOICES:
        return value
    hint = did_you_mean(value, DIGEST_CHOICES) if isinstance(value, str) else ""
    raise ValueError(f"expected one of {', '.join(DIGEST_CHOICES)}, got {type_name(value)}{hint}")


def _group_after(value: object) -> int:
    """At least 1: grouping after zero matches would group every announcement."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"expected a whole number of at least 1 (matches per poll before grouping), got {type_name(value)}")


def _timezone(value: object) -> str:
    """An IANA name the system can load, checked now so reminders are not computed in the wrong zone later."""
    if not isinstance(value, str):
        raise ValueError(f'expected an IANA timezone name such as "Asia/Karachi", got {type_name(value)}')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f'unknown timezone {value!r}; use an IANA name such as "Asia/Karachi" or "UTC"') from None
    return value


def _agreement(s: Section) -> Agreement:
    """One [[agreement]] table; its id is what commitments refer to."""
    s.unknown_keys(AGREEMENT_KEYS)
    return Agreement(id=s.slug(), title=s.text("title", required=True), parties=s.strings("parties"),
                     signed=s.day("signed"), sources=s.strings("sources"), summary=s.text("summary"))


def _commitment(s: Section, agreements: dict[str, Agreement]) -> Commitment:
    """One [[commitment]] table, checked against the known agreements (its default agreed date is one's signing)."""
    s.unknown_keys(COMMITMENT_KEYS)
    agreement_id = s.text("agreement", required=True)
    agreement = agreements.get(agreement_id)
    if agreement_id and agreement is None:
        hint = did_you_mean(agreement_id, agreements) or (
            f"; known agreements: {', '.join(sorted(agreements))}" if agreements else "; define it in an [[agreement]] table")
        s.problem(f"unknown agreement '{agreement_id}'{hint}", "agreement")
    agreed = s.day("agreed", agreement.signed if agreement else None)
    deadline = s.converted("deadline", lambda v: parse_deadline(v, agreed), None)
    keywords = queries(s)
    search = s.get("search", bool, False)
    if search and not keywords and isinstance(s.data.get("keywords", []), list):
        s.problem("search = true needs keywords: the search feeds are built from them (add a query to "
                  "'keywords' or remove 'search')", "search")
    return Commitment(
        id=s.slug(), agreement=agreement_id, title=s.text("title", required=True),
        responsible=s.strings("responsible"), lead=s.text("lead"), agreed=agreed, deadline=deadline,
        revisions=_revisions(s, agreed), quote=s.text("quote"), source=s.text("source"),
        keywords=keywords, status=s.converted("status", _status, Status.PENDING),
        implementation=s.converted("implementation", _implementation, None),
        evidence=_evidence(s), tags=s.strings("tags"),
        remind_before=s.durations("remind_before", ()) or None, search=search,
    )


def _status(value: object) -> Status:
    """A status value, listing the valid ones since the set is fixed and short."""
    if isinstance(value, str) and value in Status._value2member_map_:
        return Status(value)
    hint = did_you_mean(value, [x.value for x in Status]) if isinstance(value, str) else ""
    raise ValueError(f"unknown status {value!r}{hint}; valid: {STATUS_HELP}")


def _implementation(value: object) -> Implementation:
    """The 0-3 implementation scale, spelled out in the message because bare numbers are easy to misremember."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
        return Implementation(value)
    raise ValueError(f"expected 0-3 (0 not initiated, 1 minimal, 2 intermediate, 3 full), got {type_name(value)}")


def _subtables(s: Section, key: str, allowed: tuple[str, ...]) -> list[tuple[str, Section]]:
    """Inline tables of a list key (revised, evidence), each labelled ``key[i]`` so a problem names the entry."""
    values = s.get(key, list, [])
    out = []
    for i, item in enumerate(values):
        label = f"{key}[{i}]"
        if not isinstance(item, dict):
            s.problem(f"expected a table {{ {', '.join(k + ' = ...' for k in allowed)} }}, got {type_name(item)}", label)
            continue
        sub = Section(s.file, s.index, s.problems, item, s.table, s.position, s.where)
        for k in item:
            if k not in allowed:
                hint = did_you_mean(k, allowed) or f"; valid keys: {', '.join(allowed)}"
                s.problem(f"unknown key '{k}'{hint}", label)
        out.append((label, sub))
    return out


def _revisions(s: Section, agreed: Any) -> tuple[Revision, ...]:
    """Deadline revisions; relative dates resolve against the agreed date, like the original deadline."""
    out = []
    for label, sub in _subtables(s, "revised", REVISION_KEYS):
        if "date" not in sub.data:
            s.problem("a revision needs 'date', the new deadline", label)
            continue
        try:
            deadline: Deadline = parse_deadline(sub.data["date"], agreed)
        except ValueError as exc:
            s.problem(str(exc), f"{label}.date")
            continue
        out.append(Revision(deadline, _text(s, sub, "source", label), _text(s, sub, "note", label)))
    return tuple(out)


def _evidence(s: Section) -> tuple[Evidence, ...]:
    """Cited evidence; an entry without a url is dropped, since there is nothing to show for it."""
    out = []
    for label, sub in _subtables(s, "evidence", EVIDENCE_KEYS):
        url = _text(s, sub, "url", label)
        if not url:
            s.problem("evidence needs a 'url' (or a citation string)", label)
            continue
        day = None
        if "date" in sub.data:
            try:
                day = as_date(sub.data["date"])
            except ValueError as exc:
                s.problem(str(exc), f"{label}.date")
        out.append(Evidence(url, day, _text(s, sub, "note", label)))
    return tuple(out)


def _text(s: Section, sub: Section, key: str, label: str) -> str:
    """A string in an inline table, reported under the entry's label because the line is the parent's."""
    value = sub.data.get(key, "")
    if not isinstance(value, str):
        s.problem(f"expected a string, got {type_name(value)}", f"{label}.{key}")
        return ""
    return value
