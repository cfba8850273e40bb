"""Arbitrary command arguments: every reply is valid Telegram HTML within 4,096 characters, and nothing raises.

The handlers in ``bot.commands`` delegate to ``bot.command_replies``; those pure reply builders are
driven here directly with Hypothesis (arbitrary Unicode, markup, very long and empty arguments) over a
hostile catalog and store. A smaller sample then goes end to end: the real PTB application long-polling
the fake Bot API, whose HTML checker refuses what Telegram would refuse. Forged callback data lives in
``test_command_buttons.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.command_lists import help_view
from bot.command_replies import (Reply, list_reply, mark_reply, news_query_reply, overdue_reply, status_reply,
                                 subscribe_reply, unsubscribe_reply, upcoming_reply)
from bot.commands import MAX_DAYS
from bot.config import load_config
from bot.curation import record_verdict
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.keyboards import MAX_DATA_BYTES
from bot.model import Config, Status
from bot.parse import ParsedEntry
from bot.richtext import Rich
from bot.split import TELEGRAM_LIMIT, html_length
from bot.statuses import history, mark
from bot.store import Store
from bot.telegram_app import BotServices, build_application, polling
from bot.telegram_transport import to_markup
from tests.support.fake_telegram import FakeTelegram
from tests.support.telegram_html import parse_html, utf16_len

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
ADMIN, USER, GROUP = 1001, 2002, -3003
SORRY = "Sorry, something went wrong. Please try again later."
LONG_ID = "a" + "b" * 63

HOSTILE = [
    "<script>alert(1)</script> & <b>unbalanced",
    "</i></b></a> &amp; &lt; &#x110000; &#0; &bogus; AT&T",
    "Pakistan\u2013Afghanistan \U0001F1F5\U0001F1F0\U0001F1E6\U0001F1EB \U0001F468\u200d\U0001F469\u200d\U0001F467 e\u0301\u0301\u0301",
    "\u202eRTL override \u0637\u0648\u0631\u062e\u0645 \u067e\u0627\u06a9\u0633\u062a\u0627\u0646",
    '<a href="javascript:alert(1)">click</a> <tg-spoiler>x</tg-spoiler>',
    "x" * 400,
    "word " * 80,
    "\U0001F6A9" * 300,
]


def _toml(value: object) -> str:
    """A TOML basic string or list: JSON's escapes are TOML's, as long as astral characters stay literal."""
    return json.dumps(value, ensure_ascii=False)


def hostile_commitment(n: int) -> str:
    """The n-th of 40 commitments: past, near, fuzzy, relative and undated deadlines, every text field hostile."""
    text = HOSTILE[n % len(HOSTILE)]
    deadline = ("2021-01-01", "2026-03-15", '"2026-Q2"', '"+3w"', None)[n % 5]
    revisions = ", ".join(f"{{ date = \"2026-0{m + 1}\", source = {_toml(f'javascript:alert({m})')}, "
                          f"note = {_toml(HOSTILE[m])} }}" for m in range(5))
    lines = [
        "", "[[commitment]]", f'id = "bulk-{n:02d}"', f'agreement = "{"kabul-2025" if n % 2 else "bulk"}"',
        f"title = {_toml(f'{text} #{n} ' + (HOSTILE[7] if n % 3 == 0 else ''))}",
        f"responsible = {_toml(HOSTILE)}", f"lead = {_toml(HOSTILE[n % 4])}", "agreed = 2025-04-19",
        f"deadline = {deadline}" if deadline else "", f"revised = [{revisions}]",
        f"quote = {_toml(('“Quoted” <i>text</i> & more ' + HOSTILE[n % 8]) * 6)}",
        f"source = {_toml('https://example.org/a?b=<c>&d=' + chr(34) + 'e' if n % 2 else 'javascript:alert(1)')}",
        f"evidence = [{{ url = {_toml('https://example.org/<x>&y')}, note = {_toml(HOSTILE[1])} }}, "
        '{ url = "Gazette <p> No. 12" }]',
        'keywords = ["bulk"]', f"tags = {_toml(['bulk', 'санкции и транзит', '<tag>&', f't{n % 3}'])}",
    ]
    return "\n".join(lines) + "\n"


def hostile_commitments(count: int = 40) -> str:
    """A valid commitments.toml whose every free-text field tries to break HTML, length or layout."""
    parts = [f'''timezone = "Asia/Karachi"
digest = "off"

[[agreement]]
id = "kabul-2025"
title = {_toml(HOSTILE[0] + " " + HOSTILE[2])}
parties = {_toml(HOSTILE[:4])}
signed = 2025-04-19

[[agreement]]
id = "bulk"
title = {_toml(HOSTILE[6])}
''']
    for n in range(count):
        parts.append(hostile_commitment(n))
    parts.append(f'''
[[commitment]]
id = "{LONG_ID}"
agreement = "bulk"
title = {_toml(HOSTILE[2] * 10)}
deadline = 2020-12-15
''')
    return "".join(parts)


def headline(store: Store, commitment_id: str, title: str, link: str, published: datetime, terms: tuple[str, ...]) -> int:
    """Ingest one matched entry as the poller would; returns its story id."""
    entry = ParsedEntry(None, link, link, title, "", (), published, None)
    batch = Ingest("local", FeedState("local"), [entry], [entry], {entry.key: [EntryMatch(commitment_id, terms)]},
                   published)
    (match,) = ingest(store, batch)
    return match.story_id


def fill(store: Store) -> None:
    """Headlines, curated evidence, status history and subscriptions, all as hostile as the catalog."""
    for n in range(12):
        for cid in ("bulk-00", "bulk-01", LONG_ID):
            title = (f"{n}. " + HOSTILE[n % len(HOSTILE)] * 3)[:1000]
            link = f"javascript:alert('{cid}{n}')" if n % 3 == 0 else f"https://news.example/{cid}/{n}?q=\"<x>\"&y"
            story = headline(store, cid, title, link, NOW - timedelta(hours=n + 1), tuple(HOSTILE[:n % 4]))
            if n < 7:
                record_verdict(store, story, cid, "evidence", ADMIN, NOW)
    for n in range(9):
        mark(store, "bulk-00", list(Status)[n % 6], NOW - timedelta(days=9 - n), actor=HOSTILE[n % 8][:200],
             actor_id=ADMIN, evidence_url="https://e.example/\"><b>" if n % 2 else "javascript:x", note=HOSTILE[n % 8])


@dataclass
class World:
    """The hostile configuration and a store to answer from."""

    config: Config
    store: Store

    @property
    def ids(self) -> list[str]:
        return list(self.config.catalog.by_id)


def make_world(directory: Path, count: int = 40) -> World:
    """The hostile catalog with ``count`` bulk commitments (plus the longest id), and a filled store."""
    (directory / "commitments.toml").write_text(hostile_commitments(count), encoding="utf-8")
    (directory / "feeds.toml").write_text('[[feed]]\nid = "local"\nname = "<b>Local & co</b>"\nurl = "feed.xml"\n',
                                          encoding="utf-8")
    store = Store.open(directory / "state.sqlite3")
    fill(store)
    return World(load_config(directory), store)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = make_world(tmp_path_factory.mktemp("hostile"))
    yield w
    w.store.close()


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Four commitments: enough for every kind of reply, few enough that walls of text stay quick today."""
    w = make_world(tmp_path_factory.mktemp("small"), count=4)
    yield w
    w.store.close()


