"""The bot's commands and buttons end to end: the real PTB Application, long polling the fake Bot API server.

Each test starts the application built by ``build_application`` (with its post_init), pushes updates
as a user would, and checks what reached the chat: the rendered text, the HTML Telegram accepted, the
buttons, and what the SQLite store recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from telegram import InlineKeyboardMarkup
from telegram.ext import Application

from bot.clock import FakeClock
from bot.command_lists import MENU
from bot.config import load_config
from bot.curation import curated_evidence, dismissed, is_dismissed, record_verdict, verdict_of
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.keyboards import curation_buttons
from bot.model import Config, Status
from bot.parse import ParsedEntry
from bot.statuses import effective_statuses, history
from bot.store import Store
from bot.subscriptions import subscribe, subscribers, subscriptions, unsubscribe
from bot.telegram_transport import to_markup
from bot.telegram_app import BotServices, build_application, polling
from tests.support.fake_telegram import FakeTelegram, Message
from tests.support.fixtures import MINIMAL_COMMITMENTS

ADMIN, USER, GROUP = 1001, 2002, -3003
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)  # 14:00 in Asia/Karachi
BOT = "pledgewatch_test_bot"

EXTRA = '''
[[agreement]]
id = "kabul-2025"
title = "Kabul visit pledges"
signed = 2025-04-19

[[agreement]]
id = "bulk-deal"
title = "A deal with many parts"

[[commitment]]
id = "transit-fees"
agreement = "kabul-2025"
title = "Cut transit fees on Afghan trade"
responsible = ["Pakistan"]
deadline = 2025-12-31
revised = [{ date = 2026-03-15, note = "moved at the May meeting", source = "https://example.org/rev" }]
quote = "Both sides agreed to reduce transit fees"
source = "https://example.org/kabul"
evidence = [{ url = "https://example.org/evidence", date = 2025-05-01, note = "Ministry notice" }]
keywords = ["transit"]
tags = ["trade"]

[[commitment]]
id = "hostile"
agreement = "kabul-2025"
title = '<script>alert(1)</script> & <b>unbalanced'
quote = '</i> & <tg-spoiler> AT&T'
keywords = ["hostile"]
tags = ["trade"]
'''
BULK = "".join(f'''
[[commitment]]
id = "bulk-{n:02d}"
agreement = "bulk-deal"
title = "Bulk part {n:02d}"
deadline = 2027-01-{n:02d}
keywords = ["bulk"]
tags = ["bulk"]
''' for n in range(1, 13))


class LiveConfig:
    """A config getter the test can swap, as live reload does; ``broken`` makes the next read fail."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.broken = False

    def __call__(self) -> Config:
        if self.broken:
            raise RuntimeError("config exploded")
        return self.config


@dataclass(frozen=True)
class Seen:
    """A bot message as the user sees it: the HTML sent, the text Telegram rendered, and its buttons."""

    message_id: int
    text: str
    plain_text: str
    buttons: list[tuple[str, str]]
    reply_to_message_id: int | None

    @classmethod
    def of(cls, m: Message) -> Seen:
        rows = (m.reply_markup or {}).get("inline_keyboard", [])
        return cls(m.message_id, m.text or "", m.plain_text or "",
                   [(b["text"], b["callback_data"]) for row in rows for b in row], m.reply_to_message_id)


