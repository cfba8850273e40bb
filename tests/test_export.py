"""`pledgewatch export`: JSON, CSV and iCalendar from the TOML and a real state database, read back and checked."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import icalendar
import pytest

from bot import cli_export
from bot.agenda import standing
from bot.cli import build_parser, main
from bot.clock import FakeClock
from bot.config import load_config
from bot.curation import record_verdict
from bot.export import CSV_COLUMNS, ExportData, csv_cell, effective_status, event_uid, export_ics
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.ics import MAX_OCTETS, duration, escape_text, fold
from bot.model import Status
from bot.parse import ParsedEntry
from bot.statuses import StatusChange, mark, sync_toml_statuses
from bot.store import Store
from bot.views import commitment_json
from tests.conftest import REPO
from tests.support.cli import run_command

NOW = datetime(2020, 12, 1, 6, 0, tzinfo=timezone.utc)
SYNCED = datetime(2020, 11, 20, 8, 0, tzinfo=timezone.utc)
MARKED = datetime(2020, 11, 25, 12, 0, tzinfo=timezone.utc)


def run(*argv: str, env: dict[str, str] | None = None, now: datetime = NOW) -> tuple[int, str, str]:
    """The export command through argparse exactly as the lead wires it, independent of bot/cli.py."""
    return run_command(cli_export.register, argv, clock=FakeClock(now), env=env)


def entry(n: int, title: str, published: datetime) -> ParsedEntry:
    return ParsedEntry(guid=f"g{n}", link=f"https://news.example/{n}", link_key=f"https://news.example/{n}",
                       title=title, summary="", categories=(), published=published, author=None)


@pytest.fixture
def db(config_dir: Path) -> Path:
    """A real state database: synced TOML statuses, an admin's mark, live/backfill/dismissed matches, curated evidence."""
    path = config_dir / "state.sqlite3"
    store = Store.open(path)
    try:
        sync_toml_statuses(store, load_config(config_dir).catalog, SYNCED)
        mark(store, "joint-intel", Status.IN_PROGRESS, MARKED, actor="@editor", actor_id=4242,
             evidence_url="https://news.example/1", note="talks resumed")
        old, fresh = entry(1, "Old story, before the feed was added", SYNCED - timedelta(days=9)), \
            entry(2, "Kabul and Islamabad revive joint intelligence work", MARKED)
        noise, visit = entry(3, "Joint intelligence of bees", MARKED), entry(4, "Ghani to visit Islamabad; dates set", MARKED)
        hits = {"g1": "joint-intel", "g2": "joint-intel", "g3": "joint-intel", "g4": "reciprocal-visit"}
        batch = [old, fresh, noise, visit]
        matches = {e.key: [EntryMatch(hits[e.guid or ""], ("intelligence",))] for e in batch}
        ingest(store, Ingest("local", FeedState("local"), batch, batch, matches, MARKED,
                             backfill_before=SYNCED - timedelta(days=2)))
        story = {r["title"]: r["story_id"] for r in store.query("SELECT title, story_id FROM entries")}
        record_verdict(store, story[noise.title], "joint-intel", "irrelevant", 4242, MARKED)
        record_verdict(store, story[visit.title], "reciprocal-visit", "evidence", 4242, MARKED)
    finally:
        store.close()
    return path


def test_json_has_effective_status_history_evidence_deadlines_and_match_counts(config_dir, db):
    code, out, err = run("export", "--format", "json", "--config-dir", str(config_dir), "--db", str(db))
    assert code == 0, err
    data = json.loads(out)
    by_id = {c["id"]: c for c in data["commitments"]}
    intel, visit = by_id["joint-intel"], by_id["reciprocal-visit"]
    catalog = load_config(config_dir).catalog
    same_shape = commitment_json(standing(catalog.by_id["joint-intel"], NOW, catalog.settings.tz), NOW)
    assert set(same_shape) <= set(intel)  # `status --json`'s shape, extended
    assert intel["status"] == "in_progress"
    assert [(h["status"], h["source"], h["actor"]) for h in intel["status_history"]] == [
        ("pending", "commitments.toml", None), ("in_progress", "telegram", "@editor")]
    assert "4242" not in out  # Telegram's numeric user ids stay in the database
    assert intel["matches"] == {"live": 1, "backfill": 1, "dismissed": 1, "latest": "2020-11-25T12:00:00+00:00"}
    assert visit["deadline"]["written"] == "2021-Q1" and visit["deadline"]["due"] == "2021-03-31"
    assert visit["deadline"]["start"] == "2021-01-01" and visit["deadline"]["label"] == "by end of Q1 2021"
    assert [e["title"] for e in visit["curated_evidence"]] == ["Ghani to visit Islamabad; dates set"]
    assert visit["curated_evidence"][0]["url"] == "https://news.example/4"
    assert data["timezone"] == "Asia/Karachi" and data["agreements"][0]["id"] == "shared-vision"


