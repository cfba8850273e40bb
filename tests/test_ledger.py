"""The reminder and digest ledgers on a real SQLite file: anacron catch-up, once per slot, once per period."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from bot.agenda import StatusOf, toml_status
from bot.clock import FakeClock
from bot.config import load_config
from bot.curation import IRRELEVANT, record_verdict
from bot.deadlines import parse_deadline
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.ledger import (DueReminder, digest_due, digest_period, digest_since, due_reminders, headlines_since,
                        next_reminder, record_digest, record_reminder, reminders_sent, status_before)
from bot.model import Catalog, Commitment, Revision, Settings, Status
from bot.parse import ParsedEntry
from bot.reminders import slots
from bot.statuses import effective_statuses, mark, sync_toml_statuses
from bot.store import Store
from tests.conftest import REPO

UTC = timezone.utc
KARACHI = Settings(timezone="Asia/Karachi")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def pledge(deadline: object = date(2026, 1, 20), cid: str = "joint-intel", **kw: object) -> Commitment:
    return Commitment(cid, "shared-vision", f"Pledge {cid}", deadline=parse_deadline(deadline), **kw)  # type: ignore[arg-type]


def catalog(*commitments: Commitment, settings: Settings = KARACHI) -> Catalog:
    return Catalog(settings, (), commitments)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.sqlite3")
    yield s
    s.close()


def send(store: Store, due: list[DueReminder], now: datetime) -> list[str]:
    """What the lead's loop does: record each slot (and, in production, enqueue its message) in one transaction."""
    sent = []
    with store.transaction() as tx:
        for r in due:
            if record_reminder(tx, r.commitment.id, r.slot, now):
                sent.append(r.slot.key)
    return sent


# reminders ---------------------------------------------------------------------------------------

def test_after_downtime_exactly_one_catch_up_then_nothing_until_the_next_slot(store: Store) -> None:
    cat = catalog(pledge())  # due 20 Jan 2026; slots at 04:00 UTC (09:00 PKT)
    clock = FakeClock(utc(2025, 12, 1))
    assert due_reminders(store, cat, toml_status, clock.now()) == []  # before the 30-day lead of 21 Dec
    clock.current = utc(2026, 2, 10, 3)  # down through 1-day lead, due day, overdue 27 Jan and 3 Feb
    (catch_up,) = due_reminders(store, cat, toml_status, clock.now())
    assert (catch_up.slot.kind, catch_up.slot.at, catch_up.slot.key) == ("overdue", utc(2026, 2, 3, 4), "2026-01-20/overdue/14d")
    assert catch_up.ref == "reminder/joint-intel/2026-01-20/overdue/14d"
    assert send(store, [catch_up], clock.now()) == ["2026-01-20/overdue/14d"]
    assert due_reminders(store, cat, toml_status, clock.now()) == []
    clock.advance(timedelta(minutes=59, seconds=59))
    assert due_reminders(store, cat, toml_status, clock.now()) == []  # 03:59:59 UTC, 08:59:59 PKT
    clock.advance(timedelta(seconds=1))
    (nxt,) = due_reminders(store, cat, toml_status, clock.now())
    assert nxt.slot.key == "2026-01-20/overdue/21d"
    assert [row[0] for row in reminders_sent(store, "joint-intel")] == ["2026-01-20/overdue/14d"]


def test_recording_twice_is_refused_so_a_rerun_queues_nothing(store: Store) -> None:
    cat, now = catalog(pledge()), utc(2026, 1, 20, 5)
    due = due_reminders(store, cat, toml_status, now)
    assert send(store, due, now) == ["2026-01-20/due/0d"]
    assert send(store, due, now) == []  # a second process with the same stale list records nothing
    assert reminders_sent(store, "joint-intel") == [("2026-01-20/due/0d", "due", date(2026, 1, 20), now)]


def test_hourly_ticks_send_every_slot_exactly_once_in_a_dst_zone(store: Store) -> None:
    london = Settings(timezone="Europe/London", remind_at=time(9, 0))
    c = pledge(date(2026, 4, 2))  # the spring change (29 Mar) falls between the 7-day and 1-day leads
    cat, clock = catalog(c, settings=london), FakeClock(utc(2026, 2, 1))
    sent: list[tuple[str, str]] = []
    while clock.now() < utc(2026, 4, 20):
        for r in due_reminders(store, cat, toml_status, clock.now()):
            send(store, [r], clock.now())
            sent.append((r.slot.key, clock.now().astimezone(london.tz).strftime("%d %b %H:%M %Z")))
        clock.advance(timedelta(minutes=30))
    assert sent == [("2026-04-02/lead/30d", "03 Mar 09:00 GMT"), ("2026-04-02/lead/7d", "26 Mar 09:00 GMT"),
                    ("2026-04-02/lead/1d", "01 Apr 09:00 BST"), ("2026-04-02/due/0d", "02 Apr 09:00 BST"),
                    ("2026-04-02/overdue/7d", "09 Apr 09:00 BST"), ("2026-04-02/overdue/14d", "16 Apr 09:00 BST")]
    assert [s.key for s in slots(c, london, until=clock.now())] == [k for k, _ in sent]