def telegram_valid(reply: Reply | Rich) -> str:
    """Assert what Telegram checks on sendMessage (HTML, length, not empty, buttons); return the visible text."""
    rich, keyboard = (reply.rich, reply.keyboard) if isinstance(reply, Reply) else (reply, None)
    html = rich.html()
    parsed = parse_html(html)  # raises HtmlParseError where Telegram would answer 400 "can't parse entities"
    assert html_length(html) == utf16_len(parsed.text) <= TELEGRAM_LIMIT
    assert parsed.text.strip(), "Telegram refuses an empty message"
    if keyboard:
        markup = to_markup(keyboard)
        assert markup is not None
        for row in keyboard.rows:
            for button in row:
                assert button.text.strip() and 1 <= len(button.data.encode()) <= MAX_DATA_BYTES
    return parsed.text


# ------------------------------------------------------------------------------------- arguments

# What people (and attackers) type after a command: anything, markup, the catalog's own words.
MARKUP = st.sampled_from(["<b>", "</i>", "&amp;", "&", "&#0;", "&#x110000;", "<a href='javascript:alert(1)'>",
                          "<tg-spoiler>", "\u202e", "\u200d", "\U0001F1F5\U0001F1F0", "e\u0301", "\x00", "<", ">",
                          '"', "'", "\\", "\n", "\t", "@pledgewatch_bot", "/status", "all", "*", "~", ":"])
