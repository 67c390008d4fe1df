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
from collections.abc import Iterable
from fractions import Fraction
from typing import Protocol

import msgspec
import numpy as np
from numpy.typing import NDArray

from mediaref import UndecodableMediaError
from mediaref.timeline import end_ns_of, starts_ns_of

from . import _counters

__all__ = ["INDEX_VERSION", "Index", "IndexData"]

INDEX_VERSION = 9
"""9: `IndexData.declared_reorder`. 8: `IndexData.wavefront`. 7: cache files carry a BLAKE2b
checksum (`_index_cache.seal`)."""
_NS_PER_S = 1_000_000_000
_DEMUX_BUFFER = 16 * 1024
"""Bytes PyAV's I/O buffer reads at a time (``buffer_size`` of remote containers, one
block): a run's demuxing reads this far past its last packet."""


_ARRAY_OVERHEAD = 168
"""Bytes of a small numpy array besides its data (object and allocation, by tracemalloc)."""
_OBJECT_OVERHEAD = 2048
"""Bytes of an `Index`'s other objects: its dict, `IndexData`, sets, lock, time base."""

NO_TS = -(2**63)
"""A packet without a timestamp (FFmpeg's AV_NOPTS_VALUE)."""


def _ticks(values: list[int | None]) -> NDArray[np.int64]:
    return np.array([NO_TS if v is None else v for v in values], dtype=np.int64)