@dataclass
class Env:
    tg: FakeTelegram
    store: Store
    clock: FakeClock
    config: LiveConfig
    app: Application

    async def ask(self, chat: int, user: int, text: str) -> Seen:
        """Send a command and return the bot's reply."""
        before = len(self.tg.messages(chat))
        self.tg.push_message(chat, user, text)
        return Seen.of((await self.tg.await_messages(chat, before + 1))[before])

    async def last(self, chat: int, n: int) -> Seen:
        """Wait for the chat's n-th bot message and return it."""
        return Seen.of((await self.tg.await_messages(chat, n))[n - 1])

    def message(self, chat: int, message_id: int) -> Seen:
        """A bot message as it is now (after edits)."""
        return Seen.of(self.tg.message(chat, message_id))

    async def press(self, chat: int, user: int, message_id: int, data: str) -> dict:
        """Press a button and return the bot's answerCallbackQuery parameters."""
        query_id = self.tg.push_callback(chat, user, message_id, data)["callback_query"]["id"]
        await asyncio.to_thread(self.tg.wait_until, lambda s: query_id in s.callback_answers, 5.0, "a callback answer")
        return self.tg.callback_answers[query_id]


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_chat(ADMIN, "private", first_name="Ann", username="ann")
        server.add_user(ADMIN, first_name="Ann", username="ann")
        server.add_chat(USER, "private", first_name="Bob")
        server.add_user(USER, first_name="Bob")
        server.add_chat(GROUP, "group", title="Watchers")
        yield server


@pytest.fixture
async def env(tg: FakeTelegram, config_dir: Path, tmp_path: Path) -> AsyncIterator[Env]:
    (config_dir / "commitments.toml").write_text(MINIMAL_COMMITMENTS + EXTRA + BULK, encoding="utf-8")
    live = LiveConfig(load_config(config_dir))
    store = Store.open(tmp_path / "state.sqlite3")
    clock = FakeClock(NOW)
    services = BotServices(store, clock, live, frozenset({ADMIN}))
    app = build_application(tg.token, base_url=tg.base_url, services=services)
    try:
        async with polling(app, timeout=1):
            yield Env(tg, store, clock, live, app)
    finally:
        store.close()


def add_headline(store: Store, commitment_id: str, title: str, published: datetime, n: int,
                 terms: tuple[str, ...] = ("transit",)) -> int:
    """Ingest one matched entry as the poller would; returns its story id."""
    link = f"https://news.example.org/{commitment_id}/{n}"
    entry = ParsedEntry(None, link, link, title, "", (), published, None)
    batch = Ingest("local", FeedState("local"), [entry], [entry], {entry.key: [EntryMatch(commitment_id, terms)]},
                   published)
    (match,) = ingest(store, batch)
    return match.story_id


# ------------------------------------------------------------------------------------- help and menu


async def test_menu_is_set_and_start_and_help_explain(env: Env) -> None:
    assert [c["command"] for c in env.tg.commands()] == [name for name, _ in MENU]
    start = await env.ask(USER, USER, "/start")
    assert "Welcome to pledgewatch" in start.plain_text and "deadline reminders" in start.plain_text
    help_ = await env.ask(USER, USER, "/help")
    for name, _ in MENU:
        assert f"/{name} — " in help_.plain_text
    assert "/mark ID STATUS [URL] [note]" in help_.plain_text and "in_progress" in help_.plain_text


# ------------------------------------------------------------------------------------- /status


async def test_status_shows_one_commitment_in_full(env: Env) -> None:
    for n in range(4):
        add_headline(env.store, "transit-fees", f"Transit talks day {n}", NOW - timedelta(days=10 - n), n)
    reply = await env.ask(USER, USER, "/status transit-fees")
    text = reply.plain_text
    assert text.startswith("📌 Cut transit fees on Afghan trade\ntransit-fees · Kabul visit pledges")
    assert "Responsible: Pakistan" in text
    assert "Deadline: by 15 Mar 2026 · 14 days left" in text
    assert "Originally: by 31 Dec 2025 (written “2025-12-31”)" in text
    assert "Revised to: by 15 Mar 2026 · moved at the May meeting · source" in text
    assert "Status: not yet rated" in text
    assert "Ministry notice (1 May 2025)" in text
    assert "“Both sides agreed to reduce transit fees”" in text and "Source: https://example.org/kabul" in text
    shown = [line for line in text.splitlines() if line.startswith("• Transit talks")]
    assert shown == ["• Transit talks day 3", "• Transit talks day 2", "• Transit talks day 1"]
    assert "Local test feed · 22 Feb 2026" in text
    assert '<a href="https://news.example.org/transit-fees/3">Transit talks day 3</a>' in reply.text
    assert reply.reply_to_message_id is None  # private chat: no quoting


