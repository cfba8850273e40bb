"""The fetcher against a real loopback server: validators, redirects, limits, errors and the SSRF guard.

Most tests allow private hosts because the server is on 127.0.0.1; the SSRF tests keep the guard on and
exempt exactly 127.0.0.1 (``allowed_networks``) so the production path is what they exercise.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from bot import USER_AGENT
from bot.clock import FakeClock
from bot.errors import (BlockedAddressError, BodyTooLargeError, FetchError, FetchTimeoutError, HTTPStatusError,
                        TooManyRedirectsError, TransportError)
from bot.fetch import FetchPolicy, HttpFetcher, Validators, parse_retry_after
from tests.support.feedserver import FeedServer, feed_server  # noqa: F401  (fixture)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><guid>1</guid></item></channel></rss>'
LOCAL = FetchPolicy(allow_private_hosts=True, connect_timeout=2, read_timeout=2, total_timeout=5)
GUARDED = FetchPolicy(allowed_networks=("127.0.0.1",), connect_timeout=2, read_timeout=2, total_timeout=5)


def fetcher(policy: FetchPolicy = LOCAL, **kw: object) -> HttpFetcher:
    resolver = kw.pop("resolver", None)
    return HttpFetcher(replace(policy, **kw), clock=FakeClock(NOW), resolver=resolver)  # type: ignore[arg-type]


class MapResolver:
    """DNS played from a table; a list of tables answers call by call (for rebinding)."""

    def __init__(self, *tables: dict[str, list[str]]) -> None:
        self.tables = tables
        self.calls: list[str] = []

    async def resolve(self, host: str) -> Sequence[str]:
        self.calls.append(host)
        table = self.tables[min(len(self.calls), len(self.tables)) - 1]
        if host not in table:
            raise OSError(-2, "Name or service not known")
        return table[host]


async def test_ok_with_validators_headers_and_user_agent(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS, headers={"Set-Cookie": "tracker=1; Path=/"})
    async with fetcher() as f:
        result = await f.fetch(feed_server.url("/feed.xml"))
        await f.fetch(feed_server.url("/feed.xml"))
    assert "cookie" not in feed_server.last_headers("/feed.xml")  # cookies are never kept between fetches
    assert (result.status, result.body, result.not_modified) == (200, RSS, False)
    assert result.final_url == result.url == feed_server.url("/feed.xml") and result.permanent_url is None
    assert result.validators.etag and result.validators.etag == result.headers["etag"]
    assert result.validators.last_modified == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    sent = feed_server.last_headers("/feed.xml")
    assert sent["user-agent"] == USER_AGENT and "if-none-match" not in sent
    assert "gzip" in sent["accept-encoding"] and "application/rss+xml" in sent["accept"]


async def test_conditional_get_gives_304_until_the_feed_changes(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS)
    async with fetcher() as f:
        first = await f.fetch(feed_server.url("/feed.xml"))
        second = await f.fetch(feed_server.url("/feed.xml"), first.validators)
        feed_server.update("/feed.xml", RSS.replace(b"<guid>1", b"<guid>2"))
        third = await f.fetch(feed_server.url("/feed.xml"), second.validators)
    assert second.not_modified and second.status == 304 and second.body is None
    assert second.validators == first.validators
    assert feed_server.requests("/feed.xml")[1].headers["if-none-match"] == first.validators.etag
    assert feed_server.requests("/feed.xml")[1].headers["if-modified-since"] == first.validators.last_modified
    assert third.status == 200 and b"<guid>2" in (third.body or b"") and third.validators != first.validators


async def test_last_modified_alone_is_enough_for_304(feed_server: FeedServer) -> None:
    feed_server.add("/lm.xml", RSS, etag=False)
    async with fetcher() as f:
        first = await f.fetch(feed_server.url("/lm.xml"))
        second = await f.fetch(feed_server.url("/lm.xml"), first.validators)
    assert first.validators.etag is None and second.not_modified


async def test_gzip_and_deflate_bodies_are_decoded(feed_server: FeedServer) -> None:
    feed_server.add("/gz.xml", RSS, gzip=True)
    feed_server.add("/zlib.xml", zlib.compress(RSS), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(wbits=-15)
    feed_server.add("/raw.xml", raw.compress(RSS) + raw.flush(), headers={"Content-Encoding": "deflate"})
    feed_server.add("/twice.xml", gzip.compress(gzip.compress(RSS)) + b"junk", headers={"Content-Encoding": "gzip, gzip"})
    feed_server.add("/lie.xml", RSS, headers={"Content-Encoding": "gzip"})
    async with fetcher() as f:
        gz = await f.fetch(feed_server.url("/gz.xml"))
        assert gz.body == RSS and gz.headers["content-encoding"] == "gzip"
        for path in ("/zlib.xml", "/raw.xml", "/twice.xml"):
            assert (await f.fetch(feed_server.url(path))).body == RSS, path
        with pytest.raises(FetchError, match="not valid gzip data"):
            await f.fetch(feed_server.url("/lie.xml"))


async def test_permanent_redirects_are_remembered_temporary_ones_not(feed_server: FeedServer) -> None:
    feed_server.add("/new.xml", RSS)
    feed_server.redirect("/moved", feed_server.url("/new.xml"), 301)
    feed_server.redirect("/moved-relative", "/new.xml", 308)
    feed_server.redirect("/temp", "/new.xml", 302)
    feed_server.redirect("/moved-then-temp", "/temp", 301)
    feed_server.redirect("/temp-then-moved", "/moved", 307)
    async with fetcher() as f:
        results = {p: await f.fetch(feed_server.url(p)) for p in
                   ("/moved", "/moved-relative", "/temp", "/moved-then-temp", "/temp-then-moved")}
    new = feed_server.url("/new.xml")
    assert all(r.final_url == new and r.body == RSS for r in results.values())
    assert results["/moved"].permanent_url == new and results["/moved-relative"].permanent_url == new
    assert results["/temp"].permanent_url is None and results["/temp-then-moved"].permanent_url is None
    assert results["/moved-then-temp"].permanent_url == feed_server.url("/temp")


async def test_redirect_loops_and_long_chains_stop(feed_server: FeedServer) -> None:
    feed_server.add("/end.xml", RSS)
    feed_server.redirect("/a", "/b", 302)
    feed_server.redirect("/b", "/a", 302)
    five = feed_server.redirect_chain("/five", 5, "/end.xml")
    six = feed_server.redirect_chain("/six", 6, "/end.xml")
    async with fetcher() as f:
        with pytest.raises(TooManyRedirectsError, match="redirect loop"):
            await f.fetch(feed_server.url("/a"))
        assert (await f.fetch(feed_server.url(five))).body == RSS
        with pytest.raises(TooManyRedirectsError, match="more than 5 redirects"):
            await f.fetch(feed_server.url(six))
    assert feed_server.count("/a") == 1 and feed_server.count("/six/5") == 1 and feed_server.count("/end.xml") == 1


async def test_redirects_to_other_schemes_are_refused(feed_server: FeedServer) -> None:
    feed_server.redirect("/to-file", "file:///etc/passwd", 302)
    async with fetcher() as f:
        with pytest.raises(FetchError, match="only http:// and https:// are followed"):
            await f.fetch(feed_server.url("/to-file"))


@pytest.mark.parametrize("status", [400, 403, 404, 410, 500, 502])
async def test_error_statuses_raise_with_the_status(feed_server: FeedServer, status: int) -> None:
    feed_server.error("/gone", status)
    async with fetcher() as f:
        with pytest.raises(HTTPStatusError) as caught:
            await f.fetch(feed_server.url("/gone"))
    assert caught.value.status == status and caught.value.retry_after is None
    assert caught.value.url == feed_server.url("/gone")


@pytest.mark.parametrize(("status", "header", "seconds"), [
    (503, "120", 120.0), (429, "0", 0.0),
    (429, format_datetime(NOW + timedelta(minutes=5), usegmt=True), 300.0),
    (503, format_datetime(NOW - timedelta(minutes=5), usegmt=True), 0.0),  # in the past: clamp
    (503, "soon", None),
])
async def test_retry_after_in_seconds_or_as_a_date(feed_server: FeedServer, status: int, header: str,
                                                   seconds: float | None) -> None:
    feed_server.error("/busy", status, retry_after=header)
    async with fetcher() as f:
        with pytest.raises(HTTPStatusError) as caught:
            await f.fetch(feed_server.url("/busy"))
    assert (caught.value.status, caught.value.retry_after) == (status, seconds)


def test_parse_retry_after_directly() -> None:
    assert parse_retry_after(" 30 ", NOW) == 30.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:01:00 GMT", NOW) == 60.0
    assert parse_retry_after("", NOW) is None and parse_retry_after(None, NOW) is None
    assert parse_retry_after("-5", NOW) is None


async def test_a_trickle_passes_the_read_timeout_but_not_the_deadline(feed_server: FeedServer) -> None:
    feed_server.slow("/short", RSS[:15], interval=0.02)
    feed_server.slow("/long", RSS * 10, interval=0.02)
    async with fetcher(read_timeout=0.3, total_timeout=1.0) as f:
        assert (await f.fetch(feed_server.url("/short"))).body == RSS[:15]
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError, match="no complete response within 1s"):
            await f.fetch(feed_server.url("/long"))
    assert 0.9 < time.monotonic() - started < 2.0


@pytest.mark.parametrize("after_headers", [False, True])
async def test_a_server_that_never_answers_times_out(feed_server: FeedServer, after_headers: bool) -> None:
    feed_server.hang("/hang", after_headers=after_headers)
    async with fetcher(read_timeout=0.3, total_timeout=5) as f:
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError, match="no data for 0.3s"):
            await f.fetch(feed_server.url("/hang"))
    assert time.monotonic() - started < 1.5


async def test_connect_failures_and_cut_bodies_are_transport_errors(feed_server: FeedServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    feed_server.truncated("/cut", RSS, at=20)
    async with fetcher(resolver=MapResolver({})) as f:
        with pytest.raises(TransportError) as refused:
            await f.fetch(f"http://127.0.0.1:{closed_port}/feed")
        with pytest.raises(TransportError, match="broken HTTP response") as cut:
            await f.fetch(feed_server.url("/cut"))
        with pytest.raises(TransportError, match="DNS lookup for nowhere.example failed"):
            await f.fetch("http://nowhere.example/feed")
    for error in (refused.value, cut.value):
        assert "\n" not in str(error) and "Traceback" not in str(error) and len(error.reason) < 200
    assert "cannot connect to 127.0.0.1" in refused.value.reason


async def test_huge_bodies_stop_at_the_cap_quickly(feed_server: FeedServer) -> None:
    feed_server.huge("/declared", 50_000_000)
    feed_server.huge("/chunked", 50_000_000, chunked=True)
    async with fetcher(max_bytes=1_000_000) as f:
        tracemalloc.start()
        started = time.monotonic()
        for path in ("/declared", "/chunked"):
            with pytest.raises(BodyTooLargeError, match="1000000-byte limit"):
                await f.fetch(feed_server.url(path))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.monotonic() - started < 3 and peak < 8_000_000


async def test_a_gzip_bomb_stops_at_the_cap_with_bounded_memory(feed_server: FeedServer) -> None:
    feed_server.gzip_bomb("/bomb", 1024 * 1024 * 1024)
    async with fetcher(max_bytes=2_000_000) as f:
        tracemalloc.start()
        started = time.monotonic()
        with pytest.raises(BodyTooLargeError, match="after decompression"):
            await f.fetch(feed_server.url("/bomb"))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.monotonic() - started < 3 and peak < 12_000_000


async def test_an_html_page_is_returned_for_the_parser_to_judge(feed_server: FeedServer) -> None:
    feed_server.add("/page", b"<!doctype html><title>Not a feed</title>", content_type="text/html; charset=utf-8")
    async with fetcher(user_agent="custom-agent/1") as f:
        result = await f.fetch(feed_server.url("/page"))
    assert result.status == 200 and result.headers["content-type"].startswith("text/html")
    assert feed_server.last_headers("/page")["user-agent"] == "custom-agent/1"


async def test_local_files_by_url_and_path_with_not_modified(tmp_path: Path) -> None:
    feed = tmp_path / "local feed.xml"
    feed.write_bytes(RSS)
    async with fetcher() as f:
        by_url = await f.fetch(feed.as_uri())
        by_path = await f.fetch(str(feed))
        again = await f.fetch(str(feed), by_path.validators)
        os.utime(feed, ns=(feed.stat().st_atime_ns, feed.stat().st_mtime_ns + 5_000_000_000))
        changed = await f.fetch(feed.as_uri(), again.validators)
        with pytest.raises(FetchError, match="no such file"):
            await f.fetch(str(tmp_path / "missing.xml"))
    assert by_url.body == by_path.body == RSS and by_url.status == 200 and by_url.final_url == feed.as_uri()
    assert again.not_modified and again.body is None and changed.status == 200
    async with fetcher(max_bytes=10) as small:
        with pytest.raises(BodyTooLargeError):
            await small.fetch(str(feed))


@pytest.mark.parametrize(("url", "says"), [
    ("ftp://example.com/feed", "unsupported URL scheme 'ftp'"), ("javascript:alert(1)", "unsupported URL scheme"),
    ("http://", "no host name"), ("http://[::1/feed", "invalid URL"), ("", "empty feed URL"),
    ("http://1.2.3.4.5/feed", "neither a hostname nor a valid IPv4 address"),
    ("file://elsewhere/feed.xml", "another host"),
])
async def test_invalid_urls_name_the_url_and_the_valid_forms(url: str, says: str) -> None:
    async with fetcher() as f:
        with pytest.raises(FetchError) as caught:
            await f.fetch(url)
    assert says in caught.value.reason and caught.value.url == url
    if url.startswith(("ftp", "javascript", "http://[")):
        assert "http:// or https:// URL, a file:// URL or a filesystem path" in caught.value.reason


async def test_loopback_is_refused_unless_allowed(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS)
    port = feed_server.port
    async with fetcher(FetchPolicy()) as f:
        with pytest.raises(BlockedAddressError) as caught:
            await f.fetch(feed_server.url("/feed.xml"))
        for odd in ("2130706433", "0x7f.1", "127.1", "[::ffff:127.0.0.1]"):
            with pytest.raises(BlockedAddressError, match="a loopback address"):
                await f.fetch(f"http://{odd}:{port}/feed.xml")
    assert str(caught.value) == (
        f"{feed_server.url('/feed.xml')}: refusing to fetch: 127.0.0.1 is a loopback address; set "
        "allow_private_hosts = true in feeds.toml or PLEDGEWATCH_ALLOW_PRIVATE_HOSTS=1 to allow it")
    assert feed_server.count("/feed.xml") == 0  # refused before connecting
    async with fetcher(FetchPolicy(allow_private_hosts=True)) as f:
        for odd in ("2130706433", "0x7f.1", "127.1"):
            assert (await f.fetch(f"http://{odd}:{port}/feed.xml")).body == RSS


async def test_a_public_name_resolving_to_loopback_is_refused(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS)
    resolver = MapResolver({"public.example": ["127.0.0.1"], "internal.example": ["10.0.0.5"]})
    async with fetcher(FetchPolicy(), resolver=resolver) as f:
        with pytest.raises(BlockedAddressError, match="public.example resolves to 127.0.0.1, a loopback address"):
            await f.fetch(f"http://public.example:{feed_server.port}/feed.xml")
    async with fetcher(GUARDED, resolver=resolver) as f:  # 127.0.0.1 exempt: the name now works
        assert (await f.fetch(f"http://public.example:{feed_server.port}/feed.xml")).body == RSS
    assert feed_server.last_headers("/feed.xml")["host"] == f"public.example:{feed_server.port}"


@pytest.mark.parametrize("target", ["http://127.0.0.2:{port}/feed.xml", "http://internal.example:{port}/feed.xml",
                                    "http://[::1]:{port}/feed.xml", "http://0177.0.0.2:{port}/feed.xml"])
async def test_a_redirect_to_a_private_address_is_refused(feed_server: FeedServer, target: str) -> None:
    feed_server.add("/feed.xml", RSS)
    feed_server.redirect("/out", target.format(port=feed_server.port), 302)
    resolver = MapResolver({"public.example": ["127.0.0.1"], "internal.example": ["10.0.0.5"]})
    async with fetcher(GUARDED, resolver=resolver) as f:
        with pytest.raises(FetchError) as caught:
            await f.fetch(f"http://public.example:{feed_server.port}/out")
    assert feed_server.count("/out") == 1 and feed_server.count("/feed.xml") == 0
    if "0177" in target:  # httpx rejects octal dotted quads while reading the Location: refused all the same
        assert "Invalid IPv4 address: '0177.0.0.2'" in caught.value.reason
    else:
        assert isinstance(caught.value, BlockedAddressError)
        assert "refusing to follow the redirect to" in caught.value.reason


async def test_dns_rebinding_cannot_swap_the_checked_address(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS, headers={"Connection": "close"})  # every fetch opens a new connection
    resolver = MapResolver({"rebind.example": ["127.0.0.1"]}, {"rebind.example": ["127.0.0.2"]})
    url = f"http://rebind.example:{feed_server.port}/feed.xml"
    async with fetcher(GUARDED, resolver=resolver) as f:
        assert (await f.fetch(url)).body == RSS  # no real DNS knows this name: we connected to what we checked
        assert resolver.calls == ["rebind.example"]
        with pytest.raises(BlockedAddressError, match="rebind.example resolves to 127.0.0.2"):
            await f.fetch(url)
    mixed = MapResolver({"mixed.example": ["127.0.0.1", "192.168.1.1"]})
    async with fetcher(GUARDED, resolver=mixed) as f:
        with pytest.raises(BlockedAddressError, match="192.168.1.1, a private address"):
            await f.fetch(f"http://mixed.example:{feed_server.port}/feed.xml")
    assert feed_server.count("/feed.xml") == 1


async def test_concurrency_is_bounded_overall_and_per_host(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS, delay=0.1)
    hosts = [f"h{i}.example" for i in range(4)]
    resolver = MapResolver({h: ["127.0.0.1"] for h in hosts})
    async with fetcher(GUARDED, resolver=resolver, max_connections=3, per_host=2) as f:
        urls = [f"http://{h}:{feed_server.port}/feed.xml" for h in hosts for _ in range(4)]
        results = await asyncio.gather(*(f.fetch(u) for u in urls))
    assert all(r.body == RSS for r in results)
    assert feed_server.max_in_flight == 3
    assert max(feed_server.max_in_flight_by_host.values()) == 2
    feed_server.reset_stats()
    async with fetcher(LOCAL, per_host=2) as f:
        await asyncio.gather(*(f.fetch(feed_server.url("/feed.xml")) for _ in range(6)))
    assert feed_server.max_in_flight_by_host[f"127.0.0.1:{feed_server.port}"] == 2


async def test_refused_connections_do_not_leak_pool_places(feed_server: FeedServer) -> None:
    feed_server.add("/feed.xml", RSS)
    resolver = MapResolver({"ok.example": ["127.0.0.1"], "bad.example": ["127.0.0.9"]})
    async with fetcher(GUARDED, resolver=resolver, max_connections=1, per_host=1) as f:
        for _ in range(3):
            with pytest.raises(BlockedAddressError):
                await f.fetch(f"http://bad.example:{feed_server.port}/feed.xml")
        assert (await f.fetch(f"http://ok.example:{feed_server.port}/feed.xml")).body == RSS


async def test_a_body_that_changes_on_every_request_is_never_not_modified(feed_server: FeedServer) -> None:
    counter = iter(range(1000))
    feed_server.add("/fresh.xml", lambda: RSS.replace(b"<guid>1", b"<guid>g%d" % next(counter)))
    async with fetcher() as f:
        first = await f.fetch(feed_server.url("/fresh.xml"))
        second = await f.fetch(feed_server.url("/fresh.xml"), first.validators)
    assert second.status == 200 and b"<guid>g1" in (second.body or b"") and second.validators != first.validators


def test_the_feed_server_stops_promptly_while_clients_hang_and_trickle() -> None:
    before = set(threading.enumerate())
    server = FeedServer()
    server.hang("/hang")
    server.slow("/slow", RSS, interval=0.5)
    clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
    for client, path in zip(clients, ("/hang", "/slow")):
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    while server.count("/hang") + server.count("/slow") < 2:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert set(threading.enumerate()) - before == set()  # the accept loop and both handlers are gone
    for client in clients:
        client.close()


async def test_a_resolver_that_never_answers_hits_the_connect_timeout() -> None:
    class Silent:
        async def resolve(self, host: str) -> Sequence[str]:
            await asyncio.Event().wait()
            return []

    async with fetcher(FetchPolicy(connect_timeout=0.2), resolver=Silent()) as f:
        with pytest.raises(FetchTimeoutError, match="connect timed out after 0.2s"):
            await f.fetch("http://slow-dns.example/feed")


async def test_the_system_resolver_is_guarded_too(feed_server: FeedServer) -> None:
    try:
        socket.getaddrinfo("localhost", None)
    except OSError:
        pytest.skip("this machine cannot resolve localhost")
    feed_server.add("/feed.xml", RSS)
    async with fetcher(FetchPolicy()) as f:
        with pytest.raises(BlockedAddressError, match=r"localhost resolves to (127\.0\.0\.1|::1), a loopback address"):
            await f.fetch(f"http://localhost:{feed_server.port}/feed.xml")
    assert feed_server.count("/feed.xml") == 0