def test_a_toml_status_the_bot_has_not_recorded_yet_wins(config_dir, db):
    path = config_dir / "commitments.toml"
    path.write_text(path.read_text().replace('keywords = ["Ghani AND Islamabad"]',
                                             'keywords = ["Ghani AND Islamabad"]\nstatus = "stalled"'))
    code, out, _ = run("export", "--format", "json", "--config-dir", str(config_dir), "--db", str(db))
    visit = next(c for c in json.loads(out)["commitments"] if c["id"] == "reciprocal-visit")
    assert visit["status"] == "stalled" and visit["status_history"][-1]["at"] is None
    commitment = load_config(config_dir).catalog.by_id["joint-intel"]
    marked = StatusChange("joint-intel", Status.MET, "telegram", MARKED)
    assert effective_status(commitment, (StatusChange("joint-intel", Status.PENDING, "commitments.toml", SYNCED), marked)) \
        is Status.MET
    assert effective_status(commitment, (marked,)) is Status.PENDING  # TOML never recorded: it is the newer word


def test_csv_is_bom_utf8_one_flat_row_per_commitment(config_dir, db, tmp_path):
    path = config_dir / "commitments.toml"
    path.write_text(path.read_text().replace('title = "Ghani visits Islamabad"',
                                             'title = "Ghani visits Islamabad"\nquote = "=HYPERLINK(\\"x\\")"\n'
                                             'responsible = ["Afghanistan", "پاکستان"]'), encoding="utf-8")
    target = tmp_path / "out.csv"
    code, _, err = run("export", "--format", "csv", "-o", str(target), "--config-dir", str(config_dir), "--db", str(db))
    assert code == 0 and "wrote csv" in err
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") >= 3
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["id"] for r in rows] == ["joint-intel", "reciprocal-visit"]
    intel, visit = rows
    assert intel["status"] == "in_progress" and intel["matches_live"] == "1" and intel["matches_backfill"] == "1"
    assert intel["status_history"].splitlines()[1].startswith("2020-11-25T12:00:00+00:00 in_progress (telegram) by @editor")
    assert visit["deadline_written"] == "2021-Q1" and visit["deadline_due"] == "2021-03-31"
    assert visit["deadline_fuzzy"] == "true" and visit["days_left"] == "120"
    assert visit["responsible"] == "Afghanistan; پاکستان"
    assert visit["quote"] == "'=HYPERLINK(\"x\")"  # never a live formula in a spreadsheet
    assert "Ghani to visit Islamabad; dates set <https://news.example/4>" in visit["curated_evidence"]
    assert csv_cell(-168) == "-168" and csv_cell("-1 trick") == "'-1 trick" and csv_cell(None) == ""


def test_without_a_database_the_toml_alone_is_exported_and_no_file_is_created(config_dir):
    code, out, err = run("export", "--format", "json", "--config-dir", str(config_dir))
    assert code == 0 and "no state database" in err and not (config_dir / "pledgewatch.sqlite3").exists()
    data = json.loads(out)
    assert [c["status"] for c in data["commitments"]] == ["pending", "pending"]
    assert data["commitments"][0]["status_history"] == [] and data["commitments"][0]["matches"]["live"] == 0


def ics(config_dir: Path, tmp_path: Path, name: str, now: datetime = NOW, *extra: str) -> tuple[bytes, icalendar.Calendar]:
    target = tmp_path / name
    code, _, err = run("export", "--format", "ics", "-o", str(target), "--config-dir", str(config_dir), *extra, now=now)
    assert code == 0, err
    raw = target.read_bytes()
    return raw, icalendar.Calendar.from_ical(raw)


