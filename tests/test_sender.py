"""The sender end to end: the real PTB client, the fake Bot API server, a real SQLite file, and time
controlled by hand (``FakeClock`` for the database's datetimes, ``FakeTimer`` for pacing)."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import telegram
from telegram.warnings import PTBDeprecationWarning

from bot import outbox
from bot.clock import FakeClock
from bot.notify import Message
from bot.buttons import Keyboard
from bot.outbox import OutboxItem
from bot.richtext import Rich, a, b
from bot.sender import DeliveryStats, RateLimits, Sender, backoff
from bot.split import html_length
from bot.store import Store, to_db
from bot.telegram_transport import (BadRequest, ConsoleTransport, Delivery, FloodWait, TelegramTransport,
                                    make_bot)
from tests.support.fake_telegram import FakeTelegram, Limits
from tests.support.telegram_html import parse_html

USER, ADMIN, GROUP, CHANNEL = 4242, 777, -4001, -1001234567890


class FakeTimer:
    """The sender's monotonic clock and sleep, reading and moving the test's ``FakeClock``: one
    virtual time for the database and the pacing, and sleeping moves it on at once."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.slept: list[float] = []

    @property
    def now(self) -> float:
        return self.clock.now().timestamp()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


class Recording:
    """A transport wrapper noting the (virtual) time of every send, to check the pacing."""

    def __init__(self, inner: TelegramTransport, timer: FakeTimer):
        self.inner, self.timer = inner, timer
        self.times: list[tuple[float, str]] = []

    async def send(self, item: OutboxItem) -> Delivery:
        self.times.append((self.timer.now, item.chat_id))
        return await self.inner.send(item)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


class CrashAfterSend:
    """Telegram accepts the message, then the process dies before ``mark_sent`` can commit."""

    def __init__(self, inner: TelegramTransport):
        self.inner = inner

    async def send(self, item: OutboxItem) -> Delivery:
        await self.inner.send(item)
        raise Crash()


@pytest.fixture(autouse=True)
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when retry_after is read as an int


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_chat(USER, "private", first_name="Ann")
        server.add_chat(ADMIN, "private", first_name="Admin")
        server.add_chat(GROUP, "group", title="Watchers")
        server.add_chat(CHANNEL, "channel", title="Pledges")
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with make_bot(tg.token, base_url=tg.base_url) as client:
        yield client


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    db = Store.open(db_path)
    yield db
    db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timer(clock: FakeClock) -> FakeTimer:
    return FakeTimer(clock)


