"""Packet index of a video stream, built by demuxing without decoding; cached in memory and on disk.

The index lists every packet of the stream in decode order (pts, dts, keyframe flag,
duration, discard flag) and derives from it the frames in presentation order with their
on-screen start in integer nanoseconds, the stream's ``[begin_ns, end_ns)`` and the
seekable keyframes. It is the only thing the planner reads.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from mediaref import UndecodableMediaError, pts_to_ns

from . import _counters
from ._bitstream import h264_key, h264_slices, hevc_irap, skip_nonref_safe

if TYPE_CHECKING:
    import av.container
    import av.video.stream

__all__ = ["INDEX_VERSION", "Index", "IndexData", "build_index", "index_cache"]

INDEX_VERSION = 5
_NS_PER_S = 1_000_000_000
_INT64_MAX = (1 << 63) - 1


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
            self.frame_ns = np.array(
                [pts_to_ns(p, self.time_base) for p in self.frame_pts], dtype=np.int64
            )
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
        last = int(self.frame_dpos[-1])
        dur = data.duration[last]
        end_exact = self.frame_pts[-1] * self.time_base + (
            dur * self.time_base if dur > 0 else Fraction(*data.default_duration)
        )
        self.begin_ns = int(self.frame_ns[0])
        end_ns = -((-end_exact.numerator * _NS_PER_S) // end_exact.denominator)
        self.end_ns = min(end_ns, _INT64_MAX)
        self.end_ns = max(self.end_ns, int(self.frame_ns[-1]) + 1)
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

    def frames_at(self, pts_ns: NDArray[np.int64]) -> NDArray[np.int64]:
        """Return the frame on screen at each in-range timestamp: ``pts[i] <= t < pts[i+1]``."""
        return np.searchsorted(self.frame_ns, pts_ns, side="right").astype(np.int64) - 1

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


def _is_image_format(container: av.container.InputContainer) -> bool:
    names = set(container.format.name.split(","))
    return bool(names & {"image2", "image2pipe"}) or any(n.endswith("_pipe") for n in names)


def build_index(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    configure: Callable[[int], None] = lambda slices: None,
) -> IndexData:
    """Demux the whole stream (decoding only its first picture) and describe every packet.

    Leaves the container at an unknown position; the caller seeks before decoding.
    `configure` is called with the slices per picture before the codec opens, so that
    the caller can choose the codec's threading.

    Raises:
        UndecodableMediaError: An image file, no frames, or a demuxing error.
    """
    if _is_image_format(container):
        raise UndecodableMediaError(
            f"this is an image ({container.format.name}), not a video: "
            "refer to it without pts_ns to decode it as an image"
        )
    cc = stream.codec_context
    codec = cc.name
    pts: list[int | None] = []
    dts: list[int | None] = []
    key: list[bool] = []
    duration: list[int] = []
    discard: list[bool] = []
    check_hevc = codec == "hevc"
    check_h264 = codec == "h264"
    extradata = cc.extradata or b""
    # hvcC/avcC (MP4/MKV) have version 1 and give the NAL length size; else Annex B (TS).
    length_size = 0
    if check_hevc and len(extradata) > 22 and extradata[0] == 1:
        length_size = (extradata[21] & 3) + 1
    elif check_h264 and len(extradata) > 6 and extradata[0] == 1:
        length_size = (extradata[4] & 3) + 1
    h264_verdicts: list[bool | None] = []
    slices = 0  # counted in the first packet
    # Decode up to the first picture: it carries what only frames do (display matrix,
    # real pixel format) and shows which leading packets the decoder drops.
    first = None
    probed = 0
    # AVI stores decode times as pts: with B-frames, display times are unknown. Decode
    # a few GOPs' worth there to see whether pictures come out of order.
    probe_order = "avi" in container.format.name.split(",")
    out_pts: list[int] = []
    for pkt in container.demux(stream):
        if pkt.size == 0 and pkt.pts is None and pkt.dts is None:
            continue  # the flush packet PyAV yields at the end
        if not probed:
            if check_h264:
                slices = h264_slices(bytes(pkt), length_size)
            configure(max(slices, 1))
        if first is None or (probe_order and probed < 48):
            probed += 1
            out = cc.decode(pkt)
            if out and first is None:
                first = out[0]
            out_pts += [f.pts for f in out if f.pts is not None]
        p, q = pkt.pts, pkt.dts
        pts.append(p if p is not None else q)
        dts.append(q)
        k = bool(pkt.is_keyframe)
        if k and check_hevc:
            # Some muxers flag every HEVC packet as key; believe only IRAP pictures.
            irap = hevc_irap(bytes(pkt), length_size)
            k = irap is not False
        h264_verdicts.append(h264_key(bytes(pkt), length_size) if k and check_h264 else None)
        key.append(k)
        duration.append(int(pkt.duration or 0))
        discard.append(bool(pkt.is_discard))
    if not pts:
        raise UndecodableMediaError("the video stream has no packets")
    if check_h264 and len(key) >= 8 and 2 * sum(key) > len(key):
        # Mostly keyframes is what a muxer that flags every packet produces: believe the
        # bitstream (IDR, recovery point, I slice); decoding verifies what remains.
        key = [k and v is not False for k, v in zip(key, h264_verdicts, strict=True)]
    tb = stream.time_base
    if tb is None:
        raise UndecodableMediaError("the video stream has no time base")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate and rate > 0:
        default = Fraction(rate.denominator, rate.numerator)
    else:
        known = sorted(p for p in pts if p is not None)
        deltas = sorted(b - a for a, b in itertools.pairwise(known) if b > a)
        default = deltas[len(deltas) // 2] * Fraction(tb) if deltas else Fraction(tb)
    if first is None or probe_order:
        out = cc.decode(None)
        first = first or (out[0] if out else None)
        out_pts += [f.pts for f in out if f.pts is not None]
    cc.flush_buffers()
    if any(b <= a for a, b in itertools.pairwise(out_pts)):
        raise UndecodableMediaError(
            "the container's timestamps are not presentation timestamps (the decoder "
            "outputs pictures out of their pts order, as with B-frames in AVI): frames "
            "cannot be selected by time; remux the file to MP4 or MKV"
        )
    if first is None:
        raise UndecodableMediaError(f"the {codec} decoder produced no frame")
    if first.pts is not None:
        # A stream cut mid-GOP starts with pictures whose references are missing: the
        # decoder drops them, so they are not frames (as a sequential decode shows).
        for d, p in enumerate(pts):
            if p is not None and p < first.pts:
                discard[d] = True
    rotation = int(getattr(first, "rotation", 0) or 0) % 360
    matrix = None
    side_data: Any = first.side_data
    for sd in side_data:  # (its .values() raises KeyError in PyAV 18)
        raw = bytes(sd)
        if str(getattr(sd, "type", "")).endswith("DISPLAYMATRIX") and len(raw) == 36:
            matrix = list(struct.unpack("<9i", raw))
    return IndexData(
        stream_index=stream.index,
        time_base=(tb.numerator, tb.denominator),
        codec=codec,
        width=first.width,
        height=first.height,
        pixel_format=first.format.name,
        rotation=rotation,
        pts=pts,
        dts=dts,
        key=key,
        duration=duration,
        discard=discard,
        default_duration=(default.numerator, default.denominator),
        skip_nonref_safe=skip_nonref_safe(codec, cc.extradata),
        pts_may_be_decode_times=probe_order,
        display_matrix=matrix,
        slices=max(slices, 1),
    )


class _IndexCache:
    """A bounded LRU of indexes by file identity, plus an opt-in directory of msgpack files."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._lru: OrderedDict[Hashable, Index] = OrderedDict()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(IndexData)

    def get(self, key: Hashable) -> Index | None:
        with self._lock:
            idx = self._lru.get(key)
            if idx is not None:
                self._lru.move_to_end(key)
            return idx

    def put(self, key: Hashable, idx: Index) -> Index:
        with self._lock:
            old = self._lru.get(key)
            if old is not None:  # another thread built it first; share one (and its bad keys)
                self._lru.move_to_end(key)
                return old
            self._lru[key] = idx
            while len(self._lru) > self.max_entries:
                self._lru.popitem(last=False)
            return idx

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()

    @staticmethod
    def _file(directory: str, key: Hashable) -> str:
        digest = hashlib.sha256(repr((INDEX_VERSION, key)).encode()).hexdigest()[:32]
        return os.path.join(directory, f"{digest}.mravidx")

    def load(self, directory: str, key: Hashable) -> IndexData | None:
        try:
            with open(self._file(directory, key), "rb") as f:
                data = self._decoder.decode(f.read())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return data if data.version == INDEX_VERSION else None

    def save(self, directory: str, key: Hashable, data: IndexData) -> None:
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(self._encoder.encode(data))
            os.replace(tmp, self._file(directory, key))
        except OSError:
            pass  # the disk cache is an optimisation; a read-only directory must not fail decoding

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


index_cache = _IndexCache()
os.register_at_fork(after_in_child=index_cache.after_fork_in_child)


def cache_dir(option: Any) -> str | None:
    """The disk cache directory: the ``index_cache=`` option, else ``$MEDIAREF_AV_INDEX_CACHE``."""
    if option is False:
        return None
    if option is None or option is True:
        return os.environ.get("MEDIAREF_AV_INDEX_CACHE") or None
    return str(os.fspath(option))
