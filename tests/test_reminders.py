"""The pure reminder planner and the reminder text: local times across DST, fuzzy deadlines, overdue nags."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot.agenda import standing
from bot.deadlines import parse_deadline
from bot.history import Headline
from bot.model import Agreement, Commitment, Revision, Settings, Status
from bot.reminder_messages import reminder_message, silence_days
from bot.reminders import (Slot, due_phrase, latest_due_slot, lead_days, local_instant, next_slot_after, slots,
                           whole_days)

UTC = timezone.utc
KARACHI = Settings(timezone="Asia/Karachi")
LONDON = Settings(timezone="Europe/London")
NEW_YORK = Settings(timezone="America/New_York")


def pledge(deadline: object = date(2020, 12, 15), **kw: object) -> Commitment:
    """A commitment with only what the planner reads, plus any field under test."""
    kw.setdefault("agreement", "shared-vision")
    kw.setdefault("title", "Re-energise joint intelligence work")
    return Commitment(id=str(kw.pop("id", "joint-intel")), deadline=parse_deadline(deadline, kw.get("agreed")),  # type: ignore[arg-type]
                      **kw)  # type: ignore[arg-type]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def plan(c: Commitment, s: Settings, until: datetime, status: Status | None = None) -> list[Slot]:
    return list(slots(c, s, status, until))


# local times -------------------------------------------------------------------------------------

def test_lead_reminders_fire_at_0900_karachi_time() -> None:
    got = plan(pledge(), KARACHI, utc(2020, 12, 29, 23))
    assert [(s.at, s.kind, s.days) for s in got] == [
        (utc(2020, 11, 15, 4), "lead", 30),  # 09:00 PKT is 04:00 UTC, all year round
        (utc(2020, 12, 8, 4), "lead", 7),
        (utc(2020, 12, 14, 4), "lead", 1),
        (utc(2020, 12, 15, 4), "due", 0),
        (utc(2020, 12, 22, 4), "overdue", -7),
        (utc(2020, 12, 29, 4), "overdue", -14),
    ]
    assert {s.at.astimezone(ZoneInfo("Asia/Karachi")).time() for s in got} == {time(9, 0)}
    assert all(s.due == date(2020, 12, 15) for s in got)


def test_london_reminders_stay_at_0900_local_across_the_spring_change() -> None:
    # clocks go forward on Sunday 29 March 2026: GMT (UTC+0) before, BST (UTC+1) after
    got = plan(pledge(date(2026, 4, 2)), LONDON, utc(2026, 4, 2, 23))
    assert [(s.at, s.days) for s in got] == [
        (utc(2026, 3, 3, 9), 30), (utc(2026, 3, 26, 9), 7), (utc(2026, 4, 1, 8), 1), (utc(2026, 4, 2, 8), 0)]
    assert {s.at.astimezone(LONDON.tz).strftime("%H:%M") for s in got} == {"09:00"}


def test_new_york_reminders_stay_at_0900_local_across_the_autumn_change() -> None:
    # clocks go back on Sunday 1 November 2026: EDT (UTC-4) before, EST (UTC-5) after
    got = plan(pledge(date(2026, 11, 5)), NEW_YORK, utc(2026, 11, 12, 23))
    assert [(s.at, s.kind) for s in got][1:] == [
        (utc(2026, 10, 29, 13), "lead"), (utc(2026, 11, 4, 14), "lead"), (utc(2026, 11, 5, 14), "due"),
        (utc(2026, 11, 12, 14), "overdue")]
    assert {s.at.astimezone(NEW_YORK.tz).strftime("%H:%M") for s in got} == {"09:00"}


def test_nonexistent_local_time_moves_later_and_ambiguous_time_takes_its_first_occurrence() -> None:
    tz = NEW_YORK.tz
    skipped = local_instant(date(2026, 3, 8), time(2, 30), tz)  # 02:00-03:00 does not exist that night
    assert skipped == utc(2026, 3, 8, 7, 30) and skipped.astimezone(tz).strftime("%H:%M %Z") == "03:30 EDT"
    doubled = local_instant(date(2026, 11, 1), time(1, 30), tz)  # 01:00-02:00 happens twice
    assert doubled == utc(2026, 11, 1, 5, 30) and doubled.astimezone(tz).strftime("%H:%M %Z") == "01:30 EDT"
    # via the planner: exactly one due-day slot at the shifted time, none lost, none doubled
    s = Settings(timezone="America/New_York", remind_at=time(2, 30))
    due = [x for x in plan(pledge(date(2026, 3, 8)), s, utc(2026, 3, 9)) if x.kind == "due"]
    assert due == [Slot(utc(2026, 3, 8, 7, 30), "due", 0, date(2026, 3, 8))]


# plan shape --------------------------------------------------------------------------------------

def test_fuzzy_deadline_plans_from_its_last_day_and_says_by_end_of() -> None:
    c = pledge("2021-Q1", id="reciprocal-visit")
    got = plan(c, KARACHI, utc(2021, 3, 31, 12))
    assert [(s.at.date(), s.kind) for s in got] == [
        (date(2021, 3, 1), "lead"), (date(2021, 3, 24), "lead"), (date(2021, 3, 30), "lead"), (date(2021, 3, 31), "due")]
    now = utc(2021, 3, 24, 5)
    slot = latest_due_slot(c, KARACHI, Status.PENDING, now)
    assert slot is not None and slot.days == 7
    msg = reminder_message(standing(c, now, KARACHI.tz), slot, [], None, timedelta(days=30), now, tz=KARACHI.tz)
    assert "Reminder: due in 7 days" in msg.text
    assert "Due by end of Q1 2021 (last day: 31 Mar 2021)" in msg.text
    assert msg.kind == "reminder"


def test_per_commitment_remind_before_overrides_the_top_level() -> None:
    own = pledge(remind_before=(timedelta(days=3), timedelta(hours=36)))
    assert lead_days(own, KARACHI) == (3, 2)
    assert [s.days for s in plan(own, KARACHI, utc(2020, 12, 15, 12))] == [3, 2, 0]
    assert lead_days(pledge(), KARACHI) == (30, 7, 1)


def test_durations_round_to_whole_days_and_a_lead_is_at_least_one_day() -> None:
    assert [whole_days(timedelta(hours=h)) for h in (1, 12, 35, 36, 24 * 30)] == [1, 1, 1, 2, 30]


def test_overdue_reminders_repeat_every_overdue_every_without_end() -> None:
    overdue = [s for s in islice(slots(pledge(), KARACHI), 10) if s.kind == "overdue"]
    assert [s.days for s in overdue] == [-7, -14, -21, -28, -35, -42]
    assert [s.at for s in overdue[:2]] == [utc(2020, 12, 22, 4), utc(2020, 12, 29, 4)]
    every3 = Settings(timezone="Asia/Karachi", overdue_every=timedelta(days=3))
    assert [s.days for s in plan(pledge(), every3, utc(2020, 12, 25)) if s.kind == "overdue"] == [-3, -6, -9]


def test_lead_slots_before_the_pledge_was_agreed_are_dropped() -> None:
    c = pledge(date(2020, 12, 15), agreed=date(2020, 11, 19))  # 30 days before is 15 Nov: no pledge yet
    assert [s.days for s in plan(c, KARACHI, utc(2020, 12, 15, 12))] == [7, 1, 0]


def test_final_status_and_undated_pledges_have_no_slots() -> None:
    c, now = pledge(), utc(2021, 6, 1)
    for final in (Status.MET, Status.PARTIAL, Status.MISSED):
        assert plan(c, KARACHI, now, final) == []
        assert latest_due_slot(c, KARACHI, final, now) is None
        assert next_slot_after(c, KARACHI, final, now) is None
    assert latest_due_slot(c, KARACHI, Status.STALLED, now) is not None
    ongoing = Commitment("no-soil", "shared-vision", "Neither side's soil used against the other")
    assert plan(ongoing, KARACHI, now) == [] and next_slot_after(ongoing, KARACHI, None, now) is None


def test_a_revised_deadline_replans_with_new_slot_keys() -> None:
    original = pledge()
    revised = replace(original, revisions=(Revision(parse_deadline("2021-02")),))
    now = utc(2021, 1, 10)
    before = latest_due_slot(original, KARACHI, Status.PENDING, now)
    after = latest_due_slot(revised, KARACHI, Status.PENDING, now)
    assert before is not None and before.kind == "overdue" and before.key == "2020-12-15/overdue/21d"
    assert after is None  # the 30-day lead of 28 Feb is 29 Jan: no more overdue nags, nothing due yet
    upcoming = next_slot_after(revised, KARACHI, Status.PENDING, now)
    assert upcoming == Slot(utc(2021, 1, 29, 4), "lead", 30, date(2021, 2, 28))
    assert upcoming.key == "2021-02-28/lead/30d"


def test_latest_and_next_slot_at_the_boundaries() -> None:
    c = pledge()
    assert latest_due_slot(c, KARACHI, None, utc(2020, 11, 15, 3, 59)) is None
    first = latest_due_slot(c, KARACHI, None, utc(2020, 11, 15, 4))
    assert first is not None and first.days == 30  # a slot is due from its instant on, inclusive
    assert next_slot_after(c, KARACHI, None, utc(2020, 11, 15, 4)) == Slot(utc(2020, 12, 8, 4), "lead", 7, date(2020, 12, 15))
    # due day before 09:00 local: yesterday's 1-day lead is still the latest
    latest = latest_due_slot(c, KARACHI, None, utc(2020, 12, 15, 3))
    assert latest is not None and latest.kind == "lead" and latest.days == 1
    # years later: the overdue slot of this very week, computed without walking the whole plan
    late = latest_due_slot(c, KARACHI, None, utc(2026, 11, 23, 10))
    assert late == Slot(utc(2026, 11, 17, 4), "overdue", -2163, date(2020, 12, 15))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        latest_due_slot(pledge(), KARACHI, None, datetime(2021, 1, 1))


ZONES = ("Asia/Karachi", "Europe/London", "America/New_York", "Australia/Lord_Howe", "UTC")


@hsettings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), due=st.dates(date(2019, 1, 1), date(2030, 12, 31)),
       at=st.times(), every=st.integers(1, 10), offset=st.integers(-40 * 24, 200 * 24))
def test_latest_and_next_agree_with_walking_the_plan(zone: str, due: date, at: time, every: int, offset: int) -> None:
    """Direct arithmetic equals the lazy generator, in zones with and without DST (Lord Howe shifts 30 min)."""
    s = Settings(timezone=zone, remind_at=at.replace(microsecond=0), overdue_every=timedelta(days=every))
    c = pledge(due)
    now = datetime.combine(due, time(12), tzinfo=UTC) + timedelta(hours=offset, minutes=17)
    walked = plan(c, s, now)
    assert walked == sorted(walked) and len({x.key for x in walked}) == len(walked)
    assert latest_due_slot(c, s, None, now) == (walked[-1] if walked else None)
    following = next(x for x in slots(c, s) if x.at > now)
    assert next_slot_after(c, s, None, now) == following


# reminder text -----------------------------------------------------------------------------------

def headline(title: str, day: date, feed: str = "dawn", story: int = 1) -> Headline:
    return Headline("joint-intel", title, f"https://example.com/{story}", feed,
                    datetime.combine(day, time(20), tzinfo=UTC), ("joint intelligence",), story)


def test_reminder_text_carries_quote_source_lead_and_linked_evidence() -> None:
    c = pledge(quote="By December 15, 2020, both the countries would be re-energizing <joint> work",
               source="https://archive.pakistantoday.com.pk/2020/11/19/shared-vision", lead="Intelligence services")
    now = utc(2020, 12, 14, 4)
    slot = latest_due_slot(c, KARACHI, None, now)
    assert slot is not None
    news = [headline("Pakistan & Afghanistan revive joint intelligence", date(2020, 12, 10))]
    msg = reminder_message(standing(c, now, KARACHI.tz), slot, news, news[0].published, timedelta(days=30), now,
                           tz=KARACHI.tz, feed_names={"dawn": "Dawn"}, agreement=Agreement("shared-vision", "A Shared Vision"))
    assert msg.text.splitlines()[0] == "⏳ Reminder: due in 1 day"
    assert "Due by 15 Dec 2020" in msg.text and "Lead: Intelligence services" in msg.text
    assert "Agreement: A Shared Vision" in msg.text
    assert "“By December 15, 2020, both the countries would be re-energizing <joint> work”" in msg.text
    assert ('Source: <a href="https://archive.pakistantoday.com.pk/2020/11/19/shared-vision">'
            'archive.pakistantoday.com.pk</a>') in msg.html
    assert "&lt;joint&gt;" in msg.html and "<joint>" not in msg.html  # escaped, never markup
    assert '<a href="https://example.com/1">Pakistan &amp; Afghanistan revive joint intelligence</a> — Dawn · 11 Dec 2020' in msg.html
    assert "No related news" not in msg.text  # 3 days old: no silence note


def test_wording_follows_the_days_left_now_not_the_slot_that_was_missed() -> None:
    c = pledge()
    missed = Slot(utc(2020, 12, 8, 4), "lead", 7, date(2020, 12, 15))
    for now, words in ((utc(2020, 12, 12, 4), "due in 3 days"), (utc(2020, 12, 15, 10), "due today"),
                       (utc(2020, 12, 20, 4), "overdue by 5 days")):
        msg = reminder_message(standing(c, now, KARACHI.tz), missed, [], None, timedelta(days=30), now, tz=KARACHI.tz)
        assert f"Reminder: {words}" in msg.text
    assert [due_phrase(d) for d in (2, 1, 0, -1, -9)] == [
        "due in 2 days", "due in 1 day", "due today", "overdue by 1 day", "overdue by 9 days"]


def test_silence_before_a_deadline_is_reported() -> None:
    c, now = pledge(), utc(2020, 12, 8, 4)
    slot = latest_due_slot(c, KARACHI, None, now)
    assert slot is not None
    item = standing(c, now, KARACHI.tz)
    old = utc(2020, 10, 20, 12)  # 48 days before now
    quiet = reminder_message(item, slot, [], old, timedelta(days=30), now, tz=KARACHI.tz)
    assert "No related news seen since 20 Oct 2020." in quiet.text
    assert "🔇 No related news in the last 48 days (silence is news too)." in quiet.text
    stale = reminder_message(item, slot, [headline("Old story", date(2020, 10, 20))], old, timedelta(days=30), now,
                             tz=KARACHI.tz)
    assert "Old story" in stale.text and "No related news in the last 48 days" in stale.text
    never = reminder_message(item, slot, [], None, timedelta(days=30), now, tz=KARACHI.tz)
    assert "No related news seen yet." in never.text and "No related news in the last 30 days" in never.text
    fresh = reminder_message(item, slot, [], None, timedelta(days=30), now, tz=KARACHI.tz, watching_since=now - timedelta(days=2))
    assert "No related news seen yet." in fresh.text and "🔇" not in fresh.text  # watching for 2 days proves nothing
    assert silence_days(utc(2020, 11, 8, 5), timedelta(days=30), now) is None  # 29.96 days: not yet
    assert silence_days(utc(2020, 11, 8, 4), timedelta(days=30), now) == 30


def test_a_citation_source_stays_text_and_unsafe_links_are_not_clickable() -> None:
    now = utc(2020, 12, 14, 4)
    for source, shown in (("Dawn, 20 Apr 2025, 'Dar in Kabul'", "Source: Dawn, 20 Apr 2025, 'Dar in Kabul'"),
                          ("javascript:alert(1)", "Source: javascript:alert(1)")):
        c = pledge(source=source)
        slot = latest_due_slot(c, KARACHI, None, now)
        assert slot is not None
        msg = reminder_message(standing(c, now, KARACHI.tz), slot, [], None, timedelta(days=30), now, tz=KARACHI.tz)
        assert shown in msg.text and "<a " not in msg.html
