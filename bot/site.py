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
from bot.site_data import SiteFacts
from bot.views import days_text, deadline_text

GLYPH = {Status.MET: "✓", Status.PARTIAL: "◐", Status.MISSED: "✗", Status.IN_PROGRESS: "➜",
         Status.STALLED: "‖", Status.PENDING: "○"}  # a shape per status, so colour is never the only cue
AUTO = ' dir="auto"'  # feed titles may be Urdu, Dari or Pashto: let each take its own direction
MEANING = {Status.MET: "kept in full", Status.PARTIAL: "kept in part", Status.MISSED: "broken or not done in time",
           Status.IN_PROGRESS: "work has visibly started", Status.STALLED: "started, then stopped",
           Status.PENDING: "not yet rated by the monitors"}

CSS = """
:root{color-scheme:light;--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#f3f5f8;--link:#0550ae;--navy:#0b2545;
--met:#1a7f37;--partial:#9a6700;--missed:#cf222e;--in_progress:#0969da;--stalled:#8250df;--pending:#6e7781}
*{box-sizing:border-box}html{-webkit-text-size-adjust:100%}body{margin:0;color:var(--ink);background:var(--bg);
overflow-wrap:break-word;
font:1rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Naskh Arabic",Tahoma,sans-serif}
a{color:var(--link);text-underline-offset:.15em}a:visited{color:#6639ba}
a:focus-visible,summary:focus-visible{outline:3px solid #fb8f44;outline-offset:2px;border-radius:2px}
.skip{position:absolute;left:.5rem;top:-4rem;background:#fff;color:var(--navy);padding:.5rem 1rem;font-weight:600;
z-index:9}.skip:focus{top:.5rem}.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
white-space:nowrap}.wrap{max-width:72rem;margin:0 auto;padding:0 1.25rem}.top{background:var(--navy);color:#fff;
padding:1.6rem 0 1.4rem}.top a{color:#fff}.brand{margin:0;font-size:.8rem;font-weight:600;letter-spacing:.1em;
text-transform:uppercase;color:#c9d6ea}h1{margin:.15rem 0 .4rem;font-size:clamp(1.6rem,4.5vw,2.4rem);line-height:1.15}
.lede{margin:0;max-width:48rem;color:#dde6f2}.stamp{margin:.7rem 0 0;font-size:.875rem;color:#c9d6ea}
main{padding:1.5rem 0 2rem}.panel{background:#fff;border:1px solid var(--line);border-radius:.7rem;
padding:1.4rem 1.5rem;margin:0 0 1.5rem}h2{font-size:clamp(1.2rem,3vw,1.4rem);line-height:1.3;margin:0 0 .35rem}
.meta{color:var(--muted);margin:0 0 .5rem;font-size:.925rem}details{margin:.5rem 0}summary{cursor:pointer;
color:var(--link);font-size:.925rem}details p{max-width:48rem}.bar{display:flex;gap:2px;height:1.25rem;
margin:1rem 0 .5rem;border-radius:.3rem;overflow:hidden;background:#eaeef2}.bar span{min-width:.4rem}
.legend{display:flex;flex-wrap:wrap;gap:.25rem 1.2rem;list-style:none;margin:0;padding:0;font-size:.925rem}
.legend li{display:flex;align-items:center;gap:.4rem}.legend b{font-size:1.05rem}.sw{display:inline-block;width:.9rem;
height:.9rem;border-radius:.2rem}.f-met{background:var(--met)}
.f-partial{background:repeating-linear-gradient(90deg,var(--partial) 0 50%,#d4a72c 50% 100%)}
.f-missed{background:repeating-linear-gradient(135deg,var(--missed) 0 5px,#a40e26 5px 8px)}
.f-in_progress{background:var(--in_progress)}
.f-stalled{background:repeating-linear-gradient(90deg,var(--stalled) 0 6px,#6639ba 6px 8px)}
.f-pending{background:var(--pending)}.stats{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));
gap:.75rem;list-style:none;margin:1.2rem 0 0;padding:0}.stats li{border:1px solid var(--line);border-radius:.5rem;
padding:.6rem .85rem;background:#f8fafc;font-size:.9rem}.stats b{display:block;font-size:1.7rem;line-height:1.15}
.stats .late b{color:#a40e26}.toc{margin:1.2rem 0 0;padding-left:1.2rem}.toc li{margin:.25rem 0}
.cards{list-style:none;margin:1.25rem 0 0;padding:0;display:grid;gap:1rem}.card{display:grid;
grid-template-areas:"head" "side" "body";gap:.4rem 2rem;border:1px solid var(--line);
border-left:.4rem solid var(--pending);border-radius:.5rem;padding:1rem 1.2rem;background:#fff}
.card.s-met{border-left-color:var(--met)}.card.s-partial{border-left-color:var(--partial)}
.card.s-missed{border-left-color:var(--missed)}.card.s-in_progress{border-left-color:var(--in_progress)}
.card.s-stalled{border-left-color:var(--stalled)}.head{grid-area:head;display:flex;flex-wrap:wrap;gap:.4rem 1rem;
align-items:flex-start;justify-content:space-between}.side{grid-area:side}.body{grid-area:body;min-width:0}
h3{flex:1 1 18rem;font-size:1.1rem;line-height:1.35;margin:0}.badge{margin:0;padding:.15rem .65rem;border-radius:1rem;
font-weight:600;font-size:.875rem;white-space:nowrap}.b-met{background:#dafbe1;color:#116329}
.b-partial{background:#fff8c5;color:#6c4400}.b-missed{background:#ffebe9;color:#a40e26}
.b-in_progress{background:#ddf4ff;color:#0550ae}.b-stalled{background:#fbefff;color:#6639ba}
.b-pending{background:#eaeef2;color:#3d444d}.facts{display:grid;
grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));gap:.45rem 1.25rem;margin:.2rem 0}
.facts dt{font-size:.75rem;font-weight:600;letter-spacing:.05em;text-transform:uppercase;color:var(--muted)}
.facts dd{margin:0}.late{color:#a40e26;font-weight:600}.sub{color:var(--muted);font-size:.875rem}
blockquote{margin:.3rem 0 .2rem;padding:.05rem 0 .05rem .9rem;border-left:3px solid var(--line);color:#32383f}
blockquote p{margin:.2rem 0}h4{margin:.9rem 0 .3rem;font-size:.8rem;letter-spacing:.05em;text-transform:uppercase;
color:var(--muted)}.links{margin:0;padding-left:1.1rem;list-style:disc}.links li{margin:.35rem 0}
.links .sub{display:block}.none{margin:0;color:var(--muted);font-size:.925rem}.cid{margin:.8rem 0 0;font-size:.8rem;
color:var(--muted)}code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.foot{border-top:1px solid var(--line);padding:1.25rem 0 2.5rem;color:var(--muted);font-size:.9rem}
.foot h2{color:var(--ink);font-size:1.15rem}.foot dt{font-weight:600;color:var(--ink)}.foot dl{display:grid;
grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0 1rem}.foot dd{margin:0}
@media (min-width:60rem){.card{grid-template-columns:minmax(0,1fr) 16rem;grid-template-areas:"head head" "body side"}
.side .facts{grid-template-columns:1fr}}@media (max-width:40rem){.wrap{padding:0 .5rem}.top .wrap{padding:0 .9rem}
.panel{padding:1rem .7rem;border-radius:.5rem}.card{padding:.8rem .75rem;border-left-width:.3rem}
blockquote{padding-left:.6rem}.links{padding-left:1rem}.top{padding:1.2rem 0 1rem}}@media print{.skip{display:none}
.top,.top *{background:#fff;color:#000}.card{break-inside:avoid}}
"""


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
