"""A seekable file over a remote source's file object: a bounded block cache, planned reads.

PyAV reads a container through `BlockFile` (``av.open(fileobj)``) when the source has no
local path. Every byte comes from aligned blocks kept in a bounded LRU; missing blocks
next to each other are fetched with one read of the source's file (one HTTP Range
request, one ranged GET), and `prefetch` fetches the byte ranges a decoding plan will
read, coalesced, before the demuxer asks for them piecemeal.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import IO

from mediaref import SourceUnreadableError

__all__ = ["BLOCK", "BlockFile", "coalesce"]

BLOCK = 16 * 1024
"""Bytes per cached block: a planned range overfetches at most one block at each end."""

MAX_BYTES = int(os.environ.get("MEDIAREF_AV_REMOTE_CACHE_MB", "64")) << 20
"""Most bytes of blocks one open remote file keeps."""


def coalesce(ranges: Iterable[tuple[int, int]], gap: int = BLOCK) -> list[tuple[int, int]]:
    """Merge ``[start, end)`` byte ranges that overlap or lie within `gap` of each other."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class BlockFile(io.RawIOBase):
    """Read `raw` (a seekable binary file) through a bounded cache of aligned blocks.

    Args:
        raw: The source's file; closed with this one.
        uri: For error messages.
        max_bytes: Most bytes of blocks kept (least recently used dropped first).
    """

    def __init__(self, raw: IO[bytes], uri: str, max_bytes: int = MAX_BYTES) -> None:
        super().__init__()
        # A buffered reader's own read-ahead would overfetch: read its raw file directly.
        inner = raw.raw if isinstance(raw, io.BufferedReader) else raw
        self._owner, self._raw, self.uri = raw, inner, uri
        self.size = inner.seek(0, io.SEEK_END)
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._max_blocks = max(max_bytes // BLOCK, 4)
        self._lock = threading.Lock()
        self.fetches = 0
        """Reads of the source's file (requests)."""
        self.fetched = 0
        """Bytes read from the source's file."""
        self.readahead = 0
        """Bytes fetched at least per missing read: large while a full scan reads it all."""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self.size - self._pos)
        if n <= 0:
            return 0
        start, end = self._pos, self._pos + n
        with self._lock:
            self._fetch(start, end)
            done = 0
            for first in range(start // BLOCK * BLOCK, end, BLOCK):
                block = self._blocks[first]
                self._blocks.move_to_end(first)
                lo, hi = max(start, first) - first, min(end, first + len(block)) - first
                b[done : done + hi - lo] = block[lo:hi]
                done += hi - lo
        self._pos += done
        return done

    def prefetch(self, ranges: Iterable[tuple[int, int]]) -> None:
        """Fetch the blocks of byte ranges ``[start, end)`` a plan will read, coalesced."""
        with self._lock:
            for start, end in coalesce(ranges):
                self._fetch(max(start, 0), min(end, self.size))

    def _fetch(self, start: int, end: int) -> None:
        """Make the blocks covering ``[start, end)`` present: one read per missing stretch."""
        first, last = start // BLOCK, (end - 1) // BLOCK
        missing = self._missing(first, last)
        if missing and self.readahead:
            # A miss while reading on: fetch a long stretch from there, not 32 KiB at a time.
            ahead = (min(self.size, missing[0] * BLOCK + self.readahead) - 1) // BLOCK
            missing += self._missing(last + 1, ahead)
        stretches: list[list[int]] = []
        for i in missing:
            if stretches and stretches[-1][-1] == i - 1:
                stretches[-1].append(i)
            else:
                stretches.append([i])
        for s in stretches:
            self._read_blocks(s[0] * BLOCK, min((s[-1] + 1) * BLOCK, self.size))
        while len(self._blocks) > max(self._max_blocks, last - first + 1):
            self._blocks.popitem(last=False)

    def _missing(self, first: int, last: int) -> list[int]:
        """Return the blocks of ``first..last`` not cached; mark the others as just used."""
        missing = []
        for i in range(first, last + 1):
            if i * BLOCK in self._blocks:
                self._blocks.move_to_end(i * BLOCK)  # kept until the caller has read it
            else:
                missing.append(i)
        return missing

    def _read_blocks(self, start: int, end: int) -> None:
        self._raw.seek(start)
        data = bytearray()
        while len(data) < end - start:
            chunk = self._raw.read(end - start - len(data))
            if not chunk:
                raise SourceUnreadableError(
                    f"the source ended at byte {start + len(data)} of {self.size} "
                    "(it changed or was cut short)",
                    uri=self.uri,
                )
            data += chunk
        self.fetches += 1
        self.fetched += len(data)
        view = bytes(data)
        for at in range(start, end, BLOCK):
            self._blocks[at] = view[at - start : at - start + BLOCK]

    def close(self) -> None:
        if not self.closed:
            self._blocks.clear()
            self._owner.close()
        super().close()
