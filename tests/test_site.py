"""The status page, parsed as a browser would: content, meters, links, escaping, self-containment, accessibility."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.agenda import Standing, score, standings
from bot.cli_site import register
from bot.clock import FakeClock
from bot.config import load_config
from bot.curation import record_verdict
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.model import Config, Status
from bot.parse import ParsedEntry
from bot.site import CSS, render, status_word
from bot.site_data import SiteFacts, gather
from bot.statuses import mark, sync_toml_statuses
from bot.store import Store
from bot.views import days_text, deadline_text
from tests.support.cli import run_command

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)
VOID = {"meta", "link", "br", "img", "input", "hr", "source", "area", "base", "col", "embed", "track", "wbr"}


class Node:
    """An element of the parsed page, enough of a DOM to ask what a reader (or a screen reader) gets."""

    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None = None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [n for n in self.iter() if (tag is None or n.tag == tag) and all(n.matches(k, v) for k, v in attrs.items())]

    def matches(self, key: str, value: str) -> bool:
        name = key.rstrip("_").replace("_", "-")  # class_ -> class, aria_labelledby -> aria-labelledby
        return self.has_class(value) if name == "class" else self.attrs.get(name) == value

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag}> with {attrs}"
        return found[0]

    def raw(self) -> str:
        return "".join(c if isinstance(c, str) else c.raw() for c in self.children)

    def text(self) -> str:
        return " ".join(self.raw().split())

    def has_class(self, name: str) -> bool:
        return name in self.attrs.get("class", "").split()


class Tree(HTMLParser):
    """Builds Nodes and refuses badly nested markup, so the page's structure is what the tests see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        assert tag == self.current.tag, f"</{tag}> closes <{self.current.tag}>"
        assert self.current.parent is not None
        self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(page: str) -> Node:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.current is tree.root, f"<{tree.current.tag}> never closed"
    assert tree.doctype.lower() == "doctype html"
    return tree.root


def card(doc: Node, commitment_id: str) -> Node:
    return doc.find("li", id=f"c-{commitment_id}")


def fact(node: Node, label: str) -> str:
    for pair in node.find("dl").find_all("div"):
        if pair.find("dt").text() == label:
            return pair.find("dd").text()
    raise AssertionError(f"no {label!r} in the card")


def section_items(config: Config, agreement_id: str, facts: SiteFacts) -> list[Standing]:
    return [s for s in standings(config.catalog, NOW, facts.status_of) if s.commitment.agreement == agreement_id]


def meter_counts(node: Node) -> dict[str, int]:
    legend = node.find("ul", class_="legend")
    counts = {li.attrs["data-status"]: int(li.attrs["data-count"]) for li in legend.find_all("li")}
    for li in legend.find_all("li"):  # the visible text says the same as the data attributes
        assert li.text() == f"{li.attrs['data-count']} {li.attrs['data-status'].replace('_', ' ')}"
    return counts


def expected(items: list[Standing]) -> dict[str, int]:
    return {s.value: n for s, n in score(items).items()}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.sqlite3")
    yield s
    s.close()


def test_bundled_commitments_with_an_empty_database(store: Store) -> None:
    config = load_config(REPO)
    facts = gather(store, config.catalog.commitments)
    doc = parse(render(config, facts, NOW))
    items = standings(config.catalog, NOW, facts.status_of)
    assert len(items) > 20
    for item in items:
        c, node = item.commitment, card(doc, item.commitment.id)
        assert node.find("h3").text() == c.title
        assert node.find("p", class_=f"b-{item.status.value}").text().endswith(status_word(item.status))
        assert fact(node, "Deadline").startswith(deadline_text(item.deadline))
        if item.days_left is not None:
            assert fact(node, "Time left").endswith(days_text(item))
        assert "No matched headlines yet." in node.text() and "No evidence cited yet." in node.text()
    assert "overdue by" in card(doc, "sv-joint-intelligence-work").text()
    assert fact(card(doc, "sv-ghani-reciprocal-visit"), "Deadline") == "by end of Q1 2021 (last day 31 Mar 2021)"
    for agreement in config.catalog.agreements:
        section = doc.find("section", id=f"a-{agreement.id}")
        assert section.find("h2").text() == agreement.title
        assert meter_counts(section) == expected(section_items(config, agreement.id, facts))
    assert meter_counts(doc.find("section", aria_labelledby="overview")) == expected(items)
    assert "Asia/Karachi" in doc.find("header").text() and "UTC+05:00" in doc.find("header").text()
    assert doc.find("time").attrs["datetime"] == "2026-11-23T11:00:00+05:00"


