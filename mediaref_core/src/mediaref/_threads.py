"""A process-wide pool of worker threads for `batch_decode`, made anew after a fork.

Threads live across calls: a fresh pool per call made native memory (FFmpeg, malloc
arenas) grow without bound when batches ran in a loop (see docs/reliability.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

T = TypeVar("T")

__all__ = ["run_parallel", "submit"]

_MAX_THREADS = 64
_lock = threading.Lock()
_state: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    global _state
    with _lock:
        if _state is None or _state[0] != os.getpid():
            # After a fork the parent's threads do not exist here: never touch its pool.
            from concurrent.futures import ThreadPoolExecutor

            _state = (os.getpid(), ThreadPoolExecutor(_MAX_THREADS, thread_name_prefix="mediaref"))
        return _state[1]


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork time


os.register_at_fork(after_in_child=_reset_after_fork)


def run_parallel(tasks: Sequence[Callable[[], None]], workers: int) -> None:
    """Run `tasks` on at most `workers` threads at once; wait for all, re-raise the first error."""
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            task()
        return
    pending = iter(tasks)
    take = threading.Lock()

    def loop() -> None:
        while True:
            with take:
                task = next(pending, None)
            if task is None:
                return
            task()

    futures = [_pool().submit(loop) for _ in range(min(workers, len(tasks)))]
    errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def submit(fn: Callable[[], T]) -> Future[T]:
    """Run `fn` on the process-wide pool; the caller waits for (or cancels) the future."""
    return _pool().submit(fn)
