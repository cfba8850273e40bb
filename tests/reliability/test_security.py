"""Hostile feeds and hostile hosts: SSRF refused on every spelling and redirect, entity bombs defused, state private.

Everything goes through the real poller (HttpFetcher with its SSRF guard, the process-pool parser, SQLite)
configured from a real feeds.toml; DNS is played by an injected resolver, so a "public" name can lead to
loopback, and one real ``pledgewatch poll --once`` proves the same refusals from the command line.
Telegram-side checks (admins, forged buttons, the token in logs) are in ``test_security_telegram.py``.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import load_config
from bot.fetch import FetchPolicy, HttpFetcher
from bot.parse import TITLE_LIMIT
from bot.parser_pool import ParserPool
from bot.poller import FeedOutcome, Poller
from bot.store import Store
from bot.subscriptions import subscribe
from tests.support import fixtures
from tests.support.feedserver import FeedServer
from tests.support.process import BotProcess
from tests.support.rss import Item, rss

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]
COMMITMENTS = f'''{fixtures.SHARED_VISION}
[[commitment]]
id = "intel"
agreement = "sv"
title = "Joint intelligence work"
keywords = ['"joint intelligence"', "kept"]
'''
GUARDED = FetchPolicy(connect_timeout=2, read_timeout=2, total_timeout=5)
EXEMPT_LOOPBACK = replace(GUARDED, allowed_networks=("127.0.0.1",))  # only the feed server's own address


class MapResolver:
    """DNS from a table, so "public" names can be made to point anywhere without a network."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str) -> Sequence[str]:
        if host not in self.table:
            raise OSError(-2, "Name or service not known")
        return self.table[host]


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with FeedServer() as feeds:
        feeds.add("/feed.xml", rss([Item("Joint intelligence cell", "https://w.example/1", "w1", NOW)]))
        yield feeds


def write_config(directory: Path, feeds: dict[str, str]) -> None:
    """commitments.toml and a feeds.toml with one [[feed]] per (id, url)."""
    tables = "".join(f'\n[[feed]]\nid = "{ident}"\nurl = "{url}"\n' for ident, url in feeds.items())
    fixtures.write_config(directory, COMMITMENTS, 'allow_private_hosts = false\nbackfill = "30d"\n' + tables)


@asynccontextmanager
async def poller(directory: Path, policy: FetchPolicy, resolver: MapResolver,
                 parser_workers: int = 0) -> AsyncIterator[Poller]:
    """The production poller on the directory's configuration, with the given fetch policy and DNS."""
    store = Store.open(directory / "state.sqlite3")
    try:
        async with HttpFetcher(policy, clock=FakeClock(NOW), resolver=resolver) as fetcher, \
                ParserPool(parser_workers) as parser:
            yield Poller(store, fetcher, parser, FakeClock(NOW), load_config(directory), random.Random(0))
    finally:
        store.close()


async def poll_all(p: Poller) -> dict[str, FeedOutcome]:
    summary = await p.poll(p.config.feeds.feeds, force=True)
    return {o.feed_id: o for o in summary.outcomes}


DNS = MapResolver({"public.example": ["127.0.0.1"], "localhost": ["127.0.0.1", "::1"],
                   "mixed.example": ["93.184.216.34", "10.1.2.3"], "internal.example": ["10.0.0.5"],
                   "v6only.example": ["::1"]})

