"""The public status page: catalog, database facts and ``now`` in, one self-contained HTML string out.

A page people can bookmark and share outside Telegram: a promise-tracker meter per agreement, then every
commitment with its status, deadline, evidence and latest headlines. It is pure (no I/O, no clock) and
self-contained (inline CSS, no scripts, fonts or images), so it can be served from anywhere or opened
from disk. Titles, quotes and headlines come from people and feeds, so every string is escaped and
only http(s) URLs ever become links.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.agenda import Standing, score, standings
from bot.command_views import short, when
from bot.deadlines import fmt_day
from bot.digest import METER
from bot.model import Agreement, Config, Status
from bot.richtext import safe_href
from bot.site_css import CSS
from bot.site_data import SiteFacts
from bot.views import days_text, deadline_text

GLYPH = {Status.MET: "✓", Status.PARTIAL: "◐", Status.MISSED: "✗", Status.IN_PROGRESS: "➜",
         Status.STALLED: "‖", Status.PENDING: "○"}  # a shape per status, so colour is never the only cue
AUTO = ' dir="auto"'  # feed titles may be Urdu, Dari or Pashto: let each take its own direction
MEANING = {Status.MET: "kept in full", Status.PARTIAL: "kept in part", Status.MISSED: "broken or not done in time",
           Status.IN_PROGRESS: "work has visibly started", Status.STALLED: "started, then stopped",
           Status.PENDING: "not yet rated by the monitors"}


def e(text: object) -> str:
    """Escape for text and attribute values alike, so nothing from TOML or a feed can become markup."""
    return html.escape(str(text), quote=True)


def link(text: str, url: str | None, attrs: str = "", cite: bool = True) -> str:
    """A link only for http(s) URLs; otherwise inert text, with the URL shown when it is a citation worth reading."""
    href = safe_href(url)
    if href is None:
        shown = f"{text}: {url}" if cite and url and text != url else text
        return f"<span{attrs}>{e(shown)}</span>"
    return f'<a href="{e(href)}"{attrs}>{e(text)}</a>'


def site_name(url: str) -> str:
    """"dawn.com" for a source link: the outlet is what a reader weighs; a citation string stays whole."""
    host = urlsplit(url).hostname if safe_href(url) else None
    return host.removeprefix("www.") if host else short(url, 160)


def slug(text: str) -> str:
    """An id-safe fragment (TOML ids are slugs already; this only guards the page against odd input)."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in text)


def status_word(status: Status) -> str:
    """The meter's word for a status ("in progress"), the same as the digest's score line."""
    return status.value.replace("_", " ")


def time_tag(moment: datetime, tz: ZoneInfo) -> str:
    """A moment in the monitors' timezone, machine-readable too, so readers elsewhere can convert it."""
    return f'<time datetime="{e(moment.astimezone(tz).isoformat(timespec="seconds"))}">{e(when(moment, tz))}</time>'


def utc_offset(moment: datetime, tz: ZoneInfo) -> str:
    """"UTC+05:00": readers in other zones need the offset, not just an abbreviation like PKT."""
    offset = moment.astimezone(tz).strftime("%z") or "+0000"
    return f"UTC{offset[:3]}:{offset[3:5]}"


def date_tag(day: date) -> str:
    """A calendar day as "15 Dec 2020", which reads the same on both sides of the date-order divide."""
    return f'<time datetime="{day.isoformat()}">{e(fmt_day(day))}</time>'


def day_tag(moment: datetime | None, tz: ZoneInfo) -> str:
    """The local day of a moment: news is dated by the day it appeared where the monitors are."""
    return date_tag(moment.astimezone(tz).date()) if moment else ""


def meter(items: Sequence[Standing], label: str) -> str:
    """The promise-tracker bar, with its counts in a list beside it: the bar is decoration, the list is the data."""
    counts = score(items)
    segments = "".join(f'<span class="f-{s.value}" style="flex-grow:{counts[s]}" title="{counts[s]} {e(status_word(s))}">'
                       "</span>" for s in METER if s in counts)
    legend = "".join(f'<li data-status="{s.value}" data-count="{counts[s]}"><span class="sw f-{s.value}" aria-hidden="true">'
                     f"</span><b>{counts[s]}</b> {e(status_word(s))}</li>" for s in METER if s in counts)
    return (f'<div class="meter"><div class="bar" aria-hidden="true">{segments}</div>'
            f'<ul class="legend" aria-label="{e(label)}">{legend or "<li>no commitments</li>"}</ul></div>')