async def test_status_without_argument_is_an_overview(env: Env) -> None:
    reply = await env.ask(USER, USER, "/status")
    assert "16 commitments tracked" in reply.plain_text and "not yet rated: 16" in reply.plain_text
    assert "2 overdue (see /overdue)" in reply.plain_text


async def test_commands_in_a_group_with_the_bot_name_suffix(env: Env) -> None:
    env.tg.push_message(GROUP, USER, "/status@some_other_bot joint-intel")
    reply = await env.ask(GROUP, USER, f"/status@{BOT} joint-intel")
    assert len(env.tg.messages(GROUP)) == 1  # the other bot's command was not answered
    assert "Re-energise joint intelligence work" in reply.plain_text and "overdue by" in reply.plain_text
    listed = await env.ask(GROUP, USER, f"/overdue@{BOT}")
    assert "Overdue (2)" in listed.plain_text


async def test_status_with_words_offers_buttons_and_a_press_opens_the_detail(env: Env) -> None:
    reply = await env.ask(USER, USER, "/status trade")
    assert "2 commitments match “trade”" in reply.plain_text
    assert [data for _, data in reply.buttons] == ["o:transit-fees", "o:hostile"]
    answer = await env.press(USER, USER, reply.message_id, "o:transit-fees")
    assert answer == {}
    detail = await env.last(USER, 2)
    assert detail.plain_text.startswith("📌 Cut transit fees on Afghan trade")
    one = await env.ask(USER, USER, "/status JOINT intelligence")
    assert one.plain_text.startswith("📌 Re-energise joint intelligence work")


async def test_unknown_id_suggests_the_closest(env: Env) -> None:
    reply = await env.ask(USER, USER, "/status joint-intl")
    assert "I don't know a commitment matching “joint-intl”" in reply.plain_text
    assert "• joint-intel — Re-energise joint intelligence work" in reply.plain_text
    news = await env.ask(USER, USER, "/news transit-fes")
    assert "• transit-fees — Cut transit fees on Afghan trade" in news.plain_text


# ------------------------------------------------------------------------------------- /list, /upcoming, /overdue


async def test_list_pages_by_button_and_opens_items(env: Env) -> None:
    first = await env.ask(USER, USER, "/list")
    assert "page 1 of 2 (16 in all)" in first.plain_text
    assert "1. Re-energise joint intelligence work joint-intel" in first.plain_text
    assert first.buttons[-1] == ("next »", "l:1:") and len(first.buttons) == 11
    await env.press(USER, USER, first.message_id, "l:1:")
    await env.tg.await_calls("editMessageText")
    second = env.message(USER, first.message_id)
    assert "page 2 of 2" in second.plain_text and "16. Bulk part 12 bulk-12" in second.plain_text
    assert second.buttons[-1] == ("« prev", "l:0:") and ("11. Bulk part 07", "o:bulk-07") in second.buttons
    await env.press(USER, USER, first.message_id, "o:bulk-07")
    opened = await env.last(USER, 2)
    assert opened.plain_text.startswith("📌 Bulk part 07")


async def test_list_filters_by_agreement_or_tag(env: Env) -> None:
    bulk = await env.ask(USER, USER, "/list bulk")
    assert "Commitments · tag bulk — page 1 of 2 (12 in all)" in bulk.plain_text
    assert bulk.buttons[-1] == ("next »", "l:1:bulk")
    await env.press(USER, USER, bulk.message_id, "l:1:bulk")
    await env.tg.await_calls("editMessageText")
    assert "page 2 of 2 (12 in all)" in env.message(USER, bulk.message_id).plain_text
    kabul = await env.ask(USER, USER, "/list Kabul-2025")
    assert "Commitments · Kabul visit pledges — page 1 of 1 (2 in all)" in kabul.plain_text
    unknown = await env.ask(USER, USER, "/list trad")
    assert "“trad” is neither an agreement nor a tag; did you mean 'trade'?" in unknown.plain_text
    assert "Agreements: shared-vision, kabul-2025, bulk-deal" in unknown.plain_text


