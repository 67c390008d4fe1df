"""Memory for returned frames, reused once the caller has dropped them.

Every returned frame needs memory that the caller owns, and fresh memory costs a page
fault per 4 KiB on first touch: ~0.2 ms for a 640x360 RGB frame here, about as much as
decoding a P-frame. glibc gives large freed blocks back to the system, so a loop of
requests paid it again on every call (2 cores, 10 s windows of 640x360 H.264: ~1,500
frames/s with fresh memory, ~2,100 with reused memory).

So a returned frame is a view of a pooled block: when the last array using the block is
gone, the block goes back to the pool. Per frame size, the pool keeps at most as many
blocks as the largest of the last 16 requests returned (the caller held that many at
once anyway, so the pool does not raise the process's peak memory), capped at
``MEDIAREF_AV_FRAME_POOL_MB`` (default 512; ``0`` turns the pool off), for the four most
recent frame sizes. `mediaref_av.clear_caches` (and `mediaref.cleanup_cache`) empties it.

A new block is uninitialised memory (a `_Block`): the conversion writes every byte, so the
first touch of each page is its write. A zeroed `bytearray` touched every page once more
before that. 300-frame calls with an empty pool (as the first after an idle release), 16
alternating calls each, 2 cores, medians: H.264 640x360 1,368 -> 1,773 frames/s, H.264
1280x720 394 -> 487, HEVC 640x360 960 -> 1,107.

The pool gives its memory back without a timer thread (which would make the process's
memory depend on scheduling): at each request it frees the blocks of any size that no
request asked for in the last ``_UNUSED_REQUESTS`` requests or ``_IDLE_S`` seconds, and a
size asked for again after such a pause forgets its earlier requests. A block that comes
back after its size went idle is freed rather than kept. Before this, one 200-frame call
of 640x360 left 138 MB in the pool until `clear_caches` (issue 16).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict, deque

import numpy as np
from numpy.typing import NDArray

__all__ = ["clear", "held_bytes", "reserve", "take"]

_CAP = int(float(os.environ.get("MEDIAREF_AV_FRAME_POOL_MB", "512")) * (1 << 20))
_SIZES = 4
_RECENT = 16
_UNUSED_REQUESTS = 16
"""Requests (of any size) after which a size that none of them asked for is freed."""
_IDLE_S = 10.0
"""Seconds without a request of a size after which its blocks are not worth keeping."""
_clock = time.monotonic
"""Seconds; tests replace it."""


class _Block(np.ndarray):  # type: ignore[type-arg]
    """A pooled block: one-dimensional uint8 memory that it owns.

    Its own type keeps numpy from collapsing a returned frame's base past the `_Lender`
    (the collapse continues only through arrays of the frame's own type).
    """


class _Free:
    """Free blocks of one size, and how many of them are worth keeping."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.blocks: deque[_Block] = deque()
        self.recent: deque[int] = deque(maxlen=_RECENT)
        self.limit = 0
        self.used_at = 0.0
        """`_clock()` at the last request of this size."""
        self.used_request = 0
        """`_requests` at the last request of this size."""

    def put(self, block: _Block) -> None:
        if _clock() - self.used_at > _IDLE_S:
            return  # the size went idle while the caller held the frame: freed
        self.blocks.append(block)
        self.trim(self.limit)

    def trim(self, keep: int) -> None:
        """Free blocks until at most `keep` are left."""
        while len(self.blocks) > keep:
            try:
                self.blocks.popleft()  # freed
            except IndexError:  # another thread emptied it
                return


_lock = threading.Lock()
_sizes: OrderedDict[int, _Free] = OrderedDict()
"""By block size in bytes, the most recently requested size last."""
_requests = 0
"""Requests noted by `reserve`."""


class _Lender(np.ndarray):  # type: ignore[type-arg]
    """The array that lends a block to the arrays returned.

    numpy keeps it alive (as their base) while any of them exists, and never looks past
    it to the block (the collapse of base chains stops at a different type).
    """

    def __del__(self) -> None:
        block: _Block = self.base  # type: ignore[assignment]
        try:
            free = _sizes.get(len(block))
            if free is not None:
                free.put(block)
        except Exception:  # interpreter shutdown: the block is just freed
            pass


def reserve(shape: tuple[int, ...], count: int) -> None:
    """Note that a request will return `count` frames of `shape`; free what went idle."""
    global _requests
    n = math.prod(shape)
    now = _clock()
    with _lock:  # never taken by `_Lender.__del__`, which may run inside it (GC)
        _requests += 1
        idle = [f for f in _sizes.values() if _went_idle(f, now) and f.nbytes != n]
        for f in idle:
            del _sizes[f.nbytes]
        free = None
        if 0 < n <= _CAP:
            free = _note(n, count, now)
    for f in idle:  # freed outside the lock: a block's __del__ does not take it, but be brief
        f.trim(0)
    if free is not None:
        free.trim(free.limit)  # fewer are worth keeping now: free the rest


def _went_idle(free: _Free, now: float) -> bool:
    return _requests - free.used_request > _UNUSED_REQUESTS or now - free.used_at > _IDLE_S


def _note(n: int, count: int, now: float) -> _Free:
    """Count a request of `count` blocks of `n` bytes (under `_lock`); return its size's pool."""
    free = _sizes.get(n)
    if free is None:
        free = _sizes[n] = _Free(n)
        while len(_sizes) > _SIZES:
            _sizes.popitem(last=False)
    else:
        _sizes.move_to_end(n)
        if _went_idle(free, now):  # the requests before the pause say nothing now
            free.recent.clear()
    free.used_at, free.used_request = now, _requests
    free.recent.append(count)
    free.limit = min(max(free.recent), _CAP // n)
    return free


def take(shape: tuple[int, ...]) -> NDArray[np.uint8]:
    """Return an uninitialised uint8 array of `shape`, in a reused block when one is free."""
    n = math.prod(shape)
    free = _sizes.get(n)
    if free is None:
        return np.empty(shape, np.uint8)
    try:
        block = free.blocks.pop()
    except IndexError:
        block = np.ndarray.__new__(_Block, (n,), np.uint8)  # uninitialised
    lender = np.ndarray.__new__(_Lender, shape, np.uint8, buffer=block)
    out: NDArray[np.uint8] = lender.view(np.ndarray)
    return out


def clear() -> None:
    """Free every pooled block."""
    with _lock:
        _sizes.clear()


def held_bytes() -> int:
    """Return the bytes of the free blocks the pool holds now (its own accounting)."""
    with _lock:
        return sum(len(f.blocks) * f.nbytes for f in _sizes.values())


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