def sender_for(store: Store, transport: object, timer: FakeTimer, **kwargs: object) -> Sender:
    return Sender(store, transport, admin_chat_ids=[ADMIN], sleep=timer.sleep,  # type: ignore[arg-type]
                  monotonic=timer.monotonic, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def sender(store: Store, bot: telegram.Bot, timer: FakeTimer) -> Sender:
    return sender_for(store, TelegramTransport(bot), timer)


def put(store: Store, chat: int | str, text: str, clock: FakeClock, ref: str | None = None,
        html: str | None = None, buttons: Keyboard | None = None) -> int:
    with store.transaction() as tx:
        return outbox.enqueue(tx, str(chat), Message(html or f"<b>{text}</b>", text), ref or text, clock.now(), buttons)


def texts(tg: FakeTelegram, chat: int) -> list[str]:
    return [m.plain_text or "" for m in tg.messages(chat)]


# ------------------------------------------------------------------------------------ outcomes


async def test_a_429_then_a_502_still_delivers_exactly_once(tg: FakeTelegram, store: Store, sender: Sender,
                                                             clock: FakeClock) -> None:
    put(store, CHANNEL, "Deadline in 7 days", clock)
    tg.fail_next("sendMessage", status=429, retry_after=7)
    tg.fail_next("sendMessage", status=502)
    assert (await sender.deliver_due(clock.now())).flood_waits == 1
    assert outbox.chat_state(store, str(CHANNEL))["blocked_until"] == to_db(clock.now() + timedelta(seconds=7))
    assert await sender.deliver_due(clock.now() + timedelta(seconds=6)) == DeliveryStats()  # still blocked
    clock.advance(timedelta(seconds=8))
    assert (await sender.deliver_due(clock.now())).retried == 1  # the 502
    assert await sender.deliver_due(clock.now() + timedelta(seconds=29)) == DeliveryStats()  # backing off
    clock.advance(timedelta(seconds=31))
    assert (await sender.deliver_due(clock.now())).sent == 1
    assert texts(tg, CHANNEL) == ["Deadline in 7 days"]
    (item,) = store.query("SELECT state, attempts, message_id FROM outbox")
    assert tuple(item) == ("sent", 2, tg.messages(CHANNEL)[0].message_id)  # the 429 was not counted
    assert tg.stats.requests["sendMessage"] == 3 and outbox.failed(store) == []


async def test_transient_errors_back_off_and_finally_fail_with_the_error_kept(
        tg: FakeTelegram, store: Store, bot: telegram.Bot, timer: FakeTimer, clock: FakeClock) -> None:
    sender = sender_for(store, TelegramTransport(bot), timer, max_attempts=3)
    put(store, USER, "doomed", clock)
    tg.fail_next("sendMessage", status=500, html=False, times=3)
    for expected in (timedelta(seconds=30), timedelta(seconds=60)):
        assert (await sender.deliver_due(clock.now())).retried == 1
        (row,) = store.query("SELECT next_attempt FROM outbox")
        assert row[0] == to_db(clock.now() + expected)
        clock.advance(expected)
    assert (await sender.deliver_due(clock.now())).failed == 1
    (kept,) = outbox.failed(store)
    assert kept.attempts == 3 and kept.error == "gave up after 3 attempts: Internal Server Error"
    assert [backoff(n) for n in (1, 2, 8, 20)] == [timedelta(seconds=30), timedelta(seconds=60),
                                                   timedelta(hours=1), timedelta(hours=1)]


async def test_a_restart_resends_nothing_sent_and_sends_what_was_pending(
        tg: FakeTelegram, db_path: Path, bot: telegram.Bot, timer: FakeTimer, clock: FakeClock) -> None:
    first = Store.open(db_path)
    put(first, USER, "one", clock)
    put(first, USER, "two", clock)
    assert (await sender_for(first, TelegramTransport(bot), timer).deliver_due(clock.now())).sent == 2
    put(first, CHANNEL, "held by a long 429", clock)
    put(first, USER, "three", clock)
    tg.fail_next("sendMessage", status=429, retry_after=3600, chat_id=CHANNEL)
    tg.fail_next("sendMessage", status=502, chat_id=USER)
    stats = await sender_for(first, TelegramTransport(bot), timer).deliver_due(clock.now())
    assert (stats.flood_waits, stats.retried) == (1, 1)
    first.close()  # the process stops with "three" pending and the channel blocked for an hour

    second = Store.open(db_path)
    try:
        restarted = sender_for(second, TelegramTransport(bot), FakeTimer(clock))
        clock.advance(timedelta(minutes=10))
        assert (await restarted.deliver_due(clock.now())).sent == 1
        assert texts(tg, USER) == ["one", "two", "three"] and texts(tg, CHANNEL) == []
        assert put(second, USER, "one", clock) == 0  # enqueuing the same ref again changes nothing
        clock.advance(timedelta(minutes=51))
        assert (await restarted.deliver_due(clock.now())).sent == 1
        assert texts(tg, CHANNEL) == ["held by a long 429"] and texts(tg, USER) == ["one", "two", "three"]
        assert outbox.pending_count(second) == 0
    finally:
        second.close()


async def test_the_duplicate_window_a_response_lost_after_telegram_stored_the_message(
        tg: FakeTelegram, store: Store, sender: Sender, clock: FakeClock) -> None:
    """Documents the one window: Telegram stored the message, we never learnt it; we resend."""
    put(store, USER, "lost before arrival", clock)
    tg.fail_next("sendMessage", reset=True)  # connection dropped before the server acted: no duplicate
    await sender.deliver_due(clock.now())
    clock.advance(timedelta(seconds=30))
    await sender.deliver_due(clock.now())
    assert texts(tg, USER) == ["lost before arrival"]

    put(store, USER, "reminder", clock)
    tg.fail_next("sendMessage", reset=True, apply=True)  # stored, then the answer was lost
    assert (await sender.deliver_due(clock.now())).retried == 1
    assert texts(tg, USER) == ["lost before arrival", "reminder"]
    clock.advance(timedelta(seconds=30))
    assert (await sender.deliver_due(clock.now())).sent == 1
    assert texts(tg, USER) == ["lost before arrival", "reminder", "reminder"]  # exactly 2 copies
    clock.advance(timedelta(hours=2))
    assert await sender.deliver_due(clock.now()) == DeliveryStats()  # and never a third


async def test_the_duplicate_window_a_crash_between_send_and_mark_sent(
        tg: FakeTelegram, db_path: Path, bot: telegram.Bot, timer: FakeTimer, clock: FakeClock) -> None:
    first = Store.open(db_path)
    put(first, USER, "reminder", clock)
    with pytest.raises(Crash):
        await sender_for(first, CrashAfterSend(TelegramTransport(bot)), timer).deliver_due(clock.now())
    first.close()
    second = Store.open(db_path)
    try:
        assert (await sender_for(second, TelegramTransport(bot), timer).deliver_due(clock.now())).sent == 1
        assert texts(tg, USER) == ["reminder", "reminder"]  # exactly 2 copies, as documented
    finally:
        second.close()


async def test_403_disables_the_chat_and_tells_the_admins_but_never_that_chat(
        tg: FakeTelegram, store: Store, sender: Sender, clock: FakeClock) -> None:
    store.conn.execute("INSERT INTO subscriptions VALUES (?, 'joint-intel', ?)", (str(USER), to_db(clock.now())))
    put(store, USER, "first", clock)
    put(store, USER, "second", clock)
    tg.block(USER)
    stats = await sender.deliver_due(clock.now())
    assert stats.disabled == 1 and stats.sent == 0
    assert len(tg.calls_to("sendMessage")) == 1  # "second" was never attempted
    assert store.query("SELECT * FROM subscriptions") == []
    assert {i.text: i.error for i in outbox.failed(store)} == {
        "first": "forbidden: Forbidden: bot was blocked by the user",
        "second": "chat disabled: Forbidden: bot was blocked by the user",
    }
    assert (await sender.deliver_due(clock.now())).sent == 1  # the admin notice
    (notice,) = tg.messages(ADMIN)
    assert "Stopped writing to chat 4242" in notice.plain_text and "blocked by the user" in notice.plain_text
    put(store, USER, "third", clock)
    assert await sender.deliver_due(clock.now() + timedelta(days=1)) == DeliveryStats()
    assert len(tg.calls_to("sendMessage")) == 2 and tg.messages(USER) == []


async def test_a_migrated_group_gets_the_message_under_its_new_id(
        tg: FakeTelegram, store: Store, sender: Sender, clock: FakeClock) -> None:
    new_id = tg.migrate(GROUP, -1009876543210)
    put(store, GROUP, "to the old id", clock)
    stats = await sender.deliver_due(clock.now())
    assert (stats.migrated, stats.sent) == (1, 1)
    assert texts(tg, new_id) == ["to the old id"]
    (row,) = store.query("SELECT chat_id, state FROM outbox")
    assert tuple(row) == (str(new_id), "sent")
    put(store, GROUP, "later", clock)  # follows the migration without asking Telegram again
    assert (await sender.deliver_due(clock.now())).sent == 1
    assert texts(tg, new_id) == ["to the old id", "later"] and len(tg.calls_to("sendMessage")) == 3


async def test_html_telegram_refuses_is_resent_as_plain_text(
        tg: FakeTelegram, store: Store, sender: Sender, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    put(store, CHANNEL, "Budget <b>cut & run", clock, html="Budget <b>cut & run")  # forced: builders escape
    with caplog.at_level(logging.WARNING, "pledgewatch.sender"):
        stats = await sender.deliver_due(clock.now())
    assert (stats.plain_fallbacks, stats.sent) == (1, 1)
    (message,) = tg.messages(CHANNEL)
    assert (message.text, message.parse_mode, message.entities) == ("Budget <b>cut & run", None, [])
    assert "resending as plain text" in caplog.text and "can't parse entities" in caplog.text.lower()


async def test_other_400s_fail_with_the_error_and_the_chat_moves_on(
        tg: FakeTelegram, store: Store, sender: Sender, clock: FakeClock) -> None:
    put(store, USER, "refused", clock)
    put(store, USER, "next", clock)
    tg.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    stats = await sender.deliver_due(clock.now())
    assert (stats.failed, stats.sent) == (1, 1) and texts(tg, USER) == ["next"]
    assert [(i.text, i.error) for i in outbox.failed(store)] == [("refused", "Message is too long")]  # PTB's wording


async def test_a_10000_character_message_arrives_as_valid_parts_in_order(
        tg: FakeTelegram, store: Store, sender: Sender, clock: FakeClock) -> None:
    rich = Rich().line("⏰ ", b("Deadlines this quarter"))
    n = 0
    while html_length(rich.html()) < 10_000:  # 10,000 characters as Telegram counts them
        n += 1
        for _ in range(20):
            rich.line(b(f"{n}. "), a(f"Joint intelligence work «{n}» — وزیرِ اعظم 🇵🇰", "https://example.org/p?a=1&b=2"))
    keyboard = Keyboard.of([("Snooze", "snooze:all")])
    with store.transaction() as tx:
        parts = outbox.enqueue(tx, str(CHANNEL), Message.from_rich(rich, "digest"), "digest:q1", clock.now(), keyboard)
    assert parts >= 3
    total = 0
    while outbox.pending_count(store):
        total += (await sender.deliver_due(clock.now())).sent
    messages = tg.messages(CHANNEL)[-parts:]
    assert total >= parts and [m.message_id for m in messages] == sorted(m.message_id for m in messages)
    assert "\n".join(m.plain_text or "" for m in messages) == parse_html(rich.html()).text
    assert all(m.parse_mode == "HTML" and m.entities for m in messages)
    assert [m.reply_markup is not None for m in messages] == [False] * (parts - 1) + [True]


# ------------------------------------------------------------------------------------ pacing


async def test_pacing_keeps_25_group_messages_within_the_servers_limits() -> None:
    limits = Limits(per_chat=(1, 0.02), per_group=(20, 0.6), overall=(30, 0.3))
    with FakeTelegram(enforce_limits=True, limits=limits) as server:
        server.add_chat(GROUP, "group")
        store = Store.open(":memory:")
        clock = FakeClock()
        async with telegram.Bot(server.token, base_url=server.base_url) as client:  # no PTB limiter: ours alone
            for n in range(25):
                put(store, GROUP, f"post {n}", clock)
            sender = Sender(store, TelegramTransport(client),
                            limits=RateLimits(per_chat=limits.per_chat, per_group=limits.per_group, overall=limits.overall))
            started = time.monotonic()
            stats = await sender.deliver_due(clock.now())
            assert time.monotonic() - started >= 0.6  # it really waited for the group window
            assert stats.sent == 25 and server.stats.flood_429 == 0
            assert texts(server, GROUP) == [f"post {n}" for n in range(25)]

            for n in range(25, 50):  # the control: without our pacing the same server answers 429
                put(store, GROUP, f"post {n}", clock)
            blast = Sender(store, TelegramTransport(client), limits=RateLimits((1000, 0.001), (1000, 0.001), (1000, 0.001)))
            assert (await blast.deliver_due(clock.now())).flood_waits == 1 and server.stats.flood_429 == 1
        store.close()


async def test_pacing_at_telegrams_real_rates_on_a_fake_timer(tg: FakeTelegram, store: Store,
                                                              timer: FakeTimer, clock: FakeClock) -> None:
    for n in range(25):
        put(store, CHANNEL, f"post {n}", clock)
    for chat in range(100, 140):
        tg.add_chat(chat, "private")
        put(store, chat, "hello", clock)
    async with telegram.Bot(tg.token, base_url=tg.base_url) as client:
        recording = Recording(TelegramTransport(client), timer)
        sender = Sender(store, recording, sleep=timer.sleep, monotonic=timer.monotonic)  # type: ignore[arg-type]
        first = await sender.deliver_due(clock.now())
        assert first.sent == 60 and first.deferred == 5  # the group's 21st would wait ~40 s more
        clock.advance(timedelta(seconds=60))
        assert (await sender.deliver_due(clock.now())).sent == 5
    times = recording.times
    channel = [t for t, chat in times if chat == str(CHANNEL)]
    assert all(later - earlier >= 1.0 for earlier, later in zip(channel, channel[1:]))
    assert all(later - earlier >= 60.0 for earlier, later in zip(channel, channel[20:]))
    everything = [t for t, _ in times]
    assert all(later - earlier >= 1.0 for earlier, later in zip(everything, everything[30:]))
    assert texts(tg, CHANNEL) == [f"post {n}" for n in range(25)]


# ------------------------------------------------------------------------------------ the rest


async def test_concurrent_rounds_never_send_twice(tg: FakeTelegram, store: Store, sender: Sender,
                                                  clock: FakeClock) -> None:
    for n in range(5):
        put(store, USER, f"m{n}", clock)
    results = await asyncio.gather(*(sender.deliver_due(clock.now()) for _ in range(3)))
    assert sorted(r.busy for r in results) == [False, True, True]
    assert sum(r.sent for r in results) == 5 and texts(tg, USER) == [f"m{n}" for n in range(5)]


async def test_nothing_due_returns_at_once_without_a_request(tg: FakeTelegram, sender: Sender, clock: FakeClock) -> None:
    before = len(tg.calls)
    started = time.monotonic()
    assert await sender.deliver_due(clock.now()) == DeliveryStats()
    assert time.monotonic() - started < 0.5 and len(tg.calls) == before


async def test_make_bot_leaves_429_to_us_and_the_token_never_shows(
        tg: FakeTelegram, bot: telegram.Bot, store: Store, sender: Sender, clock: FakeClock,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # as the CLI does: its request lines hold URLs
    monkeypatch.delenv("PTB_TIMEDELTA")  # the int form of retry_after is read too
    caplog.set_level(logging.DEBUG)
    transport = TelegramTransport(bot)
    item = OutboxItem(1, str(USER), "headline", "r", "<b>x</b>", "x", None, clock.now(), "pending", 0,
                      None, None, None, None)
    tg.fail_next("sendMessage", status=429, retry_after=1)
    with pytest.warns(PTBDeprecationWarning):  # raised inside PTB; our own read is silenced
        assert await transport.send(item) == FloodWait(1.0)
    assert len(tg.calls_to("sendMessage")) == 1  # PTB did not retry behind our back
    tg.fail_next("sendMessage", status=400, description=f"Bad Request: echo {tg.token}")
    assert await transport.send(item) == BadRequest("Echo <token>")  # PTB capitalize()s: "aaf-..." echoed
    put(store, USER, "x", clock)
    tg.fail_next("sendMessage", status=500, html=False, description=f"boom {tg.token}")
    await sender.deliver_due(clock.now())
    secret = tg.token.split(":")[1].lower()
    assert secret not in caplog.text.lower()
    assert secret not in str(tuple(store.query("SELECT * FROM outbox")[0])).lower()


async def test_console_transport_prints_the_plain_text(store: Store, timer: FakeTimer, clock: FakeClock) -> None:
    stream = io.StringIO()
    put(store, CHANNEL, "Deadline passed: joint intelligence", clock)
    assert (await sender_for(store, ConsoleTransport(stream), timer).deliver_due(clock.now())).sent == 1
    assert "Deadline passed: joint intelligence" in stream.getvalue() and "<b>" not in stream.getvalue()
    assert outbox.pending_count(store) == 0