def _facts(item: Standing, signed: date | None) -> str:
    """The labelled facts (a description list), so each value is announced with what it is."""
    c, rows = item.commitment, []
    deadline = e(deadline_text(item.deadline))
    if item.deadline is not None and item.deadline.fuzzy:
        deadline += f' <span class="sub">(last day {e(fmt_day(item.deadline.due))})</span>'
    if c.revisions and c.deadline is not None:
        deadline += f'<br><span class="sub">originally {e(c.deadline.label())}</span>'
    rows.append(("Deadline", deadline))
    if item.days_left is not None:
        late = ' class="late"' if item.overdue else ""
        rows.append(("Time left", f"<span{late}>{'⚠ ' if item.overdue else ''}{e(days_text(item))}</span>"))
    if c.responsible:
        rows.append(("Responsible", e(", ".join(c.responsible))))
    if c.lead:
        rows.append(("Lead", e(c.lead)))
    if c.agreed and c.agreed != signed:  # the agreement's date is in its heading already
        rows.append(("Agreed", date_tag(c.agreed)))
    if c.implementation is not None:
        rows.append(("Implementation", f"{int(c.implementation)}/3, {e(c.implementation.label)}"))
    return '<dl class="facts">' + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in rows) + "</dl>"


def _evidence(item: Standing, facts: SiteFacts, names: Mapping[str, str], tz: ZoneInfo) -> str:
    """Why the status is what it is: the TOML's sources, headlines the monitors accepted, and /mark citations."""
    c, out = item.commitment, []
    for ev in c.evidence:
        day = f' <span class="sub">{date_tag(ev.date)}</span>' if ev.date else ""
        out.append(f"<li>{link(short(ev.note or ev.url, 300), ev.url)}{day}</li>")
    for cur in facts.curated.get(c.id, ()):
        src = f'<bdi>{e(names.get(cur.feed_id, cur.feed_id))}</bdi>'
        title = link(short(cur.title or "(untitled)", 300), cur.link, AUTO, cite=False)
        out.append(f'<li>{title} <span class="sub">{src} · {day_tag(cur.published, tz)} · '
                   "headline accepted as evidence by the monitors</span></li>")
    for mark in facts.marks.get(c.id, ()):
        note = short(mark.note or f"cited when marked {status_word(mark.status)}", 300)
        out.append(f'<li>{link(note, mark.evidence_url)} <span class="sub">{day_tag(mark.at, tz)} · '
                   f"status set to {e(status_word(mark.status))}</span></li>")
    if not out:
        return '<h4>Evidence</h4><p class="none">No evidence cited yet.</p>'
    return '<h4>Evidence</h4><ul class="links evidence">' + "".join(out) + "</ul>"


def _headlines(item: Standing, facts: SiteFacts, names: Mapping[str, str], langs: Mapping[str, str],
               tz: ZoneInfo) -> str:
    """The latest matched coverage, each in its own language and direction (Urdu, Dari and Pashto run right to left)."""
    found = facts.headlines.get(item.commitment.id, ())
    if not found:
        return '<h4>Latest headlines</h4><p class="none">No matched headlines yet.</p>'
    out = []
    for h in found:
        lang = f' lang="{e(langs[h.feed_id])}"' if langs.get(h.feed_id) else ""
        out.append(f'<li>{link(short(h.title or "(untitled)", 300), h.link, lang + AUTO, cite=False)} <span class="sub">'
                   f'<bdi>{e(names.get(h.feed_id, h.feed_id))}</bdi> · {day_tag(h.published, tz)}</span></li>')
    return '<h4>Latest headlines</h4><ul class="links headlines">' + "".join(out) + "</ul>"


def card(item: Standing, facts: SiteFacts, names: Mapping[str, str], langs: Mapping[str, str], tz: ZoneInfo,
         signed: date | None = None) -> str:
    """One commitment: what was promised and by when, where it stands, and what the record says."""
    c, s = item.commitment, item.status
    cid = slug(c.id)
    quote = ""
    if c.quote:
        text = c.quote.strip()
        quoted = text[:1] in "“\"‘"  # the TOML may already open with the speaker's own quotation mark
        quote = f"<blockquote><p>{e(text if quoted else f'“{text}”')}</p></blockquote>"
        if c.source:
            quote += f'<p class="sub">Source: {link(site_name(c.source), c.source)}</p>'
    tags = f" · tags: {e(', '.join(c.tags))}" if c.tags else ""
    return (f'<li class="card s-{s.value}" id="c-{cid}" data-status="{s.value}"><div class="head">'
            f'<h3 id="t-{cid}">{e(c.title)}</h3><p class="badge b-{s.value}" title="{e(MEANING[s])}">'
            f'<span class="vh">Status: </span><span aria-hidden="true">{GLYPH[s]}</span> {e(status_word(s))}</p></div>'
            f'<div class="side">{_facts(item, signed)}</div><div class="body">{quote}{_evidence(item, facts, names, tz)}'
            f'{_headlines(item, facts, names, langs, tz)}<p class="cid">ID <code>{e(c.id)}</code>{tags}</p></div></li>')