# (feed id, URL with {port} for the feed server, what the refusal must say). Every one would reach a
# loopback, private, link-local or otherwise internal address if the guard let it through.
REFUSED = [
    ("loopback", "http://127.0.0.1:{port}/feed.xml", "127.0.0.1 is a loopback address"),
    ("loopback-elsewhere", "http://127.9.9.9:{port}/feed.xml", "a loopback address"),
    ("localhost", "http://localhost:{port}/feed.xml", "localhost resolves to 127.0.0.1, a loopback address"),
    ("private-10", "http://10.0.0.1/feed.xml", "a private address"),
    ("private-172", "http://172.16.5.4/feed.xml", "a private address"),
    ("private-192", "http://192.168.1.1/feed.xml", "a private address"),
    ("carrier-nat", "http://100.64.0.1/feed.xml", "shared (carrier-grade NAT)"),
    ("cloud-metadata", "http://169.254.169.254/latest/meta-data/", "a link-local address"),
    ("unspecified", "http://0.0.0.0:{port}/feed.xml", "an unspecified address"),
    ("ipv6-loopback", "http://[::1]:{port}/feed.xml", "a loopback address"),
    ("ipv6-unspecified", "http://[::]:{port}/feed.xml", "an unspecified address"),
    ("ipv6-link-local", "http://[fe80::1]/feed.xml", "a link-local address"),
    ("ipv6-unique-local", "http://[fd00::1]/feed.xml", "a unique local (private) address"),
    ("ipv4-mapped", "http://[::ffff:127.0.0.1]:{port}/feed.xml", "IPv4-mapped 127.0.0.1"),
    ("ipv4-mapped-hex", "http://[::ffff:7f00:1]:{port}/feed.xml", "IPv4-mapped 127.0.0.1"),
    ("ipv4-mapped-metadata", "http://[::ffff:a9fe:a9fe]/latest/", "link-local address (IPv4-mapped 169.254.169.254)"),
    ("nat64-loopback", "http://[64:ff9b::7f00:1]:{port}/feed.xml", "NAT64 127.0.0.1"),
    ("decimal", "http://2130706433:{port}/feed.xml", "2130706433 means 127.0.0.1, a loopback address"),
    ("hexadecimal", "http://0x7f000001:{port}/feed.xml", "means 127.0.0.1, a loopback address"),
    ("hex-dotted", "http://0x7f.0.0.1:{port}/feed.xml", "means 127.0.0.1, a loopback address"),
    ("short-form", "http://127.1:{port}/feed.xml", "127.1 means 127.0.0.1, a loopback address"),
    ("trailing-dot", "http://127.0.0.1.:{port}/feed.xml", "a loopback address"),
    ("octal", "http://0177.0.0.1:{port}/feed.xml", "invalid URL"),  # httpx refuses to read it: never contacted
    ("public-name-to-loopback", "http://public.example:{port}/feed.xml",
     "public.example resolves to 127.0.0.1, a loopback address"),
    ("public-and-private-answers", "http://mixed.example/feed.xml", "mixed.example resolves to 10.1.2.3, a private"),
    ("name-to-ipv6-loopback", "http://v6only.example:{port}/feed.xml", "resolves to ::1, a loopback address"),
]


async def test_feeds_on_internal_addresses_are_refused_in_every_spelling(tmp_path: Path, server: FeedServer) -> None:
    before = len(server.requests())
    write_config(tmp_path, {ident: url.format(port=server.port) for ident, url, _ in REFUSED})
    async with poller(tmp_path, GUARDED, DNS) as p:
        outcomes = await poll_all(p)
        entries = p.store.query("SELECT COUNT(*) FROM entries")[0][0]
    wrong = {ident: (outcomes[ident].result, outcomes[ident].reason) for ident, _, says in REFUSED
             if outcomes[ident].result != "failed" or says not in (outcomes[ident].reason or "")}
    assert not wrong, wrong
    assert all("refusing to fetch" in (outcomes[i].reason or "") or i == "octal" for i, _, _ in REFUSED)
    assert len(server.requests()) == before and entries == 0  # not one request reached the server


REDIRECTS = [  # (route on the allowed host, where it redirects, what the refusal must say)
    ("to-loopback", "http://127.0.0.2:{port}/feed.xml", "127.0.0.2 is a loopback address"),
    ("to-localhost", "http://v6only.example:{port}/feed.xml", "v6only.example resolves to ::1, a loopback"),
    ("to-decimal", "http://2130706434:{port}/feed.xml", "2130706434 means 127.0.0.2"),
    ("to-hex", "http://0x7f000002:{port}/feed.xml", "0x7f000002 means 127.0.0.2"),
    ("to-ipv4-mapped", "http://[::ffff:127.0.0.2]:{port}/feed.xml", "IPv4-mapped 127.0.0.2"),
    ("to-ipv6-loopback", "http://[::1]:{port}/feed.xml", "::1 is a loopback address"),
    ("to-cloud-metadata", "http://169.254.169.254/latest/meta-data/", "a link-local address"),
    ("to-private-name", "http://internal.example/feed.xml", "internal.example resolves to 10.0.0.5"),
    ("to-octal", "http://0177.0.0.2:{port}/feed.xml", "Invalid IPv4 address: '0177.0.0.2'"),  # httpx refuses it
    ("two-hops", "/r/to-loopback", "127.0.0.2 is a loopback address"),  # a same-host hop first, then out
]


