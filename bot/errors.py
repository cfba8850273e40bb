"""Every error pledgewatch raises on purpose, under one base class so callers can catch them all.

    PledgewatchError
    ├── ConfigError          a TOML file is missing, unreadable or invalid (carries every Problem)
    ├── QueryError           a keyword query cannot be parsed (carries the position)
    ├── FetchError           a feed could not be fetched
    │   ├── BlockedAddressError   the host resolves to a private/reserved address (SSRF guard)
    │   ├── FetchTimeoutError     connect/read timeout or the overall deadline passed
    │   ├── BodyTooLargeError     the decompressed body passed the size cap
    │   ├── TooManyRedirectsError more redirects than allowed, or a loop
    │   ├── HTTPStatusError       a non-success HTTP status (has .status and .retry_after)
    │   └── TransportError        DNS, connection reset, TLS and other network failures
    ├── StoreError           the state database cannot be opened or migrated
    └── NotifyError          a message could not be delivered
"""

from __future__ import annotations

from dataclasses import dataclass


class PledgewatchError(Exception):
    """Base class of every error raised deliberately by pledgewatch."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a configuration file, located as precisely as we can for a human editor."""

    file: str
    message: str
    line: int | None = None
    where: str | None = None  # e.g. "commitment 'joint-intel'" or "feed 'dawn'"
    key: str | None = None  # e.g. "deadline" or "keywords[2]"

    def __str__(self) -> str:
        location = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = [location]
        if self.where:
            parts.append(self.where)
        if self.key:
            parts.append(f"key '{self.key}'")
        return ": ".join(parts) + f": {self.message}"


class ConfigError(PledgewatchError):
    """Raised with *all* problems found, so a person fixes a file in one pass."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid configuration")


class QueryError(PledgewatchError):
    """A keyword query that cannot be parsed; ``position`` is a 0-based character offset."""

    def __init__(self, message: str, position: int | None = None):
        self.message = message
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"{message}{where}")


class FetchError(PledgewatchError):
    """A feed could not be fetched; ``reason`` is short enough for a summary line."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class BlockedAddressError(FetchError):
    """The host resolved to an address we refuse to contact (private, loopback, reserved...)."""


class FetchTimeoutError(FetchError):
    """A connect/read timeout or the overall per-request deadline passed."""


class BodyTooLargeError(FetchError):
    """The body (measured after decompression) exceeded the cap."""


class TooManyRedirectsError(FetchError):
    """More redirects than allowed, or a redirect loop."""


class HTTPStatusError(FetchError):
    """A non-success HTTP status; ``retry_after`` is in seconds when the server sent one."""

    def __init__(self, url: str, status: int, retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        reason = f"HTTP {status}" + (f" (retry after {retry_after:.0f}s)" if retry_after is not None else "")
        super().__init__(url, reason)


class TransportError(FetchError):
    """DNS failure, refused or reset connection, TLS error and similar network faults."""


class StoreError(PledgewatchError):
    """The state database cannot be opened, migrated or written."""


class NotifyError(PledgewatchError):
    """A message could not be delivered."""