WORD_FROM_CATALOG = st.sampled_from(["bulk-00", "bulk-01", "BULK-07", LONG_ID, "kabul-2025", "bulk", "санкции",
                                     "<tag>&", "t1", "all", "met", "in-progress", "unbalanced", "#3", "x" * 400])
WORDS = st.one_of(
    st.just(""), st.text(), st.text(st.characters(codec="utf-8"), max_size=50),
    st.lists(st.one_of(MARKUP, WORD_FROM_CATALOG, st.text(max_size=8)), max_size=12).map(" ".join),
)
# Walls of text are tested one by one below (each costs real time in the reply layer), not sampled.
LONG_WORDS = {
    "one 4,000-letter word": "x" * 4000, "4,000 letters of Arabic script": "\u0637" * 4000,
    "2,000 flags (4 UTF-16 units each)": "\U0001F1F5\U0001F1F0" * 1000, "a catalog word 800 times": "bulk " * 800,
    "a tag 1,300 times": "t1 " * 1300, "a letter pair 1,300 times": "ab " * 1300, "markup 500 times": "<b>&amp; " * 500,
    "one letter 2,000 times": "a " * 2000, "combining marks": "e" + "\u0301" * 4000,
}
ARGS = WORDS.map(str.split)  # PTB's context.args: the words after the command
PURE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PURE
@given(WORDS)
def test_status_and_news_answer_any_words(world: World, words: str) -> None:
    text = telegram_valid(status_reply(world.store, world.config, words, NOW))
    if words.strip():
        telegram_valid(news_query_reply(world.store, world.config, words, NOW))
    else:
        assert "commitments tracked" in text


@PURE
@given(WORDS, st.integers(0, 10_000))
def test_list_answers_any_filter_and_any_page(world: World, words: str, page: int) -> None:
    telegram_valid(list_reply(world.store, world.config, words, page, NOW))


@PURE
@given(st.integers(0, MAX_DAYS))
def test_upcoming_answers_any_accepted_number_of_days(world: World, days: int) -> None:
    text = telegram_valid(upcoming_reply(world.store, world.config, days, NOW))
    assert f"Due in the next {days} day" in text


def test_overdue_and_help_are_valid(world: World) -> None:
    assert "Overdue" in telegram_valid(overdue_reply(world.store, world.config, NOW))
    for greeting in (True, False):
        assert "/status" in telegram_valid(help_view(greeting))


@PURE
@given(WORDS, st.integers(1, 2**62))
def test_subscribe_and_unsubscribe_answer_any_words(world: World, words: str, chat: int) -> None:
    telegram_valid(subscribe_reply(world.store, world.config, chat, words, NOW))
    telegram_valid(unsubscribe_reply(world.store, world.config, chat, words))
    follows = world.store.query("SELECT commitment_id FROM subscriptions WHERE chat_id = ?", (str(chat),))
    assert {r[0] for r in follows} <= {*world.ids, "*"}  # only real ids (or all) are ever stored


