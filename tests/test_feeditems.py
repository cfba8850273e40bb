"""The item index: finding each item of a well-formed feed, and parsing only the items not seen before."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from bot.feeditems import MAX_ITEMS, scan_items
from bot.parse import parse_feed, parse_items
from tests.support.corpus import CORPUS, corpus_files, http_headers, require_corpus
from tests.support.rss import Item, rss

WHEN = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)
ITEMS = [Item(f"Headline {i} on transit trade", f"https://n.example/{i}", f"g{i}", WHEN, f"Summary {i}")
         for i in range(6)]
URL = "https://n.example/feed.xml"

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://a.example/news/">
  <title>Atom news</title><updated>2026-03-10T09:00:00Z</updated>
  <entry><id>tag:a.example,2026:1</id><title>First</title><link href="one.html"/><updated>2026-03-10T09:00:00Z</updated></entry>
  <entry><id>tag:a.example,2026:2</id><title>Second</title><link href="two.html"/><updated>2026-03-10T09:00:00Z</updated></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
  <channel rdf:about="https://r.example/"><title>RDF news</title><link>https://r.example/</link>
    <items><rdf:Seq><rdf:li resource="https://r.example/1"/></rdf:Seq></items></channel>
  <item rdf:about="https://r.example/1"><title>One</title><link>https://r.example/1</link></item>
  <item rdf:about="https://r.example/2"><title>Two</title><link>https://r.example/2</link></item>
</rdf:RDF>"""


def digests(body: bytes, url: str = URL) -> tuple[bytes, ...]:
    result = parse_items(body, {"content-type": "application/rss+xml"}, url)
    assert result.items is not None
    return tuple(d for d, _ in result.items)


@pytest.mark.parametrize("body", [rss(ITEMS), ATOM, RDF], ids=["rss2", "atom", "rdf"])
def test_scan_finds_every_item_and_keeping_all_gives_the_body_back(body: bytes) -> None:
    scan = scan_items(body)
    assert scan is not None and len(scan.spans) == len(parse_feed(body).entries)
    assert all(body[start:end].endswith((b"</item>", b"</entry>")) for start, end in scan.spans)
    assert scan.keeping(body, set(range(len(scan.spans)))) == body
    assert len(set(scan.digests)) == len(scan.digests)


@pytest.mark.parametrize("body", [rss(ITEMS), ATOM, RDF], ids=["rss2", "atom", "rdf"])
def test_known_items_are_skipped_and_the_rest_parse_as_in_a_whole_parse(body: bytes) -> None:
    whole = parse_items(body, {}, URL)
    assert whole.entries == parse_feed(body, {}, URL).entries and whole.skipped == ()
    assert whole.items is not None and [key for _, key in whole.items] == [e.key for e in whole.entries]
    first = whole.items[0][0]
    partial = parse_items(body, {}, URL, known={first})
    assert partial.skipped == (first,) and partial.entries == whole.entries[1:]
    assert (partial.title, partial.link) == (whole.title, whole.link)
    everything = parse_items(body, {}, URL, known={d for d, _ in whole.items})
    assert everything.entries == () and everything.items == () and everything.is_feed and not everything.bozo


def test_markup_inside_items_and_comments_does_not_confuse_the_scan() -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
            b"<title>t</title><!-- <item><title>commented out</title></item> -->"
            b"<item><title>One</title><description><![CDATA[<item>not an item</item> a > b]]></description>"
            b"<media:group><media:title>x</media:title></media:group><guid>a</guid></item>"
            b"<?pi <item>?><item><title>Two</title><guid>b</guid></item>"
            b"<item/></channel></rss>")
    scan = scan_items(body)
    assert scan is not None and len(scan.spans) == 3
    whole = parse_items(body, {}, URL)
    assert [e.title for e in whole.entries] == ["One", "Two"] and whole.items is not None and len(whole.items) == 3
    assert whole.items[2][1] is None  # the empty item gave no entry but is still indexed
    partial = parse_items(body, {}, URL, known={whole.items[0][0]})
    assert [e.title for e in partial.entries] == ["Two"]


