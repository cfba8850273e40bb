"""Telegram-side security: only admins change statuses or curate, and the bot token reaches no log line.

Admin checks run the real PTB application against the fake Bot API with Hypothesis choosing who asks
(any user id, the admin's own name and username, Telegram's anonymous-admin and service accounts).
The token checks run ``python -m bot -v run`` as a real process through Telegram error paths, and the
application in-process with every logger (PTB's, httpx's, httpcore's) at DEBUG.
"""

from __future__ import annotations

import io
import logging
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.clock import FakeClock
from bot.curation import verdict_of
from bot.keyboards import curation_buttons
from bot.model import Status
from bot.statuses import history
from bot.telegram_app import BotServices, build_application, polling
from bot.telegram_transport import to_markup
from tests.reliability.test_command_args import ADMIN, GROUP, NOW, USER, World, headline, make_world
from tests.support.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tests.support.fixtures import RUN_COMMITMENTS, telegram_env, write_config
from tests.support.process import BotProcess

SECRET = DEFAULT_TOKEN.split(":", 1)[1]
REFUSED_MARK = "Sorry, only the bot's admins can change a status. Ask one of them, with a source."
REFUSED_CURATION = {"text": "Only the bot's admins can curate headlines.", "show_alert": True}
ANONYMOUS_ADMIN, TELEGRAM_SERVICE = 1087968824, 777000  # ids Telegram uses for anonymous group admins, notices
CHANNEL = -1001234567890


@dataclass
class Admins:
    """The application, the world it answers from, and one curatable headline posted to two chats."""

    tg: FakeTelegram
    world: World
    story: int
    copies: dict[int, int]  # chat -> message id of the headline copy with curation buttons

    def statuses(self) -> int:
        return self.world.store.query("SELECT COUNT(*) FROM status_history")[0][0]

    async def ask(self, chat: int, user: int, text: str, username: str | None = None,
                  first_name: str | None = None) -> str:
        before = len(self.tg.messages(chat))
        self.tg.push_message(chat, user, text, username=username, first_name=first_name)
        return (await self.tg.await_messages(chat, before + 1))[before].plain_text or ""

    async def press(self, chat: int, user: int, data: str, username: str | None = None) -> dict:
        query = self.tg.push_callback(chat, user, self.copies[chat], data, username=username)["callback_query"]["id"]
        return await self.tg.await_callback_answer(query)


@pytest.fixture
async def admins(tmp_path: Path) -> AsyncIterator[Admins]:
    world = make_world(tmp_path, count=6)
    story = headline(world.store, "bulk-01", "Fees cut at Torkham", "https://news.example/t", NOW, ("bulk",))
    with FakeTelegram() as tg:
        tg.add_chat(ADMIN, "private", first_name="Ann", username="ann")
        tg.add_user(ADMIN, first_name="Ann", username="ann")
        tg.add_chat(GROUP, "group", title="Watchers")
        services = BotServices(world.store, FakeClock(NOW), lambda: world.config, frozenset({ADMIN}))
        app = build_application(tg.token, base_url=tg.base_url, services=services)
        try:
            async with polling(app, timeout=1):
                copies = {}
                for chat in (GROUP, ADMIN):
                    sent = await app.bot.send_message(chat, "📰 Fees cut at Torkham",
                                                      reply_markup=to_markup(curation_buttons(story, "bulk-01")))
                    copies[chat] = sent.message_id
                yield Admins(tg, world, story, copies)
        finally:
            world.store.close()


NOT_ADMIN = st.one_of(st.integers(1, 2**40).filter(lambda u: u != ADMIN),
                      st.sampled_from([USER, ANONYMOUS_ADMIN, TELEGRAM_SERVICE, ADMIN + 1]))
MARKS = st.tuples(st.sampled_from(["bulk-00", "BULK-01", "bulk-05"]), st.sampled_from([s.value for s in Status]),
                  st.sampled_from(["", "https://example.org/report", "https://example.org/r talks resumed"]))
E2E = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@E2E
@given(NOT_ADMIN, MARKS, st.booleans())
async def test_no_one_but_an_admin_can_mark(admins: Admins, user: int, mark: tuple[str, str, str],
                                            in_group: bool) -> None:
    before = admins.statuses()
    text = " ".join(("/mark", *mark)).strip()
    reply = await admins.ask(GROUP if in_group else user, user, text)
    assert reply == REFUSED_MARK
    assert admins.statuses() == before


