"""Fetching feeds without trusting them: conditional GET, bounded time, bytes, redirects and addresses.

One shared httpx client serves every feed.  Redirects are followed here, not by httpx, so each hop
is re-checked by the SSRF guard (bot.netguard), loops are caught and a chain of permanent moves is
reported.  A total deadline wraps the whole exchange because httpx's read timeout is per chunk and a
one-byte trickle never trips it.  Bodies are decompressed here, in bounded steps, and measured after
decompression so a gzip bomb stops at the cap.  ``file://`` URLs and plain paths read local files.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import stat
import zlib
from http.cookiejar import CookieJar, DefaultCookiePolicy
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType, TracebackType
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from bot.clock import Clock
from bot.errors import (BlockedAddressError, BodyTooLargeError, FetchError, FetchTimeoutError, HTTPStatusError,
                        TooManyRedirectsError, TransportError)
from bot.fetch_types import FetchPolicy, FetchResult, Validators, parse_retry_after
from bot.inflate import Inflater
from bot.netguard import AddressPolicy, GuardedBackend, GuardedTransport, Resolver, SystemResolver, parse_host_address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, "
          "text/xml;q=0.9, */*;q=0.8")
VALID_URLS = "use an http:// or https:// URL, a file:// URL or a filesystem path"
PRIVATE_HINT = "set allow_private_hosts = true in feeds.toml or PLEDGEWATCH_ALLOW_PRIVATE_HOSTS=1 to allow it"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def _reason(exc: BaseException) -> str:
    """A one-line, bounded description of a low-level error: never a traceback."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 160 else line[:157] + "..."


async def _drain(response: httpx.Response, limit: int = 64 * 1024) -> None:
    """Read a bodiless or small leftover response to its end, so httpcore pools the connection
    instead of closing it (each reconnect is a new TLS handshake); a large one is simply dropped."""
    seen = 0
    async for chunk in response.aiter_raw():
        seen += len(chunk)
        if seen > limit:
            return


@lru_cache(maxsize=4096)
def _target(url: str) -> httpx.URL | Path:
    """An http(s) URL or a local path, or FetchError naming the URL and the forms that are valid.
    Cached (a refused URL is not: lru_cache keeps no exceptions): the same feed URLs come back every poll."""
    text = url.strip()
    if not text:
        raise FetchError(url, f"empty feed URL; {VALID_URLS}")
    match = _SCHEME.match(text)
    scheme = match.group(1).lower() if match else None  # one letter ("C:") is a drive, not a scheme
    if scheme is None:
        return Path(text)
    if scheme == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(url, f"file URL on another host {parts.netloc!r}; {VALID_URLS}")
        return Path(url2pathname(parts.path))
    if scheme not in ("http", "https"):
        raise FetchError(url, f"unsupported URL scheme {scheme!r}; {VALID_URLS}")
    return _http_url(url, text)


def _http_url(url: str, text: str, base: httpx.URL | None = None) -> httpx.URL:
    """Parse and vet an http(s) URL, or a redirect's Location against ``base``, refusing what cannot be fetched."""
    try:
        parsed = base.join(text) if base is not None else httpx.URL(text)
        if parsed.scheme not in ("http", "https"):
            raise FetchError(url, f"redirected to unsupported URL {text!r}; only http:// and https:// are followed")
        if not parsed.host:
            raise httpx.InvalidURL("no host name")
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise httpx.InvalidURL(f"port {parsed.port} out of range")
        parse_host_address(parsed.host)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(url, f"invalid URL {text!r} ({_reason(exc)}); {VALID_URLS}") from None
    return parsed