async def test_a_public_name_that_redirects_inside_is_refused_at_the_redirect(tmp_path: Path,
                                                                              server: FeedServer) -> None:
    """public.example resolves to the exempted 127.0.0.1 (standing in for a public address): the first hop is
    fetched, every redirect into an internal address is refused before connecting."""
    for route, target, _ in REDIRECTS:
        server.redirect(f"/r/{route}", target.format(port=server.port), 302)
    write_config(tmp_path, {route: f"http://public.example:{server.port}/r/{route}" for route, _, _ in REDIRECTS})
    fetched = server.count("/feed.xml")
    async with poller(tmp_path, EXEMPT_LOOPBACK, DNS) as p:
        outcomes = await poll_all(p)
    wrong = {route: outcomes[route].reason for route, _, says in REDIRECTS
             if outcomes[route].result != "failed" or says not in (outcomes[route].reason or "")}
    assert not wrong, wrong
    assert all("refusing to follow the redirect to" in (outcomes[r].reason or "") for r, _, _ in REDIRECTS
               if r != "to-octal")
    assert all(server.count(f"/r/{route}") == 1 for route, _, _ in REDIRECTS if route != "to-loopback")
    assert server.count("/feed.xml") == fetched

    write_config(tmp_path, {"direct": f"http://public.example:{server.port}/feed.xml"})  # the control: allowed
    async with poller(tmp_path, EXEMPT_LOOPBACK, DNS) as p:
        assert (await poll_all(p))["direct"].result == "ok"
    assert server.count("/feed.xml") == fetched + 1


def test_pledgewatch_poll_refuses_loopback_feeds_from_the_command_line(tmp_path: Path, server: FeedServer) -> None:
    """The real program, the system resolver, feeds.toml's default (no private hosts): nothing is fetched."""
    spellings = {"literal": "127.0.0.1", "localhost": "localhost", "ipv6": "[::1]", "mapped": "[::ffff:127.0.0.1]",
                 "decimal": "2130706433", "hex": "0x7f.1", "short": "127.1", "unspecified": "0.0.0.0"}
    write_config(tmp_path, {k: f"http://{host}:{server.port}/feed.xml" for k, host in spellings.items()})
    before = len(server.requests())
    bot = BotProcess(["poll", "--once", "--config-dir", str(tmp_path)], {}, tmp_path)
    try:
        assert bot.proc.wait(timeout=60) == 0
        bot.wait_for("Polled 8 feed(s)")
    finally:
        bot.kill()
    out = "".join(bot.out)
    for ident in spellings:
        assert re.search(rf"failed +{ident}: .*refusing to fetch: .*(loopback|unspecified)", out), (ident, out)
    assert "allow_private_hosts = true" in out and "Traceback" not in "".join(bot.err)
    assert len(server.requests()) == before


# ------------------------------------------------------------------------------------- entity expansion


def entity_feed(declarations: bytes, use: bytes, encoding: str = "utf-8") -> bytes:
    """An RSS feed whose DOCTYPE declares entities and whose channel title uses them."""
    text = (b'<?xml version="1.0" encoding="ENC"?>\n<!DOCTYPE rss [\n' + declarations + b"]>\n"
            b'<rss version="2.0"><channel><title>' + use + b"</title><link>https://b.example/</link>"
            b"<item><title>kept</title><link>https://b.example/kept</link><guid>kept</guid></item></channel></rss>")
    return text.replace(b"ENC", encoding.encode()).decode().encode(encoding)


