"""Feed parsing: turn fetched bytes into plain-text entries with a stable identity, never raising.

feedparser does the lenient XML work; this module decides what we trust from it (bozo feeds still
give their entries, one bad entry is skipped alone), reduces everything to plain text, and keeps
the CPU-heavy parse off the event loop in a process pool.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import io
import multiprocessing
import os
import re
import xml.sax
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.api

from bot.text import absolute_link, author_name, collapse_spaces, defuse_entities, html_to_text
from bot.text import normalize_link, normalize_title, plain_text, truncate

__all__ = ["ParsedEntry", "ParsedFeed", "ParserPool", "parse_feed"]
__all__ += ["html_to_text", "normalize_link", "normalize_title"]  # re-exported from bot.text

SUMMARY_LIMIT = 2000
TITLE_LIMIT = 1000  # headlines are far shorter; this only stops a hostile multi-megabyte title
_MIN_YEAR, _MAX_YEAR = 1990, 2100


@dataclass(frozen=True)
class ParsedEntry:
    """One feed item reduced to what matching and deduplication need."""

    guid: str | None
    link: str | None
    link_key: str | None
    title: str
    summary: str
    categories: tuple[str, ...]
    published: datetime | None
    author: str | None

    @property
    def key(self) -> str:
        """Identity across polls: feeds re-send items, and guid beats link beats content."""
        if self.guid:
            return "guid:" + self.guid
        if self.link_key:
            return "link:" + self.link_key
        stamp = self.published.isoformat() if self.published else ""
        return "hash:" + hashlib.sha256((self.title + stamp).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class ParsedFeed:
    """A whole parse result, including why a feed was ill-formed, so the poller can report it."""

    title: str
    link: str | None
    entries: tuple[ParsedEntry, ...]
    bozo: bool
    bozo_reason: str | None
    is_feed: bool


def _failed(reason: str) -> ParsedFeed:
    """An empty result that still says what went wrong, for bodies we cannot use at all."""
    return ParsedFeed(title="", link=None, entries=(), bozo=True, bozo_reason=reason, is_feed=False)


# --- entity-expansion guard ------------------------------------------------------------------

_feedparser_replace_doctype = feedparser.api.replace_doctype


def _guarded_replace_doctype(data: bytes) -> Any:
    """feedparser's DOCTYPE step, fed defused bytes; it runs after decoding to UTF-8, so no
    charset trick (UTF-16, UTF-7, EBCDIC) can hide a declaration from the guard."""
    return _feedparser_replace_doctype(defuse_entities(data))


# feedparser looks this name up at call time; wrapping it is the one place where every body is
# already UTF-8 and the entity table is still unbuilt.
feedparser.api.replace_doctype = _guarded_replace_doctype


# --- extraction ----------------------------------------------------------------------------


def _title(container: dict[str, Any]) -> str:
    """A title as plain text; dict.get bypasses FeedParserDict's alias fallbacks."""
    title = plain_text(dict.get(container, "title"), dict.get(container, "title_detail"))
    return truncate(title, TITLE_LIMIT)


def _summary(raw: dict[str, Any]) -> str:
    """The description, else the first content block, because Atom feeds may carry only content."""
    text = plain_text(dict.get(raw, "summary"), dict.get(raw, "summary_detail"))
    for block in () if text else dict.get(raw, "content") or ():
        if isinstance(block, Mapping) and (text := plain_text(block.get("value"), block)):
            break
    return truncate(text, SUMMARY_LIMIT)


def _categories(raw: dict[str, Any]) -> tuple[str, ...]:
    """Tag terms in order without repeats, since feeds often list a category twice."""
    seen: dict[str, None] = {}
    for tag in dict.get(raw, "tags") or ():
        if isinstance(tag, Mapping):
            term = tag.get("term") or tag.get("label")
            if isinstance(term, str) and (term := collapse_spaces(term)):
                seen.setdefault(term, None)
    return tuple(seen)


def _utc(value: Any) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; absurd years mean a broken feed clock."""
    try:
        year, month, day, hour, minute, second = (int(part) for part in tuple(value)[:6])
        if not _MIN_YEAR <= year <= _MAX_YEAR:
            return None
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def _published(raw: dict[str, Any]) -> datetime | None:
    """Publication time, falling back to the update time that many feeds give instead."""
    for key in ("published_parsed", "updated_parsed"):
        value = dict.get(raw, key)
        if value and (when := _utc(value)) is not None:
            return when
    return None


def _author(raw: dict[str, Any]) -> str | None:
    """The author's name from the parsed detail, else the raw author field."""
    detail = dict.get(raw, "author_detail")
    name = detail.get("name") if isinstance(detail, Mapping) else None
    return author_name(name or dict.get(raw, "author"))


