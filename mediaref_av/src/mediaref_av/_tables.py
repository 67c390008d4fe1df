"""The packet index from an MP4/MOV file's own sample tables, without reading the media data.

FFmpeg's mov demuxer turns the sample tables into index entries when the file opens
(PyAV's ``stream.index_entries``: decode time, byte position, size, keyframe and discard
flags, edit lists applied). Presentation times are decode times plus the ``ctts``
composition offsets, which FFmpeg keeps to itself: they are read from the ``moov`` box
(already in the block cache: the demuxer read it to open the file). The first packets,
which opening the file read too, are demuxed and checked against what the tables give;
any disagreement, an edit list of several segments or a fragmented file means the
tables are not trusted and the caller scans the stream instead.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ._bitstream import h264_declares_reorder, h264_slices, hevc_wavefront, skip_nonref_safe
from ._demux import _default_duration, _display, _is_flush, _nal_length_size
from ._index import IndexData

if TYPE_CHECKING:
    import av
    import av.container
    import av.video.stream

    from ._blockfile import BlockFile

    _Packet = av.Packet[av.video.stream.VideoStream]

__all__ = ["ORIGIN", "SCAN_READAHEAD", "is_mov", "table_index"]

ORIGIN = "container tables (moov)"
SCAN_READAHEAD = 4 << 20
"""Bytes per read while a full scan reads a remote file from end to end."""
_MAX_MOOV = 256 << 20
_CHECKED_PACKETS = 2
"""Leading packets demuxed to check the tables: opening the file has read them already."""


class _Tables(NamedTuple):
    stts: list[tuple[int, int]]
    ctts: list[tuple[int, int]]
    edits: int
    """Non-empty edit list segments."""


def _boxes(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield ``(type, payload start, payload end)`` of the boxes in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, pos)
        head = 8
        if size == 1 and pos + 16 <= end:
            size, head = struct.unpack_from(">Q", buf, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            return
        yield kind, pos + head, pos + size
        pos += size


def _read_moov(f: BlockFile, size: int) -> bytes | None:
    """Return the payload of the top-level ``moov`` box, walking box headers only."""
    pos = 0
    while pos + 8 <= size:
        head = f.read_at(pos, 16)
        if len(head) < 8:
            return None
        n, kind = struct.unpack_from(">I4s", head)
        skip = 8
        if n == 1 and len(head) == 16:
            n, skip = struct.unpack_from(">Q", head, 8)[0], 16
        elif n == 0:
            n = size - pos
        if n < skip:
            return None
        if kind == b"moov":
            if n > _MAX_MOOV:
                return None
            data = f.read_at(pos + skip, n - skip)
            return data if len(data) == n - skip else None
        pos += n
    return None


def _child(buf: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for k, s, e in _boxes(buf, start, end):
        if k == kind:
            return s, e
    return None


def _entries(buf: bytes, span: tuple[int, int] | None, signed: bool) -> list[tuple[int, int]]:
    if span is None:
        return []
    s, _ = span
    count = struct.unpack_from(">I", buf, s + 4)[0]
    fmt = ">Ii" if signed else ">II"
    return [struct.unpack_from(fmt, buf, s + 8 + 8 * i) for i in range(count)]


def _edits(buf: bytes, trak: tuple[int, int]) -> int:
    edts = _child(buf, *trak, b"edts")
    elst = _child(buf, *edts, b"elst") if edts else None
    if elst is None:
        return 0
    s, _ = elst
    version, count = buf[s], struct.unpack_from(">I", buf, s + 4)[0]
    step, fmt = (20, ">Qq") if version == 1 else (12, ">Ii")
    media_times = [struct.unpack_from(fmt, buf, s + 8 + step * i)[1] for i in range(count)]
    return sum(1 for t in media_times if t != -1)


def _track_tables(moov: bytes, track_id: int) -> _Tables | None:
    """Return the tables of track `track_id`; `None` for a fragmented file or no track."""
    if _child(moov, 0, len(moov), b"mvex") is not None:
        return None  # fragmented: samples are described in moof boxes along the file
    for kind, s, e in _boxes(moov, 0, len(moov)):
        if kind != b"trak":
            continue
        tkhd = _child(moov, s, e, b"tkhd")
        if tkhd is None:
            continue
        at = tkhd[0] + (20 if moov[tkhd[0]] == 1 else 12)
        if struct.unpack_from(">I", moov, at)[0] != track_id:
            continue
        stbl = None
        mdia = _child(moov, s, e, b"mdia")
        minf = _child(moov, *mdia, b"minf") if mdia else None
        stbl = _child(moov, *minf, b"stbl") if minf else None
        if stbl is None:
            return None
        stts = _entries(moov, _child(moov, *stbl, b"stts"), signed=False)
        ctts = _entries(moov, _child(moov, *stbl, b"ctts"), signed=True)
        return _Tables(stts, ctts, _edits(moov, (s, e)))
    return None


def _expand(pairs: list[tuple[int, int]], n: int) -> np.ndarray | None:
    if not pairs:
        return np.zeros(n, dtype=np.int64)
    counts = np.array([c for c, _ in pairs], dtype=np.int64)
    if int(counts.sum()) != n:
        return None
    return np.repeat(np.array([v for _, v in pairs], dtype=np.int64), counts)


def is_mov(container: av.container.InputContainer) -> bool:
    """Return whether FFmpeg's mov demuxer (MP4, MOV, M4V, 3GP) reads the container."""
    return container.format.name.split(",")[0] == "mov"


