"""The fake Bot API server, exercised through the real python-telegram-bot client.

These tests pin down what the other suites rely on: that PTB, pointed at the fake with
``base_url``, sees the same replies and raises the same exceptions as against Telegram.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from tests.support.fake_telegram import DEFAULT_TOKEN, FakeTelegram, Limits, WaitTimeout
from tests.support.telegram_html import parse_html

REPO = Path(__file__).resolve().parents[1]
USER = 4242
GROUP = -4001
CHANNEL = -1001234567890


@pytest.fixture
def tg():
    with FakeTelegram() as server:
        server.add_chat(USER, "private", first_name="Ann", username="ann")
        server.add_chat(GROUP, "group", title="Watchers")
        server.add_chat(CHANNEL, "channel", title="Pledges", username="pledges")
        yield server


@pytest.fixture
async def bot(tg):
    async with telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as client:
        yield client


def api(tg: FakeTelegram, method: str, token: str | None = None, **kwargs) -> httpx.Response:
    """A raw request, to check the wire format PTB hides."""
    return httpx.post(f"{tg.base_url}{token or tg.token}/{method}", timeout=5, **kwargs)


# ------------------------------------------------------------------------------------- identity


async def test_get_me_reports_the_bot_behind_the_token(bot):
    me = await bot.get_me()
    assert me.id == int(DEFAULT_TOKEN.split(":")[0])
    assert me.username == "pledgewatch_test_bot" and me.is_bot


async def test_username_and_id_are_configurable():
    with FakeTelegram(token="123456:ABC-def_ghi", username="other_bot") as server:
        async with telegram.Bot(server.token, base_url=server.base_url) as client:
            assert (client.bot.id, client.bot.username) == (123456, "other_bot")


async def test_unknown_token_is_401_and_unknown_method_404(tg, bot):
    with pytest.raises(InvalidToken):
        async with telegram.Bot("999:nope", base_url=tg.base_url):
            pass
    reply = api(tg, "getMe", token="999:nope")
    assert reply.status_code == 401
    assert reply.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert api(tg, "getMe", token="not-a-token").status_code == 404
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert api(tg, "noSuchMethod").json() == {"ok": False, "error_code": 404, "description": "Not Found"}


def test_method_names_are_case_insensitive_and_bodies_may_be_json_form_or_query(tg):
    reply = api(tg, "SENDMESSAGE", json={"chat_id": USER, "text": "json"})
    assert reply.status_code == 200 and reply.json()["ok"] is True
    assert api(tg, "sendmessage", data={"chat_id": str(USER), "text": "form"}).json()["result"]["text"] == "form"
    got = httpx.get(f"{tg.base_url}{tg.token}/sendMessage", params={"chat_id": USER, "text": "query"}, timeout=5)
    assert got.json()["result"]["message_id"] == 3
    assert [c.method for c in tg.calls] == ["sendMessage"] * 3
    assert [m.text for m in tg.messages(USER)] == ["json", "form", "query"]


# ------------------------------------------------------------------------------------- sending


async def test_send_message_is_recorded_and_returned_like_telegram(tg, bot):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Details", callback_data="c:1")]])
    first = await bot.send_message(USER, "<b>Paris</b> deadline &amp; news", parse_mode="HTML", reply_markup=markup)
    second = await bot.send_message(USER, "plain")
    in_group = await bot.send_message(GROUP, "hello group")

    assert first.text == "Paris deadline & news"
    assert [(e.type, e.offset, e.length) for e in first.entities] == [("bold", 0, 5)]
    assert first.from_user.id == bot.bot.id and first.chat.type == "private"
    assert first.reply_markup == markup
    assert (first.message_id, second.message_id, in_group.message_id) == (1, 2, 1)
    assert abs(first.date.timestamp() - time.time()) < 5
    assert in_group.chat.type == "group" and in_group.chat.title == "Watchers"

    recorded = tg.messages(USER)
    assert [m.message_id for m in recorded] == [1, 2]
    assert recorded[0].text == "<b>Paris</b> deadline &amp; news"
    assert recorded[0].plain_text == "Paris deadline & news"
    assert recorded[0].parse_mode == "HTML"
    assert recorded[0].reply_markup == {"inline_keyboard": [[{"text": "Details", "callback_data": "c:1"}]]}
    method, params = tg.calls[-3]
    assert method == "sendMessage" and params["chat_id"] == USER and params["parse_mode"] == "HTML"


async def test_channel_posts_carry_sender_chat_and_at_username_resolves(tg, bot):
    post = await bot.send_message("@pledges", "news")
    assert post.chat.id == CHANNEL and post.chat.type == "channel"
    assert post.sender_chat.id == CHANNEL and post.from_user is None
    assert tg.messages(CHANNEL)[0].text == "news"


@pytest.mark.parametrize(
    "markup",
    [
        "<b>b</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins>",
        "<s>s</s> <strike>k</strike> <del>d</del>",
        '<span class="tg-spoiler">x</span> <tg-spoiler>y</tg-spoiler>',
        '<a href="https://example.org/a?b=1&amp;c=2">link</a> <a href="tg://user?id=1">u</a>',
        '<code>x &lt; y</code> <pre>block</pre> <pre><code class="language-python">print(1)</code></pre>',
        "<blockquote>q</blockquote><blockquote expandable>long</blockquote>",
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        "<b>bold <i>both <u>all</u></i></b> &lt;&gt;&amp;&quot; &#169; &#x1F600; a > b",
    ],
)
async def test_html_checker_accepts_the_documented_subset(bot, markup):
    sent = await bot.send_message(USER, markup, parse_mode="HTML")
    assert sent.text == parse_html(markup).text


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        ("Deadline <script>x</script>", 'Unsupported start tag "script" at byte offset 9'),
        ("<b>unclosed", "Can't find end tag corresponding to start tag \"b\""),
        ("AT&T signs", 'Unescaped "&" at byte offset 2'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("</b>", "Unexpected end tag at byte offset 0"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("é<p>", 'Unsupported start tag "p" at byte offset 2'),
    ],
)
async def test_html_checker_rejects_like_telegram(tg, bot, markup, description):
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(USER, markup, parse_mode="HTML")
    # PTB strips "Bad Request: " and capitalize()s the rest, so compare case-insensitively.
    assert caught.value.message.lower() == f"can't parse entities: {description}".lower()
    raw = api(tg, "sendMessage", json={"chat_id": USER, "text": markup, "parse_mode": "HTML"})
    assert raw.status_code == 400
    assert raw.json()["description"] == f"Bad Request: can't parse entities: {description}"
    assert tg.messages(USER) == []


def test_lenient_html_mode_keeps_unknown_ampersands_like_the_real_server():
    assert parse_html("AT&T &copy; &lt", strict=False).text == "AT&T &copy; <"


async def test_length_is_counted_after_entity_parsing_in_utf16(tg, bot):
    await bot.send_message(USER, "a" * 4096)
    await bot.send_message(USER, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    await bot.send_message(USER, "😀" * 2048)  # 4096 UTF-16 code units
    for too_long in ("a" * 4097, "😀" * 2049):
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(USER, too_long)
    assert len(tg.messages(USER)) == 3


async def test_other_validation_errors(bot):
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER, "")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(777, "who?")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_document(USER, b"data", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(USER, "x", reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="d" * 65)]]))


async def test_photo_and_document_uploads_are_multipart_and_downloadable(tg, bot):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (640).to_bytes(4, "big") + (480).to_bytes(4, "big") + b"\x08\x02\x00\x00\x00"
    photo = await bot.send_photo(USER, png, caption="<i>chart</i>", parse_mode="HTML")
    assert photo.photo[-1].width == 640 and photo.photo[-1].height == 480
    assert photo.caption == "chart" and photo.caption_entities[0].type == "italic"
    upload = tg.calls_to("sendPhoto")[0].params["photo"]
    assert upload.data == png
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == png

    doc = await bot.send_document(USER, b"report body", filename="report.txt")
    assert doc.document.file_name == "report.txt" and doc.document.file_size == 11
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(USER, b"not an image")
    assert [m.kind for m in tg.messages(USER)] == ["photo", "document"]


async def test_edit_delete_and_other_methods(tg, bot):
    sent = await bot.send_message(USER, "v1")
    edited = await bot.edit_message_text("<b>v2</b>", chat_id=USER, message_id=sent.message_id, parse_mode="HTML")
    assert edited.text == "v2" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<b>v2</b>", chat_id=USER, message_id=sent.message_id, parse_mode="HTML")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]])
    await bot.edit_message_reply_markup(chat_id=USER, message_id=sent.message_id, reply_markup=markup)
    record = tg.messages(USER)[0]
    assert record.text == "<b>v2</b>" and [e["method"] for e in record.edits] == ["editMessageText", "editMessageReplyMarkup"]
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=99)

    assert await bot.delete_message(USER, sent.message_id) is True
    assert tg.messages(USER)[0].deleted and tg.messages(USER, include_deleted=False) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER, sent.message_id)

    assert await bot.send_chat_action(USER, "typing") is True
    chat = await bot.get_chat(CHANNEL)
    assert chat.title == "Pledges" and chat.type == "channel"
    assert await bot.set_my_commands([("status", "Deadlines due soon"), ("news", "Latest matches")])
    assert [c.command for c in await bot.get_my_commands()] == ["status", "news"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad-Name", "x")])
    assert await bot.delete_my_commands() and await bot.get_my_commands() == ()
    assert await bot.close() is True and await bot.log_out() is True


# ------------------------------------------------------------------------------------- faults


async def test_429_surfaces_as_retry_after(tg, bot, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when retry_after is read as int
    tg.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "x")
    assert caught.value.retry_after == timedelta(seconds=7)
    assert tg.messages(USER) == []
    tg.fail_next("sendMessage", retry_after=3)
    body = api(tg, "sendMessage", json={"chat_id": USER, "text": "x"}).json()
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }


async def test_migrated_group_surfaces_as_chat_migrated(tg, bot):
    new_id = tg.migrate(GROUP, -1009999)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "x")
    assert caught.value.new_chat_id == new_id == -1009999
    body = api(tg, "sendMessage", json={"chat_id": GROUP, "text": "x"}).json()
    assert body["error_code"] == 400 and body["parameters"] == {"migrate_to_chat_id": -1009999}
    moved = await bot.send_message(new_id, "x")
    assert moved.chat.type == "supergroup" and moved.chat.title == "Watchers"


async def test_403_surfaces_as_forbidden(tg, bot):
    tg.fail_next("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    tg.block(CHANNEL)
    with pytest.raises(Forbidden, match="bot is not a member of the channel chat"):
        await bot.send_message(CHANNEL, "x")
    tg.unblock(CHANNEL)
    await bot.send_message(CHANNEL, "back")


async def test_502_from_a_proxy_is_a_network_error_not_bad_request(tg, bot, caplog):
    tg.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(USER, "x")
    assert not isinstance(caught.value, BadRequest)
    assert "Bad Gateway (502)" in caught.value.message
    tg.fail_next("sendMessage", status=502)
    raw = api(tg, "sendMessage", json={"chat_id": USER, "text": "x"})
    assert raw.status_code == 502 and raw.headers["content-type"] == "text/html" and "<html>" in raw.text


async def test_reset_is_a_network_error_and_nothing_was_sent(tg, bot):
    tg.fail_next("sendMessage", reset=True, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="disconnected without sending a response"):
            await bot.send_message(USER, "x")
    await bot.send_message(USER, "third time lucky")
    assert [m.text for m in tg.messages(USER)] == ["third time lucky"]
    assert [c.status for c in tg.calls_to("sendMessage")] == [None, None, 200]
    assert tg.stats.injected["sendMessage"] == 2


async def test_apply_then_reset_records_the_message_although_the_bot_saw_a_failure(tg, bot):
    tg.fail_next("sendMessage", reset=True, apply=True)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "reminder")
    assert [m.text for m in tg.messages(USER)] == ["reminder"]
    await bot.send_message(USER, "reminder")  # a naive retry duplicates
    assert [m.text for m in tg.messages(USER)] == ["reminder", "reminder"]


async def test_delay_times_out_and_the_message_still_lands(tg, bot):
    tg.fail_next("sendMessage", delay=0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.1)
    assert tg.messages(USER) == []
    assert [m.text for m in await tg.await_messages(USER, 1, timeout=3)] == ["slow"]


async def test_faults_can_target_one_chat(tg, bot):
    tg.fail_next("*", status=500, chat_id=GROUP)
    await bot.send_message(USER, "unaffected")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(GROUP, "x")


# ------------------------------------------------------------------------------------- updates


async def test_get_updates_long_polls_until_a_message_arrives(tg, bot):
    timer = threading.Timer(0.3, tg.push_message, (USER, USER, "/status@pledgewatch_test_bot paris"))
    started = time.monotonic()
    timer.start()
    updates = await bot.get_updates(timeout=5)
    waited = time.monotonic() - started
    assert 0.25 <= waited < 3
    (update,) = updates
    assert update.message.text == "/status@pledgewatch_test_bot paris"
    assert update.message.from_user.id == USER and update.message.chat.type == "private"
    (entity,) = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, len("/status@pledgewatch_test_bot"))

    # Unconfirmed updates are delivered again; a higher offset confirms them.
    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [update.update_id]
    started = time.monotonic()
    assert await bot.get_updates(offset=update.update_id + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9
    assert tg.pending_updates() == []


async def test_a_second_poller_terminates_the_first_with_409(tg, bot):
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.await_calls("getUpdates", 1)
    async with telegram.Bot(tg.token, base_url=tg.base_url) as other:
        second = asyncio.create_task(other.get_updates(timeout=0.5))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await first
        assert await second == ()


async def test_callback_query_round_trip(tg, bot):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Snooze", callback_data="snooze:paris")]])
    sent = await bot.send_message(USER, "Deadline in 7 days", reply_markup=markup)
    pushed = tg.push_callback(USER, USER, sent.message_id, "snooze:paris")
    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert query.id == pushed["callback_query"]["id"] and query.data == "snooze:paris"
    assert query.message.message_id == sent.message_id and query.message.reply_markup == markup
    assert await query.answer("Snoozed") is True
    assert tg.callback_answers[query.id] == {"text": "Snoozed"}
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer("again")


async def test_delete_webhook_can_drop_pending_updates(tg, bot):
    tg.push_message(USER, USER, "hello")
    assert (await bot.get_webhook_info()).pending_update_count == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates(timeout=0) == ()


async def test_a_real_application_polls_answers_commands_and_buttons(tg):
    async def status(update, context):
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("More", callback_data="more")]])
        await update.message.reply_text("<b>2</b> deadlines", parse_mode="HTML", reply_markup=keyboard)

    async def more(update, context):
        await update.callback_query.answer()
        await update.callback_query.edit_message_text("all deadlines")

    app = Application.builder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("status", status))
    app.add_handler(CallbackQueryHandler(more))
    async with app:
        await app.start()
        await app.updater.start_polling(timeout=5, poll_interval=0)
        try:
            tg.push_message(GROUP, USER, "/status@pledgewatch_test_bot")
            (reply,) = await tg.await_messages(GROUP, 1)
            assert reply.plain_text == "2 deadlines"
            tg.push_callback(GROUP, USER, reply.message_id, "more")
            await tg.await_calls("editMessageText")
            assert tg.messages(GROUP)[0].plain_text == "all deadlines"
        finally:
            await app.updater.stop()
            await app.stop()
    assert tg.calls[0].method == "getMe" and tg.calls[1].method == "deleteWebhook"


def test_a_bot_in_a_subprocess_talks_to_the_same_server(tg):
    script = (
        "import asyncio, os, telegram\n"
        "async def main():\n"
        "    async with telegram.Bot(os.environ['TG_TOKEN'], base_url=os.environ['TG_BASE_URL']) as bot:\n"
        "        await bot.send_message(int(os.environ['TG_CHAT']), 'from a subprocess')\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "TG_TOKEN": tg.token, "TG_BASE_URL": tg.base_url, "TG_CHAT": str(USER)}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, check=True, timeout=60)
    assert [m.text for m in tg.wait_for_messages(USER, 1, timeout=1)] == ["from a subprocess"]


def test_wait_for_messages_times_out_with_what_it_saw(tg):
    with pytest.raises(WaitTimeout, match=f"1 message\\(s\\) in chat {USER}"):
        tg.wait_for_messages(USER, 1, timeout=0.1)


# ------------------------------------------------------------------------------------- flood limits


async def test_flood_limits_are_off_by_default(tg, bot):
    for i in range(5):
        await bot.send_message(USER, f"burst {i}")
    assert tg.stats.flood_429 == 0


async def test_flood_limit_per_chat_and_overall(monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    with FakeTelegram(enforce_limits=True) as server:
        async with telegram.Bot(server.token, base_url=server.base_url) as client:
            for chat_id in range(1, 32):
                server.add_chat(chat_id, "private")
            await client.send_message(1, "first")
            with pytest.raises(RetryAfter) as caught:
                await client.send_message(1, "too soon")
            assert caught.value.retry_after == timedelta(seconds=1)
            for chat_id in range(2, 31):  # 30 messages within a second overall
                await client.send_message(chat_id, "hi")
            with pytest.raises(RetryAfter):
                await client.send_message(31, "one too many")
            stats = server.stats
            assert stats.flood_429 == 2 and stats.flood_429_by_chat == {1: 1, 31: 1}
            assert stats.messages_sent == 30


async def test_flood_limit_per_group_returns_a_realistic_retry_after(monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    limits = Limits(per_chat=(100, 1.0), per_group=(20, 60.0))
    with FakeTelegram(enforce_limits=True, limits=limits) as server:
        server.add_chat(CHANNEL, "channel", title="Pledges")
        async with telegram.Bot(server.token, base_url=server.base_url) as client:
            for i in range(20):
                await client.send_message(CHANNEL, f"post {i}")
            with pytest.raises(RetryAfter) as caught:
                await client.send_message(CHANNEL, "post 21")
            assert timedelta(seconds=58) <= caught.value.retry_after <= timedelta(seconds=60)
            assert server.stats.flood_429 == 1 and len(server.messages(CHANNEL)) == 20


def test_wire_format_of_a_successful_reply(tg):
    body = api(tg, "sendMessage", json={"chat_id": USER, "text": "  padded  "}).json()
    assert body["ok"] is True
    result = body["result"]
    assert result["text"] == "padded"  # Telegram trims surrounding white space
    assert result["from"]["is_bot"] is True and result["chat"] == {
        "id": USER,
        "type": "private",
        "first_name": "Ann",
        "username": "ann",
    }
    assert json.loads(json.dumps(result)) == result
