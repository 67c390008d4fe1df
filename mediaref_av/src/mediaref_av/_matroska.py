"""Whether a Matroska/WebM file has cues, from the bytes at its start (EBML, no demuxer).

FFmpeg's muxer writes the ``Cues`` (one cue point per keyframe: time and cluster
position) at the end and lists them in the ``SeekHead`` at the start; a file written to a
pipe has none. The demuxer reads cues only at the first seek, so a file's head says
whether they exist without reading any more of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import av.container

    from ._blockfile import BlockFile

__all__ = ["block_end", "block_track", "has_cues", "matroska_cues", "rest_has_track"]

_HEAD = 64 * 1024
"""Bytes of the file's start read for its SeekHead (what opening the file fetched)."""

_SEGMENT = 0x18538067
_SEEK_HEAD = 0x114D9B74
_SEEK = 0x4DBB
_SEEK_ID = 0x53AB
_CUES = 0x1C53BB6B
_CLUSTER = 0x1F43B675
_CUES_ID = _CUES.to_bytes(4, "big")
_UNKNOWN = -1
"""An element of unknown size (live streams): it runs to the end of its parent."""


def _vint(buf: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """Return an EBML variable-length integer at `pos` and the position after it."""
    if pos >= len(buf) or buf[pos] == 0:
        return None
    n = 8 - buf[pos].bit_length() + 1
    if pos + n > len(buf):
        return None
    value = int.from_bytes(buf[pos : pos + n], "big")
    if keep_marker:
        return value, pos + n
    value &= (1 << (7 * n)) - 1
    return (_UNKNOWN if value == (1 << (7 * n)) - 1 else value), pos + n


def _element(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    """Return ``(id, payload start, payload end)`` of the element at `pos`."""
    ident = _vint(buf, pos, keep_marker=True)
    size = _vint(buf, ident[1], keep_marker=False) if ident else None
    if ident is None or size is None:
        return None
    start = size[1]
    return ident[0], start, len(buf) if size[0] == _UNKNOWN else start + size[0]


def _lists_cues(buf: bytes, start: int, end: int) -> bool:
    """Whether a SeekHead's entries name the Cues element."""
    pos = start
    while (seek := _element(buf, pos)) is not None and seek[1] < min(end, len(buf)):
        if seek[0] == _SEEK:
            inner = seek[1]
            while (child := _element(buf, inner)) is not None and child[1] < seek[2]:
                if child[0] == _SEEK_ID and buf[child[1] : child[2]] == _CUES_ID:
                    return True
                inner = child[2]
        pos = seek[2]
    return False


def has_cues(head: bytes) -> bool | None:
    """Whether the Matroska file starting with `head` has cues; `None` if `head` cannot tell.

    Cues count when the SeekHead lists them, or when they come before the first cluster.
    """
    header = _element(head, 0)  # the EBML header
    segment = _element(head, header[2]) if header else None
    if segment is None or segment[0] != _SEGMENT:
        return None
    pos = segment[1]
    while (child := _element(head, pos)) is not None:
        kind, start, end = child
        if kind == _CUES or (kind == _SEEK_HEAD and _lists_cues(head, start, end)):
            return True
        if kind == _CLUSTER:
            return False  # the SeekHead (first) did not list them, none came before
        if end > len(head):
            return None
        pos = end
    return None


def matroska_cues(container: av.container.InputContainer, f: BlockFile) -> bool | None:
    """Whether an open Matroska/WebM container has cues; `None` for other formats.

    Reads the file's head (already fetched when it opened) without moving the position
    the demuxer's buffer follows (`BlockFile.read_at`).
    """
    if container.format.name.split(",")[0] != "matroska":
        return None
    return has_cues(f.read_at(0, _HEAD))


_SIMPLE_BLOCK = 0xA3
_BLOCK_GROUP = 0xA0
_BLOCK = 0xA1
_GAP = 64 * 1024
"""Most bytes after a block that `rest_has_track` reads (they are in the cache already)."""


def block_track(f: BlockFile, pos: int) -> int | None:
    """Return the track number of the block whose payload starts at `pos` (FFmpeg's pos)."""
    v = _vint(f.read_at(pos, 8), 0, keep_marker=False)
    return None if v is None else v[0]


def block_end(f: BlockFile, pos: int, size: int) -> int | None:
    """Return the end of a block whose payload starts at `pos` holding one `size`-byte frame.

    `None` for a laced block (several frames: its end is not the frame's).
    """
    head = f.read_at(pos, 12)
    v = _vint(head, 0, keep_marker=False)
    if v is None or v[1] + 3 > len(head) or head[v[1] + 2] & 0x06:
        return None
    return pos + v[1] + 3 + size


def rest_has_track(f: BlockFile, pos: int, stop: int, track: int) -> bool | None:
    """Whether a block of `track` lies in the file's bytes ``[pos, stop)``.

    The bytes are the rest of a cluster and whole clusters after it, up to the cluster at
    `stop`. `None` when they do not parse as that, or are over 64 KiB (read on instead).
    """
    if not 0 <= stop - pos <= _GAP:
        return None
    buf = f.read_at(pos, stop - pos)
    at = 0
    while at < len(buf):
        el = _element(buf, at)
        if el is None:
            return None
        kind, start, end = el
        if kind == _CLUSTER:
            at = start  # its children follow
            continue
        if end > len(buf):
            return None
        if kind == _SIMPLE_BLOCK and _track_at(buf, start) in (track, None):
            return True
        if kind == _BLOCK_GROUP:
            inner = start
            while (child := _element(buf, inner)) is not None and child[1] <= end:
                if child[0] == _BLOCK and _track_at(buf, child[1]) in (track, None):
                    return True
                inner = child[2]
        at = end
    return False if at == len(buf) else None


def _track_at(buf: bytes, pos: int) -> int | None:
    v = _vint(buf, pos, keep_marker=False)
    return None if v is None else v[0]
