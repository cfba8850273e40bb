"""The SSRF guard: which addresses a feed may make us contact, and a network backend that enforces it.

A feed URL comes from a config file or, worse, from a redirect chosen by a remote server, so a
hostname alone proves nothing.  ``GuardedBackend`` sits under httpcore's connection pool: it
resolves the hostname once, refuses the connection if any answer is non-public, and connects to
the very address it checked, so DNS rebinding cannot swap the address between check and connect.
httpcore still sends the hostname in the Host header and as the TLS server name.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any, Protocol

import httpcore
import httpx

from bot.errors import BlockedAddressError

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

_V4_BLOCKS: tuple[tuple[IPv4Network, str], ...] = tuple((IPv4Network(net), label) for net, label in (
    ("0.0.0.0/32", "an unspecified address"),
    ("0.0.0.0/8", "a reserved ('this network') address"),
    ("10.0.0.0/8", "a private address"),
    ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
    ("127.0.0.0/8", "a loopback address"),
    ("169.254.0.0/16", "a link-local address"),
    ("172.16.0.0/12", "a private address"),
    ("192.0.0.0/24", "a reserved (IETF protocol) address"),
    ("192.0.2.0/24", "a documentation address"),
    ("192.88.99.0/24", "a reserved (6to4 relay) address"),
    ("192.168.0.0/16", "a private address"),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", "a documentation address"),
    ("203.0.113.0/24", "a documentation address"),
    ("224.0.0.0/4", "a multicast address"),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", "a reserved address"),
))

_V6_BLOCKS: tuple[tuple[IPv6Network, str], ...] = tuple((IPv6Network(net), label) for net, label in (
    ("::/128", "an unspecified address"),
    ("::1/128", "a loopback address"),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("100::/64", "a discard-only address"),
    ("2001::/32", "a Teredo tunnel address"),
    ("2001::/23", "a reserved (IETF protocol) address"),
    ("2001:db8::/32", "a documentation address"),
    ("3fff::/20", "a documentation address"),
    ("fc00::/7", "a unique local (private) address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", "a site-local address"),
    ("ff00::/8", "a multicast address"),
))
_V6_GLOBAL_UNICAST = IPv6Network("2000::/3")
_V4_MAPPED = IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")


def _embedded_v4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), since that is where packets go."""
    if address in _V4_MAPPED:
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-mapped"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in _V4_COMPATIBLE and int(address) > 1:
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-compatible"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address.teredo is not None:
        server, client = address.teredo
        return (client if classify_address(client) else server), "Teredo"
    return None


def classify_address(address: IPAddress | str) -> str | None:
    """Why we refuse to contact this address (e.g. "a loopback address"), or None when it is public."""
    ip = ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv4Address):
        for net4, label in _V4_BLOCKS:
            if ip in net4:
                return label
        return None if ip.is_global else "a non-public address"
    if ip.scope_id:
        return "a scoped (link-local) address"
    embedded = _embedded_v4(ip)
    if embedded is not None and (inner := classify_address(embedded[0])) is not None:
        return f"{inner} ({embedded[1]} {embedded[0]})"
    for net, label in _V6_BLOCKS:
        if ip in net:
            return label
    if ip in _V4_COMPATIBLE:
        return "a deprecated IPv4-compatible address"
    if ip in _V4_MAPPED or ip in _NAT64 or ip in _V6_GLOBAL_UNICAST:
        return None
    return "a reserved address"


