"""Tests for the keyword query language: every form compiles, every mistake is explained at the right place."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import QueryError
from bot.query import MAX_QUERY_LENGTH, Query, check_query, parse_query
from bot.query_parse import MAX_NESTING

FTS_STRING = re.compile(r'"(?:[^"]|"")*"')


def assert_only_quoted_terms(fts: str) -> None:
    """Outside quoted strings the compiled expression may hold only operators, NEAR, parens, stars and distances."""
    skeleton = FTS_STRING.sub(" ", fts)
    assert re.fullmatch(r"[\sA-Z()*,0-9]*", skeleton), fts
    assert set(re.findall(r"[A-Z]+", skeleton)) <= {"AND", "OR", "NOT", "NEAR"}, fts


@pytest.mark.parametrize(
    ("text", "fts", "terms"),
    [
        ("refugees", '"refugees"', ("refugees",)),
        ('"joint intelligence"', '"joint intelligence"', ('"joint intelligence"',)),
        ("trade transit", '"trade" AND "transit"', ("trade", "transit")),
        ("trade AND transit", '"trade" AND "transit"', ("trade", "transit")),
        ("trade OR transit", '"trade" OR "transit"', ("trade", "transit")),
        ("trade NOT cricket", '"trade" NOT "cricket"', ("trade",)),
        ("a NOT b NOT c", '"a" NOT "b" NOT "c"', ("a",)),
        ("(trade OR transit) NOT T20", '("trade" OR "transit") NOT "T20"', ("trade", "transit")),
        ("refugee*", '"refugee"*', ("refugee*",)),
        ('"customs post"*', '"customs post"*', ('"customs post"*',)),
        ('"customs post*"', '"customs post"*', ('"customs post"*',)),
        ("NEAR(imran ghani, 5)", 'NEAR("imran" "ghani", 5)', ("imran", "ghani")),
        ("NEAR(imran ghani)", 'NEAR("imran" "ghani", 10)', ("imran", "ghani")),
        ('NEAR (refugee* "border crossing" torkham,0)', 'NEAR("refugee"* "border crossing" "torkham", 0)',
         ("refugee*", '"border crossing"', "torkham")),
        ("((a OR b) OR c)", '"a" OR "b" OR "c"', ("a", "b", "c")),
        ("\u201cjoint intelligence\u201d", '"joint intelligence"', ('"joint intelligence"',)),
        ("Trade trade TRADE", '"Trade" AND "trade" AND "TRADE"', ("Trade",)),
        ("DÂR café", '"DAR" AND "cafe"', ("DÂR", "café")),
    ],
)
def test_every_syntax_form_compiles(text: str, fts: str, terms: tuple[str, ...]) -> None:
    query = parse_query(text)
    assert query == Query(text=text, fts=fts, terms=terms)
    assert check_query(text) is None


def test_precedence_is_not_then_and_then_or() -> None:
    query = parse_query("pakistan afghanistan trade OR transit NOT cricket")
    assert query.fts == '("pakistan" AND "afghanistan" AND "trade") OR ("transit" NOT "cricket")'
    assert parse_query("a NOT b c").fts == '("a" NOT "b") AND "c"'
    assert parse_query("a OR b c").fts == '"a" OR ("b" AND "c")'


def test_terms_exclude_everything_on_the_right_of_not() -> None:
    query = parse_query('(trade OR "customs post"*) NOT (cricket OR NEAR(world cup, 2))')
    assert query.terms == ("trade", '"customs post"*')


def test_lowercase_operators_are_ordinary_words() -> None:
    query = parse_query("trade and transit or not near")
    assert query.fts == '"trade" AND "and" AND "transit" AND "or" AND "not" AND "near"'
    assert query.terms == ("trade", "and", "transit", "or", "not", "near")


@pytest.mark.parametrize(
    ("text", "fts"),
    [
        ("پاکستان", '"پاکستان"'),  # Urdu
        ("طالبان OR مهاجرین", '"طالبان" OR "مهاجرین"'),  # Dari / Persian
        ("\u0643\u0627\u0628\u0644", '"\u06a9\u0627\u0628\u0644"'),  # Arabic kaf folds to keheh: کابل
        ("پاکـــستان", '"پاکستان"'),  # tatweel dropped
        ("کِتاب", '"کتاب"'),  # kasra dropped
        ('"د افغانستان" NOT کرکټ', '"د افغانستان" NOT "کرکټ"'),  # Pashto
        ("سرحد*", '"سرحد"*'),
        ("۲۰۲۴", '"2024"'),  # Extended Arabic-Indic digits
    ],
)
def test_arabic_script_queries_parse(text: str, fts: str) -> None:
    assert parse_query(text).fts == fts


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('"joint intel', "unterminated phrase", 0),
        ('trade "joint intel', "unterminated phrase", 6),
        ("", "empty query", 0),
        ("   \t ", "empty query", 0),
        ("(a OR b", "unclosed parenthesis", 0),
        ("a (b (c) d", "unclosed parenthesis", 2),
        ("((a)", "unclosed parenthesis", 0),
        ("a OR b)", "unmatched `)`", 6),
        (")", "unmatched `)`", 0),
        ("trade AND", "AND needs something after it", 6),
        ("trade OR", "OR needs something after it", 6),
        ("(trade OR)", "OR needs something after it", 7),
        ("OR trade", "OR needs something before it", 0),
        ("AND trade", "AND needs something before it", 0),
        ("(OR trade)", "OR needs something before it", 1),
        ("a AND OR b", "AND is followed by OR", 6),
        ("NOT cricket", "NOT needs something before it, e.g. `trade NOT cricket`", 0),
        ("trade OR NOT cricket", "NOT needs something before it, e.g. `trade NOT cricket`", 9),
        ("(NOT cricket)", "NOT needs something before it", 1),
        ("trade AND NOT cricket", "write `trade NOT cricket`, not `trade AND NOT cricket`", 10),
        ("trade NOT", "NOT needs something after it", 6),
        ("()", "empty parentheses", 0),
        ("trade ( )", "empty parentheses", 6),
        ("trade *", "`*` must come right after a word or phrase", 6),
        ("* trade", "`*` must come right after a word or phrase", 0),
        ("(trade)*", "`*` must come right after a word or phrase", 7),
        ("trade**", "`*` must come right after a word or phrase", 6),
        ("ref*gee", "`*` can only end a term", 3),
        ("NEAR imran ghani", "NEAR needs parentheses, e.g. `NEAR(imran ghani, 5)`", 0),
        ("NEAR", "NEAR needs parentheses", 0),
        ("NEAR(a b, x)", "NEAR distance must be a whole number from 0 to 1000, not `x`", 10),
        ("NEAR(a b, -5)", "not `-5`", 10),
        ("NEAR(a b, 1001)", "not `1001`", 10),
        ("NEAR(a b, 2.5)", "not `2.5`", 10),
        ("NEAR(a b, ٥)", "not `٥`", 10),
        ("NEAR(a b,)", "NEAR needs a distance after the comma", 8),
        ("NEAR(a b, 5 6)", "NEAR(...) must end right after its distance", 12),
        ("NEAR(a)", "NEAR needs at least two terms", 0),
        ("x NEAR(a, 5)", "NEAR needs at least two terms", 2),
        ("NEAR()", "NEAR needs at least two terms", 0),
        ("NEAR(a OR b)", "only words, phrases and prefixes can go inside NEAR(...)", 7),
        ("NEAR(a (b c))", "only words, phrases and prefixes can go inside NEAR(...)", 7),
        ("NEAR(a b", "unclosed parenthesis", 4),
        ("NEAR(a b, 5", "unclosed parenthesis", 4),
        ("!!!", "`!!!` has no letter or digit", 0),
        ("trade - transit", "`-` has no letter or digit", 6),
        ('trade "!?"', 'the phrase "!?" has no letter or digit', 6),
        ("ـــ", "has no letter or digit", 0),
        ('""', "empty phrase", 0),
        ('a "  "', "empty phrase", 2),
        ("x" * (MAX_QUERY_LENGTH + 1), "query is too long: 1001 characters, the limit is 1000", 1000),
        ("(" * 11 + "a" + ")" * 11, "too many nested parentheses (the limit is 10)", 10),
    ],
)
def test_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert message in caught.value.message
    assert caught.value.position == position
    assert check_query(text) == f"{caught.value.message} (at character {position + 1})"


def test_check_query_is_human_and_one_based() -> None:
    assert check_query('trade "joint intel') == 'unterminated phrase: the opening " is never closed (at character 7)'
    assert check_query("trade NOT cricket") is None


def test_longest_allowed_query_is_fine() -> None:
    text = "trade OR " * 110 + "trade"
    assert len(text) == 995
    assert parse_query("t" * MAX_QUERY_LENGTH).terms == ("t" * MAX_QUERY_LENGTH,)
    assert parse_query(text).terms == ("trade",)


def test_deepest_allowed_nesting_still_compiles_in_fts5() -> None:
    text = "a"
    for _ in range(MAX_NESTING):
        text = f"(b OR c d NOT {text})"
    query = parse_query(text)  # each level costs FTS5 three levels of its own: 29 in all
    assert query.fts.count("(") == 3 * MAX_NESTING - 1


@pytest.mark.parametrize(
    "text",
    ['a" OR "b', "col:term", "title:trade", "^x", "{a b}:x", "- trade", "trade -cricket", "a + b",
     'NEAR("a" "b", 5)"', "trade\x00OR", "x\x02y\x03z", "a\" AND \"b\" NOT \"c", 'rowid:1', "*:x", "(a):b"],
)
def test_fts5_injection_is_text_or_a_human_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert "fts5" not in error.message.lower() and "syntax error" not in error.message
        assert error.position is not None and 0 <= error.position <= len(text)
    else:
        assert_only_quoted_terms(query.fts)


def test_injection_examples_become_plain_terms() -> None:
    assert parse_query('a" OR "b').fts == '"a" AND " OR " AND "b"'
    assert parse_query("col:term").fts == '"col:term"'
    assert parse_query("^x").fts == '"^x"'
    assert parse_query("{a b}:x").fts == '"{a" AND "b}:x"'


def test_parse_is_safe_from_many_threads() -> None:
    texts = [f"trade{i} OR NEAR(a{i} b, {i})" for i in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        queries = list(pool.map(parse_query, texts))
    assert [query.text for query in queries] == texts
    assert threading.active_count() >= 1


QUERYISH = st.lists(
    st.sampled_from(
        list('abc ()"*,:^{}-\u201c\u201d') + ["AND ", "OR ", "NOT ", "NEAR", "NEAR(", " 5", "پاک", "é", "\x00", "!"]
    ),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), QUERYISH))
def test_fuzz_parse_returns_query_or_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert error.message and error.position is not None
        assert 0 <= error.position <= len(text)
        assert check_query(text) is not None
    else:
        assert query.text == text and query.terms
        assert_only_quoted_terms(query.fts)
        assert check_query(text) is None
