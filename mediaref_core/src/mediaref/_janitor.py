"""The janitor: after a quiet period with no call, plugins give back what they hold.

Caches that release at call time (mediaref-av's frame pool and idle containers) keep
their memory in a process that stops calling: a soak over 1,000 files held +16 % of its
warm baseline after a quiet minute (bench/results/soak-files.md). So one daemon thread per
process, started at the first decode (never by ``import mediaref``) and again after a
fork, waits until no decode has run for `limits.idle_release_s`; then it calls every
plugin's ``mediaref_release_idle`` hook once and returns the heap's free memory to the
system (glibc's ``malloc_trim``). It sleeps until the next decode after that: an idle
process is not woken again. `cleanup_cache` and interpreter exit stop it.

Whether to release is `due`, a pure function of the clock; `Janitor.run_once(now)` is
what the thread runs, and what tests call with the time they choose.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

__all__ = ["Janitor", "due", "janitor", "tracked"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def due(now: float, last_s: float, busy: int, released: bool, idle_s: float | None) -> float | None:
    """Return the seconds until a release is due (0: now), or `None` if none is to come.

    Args:
        now: The clock now (seconds).
        last_s: The clock when the last decode ended.
        busy: Decodes running now; none is released under a running one.
        released: Whether everything was released since the last decode.
        idle_s: `limits.idle_release_s`; `None` or 0 turns releasing off.
    """
    if not idle_s or idle_s < 0 or released:
        return None
    if busy:
        return idle_s  # look again later: a decode that runs for long is not idle
    return max(0.0, last_s + idle_s - now)


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


class Janitor:
    """Counts decodes, and releases idle plugins' memory from one thread per process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, thread: bool = True) -> None:
        self.clock = clock
        """Seconds; tests replace it."""
        self.thread = thread
        """Whether the first decode starts the thread (tests call `run_once` instead)."""
        self.releases = 0
        """Releases run in this process (`run_once` and the thread)."""
        self._reset()
        self._atexit = False

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._busy = 0
        self._last_s = 0.0
        self._released = True  # nothing was decoded yet
        self._thread: threading.Thread | None = None
        self._stopping = False

    def enter(self) -> None:
        """Note a decode starting; start the thread at the first one of the process."""
        with self._lock:
            self._busy += 1
            wake = self._released
            self._released = False
            start = self.thread and self._thread is None and bool(_idle_s())
            if start:
                self._thread = threading.Thread(
                    target=self._loop, name="mediaref-janitor", daemon=True
                )
                self._stopping = False
        if start:
            if not self._atexit:
                self._atexit = True
                atexit.register(self.stop)
            assert self._thread is not None
            self._thread.start()
        elif wake:
            self._wake.set()  # it sleeps until a decode after a release

    def leave(self) -> None:
        """Note a decode ended (after `enter`)."""
        with self._lock:
            self._busy -= 1
            self._last_s = self.clock()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Mark a decode running (`enter`, then `leave`)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def wait_s(self, now: float) -> float | None:
        """Return how long the thread may sleep before `run_once` (`None`: until woken)."""
        with self._lock:
            return due(now, self._last_s, self._busy, self._released, _idle_s())

    def run_once(self, now: float) -> bool:
        """Release every plugin's idle memory if it is due at `now`; return whether it was."""
        with self._lock:
            if due(now, self._last_s, self._busy, self._released, _idle_s()) != 0:
                return False
            self._released = True
        self.release()
        return True

    def release(self) -> None:
        """Close the kept decoders, call every plugin's ``mediaref_release_idle``, trim the heap."""
        from ._kept import close_all
        from ._plugins import plugin_manager

        self.releases += 1
        close_all()  # first: a decoder kept between calls uses what plugins would release
        plugin_manager().hook.mediaref_release_idle()
        if _malloc_trim is not None:
            _malloc_trim(0)

    def mark_released(self) -> None:
        """Note that everything was released (by `cleanup_cache`): nothing is due."""
        with self._lock:
            self._released = True

    def stop(self) -> None:
        """Stop the thread, if it runs; the next decode starts it again."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)

    @property
    def running(self) -> bool:
        """Whether this process's thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _loop(self) -> None:
        while True:
            self._wake.clear()  # before reading the state: a decode after it wakes us
            with self._lock:
                if self._stopping or self._thread is not threading.current_thread():
                    return
            wait = self.wait_s(self.clock())
            if wait is None or wait > 0:
                self._wake.wait(wait)
                continue
            try:
                self.run_once(self.clock())
            except Exception:  # a plugin's failure must not end releasing for good
                continue

    def after_fork_in_child(self) -> None:
        """Forget the parent's thread and decodes; the child's first decode starts its own."""
        self._reset()


def tracked(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Count calls of `fn` as decodes (`Janitor.busy`)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        j = janitor
        j.enter()
        try:
            return fn(*args, **kwargs)
        finally:
            j.leave()

    return wrapper


def _idle_s() -> float | None:
    from ._limits import limits

    return limits.idle_release_s


_malloc_trim = None if os.environ.get("MEDIAREF_MALLOC_TRIM", "1") == "0" else _load_malloc_trim()
janitor = Janitor()
os.register_at_fork(after_in_child=janitor.after_fork_in_child)