def _entry(raw: dict[str, Any], base: str | None) -> ParsedEntry | None:
    """One entry, or None when it carries nothing we could match or show."""
    guid = dict.get(raw, "id")
    guid = (guid.strip() or None) if isinstance(guid, str) else None
    link = absolute_link(dict.get(raw, "link"), base)
    title = _title(raw)
    summary = _summary(raw)
    if not (guid or link or title or summary):
        return None
    return ParsedEntry(
        guid=guid,
        link=link,
        link_key=normalize_link(link) if link else None,
        title=title,
        summary=summary,
        categories=_categories(raw),
        published=_published(raw),
        author=_author(raw),
    )


_BOMS = (codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF8, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)
_XML_DECLS = tuple("<?xml".encode(c) for c in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037"))


def _added_lines(body: bytes) -> int:
    """1 when feedparser will prepend an XML declaration line, which shifts its error line numbers."""
    bom = next((bom for bom in _BOMS if body.startswith(bom)), b"")
    return 0 if body[len(bom):].startswith(_XML_DECLS) else 1


def _describe(exc: object, body: bytes) -> str:
    """A one-line reason for a bozo feed, short enough for a status message."""
    if isinstance(exc, xml.sax.SAXParseException):
        return f"{exc.getMessage()} at line {max(1, (exc.getLineNumber() or 1) - _added_lines(body))}"
    if not isinstance(exc, BaseException):
        return "ill-formed feed"
    text = collapse_spaces(str(exc))
    return truncate(f"{type(exc).__name__}: {text}" if text else type(exc).__name__, 200)


def _parse(body: bytes, headers: Mapping[str, str], url: str | None) -> ParsedFeed:
    """parse_feed without the safety net, so the net stays one obvious line."""
    if not isinstance(body, bytes):
        body = bytes(body)
    if not body or body.isspace():
        return _failed("empty body")
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    if lowered and "content-type" not in lowered:
        # Without this, feedparser would flag the feed and default to ISO-8859-1 rather than the
        # UTF-8 it assumes when given no headers at all: a missing type is no reason to differ.
        lowered["content-type"] = "application/xml"
    base = url
    if location := lowered.get("content-location", "").strip():
        base = urljoin(url, location) if url else location
        lowered["content-location"] = base  # let feedparser apply xml:base against an absolute URI
    # A BytesIO, never bare bytes: feedparser tries bytes as a *file name* first, so a body
    # reading "/etc/passwd" or "/dev/zero" would be opened and read.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=lowered,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries: list[ParsedEntry] = []
    unreadable = 0
    for raw in result.get("entries") or ():
        try:
            entry = _entry(raw, base)
        except Exception:  # one broken entry must not cost the others
            unreadable += 1
            continue
        if entry is not None:
            entries.append(entry)
    bozo = bool(result.get("bozo"))
    reason = _describe(result.get("bozo_exception"), body) if bozo else None
    if unreadable:
        bozo = True
        reason = reason or f"skipped {unreadable} unreadable entries"
    feed = result.get("feed") or {}
    return ParsedFeed(
        title=_title(feed),
        link=absolute_link(dict.get(feed, "link"), base),
        entries=tuple(entries),
        bozo=bozo,
        bozo_reason=reason,
        is_feed=bool(result.get("version")) or bool(entries),
    )


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None, url: str | None = None) -> ParsedFeed:
    """Parse any bytes into a ParsedFeed without ever raising, because one hostile feed must not
    stop a poll of hundreds."""
    try:
        return _parse(body, headers or {}, url)
    except Exception as exc:
        return _failed(f"parser failed: {type(exc).__name__}: {exc}"[:200])


# --- process pool --------------------------------------------------------------------------

INLINE_BELOW = 4096
"""Bodies smaller than this parse in a thread, since IPC would cost more than it saves: measured,
a 130 B feed takes 0.15 ms inline vs 0.44 ms through a worker, 3.7 kB 1.8 ms vs 2.3 ms, and a GIL
hold of under 2 ms does not stall the event loop noticeably."""

PARSER_NICE = 10
"""Parser workers run this much nicer than the bot: on 2 cores, two busy parsers would otherwise take the CPU
from the event loop whenever it has a command to answer (bench/latency.py). Nice only matters while the CPU
is contended, so an idle machine parses as fast as before."""

RECYCLE_AFTER = 500
"""Tasks per executor before it is replaced, bounding leaks in long-lived workers. Done by hand
because max_tasks_per_child deadlocks queued work on Python 3.11 (CPython gh-115634)."""


def _lower_priority() -> None:
    """Worker initializer: yield the CPU to the bot's own process when both want it."""
    try:
        os.nice(PARSER_NICE)
    except OSError:  # not permitted (e.g. a seccomp profile): parse at normal priority
        pass


