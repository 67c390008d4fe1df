"""Threads: how many CPUs, the codec threading for a stream, and the decoders' worker pool."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["codec_threading", "cpus", "executor"]


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def codec_threading(threads: int | None, slices: int) -> tuple[str, int]:
    """The codec threading for a stream: FFmpeg thread type and thread count.

    Pictures coded as several slices decode fastest with one thread per slice: on 2
    cores (640x360 H.264, 2 slices) slice threads decoded 1.5x faster than one thread
    both sequentially and in 10-frame runs from a keyframe, where frame threads gained
    at most 1.15x (they pay a pipeline fill and drain on every seek).
    """
    if threads == 1:
        return "NONE", 1
    if slices >= 2:
        return "SLICE", min(threads or cpus(), slices)
    return "AUTO", threads or 0


_executor_lock = threading.Lock()
_executor_state: tuple[int, ThreadPoolExecutor] | None = None


def executor() -> ThreadPoolExecutor:
    """The process's worker threads (a forked child makes its own: threads do not fork).

    Not the core's pool that runs `batch_decode`: a decoder running on one of those
    threads waits for its parallel runs, which on the same saturated pool would wait
    forever.
    """
    global _executor_state
    with _executor_lock:
        if _executor_state is None or _executor_state[0] != os.getpid():
            pool = ThreadPoolExecutor(cpus(), thread_name_prefix="mediaref_av")
            _executor_state = (os.getpid(), pool)
        return _executor_state[1]


def _after_fork_in_child() -> None:
    global _executor_lock
    _executor_lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