def test_works_without_any_database() -> None:
    config = load_config(REPO)
    doc = parse(render(config, SiteFacts(), NOW))
    assert "no news database yet" in doc.find("header").text()
    assert len(doc.find_all("li", class_="card")) == len(config.catalog.commitments)


def entry(n: int, title: str, link: str | None, hours: int = 1) -> ParsedEntry:
    return ParsedEntry(guid=f"g{n}", link=link, link_key=link, title=title, summary="", categories=(),
                       published=NOW - timedelta(hours=hours), author=None)


def add(store: Store, feed: str, entries: list[ParsedEntry], commitment_id: str) -> None:
    matches = {e.key: [EntryMatch(commitment_id, ("intelligence",))] for e in entries}
    ingest(store, Ingest(feed, FeedState(feed), entries, entries, matches, NOW))


def test_headlines_evidence_and_marks_from_the_database(config_dir: Path, store: Store) -> None:
    toml = config_dir / "commitments.toml"
    toml.write_text(toml.read_text().replace(
        'status = "pending"',
        'status = "pending"\nevidence = [{ url = "https://gov.example/report", date = 2021-01-10, '
        'note = "Official report" }, { url = "Dawn, 20 Apr 2025, p. 3" }]'), encoding="utf-8")
    config = load_config(config_dir)
    sync_toml_statuses(store, config.catalog, NOW - timedelta(days=2))
    add(store, "local", [entry(1, "Joint intelligence cell opens", "https://news.example/1", 2),
                         entry(2, "Cricket: joint intelligence of the bowlers", "https://news.example/2", 1),
                         entry(3, "Intelligence chiefs meet", "https://news.example/3", 3)], "joint-intel")
    record_verdict(store, 2, "joint-intel", "irrelevant", 42, NOW)
    record_verdict(store, 3, "joint-intel", "evidence", 42, NOW)
    mark(store, "reciprocal-visit", Status.MISSED, NOW - timedelta(days=1), actor="Ayesha", actor_id=42,
         evidence_url="https://news.example/no-visit", note="No visit by 31 March")
    facts = gather(store, config.catalog.commitments)
    doc = parse(render(config, facts, NOW))

    intel = card(doc, "joint-intel")
    headlines = intel.find("ul", class_="headlines")
    links = [(a.text(), a.attrs["href"]) for a in headlines.find_all("a")]
    assert links == [("Joint intelligence cell opens", "https://news.example/1"),
                     ("Intelligence chiefs meet", "https://news.example/3")]  # newest first, the dismissed one gone
    assert "Local test feed · 23 Nov 2026" in headlines.text()
    assert all(li.find("time").attrs["datetime"] == "2026-11-23" for li in headlines.find_all("li"))
    evidence = intel.find("ul", class_="evidence")
    assert [(a.text(), a.attrs["href"]) for a in evidence.find_all("a")] == [
        ("Official report", "https://gov.example/report"), ("Intelligence chiefs meet", "https://news.example/3")]
    assert "10 Jan 2021" in evidence.text() and "Dawn, 20 Apr 2025, p. 3" in evidence.text()  # a citation stays text
    assert "accepted as evidence" in evidence.text()

    visit = card(doc, "reciprocal-visit")
    assert visit.has_class("s-missed") and visit.find("p", class_="b-missed").text() == "Status: ✗ missed"
    assert fact(visit, "Time left") == "closed (missed)"
    visit_links = [(a.text(), a.attrs["href"]) for a in visit.find_all("a")]
    assert ("No visit by 31 March", "https://news.example/no-visit") in visit_links
    assert "Ayesha" not in doc.text()  # admins' names stay in the bot, not on a public page
    assert meter_counts(doc.find("section", id="a-shared-vision")) == {"missed": 1, "pending": 1}