def _mp_context() -> multiprocessing.context.BaseContext:
    """forkserver (else spawn): forking the caller's threaded asyncio process is unsafe."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods and _LeanForkServerContext is not None:
        return _LeanForkServerContext()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


try:  # multiprocessing's internals, stable since 3.4; without them workers start the stock way
    from multiprocessing import forkserver as _forkserver
    from multiprocessing import popen_forkserver as _popen_forkserver
    from multiprocessing import reduction as _reduction
    from multiprocessing import spawn as _spawn
    from multiprocessing import util as _mp_util
    from multiprocessing.context import ForkServerContext, ForkServerProcess, set_spawning_popen

    class _LeanPopen(_popen_forkserver.Popen):
        """Starts a worker like multiprocessing does, minus re-running the parent's ``__main__`` in it.

        Stock workers first re-import the main module: under the ``pledgewatch`` console script that is bot.cli
        and so python-telegram-bot, httpx, APScheduler and every bot module, 59 MB per worker where parsing
        needs 34 (bench/scale.py). The workers only need ``bot.parse``, which unpickling the task imports."""

        def _launch(self, process_obj: Any) -> None:  # multiprocessing/popen_forkserver.py, one change marked
            prep_data = _spawn.get_preparation_data(process_obj._name)
            prep_data.pop("init_main_from_path", None)  # the change: never import the parent's __main__
            prep_data.pop("init_main_from_name", None)
            buf = io.BytesIO()
            set_spawning_popen(self)
            try:
                _reduction.dump(prep_data, buf)
                _reduction.dump(process_obj, buf)
            finally:
                set_spawning_popen(None)
            self.sentinel, w = _forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
            _parent_w = os.dup(w)
            self.finalizer = _mp_util.Finalize(self, _mp_util.close_fds,  # type: ignore[attr-defined]
                                               (_parent_w, self.sentinel))
            with open(w, "wb", closefd=True) as f:
                f.write(buf.getbuffer())
            self.pid = _forkserver.read_signed(self.sentinel)

    class _LeanProcess(ForkServerProcess):
        """A forkserver process started by :class:`_LeanPopen`."""

        @staticmethod
        def _Popen(process_obj: Any) -> Any:
            return _LeanPopen(process_obj)

    class _LeanForkServerContext(ForkServerContext):
        """The forkserver context with lean workers (same forkserver, same queues)."""

        Process = _LeanProcess

except (ImportError, AttributeError):  # pragma: no cover - a Python without these internals
    _LeanForkServerContext = None  # type: ignore[assignment,misc]


class ParserPool:
    """Runs parse_feed off the event loop in a process pool, so bot commands stay responsive during a big poll."""

    def __init__(
        self,
        workers: int | None = None,
        *,
        inline_below: int = INLINE_BELOW,
        recycle_after: int = RECYCLE_AFTER,
        retries: int = 1,
    ) -> None:
        if workers is not None and workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self._workers = (os.cpu_count() or 1) if workers is None else workers
        self._inline_below = inline_below
        self._recycle_after = max(1, recycle_after)
        self._retries = max(0, retries)
        self._executor: ProcessPoolExecutor | None = None
        self._submitted = 0
        self._closed = False

    def _current(self) -> ProcessPoolExecutor:
        """The live executor, started lazily and replaced after RECYCLE_AFTER tasks."""
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        if self._executor is not None and self._submitted >= self._recycle_after:
            self._retire(self._executor, cancel=False)
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self._workers, mp_context=_mp_context(),
                                                 initializer=_lower_priority)
            self._submitted = 0
        self._submitted += 1
        return self._executor

    def _retire(self, executor: ProcessPoolExecutor, *, cancel: bool) -> None:
        """Stop using an executor; its queued work still finishes unless it is broken anyway."""
        if self._executor is executor:
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=cancel)

    async def parse(self, body: bytes, headers: Mapping[str, str], url: str) -> ParsedFeed:
        """Parse one body in a worker; a crashed worker costs a retry, never the whole pool."""
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        plain_headers = dict(headers)
        if self._workers == 0 or len(body) < self._inline_below:
            return await asyncio.to_thread(parse_feed, body, plain_headers, url)
        loop = asyncio.get_running_loop()
        for _ in range(self._retries + 1):
            executor = self._current()
            try:
                return await loop.run_in_executor(executor, parse_feed, bytes(body), plain_headers, url)
            except (BrokenProcessPool, OSError):  # OSError: a worker could not even be started
                # Every task in flight fails with the one that killed the worker, so retry once
                # in a fresh pool; a body that kills that one too is given up.
                self._retire(executor, cancel=True)
        return _failed("parser worker died while parsing this body")

    def close(self) -> None:
        """Stop the workers; pending parses finish first so no caller is left waiting forever."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> ParserPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.close)