async def test_upcoming_and_overdue(env: Env) -> None:
    soon = await env.ask(USER, USER, "/upcoming")
    assert "Due in the next 30 days (1)" in soon.plain_text
    assert "Cut transit fees on Afghan trade transit-fees\n   by 15 Mar 2026 · 14 days left · not yet rated" in soon.plain_text
    none = await env.ask(USER, USER, "/upcoming 5")
    assert "Due in the next 5 days (0)" in none.plain_text and "Nothing open falls due" in none.plain_text
    bad = await env.ask(USER, USER, "/upcoming soon")
    assert bad.plain_text.startswith("Usage: /upcoming [days]")
    late = await env.ask(USER, USER, "/overdue")
    assert "Overdue (2)" in late.plain_text
    assert "joint-intel\n   by 15 Dec 2020 · overdue by 1902 days · not yet rated" in late.plain_text
    assert "reciprocal-visit" in late.plain_text and "transit-fees" not in late.plain_text


async def test_news_lists_headlines_with_source_date_and_terms(env: Env) -> None:
    for n in range(12):
        add_headline(env.store, "transit-fees", f"Transit story {n:02d}", NOW - timedelta(days=20 - n), n,
                     terms=("transit", "fees"))
    reply = await env.ask(USER, USER, "/news transit-fees")
    text = reply.plain_text
    assert text.startswith("📰 Latest news: Cut transit fees on Afghan trade transit-fees")
    titles = [line for line in text.splitlines() if line.startswith("• ")]
    assert titles == [f"• Transit story {n:02d}" for n in range(11, 1, -1)]
    assert "   Local test feed · 18 Feb 2026 · matched: transit, fees" in text
    usage = await env.ask(USER, USER, "/news")
    assert usage.plain_text.startswith("Usage: /news ID")
    several = await env.ask(USER, USER, "/news trade")
    assert [data for _, data in several.buttons] == ["n:transit-fees", "n:hostile"]
    await env.press(USER, USER, several.message_id, "n:hostile")
    opened = await env.last(USER, 4)
    assert "No matched headlines yet." in opened.plain_text


# ------------------------------------------------------------------------------------- /mark


async def test_mark_by_a_non_admin_is_refused_and_nothing_recorded(env: Env) -> None:
    reply = await env.ask(USER, USER, "/mark joint-intel met https://example.org/x")
    assert "only the bot's admins can change a status" in reply.plain_text
    assert history(env.store, "joint-intel") == []
    in_group = await env.ask(GROUP, USER, f"/mark@{BOT} joint-intel met")
    assert "only the bot's admins" in in_group.plain_text and history(env.store, "joint-intel") == []


async def test_admin_mark_is_recorded_and_shown_by_status(env: Env) -> None:
    reply = await env.ask(ADMIN, ADMIN, "/mark joint-intel in-progress https://example.org/report talks resumed")
    assert "Status is now in progress, set by @ann on 1 Mar 2026 14:00 PKT." in reply.plain_text
    assert "Evidence: https://example.org/report" in reply.plain_text and "Note: talks resumed" in reply.plain_text
    (change,) = history(env.store, "joint-intel")
    assert (change.status, change.actor, change.actor_id, change.at) == (Status.IN_PROGRESS, "@ann", ADMIN, NOW)
    assert (change.evidence_url, change.note) == ("https://example.org/report", "talks resumed")

    detail = await env.ask(USER, USER, "/status joint-intel")
    assert "📊 Status: in progress" in detail.plain_text
    assert "• 1 Mar 2026 14:00 PKT: in progress, by @ann · evidence · talks resumed" in detail.plain_text
    assert '<a href="https://example.org/report">evidence</a>' in detail.text
    late = await env.ask(USER, USER, "/overdue")
    assert "overdue by 1902 days · in progress" in late.plain_text

    env.clock.advance(timedelta(days=1))
    await env.ask(ADMIN, ADMIN, "/mark joint-intel met")
    assert effective_statuses(env.store, [env.config().catalog.by_id["joint-intel"]]) == {"joint-intel": Status.MET}
    assert "Overdue (1)" in (await env.ask(USER, USER, "/overdue")).plain_text