def test_an_unsynced_toml_edit_beats_the_older_history(config_dir: Path, store: Store) -> None:
    config = load_config(config_dir)
    sync_toml_statuses(store, config.catalog, NOW - timedelta(days=3))
    mark(store, "joint-intel", Status.STALLED, NOW - timedelta(days=2), actor="a", actor_id=1)
    assert gather(store, config.catalog.commitments).statuses == {"joint-intel": Status.STALLED,
                                                                   "reciprocal-visit": Status.PENDING}
    toml = config_dir / "commitments.toml"
    toml.write_text(toml.read_text().replace('status = "pending"', 'status = "met"'), encoding="utf-8")
    edited = load_config(config_dir)  # edited after the mark, and the bot has not synced it yet
    assert gather(store, edited.catalog.commitments).statuses["joint-intel"] is Status.MET


HOSTILE = '<script>alert("x")</script> & \'quoted\' "double" </li></ol>'


def test_hostile_strings_are_escaped_and_unsafe_links_stay_text(tmp_path: Path, store: Store) -> None:
    def s(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    (tmp_path / "commitments.toml").write_text(f'''
[[agreement]]
id = "a"
title = {s("Accord " + HOSTILE)}
parties = [{s("<b>Party</b>")}]
signed = 2020-11-19
sources = [{s('javascript:alert(1)')}, {s('https://ok.example/?q="><script>x</script>')}]
summary = {s("Summary " + HOSTILE)}

[[commitment]]
id = "c"
agreement = "a"
title = {s("Title " + HOSTILE)}
lead = {s("<img src=x onerror=alert(1)>")}
deadline = 2021-01-01
quote = {s("Quote " + HOSTILE)}
source = {s("javascript:alert(2)")}
tags = ["x"]
evidence = [{{ url = {s("javascript:alert(3)")}, note = {s("Note " + HOSTILE)} }}]
''', encoding="utf-8")
    (tmp_path / "feeds.toml").write_text(
        f'[[feed]]\nid = "f"\nurl = "https://feed.example/rss"\nname = {s("Feed " + HOSTILE)}\n'
        'language = "en\\" onmouseover=\\"x"\n', encoding="utf-8")
    config = load_config(tmp_path)
    add(store, "f", [entry(1, "Headline " + HOSTILE, "javascript:alert(4)"),
                     entry(2, "<img src=x onerror=alert(5)>", 'https://n.example/a?b="c"&d=<e>')], "c")
    page = render(config, gather(store, config.catalog.commitments), NOW)
    doc = parse(page)
    assert "<script" not in page.lower() and "<img" not in page.lower() and "<b>Party" not in page
    for node in doc.iter():
        assert not any(name.startswith("on") for name in node.attrs), node.attrs
        assert not node.attrs.get("href", "").lower().startswith("javascript")
    text = doc.find("main").text()
    for part in ("Accord ", "Summary ", "Title ", "Quote ", "Note ", "Headline ", "Feed "):
        assert " ".join((part + HOSTILE).split()) in text  # the exact words survive, as text
    assert "<img src=x onerror=alert(1)>" in text and "<b>Party</b>" in text
    assert "javascript:alert(4)" not in page  # an unsafe headline link is dropped, the title stays
    hrefs = {a.attrs["href"] for a in doc.find_all("a")}
    assert 'https://n.example/a?b="c"&d=<e>' in hrefs and 'https://ok.example/?q="><script>x</script>' in hrefs


def test_self_contained_and_accessible(store: Store) -> None:
    config = load_config(REPO)
    page = render(config, gather(store, config.catalog.commitments), NOW)
    doc = parse(page)
    html_node = doc.find("html")
    assert html_node.attrs["lang"] == "en"
    assert doc.find("meta", name="viewport").attrs["content"].startswith("width=device-width")
    assert doc.find("meta", charset="utf-8") and doc.find("title").text()
    # nothing is fetched: no scripts, stylesheets, images, frames, fonts or CSS urls
    assert not doc.find_all("script") and not doc.find_all("link") and not doc.find_all("img")
    assert not doc.find_all("iframe") and not doc.find_all("object")
    assert not any("src" in n.attrs for n in doc.iter())
    assert "url(" not in CSS and "@import" not in CSS and "@font-face" not in CSS
    for node in doc.iter():
        href = node.attrs.get("href")
        if href is not None:
            assert node.tag == "a" and (href.startswith("#") or re.match(r"https?://", href)), (node.tag, href)
    # a skip link first, to the main landmark; landmarks and labelled regions
    body = doc.find("body")
    first = next(n for n in body.iter() if n.tag == "a")
    assert first.attrs["href"] == "#main" and first.has_class("skip")
    assert doc.find(id="main").tag == "main"
    assert doc.find_all("header") and doc.find_all("footer") and doc.find_all("nav")
    ids = [n.attrs["id"] for n in doc.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids))
    for node in doc.iter():
        if "aria-labelledby" in node.attrs:
            assert node.attrs["aria-labelledby"] in ids
        if node.tag == "a" and node.attrs.get("href", "").startswith("#"):
            assert node.attrs["href"][1:] in ids
    # headings in order, one h1, never skipping a level
    levels = [int(n.tag[1]) for n in doc.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:]))
    # labelled facts, and status in words (with a shape), never colour alone
    for li in doc.find_all("li", class_="card"):
        badge = next(n for n in li.iter() if n.has_class("badge"))
        assert badge.text().startswith("Status: ") and badge.text().split()[-1] in {status_word(s) for s in Status}
        assert all(pair.find("dt").text() for pair in li.find("dl").find_all("div"))
    for bar in doc.find_all("div", class_="bar"):
        assert bar.attrs["aria-hidden"] == "true"  # the legend beside it carries the numbers
    assert "@media (max-width:40rem)" in CSS


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_colours_meet_wcag_contrast() -> None:
    var = dict(re.findall(r"--([\w-]+):(#[0-9a-f]{6})", CSS))
    for name, bg, fg in re.findall(r"\.b-(\w+)\{background:(#[0-9a-f]{6});color:(#[0-9a-f]{6})\}", CSS):
        assert contrast(bg, fg) >= 4.5, name  # status badges: normal-size text
    assert len(re.findall(r"\.b-\w+\{", CSS)) == len(Status)
    for text in ("ink", "muted", "link"):
        for background in ("#ffffff", var["bg"], "#f8fafc"):
            assert contrast(var[text], background) >= 4.5, (text, background)
    for status in Status:  # meter segments against the page (non-text contrast)
        assert contrast(var[status.value], "#ffffff") >= 3, status
    assert contrast("#a40e26", "#ffffff") >= 4.5 and contrast("#c9d6ea", var["navy"]) >= 4.5


