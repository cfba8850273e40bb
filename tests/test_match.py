"""Tests for batch matching: real FTS5 in memory, real headlines, exact hits and exact reported words."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import load_config
from bot.errors import QueryError
from bot.match import Document, Hit, Matcher, matches
from bot.query import Query, parse_query
from tests.conftest import REPO

TRADE_PLEDGE = '(trade OR transit OR APTTA OR "customs post*") NOT (cricket OR T20 OR "world cup")'


def hits_for(query: str, *titles: str) -> list[str]:
    """Match one query against one-title documents and return the keys (their indexes) that hit."""
    docs = [Document(str(index), title) for index, title in enumerate(titles)]
    with Matcher({"t": [parse_query(query)]}) as matcher:
        return [hit.doc_key for hit in matcher.match(docs)]


def terms_for(query: str, doc: Document) -> tuple[str, ...] | None:
    """Return the reported words for a single document, or None when it does not match."""
    with Matcher({"t": [parse_query(query)]}) as matcher:
        found = matcher.match([doc])
    return found[0].terms if found else None


@pytest.fixture
def matcher() -> Iterator[Matcher]:
    """A matcher with a few realistic commitments, in a deliberate (non-alphabetical) order."""
    targets = {
        "trade": [parse_query(TRADE_PLEDGE)],
        "intel": [parse_query('"joint intelligence"'), parse_query("NEAR(intelligence sharing, 3)")],
        "refugees": [parse_query("refugee* OR مهاجر*")],
    }
    with Matcher(targets) as built:
        yield built


def test_trade_pledge_ignores_cricket_headlines() -> None:
    assert matches(parse_query(TRADE_PLEDGE), Document("1", "Pakistan, Afghanistan agree to reopen Torkham for transit trade"))
    assert not matches(parse_query(TRADE_PLEDGE), Document("2", "Pakistan beat Afghanistan in T20 cricket thriller, trade barbs"))
    assert not matches(parse_query(TRADE_PLEDGE), Document("3", "Fans trade insults", "after the World Cup match"))
    assert terms_for(TRADE_PLEDGE, Document("4", "New customs posts open", "Transit resumes")) == ("customs posts", "Transit")


def test_phrases_need_adjacent_words_in_order() -> None:
    assert hits_for(
        '"joint intelligence"',
        "Kabul and Islamabad agree on joint intelligence sharing",
        "Intelligence chiefs hold joint session",
        "intelligence joint",
        "JOINT-INTELLIGENCE cell set up",
    ) == ["0", "3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("trade AND transit", ["0"]),
        ("trade transit", ["0"]),
        ("trade OR transit", ["0", "1", "2"]),
        ("trade NOT transit", ["1"]),
        ("(trade OR transit) NOT border", ["0", "1"]),
        ("trade OR transit NOT border", ["0", "1"]),
        ("border NOT trade NOT transit", ["3"]),
    ],
)
def test_boolean_operators(query: str, expected: list[str]) -> None:
    titles = ("transit trade deal", "trade talks", "transit border closed", "border clash")
    assert hits_for(query, *titles) == expected


def test_and_spans_title_summary_and_categories() -> None:
    doc = Document("d", "Transit route reopens", "Talks in Kabul", ("Trade",))
    assert matches(parse_query("transit kabul trade"), doc)
    assert not matches(parse_query('"reopens talks"'), doc)  # a phrase never spans two fields


def test_prefix_matches_longer_words_only_from_the_start() -> None:
    assert hits_for("refugee*", "Refugees return", "refugee camp", "refuge sought", "non-refugee") == ["0", "1", "3"]
    assert hits_for('"customs post"*', "customs posts", "customs postal", "customs office post") == ["0", "1"]


def test_proximity_counts_words_in_between() -> None:
    four, five, six = "Imran met a b c Ghani", "Imran a b c d e Ghani", "Ghani a b c d e f Imran"
    assert hits_for("NEAR(imran ghani, 5)", four, five, six) == ["0", "1"]
    assert hits_for("NEAR(imran ghani)", "Ghani " + "x " * 10 + "Imran", "Ghani " + "x " * 11 + "Imran") == ["0"]
    assert hits_for('NEAR("ashraf ghani" imran*, 1)', "Ashraf Ghani and Imran", "Imran; Ashraf Ghani", "Ashraf and Ghani Imran") == ["0", "1"]


def test_accents_and_case_fold_both_ways() -> None:
    assert hits_for("cafe", "Café diplomacy", "CAFE", "cafe\u0301 talk (decomposed)", "caffè") == ["0", "1", "2"]
    assert hits_for("café", "cafe diplomacy", "CAFÉ") == ["0", "1"]
    assert hits_for("Dar", "DÂR talks", "dâr", "Dari speakers") == ["0", "1"]
    assert hits_for("DÂR", "dar") == ["0"]
    assert hits_for("İstanbul", "istanbul process") == ["0"]


def test_urdu_headline_matches_urdu_query() -> None:
    headline = "پاکستان اور افغانستان کے درمیان تجارت"
    assert hits_for("پاکستان", headline) == ["0"]
    assert hits_for("تجارت NOT کرکٹ", headline, "پاکستان اور افغانستان کے درمیان کرکٹ تجارت") == ["0"]
    assert hits_for('"افغانستان کے درمیان"', headline) == ["0"]
    assert terms_for("افغان*", Document("u", headline)) == ("افغانستان",)


def test_pashto_and_dari_headlines_match() -> None:
    pashto = "د پاکستان او افغانستان ترمنځ سوداګري بیا پیل شوه"
    dari = "افزایش تجارت‌های ترانزیتی میان افغانستان و ازبکستان"
    assert hits_for("سوداګري", pashto, dari) == ["0"]
    assert hits_for("تجارت", pashto, dari) == ["1"]  # the ZWNJ in تجارت‌های separates the suffix
    assert hits_for("NEAR(پاکستان سوداګري, 3)", pashto) == ["0"]


def test_arabic_script_variants_fold_together() -> None:
    assert hits_for("کتاب", "کِتاب", "كتاب") == ["0", "1"]  # kasra; Arabic kaf
    assert hits_for("پاکستان", "پاکـــستان") == ["0"]  # tatweel
    assert hits_for("2024", "انتخابات ۲۰۲۴", "٢٠٢٤") == ["0", "1"]  # Persian and Arabic digits
    assert hits_for("ايران", "ایران") == ["0"]  # Arabic yeh versus Farsi yeh


def test_hit_terms_are_quoted_as_written_and_deduplicated() -> None:
    doc = Document("d", "REFUGEES and Refugee camps", "refugees again; Café owners", ("Refugee policy", "cafe"))
    assert terms_for("refugee* OR cafe", doc) == ("REFUGEES", "Refugee", "Café")
    assert terms_for("پاکستان", Document("u", "پاکـــستانِ نو")) == ("پاکـــستانِ",)
    assert terms_for("cafe", Document("n", "cafe\u0301 x")) == ("cafe\u0301",)
    assert terms_for('"joint intelligence"', Document("p", "Joint  Intelligence pact")) == ("Joint  Intelligence",)


def test_only_positive_terms_are_reported() -> None:
    doc = Document("d", "transit trade", "cricket")
    assert terms_for("trade OR (transit NOT cricket)", doc) == ("trade",)
    assert terms_for("imran OR NEAR(imran ghani, 1)", Document("n", "imran x x ghani")) == ("imran",)


def test_categories_match_and_are_reported_last() -> None:
    doc = Document("c", "Border reopens", "Goods move again", ("Trade", "Afghanistan"))
    assert terms_for("trade OR border", doc) == ("Border", "Trade")
    assert not matches(parse_query("cricket"), doc)


def test_control_characters_in_input_cannot_forge_highlights() -> None:
    doc = Document("x", "\x02fake\x03 trade\x03 deal\x02")
    assert terms_for("trade", doc) == ("trade",)


def test_matcher_reports_hits_in_doc_then_target_order(matcher: Matcher) -> None:
    docs = [
        Document("a", "Refugees cross at Torkham as transit trade resumes"),
        Document("b", "Pakistan beat Afghanistan in T20 cricket thriller, trade barbs"),
        Document("c", "Joint intelligence cell to track refugee smugglers"),
        Document("d", "مهاجرین افغان به کشور بازگشتند"),
        Document("e", "Weather"),
    ]
    assert matcher.match(docs) == [
        Hit("a", "trade", ("transit", "trade")),
        Hit("a", "refugees", ("Refugees",)),
        Hit("c", "intel", ("Joint intelligence",)),
        Hit("c", "refugees", ("refugee",)),
        Hit("d", "refugees", ("مهاجرین",)),
    ]


def test_many_docs_times_many_targets_give_exactly_the_expected_hits() -> None:
    targets = {f"t{t}": [parse_query(f"tag{t} NOT veto"), parse_query(f'"pair {t}"')] for t in range(40)}
    docs, expected = [], []
    for d in range(120):
        tags = [t for t in range(40) if (d * 7 + t * 3) % 11 == 0]
        vetoed = d % 5 == 0
        paired = d % 40
        title = " ".join(f"tag{t}" for t in tags) + (" veto" if vetoed else "")
        docs.append(Document(f"d{d}", title, f"pair {paired}"))
        hit_targets = sorted({paired} | (set() if vetoed else set(tags)))
        expected += [(f"d{d}", f"t{t}") for t in hit_targets]
    with Matcher(targets) as matcher:
        assert [(hit.doc_key, hit.target) for hit in matcher.match(docs)] == expected


def test_repeated_batches_do_not_leak_rows(matcher: Matcher) -> None:
    first = [Document(f"x{i}", "refugee news") for i in range(5)]
    assert len(matcher.match(first)) == 5
    assert matcher.match([Document("y", "weather")]) == []
    assert matcher.match([Document("z", "more weather"), Document("w", "transit trade")]) == [Hit("w", "trade", ("transit", "trade"))]
    assert matcher.match([]) == []


def test_targets_without_queries_never_match_and_duplicates_are_fine() -> None:
    with Matcher({"empty": [], "dup": [parse_query("trade"), parse_query("trade")]}) as matcher:
        assert matcher.match([Document("a", "trade"), Document("a", "trade")]) == [
            Hit("a", "dup", ("trade",)),
            Hit("a", "dup", ("trade",)),
        ]


def test_bad_hand_made_query_is_a_query_error_not_a_sqlite_error() -> None:
    with pytest.raises(QueryError) as caught:
        Matcher({"broken": [Query(text="?", fts='"unterminated', terms=())]})
    assert "broken" in caught.value.message


def test_closed_matcher_refuses_work() -> None:
    matcher = Matcher({"t": [parse_query("trade")]})
    matcher.close()
    matcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        matcher.match([Document("a", "trade")])


def test_matcher_can_move_to_another_thread() -> None:
    results: list[list[Hit]] = []
    with Matcher({"t": [parse_query("trade")]}) as matcher:
        worker = threading.Thread(target=lambda: results.append(matcher.match([Document("a", "trade")])))
        worker.start()
        worker.join()
    assert results == [[Hit("a", "t", ("trade",))]]


# --- skipping targets that cannot match (bot.match_prune) -------------------------------------------

WORDS = ["trade", "transit", "Trade", "TRANSIT", "café", "cafe", "Kâbul", "kabul", "border", "refugees", "refugee",
         "cricket", "joint", "intelligence", "پاکستان", "پاکـستانِ", "افغانستان", "كتاب", "کتاب", "۲۰۲۴", "2024",
         "U.S."]
QUERY_WORDS = ["trade", "transit", "cafe", "café", "kabul", "border", "refugee", "cricket", "joint", "intelligence",
               "پاکستان", "افغانستان", "کتاب", "2024", "U.S.", "absent", "نیست"]


def _term(draw: st.DrawFn) -> str:
    """A word or phrase, sometimes a prefix (its last word cut short)."""
    words = draw(st.lists(st.sampled_from(QUERY_WORDS), min_size=1, max_size=2))
    prefix = draw(st.integers(0, 3)) == 0
    if prefix:
        words[-1] = words[-1][: max(2, len(words[-1]) - 2)]
    text = words[0] if len(words) == 1 else '"' + " ".join(words) + '"'
    return text + ("*" if prefix else "")


@st.composite
def queries(draw: st.DrawFn, depth: int = 2) -> str:
    """Random keyword queries using every operator, nested a little."""
    kind = draw(st.sampled_from(["term", "term", "and", "or", "not", "near"] if depth else ["term"]))
    if kind == "term":
        return _term(draw)
    if kind == "near":
        return f"NEAR({_term(draw)} {_term(draw)}, {draw(st.integers(0, 4))})"
    left, right = draw(queries(depth - 1)), draw(queries(depth - 1))
    return f"({left}) {kind.upper()} ({right})"


def _valid(texts: list[str]) -> list[Query]:
    """Parse what parses (a prefix cut can leave a term FTS5 would not take); the rest is not the point here."""
    parsed = []
    for text in texts:
        try:
            parsed.append(parse_query(text))
        except QueryError:
            pass
    return parsed


SENTENCES = st.lists(st.sampled_from(WORDS + ["and", "the", "x"]), max_size=8).map(" ".join)
DOCS = st.lists(st.tuples(SENTENCES, SENTENCES, st.lists(SENTENCES, max_size=2)), min_size=1, max_size=6)


def _all_targets_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch pruning off for Matchers built from now on."""
    monkeypatch.setattr("bot.match.PRUNE_MIN_TARGETS", 10**9)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(queries(), min_size=1, max_size=3), min_size=4, max_size=8), DOCS)
