"""A seekable file over a remote source's file object: shared bounded blocks, planned reads.

PyAV reads a container through `BlockFile` (``av.open(fileobj)``) when the source has no
local path. Every byte comes from aligned blocks kept in one process-wide LRU, bounded in
bytes and keyed by the source's identity, so the containers that parallel decoders of one
video open share what any of them fetched (each byte is fetched once). Missing blocks next
to each other are fetched with one read of the source's file (one HTTP Range request, one
ranged GET), and `prefetch` fetches the byte ranges a decoding plan will read, coalesced,
before the demuxer asks for them piecemeal.
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import IO

from mediaref import SourceUnreadableError

__all__ = ["BLOCK", "BlockFile", "BlockStore", "coalesce", "store"]

BLOCK = 16 * 1024
"""Bytes per cached block: a planned range overfetches at most one block at each end."""

MAX_BYTES = int(float(os.environ.get("MEDIAREF_AV_REMOTE_CACHE_MB", "64")) * 2**20)
"""Most bytes of remote blocks the process keeps (all sources together)."""


def coalesce(ranges: Iterable[tuple[int, int]], gap: int = BLOCK) -> list[tuple[int, int]]:
    """Merge ``[start, end)`` byte ranges that overlap or lie within `gap` of each other."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if out and start <= out[-1][1] + gap:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class BlockStore:
    """Blocks of remote files by (source identity, offset): an LRU bounded in bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._lock = threading.Lock()
        self._blocks: OrderedDict[tuple[Hashable, int], bytes] = OrderedDict()
        self._parts: OrderedDict[tuple[Hashable, int], list[tuple[int, bytes]]] = OrderedDict()
        """Blocks fetched in part (by `BlockFile.prefetch(exact=True)`): their pieces."""

    def get(self, key: Hashable, offset: int) -> bytes | None:
        """Return a block (marking it used), or `None`."""
        with self._lock:
            block = self._blocks.get((key, offset))
            if block is not None:
                self._blocks.move_to_end((key, offset))
            return block

    def put(self, key: Hashable, offset: int, block: bytes) -> None:
        """Keep a block, dropping the least recently used beyond the bound."""
        with self._lock:
            old = self._blocks.pop((key, offset), None)
            self.nbytes += len(block) - (len(old) if old is not None else 0)
            self._blocks[(key, offset)] = block
            self._shrink()

    def get_part(self, key: Hashable, offset: int, lo: int, hi: int) -> bytes | None:
        """Return bytes ``[lo, hi)`` of a block that is only partly here, if they are."""
        with self._lock:
            for start, data in self._parts.get((key, offset), ()):
                if start <= lo and hi <= start + len(data):
                    return data[lo - start : hi - start]
            return None

    def put_part(self, key: Hashable, offset: int, lo: int, data: bytes) -> None:
        """Keep the bytes of a block from `lo` (the ends of an exact prefetch).

        They are merged with the parts already here; parts that make the whole block
        become the block.
        """
        with self._lock:
            old = self._parts.pop((key, offset), [])
            self.nbytes -= sum(len(d) for _, d in old)
            merged: list[tuple[int, bytes]] = []
            for start, d in sorted([*old, (lo, data)], key=lambda piece: piece[0]):
                if merged and start <= merged[-1][0] + len(merged[-1][1]):
                    m0, md = merged[-1]
                    merged[-1] = (m0, md + d[m0 + len(md) - start :])
                else:
                    merged.append((start, d))
            block = None
            if len(merged) == 1 and merged[0][0] == offset and len(merged[0][1]) >= BLOCK:
                block = merged[0][1][:BLOCK]
            else:
                self._parts[(key, offset)] = merged
                self.nbytes += sum(len(d) for _, d in merged)
                self._shrink()
        if block is not None:
            self.put(key, offset, block)

    def _shrink(self) -> None:
        """Drop the least recently used parts, then blocks, beyond the bound (not the last)."""
        while self.nbytes > self.max_bytes and len(self._blocks) + len(self._parts) > 1:
            if self._parts:
                self.nbytes -= sum(len(d) for _, d in self._parts.popitem(last=False)[1])
            else:
                self.nbytes -= len(self._blocks.popitem(last=False)[1])

    def clear(self) -> None:
        """Drop every block."""
        with self._lock:
            self._blocks.clear()
            self._parts.clear()
            self.nbytes = 0

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


store = BlockStore()
os.register_at_fork(after_in_child=store.after_fork_in_child)


class BlockFile(io.RawIOBase):
    """Read `raw` (a seekable binary file) through the shared, bounded block store.

    Args:
        raw: The source's file; closed with this one.
        uri: For error messages.
        key: What identifies the content (the source's identity): files of one content
            share blocks.
        blocks: The store (default: the process-wide one).
    """

    def __init__(
        self,
        raw: IO[bytes],
        uri: str,
        key: Hashable,
        blocks: BlockStore | None = None,
        read_range: Callable[[int, int], bytes] | None = None,
    ) -> None:
        super().__init__()
        # A buffered reader's own read-ahead would overfetch: read its raw file directly.
        inner = raw.raw if isinstance(raw, io.BufferedReader) else raw
        self._owner, self._raw, self.uri, self.key = raw, inner, uri, key
        self._read_range = read_range
        """The source's own ranged read, if it has one (one request, no cache in between)."""
        self.store = store if blocks is None else blocks
        self.size = inner.seek(0, io.SEEK_END)
        self._pos = 0
        self._lock = threading.Lock()
        self.fetches = 0
        """Reads of the source's file (requests)."""
        self.fetched = 0
        """Bytes read from the source's file."""
        self.readahead = 0
        """Bytes fetched at least per missing read: large while a full scan reads it all."""
        self.fences: list[int] = []
        """Offsets a read is cut short at (`readinto` returns the bytes before it): where
        planned bytes end, so that the demuxer's buffer does not fetch past them."""

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
        for fence in self.fences:
            if self._pos < fence < self._pos + len(b):
                b = memoryview(b)[: fence - self._pos]  # a short read: FFmpeg reads on later
                break
        done = self._copy_into(self._pos, b)
        self._pos += done
        return done

    def read_at(self, offset: int, n: int) -> bytes:
        """Return up to `n` bytes from `offset`, leaving the position where it was.

        What reads the container's own tables must use this, not ``seek`` + ``read``: the
        demuxer's buffer (FFmpeg's AVIOContext) believes the file sits where it left it
        and reads on from there without seeking, so moving the position under it feeds
        the decoder bytes from elsewhere (seen: x265's MP4 and LeRobot's AV1 over HTTP,
        a frame never output or InvalidDataError, after the ``moov`` box was read).
        """
        out = bytearray(max(0, min(n, self.size - offset)))
        return bytes(out[: self._copy_into(offset, out)])

    def _copy_into(self, start: int, b: memoryview | bytearray) -> int:
        """Copy the bytes from `start` into `b` (as many as fit or exist); return how many."""
        n = min(len(b), self.size - start)
        if n <= 0 or start < 0:
            return 0
        end = start + n
        with self._lock:
            fresh = self._fetch(start, end)
            done = 0
            for first in range(start // BLOCK * BLOCK, end, BLOCK):
                block = fresh.get(first) or self.store.get(self.key, first)
                part = self._edge(first, max(start, first), min(end, first + BLOCK))
                if block is None and part is not None:
                    b[done : done + len(part)] = part
                    done += len(part)
                    continue
                if block is None:  # dropped meanwhile by other readers: fetch it again
                    block = self._read_blocks(first, min(first + BLOCK, self.size))[first]
                lo, hi = max(start, first) - first, min(end, first + len(block)) - first
                b[done : done + hi - lo] = block[lo:hi]
                done += hi - lo
        return done

    def prefetch(self, ranges: Iterable[tuple[int, int]], *, exact: bool = False) -> None:
        """Fetch the blocks of byte ranges ``[start, end)`` a plan will read, coalesced.

        With `exact`, the bytes of each range only, not the whole blocks at its ends: the
        parts of those blocks are kept by this file (`_edges`) for the reads inside them.
        """
        with self._lock:
            for start, end in coalesce(ranges):
                self._fetch(max(start, 0), min(end, self.size), exact=exact)

    def _edge(self, first: int, lo: int, hi: int) -> bytes | None:
        """Return bytes ``[lo, hi)`` of block `first` from its fetched parts, if there."""
        return self.store.get_part(self.key, first, lo, hi)

    def _fetch(self, start: int, end: int, *, exact: bool = False) -> dict[int, bytes]:
        """Fetch the missing blocks covering ``[start, end)``: one read per missing stretch.

        With `exact`, a stretch starts and ends at `start` and `end` where they fall inside
        a block (see `prefetch`).

        Returns:
            The blocks fetched whole, by offset (they stay usable even if the store drops
            them).
        """
        first, last = start // BLOCK, (end - 1) // BLOCK
        missing = [
            i
            for i in self._missing(first, last)
            if self._edge(i * BLOCK, max(start, i * BLOCK), min(end, (i + 1) * BLOCK)) is None
        ]
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
        fresh: dict[int, bytes] = {}
        for s in stretches:
            lo, hi = s[0] * BLOCK, min((s[-1] + 1) * BLOCK, self.size)
            if exact:
                lo, hi = max(lo, start), min(hi, end)
            fresh.update(self._read_blocks(lo, hi))
        return fresh

    def _missing(self, first: int, last: int) -> list[int]:
        """Return the blocks of ``first..last`` not in the store (marking the others used)."""
        return [i for i in range(first, last + 1) if self.store.get(self.key, i * BLOCK) is None]

    def _read_blocks(self, start: int, end: int) -> dict[int, bytes]:
        """Read ``[start, end)``; keep its whole blocks in the store, its partial ones here."""
        view = self._read(start, end)
        self.fetches += 1
        self.fetched += len(view)
        blocks = {}
        for at in range(start // BLOCK * BLOCK, end, BLOCK):
            lo, hi = max(at, start), min(at + BLOCK, end)
            if lo == at and (hi == at + BLOCK or hi == self.size):
                blocks[at] = block = view[lo - start : hi - start]
                self.store.put(self.key, at, block)
            else:
                self.store.put_part(self.key, at, lo, view[lo - start : hi - start])
        return blocks

    def _read(self, start: int, end: int) -> bytes:
        """Read bytes ``[start, end)`` of the source: all of them, or raise."""
        if self._read_range is not None:
            data = bytearray(self._read_range(start, end)[: end - start])
        else:
            self._raw.seek(start)
            data = bytearray()
            while len(data) < end - start:
                chunk = self._raw.read(end - start - len(data))
                if not chunk:
                    break
                data += chunk
        if len(data) < end - start:
            raise SourceUnreadableError(
                f"the source ended at byte {start + len(data)} of {self.size} "
                "(it changed or was cut short)",
                uri=self.uri,
            )
        return bytes(data)

    def close(self) -> None:
        if not self.closed:
            self._owner.close()
        super().close()