def test_the_digest_covers_the_context_of_an_item_but_not_its_siblings() -> None:
    body = rss(ITEMS[:2])
    base = digests(body)
    assert digests(body.replace(b"<title>Test feed</title>", b"<title>Renamed</title><lastBuildDate>now</lastBuildDate>")) == base
    assert digests(body, url="https://elsewhere.example/feed") != base  # relative links resolve elsewhere
    assert digests(body.replace(b'<rss version="2.0">', b'<rss version="0.91">')) != base
    assert digests(body.replace(b"<channel>", b'<channel xml:base="https://b.example/">')) != base
    assert set(digests(rss(ITEMS[:3]))) > set(base)  # a new item leaves the others' digests alone


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "trade">]><rss><channel><item><title>&x;</title></item></channel></rss>',
    b"<rss><channel><item><title>unclosed</channel></rss>",
    '<?xml version="1.0" encoding="utf-16"?><rss><channel><item><title>x</title></item></channel></rss>'.encode("utf-16"),
    b'<?xml version="1.0" encoding="bogus"?><rss><channel><item><title>x</title></item></channel></rss>',
    b'<rss xmlns:a="urn:a"><channel><item><b:title>unbound prefix</b:title></item></channel></rss>',
    b"<rss><channel><title>no items</title></channel></rss>",
], ids=["entities", "ill-formed", "utf-16", "unknown-encoding", "unbound-prefix", "no-items"])
def test_unusual_bodies_get_no_scan_and_parse_whole(body: bytes) -> None:
    assert scan_items(body) is None
    result = parse_items(body, {}, URL, known={b"12345678"})
    assert result.items is None and result.entries == parse_feed(body, {}, URL).entries


def test_a_single_byte_encoding_is_scanned_at_the_right_offsets() -> None:
    text = rss([Item("Кабул и Исламабад", "https://c.example/1", "c1", WHEN), Item("Торхам", None, "c2", WHEN)])
    body = text.decode().replace('encoding="utf-8"', 'encoding="windows-1251"').encode("windows-1251")
    whole = parse_items(body, {}, URL)
    assert whole.items is not None and [e.title for e in whole.entries] == ["Кабул и Исламабад", "Торхам"]
    assert parse_items(body, {}, URL, known={whole.items[0][0]}).entries == whole.entries[1:]


def test_a_feed_with_too_many_items_is_not_indexed() -> None:
    body = rss([Item(f"t{i}", None, f"g{i}") for i in range(MAX_ITEMS + 1)])
    assert scan_items(body) is None and parse_items(body).items is None


def test_when_feedparser_disagrees_with_the_scan_the_whole_body_is_parsed() -> None:
    # A '>' inside an attribute of an empty item ends its span early; dropping that item leaves broken
    # markup, feedparser flags it, and the result must be the whole parse, unindexed.
    body = rss(ITEMS[:2]).replace(b"</channel>", b'<item a="x>y"/></channel>')
    whole = parse_items(body, {}, URL)
    assert whole.items is not None and len(whole.items) == 3
    again = parse_items(body, {}, URL, known={whole.items[2][0]})
    assert again.items is None and again.entries == parse_feed(body, {}, URL).entries
    # feedparser ends an entry at a nested </item> (in an extension element), so it counts other entries
    # than the scan: no index, and the entries are feedparser's own
    nested = rss(ITEMS[:2]).replace(b"<title>Headline 0", b"<media:group><item>x</item></media:group><title>Headline 0")
    nested = nested.replace(b'<rss version="2.0">', b'<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">')
    assert scan_items(nested) is not None
    result = parse_items(nested, {}, URL)
    assert result.items is None and result.entries == parse_feed(nested, {}, URL).entries


def test_every_corpus_feed_parses_the_same_whole_and_item_by_item() -> None:
    """Over feedparser's real-world corpus: parse_items equals parse_feed, and with a random half of the
    items known, gives exactly the whole parse's entries for the other half."""
    require_corpus()
    rng = random.Random(7)
    indexed = 0
    for path in corpus_files():
        body = path.read_bytes()
        headers, url = http_headers(path, body), "http://127.0.0.1:8097/" + path.relative_to(CORPUS).as_posix()
        whole, reference = parse_items(body, headers, url), parse_feed(body, headers, url)
        assert (whole.title, whole.link, whole.entries, whole.bozo, whole.bozo_reason, whole.is_feed) == (
            reference.title, reference.link, reference.entries, reference.bozo, reference.bozo_reason,
            reference.is_feed), path
        if whole.items is None:
            continue
        indexed += 1
        by_item = iter(whole.entries)
        entry_of = {d: next(by_item) if key is not None else None for d, key in whole.items}
        known = {d for d, _ in whole.items if rng.random() < 0.5}
        partial = parse_items(body, headers, url, known=known)
        expected = [entry_of[d] for d, _ in whole.items if d not in known and entry_of[d] is not None]
        assert partial.items is not None and list(partial.entries) == expected, path
        assert set(partial.skipped) == known and (partial.title, partial.link) == (whole.title, whole.link), path
    assert indexed > 1000  # most of the corpus is well-formed and gets an index
