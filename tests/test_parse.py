"""Tests for bot.parse and bot.text: golden feeds give exactly the expected entries, and no input
(truncated, mislabelled, hostile or not a feed at all) makes the parser raise or run away."""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import signal
import time
import tracemalloc
from multiprocessing.process import BaseProcess
from datetime import datetime, timezone
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.parse
from bot.parse import ParsedEntry, html_to_text, normalize_link, normalize_title, parse_feed, parse_items
from bot.parser_pool import RECYCLE_LIMIT, ParserPool

FEEDS = Path(__file__).parent / "data" / "feeds"
UTC = timezone.utc


def golden(name: str, headers: dict[str, str] | None = None, url: str | None = None) -> bot.parse.ParsedFeed:
    """Parse one of the golden files in tests/data/feeds."""
    return parse_feed((FEEDS / name).read_bytes(), headers, url)


def entry(**fields: object) -> ParsedEntry:
    """A ParsedEntry with empty defaults, so each expectation lists only what matters."""
    defaults: dict[str, object] = dict(guid=None, link=None, link_key=None, title="", summary="",
                                       categories=(), published=None, author=None)
    return ParsedEntry(**(defaults | fields))  # type: ignore[arg-type]


# --- golden files ------------------------------------------------------------------------------


def test_rss20_golden() -> None:
    feed = golden("rss20.xml")
    assert (feed.title, feed.link, feed.is_feed, feed.bozo, feed.bozo_reason) == (
        "Example News: Politics", "https://news.example.com/politics/", True, False, None)
    assert feed.entries == (
        entry(guid="news-2021-0001",
              link="https://news.example.com/politics/joint-intel-framework/?utm_source=rss&utm_medium=feed",
              link_key="https://news.example.com/politics/joint-intel-framework",
              title="Ministers agree joint intelligence framework",
              summary="Officials from both sides met in Islamabad on Tuesday.",
              categories=("Politics", "Security"),
              published=datetime(2020, 12, 15, 4, 30, tzinfo=UTC), author="Amina Khan"),
        entry(link="https://news.example.com/politics/trade-corridor-talks?id=42&fbclid=abc123#comments",
              link_key="https://news.example.com/politics/trade-corridor-talks?id=42",
              title="Trade corridor talks resume", summary="Negotiators returned to the table.",
              published=datetime(2020, 12, 16, 18, 5, tzinfo=UTC), author="Bilal Ahmed"),
        entry(title="Border crossing hours extended", summary="No link and no guid on this one.",
              published=datetime(2020, 12, 17, 7, 0, tzinfo=UTC)),
    )


def test_atom_golden_honours_text_construct_types() -> None:
    feed = golden("atom.xml")
    assert (feed.title, feed.link, feed.bozo) == ("Example Wire", "https://wire.example.org/", False)
    assert feed.entries == (
        entry(guid="tag:wire.example.org,2021:visa-easing",
              link="https://wire.example.org/2021/01/visa-easing",
              link_key="https://wire.example.org/2021/01/visa-easing",
              title="Cabinet approves visa easing",  # type="html": markup removed
              summary="The decision follows a review. More soon.",
              categories=("diplomacy", "visas"),
              published=datetime(2021, 1, 4, 5, 15, tzinfo=UTC),  # published wins over updated
              author="Sara Malik"),
        entry(guid="tag:wire.example.org,2021:budget", link="https://wire.example.org/2021/01/budget",
              link_key="https://wire.example.org/2021/01/budget",
              title="Why 3 < 5 matters in the budget",  # type="text": a literal "<" is kept
              summary="Only content, no summary.",  # falls back to <content>
              published=datetime(2021, 1, 3, 23, 59, 59, tzinfo=UTC)),  # only <updated>
    )


def test_rdf_golden_rejects_absurd_dates() -> None:
    feed = golden("rdf.xml")
    assert (feed.title, feed.is_feed, feed.bozo) == ("RDF Gazette", True, False)
    assert feed.entries == (
        entry(guid="https://rdf.example.net/a", link="https://rdf.example.net/a",
              link_key="https://rdf.example.net/a", title="Water treaty review announced",
              summary="A review of the water treaty.", categories=("Water",),
              published=datetime(2020, 11, 19, 11, 0, tzinfo=UTC), author="Staff Reporter"),
        entry(guid="https://rdf.example.net/b", link="https://rdf.example.net/b",
              link_key="https://rdf.example.net/b", title="Refugee returns paused"),  # 1970 -> None
    )