async def test_the_admins_name_and_username_do_not_make_an_admin(admins: Admins) -> None:
    before = admins.statuses()
    reply = await admins.ask(5555, 5555, "/mark bulk-00 met", username="ann", first_name="Ann")
    assert reply == REFUSED_MARK and admins.statuses() == before
    answer = await admins.press(GROUP, 5555, f"cur:e:{admins.story}:bulk-01", username="ann")
    assert answer == REFUSED_CURATION and verdict_of(admins.world.store, admins.story, "bulk-01") is None
    done = await admins.ask(ADMIN, ADMIN, "/mark bulk-00 met")  # the control: the real admin, by id
    assert "Status is now met, set by @ann" in done and [c.status for c in history(admins.world.store, "bulk-00")][-1] \
        is Status.MET


@E2E
@given(NOT_ADMIN, st.sampled_from(["e", "i"]), st.sampled_from([GROUP, ADMIN]))
async def test_no_one_but_an_admin_can_press_a_curation_button(admins: Admins, user: int, verdict: str,
                                                                chat: int) -> None:
    """The real buttons' data, pressed under the group copy or (forged) under the admin's private copy."""
    edits = len(admins.tg.calls_to("editMessageReplyMarkup"))
    answer = await admins.press(chat, user, f"cur:{verdict}:{admins.story}:bulk-01")
    assert answer == REFUSED_CURATION
    assert verdict_of(admins.world.store, admins.story, "bulk-01") is None
    assert len(admins.tg.calls_to("editMessageReplyMarkup")) == edits  # the buttons stay for the admins


async def test_an_admin_press_is_recorded(admins: Admins) -> None:
    """The control for the refusals above: the same data from the admin acts."""
    answer = await admins.press(GROUP, ADMIN, f"cur:e:{admins.story}:bulk-01")
    assert answer == {"text": "Recorded: counts as evidence."}
    recorded = verdict_of(admins.world.store, admins.story, "bulk-01")
    assert recorded is not None and recorded.actor_id == ADMIN


# ------------------------------------------------------------------------------------- the token in logs


def config_dir(tmp_path: Path) -> Path:
    """One overdue pledge (one reminder to deliver), one undated, and no feeds: these tests need Telegram only."""
    return write_config(tmp_path, RUN_COMMITMENTS)


def leaks(output: str, token: str = DEFAULT_TOKEN) -> list[str]:
    """Lines showing the token or its secret half (alone, or URL-encoded with the colon)."""
    secret = token.split(":", 1)[1]
    return [line for line in output.splitlines() if secret in line or token.replace(":", "%3A") in line]


def test_pledgewatch_run_logs_no_token_through_telegram_errors(tmp_path: Path) -> None:
    """-v run (root logger at DEBUG, PTB's loggers too) through a failing menu and chat lookup, a 429, a lost
    long poll, a handler whose reply is refused and a callback answer that fails."""
    with FakeTelegram() as tg:
        tg.add_chat(CHANNEL, "channel", title="Pledges")
        tg.add_chat(ADMIN, "private", first_name="Ann")
        tg.add_user(ADMIN, first_name="Ann")
        tg.fail_next("setMyCommands", status=500, html=False)
        tg.fail_next("getChat", status=400, description="Bad Request: chat not found")
        tg.fail_next("sendMessage", status=429, retry_after=30, chat_id=CHANNEL)
        tg.fail_next("getUpdates", reset=True)
        env = telegram_env(tg, CHANNEL, (ADMIN,))
        bot = BotProcess(["-v", "run", "--config-dir", str(config_dir(tmp_path))], env, tmp_path)
        try:
            bot.wait_for("mode: telegram chat")
            tg.fail_next("sendMessage", status=400, description="Bad Request: message is too long", chat_id=ADMIN)
            tg.push_message(ADMIN, ADMIN, "/status sv-joint-intel")
            bot.wait_for("Message is too long")
            sorry = tg.wait_for_messages(ADMIN, 1, timeout=15)[0]  # the error handler's apology, sent plain
            tg.fail_next("answerCallbackQuery", status=400, description="Bad Request: query is too old")
            tg.push_callback(ADMIN, ADMIN, sorry.message_id, "forged")
            bot.wait_for("Query is too old")
            bot.wait_for("asks us to wait 30 s (429)")  # the reminder to the channel, on the sender's next tick
            code, _ = bot.stop(signal.SIGTERM)
        finally:
            bot.kill()
    output = "".join(bot.out + bot.err)
    for seen in ("could not set the command menu", "could not look up the main chat", "Network Retry Loop",
                 "error while handling update", "bot<token>"):
        assert seen in output, seen  # each error path really ran (and the scrubbed URL was logged)
    assert code == 0 and not leaks(output), leaks(output)


