"""SIGKILL ``pledgewatch run`` at random moments while news keeps arriving: nothing is lost, nothing doubles.

The bot runs as a real process against the loopback feed server and the fake Bot API (whose state lives
in this test process, so it remembers every message across every kill).  Between kills new entries are
published, some matching a commitment, some not, some carried by two feeds (one story); commitments
with past and near deadlines make reminders due at the first tick.  After the last restart and a quiet
period the channel must hold every matching story and every due reminder exactly once.

The one duplicate that cannot be avoided
----------------------------------------
Telegram's Bot API has no idempotency key.  If the process dies *after Telegram stored a message and
before our* ``mark_sent`` *commits*, the outbox row is still pending after the restart and the message is
sent again: at-least-once for the send itself.  Every other kill moment (during start-up, a poll, an
ingest or announce transaction, a pacing pause, before the request reached Telegram) loses nothing and
doubles nothing, because each effect is committed in one SQLite transaction with the outbox row.

The test tells the two apart from the outside: a message in the fake's channel whose ``message_id`` is not
recorded in any outbox row was accepted by Telegram but never settled by us (an *orphan*).  Each orphan
must be the last ``sendMessage`` the fake saw from a process that was then killed (the kill landed inside
that send), and the only extra copies in the channel must be orphans: duplicates outside the window are 0.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.fake_telegram import Call, FakeTelegram
from tests.support.fake_telegram import Message as TgMessage
from tests.support.fixtures import INTEL_AND_VISIT, SHARED_VISION, telegram_env, write_config
from tests.support.rss import Item, rss

if TYPE_CHECKING:
    from tests.reliability.conftest import Bot, FlakyFeedServer

from tests.reliability.conftest import db_rows, wait_until  # noqa: E402

CHANNEL = -1001234567890
FEEDS = ("wire", "dawn", "tolo")
DATED = ("intel", "visit", "corridor")  # commitments whose reminders are due at the first tick
TOPICS: dict[str | None, str] = {
    "intel": "Joint intelligence cell meets in Kabul",
    "visit": "Ghani confirms his visit to Islamabad",
    "corridor": "Transit trade corridor reopens at Torkham",
    "refugees": "Refugees return home before winter",
    None: "Cricket board names a new T20 captain",
}
QUIET = 3.5  # seconds without a new sendMessage after the outbox drained: longer than the 3 s deliver tick
HREF = re.compile(r'<a href="([^"]+)"')


def commitments_toml(today: date, remind_at: str) -> str:
    """Two overdue pledges, one due in three days (its 7-day lead reminder is due) and one undated.

    ``remind_at`` is twelve hours from now, so no new reminder slot can open while the test runs; with
    ``group_after = 2`` the matches piled up across kills often go out grouped, one message per commitment."""
    return f'''
timezone = "UTC"
remind_before = ["7d", "1d"]
remind_at = "{remind_at}"
overdue_every = "7d"
digest = "off"
group_after = 2
{SHARED_VISION}{INTEL_AND_VISIT}
[[commitment]]
id = "corridor"
agreement = "sv"
title = "Reopen the transit trade corridor"
deadline = {today + timedelta(days=3)}
keywords = ['transit AND trade']

[[commitment]]
id = "refugees"
agreement = "sv"
title = "Dignified return of refugees"
keywords = ['refugee*']
'''


def feeds_toml(urls: dict[str, str]) -> str:
    """Three feeds polled every 3 s (so the poll tick is 1 s); ``backfill`` keeps fresh entries postable."""
    blocks = [f'[[feed]]\nid = "{name}"\nname = "{name.title()}"\nurl = "{url}"\n' for name, url in urls.items()]
    return 'interval = "3s"\nbackfill = "2d"\n\n' + "\n".join(blocks)


@dataclass
class Newsroom:
    """Publishes entries on the feed server and remembers which stories must reach the channel."""

    server: FlakyFeedServer
    rng: random.Random
    items: dict[str, list[Item]] = field(default_factory=lambda: {f: [] for f in FEEDS})
    expected: set[str] = field(default_factory=set)  # URLs of matching stories
    unexpected: set[str] = field(default_factory=set)  # URLs of stories no commitment matches
    published: int = 0

    def publish(self, count: int) -> None:
        """Add ``count`` new entries; one in six is carried by two feeds (the same story, posted once)."""
        touched: set[str] = set()
        for _ in range(count):
            self.published += 1
            n = self.published
            topic = self.rng.choice(list(TOPICS))
            url = f"https://news.example/{n}"
            title = f"{TOPICS[topic]} (report {n})"
            carriers = self.rng.sample(FEEDS, 2 if self.rng.random() < 1 / 6 else 1)
            for feed in carriers:
                self.items[feed].insert(0, Item(title, url, f"{feed}-{n}", datetime.now(timezone.utc)))
                touched.add(feed)
            (self.expected if topic else self.unexpected).add(url)
        for feed in touched:
            self.server.update(f"/{feed}.xml", rss(self.items[feed], title=feed))

    def serve(self) -> dict[str, str]:
        """Register every feed's route (empty at first) and return the URLs for feeds.toml."""
        for feed in FEEDS:
            self.server.add(f"/{feed}.xml", rss(self.items[feed], title=feed))
        return {feed: self.server.url(f"/{feed}.xml") for feed in FEEDS}