def table_index(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    f: BlockFile,
    size: int,
    configure: Callable[[int], None],
) -> IndexData | None:
    """Describe the stream from its MP4/MOV sample tables; `None` where they cannot be used.

    `configure(slices)` is called before anything is decoded (codec threading is set
    before the codec opens). Leaves the container at an unknown position; the caller
    seeks before decoding.
    """
    if not is_mov(container):
        return None
    entries = list(stream.index_entries)
    n = len(entries)
    moov = _read_moov(f, size) if n else None
    tables = _track_tables(moov, stream.id) if moov is not None else None
    if tables is None or tables.edits > 1:
        return None
    offsets, durations = _expand(tables.ctts, n), _expand(tables.stts, n)
    if offsets is None or durations is None:
        return None  # an edit list cut samples out: the tables no longer line up
    dts = np.array([e.timestamp for e in entries], dtype=np.int64)
    return _build(container, stream, entries, (dts, offsets, durations), configure)


def _build(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    entries: list[av.index.IndexEntry],
    times: tuple[np.ndarray, np.ndarray, np.ndarray],
    configure: Callable[[int], None],
) -> IndexData | None:
    """Check the tables against the first packets and decode the first picture."""
    dts, offsets, durations = times
    cc = stream.codec_context
    head = []
    for pkt in container.demux(stream):
        if not _is_flush(pkt):
            head.append(pkt)
        if len(head) >= min(_CHECKED_PACKETS, len(entries)):
            break
    if not head or head[0].pts is None:
        return None
    shift = int(head[0].pts) - int(dts[0] + offsets[0])
    pts = dts + offsets + shift
    for i, pkt in enumerate(head):
        table = (int(pts[i]), int(dts[i]), int(durations[i]), entries[i].pos, entries[i].size)
        if (pkt.pts, pkt.dts, int(pkt.duration or 0), pkt.pos, pkt.size) != table:
            return None
    key = [bool(e.is_keyframe) for e in entries]
    if cc.name == "h264" and len(key) >= 8 and 2 * sum(key) > len(key):
        return None  # flags on most packets: only the bitstream tells keyframes (a scan)
    length_size = _nal_length_size(cc.name, cc.extradata or b"")
    slices = h264_slices(bytes(head[0]), length_size) if cc.name == "h264" else 1
    configure(max(slices, 1))
    first = _first_picture(cc, head[0])
    tb = stream.time_base
    if first is None or tb is None:
        return None
    pts_list = [int(p) for p in pts]
    discard = [bool(e.is_discard) for e in entries]
    if first.pts is not None:
        discard = [d or p < first.pts for d, p in zip(discard, pts_list, strict=True)]
    rotation, matrix = _display(first)
    default = _default_duration(stream, list(pts_list), Fraction(tb))
    return IndexData(
        stream_index=stream.index,
        time_base=(tb.numerator, tb.denominator),
        codec=cc.name,
        width=first.width,
        height=first.height,
        pixel_format=first.format.name,
        rotation=rotation,
        pts=list(pts_list),
        dts=[int(d) for d in dts],
        key=key,
        duration=[int(d) for d in durations],
        discard=discard,
        default_duration=(default.numerator, default.denominator),
        skip_nonref_safe=skip_nonref_safe(cc.name, cc.extradata),
        display_matrix=matrix,
        slices=max(slices, 1),
        wavefront=cc.name == "hevc" and hevc_wavefront(cc.extradata, bytes(head[0]), length_size),
        declared_reorder=cc.name == "h264" and h264_declares_reorder(cc.extradata),
        pos=[int(e.pos) for e in entries],
        size=[int(e.size) for e in entries],
        origin=ORIGIN,
    )


def _first_picture(cc: av.VideoCodecContext, pkt: _Packet) -> av.VideoFrame | None:
    """Decode the first packet alone (its picture carries the display matrix, pixel format)."""
    out = list(cc.decode(pkt)) + list(cc.decode(None))
    cc.flush_buffers()
    return out[0] if out else None
