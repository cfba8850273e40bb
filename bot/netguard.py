"""The SSRF guard: a network backend that enforces bot.addresses' rules on every connection.

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
from ipaddress import ip_address
from typing import Any, Protocol

import httpcore
import httpx

from bot.addresses import AddressPolicy, IPAddress, IPNetwork, classify_address, parse_host_address
from bot.errors import BlockedAddressError

__all__ = ["AddressPolicy", "GuardedBackend", "GuardedTransport", "IPAddress", "IPNetwork", "Resolver",
           "SystemResolver", "classify_address", "parse_host_address"]


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
