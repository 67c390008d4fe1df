"""The oracle: every frame of a video from a plain sequential PyAV decode, and the rule.

It shares nothing with any backend but `mediaref.timeline`: the timestamps come from the
decoded frames themselves (not from a packet index), the pixels from ``frame.to_ndarray``
of each frame in turn (no seeking, no planning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import timeline

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Clip", "decode_sequentially"]


@dataclass
class Clip:
    """A video and every frame of it, in presentation order, as a sequential decode saw them."""

    path: Path
    time_base: Fraction
    pts: list[int]
    """Each frame's pts in ticks of `time_base`, strictly increasing."""
    frames: list[NDArray[np.uint8]]
    """Each frame as ``(H, W, 3)`` RGB."""
    end_ns: int
    """The end of the last frame (`mediaref.timeline.end_ns_of`), exclusive."""
    notes: dict[str, Any] = field(default_factory=dict)
    starts_ns: list[int] = field(init=False)
    """Each frame's first on-screen nanosecond (`mediaref.timeline.starts_ns_of`)."""

    def __post_init__(self) -> None:
        self.starts_ns = timeline.starts_ns_of(self.pts, self.time_base)

    @property
    def uri(self) -> str:
        """The clip's path as a reference's ``uri``."""
        return str(self.path)

    @property
    def begin_ns(self) -> int:
        """The first frame's start."""
        return self.starts_ns[0]

    def index_at(self, t: int) -> int:
        """Return the index of the frame on screen at `t` (`mediaref.timeline`).

        Raises:
            TimestampOutOfRangeError: `t` outside ``[begin_ns, end_ns)``.
        """
        return timeline.index_played_at(self.starts_ns, self.end_ns, t, uri=self.uri)

    def frame_on_screen_at(self, t: int) -> NDArray[np.uint8]:
        """Return the frame on screen at `t`.

        Raises:
            TimestampOutOfRangeError: `t` outside ``[begin_ns, end_ns)``.
        """
        return self.frames[self.index_at(t)]

    def probe_times(self) -> list[int]:
        """Each frame's first ns, the ns before it, its middle, and its last ns; sorted."""
        s = self.starts_ns
        out: list[int] = []
        for i, t in enumerate(s):
            nxt = s[i + 1] if i + 1 < len(s) else self.end_ns
            out += [t, (t + nxt) // 2, nxt - 1]
            if i:
                out.append(t - 1)
        return sorted(set(out))

    def times(self) -> list[int]:
        """Each frame's first ns and its middle, in frame order."""
        s = self.starts_ns
        out: list[int] = []
        for i, t in enumerate(s):
            nxt = s[i + 1] if i + 1 < len(s) else self.end_ns
            out += [t, (t + nxt) // 2]
        return out


def decode_sequentially(path: str | Path, *, rotate: int = 0) -> Clip:
    """Decode all of `path`'s first video stream in order, with plain PyAV.

    Two frames with the same pts: the later one is what a player shows. The end is the
    last frame's pts plus its duration, or one frame period (1 / average rate) when the
    decoder gives no duration (`mediaref.timeline.end_ns_of`).

    Args:
        path: A video file.
        rotate: Counter-clockwise quarter turns applied to every frame (what the file's
            display matrix asks a player to do; this oracle does not read it).

    Raises:
        AssertionError: The decoder output frames out of pts order, or none at all.
    """
    import av
    import numpy as np

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = Fraction(s.time_base.numerator, s.time_base.denominator)
        pts: list[int] = []
        frames: list[NDArray[np.uint8]] = []
        last_duration = 0
        for frame in c.decode(s):
            assert frame.pts is not None, f"{path}: a decoded frame has no pts"
            arr = frame.to_ndarray(format="rgb24")
            if rotate:
                arr = np.ascontiguousarray(np.rot90(arr, rotate))
            if pts and frame.pts == pts[-1]:
                frames[-1] = arr
                continue
            assert not pts or frame.pts > pts[-1], f"{path}: decoder output not in pts order"
            pts.append(frame.pts)
            frames.append(arr)
            last_duration = frame.duration or 0
        rate = s.average_rate or s.guessed_rate
    assert pts, f"{path}: the decoder produced no frame"
    default = 1 / Fraction(rate.numerator, rate.denominator) if rate else None
    end = timeline.end_ns_of(pts[-1], last_duration, tb, default_duration=default)
    return Clip(Path(path), tb, pts, frames, end)
