"""The frame rule: which frame of a video is on screen at a time, in exact integers.

Every video backend, test oracle and benchmark check selects frames with these functions;
a backend decides *how* to decode, never *which* frame is shown. With the frames' first
on-screen nanoseconds ``starts_ns[0] < starts_ns[1] < ... < starts_ns[N-1]`` and the end
of the last frame ``end_ns``::

    starts_ns[i]   <= t < starts_ns[i+1]  -> frame i
    starts_ns[N-1] <= t < end_ns          -> frame N-1
    t < starts_ns[0]  or  t >= end_ns     -> TimestampOutOfRangeError

A frame's exact time ``pts * time_base`` is rarely a whole nanosecond (e.g. 23/30 s): the
frame is on screen from the first integer nanosecond at or after it (`pts_to_ns`, ceil),
so a query at the floor of the exact time still shows the previous frame.

The module imports only the standard library (and `mediaref`'s errors); functions given
NumPy arrays use NumPy, imported when called, and keep the work vectorised.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, overload

from ._errors import TimestampOutOfRangeError

if TYPE_CHECKING:
    from fractions import Fraction

    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "NS_PER_S",
    "check_in_range",
    "end_ns_of",
    "evenly_spaced_ns",
    "index_played_at",
    "indices_played_at",
    "indices_shown_between",
    "ns_to_pts",
    "out_of_range",
    "pts_to_ns",
    "starts_ns_of",
    "times_at_fps",
]

NS_PER_S = 1_000_000_000
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def pts_to_ns(pts: int, time_base: Fraction) -> int:
    """Return the first integer nanosecond at or after tick `pts` (ceil), exactly.

    A frame is on screen from that nanosecond on, so a query at ``floor`` of the exact
    time still shows the previous frame. Exact for every integer (no float on the way).
    """
    num = pts * time_base.numerator * NS_PER_S
    return -((-num) // time_base.denominator)


def ns_to_pts(pts_ns: int, time_base: Fraction) -> int:
    """Return the last stream tick whose time is at or before `pts_ns` (floor), exactly."""
    return pts_ns * time_base.denominator // (time_base.numerator * NS_PER_S)


def starts_ns_of(pts: Iterable[int], time_base: Fraction) -> list[int]:
    """Return the first on-screen nanosecond of each frame (`pts_to_ns` of each tick)."""
    return [pts_to_ns(p, time_base) for p in pts]


def end_ns_of(
    last_pts: int,
    duration: int | None,
    time_base: Fraction,
    *,
    default_duration: Fraction | None = None,
) -> int:
    """Return the end of the stream: the first nanosecond after the last frame (exclusive).

    The last frame lasts `duration` ticks. A 0, negative or unknown (`None`) duration means the
    container did not say: the frame then lasts `default_duration` seconds (one frame
    at the stream's frame rate, as a player shows it). The result is rounded up like
    every start (`pts_to_ns`), capped at `INT64_MAX`, and always at least one
    nanosecond after the last frame's start, so that the last frame can be asked for.

    Args:
        last_pts: The last frame's pts, in ticks of `time_base`.
        duration: The last frame's duration in ticks (0 or `None`: unknown).
        time_base: Seconds per tick.
        default_duration: Seconds a frame lasts when `duration` is unknown (1 / fps);
            `None` or 0 leaves the last frame one nanosecond.
    """
    start = pts_to_ns(last_pts, time_base)
    if duration is not None and duration > 0:
        exact = (last_pts + duration) * time_base
    elif default_duration:
        exact = last_pts * time_base + default_duration
    else:
        return start + 1
    end = -((-exact.numerator * NS_PER_S) // exact.denominator)
    return max(min(end, INT64_MAX), start + 1)


def out_of_range(
    pts_ns: int, begin_ns: int, end_ns: int, *, uri: str | None = None
) -> TimestampOutOfRangeError | None:
    """Return the error for `pts_ns` outside ``[begin_ns, end_ns)``, or `None` inside it."""
    if begin_ns <= pts_ns < end_ns:
        return None
    return TimestampOutOfRangeError(uri, int(pts_ns), begin_ns, end_ns)


def _is_ndarray(x: object) -> bool:
    np = sys.modules.get("numpy")  # an array exists only once NumPy is imported
    return np is not None and isinstance(x, np.ndarray)


def _check_int(t: object) -> None:
    if t.__class__ is int:
        return
    np = sys.modules.get("numpy")
    if isinstance(t, bool) or not (
        isinstance(t, int) or (np is not None and isinstance(t, np.integer))
    ):
        raise TypeError(f"pts_ns must be ints, got {type(t).__name__}")


def check_in_range(
    pts_ns: int | Iterable[int] | NDArray[np.integer[Any]],
    begin_ns: int,
    end_ns: int,
    *,
    uri: str | None = None,
) -> None:
    """Check that every timestamp is an int in ``[begin_ns, end_ns)``.

    Args:
        pts_ns: One timestamp, several, or an integer NumPy array (checked vectorised).
        begin_ns: The first frame's start.
        end_ns: The end of the last frame (exclusive).
        uri: Named in the error.

    Raises:
        TimestampOutOfRangeError: For the first timestamp outside the range, naming it.
        TypeError: A timestamp that is not an int (`bool` is not one here).
    """
    if _is_ndarray(pts_ns):
        arr: Any = pts_ns
        if arr.dtype.kind not in "iu":
            raise TypeError(f"pts_ns must be ints, got an array of {arr.dtype}")
        bad = (arr < begin_ns) | (arr > end_ns - 1)
        if bad.any():
            t = int(arr.reshape(-1)[bad.reshape(-1).argmax()])
            raise TimestampOutOfRangeError(uri, t, begin_ns, end_ns)
        return
    ts = list(pts_ns) if isinstance(pts_ns, Iterable) else [pts_ns]
    if ts and all(t.__class__ is int for t in ts) and begin_ns <= min(ts) and max(ts) < end_ns:
        return  # the common case, without two calls per timestamp
    for t in ts:
        _check_int(t)
        err = out_of_range(t, begin_ns, end_ns, uri=uri)
        if err is not None:
            raise err


def index_played_at(
    starts_ns: Sequence[int], end_ns: int, pts_ns: int, *, uri: str | None = None
) -> int:
    """Return the index of the frame on screen at `pts_ns`.

    Args:
        starts_ns: Each frame's first on-screen ns, strictly increasing (`starts_ns_of`).
        end_ns: The end of the last frame, exclusive (`end_ns_of`).
        pts_ns: The time asked for.
        uri: Named in the error.

    Raises:
        TimestampOutOfRangeError: `pts_ns` outside ``[starts_ns[0], end_ns)``.
        TypeError: `pts_ns` is not an int.
    """
    check_in_range(pts_ns, int(starts_ns[0]), end_ns, uri=uri)
    return bisect.bisect_right(starts_ns, pts_ns) - 1


@overload
def indices_played_at(
    starts_ns: Sequence[int] | NDArray[np.int64],
    end_ns: int,
    pts_ns: NDArray[np.integer[Any]],
    *,
    uri: str | None = None,
) -> NDArray[np.int64]: ...


@overload
def indices_played_at(
    starts_ns: Sequence[int] | NDArray[np.int64],
    end_ns: int,
    pts_ns: Sequence[int],
    *,
    uri: str | None = None,
) -> list[int]: ...


def indices_played_at(
    starts_ns: Sequence[int] | NDArray[np.int64],
    end_ns: int,
    pts_ns: Sequence[int] | NDArray[np.integer[Any]],
    *,
    uri: str | None = None,
) -> list[int] | NDArray[np.int64]:
    """Return the index of the frame on screen at each timestamp, in the order asked.

    Pure Python (`bisect`) for lists; if `starts_ns` or `pts_ns` is a NumPy array, one
    vectorised ``np.searchsorted`` (the same rule). An array `pts_ns` gives an int64
    array back, a sequence a list.

    Args:
        starts_ns: Each frame's first on-screen ns, strictly increasing (`starts_ns_of`).
        end_ns: The end of the last frame, exclusive (`end_ns_of`).
        pts_ns: The times asked for, any order, repeats allowed.
        uri: Named in the error.

    Raises:
        TimestampOutOfRangeError: The first timestamp outside ``[starts_ns[0], end_ns)``.
        TypeError: A timestamp that is not an int.
    """
    begin_ns = int(starts_ns[0])
    if isinstance(pts_ns, list) and len(pts_ns) <= _FEW and _is_ndarray(starts_ns):
        few = _few_played_at(starts_ns, begin_ns, end_ns, pts_ns)
        if few is not None:
            return few
    check_in_range(pts_ns, begin_ns, end_ns, uri=uri)
    if not (_is_ndarray(starts_ns) or _is_ndarray(pts_ns)):
        return [bisect.bisect_right(starts_ns, t) - 1 for t in pts_ns]  # type: ignore[arg-type]
    import numpy as np

    ts = np.asarray(pts_ns, dtype=np.int64)
    found = np.searchsorted(np.asarray(starts_ns, dtype=np.int64), ts, side="right") - 1
    found = found.astype(np.int64, copy=False)
    return found if _is_ndarray(pts_ns) else [int(i) for i in found]


_FEW = 16
"""Up to this many times in a list are looked up one by one: one call per request of a
frame or two costs 0.6 us instead of 4 for the vectorised path's arrays."""


def _few_played_at(
    starts_ns: Any, begin_ns: int, end_ns: int, pts_ns: list[int]
) -> list[int] | None:
    """`indices_played_at` of a few plain ints in range; `None` for anything else."""
    out = []
    for t in pts_ns:
        if t.__class__ is not int or not begin_ns <= t < end_ns:
            return None  # the general path checks it and names what is wrong
        out.append(int(starts_ns.searchsorted(t, side="right")) - 1)
    return out


def indices_shown_between(
    starts_ns: Sequence[int] | NDArray[np.int64], end_ns: int, start_ns: int, stop_ns: int
) -> range:
    """Return the indices of the frames on screen at some time in ``[start_ns, stop_ns)``.

    That is the frame played at `start_ns` (which may have started before it) and every
    frame that starts before `stop_ns`. The range is clipped to the stream: a window
    outside ``[starts_ns[0], end_ns)`` gives an empty range, never an error.

    Raises:
        TypeError: `start_ns` or `stop_ns` is not an int.
    """
    _check_int(start_ns)
    _check_int(stop_ns)
    lo, hi = max(start_ns, int(starts_ns[0])), min(stop_ns, end_ns)
    if lo >= hi:
        return range(0)
    first = bisect.bisect_right(starts_ns, lo) - 1  # type: ignore[arg-type]
    return range(first, bisect.bisect_left(starts_ns, hi))  # type: ignore[arg-type]


def times_at_fps(start_ns: int, stop_ns: int, fps: float | Fraction) -> list[int]:
    """Return the sampling times ``start_ns + k / fps`` s in ``[start_ns, stop_ns)``.

    Each time is the integer ns at or after the exact one (ceil), so that sampling a
    stream at its own rate from its first frame lands on each frame's first ns. `fps` is
    taken as an exact fraction (``Fraction(30000, 1001)`` for NTSC; a float is converted
    with `Fraction.limit_denominator`).

    Raises:
        ValueError: `fps` is not positive.
    """
    from fractions import Fraction

    rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    step = NS_PER_S / rate  # ns per sample, exactly
    out: list[int] = []
    k = 0
    while True:
        exact = start_ns + k * step
        t = -((-exact.numerator) // exact.denominator)
        if t >= stop_ns:
            return out
        out.append(t)
        k += 1


def evenly_spaced_ns(start_ns: int, stop_ns: int, num: int) -> list[int]:
    """Return `num` times spread evenly over ``[start_ns, stop_ns)``, in integers.

    The first is `start_ns`, then every ``(stop_ns - start_ns) / num`` ns (floored), as
    ``np.linspace(start_ns, stop_ns, num, endpoint=False)`` would.

    Raises:
        ValueError: `num` is not a positive int, or the window is empty.
    """
    if type(num) is not int or num < 1:
        raise ValueError(f"num must be a positive int, got {num!r}")
    if stop_ns <= start_ns:
        raise ValueError(f"the window [{start_ns}, {stop_ns}) is empty")
    return [start_ns + (k * (stop_ns - start_ns)) // num for k in range(num)]