def test_skipping_targets_never_changes_the_hits(texts: list[list[str]], rows: list[tuple[str, str, list[str]]]) -> None:
    targets = {f"t{index}": _valid(group) for index, group in enumerate(texts)}
    docs = [Document(str(index), title, summary, tuple(cats)) for index, (title, summary, cats) in enumerate(rows)]
    with Matcher(targets) as pruned:
        got = pruned.match(docs)
    with pytest.MonkeyPatch.context() as patch:
        _all_targets_run(patch)
        with Matcher(targets) as plain:
            assert plain._pruner is None
            assert got == plain.match(docs)


@pytest.fixture
def commitments() -> dict[str, list[Query]]:
    """Every keyword query of the bundled commitments.toml, as the poller compiles them."""
    config = load_config(REPO)
    return {c.id: [parse_query(q) for q in c.keywords] for c in config.catalog.commitments if c.keywords}


NEWS = [
    Document("a", "Pakistan, Afghanistan agree to reopen Torkham for transit trade", "Talks in Kabul", ("Trade",)),
    Document("b", "Pakistan beat Afghanistan in T20 cricket thriller, trade barbs"),
    Document("c", "Joint intelligence cell: Islamabad and Kabul to share information", "Afghan officials said"),
    Document("d", "پاکستان اور افغانستان کے درمیان تجارت", "طورخم سرحد کھول دی گئی"),
    Document("e", "Weather: rain expected in Lahore", "The Met office said showers would continue", ("Weather",)),
    Document("f", "Afghan refugees return from Pakistan under repatriation plan", "UNHCR joint proposal"),
]