def events(cal: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_ics_bundled_catalog_all_day_events_alarms_and_fuzzy_deadline(tmp_path):
    raw, cal = ics(REPO, tmp_path, "bundled.ics")
    catalog = load_config(REPO).catalog
    dated = [c for c in catalog.commitments if c.current_deadline]
    assert len(dated) < len(catalog.commitments)  # ongoing pledges have no day, so no event
    found = events(cal)
    assert set(found) == {event_uid(c.id) for c in dated}
    visit = found[event_uid("sv-ghani-reciprocal-visit")]
    assert visit.decoded("DTSTART") == date(2021, 3, 31) and visit.decoded("DTEND") == date(2021, 4, 1)
    assert "due by end of Q1 2021" in str(visit["SUMMARY"])
    description = str(visit["DESCRIPTION"])
    assert "1 Jan 2021 – 31 Mar 2021" in description and "Status: not yet rated" in description
    assert "reciprocal visit to Islamabad" in description and "Source: https://" in description
    triggers = [a.decoded("TRIGGER") for a in visit.walk("VALARM")]
    assert triggers == [timedelta(days=-30, hours=9), timedelta(days=-7, hours=9), timedelta(days=-1, hours=9),
                        timedelta(hours=9)]  # each lead day and the due day at remind_at (09:00)
    assert all(str(a["ACTION"]) == "DISPLAY" and a.get("DESCRIPTION") for a in visit.walk("VALARM"))
    assert cal.walk("VEVENT")[0].decoded("DTSTAMP") == NOW
    assert not [c.errors for c in cal.walk() if c.errors]  # icalendar found nothing it had to guess at
    assert all(len(line) <= MAX_OCTETS for line in raw.split(b"\r\n")) and b"\n" not in raw.replace(b"\r\n", b"")


def test_ics_uid_stable_and_sequence_and_last_modified_move_when_a_deadline_is_revised(config_dir, tmp_path):
    path = config_dir / "commitments.toml"
    os.utime(path, (SYNCED.timestamp(), SYNCED.timestamp()))
    _, first = ics(config_dir, tmp_path, "first.ics")
    path.write_text(path.read_text().replace(
        'deadline = "2021-Q1"\n',
        'deadline = "2021-Q1"\nrevised = [{ date = "late 2021-06", source = "https://x.example/p", note = "postponed" }]\n'
        'remind_before = ["3d"]\n'))
    os.utime(path, (MARKED.timestamp(), MARKED.timestamp()))
    _, second = ics(config_dir, tmp_path, "second.ics", NOW + timedelta(days=1))
    before, after = events(first), events(second)
    assert set(before) == set(after) == {"joint-intel@pledgewatch", "reciprocal-visit@pledgewatch"}
    old, new = before["reciprocal-visit@pledgewatch"], after["reciprocal-visit@pledgewatch"]
    assert old.decoded("DTSTART") == date(2021, 3, 31) and new.decoded("DTSTART") == date(2021, 6, 30)
    assert (old["SEQUENCE"], new["SEQUENCE"]) == (0, 1)
    assert old.decoded("LAST-MODIFIED") == SYNCED and new.decoded("LAST-MODIFIED") == MARKED
    assert "late June 2021" in str(new["SUMMARY"]) and "Originally: by end of Q1 2021" in str(new["DESCRIPTION"])
    assert [a.decoded("TRIGGER") for a in new.walk("VALARM")] == [timedelta(days=-3, hours=9), timedelta(hours=9)]
    intel = after["joint-intel@pledgewatch"]  # agreed 19 Nov: the 30-day lead would predate the pledge
    assert [a.decoded("TRIGGER") for a in intel.walk("VALARM")] == [timedelta(days=-7, hours=9),
                                                                     timedelta(days=-1, hours=9), timedelta(hours=9)]


def test_ics_escapes_and_folds_commas_semicolons_newlines_backslashes_and_unicode(config_dir, tmp_path):
    path = config_dir / "commitments.toml"
    title = "Open Torkham, Chaman; and طورخم \\ چمن crossings"
    quote = "Line one, with a comma;\nline two — «پاکستان اور افغانستان» " + "سرحد " * 30
    path.write_text(path.read_text().replace(
        'title = "Ghani visits Islamabad"',
        f'title = "{title.replace(chr(92), chr(92) * 2)}"\nquote = """{quote}"""\ntags = ["border", "trade"]\n'
        'status = "met"'), encoding="utf-8")
    raw, cal = ics(config_dir, tmp_path, "escaped.ics")
    visit = events(cal)["reciprocal-visit@pledgewatch"]
    assert str(visit["SUMMARY"]) == f"[met] {title} — due by end of Q1 2021"
    assert quote.strip() in str(visit["DESCRIPTION"]) and list(visit.walk("VALARM")) == []  # final: no reminders
    assert visit["CATEGORIES"].cats == ["border", "trade"]
    text = raw.decode("utf-8")
    assert "Torkham\\, Chaman\\; and" in text.replace("\r\n ", "") and "comma\\;\\nline two" in text.replace("\r\n ", "")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) == MAX_OCTETS  # long lines really were folded, to the limit
    for line in lines:
        line.decode("utf-8")  # raises if a fold split a character: every physical line must be whole UTF-8


def test_writer_units():
    assert escape_text("a,b;c\\d\r\ne\x07") == "a\\,b\\;c\\\\d\\ne "
    folded = fold("DESCRIPTION:" + "ب" * 100)
    assert all(len(part.encode()) <= MAX_OCTETS for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == "DESCRIPTION:" + "ب" * 100
    assert [duration(d) for d in (timedelta(days=-29, hours=-15), timedelta(hours=9), timedelta(0),
                                  timedelta(hours=1, seconds=5), timedelta(days=-1))] == \
        ["-P29DT15H", "PT9H", "PT0S", "PT1H0M5S", "-P1D"]
    assert "LAST-MODIFIED" not in export_ics(ExportData(load_config(REPO).catalog), NOW)  # unknown: left out


def test_stdout_without_output_file(config_dir):
    code, out, _ = run("export", "--format", "ics", "--config-dir", str(config_dir))
    assert code == 0 and out.startswith("BEGIN:VCALENDAR\r\n") and out.endswith("END:VCALENDAR\r\n")


def test_wired_into_the_main_cli(config_dir):
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    if "export" not in commands:
        pytest.skip("`export` is not wired into bot/cli.py yet")
    out, err = io.StringIO(), io.StringIO()
    code = main(["export", "--format", "csv", "--config-dir", str(config_dir)], env={}, clock=FakeClock(NOW),
                out=out, err=err)
    assert code == 0 and out.getvalue().startswith("\ufeffid,agreement,")
