"""What a fetch is asked and what it returns: the policy, validators, the result and the Fetcher seam.

Kept apart from the HTTP machinery so the poller and tests depend on these values, not on httpx.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol

from bot import USER_AGENT


@dataclass(frozen=True)
class FetchPolicy:
    """Every limit a fetch obeys, so a hostile or broken server costs bounded time, memory and sockets."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # per read; a trickle defeats it alone, hence total_timeout
    total_timeout: float = 60.0  # one request including redirects, from when it gets its connection slot
    max_bytes: int = 10_000_000  # measured after decompression
    max_redirects: int = 5
    max_connections: int = 50
    per_host: int = 4
    allow_private_hosts: bool = False
    user_agent: str = USER_AGENT
    allowed_networks: tuple[str, ...] = ()  # exempt from the SSRF guard, e.g. ("10.1.2.3", "192.168.7.0/24")

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout", "max_bytes", "max_connections", "per_host"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchPolicy.{name} must be positive, got {getattr(self, name)!r}")
        if self.max_redirects < 0:
            raise ValueError(f"FetchPolicy.max_redirects must be >= 0, got {self.max_redirects!r}")


@dataclass(frozen=True)
class Validators:
    """What the server said identifies this version, sent back so an unchanged feed costs a 304."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """One successful fetch: a body to parse, or proof that nothing changed."""

    url: str  # the URL requested
    final_url: str  # after redirects; the base for relative links
    status: int  # 2xx (normally 200) or 304
    body: bytes | None  # decompressed; None when not modified
    headers: Mapping[str, str]  # final response headers, lower-case names
    validators: Validators  # to store and send next time
    permanent_url: str | None  # where the 301/308 hops at the start of the chain led: fetch that next time

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class Fetcher(Protocol):
    """Anything that fetches a feed URL; the poller depends on this, not on HTTP."""

    async def fetch(self, url: str, validators: Validators = Validators()) -> FetchResult: ...


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date, relative to ``now``), >= 0."""
    if value is None or not (value := value.strip()):
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # HTTP-dates are GMT
    return max(0.0, (when - now).total_seconds())