@dataclass(frozen=True)
class Life:
    """One run of the bot between a start and a SIGKILL, on the test's monotonic clock."""

    number: int
    started: float
    killed: float
    ready: bool  # it printed its "loaded ..." line, so start-up was over


def headline_urls(text: str | None, kinds: dict[str, str]) -> list[str]:
    """The story links in one part of a headline message (one story, or several in a grouped message).

    ``kinds`` maps each outbox row's HTML to its kind: reminders link headlines too, and are not counted."""
    return HREF.findall(text or "") if kinds.get(text or "") == "headline" else []


def orphan_calls(messages: list[TgMessage], calls: list[Call], settled_ids: set[int]) -> list[Call]:
    """The sendMessage calls whose message Telegram kept but our outbox never recorded as sent.

    Copies of one text pair up in order: the k-th stored message with that text came from the k-th call
    with that text that stored one (answered 200, or made to act before its injected fault, whose answer
    may still be held)."""
    by_text: dict[str, list[Call]] = {}
    for call in calls:
        if call.status == 200 or (call.fault is not None and call.fault.apply):
            by_text.setdefault(str(call.params.get("text")), []).append(call)
    seen: Counter[str] = Counter()
    out = []
    for message in sorted(messages, key=lambda m: m.message_id):
        text = message.text or ""
        index = seen[text]
        seen[text] += 1
        if message.message_id not in settled_ids:
            out.append(by_text[text][index])
    return out


def wait_for_quiet(tg: FakeTelegram, seconds: float, timeout: float) -> None:
    """Wait (bounded) until the fake has seen no new sendMessage for ``seconds``."""
    def quiet() -> bool:
        sends = tg.calls_to("sendMessage")
        return not sends or time.monotonic() - sends[-1].at >= seconds
    wait_until(quiet, timeout, f"{seconds}s without a new sendMessage")


