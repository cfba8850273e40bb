"""Validation for people who edit TOML by hand: every problem at once, each located and explained."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from bot.config import check_config, load_config
from bot.errors import ConfigError
from bot.model import Status
from tests.support.fixtures import MINIMAL_COMMITMENTS, MINIMAL_FEEDS, only, problems_for


def test_minimal_files_load(config_dir):
    config = load_config(config_dir)
    cat = config.catalog
    assert cat.settings.timezone == "Asia/Karachi" and cat.settings.remind_at == time(9, 0)
    assert cat.settings.remind_before == (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    assert [c.id for c in cat.commitments] == ["joint-intel", "reciprocal-visit"]
    intel = cat.by_id["joint-intel"]
    assert intel.agreed == date(2020, 11, 19)  # defaults to the agreement's signed date
    assert intel.deadline.due == date(2020, 12, 15) and intel.status is Status.PENDING
    assert config.feeds.feeds[0].interval == timedelta(minutes=30)


def test_syntax_error_has_line(tmp_path):
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS + 'broken = "unterminated\n'))
    assert "commitments.toml:26:" in msg and "TOML syntax error" in msg and "close it with a quote" in msg


def test_date_that_does_not_exist_in_toml_literal(tmp_path):
    text = MINIMAL_COMMITMENTS.replace("deadline = 2020-12-15", "deadline = 2021-02-30")
    msg = only(problems_for(tmp_path, text))
    assert "commitments.toml:16:" in msg and "must exist on the calendar" in msg


def test_date_that_does_not_exist_as_string(tmp_path):
    text = MINIMAL_COMMITMENTS.replace("deadline = 2020-12-15", 'deadline = "2021-02-30"')
    msg = only(problems_for(tmp_path, text))
    assert msg == ("%s:16: commitment 'joint-intel': key 'deadline': '2021-02-30' is not a date that exists"
                   % (tmp_path / "commitments.toml"))


def test_unknown_key_suggests_near_miss(tmp_path):
    text = MINIMAL_COMMITMENTS.replace("deadline = 2020-12-15", "deadlne = 2020-12-15")
    msg = only(problems_for(tmp_path, text))
    assert ":16: commitment 'joint-intel': key 'deadlne': unknown key; did you mean 'deadline'?" in msg


def test_unknown_key_far_from_anything_lists_valid_keys(tmp_path):
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS.replace('title = "Ghani', 'colour = "red"\ntitle = "Ghani')))
    assert "key 'colour': unknown key; valid keys:" in msg and "deadline" in msg


def test_wrong_types(tmp_path):
    text = (MINIMAL_COMMITMENTS.replace('title = "Ghani visits Islamabad"', "title = 42")
            .replace('keywords = ["Ghani AND Islamabad"]', 'keywords = "Ghani"'))
    problems = problems_for(tmp_path, text)
    assert any("key 'title': expected a string, got a whole number 42" in p for p in problems)
    assert any("key 'keywords': expected a list, got a string 'Ghani'" in p for p in problems)


def test_duplicate_ids_point_at_first(tmp_path):
    text = MINIMAL_COMMITMENTS.replace('id = "reciprocal-visit"', 'id = "joint-intel"')
    msg = only(problems_for(tmp_path, text))
    assert ":21: commitment 'joint-intel': key 'id': duplicate commitment id 'joint-intel' (first defined at line 13)" in msg


def test_unknown_agreement_suggests(tmp_path):
    text = MINIMAL_COMMITMENTS.replace('agreement = "shared-vision"\ntitle = "Ghani', 'agreement = "shared-vison"\ntitle = "Ghani')
    msg = only(problems_for(tmp_path, text))
    assert "commitment 'reciprocal-visit': key 'agreement': unknown agreement 'shared-vison'; did you mean 'shared-vision'?" in msg


def test_unknown_status_lists_valid(tmp_path):
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS.replace('status = "pending"', 'status = "done"')))
    assert "key 'status': unknown status 'done'; valid: pending, in_progress, stalled, partial, met, missed" in msg
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS.replace('status = "pending"', 'status = "mett"')))
    assert "did you mean 'met'?" in msg


def test_bad_durations(tmp_path):
    text = MINIMAL_COMMITMENTS.replace('["30d", "7d", "1d"]', '["30d", "a week"]').replace('"7d"\n', '"7 days"\n')
    problems = problems_for(tmp_path, text)
    assert any("key 'remind_before[1]': 'a week' is not a duration such as" in p for p in problems)
    assert any("key 'overdue_every': '7 days' is not a duration such as" in p for p in problems)
    msg = only(problems_for(tmp_path, feeds=MINIMAL_FEEDS.replace('"30m"', '"30 minutes"')))
    assert "feeds.toml:1: key 'interval'" in msg


def test_unknown_timezone(tmp_path):
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS.replace("Asia/Karachi", "Asia/Karachii")))
    assert ":1: key 'timezone': unknown timezone 'Asia/Karachii'; use an IANA name" in msg


def test_bad_remind_at(tmp_path):
    msg = only(problems_for(tmp_path, MINIMAL_COMMITMENTS.replace('"09:00"', '"25:00"')))
    assert "key 'remind_at': expected a 24-hour local time" in msg


@pytest.mark.parametrize(
    "query, fragment",
    [
        ('"joint intel', "unterminated phrase"),
        ("(trade OR transit", "parenthes"),
        ("trade AND", "AND"),
        ("", "empty"),
        ("   ", "empty"),
        ("NOT cricket", "NOT"),
        ("NEAR(imran ghani, x)", "NEAR"),
    ],
)
def test_bad_keyword_queries_name_commitment_and_position(tmp_path, query, fragment):
    text = MINIMAL_COMMITMENTS.replace('keywords = ["Ghani AND Islamabad"]',
                                       "keywords = ['Ghani', 'Islamabad', '" + query + "']")
    msg = only(problems_for(tmp_path, text))
    assert "commitment 'reciprocal-visit': key 'keywords[2]': " in msg and fragment in msg


def test_unicode_and_proximity_queries_are_valid(tmp_path):
    text = MINIMAL_COMMITMENTS.replace('keywords = ["Ghani AND Islamabad"]',
                                       'keywords = ["پاکستان AND افغانستان", "NEAR(Ghani Islamabad, 5)", "refugee*", "طورخم"]')
    assert problems_for(tmp_path, text) == []


def test_empty_and_garbage_files(tmp_path):
    assert "no [[commitment]] tables" in only(problems_for(tmp_path, ""))
    (tmp_path / "commitments.toml").write_bytes(b"\xff\xfe\x00garbage\x89PNG")
    assert "not UTF-8 text" in only([str(p) for p in check_config(tmp_path)[1]])
    (tmp_path / "commitments.toml").write_text("x" * 6_000_000)
    assert "over the 5,000,000-byte limit" in only([str(p) for p in check_config(tmp_path)[1]])
    (tmp_path / "commitments.toml").unlink()
    assert "file not found" in only([str(p) for p in check_config(tmp_path)[1]])


def test_every_problem_reported_at_once(tmp_path):
    text = (MINIMAL_COMMITMENTS.replace('status = "pending"', 'status = "done"')
            .replace("deadline = 2020-12-15", "deadlne = 2020-12-15")
            .replace('"2021-Q1"', '"2021-Q7"'))
    problems = problems_for(tmp_path, text, MINIMAL_FEEDS.replace('id = "local"', 'id = "Local Feed"'))
    assert len(problems) == 4
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert len(info.value.problems) == 4


def test_revisions_and_evidence(tmp_path):
    text = MINIMAL_COMMITMENTS.replace('status = "pending"', '''status = "in_progress"
revised = [{ date = "2021-Q1", source = "https://example.org/moved", note = "postponed" }]
evidence = [{ url = "https://example.org/e", date = 2020-12-20, note = "meeting held" }]
implementation = 1''')
    assert problems_for(tmp_path, text) == []
    cat = load_config(tmp_path).catalog
    c = cat.by_id["joint-intel"]
    assert c.deadline.due == date(2020, 12, 15) and c.current_deadline.due == date(2021, 3, 31)
    assert c.revisions[0].note == "postponed" and c.evidence[0].date == date(2020, 12, 20)
    bad = MINIMAL_COMMITMENTS.replace('status = "pending"', 'revised = [{ date = "someday", sauce = "x" }]')
    problems = problems_for(tmp_path, bad)
    assert any("key 'revised[0]': unknown key 'sauce'; did you mean 'source'?" in p for p in problems)
    assert any("key 'revised[0].date': 'someday' is not a deadline" in p for p in problems)


def test_feed_problems(tmp_path):
    feeds = MINIMAL_FEEDS + '\n[[feed]]\nid = "ftp"\nurl = "ftp://example.org/x"\nenabled = "yes"\n'
    problems = problems_for(tmp_path, feeds=feeds)
    assert any("feed 'ftp': key 'url': unsupported URL scheme 'ftp'" in p for p in problems)
    assert any("feed 'ftp': key 'enabled': expected true or false, got a string 'yes'" in p for p in problems)


def test_allow_private_hosts_override(config_dir):
    assert load_config(config_dir).feeds.settings.allow_private_hosts is False
    assert load_config(config_dir, allow_private_hosts=True).feeds.settings.allow_private_hosts is True
