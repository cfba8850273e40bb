"""The timeline chart: its data (pure), the PNG and what it encodes, the CLI, and /timeline over the fake Bot API.

Rendering is real (matplotlib's Agg backend); the renderer's layout says which rows and marks it drew, so
the assertions check the chart's content without comparing pixels. Renders are kept few: each costs ~0.3 s.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from telegram.ext import CommandHandler

from bot.cli import build_parser, main
from bot.cli_context import Context
from bot.cli_timeline import page_path, register
from bot.clock import FakeClock
from bot.commands_timeline import (caption, load_timeline, matched_dates, parse_words, timeline_command,
                                   timeline_reply)
from bot.config import load_config
from bot.curation import IRRELEVANT, record_verdict
from bot.feedstate import FeedState
from bot.history import EntryMatch, Ingest, ingest
from bot.model import Status
from bot.parse import ParsedEntry
from bot.statuses import mark
from bot.store import Store
from bot.telegram_app import BotServices, build_application, polling
from bot.timeline import (Window, agreement_hint, build_timeline, find_agreement, paginate,
                          unknown_agreement)
from bot.timeline_chart import WIDTH, ChartUnavailable, render_page
from tests.conftest import REPO
from tests.support.fake_telegram import FakeTelegram
from tests.support.fixtures import MINIMAL_COMMITMENTS

NOW = datetime(2026, 1, 20, 9, 0, tzinfo=timezone.utc)  # 14:00 in Asia/Karachi
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
USER = 2002

EXTRA = '''
[[agreement]]
id = "mixed"
title = "A mixed bag of pledges"
signed = 2025-01-10

[[commitment]]
id = "met-on-time"
agreement = "mixed"
title = "Open the border crossing for trucks at night"
deadline = 2025-03-01
status = "met"

[[commitment]]
id = "revised-twice"
agreement = "mixed"
title = "Sign the transit trade agreement revision"
deadline = "2025-06"
revised = [{ date = "2025-Q4", note = "moved" }, { date = 2026-02-15, note = "moved again" }]
status = "in_progress"

[[commitment]]
id = "revised-day"
agreement = "mixed"
title = "Hold the joint commission meeting"
deadline = 2025-05-01
revised = [{ date = 2025-09-30 }]
status = "stalled"

[[commitment]]
id = "relative"
agreement = "mixed"
title = "Return seized goods"
deadline = "+135d"
status = "missed"

[[commitment]]
id = "keep-talking"
agreement = "mixed"
title = "Keep talking"
status = "in_progress"
'''


@pytest.fixture
def mixed_dir(config_dir: Path) -> Path:
    """The minimal config plus an agreement with every kind of deadline the chart draws."""
    (config_dir / "commitments.toml").write_text(MINIMAL_COMMITMENTS + EXTRA, encoding="utf-8")
    return config_dir


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR is always the first chunk)."""
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def add_headline(store: Store, commitment_id: str, published: datetime, n: int) -> int:
    """Ingest one matched entry as the poller would; returns its story id."""
    link = f"https://news.example.org/{commitment_id}/{n}"
    entry = ParsedEntry(None, link, link, f"Headline {n} about {commitment_id}", "", (), published, None)
    batch = Ingest("local", FeedState("local"), [entry], [entry], {entry.key: [EntryMatch(commitment_id, ("x",))]},
                   published)
    (match,) = ingest(store, batch)
    return match.story_id


# ------------------------------------------------------------------------------------- the data (pure)