def _read_local(url: str, path: Path, validators: Validators, max_bytes: int) -> FetchResult:
    """Read a local feed (in a worker thread) with the same cap, and mtime/size validators for 304."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(url, f"{path} is not a regular file")
        mtime = format_datetime(datetime.fromtimestamp(info.st_mtime, timezone.utc), usegmt=True)
        current = Validators(f'"{info.st_mtime_ns:x}-{info.st_size:x}"', mtime)
        headers = {"content-length": str(info.st_size), "etag": current.etag or "", "last-modified": mtime}
        if kind := mimetypes.guess_type(path.name)[0]:
            headers["content-type"] = kind
        final = path.absolute().as_uri()
        same = (validators.etag == current.etag) if validators.etag else (validators.last_modified == mtime)
        if same:
            return FetchResult(url, final, 304, None, MappingProxyType(headers), current, None)
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise FetchError(url, f"no such file: {path} (a web feed needs http:// or https://)") from None
    except OSError as exc:
        raise FetchError(url, f"cannot read {path}: {exc.strerror or _reason(exc)}") from None
    if len(body) > max_bytes:
        raise BodyTooLargeError(url, f"file is larger than the {max_bytes}-byte limit")
    return FetchResult(url, final, 200, body, MappingProxyType(headers), current, None)


class _HostGate:
    """A per-host semaphore with a user count, dropped when idle so a thousand hosts leave no residue."""

    __slots__ = ("gate", "users")

    def __init__(self, size: int) -> None:
        self.gate = asyncio.Semaphore(size)
        self.users = 0


class HttpFetcher:
    """The production Fetcher: one pooled httpx client, guarded connections, bounded everything."""

    def __init__(self, policy: FetchPolicy = FetchPolicy(), *, clock: Clock, resolver: Resolver | None = None) -> None:
        self._policy = policy
        self._clock = clock
        addresses = AddressPolicy.build(policy.allow_private_hosts, policy.allowed_networks)
        backend = GuardedBackend(addresses, resolver or SystemResolver())
        transport = GuardedTransport(backend, max_connections=policy.max_connections,
                                     max_keepalive=min(policy.max_connections, 20))
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False,
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),  # feeds get no cookies: no tracking, no growth
            timeout=httpx.Timeout(connect=policy.connect_timeout, read=policy.read_timeout,
                                  write=policy.read_timeout, pool=policy.connect_timeout),
            headers={"User-Agent": policy.user_agent, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"})
        self._global = asyncio.Semaphore(policy.max_connections)
        self._hosts: dict[str, _HostGate] = {}

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections; the fetcher is unusable afterwards."""
        await self._client.aclose()

    async def fetch(self, url: str, validators: Validators = Validators()) -> FetchResult:
        """Fetch ``url`` (http, https, file or a path) or raise a FetchError subclass saying why not."""
        target = _target(url)
        loop = asyncio.get_running_loop()
        deadline = asyncio.timeout(None)
        try:
            async with deadline:
                if isinstance(target, httpx.URL):
                    return await self._fetch_http(url, target, validators, deadline)
                async with self._global:
                    deadline.reschedule(loop.time() + self._policy.total_timeout)
                    return await asyncio.to_thread(_read_local, url, target, validators, self._policy.max_bytes)
        except TimeoutError:
            if deadline.expired():
                raise FetchTimeoutError(url, f"timed out: no complete response within {self._policy.total_timeout:g}s") from None
            raise

    @asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """A per-host place, then a global one: per host first so one busy host never hoards global places."""
        entry = self._hosts.get(host) or self._hosts.setdefault(host, _HostGate(self._policy.per_host))
        entry.users += 1
        try:
            async with entry.gate, self._global:
                yield
        finally:
            entry.users -= 1
            if not entry.users:
                self._hosts.pop(host, None)

    async def _fetch_http(self, url: str, current: httpx.URL, validators: Validators,
                          deadline: asyncio.Timeout) -> FetchResult:
        """Follow redirects by hand: each hop vetted, loops caught, the permanent prefix remembered."""
        loop = asyncio.get_running_loop()
        seen = [str(current)]
        permanent: str | None = None
        only_permanent = True
        for hop in range(self._policy.max_redirects + 1):
            async with self._slot(current.host):
                if deadline.when() is None:  # the clock starts once we may send, not while queued
                    deadline.reschedule(loop.time() + self._policy.total_timeout)
                try:
                    response = await self._client.send(self._request(current, validators), stream=True)
                    try:
                        if response.status_code not in REDIRECT_STATUSES:
                            return await self._finish(url, current, response, validators, permanent)
                        status, location = response.status_code, response.headers.get("location")
                    finally:
                        if response.status_code == 304 or response.status_code in REDIRECT_STATUSES:
                            await _drain(response)  # keep the connection alive for the next request
                        await response.aclose()
                except BlockedAddressError as exc:
                    how = "refusing to fetch" if hop == 0 else f"refusing to follow the redirect to {current}"
                    raise BlockedAddressError(url, f"{how}: {exc.reason}; {PRIVATE_HINT}") from None
                except httpx.HTTPError as exc:
                    raise self._network_error(url, current, hop, exc) from None
            if not location:
                raise FetchError(url, f"HTTP {status} redirect without a Location header")
            current = _http_url(url, location.strip(), current)
            only_permanent = only_permanent and status in PERMANENT_STATUSES
            permanent = str(current) if only_permanent else permanent
            if str(current) in seen:
                loop_urls = seen[seen.index(str(current)):] + [str(current)]
                raise TooManyRedirectsError(url, "redirect loop: " + " -> ".join(loop_urls))
            seen.append(str(current))
        raise TooManyRedirectsError(url, f"more than {self._policy.max_redirects} redirects")

    def _request(self, target: httpx.URL, validators: Validators) -> httpx.Request:
        """A GET carrying the stored validators, so an unchanged feed answers 304."""
        headers = {}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        return self._client.build_request("GET", target, headers=headers)

    async def _finish(self, url: str, final: httpx.URL, response: httpx.Response, sent: Validators,
                      permanent: str | None) -> FetchResult:
        """Turn the last response into a result: 304 keeps the old validators unless new ones came."""
        headers = MappingProxyType({k.lower(): v for k, v in response.headers.items()})
        status = response.status_code
        if status == 304:
            kept = Validators(headers.get("etag") or sent.etag, headers.get("last-modified") or sent.last_modified)
            return FetchResult(url, str(final), 304, None, headers, kept, permanent)
        if not 200 <= status < 300:
            retry_after = parse_retry_after(headers.get("retry-after"), self._clock.now())
            raise HTTPStatusError(url, status, retry_after)
        body = await self._read_body(url, response, headers)
        validators = Validators(headers.get("etag"), headers.get("last-modified"))
        return FetchResult(url, str(final), status, body, headers, validators, permanent)

    async def _read_body(self, url: str, response: httpx.Response, headers: Mapping[str, str]) -> bytes:
        """Stream, decompress and count, stopping the moment the decompressed size passes the cap."""
        cap = self._policy.max_bytes
        codings = [c.strip().lower() for c in headers.get("content-encoding", "").split(",")]
        layers = [Inflater(c, url) for c in reversed(codings) if c and c != "identity"]
        declared = headers.get("content-length", "")
        if not layers and declared.isdigit() and int(declared) > cap:
            raise BodyTooLargeError(url, f"body is {int(declared)} bytes, over the {cap}-byte limit")
        body = bytearray()
        try:
            async for raw in response.aiter_raw():
                pieces: Iterable[bytes] = (raw,)
                for layer in layers:
                    pieces = layer.feed_all(pieces)
                for piece in pieces:
                    body += piece
                    if len(body) > cap:
                        after = " after decompression" if layers else ""
                        raise BodyTooLargeError(url, f"body passed the {cap}-byte limit{after}")
        except zlib.error:
            names = ", ".join(layer.coding for layer in layers)
            raise FetchError(url, f"body is not valid {names} data") from None
        return bytes(body)

    def _network_error(self, url: str, current: httpx.URL, hop: int, exc: httpx.HTTPError) -> FetchError:
        """A short, human reason for a network failure, naming the redirect hop when it was not the first."""
        policy = self._policy
        where = "" if hop == 0 else f" (at redirect {current})"
        if isinstance(exc, httpx.ConnectTimeout):
            return FetchTimeoutError(url, f"connect timed out after {policy.connect_timeout:g}s{where}")
        if isinstance(exc, httpx.ReadTimeout):
            return FetchTimeoutError(url, f"read timed out: no data for {policy.read_timeout:g}s{where}")
        if isinstance(exc, httpx.TimeoutException):
            return FetchTimeoutError(url, f"timed out ({type(exc).__name__}){where}")
        if isinstance(exc, httpx.ConnectError):
            return TransportError(url, f"cannot connect to {current.host}: {_reason(exc)}")
        if isinstance(exc, httpx.RemoteProtocolError):
            return TransportError(url, f"broken HTTP response: {_reason(exc)}{where}")
        return TransportError(url, f"{_reason(exc)}{where}")