def test_sigkill_at_random_moments_loses_nothing_and_doubles_only_inside_a_send(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FlakyFeedServer,
        spawn: Callable[[dict[str, str]], Bot], soak: bool, seed: int, report: Callable[[str], None]) -> None:
    """Crashes at any moment must neither lose a headline or reminder nor double one outside the send window."""
    tg, rng, kills = fake_telegram, random.Random(seed), 200 if soak else 20
    tg.add_chat(CHANNEL, "channel", title="Pledges")
    now = datetime.now(timezone.utc)
    room = Newsroom(feed_server, rng)
    write_config(tmp_path, commitments_toml(now.date(), f"{now + timedelta(hours=12):%H:%M}"),
                 feeds_toml(room.serve()))
    db, env = tmp_path / "pledgewatch.sqlite3", telegram_env(tg, CHANNEL)
    began = time.monotonic()
    lives: list[Life] = []
    leftovers = 0
    room.publish(3)
    for number in range(kills):
        bot = spawn(env)
        if rng.random() < 1 / 3:  # a third count from the end of start-up, so they land in its first jobs and sends
            bot.wait_for("loaded ", timeout=60)
            bot.alive_for(rng.uniform(0.1, 1.5))
        else:
            bot.alive_for(rng.uniform(0.3, 2.0))  # from the spawn: start-up, or the first second of running
        killed = time.monotonic()
        leftovers += bot.kill()
        lives.append(Life(number, bot.started, killed, bot.saw("loaded ")))
        room.publish(rng.choice((0, 1, 1, 2)))  # new entries keep arriving between kills
    room.publish(1)

    final = spawn(env)
    final.wait_for("loaded ")

    def settled() -> bool:
        posted = "".join(m.text or "" for m in tg.messages(CHANNEL))
        if not all(url in posted for url in room.expected):
            return False
        pending = db_rows(db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0]
        unannounced = db_rows(db, "SELECT COUNT(*) FROM matches WHERE announced = 0 AND backfill = 0")[0][0]
        return pending == 0 and unannounced == 0
    wait_until(settled, 300 if soak else 90, "every matching story to reach the channel and the outbox to drain")
    wait_for_quiet(tg, QUIET, 60)
    code, _ = final.terminate()
    assert code == 0, final.output()

    # what the channel holds against what the database says it sent
    messages = tg.messages(CHANNEL)
    sends = [c for c in tg.calls_to("sendMessage") if str(c.params.get("chat_id")) == str(CHANNEL)]
    rows = db_rows(db, "SELECT ref, kind, html, state, message_id FROM outbox WHERE chat_id = ?", (str(CHANNEL),))
    assert {r[3] for r in rows} == {"sent"}, [r for r in rows if r[3] != "sent"]
    settled_ids = {r[4] for r in rows}
    kinds = {r[2]: r[1] for r in rows}
    orphans = orphan_calls(messages, sends, settled_ids)

    # each orphan is the last send of a life that was then killed: the kill landed inside that send
    in_send: set[int] = set()
    for call in orphans:
        life = next((lf for lf in lives if lf.started <= call.at <= lf.killed), None)
        assert life is not None, f"a message the outbox never settled, sent outside any killed run: {call!r}"
        later = [c for c in sends if life.started <= c.at <= life.killed and c.at > call.at]
        assert not later, f"run {life.number} sent again after an unsettled send, so it was no crash window"
        in_send.add(life.number)

    # every matching story exactly once (plus its orphan copy, if a kill hit its send); nothing else posted
    copies = Counter(u for m in messages for u in headline_urls(m.text, kinds))
    orphan_texts = Counter(str(c.params.get("text")) for c in orphans)
    orphan_copies = Counter(u for c in orphans for u in headline_urls(str(c.params.get("text")), kinds))
    assert set(copies) == room.expected, (sorted(room.expected - set(copies)), sorted(set(copies) - room.expected))
    assert not set(copies) & room.unexpected
    doubled = {u: n for u, n in copies.items() if n != 1 + orphan_copies[u]}
    assert not doubled, f"stories posted more than once outside the crash window: {doubled}"

    # every due reminder exactly once, and the ledger agrees with what was queued
    ledger = sorted(r[0] for r in db_rows(db, "SELECT commitment_id FROM reminders"))
    assert ledger == sorted(DATED)
    reminder_texts = [r[2] for r in rows if r[1] == "reminder"]
    assert len(reminder_texts) == len(DATED)
    texts = Counter(m.text for m in messages)
    for text in reminder_texts:
        assert texts[text] == 1 + orphan_texts[text], text

    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    duplicates = sum(copies.values()) - len(copies) + sum(texts[t] - 1 for t in reminder_texts)
    # every duplicate is a copy an orphaned send carried (a grouped message carries several headlines)
    assert duplicates == sum(orphan_copies.values()) + sum(orphan_texts[t] for t in reminder_texts)
    before_ready = sum(not lf.ready for lf in lives)
    report(f"kills={kills} (during start-up {before_ready}, running {kills - before_ready}, "
           f"inside a send {len(in_send)}); {len(room.expected)} stories + {len(DATED)} reminders; "
           f"duplicates={duplicates} (all inside the send window; outside it: 0); helper processes left by the "
           f"killed main process: {leftovers}; {time.monotonic() - began:.0f}s")


