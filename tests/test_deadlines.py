"""Deadline forms keep their precision, resolve to their last day, and print as people wrote them."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.deadlines import Precision, add_months, days_left, describe_days, parse_deadline
from bot.durations import format_duration, parse_duration

AGREED = date(2020, 11, 19)


@pytest.mark.parametrize(
    "value, precision, start, due, label",
    [
        (date(2020, 12, 15), Precision.DAY, date(2020, 12, 15), date(2020, 12, 15), "by 15 Dec 2020"),
        ("2021-01-01", Precision.DAY, date(2021, 1, 1), date(2021, 1, 1), "by 1 Jan 2021"),
        ("2020-12", Precision.MONTH, date(2020, 12, 1), date(2020, 12, 31), "by end of December 2020"),
        ("early 2020-12", Precision.EARLY, date(2020, 12, 1), date(2020, 12, 10), "early December 2020"),
        ("mid 2021-02", Precision.MID, date(2021, 2, 11), date(2021, 2, 20), "mid-February 2021"),
        ("late 2024-02", Precision.LATE, date(2024, 2, 21), date(2024, 2, 29), "late February 2024"),
        ("2021-Q1", Precision.QUARTER, date(2021, 1, 1), date(2021, 3, 31), "by end of Q1 2021"),
        ("2021-q4", Precision.QUARTER, date(2021, 10, 1), date(2021, 12, 31), "by end of Q4 2021"),
        ("2021", Precision.YEAR, date(2021, 1, 1), date(2021, 12, 31), "by end of 2021"),
        ("+135d", Precision.RELATIVE, AGREED, date(2021, 4, 3), "within 135 days (by 3 Apr 2021)"),
        ("+14mo", Precision.RELATIVE, AGREED, date(2022, 1, 19), "within 14 months (by 19 Jan 2022)"),
        ("+1mo", Precision.RELATIVE, AGREED, date(2020, 12, 19), "within 1 month (by 19 Dec 2020)"),
        ("+2w", Precision.RELATIVE, AGREED, date(2020, 12, 3), "within 2 weeks (by 3 Dec 2020)"),
        ("+1y", Precision.RELATIVE, AGREED, date(2021, 11, 19), "within 1 year (by 19 Nov 2021)"),
    ],
)
def test_forms_resolve_and_print(value, precision, start, due, label):
    d = parse_deadline(value, AGREED)
    assert (d.precision, d.start, d.due, d.label()) == (precision, start, due, label)
    assert d.written == (value.isoformat() if isinstance(value, date) else value)


def test_fuzzy_only_for_periods():
    assert parse_deadline("2021-Q1").fuzzy and parse_deadline("early 2020-12").fuzzy
    assert not parse_deadline(date(2020, 12, 15)).fuzzy and not parse_deadline("+3d", AGREED).fuzzy


@pytest.mark.parametrize(
    "value, message",
    [
        ("2021-02-30", "not a date that exists"),
        ("2021-13", "months run 01-12"),
        ("2021-Q5", "is not a deadline"),
        ("soon", "is not a deadline; expected a TOML date"),
        ("+0d", "positive period"),
        (42, "got int 42"),
        (datetime(2021, 1, 1, 12, 0), "has a time of day"),
    ],
)
def test_invalid_forms_say_what_is_valid(value, message):
    with pytest.raises(ValueError, match=message):
        parse_deadline(value, AGREED)


def test_relative_needs_agreed_date():
    with pytest.raises(ValueError, match="no 'agreed' date"):
        parse_deadline("+30d", None)


def test_month_arithmetic_clamps():
    assert add_months(date(2021, 1, 31), 1) == date(2021, 2, 28)
    assert add_months(date(2020, 11, 30), 3) == date(2021, 2, 28)


def test_days_left_uses_the_configured_timezone():
    due = date(2020, 12, 15)
    # 20:00 UTC on 14 Dec is already 15 Dec in Karachi (UTC+5): due today there, one day left in UTC.
    now = datetime(2020, 12, 14, 20, 0, tzinfo=timezone.utc)
    assert days_left(due, now, ZoneInfo("Asia/Karachi")) == 0
    assert days_left(due, now, ZoneInfo("UTC")) == 1
    assert days_left(due, now + timedelta(days=3), ZoneInfo("UTC")) == -2
    with pytest.raises(ValueError):
        days_left(due, datetime(2020, 12, 14), ZoneInfo("UTC"))


def test_due_end_is_last_instant_of_local_day():
    end = parse_deadline("2021-Q1").due_end(ZoneInfo("Asia/Karachi"))
    assert end.astimezone(timezone.utc) == datetime(2021, 3, 31, 18, 59, 59, 999999, tzinfo=timezone.utc)


def test_describe_days():
    assert [describe_days(n) for n in (2, 1, 0, -1, -40)] == [
        "2 days left", "1 day left", "due today", "overdue by 1 day", "overdue by 40 days"]


@pytest.mark.parametrize("text, seconds", [("30d", 30 * 86400), ("12h", 43200), ("1h30m", 5400), ("2w", 1209600), ("45s", 45)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("text", ["", "7", "7x", "-1d", "0d", "d7", "1.5d"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration such as"):
        parse_duration(text)
