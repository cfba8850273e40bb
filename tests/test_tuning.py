"""`pledgewatch try` and `pledgewatch eval`: real polls into a real SQLite file, then the same engine over it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cli_context import Context
from bot.cli_tuning import register
from bot.clock import FakeClock
from bot.config import load_config
from bot.query import check_query, parse_query
from bot.store import Store
from bot.tuning import evaluate, highlight, parse_labels
from tests.conftest import REPO
from tests.support.cli import run_command
from tests.support.feedserver import FeedServer
from tests.support.fixtures import REFUGEES, SHARED_VISION, loopback_poller
from tests.support.rss import Item, rss

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
TRADE = '(trade OR transit OR "customs post*") NOT (cricket OR T20)'
COMMITMENTS = f'''timezone = "Asia/Karachi"
{SHARED_VISION}
[[commitment]]
id = "trade"
agreement = "sv"
title = "Expand transit trade"
keywords = ['{TRADE}']
{REFUGEES}'''
ITEMS = [
    Item("Pakistan, Afghanistan agree on transit trade", "https://a.example/1", "a1", NOW - timedelta(hours=2)),
    Item("Pakistan beat Afghanistan in T20 cricket, fans trade barbs", "https://a.example/2", "a2",
         NOW - timedelta(hours=3)),
    Item("New customs posts open at Chaman", "https://a.example/3", "a3", NOW - timedelta(days=1)),
    Item("Talks in Kabul", "https://a.example/4", "a4", NOW - timedelta(days=2),
         summary="Officials from both sides discussed a long list of topics before turning to Transit, which "
                 "dominated the afternoon session and the press conference that followed it late in the evening."),
    Item("Weekly roundup", "https://a.example/5", "a5", NOW - timedelta(days=3), categories=("Trade", "Asia")),
    Item("Old transit trade story", "https://a.example/6", "a6", NOW - timedelta(days=40)),
    Item("Rain in Lahore", "https://a.example/7", "a7", NOW - timedelta(hours=1)),
]
OTHER = [  # the same story as a1 from another feed (one post, "also in"), and a story only this feed has
    Item("Pakistan, Afghanistan agree on transit trade", "https://a.example/1?utm_source=x", "b1", NOW - timedelta(hours=1)),
    Item("EU transit trade rules change", "https://b.example/2", "b2", NOW - timedelta(hours=4))]


async def poll_into(tmp_path: Path, feeds: dict[str, Sequence[Item]], extra: str = "") -> Path:
    """Serve the items on a loopback feed server and poll them for real into tmp_path/state.sqlite3."""
    (tmp_path / "commitments.toml").write_text(COMMITMENTS, encoding="utf-8")
    with FeedServer() as server:
        lines = ['backfill = "60d"']
        for feed_id, items in feeds.items():
            server.add(f"/{feed_id}.xml", rss(items))
            lines += ["[[feed]]", f'id = "{feed_id}"', f'url = "{server.url(f"/{feed_id}.xml")}"',
                      f'name = "{feed_id.title()} News"']
        (tmp_path / "feeds.toml").write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        async with loopback_poller(tmp_path, FakeClock(NOW)) as poller:
            for feed in poller.config.feeds.feeds:  # one at a time, so entry ids follow the feed order
                summary = await poller.poll([feed])
                assert summary.outcomes[0].result == "ok", summary
    return tmp_path / "state.sqlite3"


class Terminal(io.StringIO):
    """An output stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Claim to be a tty, as sys.stdout does in a terminal."""
        return True


def run(*argv: str, env: dict[str, str] | None = None, out: io.StringIO | None = None) -> tuple[int, str, str]:
    """Run a tuning command the way bot.cli.main does (same Context, same error handling)."""
    return run_command(register, argv, clock=FakeClock(NOW), env=env, out=out)


# --- try --------------------------------------------------------------------------------------------


async def test_try_shows_exactly_what_polling_matched(tmp_path: Path) -> None:
    db = await poll_into(tmp_path, {"dawn": ITEMS, "tribune": OTHER})
    store = Store.open(db)
    posted = {r[0] for r in store.query("SELECT s.title FROM matches m JOIN stories s ON s.id = m.story_id "
                                        "WHERE m.commitment_id = 'trade'")}
    store.close()
    code, out, _ = run("try", TRADE, "--days", "60", "--config-dir", str(tmp_path), "--db", str(db))
    shown = [line.strip().replace("[[", "").replace("]]", "") for line in out.splitlines() if line.startswith("    ")
             and not line.strip().startswith(("summary:", "categories:", "also in:"))]
    assert code == 0 and set(shown) == posted and len(shown) == len(posted) == 6


async def test_try_lists_newest_first_with_feed_date_highlights_and_count(tmp_path: Path) -> None:
    db = await poll_into(tmp_path, {"dawn": ITEMS, "tribune": OTHER})
    code, out, err = run("try", TRADE, "--config-dir", str(tmp_path), "--db", str(db))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "2026-03-10 15:00  Dawn News",  # Asia/Karachi, the configured timezone
        "    Pakistan, Afghanistan agree on [[transit]] [[trade]]",
        "    also in: Tribune News",
        "2026-03-10 13:00  Tribune News",
        "    EU [[transit]] [[trade]] rules change",
        "2026-03-09 17:00  Dawn News",
        "    New [[customs posts]] open at Chaman",
        "2026-03-08 17:00  Dawn News",
        "    Talks in Kabul",
        "    summary: …sides discussed a long list of topics before turning to [[Transit]], which dominated the "
        "afternoon session and the press conference that followed it late in the evening.",
        "2026-03-07 17:00  Dawn News",
        "    Weekly roundup",
        "    categories: [[Trade]], Asia",
        "6 matching entries (5 stories) among 8 entries stored in the last 30 days.",
    ]
    code, out, _ = run("try", "refugee* OR cricket", "--days", "1", "--config-dir", str(tmp_path), "--db", str(db))
    assert out.splitlines()[-1] == "1 matching entry (1 story) among 6 entries stored in the last 1 day."


async def test_try_applies_feed_keyword_filters_like_the_poller(tmp_path: Path) -> None:
    db = await poll_into(tmp_path, {"dawn": ITEMS, "world": OTHER[1:]}, "keywords = ['Pakistan OR Afghanistan']\n")
    code, out, _ = run("try", "transit", "--config-dir", str(tmp_path), "--db", str(db))
    assert code == 0 and "EU [[transit]]" not in out
    assert out.splitlines()[-1] == "1 more entry matches but their feed's keywords filter drops them."


async def test_try_highlights_in_bold_on_a_terminal_unless_no_color(tmp_path: Path) -> None:
    db = await poll_into(tmp_path, {"dawn": ITEMS[:1]})
    _, out, _ = run("try", "transit", "--config-dir", str(tmp_path), "--db", str(db), out=Terminal())
    assert "agree on \x1b[1mtransit\x1b[0m trade" in out
    _, out, _ = run("try", "transit", "--config-dir", str(tmp_path), "--db", str(db), env={"NO_COLOR": "1"},
                    out=Terminal())
    assert "agree on [[transit]] trade" in out


def test_try_rejects_a_bad_query_with_the_check_message_and_a_caret(config_dir: Path) -> None:
    query = 'trade AND "joint intel'
    code, out, err = run("try", query, "--config-dir", str(config_dir))
    assert code == 1 and out == ""
    assert err.splitlines() == [f"pledgewatch try: invalid query: {check_query(query)}",
                                '  trade AND "joint intel', "            ^"]
    assert "unterminated phrase" in err and "(at character 11)" in err


def test_try_without_a_database_says_how_to_get_one(config_dir: Path) -> None:
    code, _, err = run("try", "trade", "--config-dir", str(config_dir))
    assert code == 1 and "no database at" in err and "pledgewatch poll --once" in err
    assert not (config_dir / "pledgewatch.sqlite3").exists()
    code, _, err = run("try", "trade", "--config-dir", str(config_dir), env={"TELEGRAM_ADMIN_IDS": "bob"})
    assert code == 1 and "'bob' is not a numeric Telegram user id" in err


@pytest.mark.parametrize(("text", "terms", "marked"), [
    ("Ishaq DÂR meets Muttaqi", ("DÂR",), "Ishaq [[DÂR]] meets Muttaqi"),
    ("Dar and dar and DAR", ("Dar",), "[[Dar]] and [[dar]] and [[DAR]]"),
    ("joint intelligence, intelligence joint", ("joint intelligence",), "[[joint intelligence]], intelligence joint"),
    ("trademark trade", ("trade",), "trademark [[trade]]"),
    ("پاکستان سے افغان مُہاجرین کی واپسی", ("مُہاجرین",), "پاکستان سے افغان [[مُہاجرین]] کی واپسی"),
    ("CASA-1000 line", ("CASA-1000",), "[[CASA-1000]] line"),
])
def test_highlight_marks_the_hit_words_as_written(text: str, terms: tuple[str, ...], marked: str) -> None:
    assert highlight(text, terms, lambda t: f"[[{t}]]") == marked


# --- eval -------------------------------------------------------------------------------------------


def labels(*rows: str, header: str = "title\tcommitments\tsummary") -> str:
    """A labelled TSV with a header row."""
    return "\n".join([header, *rows]) + "\n"


def test_labels_problems_name_the_line() -> None:
    known = ["joint-intel", "reciprocal-visit"]
    text = labels("# a comment", "", "Kabul talks\tjoint-intl\t", "\treciprocal-visit\t", "Headline without tabs",
                  "Too\tmany\tfields\there", "Fine\t\t")
    rows, problems = parse_labels(text, "x.tsv", known)
    assert [str(p) for p in problems] == [
        "x.tsv:4: column 'commitments': unknown commitment 'joint-intl'; did you mean 'joint-intel'?",
        "x.tsv:5: column 'title': empty title",
        "x.tsv:6: expected 3 tab-separated fields (title, commitments, summary), found 1; separate columns with "
        "tabs and keep the tab before an empty commitments",
        "x.tsv:7: expected 3 tab-separated fields (title, commitments, summary), found 4; separate columns with "
        "tabs and keep the tab before an empty commitments",
    ]
    assert rows[-1].line == 8 and rows[-1].commitments == frozenset()
    _, problems = parse_labels(labels("x\ty", header="title\tsumary"), "x.tsv", known)
    assert [str(p) for p in problems] == [
        "x.tsv:1: unknown column 'sumary'; did you mean 'summary'?",
        "x.tsv:1: missing column 'commitments': the header row must name title and commitments, optionally summary"]
    _, problems = parse_labels("title,commitments\nx,y\n", "x.tsv", known)
    assert "(columns must be separated by tabs)" in str(problems[-1])
    assert [str(p) for p in parse_labels("# only a comment\n", "x.tsv", known)[1]] == [
        "x.tsv: no header row: the first line must name the columns title, commitments (and optionally summary), "
        "separated by tabs"]
    assert [str(p) for p in parse_labels("title\tcommitments\n", "x.tsv", known)[1]] == [
        "x.tsv: no labelled headlines after the header row"]


def test_precision_and_recall_per_commitment_and_micro_averaged(config_dir: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "labels.tsv"
    tsv.write_text(labels(
        "Pakistan, Afghanistan revive joint intelligence work\tjoint-intel\t",
        "Joint intelligence cell for Afghanistan border\t\t",  # matches, labelled none: a false positive
        "ISI and NDS agree to share intelligence\tjoint-intel\tPakistan and Afghanistan spy agencies",  # a miss
        "Ghani to visit Islamabad\treciprocal-visit,joint-intel\t",
        "Cricket: Pakistan tour Afghanistan\t\t"), encoding="utf-8")
    code, out, err = run("eval", str(tsv), "--config-dir", str(config_dir))
    assert code == 0 and err == ""
    assert out.splitlines() == [
        f"5 labelled headlines from {tsv}.",
        "",
        "commitment        precision     recall   TP  FP  FN",
        "joint-intel           50.0%      33.3%    1   1   2",
        "    false positive (line 3): Joint intelligence cell for Afghanistan border  "
        "[matched: Joint intelligence, Afghanistan]",
        "    missed (line 4): ISI and NDS agree to share intelligence",
        "    missed (line 5): Ghani to visit Islamabad",
        "reciprocal-visit     100.0%     100.0%    1   0   0",
        "",
        "Overall (micro-averaged over 2 commitments): precision 66.7% (2/3), recall 50.0% (2/4), F1 57.1%",
    ]


def test_eval_refuses_a_bad_file_listing_every_problem(config_dir: Path, tmp_path: Path) -> None:
    tsv = tmp_path / "bad.tsv"
    tsv.write_text(labels("A\tjoint-intl\t", "B\tvisit\t"), encoding="utf-8")
    code, out, err = run("eval", str(tsv), "--config-dir", str(config_dir))
    assert code == 1 and out == "" and f"{tsv}:2: column 'commitments': unknown commitment 'joint-intl'" in err
    assert f"{tsv}:3:" in err and f"2 problem(s) in {tsv}" in err
    code, _, err = run("eval", str(tmp_path / "missing.tsv"), "--config-dir", str(config_dir))
    assert code == 1 and "cannot read" in err and "No such file" in err


def test_evaluation_counts_a_commitment_without_keywords_as_unsearchable() -> None:
    rows, _ = parse_labels(labels("Ghani in Islamabad\tb\t", "Nothing\t\t"), "x.tsv", ["a", "b"])
    result = evaluate(rows, {"a": [parse_query("Ghani")]}, ["a", "b", "c"])
    assert [(s.commitment, s.searchable, s.precision, s.recall) for s in result.scores] == [
        ("a", True, 0.0, None), ("b", False, None, 0.0)]
    assert result.idle == ("c",) and result.counts == (0, 1, 1)


def test_bundled_labelled_headlines_evaluate_against_the_bundled_commitments() -> None:
    tsv = REPO / "tests" / "data" / "eval" / "pak_afg.tsv"
    rows, problems = parse_labels(tsv.read_text(encoding="utf-8"), str(tsv), load_config(REPO).catalog.by_id)
    assert problems == () and 40 <= len(rows) <= 60
    titles = " ".join(r.title for r in rows)
    assert all(word in titles for word in ("cricket", "PTA", "پاکستان", "مهاجرین", "پرانیستل"))
    assert sum(not r.commitments for r in rows) >= 10
    code, out, _ = run("eval", str(tsv), "--config-dir", str(REPO))
    assert code == 0 and "Overall (micro-averaged over" in out
