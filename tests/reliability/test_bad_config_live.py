"""The running service given each broken edit: it tells the admins, and the last good configuration keeps working.

For every variant of ``test_bad_config`` the service (real store, fetcher and parser, injected clock) sees
the edit through ``reload_if_changed``: the reload is refused, one admin notice carries exactly the
problems `pledgewatch check` prints, and afterwards a reminder still fires and a headline still matches
under the old configuration.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.app import Runtime, open_service
from bot.cli import main
from bot.clock import FakeClock
from bot.config import COMMITMENTS_FILE, FEEDS_FILE, check_config, load_config
from bot.service import Service
from bot.split import html_length
from bot.telegram_transport import ConsoleTransport
from tests.reliability.test_bad_config import (COMMITMENT_VARIANTS, COMMITMENTS, FEED_VARIANTS, KNOWN_CRASHES, Variant,
                                               feeds_text)
from tests.reliability.test_bad_config import restore_logging  # noqa: F401  (autouse: main() runs in-process here)
from tests.support.feedserver import FeedServer
from tests.support.rss import Item, rss
from tests.support.telegram_html import parse_html

ADMIN = 4242
START = datetime(2027, 1, 8, 3, 0, tzinfo=timezone.utc)
REMIND = datetime(2027, 1, 8, 4, 0, tzinfo=timezone.utc)  # 09:00 in Karachi, 7 days before intel's 15 Jan
DUE_DAY = datetime(2027, 1, 15, 4, 0, tzinfo=timezone.utc)  # intel's due-day reminder; weekly after that
HEADLINE = "Joint intelligence cell set up in Kabul"
OLD_MTIME_NS = 1_000_000_000 * 10**9  # 2001: unlike any mtime a test writes now, so every edit is seen


@pytest.fixture(scope="module")
def wire() -> Iterator[FeedServer]:
    """One loopback feed server for the module; each test serves its own path on it."""
    with FeedServer() as server:
        yield server


def good_files(directory: Path, server: FeedServer, feed_path: str = "/wire.xml") -> dict[str, str]:
    """Write both valid files; returns their texts by name."""
    server.add(feed_path, rss([Item(HEADLINE, "https://wire.example/0", "w0", START - timedelta(hours=1))]))
    files = {COMMITMENTS_FILE: COMMITMENTS, FEEDS_FILE: feeds_text(server.url(feed_path))}
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return files


def apply(directory: Path, file: str, base: str, variant: Variant, mtime_ns: int = OLD_MTIME_NS) -> Path:
    """Break ``file`` as ``variant`` says, with an mtime the service cannot mistake for the previous one."""
    path = directory / file
    variant.write(path, base)
    if path.is_symlink() or path.exists():
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
    return path


def restore(path: Path, text: str) -> None:
    """Put the valid file back, whatever the variant left at its path."""
    if path.is_dir() and not path.is_symlink():
        path.rmdir()
    elif path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(text, encoding="utf-8")


@asynccontextmanager
async def running(directory: Path, clock: FakeClock) -> AsyncIterator[Service]:
    """The service as ``pledgewatch run`` composes it, printing to a console, with one admin."""
    runtime = Runtime(config_dir=directory, db_path=directory.parent / f"{directory.name}.sqlite3",
                      allow_private_hosts=True, admin_ids=(ADMIN,))
    async with open_service(load_config(directory), runtime, clock, ConsoleTransport(io.StringIO()),
                            parser_workers=0) as service:
        yield service


def notices(service: Service) -> list[tuple[str, str, str]]:
    """Admin notices in the outbox as (chat, html, text), whether delivered yet or not."""
    rows = service.store.query("SELECT chat_id, html, text FROM outbox WHERE kind = 'admin' ORDER BY id")
    return [(r["chat_id"], r["html"], r["text"]) for r in rows]


def intel_reminders(service: Service) -> list[str]:
    rows = service.store.query("SELECT chat_id, text FROM outbox WHERE kind = 'reminder' ORDER BY id")
    return [r["text"] for r in rows if r["chat_id"] == "console" and "Joint intelligence work (intel)" in r["text"]]


async def assert_refused_and_reported(service: Service, directory: Path, path: Path) -> None:
    """The edit is refused, the live config is the very same object, and one admin notice says what `check` says."""
    good, told = service.config, len(notices(service))
    assert await service.reload_if_changed() is False
    assert service.config is good and service.poller.config is good
    expected = [str(p) for p in check_config(directory)[1]]
    assert expected and all(p.startswith(str(path)) for p in expected), expected
    (chat, html, text), = notices(service)[told:]
    assert chat == str(ADMIN)
    assert "The last edit to the configuration is invalid; the previous version keeps running." in text
    assert all(f"• {p}" in text for p in expected[:20]), (expected, text)
    parse_html(html)  # Telegram would accept it: the key names and values quoted in it are escaped
    assert html_length(html) <= 4096
    assert await service.reload_if_changed() is False and len(notices(service)) == told + 1  # not re-read, not re-told


async def assert_old_config_works(service: Service, clock: FakeClock, server: FeedServer, feed_path: str,
                                  n: int) -> None:
    """One more weekly overdue reminder for intel, and a fresh headline matched by the old keywords and feeds."""
    clock.current = DUE_DAY + timedelta(weeks=n)
    sent = len(intel_reminders(service))
    await service.remind()
    assert len(intel_reminders(service)) == sent + 1
    title = f"{HEADLINE}, report {n}"
    server.update(feed_path, rss([Item(title, f"https://wire.example/{n}", f"w{n}", clock.current)]))
    summary = await service.poll(due_only=False)
    assert [m.title for m in summary.matches] == [title], summary


async def cycle_through(tmp_path: Path, server: FeedServer, file: str, variants: list[Variant]) -> None:
    """Every variant against one running service: break, check, restore (a valid reload), next."""
    feed_path = f"/{file}.xml"
    files = good_files(tmp_path, server, feed_path)
    clock = FakeClock(START)
    failures: list[str] = []
    async with running(tmp_path, clock) as service:
        for n, variant in enumerate(variants, start=1):
            try:
                path = apply(tmp_path, file, files[file], variant, OLD_MTIME_NS + 2 * n)
                await assert_refused_and_reported(service, tmp_path, path)
                await assert_old_config_works(service, clock, server, feed_path, n)
            except AssertionError as exc:
                failures.append(f"{variant.name}: {exc}")
            restore(tmp_path / file, files[file])
            os.utime(tmp_path / file, ns=(OLD_MTIME_NS + 2 * n + 1,) * 2)
            assert await service.reload_if_changed() is True, variant.name
    assert not failures, "\n".join(failures)


async def test_each_broken_commitments_edit_is_reported_and_the_old_config_keeps_running(
        tmp_path: Path, wire: FeedServer) -> None:
    await cycle_through(tmp_path, wire, COMMITMENTS_FILE, COMMITMENT_VARIANTS)


async def test_each_broken_feeds_edit_is_reported_and_the_old_config_keeps_running(
        tmp_path: Path, wire: FeedServer) -> None:
    await cycle_through(tmp_path, wire, FEEDS_FILE, FEED_VARIANTS)


async def run_variant(tmp_path: Path, server: FeedServer, file: str, variant: Variant) -> None:
    """One variant against a fresh service (for the variants that fail today, each on its own)."""
    files = good_files(tmp_path, server)
    clock = FakeClock(START)
    async with running(tmp_path, clock) as service:
        path = apply(tmp_path, file, files[file], variant)
        await assert_refused_and_reported(service, tmp_path, path)
        await assert_old_config_works(service, clock, server, "/wire.xml", 1)


ONE_PER_CAUSE = [KNOWN_CRASHES[i] for i in (0, 3, 4, 5)]  # OverflowError, RecursionError, urlsplit, NUL path


@pytest.mark.parametrize("file, variant, reason", ONE_PER_CAUSE)
async def test_an_edit_that_crashes_check_is_still_reported(tmp_path: Path, wire: FeedServer, file: str,
                                                            variant: Variant, reason: str) -> None:
    """Fails today: check_config raises inside reload_if_changed after the new signature is stored (service.py:220
    before 221), so the job logs a traceback once and every later tick sees "unchanged": the admins are never told."""
    try:
        await run_variant(tmp_path, wire, file, variant)
    except Exception as exc:
        if isinstance(exc, AssertionError):
            raise
        pytest.fail(f"{reason}: {type(exc).__name__}: {exc}", pytrace=False)


async def test_fixing_the_file_is_picked_up_and_a_new_mistake_reported_again(tmp_path: Path,
                                                                             wire: FeedServer) -> None:
    files = good_files(tmp_path, wire)
    clock = FakeClock(START)
    by_name = {v.name: v for v in COMMITMENT_VARIANTS}
    async with running(tmp_path, clock) as service:
        apply(tmp_path, COMMITMENTS_FILE, files[COMMITMENTS_FILE], by_name["file removed"])
        assert await service.reload_if_changed() is False
        assert "file not found" in notices(service)[-1][2]
        fixed = COMMITMENTS.replace("deadline = 2027-01-15", "deadline = 2027-01-10")
        (tmp_path / COMMITMENTS_FILE).write_text(fixed, encoding="utf-8")
        assert await service.reload_if_changed() is True
        deadline = service.config.catalog.by_id["intel"].deadline
        assert deadline is not None and deadline.written == "2027-01-10"
        apply(tmp_path, COMMITMENTS_FILE, fixed, by_name["unknown status"])
        assert await service.reload_if_changed() is False
        assert len(notices(service)) == 2 and "unknown status 'done'" in notices(service)[-1][2]
        clock.advance(timedelta(minutes=1))  # a person's next edit; the same notice within a second is one row
        apply(tmp_path, COMMITMENTS_FILE, fixed, by_name["file removed"])  # the same mistake as before: told again
        assert await service.reload_if_changed() is False and len(notices(service)) == 3
        clock.current = datetime(2027, 1, 9, 4, 0, tzinfo=timezone.utc)  # 1 day before the reloaded deadline
        assert (await service.run_once()).reminders == 1


TRADE_DEADLINE = 'deadline = "+6w"\nrevised = [{ date = "2027-Q1", source = "https://example.org/moved", note = "postponed" }]'


def edits(name: str, says: str, *pairs: tuple[str, str]) -> Variant:
    """Several replacements in one edit of commitments.toml."""
    def write(path: Path, base: str) -> None:
        for old, new in pairs:
            assert old in base, old
            base = base.replace(old, new, 1)
        path.write_text(base, encoding="utf-8")
    return Variant(name, write, (says,))


ACCEPTED_BUT_UNPLANNABLE = [  # each also drops trade's revision, so trade is overdue since 2021 and its slots are planned
    edits("a deadline in year 1", "deadline", (TRADE_DEADLINE, "deadline = 0001-01-01")),
    edits("a lead time of 270,000 years", "remind_before",
          (TRADE_DEADLINE, 'deadline = "+6w"\nremind_before = ["99999999d"]')),
    edits("an overdue repeat of 27,000 years", "overdue_every", (TRADE_DEADLINE, 'deadline = "+6w"'),
          ('overdue_every = "7d"', 'overdue_every = "9999999d"')),
]


@pytest.mark.parametrize("variant", ACCEPTED_BUT_UNPLANNABLE, ids=str)
def test_a_config_that_check_accepts_can_be_run(tmp_path: Path, wire: FeedServer, variant: Variant) -> None:
    files = good_files(tmp_path, wire)
    apply(tmp_path, COMMITMENTS_FILE, files[COMMITMENTS_FILE], variant)
    env = {"PLEDGEWATCH_ALLOW_PRIVATE_HOSTS": "1", "PLEDGEWATCH_DB": str(tmp_path / "state.sqlite3")}
    out, err = io.StringIO(), io.StringIO()
    if main(["check", "--config-dir", str(tmp_path)], env=env, clock=FakeClock(REMIND), out=out, err=err) == 0:
        code = main(["run", "--once", "--config-dir", str(tmp_path)], env=env, clock=FakeClock(REMIND), out=out, err=err)
        assert code == 0 and "Joint intelligence work" in out.getvalue(), (out.getvalue(), err.getvalue())
    else:  # refused instead: then with a message naming the key
        assert f"key '{variant.says[0]}" in out.getvalue()  # remind_before, or remind_before[0]


async def test_a_valid_edit_never_stops_the_reminders_of_every_commitment(tmp_path: Path, wire: FeedServer) -> None:
    files = good_files(tmp_path, wire)
    clock = FakeClock(START)
    async with running(tmp_path, clock) as service:
        apply(tmp_path, COMMITMENTS_FILE, files[COMMITMENTS_FILE], ACCEPTED_BUT_UNPLANNABLE[-1])
        if await service.reload_if_changed():  # accepted: then it must be usable
            assert service.config.catalog.settings.overdue_every > timedelta(days=365)
        else:  # or refused, with a message naming the key
            assert "overdue_every" in notices(service)[-1][2]
        clock.current = REMIND
        await service.remind()
        assert len(intel_reminders(service)) == 1  # intel's lead reminder goes out whatever the edit did