def _ipv4_part(text: str) -> int:
    """One dotted part as inet_aton reads it: 0x hex, leading-zero octal, else decimal."""
    if text[:2].lower() == "0x":
        return int(text[2:] or "0", 16)
    if len(text) > 1 and text.startswith("0"):
        return int(text[1:], 8)
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def parse_host_address(host: str) -> IPAddress | None:
    """The address a URL host literally names, reading odd IPv4 spellings (2130706433, 0x7f.1, 127.1)
    the way resolvers do; None for a real hostname; ValueError for a numeric host that is no address."""
    host = host.strip("[]")
    if ":" in host:
        return IPv6Address(host)
    parts = host[:-1].split(".") if host.endswith(".") else host.split(".")
    last = parts[-1].lower()
    if not last or not (last.isdigit() or (last.startswith("0x") and all(c in "0123456789abcdef" for c in last[2:]))):
        return None  # a hostname: the last label of a name is never a number
    try:
        values = [_ipv4_part(part) for part in parts]
    except ValueError:
        raise ValueError(f"{host!r} is neither a hostname nor a valid IPv4 address") from None
    if len(values) > 4 or any(v > 255 for v in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise ValueError(f"{host!r} is neither a hostname nor a valid IPv4 address")
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number += value << (8 * (3 - index))
    return IPv4Address(number)


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses may be contacted: public ones always, others only by explicit choice."""

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = ()  # exemptions, e.g. one intranet feed server

    @classmethod
    def build(cls, allow_private: bool, allowed_networks: Iterable[str] = ()) -> AddressPolicy:
        """Parse exemptions like "10.1.2.3" or "192.168.5.0/24" once, failing loudly on typos."""
        return cls(allow_private, tuple(ip_network(n.strip(), strict=False) for n in allowed_networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` must not be contacted under this policy, or None if it may."""
        if self.allow_private:
            return None
        candidates = [address]
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        if any(c in net for c in candidates for net in self.allowed if c.version == net.version):
            return None
        return classify_address(address)


class Resolver(Protocol):
    """Turns a hostname into IP address strings; injected so tests can play DNS."""

    async def resolve(self, host: str) -> Sequence[str]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo), run off the event loop."""

    async def resolve(self, host: str) -> Sequence[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _naming(host: str, ip: IPAddress, literal: bool) -> str:
    """The start of a refusal that shows both what the URL said and the address it led to."""
    if not literal:
        return f"{host} resolves to {ip},"
    return f"{host} is" if str(ip) == host.strip("[]") else f"{host} means {ip},"


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks and connects to the checked address only."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def addresses(self, host: str, timeout: float | None = None) -> list[IPAddress]:
        """Resolve once and vet every answer, so a mixed public/private answer is refused whole."""
        try:
            literal = parse_host_address(host)
        except ValueError as exc:
            raise httpcore.ConnectError(str(exc)) from None
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                async with asyncio.timeout(timeout):
                    answers = await self._resolver.resolve(host)
            except TimeoutError:
                raise httpcore.ConnectTimeout(f"DNS lookup for {host} timed out") from None
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"DNS lookup for {host} failed: {getattr(exc, 'strerror', None) or exc}") from None
            try:
                found = [ip_address(a) for a in answers]
            except ValueError as exc:
                raise httpcore.ConnectError(f"DNS lookup for {host} gave a non-address: {exc}") from None
            if not found:
                raise httpcore.ConnectError(f"DNS lookup for {host} returned no address")
        for ip in found:
            if (why := self._policy.refusal(ip)) is not None:
                raise BlockedAddressError(host, f"{_naming(host, ip, literal is not None)} {why}")
        return found

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        """Connect to the first checked address that answers; never look the name up again."""
        failure: Exception | None = None
        for ip in await self.addresses(host, timeout):
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used for feeds")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout), (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout), (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException), (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError), (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError), (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError), (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """Present httpcore failures as httpx's, so callers of the client see one family of exceptions."""
    try:
        yield
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
            httpcore.UnsupportedProtocol) as exc:
        mapped = next(to for origin, to in _ERRORS if isinstance(exc, origin))
        raise mapped(str(exc)) from exc


class _Body(httpx.AsyncByteStream):
    """The response body of the guarded transport, with httpcore errors translated while streaming."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        with _as_httpx_errors():
            await self._stream.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool whose every new connection goes through ``GuardedBackend``
    (httpx 0.28 has no public switch for the network backend, hence this thin layer)."""

    def __init__(self, backend: GuardedBackend, *, max_connections: int, max_keepalive: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections, max_keepalive_connections=max_keepalive,
            keepalive_expiry=5.0, http1=True, http2=False, network_backend=backend)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw, content=request.stream, extensions=request.extensions)
        with _as_httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Body(response.stream), extensions=response.extensions)

    async def aclose(self) -> None:
        await self._pool.aclose()
