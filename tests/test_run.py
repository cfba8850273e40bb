"""`pledgewatch run` as a real process: clean stops, Telegram long polling, no secrets in logs."""

from __future__ import annotations

import signal
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from tests.support.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from tests.support.feedserver import FeedServer
from tests.support.fixtures import RUN_COMMITMENTS, telegram_env, write_config
from tests.support.process import BotProcess
from tests.support.rss import Item, rss

CHANNEL = -1001234567890
ADMIN = 4242

def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def test_sigterm_during_a_poll_exits_cleanly_with_the_database_intact(tmp_path):
    with FeedServer() as server:
        server.hang("/hang.xml")
        server.slow("/slow.xml", rss([Item("Transit trade", "https://s.example/1", "s1", datetime.now(timezone.utc))]),
                    interval=0.5)
        feeds = (f'timeout = "60s"\n[[feed]]\nid = "hang"\nurl = "{server.url("/hang.xml")}"\n'
                 f'[[feed]]\nid = "slow"\nurl = "{server.url("/slow.xml")}"\n')
        write_config(tmp_path, RUN_COMMITMENTS, feeds)
        bot = BotProcess(["run", "--config-dir", str(tmp_path)], {"PLEDGEWATCH_ALLOW_PRIVATE_HOSTS": "1"}, tmp_path)
        try:
            bot.wait_for("loaded 1 agreements, 2 commitments, 2 feeds")
            deadline = time.monotonic() + 20
            while server.count("/hang.xml") == 0 and time.monotonic() < deadline:
                time.sleep(0.05)  # waiting for the bot's request to arrive, not to control time
            assert server.count("/hang.xml") == 1  # the poll is now in flight, stuck on the hanging feed
            code, seconds = bot.stop(signal.SIGTERM)
        finally:
            bot.kill()
        assert code == 0 and seconds < 5, (code, seconds, "".join(bot.err)[-2000:])
        assert "stopped cleanly" in "".join(bot.err)
        assert integrity(tmp_path / "pledgewatch.sqlite3") == "ok"


def test_run_with_a_token_posts_to_the_channel_and_answers_commands(tmp_path):
    with FakeTelegram() as tg, FeedServer() as server:
        tg.add_chat(CHANNEL, "channel", title="Pledges")
        server.add("/wire.xml", rss([Item("Joint intelligence cell &lt;script&gt;x&lt;/script&gt; &amp; <b>more", "https://w.example/1", "w1",
                                          datetime.now(timezone.utc))]))
        write_config(tmp_path, RUN_COMMITMENTS, f'[[feed]]\nid = "wire"\nname = "Wire"\nurl = "{server.url("/wire.xml")}"\n')
        bot = BotProcess(["-v", "run", "--config-dir", str(tmp_path)], telegram_env(tg, CHANNEL, (ADMIN,)), tmp_path)
        try:
            bot.wait_for("mode: telegram chat")
            posted = tg.wait_for_messages(CHANNEL, 2, timeout=30)
            texts = [m.plain_text for m in posted]
            assert any("overdue by" in t and "Re-energise joint intelligence work" in t for t in texts)
            headline = next(m for m in posted if "Joint intelligence cell" in m.plain_text)
            # the title's text is "<script>x</script> & more": it reaches the chat escaped, as text
            assert "Joint intelligence cell &lt;script&gt;x&lt;/script&gt; &amp; more</a>" in headline.text
            assert {c["command"] for c in tg.commands()} >= {"status", "list", "upcoming", "overdue", "news", "subscribe"}
            tg.push_message(ADMIN, ADMIN, "/status sv-joint-intel")
            reply = tg.wait_for_messages(ADMIN, 1, timeout=15)[0]
            assert "Re-energise joint intelligence work" in reply.plain_text and "overdue by" in reply.plain_text
            code, seconds = bot.stop(signal.SIGTERM)
        finally:
            bot.kill()
        assert code == 0 and seconds < 5
        logs = "".join(bot.out + bot.err)
        assert "DEBUG" in logs and DEFAULT_TOKEN not in logs and DEFAULT_TOKEN.split(":")[1] not in logs


def test_poll_once_exits_zero_with_failing_feeds_and_one_with_a_bad_config(tmp_path):
    with FeedServer() as server:
        server.add("/ok.xml", rss([Item("Transit trade corridor", "https://o.example/1", "o1", datetime.now(timezone.utc))]))
        server.error("/down.xml", 503, retry_after=7200)
        write_config(tmp_path, RUN_COMMITMENTS, f'[[feed]]\nid = "ok"\nurl = "{server.url("/ok.xml")}"\n'
                                                f'[[feed]]\nid = "down"\nurl = "{server.url("/down.xml")}"\n')
        bot = BotProcess(["poll", "--once", "--config-dir", str(tmp_path)], {"PLEDGEWATCH_ALLOW_PRIVATE_HOSTS": "1"}, tmp_path)
        assert bot.proc.wait(timeout=60) == 0
        bot.wait_for("Polled 2 feed(s)")
        out = "".join(bot.out)
        assert "Transit trade corridor <https://o.example/1>" in out and "failed   down: HTTP 503" in out
        assert "[1/2]" in out or "[2/2]" in out  # plain progress lines when not a terminal
        again = BotProcess(["poll", "--once", "--config-dir", str(tmp_path)], {"PLEDGEWATCH_ALLOW_PRIVATE_HOSTS": "1"}, tmp_path)
        assert again.proc.wait(timeout=60) == 0
        again.wait_for("Polled 2 feed(s)")
        assert "skipped  down: server asked to retry after" in "".join(again.out)
    (tmp_path / "feeds.toml").write_text("interval = 5\n", encoding="utf-8")
    bad = BotProcess(["poll", "--once", "--config-dir", str(tmp_path)], {}, tmp_path)
    assert bad.proc.wait(timeout=60) == 1
    bad.wait_for("key 'interval'")
    (tmp_path / "feeds.toml").write_text("", encoding="utf-8")
    (tmp_path / "pledgewatch.sqlite3").unlink()
    (tmp_path / "pledgewatch.sqlite3").mkdir()  # a database path that cannot be opened
    broken = BotProcess(["run", "--once", "--config-dir", str(tmp_path)], {}, tmp_path)
    assert broken.proc.wait(timeout=60) == 1
    broken.wait_for("cannot open the state database")