def test_a_kill_inside_a_send_is_the_one_window_for_a_duplicate_and_a_clean_stop_has_none(
        tmp_path: Path, fake_telegram: FakeTelegram, spawn: Callable[[dict[str, str]], Bot],
        report: Callable[[str], None]) -> None:
    """Three stops with a request in flight: a SIGKILL before Telegram stored the message (no duplicate), a
    SIGKILL after it stored it but before the answer came back (the documented duplicate: the row is still
    pending), and a SIGTERM in the same spot (no duplicate: a clean stop lets the send finish and records it)."""
    tg = fake_telegram
    tg.add_chat(CHANNEL, "channel", title="Pledges")
    now = datetime.now(timezone.utc)
    write_config(tmp_path, commitments_toml(now.date(), f"{now + timedelta(hours=12):%H:%M}"))  # reminders only
    db, env = tmp_path / "pledgewatch.sqlite3", telegram_env(tg, CHANNEL)

    def next_send(after: int) -> Call:
        """The bot's next sendMessage, as soon as the fake has it (its answer may still be held)."""
        found = wait_until(lambda: tg.calls_to("sendMessage")[after:], 60, "the bot's next sendMessage")
        return found[0]  # type: ignore[index]

    # 1: the request reaches Telegram, which answers (502) only long after the process is gone: not stored
    tg.fail_next("sendMessage", delay=30, status=502, chat_id=CHANNEL)
    bot = spawn(env)
    first = next_send(0)
    bot.kill()
    assert tg.messages(CHANNEL) == []
    # 2: Telegram stores the message at once and holds its answer: the kill lands inside the window
    tg.fail_next("sendMessage", delay=30, apply=True, chat_id=CHANNEL)
    bot = spawn(env)
    second = next_send(1)
    bot.kill()
    assert [m.text for m in tg.messages(CHANNEL)] == [second.params["text"]]
    assert second.params["text"] == first.params["text"]  # the same outbox item, retried
    unsettled = db_rows(db, "SELECT state, message_id FROM outbox WHERE html = ?", (second.params["text"],))
    assert unsettled == [("pending", None)]  # Telegram has it; our database cannot know
    # 3: the same spot, but a SIGTERM (docker stop, an upgrade): the send in flight finishes and is recorded
    tg.fail_next("sendMessage", delay=1.5, apply=True, chat_id=CHANNEL)
    bot = spawn(env)
    third = next_send(2)
    code, seconds = bot.terminate()
    assert code == 0 and seconds < 5, bot.output()
    assert third.params["text"] == second.params["text"]  # the pending item, sent again: the one duplicate
    assert db_rows(db, "SELECT state FROM outbox WHERE html = ?", (third.params["text"],)) == [("sent",)]

    final = spawn(env)
    wait_until(lambda: db_rows(db, "SELECT COUNT(*) FROM outbox WHERE state = 'sent'")[0][0] == len(DATED), 60,
               "every reminder to be sent")
    code, _ = final.terminate()
    assert code == 0, final.output()

    texts = Counter(m.text for m in tg.messages(CHANNEL))
    assert sorted(texts.values()) == [1] * (len(DATED) - 1) + [2]
    assert texts[second.params["text"]] == 2  # the one duplicate: the send the second kill interrupted
    rows = db_rows(db, "SELECT message_id FROM outbox WHERE chat_id = ? AND state = 'sent'", (str(CHANNEL),))
    orphans = orphan_calls(tg.messages(CHANNEL), tg.calls_to("sendMessage"), {r[0] for r in rows})
    assert len(orphans) == 1 and orphans[0] is second
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    report("SIGKILL before Telegram stored the message: 0 duplicates; SIGKILL after it stored it, before "
           "mark_sent committed: 1 duplicate (the documented window); SIGTERM there: 0 duplicates")