def section(agreement: Agreement, items: Sequence[Standing], facts: SiteFacts, names: Mapping[str, str],
            langs: Mapping[str, str], tz: ZoneInfo) -> str:
    """One agreement: who signed what and when, its meter, then each of its commitments."""
    aid = slug(agreement.id)
    meta = [e(" · ".join(agreement.parties))] if agreement.parties else []
    meta += [f"signed {date_tag(agreement.signed)}"] if agreement.signed else []
    meta.append(f"{len(items)} commitment{'s' if len(items) != 1 else ''}")
    overdue = sum(s.overdue for s in items)
    if overdue:
        meta.append(f'<span class="late">⚠ {overdue} overdue</span>')
    about = f"<p>{e(' '.join(agreement.summary.split()))}</p>" if agreement.summary.strip() else ""
    if agreement.sources:
        about += '<ul class="links">' + "".join(f"<li>{link(short(u, 160), u)}</li>" for u in agreement.sources) + "</ul>"
    details = f"<details><summary>About this agreement and its sources</summary>{about}</details>" if about else ""
    cards = "".join(card(i, facts, names, langs, tz, agreement.signed) for i in items)
    return (f'<section class="panel" id="a-{aid}" aria-labelledby="h-{aid}"><h2 id="h-{aid}">{e(agreement.title)}</h2>'
            f'<p class="meta">{" · ".join(meta)}</p>{details}{meter(items, "Commitments by status")}'
            f'<ol class="cards" aria-label="Commitments of this agreement">{cards}</ol></section>')


def grouped(config: Config, items: Iterable[Standing]) -> list[tuple[Agreement, list[Standing]]]:
    """Commitments under their agreement, in file order; an unknown agreement id still gets a section."""
    groups: dict[str, list[Standing]] = {a.id: [] for a in config.catalog.agreements}
    for item in items:
        groups.setdefault(item.commitment.agreement, []).append(item)
    known = config.catalog.agreements_by_id
    return [(known.get(aid) or Agreement(aid, aid), members) for aid, members in groups.items() if members]


def overview(items: Sequence[Standing], groups: Sequence[tuple[Agreement, list[Standing]]], facts: SiteFacts) -> str:
    """The whole picture first: one meter for everything, a few numbers, and a way to each agreement."""
    overdue = sum(s.overdue for s in items)
    soon = sum(1 for s in items if s.days_left is not None and 0 <= s.days_left <= 30 and not s.status.is_final)
    news = sum(1 for s in items if facts.headlines.get(s.commitment.id))
    stats = [("commitments tracked", len(items), ""),
             ("overdue and still open", overdue, ' class="late"' if overdue else ""),
             ("due in the next 30 days", soon, ""), ("with matched news", news, "")]
    tiles = "".join(f"<li{cls}><b>{n}</b> {label}</li>" for label, n, cls in stats)
    toc = "".join(f'<li><a href="#a-{slug(a.id)}">{e(a.title)}</a> <span class="sub">({len(m)})</span></li>'
                  for a, m in groups)
    return (f'<section class="panel" aria-labelledby="overview"><h2 id="overview">All commitments</h2>'
            f'{meter(items, "All commitments by status")}<ul class="stats">{tiles}</ul>'
            f'<nav aria-label="Agreements"><ol class="toc">{toc}</ol></nav></section>')


def render(config: Config, facts: SiteFacts, now: datetime) -> str:
    """The whole page for ``now``, with statuses from ``facts`` (the database) or the TOML without one."""
    catalog, tz = config.catalog, config.catalog.settings.tz
    items = standings(catalog, now, facts.status_of)
    groups = grouped(config, items)
    names = {f.id: f.name or f.id for f in config.feeds.feeds}
    langs = {f.id: f.language for f in config.feeds.feeds if f.language}
    parties = list(dict.fromkeys(p for a in catalog.agreements for p in a.parties))
    who = f" by {', '.join(parties[:-1])} and {parties[-1]}" if 1 < len(parties) <= 4 else ""
    lede = (f"{len(items)} commitment{'s' if len(items) != 1 else ''}{e(who)} from {len(groups)} "
            f"agreement{'s' if len(groups) != 1 else ''}, each with its deadline as the agreement wrote it, where it "
            "stands and the evidence for that, and the latest news coverage matched automatically.")
    stamp = f"Updated {time_tag(now, tz)} ({e(catalog.settings.timezone)}, {utc_offset(now, tz)})"
    if not facts.has_database:
        stamp += " · no news database yet: statuses from commitments.toml only"
    body = "".join(section(a, m, facts, names, langs, tz) for a, m in groups)
    legend = "".join(f"<dt>{GLYPH[s]} {e(status_word(s))}</dt><dd>{e(MEANING[s])}</dd>" for s in METER)
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{lede}"><meta name="generator" content="pledgewatch">
<title>Commitment tracker · {len(items)} commitments</title>
<style>{CSS}</style></head>
<body><a class="skip" href="#main">Skip to the commitments</a>
<header class="top"><div class="wrap"><p class="brand">pledgewatch</p><h1>Commitment tracker</h1>
<p class="lede">{lede}</p><p class="stamp">{stamp}</p></div></header>
<main id="main" tabindex="-1"><div class="wrap">{overview(items, groups, facts)}{body}</div></main>
<footer class="foot"><div class="wrap"><h2>What the statuses mean</h2><dl>{legend}</dl>
<p>Statuses are set by the monitors and should cite evidence; met, partial and missed are final.
Days are counted in {e(catalog.settings.timezone)}. Headlines are matched by keyword and may include false positives.</p>
<p>Generated by pledgewatch at {time_tag(now, tz)}.</p></div></footer>
</body></html>
"""
