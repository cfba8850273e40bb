"""The service's jobs with an injected clock: reminders, catch-up, re-planning, live reload, run --once."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from bot.app import Runtime, open_service
from bot.clock import FakeClock
from bot.config import load_config
from bot.service import Service
from bot.telegram_transport import ConsoleTransport
from tests.support.feedserver import FeedServer
from tests.support.fixtures import SHARED_VISION, write_config
from tests.support.rss import Item, rss


def commitments(deadline: str = '2027-01-15', tz: str = "Asia/Karachi", remind_before: str = '["7d", "1d"]',
                extra: str = "") -> str:
    return f'''
timezone = "{tz}"
remind_before = {remind_before}
remind_at = "09:00"
overdue_every = "7d"
digest = "off"
group_after = 3
{extra}
{SHARED_VISION}
[[commitment]]
id = "intel"
agreement = "sv"
title = "Joint intelligence work"
deadline = {deadline}
keywords = ['"joint intelligence"']
[[commitment]]
id = "trade"
agreement = "sv"
title = "Transit trade"
keywords = ['transit AND trade']
'''


def feeds_toml(server: FeedServer | None = None) -> str:
    if server is None:
        return "interval = \"30m\"\n"
    return f'interval = "30m"\nbackfill = "2d"\n[[feed]]\nid = "wire"\nname = "The Wire"\nurl = "{server.url("/wire.xml")}"\n'


@asynccontextmanager
async def service_at(tmp_path: Path, clock: FakeClock, commitments_text: str, feeds_text: str = feeds_toml(),
                     out: io.StringIO | None = None) -> AsyncIterator[Service]:
    if not (tmp_path / "commitments.toml").exists():
        write_config(tmp_path, commitments_text, feeds_text)
    runtime = Runtime(config_dir=tmp_path, db_path=tmp_path / "state.sqlite3", allow_private_hosts=True)
    async with open_service(load_config(tmp_path), runtime, clock, ConsoleTransport(out or io.StringIO()),
                            parser_workers=0) as service:
        yield service


def sent(service: Service, kind: str | None = None) -> list[str]:
    rows = service.store.query("SELECT kind, text FROM outbox WHERE state = 'sent' ORDER BY id")
    return [r["text"] for r in rows if kind is None or r["kind"] == kind]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


async def test_lead_reminders_fire_at_local_time_in_karachi(tmp_path):
    clock = FakeClock(utc(2027, 1, 8, 3, 59))  # 08:59 in Karachi (UTC+5, no DST)
    async with service_at(tmp_path, clock, commitments()) as service:
        assert (await service.run_once()).reminders == 0
        clock.current = utc(2027, 1, 8, 4, 0)  # 09:00 PKT, seven days before 15 Jan
        report = await service.run_once()
        assert report.reminders == 1 and report.delivery.sent == 1
        assert "due in 7 days" in sent(service, "reminder")[0]
        assert (await service.run_once()).reminders == 0  # run --once twice: nothing the second time
        clock.current = utc(2027, 1, 14, 4, 0)
        await service.run_once()
        assert "due in 1 day" in sent(service, "reminder")[-1]


async def test_reminders_follow_local_time_across_a_dst_change(tmp_path):
    # London moves to BST on 28 Mar 2027: 09:00 local is 09:00 UTC before, 08:00 UTC after.
    clock = FakeClock(utc(2027, 3, 22, 8, 59))
    text = commitments("2027-04-05", tz="Europe/London", remind_before='["14d", "1d"]')
    async with service_at(tmp_path, clock, text) as service:
        assert (await service.run_once()).reminders == 0
        clock.current = utc(2027, 3, 22, 9, 0)
        assert (await service.run_once()).reminders == 1
        clock.current = utc(2027, 4, 4, 7, 59)
        assert (await service.run_once()).reminders == 0
        clock.current = utc(2027, 4, 4, 8, 0)
        assert (await service.run_once()).reminders == 1
        assert "due in 1 day" in sent(service, "reminder")[-1]


async def test_restart_after_missed_window_sends_exactly_one_catch_up(tmp_path):
    clock = FakeClock(utc(2027, 1, 8, 4, 0))
    async with service_at(tmp_path, clock, commitments()) as service:
        assert (await service.run_once()).reminders == 1
    clock.current = utc(2027, 1, 16, 5, 0)  # down through the 1-day and due-day slots
    async with service_at(tmp_path, clock, commitments()) as service:
        report = await service.run_once()
        assert report.reminders == 1 and "overdue by 1 day" in sent(service, "reminder")[-1]
        assert (await service.run_once()).reminders == 0
        clock.current = utc(2027, 1, 22, 4, 0)  # a week after the due day: the next overdue reminder
        assert (await service.run_once()).reminders == 1
        assert "overdue by 7 days" in sent(service, "reminder")[-1]


async def test_deadline_edited_while_running_replans(tmp_path):
    clock = FakeClock(utc(2027, 1, 8, 4, 0))
    async with service_at(tmp_path, clock, commitments("2027-03-01")) as service:
        assert (await service.run_once()).reminders == 0
        (tmp_path / "commitments.toml").write_text(commitments("2027-01-15"), encoding="utf-8")
        assert await service.reload_if_changed()
        assert service.config.catalog.by_id["intel"].deadline.written == "2027-01-15"
        assert (await service.run_once()).reminders == 1
        (tmp_path / "commitments.toml").write_text(commitments("2027-01-15").replace(
            'keywords = [\'"joint intelligence"\']', 'keywords = [\'"joint intelligence"\']\nstatus = "met"'), encoding="utf-8")
        assert await service.reload_if_changed()
        clock.current = utc(2027, 1, 14, 4, 0)
        assert (await service.run_once()).reminders == 0  # final status stops reminders


async def test_invalid_edit_is_reported_and_the_old_config_keeps_working(tmp_path):
    clock = FakeClock(utc(2027, 1, 1, 0, 0))
    async with service_at(tmp_path, clock, commitments()) as service:
        (tmp_path / "commitments.toml").write_text(commitments().replace('status', 'x') + 'deadlne = 3\n[[commitment]]\nid = "x"',
                                                   encoding="utf-8")
        assert not await service.reload_if_changed()
        assert await service.reload_if_changed() is False  # unchanged file: not re-read, not re-reported
        await service.run_once()
        admin = sent(service, "admin")
        assert len(admin) == 1 and "invalid" in admin[0] and "deadlne" in admin[0] and "did you mean 'deadline'" in admin[0]
        assert [c.id for c in service.config.catalog.commitments] == ["intel", "trade"]
        clock.current = utc(2027, 1, 8, 4, 0)
        assert (await service.run_once()).reminders == 1  # the last good configuration still plans reminders
        (tmp_path / "commitments.toml").unlink()  # a file removed while running is reported too
        assert not await service.reload_if_changed()
        await service.run_once()
        assert "file not found" in sent(service, "admin")[-1]


async def test_a_burst_of_matches_goes_out_grouped_per_commitment(tmp_path):
    now = utc(2027, 1, 8, 1, 0)
    with FeedServer() as server:
        items = [Item(f"Transit trade talks, day {n}", f"https://w.example/{n}", f"g{n}", now - timedelta(hours=n)) for n in range(5)]
        items.append(Item("New joint intelligence cell", "https://w.example/i", "gi", now - timedelta(hours=1)))
        server.add("/wire.xml", rss(items))
        clock = FakeClock(now)
        async with service_at(tmp_path, clock, commitments(), feeds_toml(server)) as service:
            report = await service.run_once()
            assert len(report.poll.matches) == 6 and report.announced == 2
            headlines = sent(service, "headline")
            assert "5 new headlines: Transit trade" in headlines[0] and headlines[0].count("Transit trade talks") == 5
            assert "New joint intelligence cell" in headlines[1]
            assert (await service.run_once()).announced == 0


async def test_new_feed_added_while_running_uses_backfill(tmp_path):
    now = utc(2027, 1, 8, 1, 0)
    with FeedServer() as server:
        server.add("/wire.xml", rss([Item("Transit trade deal from last month", "https://w.example/old", "old", now - timedelta(days=30)),
                                     Item("Transit trade deal today", "https://w.example/new", "new", now)]))
        clock = FakeClock(now)
        async with service_at(tmp_path, clock, commitments()) as service:
            assert (await service.run_once()).poll.outcomes == ()
            (tmp_path / "feeds.toml").write_text(feeds_toml(server), encoding="utf-8")
            assert await service.reload_if_changed()
            report = await service.run_once()
            assert [m.title for m in report.poll.matches] == ["Transit trade deal today"]
            (tmp_path / "feeds.toml").write_text(feeds_toml(), encoding="utf-8")  # removed: no longer polled
            assert await service.reload_if_changed()
            clock.advance(timedelta(hours=2))
            assert (await service.run_once()).poll.outcomes == ()


async def test_headline_reaches_the_console_with_status_and_terms(tmp_path):
    now = utc(2027, 1, 8, 1, 0)
    out = io.StringIO()
    with FeedServer() as server:
        server.add("/wire.xml", rss([Item("Pakistan, Afghanistan agree on transit trade", "https://w.example/1", "g1", now)]))
        async with service_at(tmp_path, FakeClock(now), commitments(), feeds_toml(server), out) as service:
            await service.run_once()
    text = out.getvalue()
    assert "Pakistan, Afghanistan agree on transit trade <https://w.example/1>" in text
    assert "Matched: transit, trade" in text and "Status: not yet rated" in text and "The Wire" in text
    assert format_datetime(now)  # dates in messages come from the entry, not the wall clock