def _first_of_each(ticks: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return the sorted distinct timestamps and the first decode position of each."""
    known = np.flatnonzero(ticks != NO_TS)
    keys, first = np.unique(ticks[known], return_index=True)
    return keys, known[first].astype(np.int64)


def _lookup(keys: NDArray[np.int64], values: NDArray[np.int64], t: int) -> int | None:
    i = int(keys.searchsorted(t))  # the method: no dispatch through numpy.searchsorted
    return int(values[i]) if i < len(keys) and int(keys[i]) == t else None


class Run(Protocol):
    """A decode run's packet span (`_plan.Run`)."""

    @property
    def start(self) -> int: ...
    @property
    def stop(self) -> int: ...


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
    wavefront: bool = False
    """HEVC pictures coded in wavefront rows (`_bitstream.hevc_wavefront`): slice threads
    decode one picture's rows in parallel."""
    declared_reorder: bool = False
    """H.264 whose ``avcC`` SPS declares its output delay (`_bitstream.h264_declares_reorder`):
    FFmpeg's probe need not decode pictures to guess it when the file is opened again."""
    pos: list[int] = []
    """Per packet, its byte position in the file (-1: unknown); empty when not recorded."""
    size: list[int] = []
    """Per packet, its size in bytes."""
    origin: str = "full scan"
    """How the index was made: ``container tables (moov)`` or ``full scan (...)``."""


class Index:
    """An `IndexData` with the lookups the planner and decoder need.

    Frames are numbered in presentation order (``0 .. num_frames - 1``); packets in decode
    order (``dpos``). Keyframes proven bad by the decoder are remembered here, so every
    later plan on the same file avoids them.
    """

    def __init__(self, data: IndexData) -> None:
        n = len(data.pts)
        self.time_base = Fraction(*data.time_base)
        # Per packet, as arrays (~60 B a packet in all, against ~325 B as Python lists
        # and dicts); None (no timestamp) is FFmpeg's own AV_NOPTS_VALUE.
        self.pts = _ticks(data.pts)
        self.dts = _ticks(data.dts)
        self.key = np.array(data.key, dtype=np.bool_)
        self.duration = np.array(data.duration, dtype=np.int64)
        self.discard = discard = np.array(data.discard, dtype=np.bool_)
        complete = len(data.pos) == n and len(data.size) == n
        self.pos = np.array(data.pos, dtype=np.int64) if complete else None
        self.size = np.array(data.size, dtype=np.int64) if complete else None
        # The lists are dropped: what stays is the stream's description.
        self.data = msgspec.structs.replace(
            data, pts=[], dts=[], key=[], duration=[], discard=[], pos=[], size=[]
        )
        self._frames(discard)
        self._lookups()
        self.begin_ns = int(self.frame_ns[0])
        self.end_ns = end_ns_of(
            int(self.frame_pts[-1]),
            int(self.duration[int(self.frame_dpos[-1])]),
            self.time_base,
            default_duration=Fraction(*data.default_duration),
        )
        self._lock = threading.Lock()
        self.pts_seek_overshoots = False
        """A seek to a keyframe's pts went past it (the demuxer seeks by dts)."""
        self.bad_keys: set[int] = set()
        self.good_keys: set[int] = {0}
        self.flagged_keys = np.flatnonzero(self.key)
        self.key_dpos = np.union1d(self.flagged_keys, [0]).astype(np.int64)
        self.short_elsewhere = 0
        """One-thread requests served by a container of another threading (`_decoder`)."""

    def _frames(self, discard: NDArray[np.bool_]) -> None:
        """Number the frames: packets with a pts, not discarded, in presentation order.

        Of two packets with the same pts, the later one in decode order is what is shown.
        """
        n = len(self.pts)
        shown = np.flatnonzero((self.pts != NO_TS) & ~discard)
        if not len(shown):
            raise UndecodableMediaError("the video stream has no frames with timestamps")
        # The last of each pts: unique() over the reversed order keeps the first it sees.
        rev = shown[::-1]
        frame_pts, first = np.unique(self.pts[rev], return_index=True)
        self.frame_pts: NDArray[np.int64] = frame_pts
        self.frame_dpos: NDArray[np.int64] = rev[first].astype(np.int64)
        try:
            starts = starts_ns_of(frame_pts.tolist(), self.time_base)
            self.frame_ns = np.array(starts, dtype=np.int64)
        except OverflowError:
            raise UndecodableMediaError("frame timestamps do not fit in int64 ns") from None
        self.dpos_frame = np.full(n, -1, dtype=np.int64)
        self.dpos_frame[self.frame_dpos] = np.arange(len(frame_pts), dtype=np.int64)

    def _lookups(self) -> None:
        """Sorted arrays that map a pts (or dts) to a decode position."""
        self._pts_keys, self._pts_dpos = _first_of_each(self.pts)
        # A decoded picture's pts names the frame shown (the last packet with that pts).
        self._pts_dpos[np.searchsorted(self._pts_keys, self.frame_pts)] = self.frame_dpos
        self._dts_keys, self._dts_dpos = _first_of_each(self.dts)

    def pts_of(self, dpos: int) -> int | None:
        """Return the pts of packet `dpos` (stream ticks), or `None` if it has none."""
        p = int(self.pts[dpos])
        return None if p == NO_TS else p

    def dts_of(self, dpos: int) -> int | None:
        """Return the dts of packet `dpos` (stream ticks), or `None` if it has none."""
        q = int(self.dts[dpos])
        return None if q == NO_TS else q

    def dpos_of_pts(self, pts: int) -> int | None:
        """Return the decode position whose picture is shown with `pts`, if any."""
        return _lookup(self._pts_keys, self._pts_dpos, pts)

    def to_data(self) -> IndexData:
        """Return the serialisable description, per-packet lists included."""
        has_bytes = self.pos is not None and self.size is not None
        return msgspec.structs.replace(
            self.data,
            pts=[self.pts_of(d) for d in range(len(self.pts))],
            dts=[self.dts_of(d) for d in range(len(self.dts))],
            key=self.key.tolist(),
            duration=self.duration.tolist(),
            discard=self.discard.tolist(),
            pos=self.pos.tolist() if has_bytes and self.pos is not None else [],
            size=self.size.tolist() if has_bytes and self.size is not None else [],
        )

    def nbytes(self) -> int:
        """Bytes this index holds, arrays and Python objects (what the memory cache counts).

        Besides the arrays' data: each array's object and allocation, and the index's own
        objects (description, sets, lock). Counted by `tracemalloc` over 200 indexes of
        30-packet clips: 7.7 KB each, of which 3.2 KB of array data; this counts 8 KB.
        """
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        return sum(a.nbytes + _ARRAY_OVERHEAD for a in arrays) + _OBJECT_OVERHEAD

    def byte_ranges(self, runs: Iterable[Run], slack: int = _DEMUX_BUFFER) -> list[tuple[int, int]]:
        """Return the ``[start, end)`` bytes that demuxing each run reads (where known).

        The end takes in `slack`: what the demuxer reads past a run's last packet (its
        buffer), unless reads are cut short there (`BlockFile.fences`).
        """
        if self.pos is None or self.size is None:
            return []
        out = []
        for run in runs:
            pos = self.pos[run.start : run.stop + 1]
            ends = pos + self.size[run.start : run.stop + 1]
            known = pos >= 0
            if known.any():
                out.append((int(pos[known].min()), int(ends[known].max()) + slack))
        return out

    @property
    def num_frames(self) -> int:
        """Frames the decoder outputs, in presentation order."""
        return len(self.frame_pts)

    @property
    def num_packets(self) -> int:
        """Packets of the stream, in decode order."""
        return len(self.pts)

    def packet_of(self, pts: int | None, dts: int | None) -> int | None:
        """Return the decode position of a demuxed packet, or `None` if it is not indexed."""
        if pts is not None:
            return _lookup(self._pts_keys, self._pts_dpos, pts)
        if dts is not None:
            return _lookup(self._dts_keys, self._dts_dpos, dts)
        return None

    def seek_targets(self, dpos: int) -> list[int]:
        """Stream ticks to try, in order, to seek the demuxer to packet `dpos`.

        Its pts first, while that works: MP4 seeks by presentation time, and the earlier
        dts of a keyframe followed by B-frames landed a whole GOP early (read, not
        decoded, but 170 packets per seek on 640x360 H.264 with GOP 250). Demuxers that
        seek by decode time (MPEG-TS, MPEG-PS) go past the packet with its pts: once seen
        (`pts_seek_overshoots`), the earlier of the two comes first.
        """
        p, q = self.pts_of(dpos), self.dts_of(dpos)
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
        if dpos == 0 or not self.key[dpos]:
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