def test_an_edited_deadline_replans_and_its_slots_are_new(store: Store) -> None:
    now = utc(2026, 1, 20, 5)
    original = pledge(date(2026, 1, 20))
    send(store, due_reminders(store, catalog(original), toml_status, now), now)
    assert due_reminders(store, catalog(original), toml_status, now) == []
    # the TOML is edited to an earlier day: the new plan's latest slot is new, although at the same instant
    moved = pledge(date(2026, 1, 13))
    (r,) = due_reminders(store, catalog(moved), toml_status, now)
    assert r.slot.key == "2026-01-13/overdue/7d" and r.slot.at == utc(2026, 1, 20, 4)
    send(store, [r], now)
    # an official revision to a later quarter: no more overdue nags; the next reminder is the new lead
    revised = replace(moved, revisions=(Revision(parse_deadline("2026-Q2")),))
    assert due_reminders(store, catalog(revised), toml_status, now) == []
    nxt = next_reminder(catalog(revised), KARACHI, toml_status, now)
    assert nxt is not None and nxt.slot.key == "2026-06-30/lead/30d"
    rows = {(k, d) for k, _, d, _ in reminders_sent(store, "joint-intel")}
    assert rows == {("2026-01-20/due/0d", date(2026, 1, 20)), ("2026-01-13/overdue/7d", date(2026, 1, 13))}


def test_a_final_status_stops_reminders(store: Store) -> None:
    c = pledge()
    cat = catalog(c)
    sync_toml_statuses(store, cat, utc(2026, 1, 1))

    def status_of(x: Commitment) -> Status:
        return effective_statuses(store, [x])[x.id]

    now = utc(2026, 1, 27, 5)
    assert [r.slot.kind for r in due_reminders(store, cat, status_of, now)] == ["overdue"]
    mark(store, c.id, Status.MET, now, actor="editor", actor_id=1)
    assert due_reminders(store, cat, status_of, now) == []
    assert due_reminders(store, cat, status_of, now + timedelta(days=60)) == []
    assert next_reminder(cat, KARACHI, status_of, now) is None


def test_per_commitment_override_and_overdue_every_seven_days(store: Store) -> None:
    own = pledge(date(2026, 1, 20), "own", remind_before=(timedelta(days=2),))
    cat, clock = catalog(own, pledge(date(2026, 1, 20), "default")), FakeClock(utc(2025, 12, 1))
    sent: dict[str, list[str]] = {"own": [], "default": []}
    while clock.now() < utc(2026, 2, 4):
        for r in due_reminders(store, cat, toml_status, clock.now()):
            send(store, [r], clock.now())
            sent[r.commitment.id].append(f"{r.slot.kind}/{r.slot.days}@{r.slot.at:%m-%d}")
        clock.advance(timedelta(hours=6))
    assert sent["own"] == ["lead/2@01-18", "due/0@01-20", "overdue/-7@01-27", "overdue/-14@02-03"]
    assert sent["default"] == ["lead/30@12-21", "lead/7@01-13", "lead/1@01-19", "due/0@01-20",
                               "overdue/-7@01-27", "overdue/-14@02-03"]


def test_bundled_commitments_catch_up_once_each_and_name_the_next_reminder(store: Store) -> None:
    cat = load_config(REPO).catalog
    now = utc(2026, 11, 23, 10)
    due = due_reminders(store, cat, toml_status, now)
    dated = [c.id for c in cat.commitments if c.current_deadline is not None]
    assert sorted(r.commitment.id for r in due) == sorted(dated) and len(dated) >= 5
    assert {r.slot.kind for r in due} == {"overdue"}  # the 2020-21 pledges are long overdue and all "pending"
    assert all(r.slot.at <= now for r in due)
    send(store, due, now)
    assert due_reminders(store, cat, toml_status, now + timedelta(hours=12)) == []
    nxt = next_reminder(cat, cat.settings, toml_status, now)
    assert nxt is not None
    assert nxt.line(cat.settings) == "next reminder: sv-joint-intelligence-work at 2026-11-24 09:00 PKT (overdue by 2170 days)"


# digests -----------------------------------------------------------------------------------------

def digest_settings(kind: str, zone: str = "Asia/Karachi") -> Settings:
    return Settings(timezone=zone, digest=kind, digest_at=time(8, 0))


