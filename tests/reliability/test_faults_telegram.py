"""A storm of Telegram faults during ``pledgewatch run``: nothing lost, nothing doubled, commands answered.

The fake Bot API answers the bot's sends with 429s (``retry_after`` 1-2 s), a 504 (a proxy's HTML page), a
request held past PTB's 5 s read timeout and then reset, a slow answer, a 403 from a subscriber who
blocked the bot, and a "can't parse entities" 400; the main group is upgraded to a supergroup mid-run; a
headline carries a title full of HTML; getUpdates itself fails with a 502 page, a JSON 500 and a
connection reset.  Meanwhile a user keeps asking ``/status`` and must get every answer promptly.

The transient faults (5xx, timeout) each hold their chat for the sender's first backoff step (30 s,
``bot.sender.Sender.backoff_base``), and each ends the delivery round it happened in; that backoff is what
this test waits for, so the sends meet two of them and long polling the others.  The 429s cost only
their ``retry_after``, which the sender stores per chat.

None of these faults can double a message: a 429, 403, 400 or a migration is Telegram saying it did not
store the message, and the 5xx/timeout here are injected *before* the fake stores anything.  (When
Telegram did store it and only the answer was lost, the resend is the documented duplicate window; see
tests/test_sender.py::test_the_duplicate_window_a_response_lost_after_telegram_stored_the_message.)
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store import Store
from bot.subscriptions import subscribe
from tests.support.fake_telegram import FakeTelegram
from tests.support.fixtures import CORRIDOR, INTEL_AND_VISIT, SHARED_VISION, telegram_env, write_config
from tests.support.rss import Item, rss

if TYPE_CHECKING:
    from tests.reliability.conftest import Bot, FlakyFeedServer

from tests.reliability.conftest import db_rows, wait_until  # noqa: E402

GROUP, ADMIN, ASKER, BLOCKED = -4001, 777, 6001, 5005
STIMEOUT, S504 = 5001, 5002  # subscribers, each meeting one transient fault
SUBSCRIBERS = (STIMEOUT, S504, BLOCKED)  # in the order the sender reaches them
HOSTILE = 'Transit trade </a><b>deal & "<script>alert(1)</script>" &amp; <i>more'
HREF = re.compile(r'<a href="([^"]+)"')
REPLY_WITHIN = 6.0  # seconds for a /status answer while the storm rages


def commitments_toml(remind_at: str) -> str:
    """Two overdue pledges (two reminders due at the first tick) and one the headlines match."""
    return f'''
timezone = "UTC"
remind_at = "{remind_at}"
digest = "off"
{SHARED_VISION}{INTEL_AND_VISIT}{CORRIDOR}'''


def test_a_storm_of_telegram_faults_loses_nothing_doubles_nothing_and_commands_still_answer(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FlakyFeedServer,
        spawn: Callable[[dict[str, str]], Bot], report: Callable[[str], None]) -> None:
    """Telegram misbehaving in every documented way at once must cost delays only, never a message or an answer."""
    tg, now = fake_telegram, datetime.now(timezone.utc)
    tg.add_chat(GROUP, "group", title="Pledge watchers")
    for chat in (ADMIN, ASKER, *SUBSCRIBERS):
        tg.add_chat(chat, "private", first_name=f"User{chat}")
    tg.block(BLOCKED)
    db = tmp_path / "pledgewatch.sqlite3"
    store = Store.open(db)  # subscribers from an earlier run: each gets a copy of the corridor's headlines
    for chat in SUBSCRIBERS:
        subscribe(store, chat, "corridor", now)
    store.close()

    items = [Item("Transit trade corridor reopens at Torkham", "https://wire.example/1", "w1", now)]
    feed_server.add("/wire.xml", rss(items))
    write_config(tmp_path, commitments_toml(f"{now + timedelta(hours=12):%H:%M}"),
                 f'interval = "2s"\n[[feed]]\nid = "wire"\nname = "Wire"\nurl = "{feed_server.url("/wire.xml")}"\n')

    # the storm, armed before the start so the first sends meet it
    # Each delivery round (every 3 s) meets the group's next fault (a 429 costs no time) and, until they are
    # spent, one subscriber's transient fault, which ends the round; the "can't parse entities" comes after
    # those, so the plain-text resend it asks for happens in the same round, and the slow answer last.
    tg.fail_next("sendMessage", chat_id=GROUP, status=429, retry_after=1)
    tg.fail_next("sendMessage", chat_id=GROUP, status=429, retry_after=2)
    tg.fail_next("sendMessage", chat_id=GROUP, status=429, retry_after=1)
    tg.fail_next("sendMessage", chat_id=GROUP, status=400, description="Bad Request: can't parse entities: "
                 "unsupported start tag \"script\" at byte offset 42")
    tg.fail_next("sendMessage", chat_id=GROUP, delay=2.0)  # slow, but answered within PTB's timeout
    tg.fail_next("sendMessage", chat_id=STIMEOUT, delay=6.0, reset=True)  # PTB gives up at 5 s; then a reset
    tg.fail_next("sendMessage", chat_id=S504, status=504)  # a proxy's "Gateway Timeout" HTML page
    tg.fail_next("getUpdates", status=502)  # long polling meets the rest: a proxy page now, more below

    bot = spawn(telegram_env(tg, GROUP, admins=(ADMIN,)))
    bot.wait_for("loaded ")
    started = time.monotonic()
    latencies: list[float] = []
    supergroup: int | None = None
    published = 1
    asked = 0
    while supergroup is None or asked < 8:  # the storm: the 429s, the slow send, the 403, the migration
        assert time.monotonic() - started < 60, "the group never received two messages during the storm"
        asked += 1
        pushed = time.monotonic()
        tg.push_message(ASKER, ASKER, "/status corridor")
        replies = tg.wait_until(lambda s: [m for m in s.messages(ASKER) if "transit trade corridor" in
                                           (m.plain_text or "").lower()][asked - 1:], 20, f"answer {asked}")
        assert replies
        latencies.append(time.monotonic() - pushed)
        if published < 3:
            published += 1
            title = HOSTILE if published == 2 else "Transit trade talks resume in Kabul"
            items.insert(0, Item(title, f"https://wire.example/{published}", f"w{published}",
                                 datetime.now(timezone.utc)))
            feed_server.update("/wire.xml", rss(items))
        if asked == 2:
            tg.fail_next("getUpdates", status=500, html=False)
        if asked == 4:
            tg.fail_next("getUpdates", reset=True)
        if supergroup is None and len(tg.messages(GROUP)) >= 2:
            supergroup = tg.migrate(GROUP)  # the group grew into a supergroup under the bot's feet
        time.sleep(max(0.0, 2.0 - (time.monotonic() - pushed)))  # one question every two seconds

    wait_until(lambda: db_rows(db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0] == 0, 90,
               "the transient faults' retries (30 s backoff) to drain the outbox")
    code, _ = bot.terminate()
    assert code == 0, bot.output()

    # nothing doubled: every chat holds exactly the messages the outbox settled, one each
    rows = db_rows(db, "SELECT chat_id, kind, ref, state, message_id, error FROM outbox")
    for chat in (GROUP, supergroup, ADMIN, *SUBSCRIBERS):
        settled = sorted(r[4] for r in rows if r[0] == str(chat) and r[3] == "sent")
        assert sorted(m.message_id for m in tg.messages(chat)) == settled, chat

    # nothing lost: the group (before and after its migration) and every live subscriber got everything once
    reminders = {r[2] for r in rows if r[1] == "reminder"}
    assert len(reminders) == 2
    urls = {f"https://wire.example/{n}" for n in (1, 2, 3)}
    for chats in ((GROUP, supergroup), (S504,), (STIMEOUT,)):
        got = [m for c in chats for m in tg.messages(c)]
        headlines = Counter(u for m in got if (m.plain_text or "").startswith("📰")
                            for u in HREF.findall(m.text or ""))
        plain = [m for m in got if m.parse_mode is None]  # the HTML Telegram refused went out as plain text
        headlines += Counter(u for m in plain for u in urls if u in (m.text or ""))
        assert headlines == Counter({u: 1 for u in urls}), (chats, headlines)
        assert sum("Reminder:" in (m.plain_text or "") for m in got) == (2 if GROUP in chats else 0), chats
    assert [r for r in rows if r[3] == "pending"] == []
    failed = [r for r in rows if r[3] == "failed"]
    assert failed and {r[0] for r in failed} == {str(BLOCKED)}, failed
    assert all("blocked" in (r[5] or "") for r in failed)
    notices = [m.plain_text or "" for m in tg.messages(ADMIN)]
    assert len(notices) == 1 and str(BLOCKED) in notices[0]
    assert tg.messages(BLOCKED) == []

    # the hostile title reached the chat as text, and the refused HTML was resent as plain text once
    hostile = [m for c in (GROUP, supergroup) for m in tg.messages(c) if "https://wire.example/2" in (m.text or "")]
    assert len(hostile) == 1 and '"<script>alert(1)</script>"' in (hostile[0].plain_text or "")
    assert sum(m.parse_mode is None for c in (GROUP, supergroup) for m in tg.messages(c)) == 1
    assert db_rows(db, "SELECT migrated_to FROM chats WHERE chat_id = ?", (str(GROUP),)) == [(str(supergroup),)]

    # the bot kept answering throughout
    assert max(latencies) <= REPLY_WITHIN, latencies
    stats = tg.stats
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    report(f"{stats.injected['sendMessage']} send faults, {stats.injected['getUpdates']} getUpdates faults, "
           f"group migrated to {supergroup}; {sum(r[3] == 'sent' for r in rows)} messages sent once each, "
           f"{len(failed)} kept as failed for the chat that blocked the bot; {asked} /status answered, "
           f"slowest {max(latencies):.1f}s")
