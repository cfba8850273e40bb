"""A loopback HTTP feed server with registered routes and misbehaviours, for offline fetch tests and benchmarks.

Everything a hostile or broken feed host can do is a route away: conditional GET with ETag and
Last-Modified, gzip, redirects and loops, error statuses with Retry-After, a trickle that defeats
per-read timeouts, a connection that never answers, a body too large to hold and a gzip bomb, both
generated lazily so a test never holds them in memory.  Requests are counted and their headers kept
so tests can assert on what the client sent, and the peak number of simultaneous requests is kept
so concurrency limits can be checked from the outside.

    with FeedServer() as server:
        server.add("/feed.xml", RSS)
        url = server.url("/feed.xml")
"""

from __future__ import annotations

import functools
import gzip as gzip_module
import hashlib
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import pytest

Body = bytes | Callable[[], bytes]
MIB = 1024 * 1024
BASE_LAST_MODIFIED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # + one second per update, never the clock
_FILLER = b"<!-- filler to make a body too large to keep -->\n" * 1338  # ~64 KiB, repeated lazily


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it, so tests can check what the client really sent."""

    method: str
    target: str  # path plus query, as sent
    path: str
    headers: Mapping[str, str]  # lower-case names


@dataclass(frozen=True)
class _Route:
    """How one path answers; replaced whole on update so handler threads never see half a change."""

    kind: str = "static"  # static | slow | hang | redirect | huge | bomb | truncated
    body: Body = b""
    content_type: str = "application/rss+xml"
    etag: bool = True
    last_modified: str | bool | None = True  # True: BASE_LAST_MODIFIED + version seconds
    gzip: bool = False
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds to wait before answering (to overlap requests)
    version: int = 0
    interval: float = 0.05  # slow: seconds between chunks
    chunk: int = 1  # slow: bytes per chunk
    size: int = 0  # huge / bomb: decompressed size
    chunked: bool = False  # huge: chunked transfer instead of Content-Length
    member: int = MIB  # bomb: decompressed bytes per gzip member
    at: int = 0  # truncated: bytes actually sent of a declared longer body
    after_headers: bool = False  # hang: send headers promising a body first


@functools.lru_cache(maxsize=8)
def zero_gzip_member(size: int) -> bytes:
    """A complete gzip member inflating to ``size`` zero bytes (1 MiB packs to ~1 KiB), built once."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(min(size, MIB))
    parts, left = [], size
    while left > 0:
        parts.append(packer.compress(block[:left]))
        left -= len(block)
    return b"".join(parts) + packer.flush()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a benchmark opens hundreds of connections at once
    owner: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-body are expected here; keep test output quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each kept-alive response waits ~40 ms for a delayed ACK
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._opened(self)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.owner._closed(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging."""

    def do_GET(self) -> None:
        try:
            self.server.owner._serve(self)
        except OSError:  # the client hung up: expected for aborted huge bodies and timeouts
            self.close_connection = True


class FeedServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port; a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._routes: dict[str, _Route] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: dict[socket.socket, threading.Thread] = {}
        self._in_flight: Counter[str] = Counter()
        self.max_in_flight = 0  # peak simultaneous requests being answered, all hosts
        self.max_in_flight_by_host: dict[str, int] = {}  # the same per Host header
        self._httpd = _HTTPServer((host, 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"feedserver:{self.port}",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting, release hanging and trickling handlers, close every socket, join threads."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._httpd.shutdown()
        with self._lock:
            opened = list(self._open.items())
        for sock, _ in opened:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        self._thread.join(timeout=5)
        for _, thread in opened:
            thread.join(timeout=5)

    # -- registering routes --------------------------------------------------------------------
    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, body: Body = b"", *, content_type: str = "application/rss+xml", etag: bool = True,
            last_modified: str | bool | None = True, gzip: bool = False, status: int = 200,
            headers: Mapping[str, str] | None = None, delay: float = 0.0) -> None:
        """Serve ``body`` (bytes, or a callable called per request) with validators and conditional GET.

        ``headers`` are sent as given, so a lie is easy: ``{"Content-Encoding": "gzip"}`` on plain bytes,
        or a ``charset`` in ``content_type`` that the body does not use."""
        self._put(path, _Route(body=body, content_type=content_type, etag=etag, last_modified=last_modified,
                               gzip=gzip, status=status, headers=tuple((headers or {}).items()), delay=delay))

    def update(self, path: str, body: Body) -> None:
        """Change a route's body; its ETag follows the content and its auto Last-Modified moves on a second."""
        with self._lock:
            old = self._routes[path]
            self._routes[path] = replace(old, body=body, version=old.version + 1)

    def error(self, path: str, status: int, *, retry_after: str | int | None = None, body: bytes = b"") -> None:
        """Answer with an error status, optionally with Retry-After (seconds or an HTTP-date)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.add(path, body, status=status, headers=headers, content_type="text/plain", etag=False,
                 last_modified=None)

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        """Redirect to ``to``, sent verbatim as Location (a path stays relative, a URL stays absolute)."""
        self._put(path, _Route(kind="redirect", status=status, headers=(("Location", to),)))

    def redirect_chain(self, prefix: str, hops: int, final: str, status: int = 302) -> str:
        """``prefix``/0 -> /1 -> ... -> ``final`` in ``hops`` redirects; returns the first path."""
        paths = [f"{prefix}/{i}" for i in range(hops)] + [final]
        for here, there in zip(paths, paths[1:]):
            self.redirect(here, there, status)
        return paths[0]

    def slow(self, path: str, body: bytes, *, interval: float = 0.05, chunk: int = 1, **add: Any) -> None:
        """Send the headers at once, then ``chunk`` bytes every ``interval`` seconds (a trickle)."""
        self.add(path, body, **add)
        with self._lock:
            self._routes[path] = replace(self._routes[path], kind="slow", interval=interval, chunk=chunk)

    def hang(self, path: str, *, after_headers: bool = False) -> None:
        """Accept the request and answer nothing (or only headers) until the server stops."""
        self._put(path, _Route(kind="hang", after_headers=after_headers))

    def huge(self, path: str, size: int = 50 * 1000 * 1000, *, chunked: bool = False,
             content_type: str = "application/rss+xml") -> None:
        """Stream ``size`` bytes of filler, generated as sent; Content-Length declared unless ``chunked``."""
        self._put(path, _Route(kind="huge", size=size, chunked=chunked, content_type=content_type))

    def gzip_bomb(self, path: str, size: int = 1024 * MIB, *, member: int = MIB) -> None:
        """A gzip body inflating to ``size`` zero bytes: one precomputed member repeated (~1 KiB per MiB)."""
        self._put(path, _Route(kind="bomb", size=size, member=member))

    def truncated(self, path: str, body: bytes, at: int, **add: Any) -> None:
        """Declare the whole body's length but send only ``at`` bytes, then drop the connection."""
        self.add(path, body, **add)
        with self._lock:
            self._routes[path] = replace(self._routes[path], kind="truncated", at=at)

    def _put(self, path: str, route: _Route) -> None:
        if not path.startswith("/"):
            raise ValueError(f"route paths start with '/': {path!r}")
        with self._lock:
            self._routes[path] = route

    # -- what the server saw -------------------------------------------------------------------
    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Every request so far (for ``path`` only, when given), oldest first."""
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def count(self, path: str) -> int:
        """How many requests ``path`` received."""
        return len(self.requests(path))

    def reset_stats(self) -> None:
        """Forget recorded requests and concurrency peaks, e.g. between phases of one test."""
        with self._lock:
            self._requests.clear()
            self.max_in_flight = 0
            self.max_in_flight_by_host.clear()

    def last_headers(self, path: str) -> Mapping[str, str]:
        """The request headers of the latest request for ``path`` (lower-case names)."""
        return self.requests(path)[-1].headers

    # -- serving (handler threads) -------------------------------------------------------------
    def _opened(self, handler: _Handler) -> None:
        with self._lock:
            self._open[handler.connection] = threading.current_thread()

    def _closed(self, handler: _Handler) -> None:
        with self._lock:
            self._open.pop(handler.connection, None)

    def _serve(self, h: _Handler) -> None:
        target = h.path
        path = urlsplit(target).path
        headers = MappingProxyType({k.lower(): v for k, v in h.headers.items()})
        host = headers.get("host", "")
        with self._lock:
            self._requests.append(RecordedRequest(h.command, target, path, headers))
            route = self._routes.get(target) or self._routes.get(path)
            self._in_flight[""] += 1
            self._in_flight[host] += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight[""])
            self.max_in_flight_by_host[host] = max(self.max_in_flight_by_host.get(host, 0), self._in_flight[host])
        try:
            if route is None:
                self._plain(h, 404, b"no such route\n")
            elif route.delay and self._stopping.wait(route.delay):
                h.close_connection = True
            else:
                getattr(self, f"_serve_{route.kind}")(h, route, headers)
        finally:
            with self._lock:
                self._in_flight[""] -= 1
                self._in_flight[host] -= 1

    def _plain(self, h: _Handler, status: int, body: bytes, extra: tuple[tuple[str, str], ...] = ()) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(body)

    def _validators(self, route: _Route, body: bytes) -> tuple[str | None, str | None]:
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"' if route.etag else None
        if route.last_modified is True:
            stamp = BASE_LAST_MODIFIED + timedelta(seconds=route.version)
            return etag, format_datetime(stamp, usegmt=True)
        return etag, route.last_modified or None

    def _serve_static(self, h: _Handler, route: _Route, req: Mapping[str, str], *, trickle: bool = False,
                      cut: int | None = None) -> None:
        body = route.body() if callable(route.body) else route.body
        etag, last_modified = self._validators(route, body)
        if route.status == 200 and _not_modified(req, etag, last_modified):
            h.send_response(304)
            for name, value in (("ETag", etag), ("Last-Modified", last_modified)):
                if value:
                    h.send_header(name, value)
            h.end_headers()
            return
        payload = body
        encoded = route.gzip and "gzip" in req.get("accept-encoding", "")
        if encoded:
            payload = gzip_module.compress(body, mtime=0)
        h.send_response(route.status)
        h.send_header("Content-Type", route.content_type)
        h.send_header("Content-Length", str(len(payload)))
        for name, value in (("ETag", etag), ("Last-Modified", last_modified),
                            ("Content-Encoding", "gzip" if encoded else None), ("Vary", "Accept-Encoding")):
            if value:
                h.send_header(name, value)
        for name, value in route.headers:
            h.send_header(name, value)
        h.end_headers()
        if cut is not None:
            h.wfile.write(payload[:cut])
            h.close_connection = True
        elif not trickle:
            h.wfile.write(payload)
        else:
            for start in range(0, len(payload), route.chunk):
                h.wfile.write(payload[start:start + route.chunk])
                h.wfile.flush()
                if self._stopping.wait(route.interval):
                    h.close_connection = True
                    return

    def _serve_slow(self, h: _Handler, route: _Route, req: Mapping[str, str]) -> None:
        self._serve_static(h, route, req, trickle=True)

    def _serve_truncated(self, h: _Handler, route: _Route, req: Mapping[str, str]) -> None:
        self._serve_static(h, route, req, cut=route.at)

    def _serve_hang(self, h: _Handler, route: _Route, req: Mapping[str, str]) -> None:
        if route.after_headers:
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml")
            h.send_header("Content-Length", "1000")
            h.end_headers()
            h.wfile.flush()
        self._stopping.wait()
        h.close_connection = True

    def _serve_redirect(self, h: _Handler, route: _Route, req: Mapping[str, str]) -> None:
        self._plain(h, route.status, b"", route.headers)

    def _serve_huge(self, h: _Handler, route: _Route, req: Mapping[str, str]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", route.content_type)
        h.send_header("Transfer-Encoding" if route.chunked else "Content-Length",
                      "chunked" if route.chunked else str(route.size))
        h.end_headers()
        left = route.size
        while left > 0 and not self._stopping.is_set():
            piece = _FILLER[:left]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if route.chunked else piece)
            left -= len(piece)
        if route.chunked:
            h.wfile.write(b"0\r\n\r\n")

    def _serve_bomb(self, h: _Handler, route: _Route, req: Mapping[str, str]) -> None:
        member = zero_gzip_member(route.member)
        count = -(-route.size // route.member)
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(member) * count))
        h.end_headers()
        for _ in range(count):
            if self._stopping.is_set():
                break
            h.wfile.write(member)


def _not_modified(req: Mapping[str, str], etag: str | None, last_modified: str | None) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins; If-Modified-Since only when it is absent."""
    if "if-none-match" in req:
        tags = {t.strip().removeprefix("W/") for t in req["if-none-match"].split(",")}
        return etag is not None and ("*" in tags or etag in tags)
    if "if-modified-since" in req and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(req["if-modified-since"])
        except (TypeError, ValueError):
            return False
    return False


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A running FeedServer, stopped after the test (import this name into a test module to use it)."""
    with FeedServer() as server:
        yield server
