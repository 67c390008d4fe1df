"""Give the heap's free memory back to the system now and then (glibc only).

Frames are large, short-lived allocations made and freed by different threads. Once
glibc raises its mmap threshold they come from the heap, and the free space left behind
stays in the process: RSS grew about 1 MB per 1,000 frames in a multi-threaded soak
while the memory really held stayed flat (docs/reliability.md). ``malloc_trim`` after
every few hundred MB of returned frames keeps RSS flat for a negligible cost. Set
``MEDIAREF_AV_MALLOC_TRIM=0`` to turn it off.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable

__all__ = ["note_returned"]

_EVERY_BYTES = 256 << 20
_EVERY_FRAMES = 1000  # small frames: the codec's own allocations fragment the heap too


def _load() -> Callable[[int], int] | None:
    if os.environ.get("MEDIAREF_AV_MALLOC_TRIM", "1") == "0":
        return None
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


_malloc_trim = _load()
_lock = threading.Lock()
_bytes = _frames = 0


def note_returned(frames: int, nbytes: int) -> None:
    """Count frames handed to the caller; trim every `_EVERY_BYTES` or `_EVERY_FRAMES`."""
    global _bytes, _frames
    if _malloc_trim is None:
        return
    with _lock:
        _bytes += nbytes
        _frames += frames
        if _bytes < _EVERY_BYTES and _frames < _EVERY_FRAMES:
            return
        _bytes = _frames = 0
    _malloc_trim(0)