def test_daily_digest_is_due_once_per_local_day_after_digest_at(store: Store) -> None:
    s = digest_settings("daily")
    assert digest_due(store, s, utc(2026, 11, 23, 2, 59)) is None  # 07:59 PKT
    assert digest_due(store, s, utc(2026, 11, 23, 3)) == "2026-11-23"
    with store.transaction() as tx:
        assert record_digest(tx, "2026-11-23", utc(2026, 11, 23, 3))
        assert not record_digest(tx, "2026-11-23", utc(2026, 11, 23, 3))
    assert digest_due(store, s, utc(2026, 11, 23, 18, 59)) is None  # 23:59 PKT, same day
    assert digest_due(store, s, utc(2026, 11, 23, 19)) is None  # 00:00 PKT on the 24th, before 08:00
    assert digest_due(store, s, utc(2026, 11, 24, 3)) == "2026-11-24"
    # down for a week: only today's digest is due, never a flood of missed ones
    assert digest_due(store, s, utc(2026, 12, 1, 10)) == "2026-12-01"


def test_weekly_digest_is_keyed_by_iso_week_and_sent_from_monday(store: Store) -> None:
    s = digest_settings("weekly")
    assert digest_due(store, s, utc(2026, 11, 22, 12)) == "2026-W47"  # Sunday: last week's is still unsent
    assert digest_due(store, s, utc(2026, 11, 23, 2)) is None  # Monday 07:00 PKT
    assert digest_due(store, s, utc(2026, 11, 23, 3)) == "2026-W48"
    with store.transaction() as tx:
        record_digest(tx, "2026-W48", utc(2026, 11, 23, 3))
    assert all(digest_due(store, s, utc(2026, 11, 23, 3) + timedelta(hours=h)) is None for h in range(0, 7 * 24, 5))
    assert digest_due(store, s, utc(2026, 11, 30, 3)) == "2026-W49"
    # a bot that starts on a Wednesday still sends this week's, once
    assert digest_due(store, s, utc(2026, 12, 9, 12)) == "2026-W50"
    # ISO years: 1 Jan 2027 (a Friday) belongs to week 53 of 2026
    assert digest_period(s, utc(2027, 1, 1, 12)) == ("2026-W53", utc(2026, 12, 28, 3))
    assert digest_due(store, digest_settings("off"), utc(2026, 11, 23, 12)) is None


def test_digest_time_follows_local_time_across_dst(store: Store) -> None:
    s = digest_settings("daily", "Europe/London")
    assert digest_period(s, utc(2026, 3, 28, 12)) == ("2026-03-28", utc(2026, 3, 28, 8))  # GMT
    assert digest_period(s, utc(2026, 3, 30, 12)) == ("2026-03-30", utc(2026, 3, 30, 7))  # BST
    assert digest_due(store, s, utc(2026, 3, 30, 6, 59)) is None
    assert digest_due(store, s, utc(2026, 3, 30, 7)) == "2026-03-30"


def add_headline(store: Store, commitment_id: str, title: str, at: datetime, n: int, backfill: bool = False) -> int:
    link = f"https://news.example.org/{n}"
    entry = ParsedEntry(None, link, link, title, "", (), at, None)
    ingest(store, Ingest("dawn", FeedState("dawn"), [entry], [entry], {entry.key: [EntryMatch(commitment_id, ("x",))]},
                         at, backfill_before=at + timedelta(seconds=1) if backfill else None))
    return int(store.query("SELECT story_id FROM entries WHERE link = ?", (link,))[0][0])


def test_digest_window_headlines_and_statuses_before_it(store: Store) -> None:
    s = digest_settings("daily")
    t0 = utc(2026, 11, 22, 3)
    assert digest_since(store, s, t0) == t0 - timedelta(days=1)  # no digest yet: one period back
    with store.transaction() as tx:
        record_digest(tx, "2026-11-22", t0)
    now = utc(2026, 11, 23, 3)
    since = digest_since(store, s, now)
    assert since == t0
    add_headline(store, "joint-intel", "Before the window", t0 - timedelta(hours=1), 1)
    add_headline(store, "joint-intel", "Old news seen on first poll", t0 + timedelta(hours=1), 2, backfill=True)
    dismissed = add_headline(store, "joint-intel", "Cricket, not intelligence", t0 + timedelta(hours=2), 3)
    record_verdict(store, dismissed, "joint-intel", IRRELEVANT, 1, t0 + timedelta(hours=2))
    add_headline(store, "joint-intel", "Joint intelligence cell meets", t0 + timedelta(hours=3), 4)
    assert [h.title for h in headlines_since(store, since)] == ["Joint intelligence cell meets"]
    cat = catalog(pledge())
    sync_toml_statuses(store, cat, t0 - timedelta(days=3))
    mark(store, "joint-intel", Status.STALLED, t0 - timedelta(days=1), actor="ed", actor_id=1)
    mark(store, "joint-intel", Status.IN_PROGRESS, t0 + timedelta(hours=1), actor="ed", actor_id=1)
    assert status_before(store, since) == {"joint-intel": Status.STALLED}
    assert status_before(store, t0 - timedelta(days=10)) == {}


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        digest_due(store, digest_settings("daily"), datetime(2026, 11, 23, 9))
    status_of: StatusOf = toml_status
    with pytest.raises(ValueError):
        due_reminders(store, catalog(pledge()), status_of, datetime(2026, 11, 23, 9))
