"""The process pool that runs :func:`bot.parse.parse_items` off the event loop.

feedparser is pure Python and holds the GIL for ~20 ms per news feed, so parsing in the bot's own process
would stall command replies during a big poll; worker processes (started lean, at lower priority) keep the
event loop free, and a worker that dies costs one retry, never the pool.
"""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import os
from collections.abc import Collection, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from bot.parse import ParsedFeed, _failed, parse_items

__all__ = ["ParserPool"]

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
because max_tasks_per_child deadlocks queued work on Python 3.11 (CPython gh-115634). The swap waits
for a moment with no parse in flight, up to RECYCLE_LIMIT tasks: replacing the workers in the middle
of a 1,000-feed poll cost a fresh start (imports included) on both cores while feeds waited."""
RECYCLE_LIMIT = 4
"""Multiple of RECYCLE_AFTER at which the executor is replaced even if parses are in flight."""


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
    """Runs parse_items off the event loop in a process pool, so bot commands stay responsive during a big poll."""

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
        self._in_flight = 0
        self._closed = False

    def _current(self) -> ProcessPoolExecutor:
        """The live executor, started lazily and replaced after RECYCLE_AFTER tasks at an idle moment."""
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        if self._executor is not None and self._submitted >= self._recycle_after and (
                self._in_flight == 0 or self._submitted >= RECYCLE_LIMIT * self._recycle_after):
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

    async def parse(self, body: bytes, headers: Mapping[str, str], url: str,
                    known: Collection[bytes] = ()) -> ParsedFeed:
        """Parse one body in a worker (see :func:`bot.parse.parse_items` for ``known``); a crashed worker
        costs a retry, never the whole pool."""
        if self._closed:
            raise RuntimeError("ParserPool is closed")
        plain_headers, known = dict(headers), frozenset(known)
        if self._workers == 0 or len(body) < self._inline_below:
            return await asyncio.to_thread(parse_items, body, plain_headers, url, known)
        loop = asyncio.get_running_loop()
        for _ in range(self._retries + 1):
            executor = self._current()
            self._in_flight += 1
            try:
                return await loop.run_in_executor(executor, parse_items, bytes(body), plain_headers, url, known)
            except (BrokenProcessPool, OSError):  # OSError: a worker could not even be started
                # Every task in flight fails with the one that killed the worker, so retry once
                # in a fresh pool; a body that kills that one too is given up.
                self._retire(executor, cancel=True)
            finally:
                self._in_flight -= 1
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
