"""The digest: grouped by agreement with a meter, due soon, overdue, real status changes and the period's news."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.agenda import toml_status
from bot.config import load_config
from bot.deadlines import parse_deadline
from bot.feedstate import FeedState
from bot.history import EntryMatch, Headline, Ingest, ingest
from bot.ledger import digest_since, headlines_since, record_digest, status_before
from bot.model import Agreement, Catalog, Commitment, Settings, Status
from bot.parse import ParsedEntry
from bot.digest import LIMIT, digest_message, period_title, real_changes
from bot.statuses import TOML_SOURCE, StatusChange, changes_since, effective_statuses, mark, sync_toml_statuses
from bot.store import Store
from tests.conftest import REPO

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Monday 08:00 PKT
SETTINGS = Settings(timezone="Asia/Karachi")


def pledge(cid: str, agreement: str, deadline: object | None = None, status: Status = Status.PENDING) -> Commitment:
    return Commitment(cid, agreement, f"Pledge {cid}", status=status,
                      deadline=parse_deadline(deadline) if deadline is not None else None)


def shared_vision_catalog() -> Catalog:
    """Ten pledges in one agreement (1 met, 1 partial, 3 missed, 5 pending) and two in another."""
    sv = [pledge("sv-met", "sv", "2020-12", Status.MET), pledge("sv-partial", "sv", "2021", Status.PARTIAL),
          *(pledge(f"sv-missed-{n}", "sv", "2021-Q1", Status.MISSED) for n in range(3)),
          pledge("sv-soon", "sv", date(2026, 11, 26)), pledge("sv-late", "sv", date(2026, 11, 1)),
          pledge("sv-today", "sv", date(2026, 11, 23)), pledge("sv-later", "sv", date(2027, 3, 1)), pledge("sv-ongoing", "sv")]
    kabul = [pledge("k-border", "kabul"), pledge("k-trade", "kabul", "late 2026-12")]
    agreements = (Agreement("sv", "A Shared Vision"), Agreement("kabul", "Kabul visit 2025"))
    return Catalog(SETTINGS, agreements, (*sv, *kabul))


def headline(cid: str, title: str, story: int, feed: str = "dawn") -> Headline:
    return Headline(cid, title, f"https://news.example.org/{story}", feed, NOW - timedelta(hours=5), ("x",), story)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "state.sqlite3")
    yield s
    s.close()


def section(text: str, agreement: str) -> str:
    """The block of the digest about one agreement."""
    return next(block for block in text.split("\n\n") if block.startswith(agreement))


def test_grouped_by_agreement_with_a_score_line_due_soon_overdue_and_news() -> None:
    cat = shared_vision_catalog()
    news = [headline("sv-soon", "Talks on the pledge resume", 1), headline("sv-late", "Talks on the pledge resume", 1),
            headline("k-border", "Border <crossing> reopens", 2, "tolo")]
    msg = digest_message(cat, toml_status, NOW, headlines_today=news, status_changes=[], period="2026-11-23",
                         feed_names={"dawn": "Dawn", "tolo": "TOLOnews"})
    assert msg is not None and msg.kind == "digest"
    lines = msg.text.splitlines()
    assert lines[0] == "🗞 Daily digest · Mon 23 Nov 2026"
    assert lines[1] == "Due in the next 7 days: 2 · overdue: 1 · status changes: none · new headlines: 2"
    sv = section(msg.text, "A Shared Vision")
    assert "Score: 1 met, 1 partial, 3 missed, 5 pending" in sv
    assert "• due today — Pledge sv-today (sv-today), by 23 Nov 2026" in sv
    assert "• 3 days left — Pledge sv-soon (sv-soon), by 26 Nov 2026" in sv
    assert sv.index("sv-today") < sv.index("sv-soon")  # soonest first
    assert "Overdue:\n• overdue by 22 days — Pledge sv-late (sv-late), by 1 Nov 2026" in sv
    assert "sv-later" not in sv and "sv-missed-0" not in sv  # not within a week; final statuses are never overdue
    assert sv.count("Talks on the pledge resume") == 1 and "resume <https://news.example.org/1> — Dawn · 23 Nov 2026 [sv-soon, sv-late]" in sv
    kabul = section(msg.text, "Kabul visit 2025")
    assert "Score: 2 pending" in kabul and "TOLOnews" in kabul and "Talks" not in kabul
    assert "Border &lt;crossing&gt; reopens" in msg.html and '<a href="https://news.example.org/2">' in msg.html


def test_a_quiet_day_still_gets_a_digest_and_an_empty_catalog_gets_none() -> None:
    cat = Catalog(SETTINGS, (Agreement("kabul", "Kabul visit 2025"),), (pledge("k-border", "kabul"),))
    msg = digest_message(cat, toml_status, NOW, headlines_today=[], status_changes=[], period="2026-W48")
    assert msg is not None
    assert msg.text.splitlines()[:2] == [
        "🗞 Weekly digest · week 48 of 2026 (23 Nov 2026 – 29 Nov 2026)",
        "Due in the next 7 days: nothing · overdue: nothing · status changes: none · new headlines: none"]
    assert digest_message(Catalog(SETTINGS), toml_status, NOW, headlines_today=[], status_changes=[],
                          period="2026-11-23") is None
    assert period_title("2026-11-23") == "Daily digest · Mon 23 Nov 2026"


def test_status_changes_exclude_first_toml_recordings_and_repeats(store: Store) -> None:
    cat = shared_vision_catalog()
    start = NOW - timedelta(hours=20)
    with store.transaction() as tx:
        record_digest(tx, "2026-11-22", start)
    sync_toml_statuses(store, cat, start - timedelta(days=30))  # baseline, long before the window
    # in the window: a new pledge is first seen in the TOML, an admin marks one, then the TOML agrees (a repeat)
    new = pledge("k-new", "kabul", "2027")
    cat2 = Catalog(SETTINGS, cat.agreements, (*cat.commitments, new))
    sync_toml_statuses(store, cat2, start + timedelta(hours=1))
    mark(store, "sv-soon", Status.MET, start + timedelta(hours=2), actor="editor", actor_id=7,
         evidence_url="https://example.org/evidence")
    cat3 = Catalog(SETTINGS, cat2.agreements, tuple(
        replace(c, status=Status.MET) if c.id == "sv-soon" else c for c in cat2.commitments))
    sync_toml_statuses(store, cat3, start + timedelta(hours=3))
    mark(store, "k-border", Status.STALLED, start + timedelta(hours=4), actor="editor", actor_id=7)

    since = digest_since(store, SETTINGS, NOW)
    assert since == start
    changes = changes_since(store, since)
    assert [(c.commitment_id, c.status.value, c.source) for c in changes] == [
        ("k-new", "pending", TOML_SOURCE), ("sv-soon", "met", "telegram"), ("sv-soon", "met", TOML_SOURCE),
        ("k-border", "stalled", "telegram")]
    statuses = effective_statuses(store, cat3.commitments)
    msg = digest_message(cat3, lambda c: statuses[c.id], NOW, headlines_today=headlines_since(store, since),
                         status_changes=changes, status_before=status_before(store, since), period="2026-11-23")
    assert msg is not None
    assert "status changes: 2" in msg.text
    sv, kabul = section(msg.text, "A Shared Vision"), section(msg.text, "Kabul visit 2025")
    assert "Status changes:\n• Pledge sv-soon (sv-soon): not yet rated → met (@editor) evidence <https://example.org/evidence>" in sv
    assert "Score: 2 met, 1 partial, 3 missed, 4 pending" in sv and "sv-soon), by 26 Nov" not in sv
    assert "• Pledge k-border (k-border): not yet rated → stalled (@editor)" in kabul
    assert "k-new" not in msg.text  # first seen in the window: a first recording, not a change
    assert '<a href="https://example.org/evidence">evidence</a>' in msg.html


def test_real_changes_without_a_baseline_keeps_telegram_marks_and_drops_first_toml_entries() -> None:
    t = NOW
    changes = [StatusChange("a", Status.PENDING, TOML_SOURCE, t), StatusChange("a", Status.PENDING, "telegram", t),
               StatusChange("a", Status.MET, "telegram", t), StatusChange("b", Status.MISSED, "telegram", t)]
    got = [(x.change.commitment_id, x.before, x.change.status) for x in real_changes(changes)]
    assert got == [("a", Status.PENDING, Status.MET), ("b", None, Status.MISSED)]
    assert real_changes(changes[:1], {"a": Status.STALLED})[0].before is Status.STALLED  # TOML moved it back


def test_a_long_digest_is_capped_to_one_telegram_message() -> None:
    late = [pledge(f"late-{n:03d}", "sv", date(2026, 1, 1) + timedelta(days=n)) for n in range(200)]
    cat = Catalog(SETTINGS, (Agreement("sv", "A Shared Vision"),), tuple(late))
    news = [headline(f"late-{n:03d}", f"A fairly long headline about pledge number {n} and its follow-up", n)
            for n in range(100)]
    msg = digest_message(cat, toml_status, NOW, headlines_today=news, status_changes=[], period="2026-11-23")
    assert msg is not None and len(msg.text) <= LIMIT
    assert "overdue: 200" in msg.text and "… and " in msg.text


def test_bundled_commitments_digest(store: Store) -> None:
    cat = load_config(REPO).catalog
    sync_toml_statuses(store, cat, NOW - timedelta(days=2))  # first sight: every TOML status is a first recording
    link = "https://www.dawn.com/news/1"
    entry = ParsedEntry(None, link, link, "Pakistan, Afghanistan agree to revive joint intelligence work", "", (),
                        NOW - timedelta(hours=2), None)
    ingest(store, Ingest("dawn", FeedState("dawn"), [entry], [entry],
                         {entry.key: [EntryMatch("sv-joint-intelligence-work", ("joint intelligence",))]}, NOW - timedelta(hours=1)))
    since = digest_since(store, cat.settings, NOW)
    msg = digest_message(cat, toml_status, NOW, headlines_today=headlines_since(store, since),
                         status_changes=changes_since(store, NOW - timedelta(days=3)),
                         status_before=status_before(store, NOW - timedelta(days=3)), period="2026-11-23")
    assert msg is not None and len(msg.text) <= LIMIT
    titles = [a.title for a in cat.agreements]
    assert all(t[:40] in msg.text for t in titles)
    assert "status changes: none" in msg.text  # the first TOML recordings are not changes
    assert "Overdue:" in msg.text and "(sv-joint-intelligence-work), by 15 Dec 2020" in msg.text
    assert ("Pakistan, Afghanistan agree to revive joint intelligence work</a> — dawn · 23 Nov 2026 "
            "[sv-joint-intelligence-work]") in msg.html
    assert f"Score: {sum(1 for c in cat.commitments if c.agreement == cat.agreements[0].id)} pending" in msg.text