def test_bundled_commitments_give_the_same_hits_with_and_without_skipping(
    commitments: dict[str, list[Query]], monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = [NEWS, NEWS[4:5], NEWS[:2], [NEWS[3]], NEWS[::-1]]
    with Matcher(commitments) as pruned:
        got = [pruned.match(batch) for batch in batches]
    _all_targets_run(monkeypatch)
    with Matcher(commitments) as plain:
        assert got == [plain.match(batch) for batch in batches]
    assert got[0] and not got[1]


RUN_TARGET = "SELECT rowid, highlight"  # the start of the Matcher's per-target query, as SQLite traces it


def test_unrelated_batches_skip_every_bundled_target(commitments: dict[str, list[Query]]) -> None:
    with Matcher(commitments) as matcher:
        ran: list[str] = []
        connection = matcher._connection
        assert connection is not None and matcher._pruner is not None
        connection.set_trace_callback(lambda sql: ran.extend([sql] if sql.startswith(RUN_TARGET) else []))
        assert matcher.match([NEWS[4]]) == []
        assert ran == []
        assert [hit.target for hit in matcher.match([NEWS[0]])]
        assert 0 < len(ran) < len(commitments)


def test_hand_made_queries_are_never_skipped() -> None:
    odd = Query(text="nothing like the expression", fts='"trade"', terms=())
    targets = {"odd": [odd], **{f"t{i}": [parse_query(f"word{i}")] for i in range(4)}}
    with Matcher(targets) as matcher:
        assert matcher.match([Document("a", "trade")]) == [Hit("a", "odd", ("trade",))]


@pytest.mark.parametrize(
    ("query", "title", "hit"),
    [
        ('"customs post"*', "customs postal union", True),
        ('"customs post"*', "customs office post", False),  # not skipped (both words occur), FTS5 says no
        ('"customs post"*', "customs imposts", False),
        ("refugee* NOT cricket", "refugees and cricket", False),
        ("trade NOT absentword", "trade deal", True),
        ("NEAR(imran ghani, 2)", "Imran met Ghani", True),
        ("NEAR(imran ghani, 2)", "Imran only", False),
        ("پاکستان AND کتاب*", "پاکـــستانِ كتابها", True),
        ("cafe AND 2024", "Café ٢٠٢٤", True),
    ],
)
def test_skipping_agrees_with_fts5_on_each_operator(query: str, title: str, hit: bool) -> None:
    targets = {"q": [parse_query(query)], **{f"filler{i}": [parse_query(f"filler{i}")] for i in range(4)}}
    with Matcher(targets) as matcher:
        assert matcher._pruner is not None
        assert bool(matcher.match([Document("d", title)])) is hit
