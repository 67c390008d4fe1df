"""Process-wide work counters, so tests and benchmarks can compare work with the minimal plan."""

from __future__ import annotations

import os
import threading

import msgspec

__all__ = ["Counters", "add", "counters", "reset_counters"]


class Counters(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the work done by `mediaref_av` in this process since the last reset."""

    frames_decoded: int = 0
    """Packets the codec decoded into a picture (whether returned or only a reference)."""
    frames_converted: int = 0
    """Frames converted to the output pixel format (only returned frames are)."""
    frames_converted_in_place: int = 0
    """Of `frames_converted`, those written straight into the caller's array (``out=``)
    by swscale or from the luma plane, with no copy after."""
    frames_skipped: int = 0
    """Non-reference packets the codec was allowed to skip because no returned frame needs them."""
    seeks: int = 0
    """Container seeks (each one flushes the decoder)."""
    index_builds: int = 0
    """Packet indexes built by demuxing a file."""
    index_hits: int = 0
    """Packet indexes found in the memory or disk cache."""
    index_disk_hits: int = 0
    """Packet indexes read from the opt-in disk cache (also counted in `index_hits`)."""
    containers_opened: int = 0
    """Containers opened (the rest of the calls reuse a cached one)."""
    container_hits: int = 0
    """Calls that reused an open container from the cache."""
    bad_keyframes: int = 0
    """Packets flagged as keyframes that the decoder did not decode as key frames."""


_FIELDS = Counters.__struct_fields__
_lock = threading.Lock()
_values: dict[str, int] = dict.fromkeys(_FIELDS, 0)


def add(**deltas: int) -> None:
    """Add to the named counters."""
    with _lock:
        for name, delta in deltas.items():
            _values[name] += delta


def counters() -> Counters:
    """Return a snapshot of the work counters of this process.

    Example: ``mediaref_av.counters().frames_decoded``.
    """
    with _lock:
        return Counters(**_values)


def reset_counters() -> None:
    """Set every counter back to zero."""
    with _lock:
        for name in _FIELDS:
            _values[name] = 0


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork time


os.register_at_fork(after_in_child=_after_fork_in_child)
