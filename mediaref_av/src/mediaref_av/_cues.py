"""A Matroska/WebM packet index filled GOP by GOP from the file's cues (remote sources).

The cues list keyframes only: per keyframe, its time and its cluster's byte position. So a
GOP's bytes are known (its cluster to the next cue's cluster), its packets are not: the
first request that needs a GOP demuxes that byte range alone (one ranged read) and
records its packets exactly as a full scan would (pts, duration, keyframe flag checked
against the bitstream, discard flag, byte position and size). A request then decodes from
a *window*: an `Index` of the consecutive GOPs it needs, which the planner and the run
decoder use as they use a whole file's index.

Which frame is on screen at ``t`` needs only GOP ``g`` (the last cue at or before ``t``)
and, when ``t`` falls after the last picture of ``g``, the first packets of GOP ``g + 1``:
the leading pictures of an open GOP are shown before its keyframe. This relies on a
GOP's pictures being shown after every picture of the GOPs before it, except its leading
pictures (true of H.264, HEVC, VP9 and AV1 as encoders write them); a window that shows
otherwise is refused (`CuesUnusable`) and the decoder falls back to the full scan.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from fractions import Fraction
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from mediaref.timeline import end_ns_of, pts_to_ns

from ._bitstream import (
    h264_declares_reorder,
    h264_key,
    h264_slices,
    hevc_irap,
    hevc_wavefront,
    skip_nonref_safe,
)
from ._demux import _default_duration, _display, _nal_length_size
from ._index import Index, IndexData
from ._matroska import block_end, block_track, rest_has_track

if TYPE_CHECKING:
    import av
    import av.video.stream

    from ._pool import Handle

    _Packet = av.Packet[av.video.stream.VideoStream]

__all__ = ["ORIGIN", "CueIndex", "CuesUnusable", "cue_indexes", "open_cues"]

ORIGIN = "matroska cues ({}): each GOP demuxed when a request first needs it"
_FIRST_PICTURE_PACKETS = 64
"""Most packets decoded at open for the first picture (B-frame reordering delays it)."""
_WINDOWS = 8
"""Windows (indexes of consecutive GOPs) kept per file."""


class CuesUnusable(Exception):
    """The cues do not describe the stream as the lazy index needs: scan it instead."""


class _Packets(msgspec.Struct):
    """Packets of a stretch of the stream, in decode order (as `IndexScan` records them)."""

    pts: list[int | None] = []
    dts: list[int | None] = []
    key: list[bool] = []
    duration: list[int] = []
    discard: list[bool] = []
    pos: list[int] = []
    size: list[int] = []
    verdict: list[bool | None] = []
    """H.264: what the bitstream says of a flagged keyframe."""

    def add(self, other: _Packets) -> None:
        for name in self.__struct_fields__:
            getattr(self, name).extend(getattr(other, name))


class CueIndex:
    """The cues of one Matroska/WebM video stream and the GOPs demuxed so far.

    Args:
        desc: The stream's description (per-packet columns empty).
        cue_pts: Each cue's keyframe pts (stream ticks), increasing.
        cue_pos: Each cue's cluster byte position.
        first_pts: The pts of the first picture the decoder outputs (earlier ones are
            dropped: `IndexScan` discards them too).
        track: The Matroska track number of the stream.
        size: The file's size in bytes.
    """

    def __init__(
        self,
        desc: IndexData,
        cue_pts: list[int],
        cue_pos: list[int],
        first_pts: int,
        track: int,
        size: int,
    ) -> None:
        self.desc = desc
        self.time_base = Fraction(*desc.time_base)
        self.cue_pts = cue_pts
        self.cue_pos = cue_pos
        self.cue_ns = np.array([pts_to_ns(p, self.time_base) for p in cue_pts], dtype=np.int64)
        self.first_pts = first_pts
        self.begin_ns = pts_to_ns(first_pts, self.time_base)
        self.track = track
        self.size = size
        self.gops: dict[int, _Packets] = {}
        self.heads: dict[int, _Packets] = {}
        self.end_ns: int | None = None
        self._windows: OrderedDict[tuple[int, int, bool], Index] = OrderedDict()
        self.lock = threading.Lock()

    @property
    def count(self) -> int:
        return len(self.cue_pts)

    def gop_at(self, pts_ns: int) -> int:
        """Return the GOP whose keyframe is the last shown at or before `pts_ns` (-1: none)."""
        return int(self.cue_ns.searchsorted(pts_ns, side="right")) - 1

    def last_shown_ns(self, g: int) -> int:
        """Return the first ns of GOP `g`'s last picture in presentation order."""
        pts = [
            p
            for p, d in zip(self.gops[g].pts, self.gops[g].discard, strict=True)
            if p is not None and not d
        ]
        return pts_to_ns(max(pts), self.time_base) if pts else int(self.cue_ns[g])

    # -- loading ------------------------------------------------------------------------

    def gop_range(self, g: int) -> tuple[int, int]:
        """Return the bytes ``[start, end)`` that hold GOP `g`: its cluster to the next one."""
        start = self.cue_pos[g]
        after = [x for x in self.cue_pos[g + 1 :] if x > start]
        return start, after[0] if after else self.size

    def load(self, h: Handle, g: int, *, head: bool = False) -> None:
        """Demux GOP `g` (all of it, or with `head` its leading packets only) on `h`.

        Leaves the demuxer at an unknown position: the caller forgets `h`'s stepping.

        Raises:
            CuesUnusable: The GOP does not start with its cue's keyframe.
        """
        if g in self.gops or (head and g in self.heads):
            return
        f = h.fileobj
        assert f is not None
        start, stop = self.gop_range(g)
        # Several small GOPs may share a cluster (FFmpeg starts a cluster at a keyframe
        # once the last one holds 4 KiB): the next cue's keyframe then ends the GOP.
        nxt = g + 1 if g + 1 < self.count else None
        own = nxt is not None and self.cue_pos[nxt] > start
        """Whether the next GOP starts a cluster of its own (its bytes end this GOP's)."""
        if not head:
            f.prefetch([(start, stop)], exact=True)
        f.fences = [] if head else [stop]  # the demuxer's buffer stops at the GOP's end
        h.container.seek(self.cue_pts[g], stream=h.stream, backward=True, any_frame=False)
        h.stream.codec_context.flush_buffers()
        got = _Packets()
        codec = self.desc.codec
        length_size = _nal_length_size(codec, h.stream.codec_context.extradata or b"")
        for pkt in h.packets():
            p = pkt.pts if pkt.pts is not None else pkt.dts
            if nxt is not None and (
                (p == self.cue_pts[nxt] and pkt.is_keyframe)
                or (own and pkt.pos is not None and pkt.pos >= self.cue_pos[nxt])
            ):
                break  # the next GOP's keyframe
            if not got.pts:
                if p != self.cue_pts[g] or not pkt.is_keyframe:
                    raise CuesUnusable(f"cue {g} does not lead to its keyframe")
            elif head and p is not None and p > self.cue_pts[g]:
                break  # the first trailing picture: no leading picture comes after it
            _record(got, pkt, codec, length_size, p)
            if not head and own and nxt is not None and pkt.pos is not None:
                # Stop at the GOP's last packet rather than read the next keyframe whole.
                end = block_end(f, int(pkt.pos), int(pkt.size))
                cluster = self.cue_pos[nxt]
                if end is not None and rest_has_track(f, end, cluster, self.track) is False:
                    break
        if not got.pts:
            raise CuesUnusable(f"GOP {g} has no packets")
        if got.key[0] is False or got.verdict[0] is False:
            raise CuesUnusable(f"cue {g} is not a keyframe by its bitstream")
        with self.lock:
            (self.heads if head else self.gops)[g] = got
            if not head and g == self.count - 1:
                self.end_ns = self._end_ns(got)

    def _end_ns(self, last: _Packets) -> int:
        """The stream's end, as `Index` finds it: the last frame's pts plus its duration.

        The last frame is the latest pts shown; of two packets with it, the later one.
        """
        best: tuple[int, int] | None = None
        for p, d, x in zip(last.pts, last.duration, last.discard, strict=True):
            if p is not None and not x and p >= self.first_pts and (best is None or p >= best[0]):
                best = (p, d)
        if best is None:
            raise CuesUnusable("the last GOP shows no picture")
        p, d = best
        return end_ns_of(
            p, d, self.time_base, default_duration=Fraction(*self.desc.default_duration)
        )

    # -- windows ------------------------------------------------------------------------

    def window(self, g0: int, g1: int, head: bool) -> Index:
        """Return the index of GOPs ``g0..g1`` (loaded), with GOP ``g1 + 1``'s head if `head`.

        Raises:
            CuesUnusable: The GOPs' pictures are not shown in GOP order.
        """
        k = (g0, g1, head)
        with self.lock:
            win = self._windows.get(k)
            if win is not None:
                self._windows.move_to_end(k)
                return win
        self._check_order(g0, g1, head)
        packets = _Packets()
        for g in range(g0, g1 + 1):
            packets.add(self.gops[g])
        if head:  # its leading packets, or all of it if a request demuxed it whole
            packets.add(self.heads.get(g1 + 1) or self.gops[g1 + 1])
        key = packets.key
        if self.desc.codec == "h264" and len(key) >= 8 and 2 * sum(key) > len(key):
            key = [k and v is not False for k, v in zip(key, packets.verdict, strict=True)]
        discard = [
            x or (p is not None and p < self.first_pts)
            for x, p in zip(packets.discard, packets.pts, strict=True)
        ]
        data = msgspec.structs.replace(
            self.desc,
            pts=packets.pts,
            dts=packets.dts,
            key=key,
            duration=packets.duration,
            discard=discard,
            pos=packets.pos,
            size=packets.size,
        )
        win = Index(data)
        with self.lock:
            self._windows[k] = win
            while len(self._windows) > _WINDOWS:
                self._windows.popitem(last=False)
        return win

    def _check_order(self, g0: int, g1: int, head: bool) -> None:
        """Refuse GOPs whose pictures are not shown in GOP order (see the module's doc).

        Each GOP's pictures are shown before the next keyframe, and the next GOP's leading
        pictures (when read) after every picture of the GOP before them.
        """
        for g in range(g0, g1 + 1):
            ahead = self.cue_pts[g + 1] if g + 1 < self.count else None
            pts = [p for p in self.gops[g].pts if p is not None]
            if ahead is not None and pts and max(pts) >= ahead:
                raise CuesUnusable(f"GOP {g} shows a picture after the next keyframe")
        nxt = self.heads.get(g1 + 1) or self.gops.get(g1 + 1) if head else None
        if nxt is not None:
            lead = [p for p in nxt.pts if p is not None and p < self.cue_pts[g1 + 1]]
            last = [p for p in self.gops[g1].pts if p is not None]
            if lead and last and min(lead) <= max(last):
                raise CuesUnusable(f"GOP {g1 + 1} shows a leading picture inside GOP {g1}")