def _mark_args(parts: tuple[str, str, list[str]]) -> list[str]:
    """ID and STATUS as single words (as PTB splits them), then any further words."""
    first, second, rest = parts
    return [(first.split() or ["x"])[0], (second.split() or ["y"])[0], *rest]


MARK_ARGS = st.tuples(
    st.one_of(WORD_FROM_CATALOG, st.sampled_from(["bulk-03", LONG_ID.upper()]), WORDS),
    st.one_of(st.sampled_from([s.value for s in Status] + ["IN-PROGRESS", "Met", "done"]), WORDS),
    ARGS,
).map(_mark_args)


@PURE
@given(MARK_ARGS, st.text(max_size=300))
def test_mark_answers_any_arguments_and_records_only_real_statuses(world: World, args: list[str], actor: str) -> None:
    assert len(args) >= 2  # the handler answers shorter ones with the usage line itself
    before = {c: len(history(world.store, c)) for c in ("bulk-03", LONG_ID)}
    text = telegram_valid(mark_reply(world.store, world.config, args, actor or "@x", ADMIN, NOW))
    recorded = text.startswith("✅")
    target = args[0].strip().lower()
    for cid, count in before.items():
        assert len(history(world.store, cid)) == count + (recorded and target == cid)
    if recorded:
        assert args[1].strip().lower().replace("-", "_") in Status._value2member_map_


def _mark_words(words: str) -> list[str]:
    parts = words.split()
    return parts + ["met"] * (2 - len(parts)) if len(parts) < 2 else parts


WALL_REPLIES: dict[str, Callable[[World, str], Reply]] = {
    "/status": lambda w, words: status_reply(w.store, w.config, words, NOW),
    "/news": lambda w, words: news_query_reply(w.store, w.config, words, NOW),
    "/list": lambda w, words: list_reply(w.store, w.config, words, 0, NOW),
    "/subscribe": lambda w, words: subscribe_reply(w.store, w.config, 77, words, NOW),
    "/unsubscribe": lambda w, words: unsubscribe_reply(w.store, w.config, 77, words),
    "/mark": lambda w, words: mark_reply(w.store, w.config, _mark_words(words), "@ann", ADMIN, NOW),
}


@pytest.mark.parametrize("wall", LONG_WORDS)
def test_a_wall_of_text_gets_a_valid_reply_from_every_command(small_world: World, wall: str) -> None:
    for command, reply in WALL_REPLIES.items():
        text = telegram_valid(reply(small_world, LONG_WORDS[wall]))
        assert "…" in text or command in ("/list", "/mark"), (command, text)  # the echo of the words is shortened


@pytest.mark.parametrize("wall", ["a tag 1,300 times", "a letter pair 1,300 times", "one letter 2,000 times"])
def test_a_wall_of_text_costs_every_command_little_time(world: World, wall: str) -> None:
    """Fails today: suggest() and search() re-fold every commitment's text once per word (command_views.py:220-238)
    and run difflib on the whole argument, so one 4,096-character message costs ~1-2 s of GIL-holding CPU with
    41 commitments, growing with the catalog: any Telegram user can stall the bot by sending a few."""
    for command, reply in WALL_REPLIES.items():
        started = time.perf_counter()
        reply(world, LONG_WORDS[wall])
        elapsed = time.perf_counter() - started
        assert elapsed < 0.5, f"{command} {wall}: {elapsed:.2f} s for one message"


# ------------------------------------------------------------------------------------- end to end