async def test_mark_with_a_bad_status_or_unknown_id_records_nothing(env: Env) -> None:
    bad = await env.ask(ADMIN, ADMIN, "/mark joint-intel done")
    assert "“done” is not a status" in bad.plain_text
    assert "Valid statuses: pending, in_progress, stalled, partial, met, missed" in bad.plain_text
    unknown = await env.ask(ADMIN, ADMIN, "/mark joint-intl met")
    assert "• joint-intel — Re-energise joint intelligence work" in unknown.plain_text
    short = await env.ask(ADMIN, ADMIN, "/mark joint-intel")
    assert short.plain_text.startswith("Usage: /mark ID STATUS [URL] [note]")
    assert history(env.store, "joint-intel") == []


# ------------------------------------------------------------------------------------- subscriptions


async def test_subscribe_and_unsubscribe_in_a_private_chat(env: Env) -> None:
    empty = await env.ask(USER, USER, "/subscribe")
    assert "You don't follow any commitment yet." in empty.plain_text
    one = await env.ask(USER, USER, "/subscribe transit-fees")
    assert "🔔 You now follow Cut transit fees on Afghan trade transit-fees." in one.plain_text
    assert "You follow:\n• Cut transit fees on Afghan trade transit-fees" in one.plain_text
    again = await env.ask(USER, USER, "/subscribe transit-fees")
    assert again.plain_text.startswith("You already follow")
    await env.ask(USER, USER, "/subscribe all")
    assert subscriptions(env.store, USER) == ["transit-fees", "*"]
    assert subscribers(env.store, "joint-intel") == [str(USER)]
    unknown = await env.ask(USER, USER, "/subscribe transit")
    assert "• transit-fees" in unknown.plain_text
    off = await env.ask(USER, USER, "/unsubscribe transit-fees")
    assert "🔕 You no longer follow Cut transit fees" in off.plain_text and "• all commitments" in off.plain_text
    not_one = await env.ask(USER, USER, "/unsubscribe joint-intel")
    assert "You follow all commitments; send /unsubscribe all to stop." in not_one.plain_text
    done = await env.ask(USER, USER, "/unsubscribe all")
    assert "You don't follow any commitment yet." in done.plain_text and subscriptions(env.store, USER) == []


async def test_subscribe_in_a_group_points_to_a_private_chat(env: Env) -> None:
    reply = await env.ask(GROUP, USER, f"/subscribe@{BOT} transit-fees")
    assert f"/subscribe works in a private chat, so updates reach only you: message me at @{BOT}" in reply.plain_text
    assert f'<a href="https://t.me/{BOT}">@{BOT}</a>' in reply.text
    off = await env.ask(GROUP, USER, "/unsubscribe all")
    assert "/unsubscribe works in a private chat" in off.plain_text
    assert subscriptions(env.store, GROUP) == [] and subscribers(env.store, "transit-fees") == []


# ------------------------------------------------------------------------------------- curation