def run_site(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`pledgewatch site ARGV` through argparse as bot.cli.main runs it, independent of bot/cli.py."""
    return run_command(register, ["site", *argv], clock=FakeClock(NOW), env=env)


def test_cli_writes_the_page_and_never_creates_a_database(config_dir: Path, tmp_path: Path) -> None:
    site, db = tmp_path / "public" / "site", tmp_path / "absent.sqlite3"
    code, out, err = run_site("-o", str(site), "--db", str(db), "--config-dir", str(config_dir))
    assert code == 0 and not db.exists() and "no database at" in err
    assert f"wrote {site / 'index.html'} (2 commitments, 0 headlines)" in out
    page = (site / "index.html").read_text(encoding="utf-8")
    assert card(parse(page), "joint-intel") and (site / "index.html").stat().st_mode & 0o777 == 0o644

    store = Store.open(config_dir / "pledgewatch.sqlite3")  # the default database, found through the config folder
    add(store, "local", [entry(1, "Joint intelligence cell opens", "https://news.example/1")], "joint-intel")
    store.close()
    code, out, err = run_site("-o", str(site), env={"PLEDGEWATCH_CONFIG_DIR": str(config_dir)})
    assert code == 0 and "(2 commitments, 1 headlines)" in out and not err
    assert "Joint intelligence cell opens" in (site / "index.html").read_text(encoding="utf-8")
    assert [p.name for p in site.iterdir()] == ["index.html"]  # no temporary file left behind

    (config_dir / "commitments.toml").write_text("[[commitment]]\nid = 'x'\n", encoding="utf-8")
    code, out, err = run_site("-o", str(site), "--config-dir", str(config_dir))
    assert code == 1 and "problem(s) found" in err
