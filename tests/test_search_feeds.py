"""Search feeds: query translation per engine, generated feeds in the loaded catalog, and their validation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.clock import FakeClock
from bot.config import load_config
from bot.model import SearchTemplate
from bot.poller import due_feeds
from bot.search_feeds import search_feed_id
from bot.search_syntax import search_url, translate
from bot.service import describe_change
from bot.validate import SLUG
from tests.conftest import REPO
from tests.support.feedserver import FeedServer
from tests.support.fixtures import MINIMAL_COMMITMENTS, MINIMAL_FEEDS, loopback_poller, only, problems_for
from tests.support.rss import Item, rss

GOOGLE_NEWS = "https://news.google.com/rss/search?q={query}&hl=en-PK&gl=PK&ceid=PK:en"
BING_NEWS = "https://www.bing.com/news/search?q={query}&format=rss"
SEARCHES = f'''
[[search]]
id = "google-news"
name = "Google News"
url = "{GOOGLE_NEWS}"
syntax = "google"
language = "en"
interval = "2h"

[[search]]
id = "bing-news"
url = "{BING_NEWS}"
syntax = "bing"
enabled = false
'''


def template(syntax: str = "google", url: str = GOOGLE_NEWS, **kw: Any) -> SearchTemplate:
    """A search template with the given syntax and options."""
    return SearchTemplate(id="t", url=url, syntax=syntax, **kw)


def engine(keywords: Sequence[str] | str, syntax: str = "google", **kw: Any) -> str:
    """The engine query for these keywords under one template."""
    return translate([keywords] if isinstance(keywords, str) else keywords, template(syntax, **kw)).query


def searched(commitments: str = MINIMAL_COMMITMENTS) -> str:
    """The commitments with ``search = true`` on every one."""
    return commitments.replace('title = "Re-energise', 'search = true\ntitle = "Re-energise').replace(
        'title = "Ghani visits', 'search = true\ntitle = "Ghani visits')


# --- translation -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "google", "bing", "plain"), [
    ("refugee*", "refugee", "refugee", "refugee"),
    ('"customs post"*', '"customs post"', '"customs post"', "customs post"),
    ("trade transit", "trade transit", "trade transit", "trade transit"),
    ("trade OR transit", "trade OR transit", "trade OR transit", "trade"),
    ("(Pakistan OR Islamabad) (Afghanistan OR Kabul) refugee*",
     "(Pakistan OR Islamabad) (Afghanistan OR Kabul) refugee", "(Pakistan OR Islamabad) (Afghanistan OR Kabul) refugee",
     "Pakistan Afghanistan refugee"),
    ('(trade OR transit) NOT (cricket OR "world cup")', '(trade OR transit) -cricket -"world cup"',
     '(trade OR transit) -cricket -"world cup"', "trade"),
    ("NEAR(imran ghani, 5)", "imran AROUND(5) ghani", "imran ghani", "imran ghani"),
    ('NEAR(Kabul Islamabad, 8) AND "peace talks"', '(Kabul AROUND(8) Islamabad) "peace talks"',
     'Kabul Islamabad "peace talks"', "Kabul Islamabad peace talks"),
    ("(Ghani Islamabad) OR NEAR(Ghani Kabul)", "(Ghani Islamabad) OR (Ghani AROUND(10) Kabul)",
     "(Ghani Islamabad) OR (Ghani Kabul)", "Ghani Islamabad"),
    ("طورخم OR Torkham", "طورخم OR Torkham", "طورخم OR Torkham", "طورخم"),
])
def test_each_engine_gets_what_its_syntax_can_say(query: str, google: str, bing: str, plain: str) -> None:
    assert (engine(query, "google"), engine(query, "bing"), engine(query, "plain")) == (google, bing, plain)


def test_exclusions_are_kept_only_where_they_constrain_the_whole_query() -> None:
    # Engines disagree on what -x means inside an OR, and an AND exclusion cannot be written as -x: both are
    # dropped, which only broadens the search (the poller's own matching still applies the NOT).
    assert engine("trade OR (transit NOT cricket)") == "trade OR transit"
    assert engine("trade NOT (cricket fans)") == "trade"
    assert engine("trade NOT NEAR(fans cricket)") == "trade"
    assert engine("(trade NOT cricket) Kabul") == "trade -cricket Kabul"
    assert engine(["trade NOT cricket", "transit NOT T20"]) == "trade OR transit"


def test_words_an_engine_would_read_as_operators_are_quoted() -> None:
    assert engine("site:example.com OR AROUND OR ill-treatment OR U.S.") == (
        '"site:example.com" OR around OR ill-treatment OR U.S.')
    assert engine("C++ -x") == '"C++" "-x"'


def test_several_queries_are_ored_in_keyword_order_while_they_fit() -> None:
    keywords = ['"joint intelligence" (Pakistan OR Islamabad)', "ISI Kabul", '"intelligence sharing"']
    found = translate(keywords, template("google"))
    assert found.query == '("joint intelligence" (Pakistan OR Islamabad)) OR (ISI Kabul) OR "intelligence sharing"'
    assert found.used == (0, 1, 2)
    found = translate(keywords, template("google", max_words=6))
    assert found.query == '("joint intelligence" (Pakistan OR Islamabad)) OR (ISI Kabul)' and found.used == (0, 1)
    assert engine(keywords, "plain") == "joint intelligence Pakistan"  # words only: one query, no OR


def test_long_query_is_shortened_from_its_longest_or_group_keeping_the_first_alternatives() -> None:
    query = ('(Pakistan OR Pakistani OR police) AND ("Afghan refugees" OR "Afghan nationals" OR "Afghan migrants") '
             "AND (mistreat* OR harass* OR abuse* OR detention OR detained OR raids) NOT cricket")
    assert engine(query, "google").endswith("-cricket")
    shortened = engine(query, "bing")  # Bing reads 10 words
    assert shortened == ('(Pakistan OR Pakistani OR police) ("Afghan refugees" OR "Afghan nationals") '
                         "(mistreat OR harass OR abuse)")
    assert engine(query, "bing", max_words=5) == '(Pakistan OR Pakistani) "Afghan refugees" mistreat'
    found = translate([query], template("bing", max_words=3))
    assert found.query == "" and found.fewest_words == 4 and found.candidates == (0,)


def test_template_language_takes_only_queries_in_its_script() -> None:
    keywords = ["Torkham trade", "طورخم تجارت", "طورخم OR Torkham"]
    assert translate(keywords, template(language="en")).used == (0, 2)
    assert translate(keywords, template(language="ur")).used == (1, 2)
    assert translate(keywords, template(language="fa-Latn")).used == (0, 2)
    assert translate(keywords, template()).used == (0, 1, 2)


def test_urls_are_encoded_for_where_the_slot_sits_and_stay_under_2000_characters() -> None:
    assert search_url(GOOGLE_NEWS, '"joint intelligence" OR ISI') == (
        "https://news.google.com/rss/search?q=%22joint+intelligence%22+OR+ISI&hl=en-PK&gl=PK&ceid=PK:en")
    assert search_url("https://search.example/{query}/rss", "a b/c") == "https://search.example/a%20b%2Fc/rss"
    assert search_url(BING_NEWS, "طورخم").startswith("https://www.bing.com/news/search?q=%D8%B7%D9%88%D8%B1")
    urdu = " ".join(["افغانستان"] * 40)  # 40 words that cannot be shortened, over 2,000 characters encoded
    found = translate([urdu, "Torkham"], template(max_words=100))
    assert found.query == "Torkham" and found.used == (1,)


def test_feed_ids_are_stable_slugs_even_when_long() -> None:
    assert search_feed_id("google-news", "joint-intel") == "search-google-news-joint-intel"
    long_id = search_feed_id("google-news-pakistan-english", "sv-pakistan-respect-afghan-decisions-in-peace")
    assert len(long_id) <= 64 and SLUG.match(long_id)
    assert long_id == search_feed_id("google-news-pakistan-english", "sv-pakistan-respect-afghan-decisions-in-peace")
    assert long_id != search_feed_id("google-news-pakistan-english", "sv-pakistan-respect-afghan-decisions-in-peacf")


# --- the loaded catalog --------------------------------------------------------------------------------


def test_generated_feeds_join_the_catalog(tmp_path: Path) -> None:
    assert problems_for(tmp_path, searched(), MINIMAL_FEEDS + SEARCHES) == []
    config = load_config(tmp_path)
    feeds = config.feeds.by_id
    assert [f.id for f in config.feeds.feeds] == [
        "local", "search-google-news-joint-intel", "search-google-news-reciprocal-visit",
        "search-bing-news-joint-intel", "search-bing-news-reciprocal-visit"]
    google = feeds["search-google-news-reciprocal-visit"]
    assert google.url == "https://news.google.com/rss/search?q=Ghani+Islamabad&hl=en-PK&gl=PK&ceid=PK:en"
    assert (google.name, google.interval, google.language) == ("Google News", timedelta(hours=2), "en")
    assert google.enabled
    assert google.search is not None and google.search.commitment == "reciprocal-visit"
    assert google.search.query == "Ghani Islamabad" and google.search.template == "google-news"
    bing = feeds["search-bing-news-joint-intel"]
    assert (bing.name, bing.interval, bing.enabled) == ("bing-news", timedelta(minutes=30), False)
    assert parse_qs(urlsplit(bing.url).query)["q"] == ['"joint intelligence" (Pakistan OR Afghanistan)']


def test_generated_feeds_are_due_and_show_up_in_a_reload(tmp_path: Path) -> None:
    assert problems_for(tmp_path) == []
    before = load_config(tmp_path)
    assert problems_for(tmp_path, searched(), MINIMAL_FEEDS + SEARCHES) == []  # the edit live reload picks up
    after = load_config(tmp_path)
    due = [f.id for f in due_feeds(after, {}, datetime(2026, 1, 1, tzinfo=timezone.utc))]
    assert due == ["local", "search-google-news-joint-intel", "search-google-news-reciprocal-visit"]  # bing: disabled
    assert describe_change(before, after) == (
        "commitments changed: joint-intel, reciprocal-visit; feeds added: search-bing-news-joint-intel, "
        "search-bing-news-reciprocal-visit, search-google-news-joint-intel, search-google-news-reciprocal-visit")


def test_templates_without_searched_commitments_and_commitments_without_search_are_fine(tmp_path: Path) -> None:
    assert problems_for(tmp_path, feeds=MINIMAL_FEEDS + SEARCHES) == []
    assert [f.id for f in load_config(tmp_path).feeds.feeds] == ["local"]


def test_search_without_keywords_or_templates_is_a_located_problem(tmp_path: Path) -> None:
    no_keywords = searched().replace('keywords = ["Ghani AND Islamabad"]\n', "")
    msg = only(problems_for(tmp_path, no_keywords, MINIMAL_FEEDS + SEARCHES))
    assert msg == (f"{tmp_path / 'commitments.toml'}:24: commitment 'reciprocal-visit': key 'search': search = true "
                   "needs keywords: the search feeds are built from them (add a query to 'keywords' or remove 'search')")
    problems = problems_for(tmp_path, searched())
    assert len(problems) == 2 and all("key 'search': search = true, but feeds.toml has no valid [[search]]" in p
                                      for p in problems)
    assert "feeds.toml" in only(problems_for(tmp_path, searched(), "interval = ["))  # not one per commitment too
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS.replace("status =", "search = 1\nstatus ="),
                            MINIMAL_FEEDS + SEARCHES))
    assert "commitment 'joint-intel': key 'search': expected true or false, got a whole number 1" in msg


@pytest.mark.parametrize(("edit", "expected"), [
    (("{query}&hl", "x&hl"), "key 'url': must contain {query} where the search words go, e.g. https://news"),
    (("q={query}", "q={query}+{query}"), "key 'url': contains {query} 2 times; put it once"),
    (("&hl=en-PK", "&hl={lang}"), "key 'url': unknown placeholder {lang}: only {query} is filled in"),
    (("https://news", "ftp://news"), "key 'url': expected an http:// or https:// address with a host name"),
    (("https://news.google.com", "https://[::1"), "key 'url': not a valid URL (Invalid IPv6 URL)"),
    (('syntax = "google"', 'syntax = "gogle"'), "key 'syntax': expected one of google, bing, plain (how queries are "
                                                "written for the engine), got a string 'gogle'; did you mean 'google'?"),
    (('syntax = "google"\n', ""), "key 'syntax': missing; it is required (how the engine reads queries: google, bing, plain)"),
    (('language = "en"', "max_words = 0"), "key 'max_words': expected a whole number of at least 1"),
    (('id = "bing-news"', 'id = "google-news"'), "key 'id': duplicate search template id 'google-news' (first defined"),
    (('interval = "2h"', 'interval = "2 hours"'), "key 'interval': '2 hours' is not a duration"),
])
def test_template_problems_name_the_template_and_key(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    msg = only(problems_for(tmp_path, feeds=MINIMAL_FEEDS + SEARCHES.replace(*edit, 1)))
    assert "feeds.toml:" in msg and "search template '" in msg and expected in msg


def test_misspelt_key_is_caught_and_the_real_one_missed(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, feeds=MINIMAL_FEEDS + SEARCHES.replace('syntax = "google"', 'sintax = "google"'))
    assert len(problems) == 2 and "search template 'google-news': key 'sintax': unknown key; did you mean 'syntax'?" \
        in problems[0] and "key 'syntax': missing; it is required" in problems[1]


def test_cross_file_problems_point_at_the_right_file_and_line(tmp_path: Path) -> None:
    clash = MINIMAL_FEEDS.replace('id = "local"', 'id = "search-google-news-joint-intel"')
    msg = only(problems_for(tmp_path, searched(), clash + SEARCHES))
    assert msg.startswith(f"{tmp_path / 'feeds.toml'}:10: search template 'google-news': key 'id': the feed id "
                          "'search-google-news-joint-intel' generated for commitment 'joint-intel' is already the id "
                          "of a [[feed]] table; rename this template")
    tight = SEARCHES.replace('language = "en"', "max_words = 1")
    msg, other = problems_for(tmp_path, searched(), MINIMAL_FEEDS + tight)
    assert "commitment 'reciprocal-visit': key 'search': none of its keywords fits" in other
    assert msg.startswith(f"{tmp_path / 'commitments.toml'}:15: commitment 'joint-intel': key 'search': none of its "
                          "keywords fits search template 'google-news' (google syntax: at most 1 word; the shortest "
                          "form of keywords[0] still has 3)")
    urdu_only = SEARCHES.replace('language = "en"', 'language = "ur"').replace("enabled = false", 'language = "ps"')
    problems = problems_for(tmp_path, searched(), MINIMAL_FEEDS + urdu_only)
    assert len(problems) == 2 and "no [[search]] template takes its keywords: their script does not match the " \
        "templates' language ('google-news' (ur), 'bing-news' (ps))" in problems[0]


def test_bundled_commitments_all_fit_real_engine_budgets(tmp_path: Path) -> None:
    text = (REPO / "commitments.toml").read_text(encoding="utf-8")
    text = text.replace('status = "pending"', 'status = "pending"\nsearch = true')
    feeds = (REPO / "feeds.toml").read_text(encoding="utf-8") + SEARCHES.replace("enabled = false", 'language = "en"')
    assert problems_for(tmp_path, text, feeds) == []
    generated = [f for f in load_config(tmp_path).feeds.feeds if f.search]
    commitments = text.count("search = true")
    assert len(generated) == 2 * commitments
    assert all(len(f.url) <= 2000 and SLUG.match(f.id) for f in generated)


# --- polling ----------------------------------------------------------------------------------------------


async def test_search_feeds_are_polled_and_matched_by_the_commitments_own_queries(tmp_path: Path) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
    with FeedServer() as server:
        url = server.url("/search") + "?q={query}&format=rss"
        feeds = f'[[search]]\nid = "engine"\nname = "Engine"\nurl = "{url}"\nsyntax = "bing"\n'
        assert problems_for(tmp_path, searched(), feeds) == []
        server.add("/search", rss([  # what a fuzzy engine returns: the commitment's queries decide
            Item("Pakistan, Afghanistan revive joint intelligence work", "https://n.example/1", "1", now),
            Item("Joint intelligence failures in Europe", "https://n.example/2", "2", now),
            Item("Ghani to visit Islamabad in March", "https://n.example/3", "3", now)]))
        async with loopback_poller(tmp_path, FakeClock(now)) as poller:
            summary = await poller.poll([f for f in poller.config.feeds.feeds if f.enabled])
        assert {o.feed_id: o.result for o in summary.outcomes} == {
            "search-engine-joint-intel": "ok", "search-engine-reciprocal-visit": "ok"}
        assert sorted((m.commitment_id, m.title) for m in summary.matches) == [
            ("joint-intel", "Pakistan, Afghanistan revive joint intelligence work"),
            ("reciprocal-visit", "Ghani to visit Islamabad in March")]
        sent = sorted(parse_qs(urlsplit(r.target).query)["q"][0] for r in server.requests("/search"))
        assert sent == ['"joint intelligence" (Pakistan OR Afghanistan)', "Ghani Islamabad"]


async def test_old_results_surfacing_later_in_a_search_feed_are_not_posted(tmp_path: Path) -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
    with FeedServer() as server:
        url = server.url("/search") + "?q={query}&format=rss"
        feeds = f'[[search]]\nid = "engine"\nname = "Engine"\nurl = "{url}"\nsyntax = "bing"\n'
        assert problems_for(tmp_path, searched(), feeds) == []
        server.add("/search", rss([Item("Ghani to visit Islamabad in March", "https://n.example/3", "3", now)]))
        clock = FakeClock(now)
        async with loopback_poller(tmp_path, clock) as poller:
            feeds_now = [f for f in poller.config.feeds.feeds if f.enabled]
            assert len((await poller.poll(feeds_now)).matches) == 1
            # A year-old article the engine only now ranks, and a fresh one: only the fresh one is news.
            server.update("/search", rss([
                Item("Ghani to visit Islamabad, officials said last year", "https://n.example/old", "old",
                     now - timedelta(days=365)),
                Item("Ghani arrives in Islamabad", "https://n.example/new", "new", now + timedelta(hours=1))]))
            clock.advance(timedelta(hours=2))
            summary = await poller.poll(feeds_now, force=True)
        assert [m.title for m in summary.matches] == ["Ghani arrives in Islamabad"]
