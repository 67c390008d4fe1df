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
recent frame sizes. `mediaref_av.clear_caches` empties it.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict, deque

import numpy as np
from numpy.typing import NDArray

__all__ = ["clear", "reserve", "take"]

_CAP = int(float(os.environ.get("MEDIAREF_AV_FRAME_POOL_MB", "512")) * (1 << 20))
_SIZES = 4
_RECENT = 16


class _Free:
    """Free blocks of one size, and how many of them are worth keeping."""

    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.blocks: deque[bytearray] = deque()
        self.recent: deque[int] = deque(maxlen=_RECENT)
        self.limit = 0

    def put(self, block: bytearray) -> None:
        self.blocks.append(block)
        while len(self.blocks) > self.limit:
            try:
                self.blocks.popleft()  # freed
            except IndexError:  # another thread emptied it
                return


_lock = threading.Lock()
_sizes: OrderedDict[int, _Free] = OrderedDict()
"""By block size in bytes, the most recently requested size last."""


class _Lender(np.ndarray):  # type: ignore[type-arg]
    """The array that lends a block to the arrays returned.

    numpy keeps it alive (as their base) while any of them exists, and never looks past
    it to the block (the collapse of base chains stops at a different type).
    """

    def __del__(self) -> None:
        block: bytearray = self.base  # type: ignore[assignment]
        try:
            free = _sizes.get(len(block))
            if free is not None:
                free.put(block)
        except Exception:  # interpreter shutdown: the block is just freed
            pass


def reserve(shape: tuple[int, ...], count: int) -> None:
    """Note that a request will return `count` frames of `shape`."""
    n = math.prod(shape)
    if n == 0 or n > _CAP:
        return
    with _lock:  # never taken by `_Lender.__del__`, which may run inside it (GC)
        free = _sizes.get(n)
        if free is None:
            free = _sizes[n] = _Free(n)
            while len(_sizes) > _SIZES:
                _sizes.popitem(last=False)
        else:
            _sizes.move_to_end(n)
        free.recent.append(count)
        free.limit = min(max(free.recent), _CAP // n)
    while len(free.blocks) > free.limit:  # fewer are worth keeping now: free the rest
        try:
            free.blocks.popleft()
        except IndexError:
            break


def take(shape: tuple[int, ...]) -> NDArray[np.uint8]:
    """Return an uninitialised uint8 array of `shape`, in a reused block when one is free."""
    n = math.prod(shape)
    free = _sizes.get(n)
    if free is None:
        return np.empty(shape, np.uint8)
    try:
        block = free.blocks.pop()
    except IndexError:
        block = bytearray(n)
    lender = np.ndarray.__new__(_Lender, shape, np.uint8, buffer=block)
    out: NDArray[np.uint8] = lender.view(np.ndarray)
    return out


def clear() -> None:
    """Free every pooled block."""
    with _lock:
        _sizes.clear()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
