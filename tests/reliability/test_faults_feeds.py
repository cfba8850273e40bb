"""Bad feeds during a run: a hang, a trickle, a gzip bomb and a feed flipping between 200 and 500.

``pledgewatch run`` polls them next to two healthy feeds (on another host, as real publishers are).  The
healthy feeds' entries must reach the channel on time, measured from the moment they appeared on the
server to the moment the fake Bot API received the message; the bad feeds must back off (their
``feed_state`` rows say so and the server sees no hammering); and the process's memory must stay
bounded although the bomb inflates to a gibibyte.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.fake_telegram import FakeTelegram
from tests.support.feedserver import MIB, FeedServer
from tests.support.fixtures import CORRIDOR, SHARED_VISION, telegram_env, write_config
from tests.support.rss import Item, rss

if TYPE_CHECKING:
    from tests.reliability.conftest import Bot, FlakyFeedServer

from tests.reliability.conftest import db_rows, wait_until  # noqa: E402

CHANNEL = -1001234567890
INTERVAL = 2.0  # every feed's interval; the poll tick is then 1 s
TIMEOUT = 10.0  # feeds.toml ``timeout``: the overall deadline that ends the hang and the trickle
DELIVER_TICK = 3.0  # bot.jobs.Intervals.deliver
# On time: one feed interval (+10 % jitter) until the next poll, one poll tick, one deliver tick, one
# pacing second for a message ahead in the channel, and two seconds of slack for a busy CI machine.
ON_TIME = INTERVAL * 1.1 + 1.0 + DELIVER_TICK + 1.0 + 2.0
BAD = ("hang", "trickle", "bomb", "flaky")
RSS_LIMIT_KB = 250 * 1024  # the bomb inflates to 1 GiB; the cap is 10 MB; the interpreter itself ~100 MB

COMMITMENTS = f'''
timezone = "UTC"
digest = "off"
{SHARED_VISION}{CORRIDOR}'''


def item(n: int, source: str) -> Item:
    """A fresh entry matching the corridor pledge, unique per source and number."""
    return Item(f"Transit trade at Torkham, {source} report {n}", f"https://{source}.example/{n}", f"{source}-{n}",
                datetime.now(timezone.utc))


def test_bad_feeds_back_off_while_healthy_feeds_arrive_on_time_in_bounded_memory(
        tmp_path: Path, fake_telegram: FakeTelegram, feed_server: FlakyFeedServer,
        spawn: Callable[[dict[str, str]], Bot], report: Callable[[str], None]) -> None:
    """One publisher's broken server must cost the others nothing: not time, not memory, not requests."""
    tg, bad = fake_telegram, feed_server
    tg.add_chat(CHANNEL, "channel", title="Pledges")
    bad.hang("/hang.xml")
    bad.slow("/trickle.xml", rss([item(0, "trickle")]), interval=0.05, chunk=1)  # ~20 bytes/s: 20 s for the body
    bad.gzip_bomb("/bomb.xml", size=1024 * MIB)
    bad.flip("/flaky.xml", rss([item(0, "flaky")]))
    with FeedServer() as good:
        published: dict[str, float] = {}
        items: dict[str, list[Item]] = {"wire": [], "dawn": []}
        for name in items:
            good.add(f"/{name}.xml", rss([]))
        urls = {**{n: bad.url(f"/{n}.xml") for n in BAD}, **{n: good.url(f"/{n}.xml") for n in items}}
        feeds = "".join(f'[[feed]]\nid = "{n}"\nurl = "{u}"\n' for n, u in urls.items())
        write_config(tmp_path, COMMITMENTS, f'interval = "{INTERVAL:.0f}s"\ntimeout = "{TIMEOUT:.0f}s"\n{feeds}')
        db = tmp_path / "pledgewatch.sqlite3"
        bot = spawn(telegram_env(tg, CHANNEL))
        bot.wait_for("loaded ")
        wait_until(lambda: all(bad.count(f"/{n}.xml") for n in BAD), 30, "the first poll of every bad feed")
        baseline = bot.memory_kb()

        def failed(name: str) -> bool:
            rows = db_rows(db, "SELECT failures FROM feed_state WHERE feed_id = ?", (name,))
            return bool(rows and rows[0][0] >= 1)

        # news keeps arriving on the healthy feeds while the hang and the trickle hold their connections
        for n in range(5):  # about one message every 1.6 s: under the channel's pace of one a second
            name = ("wire", "dawn")[n % 2]
            entry = item(n, name)
            items[name].insert(0, entry)
            good.update(f"/{name}.xml", rss(items[name]))
            published[entry.link or ""] = time.monotonic()
            time.sleep(1.6)  # the news schedule of the outside world, not the bot's clock
        polled_during_hang = {name: good.count(f"/{name}.xml") for name in items}
        assert not failed("hang"), "the hang ended before the healthy feeds were counted: the machine is too slow"
        assert all(n >= 2 for n in polled_during_hang.values()), (
            f"healthy feeds were not polled on their 2 s interval while a feed hung: {polled_during_hang}")
        wait_until(lambda: all(failed(n) for n in BAD), TIMEOUT + 30, "every bad feed to fail once")
        expected = set(published) | {"https://flaky.example/0"}

        def arrived() -> bool:
            return all(any(u in (m.text or "") for m in tg.messages(CHANNEL)) for u in expected)
        wait_until(arrived, 60, "every healthy entry in the channel")
        memory = bot.memory_kb()
        code, _ = bot.terminate()
        assert code == 0, bot.output()

    # healthy entries: on time, exactly once
    sends = [c for c in tg.calls_to("sendMessage") if c.status == 200]
    latency = {u: next(c.at for c in sends if u in str(c.params.get("text"))) - t for u, t in published.items()}
    late = {u: round(s, 1) for u, s in latency.items() if s > ON_TIME}
    assert not late, f"healthy entries later than {ON_TIME:.1f}s: {late}"
    copies = Counter(u for m in tg.messages(CHANNEL) for u in expected if u in (m.text or ""))
    assert copies == Counter({u: 1 for u in expected})

    # bad feeds: backing off (well beyond their 2 s interval), each asked only as often as the backoff allows
    states = {r[0]: r[1:] for r in db_rows(db, "SELECT feed_id, failures, hold, last_attempt, next_poll, last_error, "
                                               "last_success FROM feed_state")}
    for name in BAD:
        failures, hold, last_attempt, next_poll, error, _ = states[name]
        assert failures >= 1 and hold == "backoff", (name, states[name])
        wait = datetime.fromisoformat(next_poll) - datetime.fromisoformat(last_attempt)
        assert wait >= timedelta(seconds=90), (name, wait)  # 2 min backoff, jittered by 25 %
    for name in ("hang", "trickle"):  # the overall deadline, not the 20 s per-read timeout, ended both
        assert f"no complete response within {TIMEOUT:g}s" in states[name][4], states[name]
    assert "10000000-byte limit" in states["bomb"][4], states["bomb"]
    assert "500" in states["flaky"][4] and states["flaky"][5] is not None  # one 200 (its entry posted), then 500
    assert {n: bad.count(f"/{n}.xml") for n in BAD} == {"hang": 1, "trickle": 1, "bomb": 1, "flaky": 2}
    assert all(states[n][0] == 0 for n in ("wire", "dawn"))

    # memory: bounded although the bomb inflates to 1 GiB
    assert memory["VmHWM"] < RSS_LIMIT_KB, memory
    assert db_rows(db, "PRAGMA integrity_check") == [("ok",)]
    report(f"healthy feeds polled {polled_during_hang} times while the hang held; latency of healthy entries: "
           f"max {max(latency.values()):.1f}s, mean "
           f"{sum(latency.values()) / len(latency):.1f}s (bound {ON_TIME:.1f}s); memory: VmRSS "
           f"{baseline['VmRSS'] // 1024} MB after the first poll, {memory['VmRSS'] // 1024} MB at the end, "
           f"peak VmHWM {memory['VmHWM'] // 1024} MB")