@pytest.mark.parametrize(("published", "updated", "expected"), [
    ("2150-01-01T00:00:00Z", "2021-06-01T12:00:00+02:00", datetime(2021, 6, 1, 10, tzinfo=UTC)),
    ("1989-12-31T23:59:59Z", None, None),
    ("not a date", None, None),
    (None, None, None),
])
def test_dates_are_aware_utc_and_sane(published: str | None, updated: str | None,
                                      expected: datetime | None) -> None:
    fields = "".join(f"<{tag}>{value}</{tag}>" for tag, value in (("published", published), ("updated", updated))
                     if value)
    body = f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>e</id>{fields}</entry></feed>'.encode()
    assert [e.published for e in parse_feed(body).entries] == [expected]


def test_html_in_titles_becomes_plain_text() -> None:
    feed = golden("html_titles.xml")
    assert feed.title == "Markup & Co"
    assert [(e.title, e.summary) for e in feed.entries] == [
        ("Breaking: PM’s visit & the new deal", "First para. Second line & more"),
        ("Escaped markup across lines", "Café & résumé"),
    ]


def test_truncated_feed_keeps_its_complete_entries() -> None:
    feed = golden("truncated.xml")
    assert feed.bozo and feed.is_feed
    assert feed.bozo_reason == "no element found at line 20"
    assert feed.entries == tuple(
        entry(guid=f"cut-{n}", link=f"https://cut.example.com/{n}", link_key=f"https://cut.example.com/{n}",
              title=f"{word} complete story", published=datetime(2021, 2, 1, 9 + n, tzinfo=UTC))
        for n, word in ((1, "First"), (2, "Second"))
    )


def test_mismatched_tag_mid_feed_loses_no_entry() -> None:
    body = (b'<rss version="2.0"><channel><title>M</title><item><title>One</title><guid>1</guid></item>'
            b"<item><title>Two <b>bold</title><guid>2</guid></item>"
            b"<item><title>Three</title><guid>3</guid></item></channel></rss>")
    feed = parse_feed(body)
    assert feed.bozo and feed.bozo_reason == "mismatched tag at line 1"
    assert [(e.guid, e.title) for e in feed.entries] == [("1", "One"), ("2", "Two bold"), ("3", "Three")]


def test_urdu_feed() -> None:
    feed = golden("urdu.xml")
    assert feed.title == "اردو خبریں"
    assert feed.entries == (
        entry(guid="urdu-0001", link="https://urdu.example.pk/خبریں/کابل-دورہ",
              link_key="https://urdu.example.pk/%D8%AE%D8%A8%D8%B1%DB%8C%DA%BA/"
                       "%DA%A9%D8%A7%D8%A8%D9%84-%D8%AF%D9%88%D8%B1%DB%81",
              title="وزیرِاعظم کا دورۂ کابل، مشترکہ انٹیلیجنس پر اتفاق", categories=("سیاست",),
              published=datetime(2020, 11, 19, 9, 0, tzinfo=UTC)),
    )
    assert normalize_title(feed.entries[0].title) == "وزیراعظم کا دورہ کابل مشترکہ انٹیلیجنس پر اتفاق"


RELATIVE = ["/news/2021/03/root", "story.html?b=2&a=1", "//cdn.example.com/story"]


@pytest.mark.parametrize(
    ("headers", "url", "expected"),
    [
        ({}, "https://rel.example.com/feeds/main.xml",
         ["https://rel.example.com/news/2021/03/root", "https://rel.example.com/feeds/story.html?b=2&a=1",
          "https://cdn.example.com/story"]),
        ({"Content-Location": "https://mirror.example.net/x/feed"}, "https://rel.example.com/feeds/main.xml",
         ["https://mirror.example.net/news/2021/03/root", "https://mirror.example.net/x/story.html?b=2&a=1",
          "https://cdn.example.com/story"]),
        ({"content-location": "/other/feed.xml"}, "https://rel.example.com/feeds/main.xml",
         ["https://rel.example.com/news/2021/03/root", "https://rel.example.com/other/story.html?b=2&a=1",
          "https://cdn.example.com/story"]),
        ({}, None, RELATIVE),  # nothing to resolve against: kept as given
    ],
)
def test_relative_links_are_resolved(headers: dict[str, str], url: str | None, expected: list[str]) -> None:
    feed = golden("relative_links.xml", headers, url)
    assert [e.link for e in feed.entries] == expected
    assert [e.link_key for e in feed.entries] == [normalize_link(link) for link in expected]
    assert feed.entries[1].link_key in (None, expected[1].replace("?b=2&a=1", "?a=1&b=2"))


