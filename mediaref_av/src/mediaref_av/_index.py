"""Packet index of a video stream: what the planner and the decoder look up.

The index lists every packet of the stream in decode order (pts, dts, keyframe flag,
duration, discard flag) and derives from it the frames in presentation order with their
on-screen start in integer nanoseconds, the stream's ``[begin_ns, end_ns)`` and the
seekable keyframes. It is the only thing the planner reads. `_demux.IndexScan` makes
one; `_index_cache` keeps them. One `Index` is shared by every decoder of a file: after
construction it changes only through `learn_key` and `note_pts_seek_overshoot`, under
its lock.
"""

from __future__ import annotations

import threading
from fractions import Fraction

import msgspec
import numpy as np

from mediaref import UndecodableMediaError
from mediaref.timeline import end_ns_of, starts_ns_of

from . import _counters

__all__ = ["INDEX_VERSION", "Index", "IndexData"]

INDEX_VERSION = 5
_NS_PER_S = 1_000_000_000


class IndexData(msgspec.Struct, kw_only=True):
    """What demuxing one video stream found; the serialisable part of an `Index`."""

    version: int = INDEX_VERSION
    stream_index: int
    time_base: tuple[int, int]
    codec: str
    width: int
    height: int
    pixel_format: str
    rotation: int
    """Counter-clockwise degrees from the display matrix (as `av.VideoFrame.rotation`)."""
    pts: list[int | None]
    """Per packet, in decode order."""
    dts: list[int | None]
    key: list[bool]
    duration: list[int]
    discard: list[bool]
    """Packets the demuxer marks as decoded but not shown (MP4 edit lists)."""
    default_duration: tuple[int, int]
    """Seconds a frame lasts when its packet has no duration (1 / frame rate)."""
    skip_nonref_safe: bool = False
    """Whether ``skip_frame=NONREF`` drops only pictures that nothing references."""
    display_matrix: list[int] | None = None
    """The 3x3 display matrix the decoder attached to frames (16.16 fixed point)."""
    pts_may_be_decode_times: bool = False
    """The container (AVI) may store decode times as pts: check output order when decoding."""
    slices: int = 1
    """Slices per picture (H.264, counted in the first packet): what slice threads can share."""


class Index:
    """An `IndexData` with the lookups the planner and decoder need.

    Frames are numbered in presentation order (``0 .. num_frames - 1``); packets in decode
    order (``dpos``). Keyframes proven bad by the decoder are remembered here, so every
    later plan on the same file avoids them.
    """

    def __init__(self, data: IndexData) -> None:
        self.data = data
        self.time_base = Fraction(*data.time_base)
        n = len(data.pts)
        # A frame is a packet the decoder outputs: it has a pts and is not discarded.
        # Of two packets with the same pts, the later one in decode order is what is shown.
        last_of_pts: dict[int, int] = {}
        for d in range(n):
            p = data.pts[d]
            if p is not None and not data.discard[d]:
                last_of_pts[p] = d
        order = sorted(last_of_pts.items())
        if not order:
            raise UndecodableMediaError("the video stream has no frames with timestamps")
        self.frame_pts: list[int] = [p for p, _ in order]
        self.frame_dpos = np.fromiter((d for _, d in order), dtype=np.int64, count=len(order))
        try:
            self.frame_ns = np.array(starts_ns_of(self.frame_pts, self.time_base), dtype=np.int64)
        except OverflowError:
            raise UndecodableMediaError("frame timestamps do not fit in int64 ns") from None
        self.dpos_frame = np.full(n, -1, dtype=np.int64)
        self.dpos_frame[self.frame_dpos] = np.arange(len(order), dtype=np.int64)
        self.pts_dpos: dict[int, int] = {}
        self.dts_dpos: dict[int, int] = {}
        for d in range(n):
            p, q = data.pts[d], data.dts[d]
            if p is not None:
                self.pts_dpos.setdefault(p, d)
            if q is not None:
                self.dts_dpos.setdefault(q, d)
        self.pts_dpos.update(last_of_pts)  # a decoded picture's pts names the shown frame
        self.begin_ns = int(self.frame_ns[0])
        self.end_ns = end_ns_of(
            self.frame_pts[-1],
            data.duration[int(self.frame_dpos[-1])],
            self.time_base,
            default_duration=Fraction(*data.default_duration),
        )
        self._lock = threading.Lock()
        self.pts_seek_overshoots = False
        """A seek to a keyframe's pts went past it (the demuxer seeks by dts)."""
        self.bad_keys: set[int] = set()
        self.good_keys: set[int] = {0}
        flagged = [d for d in range(n) if data.key[d]]
        self.flagged_keys = flagged
        self.key_dpos = np.array(sorted({0, *flagged}), dtype=np.int64)

    @property
    def num_frames(self) -> int:
        """Frames the decoder outputs, in presentation order."""
        return len(self.frame_pts)

    @property
    def num_packets(self) -> int:
        """Packets of the stream, in decode order."""
        return len(self.data.pts)

    def packet_of(self, pts: int | None, dts: int | None) -> int | None:
        """Return the decode position of a demuxed packet, or `None` if it is not indexed."""
        if pts is not None:
            return self.pts_dpos.get(pts)
        if dts is not None:
            return self.dts_dpos.get(dts)
        return None

    def seek_targets(self, dpos: int) -> list[int]:
        """Stream ticks to try, in order, to seek the demuxer to packet `dpos`.

        Its pts first, while that works: MP4 seeks by presentation time, and the earlier
        dts of a keyframe followed by B-frames landed a whole GOP early (read, not
        decoded, but 170 packets per seek on 640x360 H.264 with GOP 250). Demuxers that
        seek by decode time (MPEG-TS, MPEG-PS) go past the packet with its pts: once seen
        (`pts_seek_overshoots`), the earlier of the two comes first.
        """
        p, q = self.data.pts[dpos], self.data.dts[dpos]
        ticks = [t for t in (p, q) if t is not None]
        if self.pts_seek_overshoots:
            ticks.sort()
        return list(dict.fromkeys(ticks))

    def note_pts_seek_overshoot(self) -> None:
        """Record that a seek to a keyframe's pts went past it (see `seek_targets`)."""
        with self._lock:
            self.pts_seek_overshoots = True

    def learn_key(self, dpos: int, is_key: bool) -> None:
        """Record what the decoder said about a packet flagged as keyframe."""
        if dpos == 0 or not self.data.key[dpos]:
            return
        with self._lock:
            if is_key:
                self.good_keys.add(dpos)
            elif dpos not in self.bad_keys:
                self.bad_keys.add(dpos)
                self.key_dpos = self.key_dpos[self.key_dpos != dpos]
                _counters.add(bad_keyframes=1)

    def average_fps(self) -> float:
        """Frames per second over the stream, for display."""
        span = self.end_ns - self.begin_ns
        return self.num_frames * _NS_PER_S / span if span > 0 else 0.0