def test_pledgewatch_run_once_logs_no_token_at_debug(tmp_path: Path) -> None:
    """Fails today: `run --once` builds its Bot with make_bot (telegram_transport.py:92, via app.transport_for), which installs no
    TokenFilter, and ExtBot's constructor logs "Set Bot API URL: .../bot<TOKEN>" at DEBUG."""
    with FakeTelegram() as tg:
        tg.add_chat(CHANNEL, "channel", title="Pledges")
        env = telegram_env(tg, CHANNEL, (ADMIN,))
        bot = BotProcess(["-v", "run", "--once", "--config-dir", str(config_dir(tmp_path))], env, tmp_path)
        try:
            assert bot.proc.wait(timeout=60) == 0
            bot.wait_for("Delivered: 1 message(s)")
        finally:
            bot.kill()
    output = "".join(bot.out + bot.err)
    assert "DEBUG telegram" in output and not leaks(output), leaks(output)


@pytest.mark.parametrize("once", [False, True], ids=["run", "run --once"])
def test_a_rejected_token_is_reported_without_the_token_or_a_traceback(tmp_path: Path, once: bool) -> None:
    """Fails today: Bot.initialize raises InvalidToken("The token `<TOKEN>` was rejected by the server.") and
    nothing in cli_run.cmd_run / cli.main catches TelegramError, so Python prints the traceback with the token."""
    revoked = "7000000001:" + "R" * 35  # well-formed, but not the token the server knows
    with FakeTelegram() as tg:
        args = ["run", "--once"] if once else ["run"]
        env = telegram_env(tg, CHANNEL, (ADMIN,), token=revoked)
        bot = BotProcess([*args, "--config-dir", str(config_dir(tmp_path))], env, tmp_path)
        try:
            assert bot.proc.wait(timeout=60) == 1
        finally:
            bot.kill()
    output = "".join(bot.out + bot.err)
    assert tg.calls == []  # the server answered 401 to the first call; nothing was ever authorised
    assert not leaks(output, revoked), leaks(output, revoked)
    assert "Traceback" not in output and "TELEGRAM_BOT_TOKEN" in output, output[-2000:]


@pytest.fixture
def every_logger_at_debug() -> Iterator[io.StringIO]:
    """Everything logged anywhere, formatted with tracebacks, as a shared log file would get it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    names = ["", "httpx", "httpcore", "telegram", "telegram.ext", "telegram.ext.Updater", "telegram.ext.Application",
             "telegram.Bot", "telegram.ext.ExtBot", "telegram.request", "apscheduler", "asyncio"]
    saved = {name: logging.getLogger(name).level for name in names}
    root.addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def test_no_logger_at_debug_sees_the_token(tmp_path: Path, every_logger_at_debug: io.StringIO) -> None:
    world = make_world(tmp_path, count=2)
    with FakeTelegram() as tg:
        tg.add_chat(ADMIN, "private", first_name="Ann")
        tg.add_user(ADMIN, first_name="Ann")
        tg.fail_next("getUpdates", status=502)
        tg.fail_next("getUpdates", reset=True)
        services = BotServices(world.store, FakeClock(NOW), lambda: world.config, frozenset({ADMIN}))
        app = build_application(tg.token, base_url=tg.base_url, services=services)
        try:
            async with polling(app, timeout=1):
                tg.fail_next("sendMessage", status=400, description="Bad Request: message is too long", chat_id=ADMIN)
                tg.push_message(ADMIN, ADMIN, "/status bulk-00")
                sorry = (await tg.await_messages(ADMIN, 1))[0]
                tg.fail_next("answerCallbackQuery", status=400, description="Bad Request: query is too old")
                tg.push_callback(ADMIN, ADMIN, sorry.message_id, "forged")
                await tg.await_calls("answerCallbackQuery", 2)
        finally:
            world.store.close()
    logged = every_logger_at_debug.getvalue()
    for seen in ("DEBUG httpcore", "INFO httpx: HTTP Request: POST", "DEBUG telegram.ext.Updater",
                 "error while handling update", "Traceback", "Query is too old"):
        assert seen in logged, seen
    assert not leaks(logged), leaks(logged)