def test_wrong_declared_encoding_still_readable() -> None:
    feed = golden("cp1252_declared_utf8.xml", {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert feed.title == "Café Chronicle"
    assert [e.title for e in feed.entries] == ["“Smart quotes” – and a café"]
    assert feed.bozo and "windows-1252" in (feed.bozo_reason or "").lower()


# --- not feeds, broken feeds, hostile feeds ---------------------------------------------------


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hello</p></body></html>",
    b"<html><body><a href='/x'>unclosed",
    b'{"version": "https://jsonfeed.org/version/1", "items": []}',
    b"\x00\xff\xfe garbage \x89PNG",
    b"", b"  \n\t ",
])
def test_non_feeds_are_not_feeds(body: bytes) -> None:
    feed = parse_feed(body, {"Content-Type": "text/html"}, "https://example.com/")
    assert (feed.is_feed, feed.entries) == (False, ())


def test_body_that_looks_like_a_file_name_is_not_opened(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes((FEEDS / "rss20.xml").read_bytes())
    feed = parse_feed(str(secret).encode())
    assert (feed.is_feed, feed.entries, feed.title) == (False, (), "")


def test_one_broken_entry_is_skipped_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    real = bot.parse.normalize_link

    def explode_on_trade(url: str) -> str | None:
        if "trade" in url:
            raise RuntimeError("boom")
        return real(url)

    monkeypatch.setattr(bot.parse, "normalize_link", explode_on_trade)
    feed = golden("rss20.xml")
    assert [e.title for e in feed.entries] == ["Ministers agree joint intelligence framework",
                                               "Border crossing hours extended"]
    assert feed.bozo and feed.bozo_reason == "skipped 1 unreadable entries"


def test_parse_feed_catches_everything_at_the_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise MemoryError("simulated")

    monkeypatch.setattr(feedparser, "parse", crash)
    feed = parse_feed(b"<rss/>")
    assert (feed.is_feed, feed.bozo, feed.bozo_reason) == (False, True, "parser failed: MemoryError: simulated")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(lambda t: f"<rss><channel><item><title>{t}".encode()))
def test_parse_feed_never_raises(body: bytes) -> None:
    feed = parse_feed(body, {"content-type": "application/xml"}, "https://example.com/feed")
    assert all(e.key for e in feed.entries)


def _entity_bomb(expansion: bytes, use: bytes, encoding: str = "utf-8") -> bytes:
    text = (b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n' + expansion + b"]>\n<rss version=\"2.0\"><channel>"
            b"<title>" + use + b"</title><item><title>kept</title><guid>g</guid></item></channel></rss>")
    return text.decode().replace('"1.0"?>', f'"1.0" encoding="{encoding}"?>', 1).encode(encoding)