@dataclass
class Bot:
    """The real application polling the fake Bot API, answering from the hostile world."""

    tg: FakeTelegram

    async def ask(self, chat: int, user: int, text: str) -> tuple[str, str]:
        """Send a command; return the bot's reply as (HTML sent, text shown)."""
        before = len(self.tg.messages(chat))
        self.tg.push_message(chat, user, text)
        reply = (await self.tg.await_messages(chat, before + 1))[before]
        return reply.text or "", reply.plain_text or ""


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    world = make_world(tmp_path)
    with FakeTelegram() as tg:
        tg.add_chat(ADMIN, "private", first_name="<b>Ann</b>", username="ann")
        tg.add_user(ADMIN, first_name="<b>Ann</b> & co", username="ann")
        tg.add_chat(USER, "private", first_name="Bob")
        tg.add_chat(GROUP, "group", title="<i>Watchers</i>")
        services = BotServices(world.store, FakeClock(NOW), lambda: world.config, frozenset({ADMIN}))
        app = build_application(tg.token, base_url=tg.base_url, services=services)
        try:
            async with polling(app, timeout=1):
                yield Bot(tg)
        finally:
            world.store.close()


def command_text(command: str, words: str) -> str:
    """A message a client could send: the command, a space, the words, cut to Telegram's 4,096 units."""
    text = f"/{command} {words}"
    while utf16_len(text) > TELEGRAM_LIMIT:
        text = text[:-1]
    return text


COMMANDS = ["start", "help", "status", "list", "upcoming", "overdue", "news", "subscribe", "unsubscribe", "mark"]
E2E = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@E2E
@given(st.sampled_from(COMMANDS), WORDS, st.sampled_from([(USER, USER), (ADMIN, ADMIN), (GROUP, USER), (GROUP, ADMIN)]))
async def test_every_command_answers_any_arguments_through_telegram(bot: Bot, command: str, words: str,
                                                                    where: tuple[int, int]) -> None:
    chat, user = where
    html, shown = await bot.ask(chat, user, command_text(command, words))
    assert shown != SORRY, (command, words)
    assert parse_html(html).text == shown and utf16_len(shown) <= TELEGRAM_LIMIT
    assert all(call.status == 200 for call in bot.tg.calls_to("sendMessage")), "the fake Bot API refused a reply"


async def test_a_message_of_telegrams_full_length_is_answered_by_every_command(bot: Bot) -> None:
    """4,096 UTF-16 units, the most a client can send, as one word (the walls above cover many words)."""
    for command in COMMANDS:
        text = command_text(command, "x" * TELEGRAM_LIMIT)
        assert utf16_len(text) == TELEGRAM_LIMIT
        html, shown = await bot.ask(ADMIN, ADMIN, text)
        assert shown != SORRY and parse_html(html).text == shown, command
    assert all(call.status == 200 for call in bot.tg.calls_to("sendMessage"))


@pytest.mark.parametrize("days, says", [
    ("", "Due in the next 30 days"), ("0", "Due in the next 0 days"), (str(MAX_DAYS), f"Due in the next {MAX_DAYS} days"),
    (str(MAX_DAYS + 1), "Usage: /upcoming [days]"), ("-1", "Usage: /upcoming [days]"), ("9" * 4000, "Usage"),
    ("\u0664\u0665", "Due in the next 45 days"), ("\u00b2", "Usage"), ("1e3", "Usage"), ("3 4", "Usage"),
], ids=["none", "zero", "max", "max+1", "negative", "4000 nines", "arabic-indic 45", "superscript", "1e3", "two"])
async def test_upcoming_parses_its_number_of_days_strictly(bot: Bot, days: str, says: str) -> None:
    """The only argument parsed in a handler rather than in the reply layer; Arabic-Indic ٤٥ is forty-five."""
    _, shown = await bot.ask(USER, USER, command_text("upcoming", days))
    assert says in shown


async def test_commands_without_their_arguments_answer_with_usage(bot: Bot) -> None:
    for command, says in (("news", "Usage: /news ID"), ("mark", "Usage: /mark ID STATUS [URL] [note]"),
                          ("mark bulk-00", "Usage: /mark ID STATUS"), ("status", "commitments tracked"),
                          ("list", "page 1 of"), ("subscribe", "You don't follow any commitment yet.")):
        _, shown = await bot.ask(ADMIN, ADMIN, f"/{command}")
        assert says in shown, (command, shown)
    assert [call.status for call in bot.tg.calls_to("sendMessage")] == [200] * 6
