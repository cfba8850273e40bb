"""Undo a Content-Encoding in bounded steps, so a gzip bomb is measured as it inflates and stopped early."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from bot.errors import FetchError

STEP = 64 * 1024  # most bytes one decompression step may produce


class Inflater:
    """Undoes one content-coding with bounded output per step, so a bomb cannot balloon in a single call."""

    def __init__(self, coding: str, url: str) -> None:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise FetchError(url, f"unsupported Content-Encoding {coding!r}")
        self.coding = coding
        self._gzip = coding != "deflate"
        self._engine: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
        self._finished_members = 0
        self._done = False

    def feed_all(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            yield from self.feed(piece)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decompressed pieces of at most STEP bytes; gzip members that follow one another are all read."""
        while not self._done:
            if self._engine is None:  # deflate is zlib-wrapped by the RFC, raw from some servers
                if not data:
                    return
                zlib_header = len(data) >= 2 and data[0] & 0x0F == 8 and int.from_bytes(data[:2], "big") % 31 == 0
                self._engine = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
            try:
                out = self._engine.decompress(data, STEP)
            except zlib.error:
                if not self._finished_members:
                    raise
                self._done = True  # junk after a complete member: keep what we have
                return
            if out:
                yield out
            if self._engine.eof:
                self._finished_members += 1
                data = self._engine.unused_data
                self._engine = zlib.decompressobj(16 + zlib.MAX_WBITS) if self._gzip else None
                self._done = not self._gzip
                if not data:
                    return
            else:
                data = self._engine.unconsumed_tail
                if not data and len(out) < STEP:  # a full step may leave output inside zlib: go round
                    return