async def _headline_copy(env: Env, chat: int, story_id: int, commitment_id: str) -> Seen:
    """Post a headline copy with curation buttons through the application's bot, as the announcer does."""
    markup = to_markup(curation_buttons(story_id, commitment_id))
    assert isinstance(markup, InlineKeyboardMarkup)
    sent = await env.app.bot.send_message(chat, "📰 Transit talks", reply_markup=markup)
    return env.message(chat, sent.message_id)


async def test_curation_buttons_act_only_for_admins(env: Env) -> None:
    story = add_headline(env.store, "transit-fees", "Fees cut at Torkham", NOW - timedelta(days=1), 1)
    copy = await _headline_copy(env, GROUP, story, "transit-fees")
    assert copy.buttons == [("✅ counts as evidence", f"cur:e:{story}:transit-fees"),
                             ("🚫 not relevant", f"cur:i:{story}:transit-fees")]

    refused = await env.press(GROUP, USER, copy.message_id, f"cur:e:{story}:transit-fees")
    assert refused == {"text": "Only the bot's admins can curate headlines.", "show_alert": True}
    assert verdict_of(env.store, story, "transit-fees") is None
    assert env.message(GROUP, copy.message_id).buttons == copy.buttons

    accepted = await env.press(GROUP, ADMIN, copy.message_id, f"cur:e:{story}:transit-fees")
    assert accepted == {"text": "Recorded: counts as evidence."}
    await env.tg.await_calls("editMessageReplyMarkup")
    assert env.message(GROUP, copy.message_id).buttons == [("✅ evidence · @ann", "cur:n")]
    assert [e.title for e in curated_evidence(env.store, "transit-fees")] == ["Fees cut at Torkham"]
    detail = await env.ask(USER, USER, "/status transit-fees")
    assert "• ✅ Fees cut at Torkham (Local test feed, 28 Feb 2026)" in detail.plain_text
    assert (await env.press(GROUP, USER, copy.message_id, "cur:n")) == {"text": "Already recorded."}

    other = add_headline(env.store, "transit-fees", "Cricket scores", NOW, 2)
    copy2 = await _headline_copy(env, ADMIN, other, "transit-fees")
    answer = await env.press(ADMIN, ADMIN, copy2.message_id, f"cur:i:{other}:transit-fees")
    assert "won't be posted for this commitment again" in answer["text"]
    assert is_dismissed(env.store, other, "transit-fees") and not is_dismissed(env.store, story, "transit-fees")
    await env.tg.await_calls("editMessageReplyMarkup", 2)
    assert env.message(ADMIN, copy2.message_id).buttons == [("🚫 not relevant · @ann", "cur:n")]


@pytest.mark.parametrize("data", [
    "cur:e:{story}:no-such-commitment", "cur:x:{story}:transit-fees", "cur:e:0{story}:transit-fees",
    "cur:e:-1:transit-fees", "cur:e:{story}:transit-fees:extra", "o:../../etc/passwd", "o:", "l:99999:",
    "l:1:no-such-tag", "zzz", "cur:e:{story}:~AAAAAAAAAAAA",
])
async def test_forged_callback_data_is_refused(env: Env, data: str) -> None:
    story = add_headline(env.store, "transit-fees", "Fees cut", NOW, 1)
    target = await env.ask(ADMIN, ADMIN, "/help")
    answer = await env.press(ADMIN, ADMIN, target.message_id, data.format(story=story))
    assert answer == {"text": "This button is out of date or not valid. Send the command again.", "show_alert": True}
    assert verdict_of(env.store, story, "transit-fees") is None and len(env.tg.messages(ADMIN)) == 1


async def test_well_formed_curation_of_a_pair_that_never_matched_is_refused(env: Env) -> None:
    story = add_headline(env.store, "transit-fees", "Fees cut", NOW, 1)
    target = await env.ask(ADMIN, ADMIN, "/help")
    for data in (f"cur:e:{story}:joint-intel", "cur:i:987654:transit-fees"):
        answer = await env.press(ADMIN, ADMIN, target.message_id, data)
        assert answer == {"text": "That headline is not a match for this commitment.", "show_alert": True}
    assert env.store.query("SELECT COUNT(*) FROM curation")[0][0] == 0