LOL = b'<!ENTITY lol "lol">\n' + b"".join(
    b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
BIG = b'<!ENTITY a "' + b"A" * 100_000 + b'">\n'


@pytest.mark.parametrize(("expansion", "use", "encoding"), [
    (LOL, b"&lol9;", "utf-8"),  # billion laughs
    (LOL.replace(b"\n", b" "), b"&lol9;", "utf-8"),  # declarations not at line starts
    (BIG, b"&a;" * 20_000, "utf-8"),  # quadratic blow-up: 2 GB in feedparser's loose parser
    (BIG, b"&a;" * 20_000, "utf-16"),  # same, hidden from byte-level scans by the encoding
    (b'<!ENTITY % p "<!ENTITY x \'y\'>"> %p;\n', b"&x;", "utf-8"),  # parameter entity
], ids=["billion-laughs", "one-line-laughs", "quadratic", "quadratic-utf16", "parameter-entity"])
def test_entity_expansion_is_bounded(expansion: bytes, use: bytes, encoding: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        feed = parse_feed(_entity_bomb(expansion, use, encoding))
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 3 and peak < 50_000_000
    assert [e.title for e in feed.entries] == ["kept"]
    assert len(feed.title) <= bot.parse.TITLE_LIMIT


def test_small_plain_entities_still_work() -> None:
    body = _entity_bomb(b'<!ENTITY nbsp "&#160;">\n<!ENTITY org "Example Org">\n', b"A&nbsp;B &org;")
    feed = parse_feed(body)
    assert (feed.title, feed.bozo) == ("A B Example Org", False)


# --- identity ---------------------------------------------------------------------------------


def test_entry_key_prefers_guid_then_link_then_hash() -> None:
    when = datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert entry(guid="abc", link_key="https://x.com/a", title="T").key == "guid:abc"
    assert entry(link_key="https://x.com/a", title="T").key == "link:https://x.com/a"
    digest = hashlib.sha256("T2021-01-02T03:04:05+00:00".encode()).hexdigest()[:32]
    assert entry(title="T", published=when).key == "hash:" + digest
    assert entry(title="T").key == "hash:" + hashlib.sha256(b"T").hexdigest()[:32]
    assert entry(title="T", published=when).key != entry(title="T").key


def test_tracking_variants_share_one_key() -> None:
    links = ["https://News.Example.com:443/a/?utm_source=x&b=2&a=1", "https://news.example.com/a?a=1&b=2#top",
             "https://news.example.com/a/?fbclid=1&a=1&gclid=2&b=2&ocid=3&cmpid=4"]
    assert len({entry(link_key=normalize_link(link)).key for link in links}) == 1


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.COM:443/Path/", "https://example.com/Path"),
    ("http://example.com:80/", "http://example.com"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com/a?utm_source=rss&UTM_Medium=x&z=1&a=2&fbclid=q#frag", "https://example.com/a?a=2&z=1"),
    ("https://example.com/a?gclid=1&ocid=2&cmpid=3&mc_cid=4", "https://example.com/a"),
    ("https://example.com/a?b=%2f&a=%e2%9c%93", "https://example.com/a?a=%E2%9C%93&b=%2F"),
    ("https://example.com/#!/story/1", "https://example.com#!/story/1"),
    ("https://example.pk/خبریں", "https://example.pk/%D8%AE%D8%A8%D8%B1%DB%8C%DA%BA"),
    ("  https://example.com/a  ", "https://example.com/a"),
    ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
    ("/relative/path", None), ("mailto:desk@example.com", None), ("javascript:alert(1)", None),
    ("", None), ("https://", None), ("http://example.com:99999/", None), ("https://[::1/", None),
])
def test_normalize_link(url: str, expected: str | None) -> None:
    assert normalize_link(url) == expected


@given(st.text(max_size=80))
def test_normalize_link_never_raises(text: str) -> None:
    result = normalize_link("https://example.com/" + text)
    assert result is None or result.startswith("https://example.com")


@pytest.mark.parametrize(("title", "expected"), [
    ("Café Déjà Vu!", "cafe deja vu"),
    ("  PM's  visit\u00a0to  Kabul...", "pms visit to kabul"),
    ("İstanbul’s “Straße”—now", "istanbuls strasse now"),
    ("ＦＵＬＬ width ﬁle", "full width file"),
    ("وزیرِاعظم کا دورۂ کابل، مشترکہ", "وزیراعظم کا دورہ کابل مشترکہ"),  # harakat and hamza dropped
    ("پاكستان اور افغانستان", "پاکستان اور افغانستان"),  # Arabic kaf -> Urdu keheh
    ("سال ۲۰۲۰ میں", "سال 2020 میں"),  # Urdu digits
    ("ﺍﻟﺴﻼﻡ", "السلام"),  # presentation forms
    ("نیم\u200cشب", "نیمشب"),  # zero-width non-joiner
    ("한국어 뉴스", "한국어 뉴스"),
])
def test_normalize_title(title: str, expected: str) -> None:
    assert normalize_title(title) == expected


# --- html_to_text -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fragment", "expected"), [
    ("<p>One</p><p>Two<br>Three</p>", "One Two Three"),
    ("A<b>B</b>C &amp; D&nbsp;E &#8217; &#x2014;", "ABC & D E ’ —"),
    ("<script>var x = '<p>';</script>kept<style>p{}</style>", "kept"),
    ('<a href="x" title="a>b">link</a>', "link"),
    ("3 < 5 and 7 > 2", "3 < 5 and 7 > 2"),
    ("&lt;b&gt;literal&lt;/b&gt;", "<b>literal</b>"),
    ("before<!-- comment <b> -->after", "before after"),
    ("text <b unterminated", "text"),
    ("<![CDATA[raw <i>x</i>]]>", "raw x"),
    ("", ""),
])
def test_html_to_text(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


@pytest.mark.parametrize("hostile", ["<a " * 30_000, '<a title="' * 30_000, "<!--" * 30_000,
                                     "<script>" * 30_000, "&" * 100_000, "<" * 100_000],
                         ids=["tags", "open-quotes", "comments", "scripts", "ampersands", "angles"])
def test_html_to_text_is_linear_on_hostile_markup(hostile: str) -> None:
    started = time.perf_counter()
    html_to_text(hostile)
    assert time.perf_counter() - started < 1


@given(st.text(max_size=200))
def test_html_to_text_never_raises_and_is_collapsed(fragment: str) -> None:
    text = html_to_text(fragment)
    assert text == text.strip() and "  " not in text


# --- the process pool -------------------------------------------------------------------------

def filler_feed(items: int) -> bytes:
    """The RSS golden file plus ``items`` more entries, to make a parse take measurable time."""
    filler = b"".join(b"<item><title>Filler %d</title><guid>f%d</guid></item>" % (i, i) for i in range(items))
    return (FEEDS / "rss20.xml").read_bytes().replace(b"</channel>", filler + b"</channel>")


BIG_FEED = filler_feed(60)  # about 5 kB: above the inline threshold
SLOW_FEED = filler_feed(10_000)  # about 0.6 MB, well over 0.3 s to parse: long enough to be killed


def _new_children(before: set[int | None]) -> list[BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.pid not in before]


async def test_pool_parses_in_worker_processes() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    async with ParserPool(2, inline_below=0) as pool:
        results = await asyncio.gather(*(pool.parse(BIG_FEED, {}, "https://x.example/feed") for _ in range(4)))
        assert _new_children(before), "expected worker processes"
        small = await pool.parse(b'<rss version="2.0"><channel><title>s</title></channel></rss>', {}, "https://x/")
    expected = parse_items(BIG_FEED, {}, "https://x.example/feed")
    assert all(result == expected for result in results) and len(expected.entries) == 63
    assert expected.items is not None and expected.entries == parse_feed(BIG_FEED, {}, "https://x.example/feed").entries
    assert small.title == "s"


async def test_inline_pool_and_small_bodies_use_no_processes() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    async with ParserPool(0) as pool:
        result = await pool.parse(BIG_FEED, {"Content-Type": "application/rss+xml"}, "https://x.example/feed")
    async with ParserPool(2) as pool:  # the body is above the inline threshold only in the first pool
        tiny = await pool.parse(b'<rss version="2.0"><channel><title>t</title></channel></rss>', {}, "u")
    assert len(result.entries) == 63 and tiny.title == "t"
    assert not _new_children(before)


async def test_pool_recycles_executors_without_losing_work() -> None:
    async with ParserPool(2, inline_below=0, recycle_after=3) as pool:
        results = await asyncio.gather(*(pool.parse(BIG_FEED, {}, f"https://x/{i}") for i in range(10)))
        executors: list[object] = []  # the objects themselves: an id() could be reused
        for i in range(7):  # one at a time: the pool is idle between parses, so it recycles on time
            results.append(await pool.parse(BIG_FEED, {}, f"https://x/{i}"))
            if not any(pool._executor is e for e in executors):
                executors.append(pool._executor)
    assert all(len(r.entries) == 63 for r in results)
    assert len(executors) == 3  # 10 concurrent parses (within 4 x 3) left it to the first idle moment


async def test_pool_does_not_recycle_while_parses_are_in_flight() -> None:
    async with ParserPool(1, inline_below=0, recycle_after=2) as pool:
        first = pool._current()
        pool._in_flight = 1  # as if a parse were running: the swap waits, up to RECYCLE_LIMIT times the count
        assert all(pool._current() is first for _ in range(RECYCLE_LIMIT * 2 - 1))
        assert pool._current() is not first
        pool._in_flight = 0


async def _parse_while_killing(pool: ParserPool) -> bot.parse.ParsedFeed:
    before = {p.pid for p in multiprocessing.active_children()}
    await pool.parse(BIG_FEED, {}, "https://x/warm-up")
    task = asyncio.create_task(pool.parse(SLOW_FEED, {}, "https://x/feed"))
    await asyncio.sleep(0.1)
    for process in _new_children(before):
        os.kill(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
    return await task


async def test_pool_survives_a_killed_worker() -> None:
    async with ParserPool(1, inline_below=0) as pool:
        result = await _parse_while_killing(pool)
        assert len(result.entries) == 10_003  # retried in a fresh pool
        assert len((await pool.parse(BIG_FEED, {}, "https://x/after")).entries) == 63


async def test_pool_gives_up_on_a_body_after_its_retries() -> None:
    async with ParserPool(1, inline_below=0, retries=0) as pool:
        result = await _parse_while_killing(pool)
        assert (result.entries, result.is_feed) == ((), False)
        assert result.bozo_reason == "parser worker died while parsing this body"
        assert len((await pool.parse(BIG_FEED, {}, "https://x/after")).entries) == 63


async def test_closed_pool_refuses_work() -> None:
    with ParserPool(1, inline_below=0) as pool:  # the plain context manager closes too
        assert len((await pool.parse(BIG_FEED, {}, "https://x/")).entries) == 63
    with pytest.raises(RuntimeError):
        await pool.parse(BIG_FEED, {}, "https://x/")
