"""What a process holds (file descriptors, threads), compared by identity, not by count.

A count can go down while a test runs for reasons of its own (a thread of an earlier test
ends, the garbage collector frees an earlier test's codec and its threads), and on a busy
machine it sometimes did: ``==`` of counts then failed though nothing leaked. What a test
means is "nothing opened here is left": no descriptor that was not open before (number
and target), no thread that did not exist before (thread ids are not reused until the
kernel's pid counter wraps).
"""

from __future__ import annotations

import contextlib
import os

import msgspec

__all__ = ["Held", "held", "left_behind"]


class Held(msgspec.Struct, frozen=True):
    """Open file descriptors ``(number, target)`` and thread ids of this process."""

    fds: frozenset[tuple[int, str]]
    threads: frozenset[int]


def _fds() -> frozenset[tuple[int, str]]:
    out = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor that listed them, closed since
            out.add((int(name), os.readlink(f"/proc/self/fd/{name}")))
    return frozenset(out)


def held() -> Held:
    """Return what this process holds now (Linux ``/proc``)."""
    return Held(_fds(), frozenset(int(t) for t in os.listdir("/proc/self/task")))


def left_behind(before: Held, after: Held | None = None) -> dict[str, list[object]]:
    """Return the descriptors and threads held now (or in `after`) that `before` had not.

    Empty when nothing was left behind; a test asserts ``left_behind(start) == {}``.
    """
    now = held() if after is None else after
    out: dict[str, list[object]] = {}
    if fds := sorted(now.fds - before.fds):
        out["fds"] = list(fds)
    if threads := sorted(now.threads - before.threads):
        out["threads"] = list(threads)
    return out