def _record(got: _Packets, pkt: _Packet, codec: str, length_size: int, p: int | None) -> None:
    """Describe one packet as `IndexScan._record` does."""
    got.pts.append(p)
    got.dts.append(pkt.dts)
    k = bool(pkt.is_keyframe)
    if k and codec == "hevc":
        k = hevc_irap(bytes(pkt), length_size) is not False
    got.verdict.append(h264_key(bytes(pkt), length_size) if k and codec == "h264" else None)
    got.key.append(k)
    got.duration.append(int(pkt.duration or 0))
    got.discard.append(bool(pkt.is_discard))
    got.pos.append(-1 if pkt.pos is None else int(pkt.pos))
    got.size.append(int(pkt.size))


class _CueIndexes:
    """Cue indexes by content key: a small LRU shared by the decoders of a process.

    Bounded in entries (16 files), not bytes: a cue index holds the GOPs requests read
    (about 100 bytes a packet, as Python lists), so a file read whole holds what its full
    index would. `mediaref.cleanup_cache` and the idle release drop them all.
    """

    def __init__(self, entries: int = 16) -> None:
        self.entries = entries
        self._lock = threading.Lock()
        self._lru: OrderedDict[Hashable, CueIndex] = OrderedDict()

    def get(self, key: Hashable) -> CueIndex | None:
        with self._lock:
            c = self._lru.get(key)
            if c is not None:
                self._lru.move_to_end(key)
            return c

    def put(self, key: Hashable, cues: CueIndex) -> CueIndex:
        with self._lock:
            old = self._lru.get(key)
            if old is not None:
                return old
            self._lru[key] = cues
            while len(self._lru) > self.entries:
                self._lru.popitem(last=False)
            return cues

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._lru.pop(key, None)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        for c in self._lru.values():
            c.lock = threading.Lock()