def test_rows_windows_revisions_and_headline_days(mixed_dir: Path) -> None:
    catalog = load_config(mixed_dir).catalog
    mixed = find_agreement(catalog, " MIXED ")
    assert mixed is not None
    late_evening = datetime(2025, 12, 31, 20, 0, tzinfo=timezone.utc)  # already 1 Jan 2026 in Karachi
    headlines = {"keep-talking": [late_evening, datetime(2024, 1, 1, tzinfo=timezone.utc)],
                 "met-on-time": [NOW + timedelta(days=3)]}  # a future date: outside the chart's period
    timeline = build_timeline(catalog, mixed, {"relative": Status.PARTIAL}, headlines, NOW)
    assert [r.commitment_id for r in timeline.rows] == ["met-on-time", "relative", "revised-day", "revised-twice",
                                                        "keep-talking"]  # dated by due day, then ongoing
    rows = {r.commitment_id: r for r in timeline.rows}
    assert rows["met-on-time"].deadline == Window(datetime(2025, 3, 1).date(), datetime(2025, 3, 1).date(),
                                                  "by 1 Mar 2025", False)
    assert rows["relative"].status is Status.PARTIAL and not rows["relative"].deadline.fuzzy  # type: ignore[union-attr]
    twice = rows["revised-twice"]
    assert [w.label for w in twice.superseded] == ["by end of June 2025", "by end of Q4 2025"]
    assert twice.superseded[1].start.isoformat() == "2025-10-01" and twice.superseded[1].fuzzy
    assert twice.deadline is not None and twice.deadline.label == "by 15 Feb 2026" and twice.days_left == 26
    assert rows["revised-day"].overdue and not rows["met-on-time"].overdue  # met is final
    talking = rows["keep-talking"]
    assert talking.ongoing and talking.agreed is not None and talking.agreed.isoformat() == "2025-01-10"
    assert [d.isoformat() for d in talking.headlines] == ["2026-01-01"]
    assert timeline.hidden_headlines == 2 and timeline.today.isoformat() == "2026-01-20"
    assert timeline.start.isoformat() == "2025-01-10" and timeline.end.isoformat() == "2026-02-15"
    assert timeline.score == "1 met, 1 partial, 2 in progress, 1 stalled"


def test_pages_are_balanced_and_agreements_are_found_or_explained(mixed_dir: Path) -> None:
    catalog = load_config(mixed_dir).catalog
    everything = build_timeline(catalog, None, {}, {}, NOW)
    assert everything.title == "All agreements" and len(everything.rows) == 7
    assert [len(p.rows) for p in paginate(everything, 3)] == [3, 2, 2]
    assert [(p.first, p.last, p.number, p.count) for p in paginate(everything, 3)][-1] == (6, 7, 3, 3)
    assert [len(p.rows) for p in paginate(everything)] == [7]
    (empty,) = paginate(replace(everything, rows=()))
    assert empty.rows == () and (empty.number, empty.count) == (1, 1)
    assert unknown_agreement("shared", catalog) == ("unknown agreement 'shared'; did you mean 'shared-vision'? "
                                                    "Valid ids: shared-vision, mixed")
    assert agreement_hint("mixd", ["shared-vision", "mixed"]) == "; did you mean 'mixed'?"
    assert parse_words(["shared-vision", "2"]) == ("shared-vision", 2) and parse_words(["3"]) == ("", 3)
    assert parse_words([]) == ("", None)


def test_load_timeline_reads_effective_statuses_and_drops_dismissed_headlines(mixed_dir: Path, tmp_path: Path) -> None:
    catalog = load_config(mixed_dir).catalog
    store = Store.open(tmp_path / "state.sqlite3")
    try:
        kept = add_headline(store, "keep-talking", NOW - timedelta(days=30), 1)
        dismissed = add_headline(store, "keep-talking", NOW - timedelta(days=20), 2)
        record_verdict(store, dismissed, "keep-talking", IRRELEVANT, 1, NOW)
        mark(store, "keep-talking", Status.STALLED, NOW, actor="@ann", actor_id=1)
        assert list(matched_dates(store, ["keep-talking", "joint-intel"])) == ["keep-talking"]
        timeline = load_timeline(store, catalog, find_agreement(catalog, "mixed"), NOW)
    finally:
        store.close()
    row = next(r for r in timeline.rows if r.commitment_id == "keep-talking")
    assert row.status is Status.STALLED and [d.isoformat() for d in row.headlines] == ["2025-12-21"]
    assert kept != dismissed


