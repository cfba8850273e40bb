"""The domain: agreements, the commitments in them, their deadlines and status, and the feeds we watch.

Everything here is a frozen value with no I/O, built by ``bot.config`` from the TOML files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from enum import Enum, IntEnum
from functools import cached_property
from zoneinfo import ZoneInfo

from bot.deadlines import Deadline


class Status(str, Enum):
    """Promise-tracker scale; the final ones stop reminders."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    STALLED = "stalled"
    PARTIAL = "partial"
    MET = "met"
    MISSED = "missed"

    @property
    def is_final(self) -> bool:
        return self in (Status.MET, Status.PARTIAL, Status.MISSED)

    @property
    def label(self) -> str:
        return {"pending": "not yet rated", "in_progress": "in progress"}.get(self.value, self.value)


class Implementation(IntEnum):
    """Peace-accord implementation coding (0-3), optional alongside the status."""

    NOT_INITIATED = 0
    MINIMAL = 1
    INTERMEDIATE = 2
    FULL = 3

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


@dataclass(frozen=True)
class Agreement:
    """A signed document or announced deal that contains commitments."""

    id: str
    title: str
    parties: tuple[str, ...] = ()
    signed: date | None = None
    sources: tuple[str, ...] = ()
    summary: str = ""


@dataclass(frozen=True)
class Revision:
    """A later, officially moved deadline; the original stays visible next to it."""

    deadline: Deadline
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Evidence:
    """A cited source that supports the commitment's status."""

    url: str
    date: date | None = None
    note: str = ""


@dataclass(frozen=True)
class Commitment:
    """One pledge: who promised what, by when, in the agreement's own words."""

    id: str
    agreement: str
    title: str
    responsible: tuple[str, ...] = ()
    lead: str = ""
    agreed: date | None = None
    deadline: Deadline | None = None
    revisions: tuple[Revision, ...] = ()
    quote: str = ""
    source: str = ""
    keywords: tuple[str, ...] = ()
    status: Status = Status.PENDING
    implementation: Implementation | None = None
    evidence: tuple[Evidence, ...] = ()
    tags: tuple[str, ...] = ()
    remind_before: tuple[timedelta, ...] | None = None
    search: bool = False  # also poll a feed per [[search]] template built from the keywords

    @property
    def current_deadline(self) -> Deadline | None:
        """The deadline in force: the latest revision, else the original."""
        return self.revisions[-1].deadline if self.revisions else self.deadline

    @property
    def is_ongoing(self) -> bool:
        """Undated pledges ("neither side's soil...") are ongoing: watched, never overdue."""
        return self.deadline is None


@dataclass(frozen=True)
class Settings:
    """Top-level settings of commitments.toml."""

    timezone: str = "UTC"
    remind_before: tuple[timedelta, ...] = (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    remind_at: time = time(9, 0)
    overdue_every: timedelta = timedelta(days=7)
    group_after: int = 5  # more matches than this in one poll go out as one message per commitment
    silence_after: timedelta = timedelta(days=30)  # no matched news this long before a deadline is news too
    digest: str = "daily"  # "daily", "weekly" or "off"
    digest_at: time = time(8, 0)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Catalog:
    """Everything commitments.toml says, validated."""

    settings: Settings = field(default_factory=Settings)
    agreements: tuple[Agreement, ...] = ()
    commitments: tuple[Commitment, ...] = ()

    @cached_property
    def by_id(self) -> dict[str, Commitment]:
        return {c.id: c for c in self.commitments}

    @cached_property
    def agreements_by_id(self) -> dict[str, Agreement]:
        return {a.id: a for a in self.agreements}


@dataclass(frozen=True)
class SearchOrigin:
    """Where a generated search feed came from, so people can see what the engine is asked."""

    template: str  # the [[search]] id
    commitment: str  # the commitment whose keywords were translated
    query: str  # the engine query, before URL encoding


@dataclass(frozen=True)
class Feed:
    """A news feed to poll."""

    id: str
    url: str
    name: str = ""
    interval: timedelta = timedelta(minutes=30)
    language: str = ""
    keywords: tuple[str, ...] = ()
    enabled: bool = True
    search: SearchOrigin | None = None  # set on feeds generated from a [[search]] template


@dataclass(frozen=True)
class SearchTemplate:
    """A news search engine's feed URL with a ``{query}`` slot: one feed per commitment with ``search = true``."""

    id: str
    url: str
    syntax: str  # "google", "bing" or "plain": how our queries are translated
    name: str = ""
    interval: timedelta = timedelta(minutes=30)
    language: str = ""
    max_words: int | None = None  # None: the syntax's own limit
    enabled: bool = True


@dataclass(frozen=True)
class FeedSettings:
    """Top-level defaults of feeds.toml."""

    interval: timedelta = timedelta(minutes=30)
    backfill: timedelta = timedelta(days=2)
    timeout: timedelta = timedelta(seconds=30)
    allow_private_hosts: bool = False


@dataclass(frozen=True)
class FeedCatalog:
    """Everything feeds.toml says, validated."""

    settings: FeedSettings = field(default_factory=FeedSettings)
    feeds: tuple[Feed, ...] = ()  # including those generated from the search templates
    searches: tuple[SearchTemplate, ...] = ()

    @cached_property
    def by_id(self) -> dict[str, Feed]:
        return {f.id: f for f in self.feeds}


@dataclass(frozen=True)
class Config:
    """Both files together, as the rest of the program sees them."""

    catalog: Catalog
    feeds: FeedCatalog
