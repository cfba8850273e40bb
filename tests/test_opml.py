"""OPML import and export: round trips, feeds.toml's comments kept byte for byte, and hostile files refused."""

from __future__ import annotations

import argparse
import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import cli_feeds
from bot.cli import build_parser, main
from bot.clock import FakeClock
from bot.config import load_feed_catalog
from bot.errors import Problem
from bot.model import Feed
from bot.opml import OpmlDocument, OpmlError, OpmlFeed, parse_opml, plan_import, slugify, url_key, write_opml
from tests.conftest import REPO
from tests.support.cli import run_command

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=timezone.utc)
DATA = Path(__file__).parent / "data" / "opml"


def run(*argv: str, now: datetime = NOW) -> tuple[int, str, str]:
    """The feeds commands through argparse exactly as the lead wires them, independent of bot/cli.py."""
    return run_command(cli_feeds.register, argv, clock=FakeClock(now))


def feeds_of(path: Path) -> tuple[Feed, ...]:
    problems: list[Problem] = []
    catalog = load_feed_catalog(path, problems)
    assert problems == []
    return catalog.feeds


def test_round_trip_export_then_import_into_an_empty_file_gives_the_same_feeds(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    text = (REPO / "feeds.toml").read_text(encoding="utf-8") + (
        '\n[[feed]]\nid = "slow-and-off"\nurl = "https://slow.example/rss"\nname = "Slow, \\"quoted\\" & off"\n'
        'interval = "2h"\nkeywords = [\'"joint intelligence" AND Kabul\']\nenabled = false\n')
    (source / "feeds.toml").write_text(text, encoding="utf-8")
    code, _, err = run("feeds", "export", "-o", str(tmp_path / "feeds.opml"), "--config-dir", str(source))
    assert code == 0 and "wrote 15 feed(s)" in err
    exported = (tmp_path / "feeds.opml").read_text(encoding="utf-8")
    assert 'category="/pledgewatch/disabled"' in exported and 'xmlUrl="https://slow.example/rss"' in exported
    target = tmp_path / "target"
    target.mkdir()
    (target / "feeds.toml").write_text("", encoding="utf-8")
    code, out, err = run("feeds", "import", str(tmp_path / "feeds.opml"), "--config-dir", str(target))
    assert code == 0, err
    assert "Imported 15 feed(s)" in out and "(disabled)" in out
    assert feeds_of(target / "feeds.toml") == feeds_of(source / "feeds.toml")
    code, out, _ = run("feeds", "import", str(tmp_path / "feeds.opml"), "--config-dir", str(target))
    assert code == 0 and "Nothing to add" in out and "already in feeds.toml as 'dawn'" in out


def test_import_keeps_the_original_text_byte_for_byte_and_reports_what_it_skipped(tmp_path):
    original = (REPO / "feeds.toml").read_bytes()
    (tmp_path / "feeds.toml").write_bytes(original)
    os.chmod(tmp_path / "feeds.toml", 0o640)
    code, out, err = run("feeds", "import", str(DATA / "reader_export.opml"), "--config-dir", str(tmp_path))
    assert code == 0, err
    result = (tmp_path / "feeds.toml").read_bytes()
    assert result.startswith(original) and len(result) > len(original)
    assert os.stat(tmp_path / "feeds.toml").st_mode & 0o777 == 0o640
    added = result[len(original):].decode("utf-8")
    assert '# --- Imported from reader_export.opml ("Desk subscriptions, South Asia")' in added
    assert "# OPML folder: News/Pakistan" in added and "# OPML folder: News/Afghanistan" in added
    feeds = {f.id: f for f in feeds_of(tmp_path / "feeds.toml")}
    new = {i: f for i, f in feeds.items() if i not in {f.id for f in feeds_of(REPO / "feeds.toml")}}
    assert set(new) == {"the-news-international", "geo-urdu", "tolo-news-english-dari", "afghanistan-analysts-network",
                        "da-azadiradio-com", "example-net", "dawn-com"}
    assert new["geo-urdu"].language == "ur" and new["da-azadiradio-com"].language == "fa-AF"
    assert new["da-azadiradio-com"].name == "آزادی رادیو" and new["tolo-news-english-dari"].language == ""
    assert new["example-net"].name == "example.net" and new["dawn-com"].url == "https://www.dawn.com/feeds/latest-news"
    assert "already in feeds.toml as 'dawn'" in out  # http, no www, trailing slash and utm_source: the same feed
    assert "listed earlier in the OPML file (imported as 'the-news-international')" in out
    assert "file:///etc/passwd (Local archive): only http:// and https://" in out
    assert "outline type 'link' is not a feed" in out and "Imported 7 feed(s)" in out


def test_an_invalid_result_is_refused_and_the_file_left_alone(tmp_path):
    text = '# hand-written\ninterval = "30m"\nfeed = []  # no feeds yet\n'
    (tmp_path / "feeds.toml").write_text(text, encoding="utf-8")
    code, _, err = run("feeds", "import", str(DATA / "reader_export.opml"), "--config-dir", str(tmp_path))
    assert code == 1 and "refusing to write" in err and f"{tmp_path / 'feeds.toml'}:" in err
    assert (tmp_path / "feeds.toml").read_text(encoding="utf-8") == text
    assert [p.name for p in tmp_path.iterdir()] == ["feeds.toml"]  # no temporary file left behind


def test_an_already_invalid_feeds_toml_is_reported_not_imported_into(tmp_path):
    (tmp_path / "feeds.toml").write_text('interval = "soon"\n', encoding="utf-8")
    code, _, err = run("feeds", "import", str(DATA / "reader_export.opml"), "--config-dir", str(tmp_path))
    assert code == 1 and "fix them" in err and "interval" in err


def test_titles_cannot_inject_toml(tmp_path):
    (tmp_path / "feeds.toml").write_text('interval = "30m"\n', encoding="utf-8")
    code, _, err = run("feeds", "import", str(DATA / "toml_injection.opml"), "--config-dir", str(tmp_path))
    assert code == 0, err
    text = (tmp_path / "feeds.toml").read_text(encoding="utf-8")
    assert [line for line in text.splitlines() if line.startswith("[[")] == ["[[feed]]"]
    (feed,) = feeds_of(tmp_path / "feeds.toml")
    assert feed.url == "https://evil.example/feed" and "\n" not in feed.name and feed.id != "pwned"


@pytest.mark.parametrize(("name", "message"), [
    ("billion_laughs.opml", "DOCTYPE"),
    ("external_entity.opml", "DOCTYPE"),
    ("undefined_entity.opml", "undefined entity"),
    ("not_opml.xml", "root element is <rss>"),
])
def test_hostile_or_wrong_files_are_refused(name, message, tmp_path):
    with pytest.raises(OpmlError, match=message):
        parse_opml((DATA / name).read_bytes())
    (tmp_path / "feeds.toml").write_text('interval = "30m"\n', encoding="utf-8")
    code, _, err = run("feeds", "import", str(DATA / name), "--config-dir", str(tmp_path))
    assert code == 1 and message in err and (tmp_path / "feeds.toml").read_text() == 'interval = "30m"\n'


def test_size_and_nesting_limits():
    with pytest.raises(OpmlError, match="over the"):
        parse_opml(b"<opml>" + b" " * 5_000_001 + b"</opml>")
    deep = b"<opml><body>" + b'<outline text="x">' * 100 + b"</outline>" * 100 + b"</body></opml>"
    with pytest.raises(OpmlError, match="nested more than"):
        parse_opml(deep)


def test_parse_reads_folders_categories_and_pledgewatch_attributes():
    doc = parse_opml((DATA / "reader_export.opml").read_bytes())
    assert doc.title == "Desk subscriptions, South Asia"
    by_title = {f.title: f for f in doc.feeds}
    assert by_title["Geo Urdu"].categories == ("News/Pakistan",)
    assert [f.categories for f in doc.feeds if f.title == "The News International"][1] == (
        "Also in News", "/Regional", "/Watchlist")
    exported = write_opml([Feed("x", "/srv/feeds/local.xml", "Local", timedelta(hours=1), "ur", ("a OR b",), False)], NOW)
    (item,) = parse_opml(exported.encode()).feeds
    assert item.url == "file:///srv/feeds/local.xml" and (item.id, item.interval, item.enabled) == ("x", "1h", False)
    assert item.keywords == ("a OR b",) and item.language == "ur"


def test_plan_ids_and_url_identity():
    assert slugify("BBC اردو") == "bbc" and slugify("Café — Société Générale!") == "cafe-societe-generale"
    assert url_key("HTTP://WWW.Dawn.com:80/feeds/home/?utm_medium=x") == url_key("https://dawn.com/feeds/home")
    existing = [Feed("news", "https://a.example/feed")]
    offered = OpmlDocument("", (OpmlFeed("News", "https://b.example/rss"), OpmlFeed("News", "https://c.example/rss"),
                                OpmlFeed("Bad query", "https://d.example/rss", keywords=('"open',)),
                                OpmlFeed("Hourly", "https://e.example/rss", interval="1h"),
                                OpmlFeed("Broken", "http://[::1/rss"),
                                OpmlFeed("Forever", "https://f.example/rss", interval="99999999999999w")))
    plan = plan_import(offered, existing, timedelta(hours=1))
    assert [f.id for f in plan.added] == ["b-example", "c-example", "hourly", "forever"]
    assert plan.added[2].interval is None and plan.added[3].interval is None  # the default, or unusable: not written
    assert [(s.title, s.reason[:17]) for s in plan.skipped] == [("Bad query", "its pw:keywords q"),
                                                                ("Broken", "not a valid URL")]


def test_export_to_stdout_and_wired_into_the_main_cli(config_dir):
    code, out, _ = run("feeds", "export", "--config-dir", str(config_dir))
    assert code == 0 and out.startswith('<?xml version="1.0" encoding="UTF-8"?>') and 'pw:id="local"' in out
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    if "feeds" not in commands:
        pytest.skip("`feeds` is not wired into bot/cli.py yet")
    stream = io.StringIO()
    assert main(["feeds", "export", "--config-dir", str(config_dir)], env={}, clock=FakeClock(NOW), out=stream,
                err=io.StringIO()) == 0
    assert 'xmlUrl="http://127.0.0.1:9/feed.xml"' in stream.getvalue()