cue_indexes = _CueIndexes()
os.register_at_fork(after_in_child=cue_indexes.after_fork_in_child)


def open_cues(
    h: Handle, cues_present: bool | None, configure: Callable[[int], None]
) -> CueIndex | None:
    """Describe a remote Matroska/WebM stream from its head and cues; `None`: scan it.

    Reads the first packets (decoding the first picture, for what only frames carry) and
    the cues (the demuxer reads them at its first seek: one small read at the end). Leaves
    the demuxer at an unknown position.
    """
    f = h.fileobj
    if f is None or not cues_present:
        return None
    container, stream = h.container, h.stream
    cc = stream.codec_context
    codec = cc.name
    length_size = _nal_length_size(codec, cc.extradata or b"")
    head: list[_Packet] = []
    first: av.VideoFrame | None = None
    for pkt in h.packets():
        if not head:
            slices = h264_slices(bytes(pkt), length_size) if codec == "h264" else 1
            configure(max(slices, 1))
        head.append(pkt)
        out = cc.decode(pkt)
        if out:
            first = out[0]
            break
        if len(head) >= _FIRST_PICTURE_PACKETS:
            break
    if first is None and head:
        out = cc.decode(None)
        first = out[0] if out else None
    cc.flush_buffers()
    tb = stream.time_base
    if first is None or first.pts is None or tb is None or head[0].pos is None:
        return None
    track = block_track(f, int(head[0].pos))
    container.seek(0, stream=stream, backward=True, any_frame=False)
    entries = [e for e in stream.index_entries if e.is_keyframe]
    cue_pts = [int(e.timestamp) for e in entries]
    cue_pos = [int(e.pos) for e in entries]
    ordered = all(a < b for a, b in itertools.pairwise(cue_pts)) and all(
        a <= b for a, b in itertools.pairwise(cue_pos)
    )
    starts_at_cue = bool(entries) and head[0].pts == cue_pts[0] and head[0].is_keyframe
    starts_at_cue = starts_at_cue and first.pts >= cue_pts[0]  # no picture before it shown
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not (ordered and starts_at_cue and track is not None and rate and rate > 0):
        # The stream must start with the first cue's keyframe, shown first (a stream cut
        # mid-GOP has packets before it), and the frame rate must not depend on every
        # packet's pts (`_default_duration`): else the full scan.
        return None
    slices = h264_slices(bytes(head[0]), length_size) if codec == "h264" else 1
    rotation, matrix = _display(first)
    default = _default_duration(stream, [], Fraction(tb))  # from the rate: no pts needed
    desc = IndexData(
        stream_index=stream.index,
        time_base=(tb.numerator, tb.denominator),
        codec=codec,
        width=first.width,
        height=first.height,
        pixel_format=first.format.name,
        rotation=rotation,
        pts=[],
        dts=[],
        key=[],
        duration=[],
        discard=[],
        default_duration=(default.numerator, default.denominator),
        skip_nonref_safe=skip_nonref_safe(codec, cc.extradata),
        display_matrix=matrix,
        slices=max(slices, 1),
        wavefront=codec == "hevc" and hevc_wavefront(cc.extradata, bytes(head[0]), length_size),
        declared_reorder=codec == "h264" and h264_declares_reorder(cc.extradata),
        origin=ORIGIN.format(f"{len(entries)} keyframe" + ("s" if len(entries) > 1 else "")),
    )
    return CueIndex(desc, cue_pts, cue_pos, int(first.pts), track, f.size)