def test_charting_costs_nothing_until_drawn_and_explains_a_missing_matplotlib(
        mixed_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys, bot.cli, bot.cli_timeline, bot.commands_timeline, bot.timeline_chart; "
            "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=60).returncode == 0
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    store = Store.open(tmp_path / "state.sqlite3")
    try:
        reply = timeline_reply(store, load_config(mixed_dir), ["mixed"], NOW)
    finally:
        store.close()
    assert reply.png is None and "pip install 'matplotlib>=3.8,<4'" in reply.rich.plain()
    with pytest.raises(ChartUnavailable):
        render_page(paginate(build_timeline(load_config(mixed_dir).catalog, None, {}, {}, NOW))[0])


# ------------------------------------------------------------------------------------- the PNG


def test_render_encodes_every_row_and_mark(mixed_dir: Path) -> None:
    catalog = load_config(mixed_dir).catalog
    headlines = {"keep-talking": [NOW - timedelta(days=d) for d in (3, 40, 100)],
                 "revised-twice": [NOW - timedelta(days=5)]}
    (page,) = paginate(build_timeline(catalog, find_agreement(catalog, "mixed"), {}, headlines, NOW))
    png, layout = render_page(page)
    assert png_size(png) == (WIDTH, layout.height) == (1080, layout.height)
    assert 900 <= layout.height <= 1600 and 20_000 < len(png) < 1_500_000
    drawn = {r.commitment_id: r for r in layout.rows}
    assert list(drawn) == [r.commitment_id for r in page.rows]
    marks = {k: (r.markers, r.spans, r.originals, r.links, r.band, r.overdue, r.headlines) for k, r in drawn.items()}
    assert marks == {
        "met-on-time": (1, 0, 0, 0, False, False, 0),
        "relative": (1, 0, 0, 0, False, False, 0),
        "revised-day": (1, 0, 1, 1, False, True, 0),  # hollow original → solid revision, overdue since
        "revised-twice": (1, 0, 2, 2, False, False, 1),  # two faded spans linked to the day in force
        "keep-talking": (0, 0, 0, 0, True, False, 3),  # ongoing: a band and its headline dots
    }
    assert drawn["revised-twice"].label == "revised-twice  Sign the transit trade agreement revision"
    assert drawn["met-on-time"].colour != drawn["revised-day"].colour
    assert layout.legend[:4] == ("in progress", "stalled", "met", "missed")
    assert "original deadline, since revised" in layout.legend and "today, 20 Jan 2026" in layout.legend
    assert layout.title == "A mixed bag of pledges"
    assert layout.subtitle == "Score: 1 met, 1 missed, 2 in progress, 1 stalled"


def test_bundled_agreement_of_25_is_paginated_readably() -> None:
    catalog = load_config(REPO).catalog
    now = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    pages = paginate(build_timeline(catalog, find_agreement(catalog, "shared-vision-2020"), {}, {}, now))
    assert [len(p.rows) for p in pages] == [9, 8, 8]
    drawn: list[str] = []
    for page in pages[:2]:  # the third page draws like the second; two renders keep the test quick
        png, layout = render_page(page)
        assert png_size(png) == (1080, layout.height) and layout.height <= 1600
        drawn += [r.commitment_id for r in layout.rows]
        assert all(len(r.label) <= 90 for r in layout.rows)
    first = pages[0]
    assert [r.ongoing for r in first.rows[:6]] == [False] * 5 + [True]  # the five dated strands lead
    assert drawn == [r.commitment_id for p in pages[:2] for r in p.rows]
    assert {r.commitment_id for p in pages for r in p.rows} == {c.id for c in catalog.commitments
                                                                 if c.agreement == "shared-vision-2020"}
    text = caption(first).plain()
    assert text.startswith("🗓 A Shared Vision between Afghanistan and Pakistan")
    assert "Score: 25 pending" in text and "Page 1 of 3: rows 1–9 of 25." in text
    assert "/timeline shared-vision-2020 2" in text and "/timeline shared-vision-2020 3" in text


# ------------------------------------------------------------------------------------- the CLI


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Through ``bot.cli.main`` once the command is wired there; until then, the same way on a bare parser."""
    out, err = io.StringIO(), io.StringIO()
    if "timeline" in _choices(build_parser()):
        return main(list(argv), env=env or {}, clock=FakeClock(NOW), out=out, err=err), out.getvalue(), err.getvalue()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config-dir", default=None)
    parser = argparse.ArgumentParser(prog="pledgewatch")
    register(parser.add_subparsers(dest="command", required=True), common)
    args = parser.parse_args(argv)
    code = args.func(Context(args, env or {}, FakeClock(NOW), out, err))
    return code, out.getvalue(), err.getvalue()


def _choices(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:  # argparse has no public accessor for subcommands
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices


def test_cli_writes_the_png_and_rejects_unknown_agreements(mixed_dir: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "charts" / "mixed.png"
    out_file.parent.mkdir()
    code, out, err = run_cli("timeline", "--config-dir", str(mixed_dir), "--agreement", "mixed", "-o", str(out_file))
    assert code == 0, err
    assert out.strip() == f"wrote {out_file} (1080x{png_size(out_file.read_bytes())[1]} px, 5 rows)"
    assert "no database at" in err and not (mixed_dir / "pledgewatch.sqlite3").exists()  # never created
    assert 20_000 < out_file.stat().st_size < 1_500_000
    code, out, err = run_cli("timeline", "--config-dir", str(mixed_dir), "--agreement", "shared", "-o",
                             str(tmp_path / "x.png"))
    assert code == 1 and out == "" and not (tmp_path / "x.png").exists()
    assert "unknown agreement 'shared'; did you mean 'shared-vision'? Valid ids: shared-vision, mixed" in err
    code, _, err = run_cli("timeline", "--config-dir", str(mixed_dir), "--db", str(tmp_path / "nope.db"),
                           "-o", str(tmp_path / "x.png"))
    assert code == 1 and "no database at" in err
    assert page_path(out_file, 1) == out_file and page_path(out_file, 2) == out_file.with_name("mixed-2.png")


# ------------------------------------------------------------------------------------- /timeline in Telegram


async def test_timeline_command_sends_a_photo_with_a_caption(mixed_dir: Path, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state.sqlite3")
    add_headline(store, "keep-talking", NOW - timedelta(days=3), 1)
    services = BotServices(store, FakeClock(NOW), lambda: load_config(mixed_dir), frozenset())
    with FakeTelegram() as tg:
        tg.add_chat(USER, "private", first_name="Bob")
        tg.add_user(USER, first_name="Bob")
        app = build_application(tg.token, base_url=tg.base_url, services=services)
        if not any(isinstance(h, CommandHandler) and "timeline" in h.commands for h in app.handlers.get(0, [])):
            app.add_handler(CommandHandler("timeline", timeline_command(services)))  # until the lead wires it
        try:
            async with polling(app, timeout=1):
                tg.push_message(USER, USER, "/timeline Mixed")
                (photo,) = await tg.await_messages(USER, 1, timeout=20)
                tg.push_message(USER, USER, "/timeline nowhere")
                tg.push_message(USER, USER, "/timeline mixed 4")
                sent = await tg.await_messages(USER, 3, timeout=20)
        finally:
            store.close()
    assert photo.method == "sendPhoto" and photo.kind == "photo"
    assert photo.plain_caption == "🗓 A mixed bag of pledges\nScore: 1 met, 1 missed, 2 in progress, 1 stalled"
    assert photo.caption is not None and "<b>A mixed bag of pledges</b>" in photo.caption
    assert isinstance(photo.media, list) and photo.media[-1]["width"] == 1080
    assert 900 <= photo.media[-1]["height"] <= 1600 and 20_000 < photo.media[-1]["file_size"] < 1_500_000
    upload = tg.calls_to("sendPhoto")[0].params["photo"]
    assert png_size(upload.data) == (1080, photo.media[-1]["height"]) and upload.filename == "timeline.png"
    unknown, no_page = sent[1].plain_text or "", sent[2].plain_text or ""
    assert unknown.startswith("I don't know an agreement “nowhere”.")
    assert "Agreements: shared-vision, mixed" in unknown and "/timeline [agreement] [page]" in unknown
    assert no_page == "There is no page 4: this timeline has 1 page (/timeline mixed 1 to 1)."