LAUGHS = b'<!ENTITY lol "lol">\n' + b"".join(
    b'<!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
QUADRATIC = b'<!ENTITY a "' + b"A" * 100_000 + b'">\n'
BOMBS = {
    "billion-laughs": entity_feed(LAUGHS, b"&lol9;"),  # ~1 kB: parsed in a thread of this process
    "quadratic": entity_feed(QUADRATIC, b"&a;" * 20_000),  # 160 kB: parsed in the worker process
    "quadratic-utf16": entity_feed(QUADRATIC, b"&a;" * 20_000, "utf-16"),
    "parameter-entity": entity_feed(b'<!ENTITY % p "<!ENTITY x \'y\'>"> %p;\n', b"&x;"),
    "external-entity": entity_feed(b'<!ENTITY x SYSTEM "file:///etc/passwd">\n', b"&x;"),
}


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (the parser pool's forkserver and its workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak memory from /proc")
async def test_entity_expansion_feeds_are_defused_in_bounded_time_and_memory(tmp_path: Path,
                                                                             server: FeedServer) -> None:
    for name, body in BOMBS.items():
        server.add(f"/bomb/{name}.xml", body, content_type="application/xml")
    write_config(tmp_path, {name: server.url(f"/bomb/{name}.xml") for name in BOMBS})
    policy = replace(GUARDED, allow_private_hosts=True, total_timeout=30, read_timeout=30)
    tracemalloc.start()
    try:
        async with poller(tmp_path, policy, DNS, parser_workers=1) as p:
            started = time.monotonic()
            outcomes = await poll_all(p)
            seconds = time.monotonic() - started
            workers = {pid: peak_rss_mib(pid) for pid in descendants(os.getpid())}
            titles = {r[0] for r in p.store.query("SELECT title FROM entries")}
            matched = p.store.query("SELECT COUNT(*) FROM matches")[0][0]
        in_process_peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert {n: o.result for n, o in outcomes.items()} == {n: "ok" for n in BOMBS}, outcomes
    assert titles == {"kept"} and matched == 1  # every feed still yields its one item, matched once as one story
    assert seconds < 20, seconds  # unguarded, the quadratic feed alone builds a 2 GB string
    assert workers and max(workers.values()) < 300, workers  # worker processes' peak resident memory, MiB
    assert in_process_peak < 100, in_process_peak  # the small bombs parse in this process
    assert "passwd" not in "".join(o.reason or "" for o in outcomes.values())
    assert all(len(o.reason or "") <= TITLE_LIMIT for o in outcomes.values())


# ------------------------------------------------------------------------------------- the state database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_and_shm_files_are_owner_only(tmp_path: Path) -> None:
    """Store.open creates the file 0600 itself; SQLite gives -wal and -shm the main file's permission bits."""
    db = tmp_path / "fresh" / "state.sqlite3"
    store = Store.open(db)
    try:
        assert subscribe(store, 1, "intel", NOW)  # a first write: the WAL and its index appear
        sidecars = [Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(p.exists() for p in sidecars)  # WAL mode: both exist while the database is open
        assert {p.name: mode(p) for p in [db, *sidecars]} == {p.name: 0o600 for p in [db, *sidecars]}
    finally:
        store.close()
    assert not any(Path(f"{db}-{s}").exists() for s in ("wal", "shm"))  # a clean close removes them
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_pledgewatch_run_keeps_its_files_owner_only_even_with_umask_zero(tmp_path: Path) -> None:
    """The real program started with umask 000, which would make anything created by default world-writable."""
    write_config(tmp_path, {})
    db = tmp_path / "state" / "bot.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PLEDGEWATCH_"))}
    env["PLEDGEWATCH_DB"] = str(db)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--config-dir", str(tmp_path)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.umask(0))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the start-up line comes once the store is open and synced
        assert "loaded 1 agreements, 1 commitments" in line, (line, proc.stderr.read() if proc.stderr and proc.poll() is not None else "")
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        modes = {p.name: mode(p) for p in files if p.exists()}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert modes == {p.name: 0o600 for p in files}, modes
    assert mode(db) == 0o600  # still private after shutdown