# ------------------------------------------------------------------------------------- escaping, reload, errors


async def test_hostile_titles_and_headlines_arrive_escaped(env: Env) -> None:
    add_headline(env.store, "hostile", "<script>steal()</script> & </b> <i>", NOW, 1, terms=("<b>",))
    title = "<script>alert(1)</script> & <b>unbalanced"
    detail = await env.ask(USER, USER, "/status hostile")
    assert detail.plain_text.startswith(f"📌 {title}\n")
    assert "“</i> & <tg-spoiler> AT&T”" in detail.plain_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;unbalanced" in detail.text
    news = await env.ask(USER, USER, "/news hostile")
    assert "• <script>steal()</script> & </b> <i>" in news.plain_text and "matched: <b>" in news.plain_text
    listed = await env.ask(USER, USER, "/list kabul-2025")
    assert f"2. {title} hostile" in listed.plain_text
    assert ("2. <script>alert(1)</script> & <b>unbalanced", "o:hostile") in listed.buttons


async def test_config_is_read_live_on_every_update(env: Env) -> None:
    catalog = env.config().catalog
    renamed = replace(catalog.by_id["joint-intel"], title="Renamed by a reload")
    env.config.config = replace(env.config(), catalog=replace(
        catalog, commitments=tuple(renamed if c.id == "joint-intel" else c for c in catalog.commitments)))
    reply = await env.ask(USER, USER, "/status joint-intel")
    assert reply.plain_text.startswith("📌 Renamed by a reload")


async def test_errors_are_logged_without_the_token_and_the_user_is_told(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    env.config.broken = True
    with caplog.at_level(logging.DEBUG):
        reply = await env.ask(USER, USER, "/status joint-intel")
    assert reply.plain_text == "Sorry, something went wrong. Please try again later."
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "config exploded" in logged and "error while handling update" in logged
    assert env.tg.token not in logged and env.tg.token.split(":")[1] not in logged
    assert "getUpdates" in logged  # httpx request lines were logged, with the token scrubbed


# ------------------------------------------------------------------------------------- store functions


def test_subscription_store_functions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    big = -1001234567890123
    assert subscribe(store, big, "a", NOW) and not subscribe(store, str(big), "a", NOW)
    assert subscribe(store, 7, "*", NOW) and subscribe(store, 7, "b", NOW)
    assert subscriptions(store, big) == ["a"] and subscriptions(store, 7) == ["*", "b"]
    assert subscribers(store, "a") == sorted([str(big), "7"]) and subscribers(store, "zzz") == ["7"]
    assert unsubscribe(store, 7, "b") == 1 and unsubscribe(store, 7, "b") == 0
    assert unsubscribe(store, 7, "*") == 1 and subscribers(store, "zzz") == []
    store.close()


def test_curation_store_functions(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "c.sqlite3")
    s1 = add_headline(store, "x", "One", NOW, 1)
    s2 = add_headline(store, "x", "Two", NOW + timedelta(hours=1), 2)
    record_verdict(store, s1, "x", "evidence", ADMIN, NOW)
    record_verdict(store, s2, "x", "irrelevant", ADMIN, NOW)
    assert [e.title for e in curated_evidence(store, "x")] == ["One"]
    assert dismissed(store, [(s1, "x"), (s2, "x"), (s2, "y")]) == {(s2, "x")}
    record_verdict(store, s2, "x", "evidence", ADMIN, NOW)  # a changed mind wins
    assert not is_dismissed(store, s2, "x") and [e.title for e in curated_evidence(store, "x")] == ["Two", "One"]
    with pytest.raises(ValueError, match="unknown verdict"):
        record_verdict(store, s1, "x", "maybe", ADMIN, NOW)  # type: ignore[arg-type]
    store.close()
