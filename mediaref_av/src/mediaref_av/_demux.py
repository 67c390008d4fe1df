"""The index scan: demux a video stream once, decoding only what packets cannot tell.

One pass over the packets records each one (pts, dts, keyframe flag checked against the
bitstream, duration, discard flag); the first picture is decoded for what only frames
carry (display matrix, real pixel format, which leading packets the decoder drops), and
in AVI a few GOPs more, to see whether pictures come out of pts order.
"""

from __future__ import annotations

import itertools
import struct
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from mediaref import UndecodableMediaError

from ._bitstream import (
    h264_declares_reorder,
    h264_key,
    h264_slices,
    hevc_irap,
    hevc_wavefront,
    skip_nonref_safe,
)
from ._index import IndexData

if TYPE_CHECKING:
    import av
    import av.container
    import av.video.stream

    _Packet = av.Packet[av.video.stream.VideoStream]

__all__ = ["IndexScan"]

_PROBE_ORDER_PACKETS = 48
"""Packets decoded in AVI to see whether pictures come out of pts order (a few GOPs)."""


def _is_flush(pkt: _Packet) -> bool:
    return pkt.size == 0 and pkt.pts is None and pkt.dts is None  # PyAV's last packet


def _is_image_format(container: av.container.InputContainer) -> bool:
    names = set(container.format.name.split(","))
    return bool(names & {"image2", "image2pipe"}) or any(n.endswith("_pipe") for n in names)


def _nal_length_size(codec: str, extradata: bytes) -> int:
    """The NAL length prefix size from hvcC/avcC (MP4/MKV: version 1); 0 for Annex B (TS)."""
    if codec == "hevc" and len(extradata) > 22 and extradata[0] == 1:
        return (extradata[21] & 3) + 1
    if codec == "h264" and len(extradata) > 6 and extradata[0] == 1:
        return (extradata[4] & 3) + 1
    return 0


class IndexScan:
    """One demux pass over a video stream that describes every packet, in decode order.

    Decodes only the first picture (in AVI, a few GOPs). The codec's threading must be
    set before it opens, and may depend on the slices per picture: read them first::

        scan = IndexScan(container, stream)
        configure_codec(scan.slices())  # reads the first packet, decodes nothing
        data = scan.run()

    Leaves the container at an unknown position; the caller seeks before decoding.

    Raises:
        UndecodableMediaError: An image file.
    """

    def __init__(
        self, container: av.container.InputContainer, stream: av.video.stream.VideoStream
    ) -> None:
        if _is_image_format(container):
            raise UndecodableMediaError(
                f"this is an image ({container.format.name}), not a video: "
                "refer to it without pts_ns to decode it as an image"
            )
        self.stream = stream
        self.cc = stream.codec_context
        self.codec = self.cc.name
        self._packets = (p for p in container.demux(stream) if not _is_flush(p))
        self._head: list[_Packet] | None = None
        """The first packet, once `slices` has read it."""
        self.pts: list[int | None] = []
        self.dts: list[int | None] = []
        self.key: list[bool] = []
        self.duration: list[int] = []
        self.discard: list[bool] = []
        self.check_hevc = self.codec == "hevc"
        self.check_h264 = self.codec == "h264"
        self.length_size = _nal_length_size(self.codec, self.cc.extradata or b"")
        self.h264_verdicts: list[bool | None] = []
        self._slices = 0
        """Counted in the first packet."""
        self.first: av.VideoFrame | None = None
        """The first picture: it carries what only frames do (display matrix, real pixel
        format) and shows which leading packets the decoder drops."""
        self.probed = 0
        """Packets decoded."""
        self.probe_order = "avi" in container.format.name.split(",")
        """AVI stores decode times as pts: with B-frames, display times are unknown."""
        self.out_pts: list[int] = []
        """The pts of the pictures decoded, in output order."""
        self.pos: list[int] = []
        self.size: list[int] = []
        self.origin = f"full scan (no sample tables in {container.format.name.split(',')[0]})"

    def slices(self) -> int:
        """Return the slices per picture (H.264: counted in the first packet; else 1)."""
        if self._head is None:
            self._head = list(itertools.islice(self._packets, 1))
            if self._head and self.check_h264:
                self._slices = h264_slices(bytes(self._head[0]), self.length_size)
        return max(self._slices, 1)

    def run(self) -> IndexData:
        """Demux the rest of the stream and describe it.

        Raises:
            UndecodableMediaError: No frames, or a demuxing error.
        """
        self.slices()
        assert self._head is not None
        for pkt in itertools.chain(self._head, self._packets):
            if self.first is None or (self.probe_order and self.probed < _PROBE_ORDER_PACKETS):
                self._probe(pkt)
            self._record(pkt)
        return self._finish()

    def _probe(self, pkt: _Packet) -> None:
        """Decode a packet, for the first picture and the order pictures come out in."""
        self.probed += 1
        out = self.cc.decode(pkt)
        if out and self.first is None:
            self.first = out[0]
        self.out_pts += [f.pts for f in out if f.pts is not None]

    def _record(self, pkt: _Packet) -> None:
        """Describe one packet."""
        p, q = pkt.pts, pkt.dts
        self.pts.append(p if p is not None else q)
        self.dts.append(q)
        k = bool(pkt.is_keyframe)
        if k and self.check_hevc:
            # Some muxers flag every HEVC packet as key; believe only IRAP pictures.
            irap = hevc_irap(bytes(pkt), self.length_size)
            k = irap is not False
        self.h264_verdicts.append(
            h264_key(bytes(pkt), self.length_size) if k and self.check_h264 else None
        )
        self.key.append(k)
        self.duration.append(int(pkt.duration or 0))
        self.discard.append(bool(pkt.is_discard))
        self.pos.append(-1 if pkt.pos is None else int(pkt.pos))
        self.size.append(int(pkt.size))

    def _finish(self) -> IndexData:
        """Check what the pass found, fix it up where the bitstream or decoder says better.

        Raises:
            UndecodableMediaError: No packets, no time base, pictures out of pts order
                (AVI with B-frames), or no picture decoded.
        """
        if not self.pts:
            raise UndecodableMediaError("the video stream has no packets")
        key = self._believed_keys()
        tb = self.stream.time_base
        if tb is None:
            raise UndecodableMediaError("the video stream has no time base")
        default = _default_duration(self.stream, self.pts, Fraction(tb))
        first = self._drain()
        self._discard_leading(first)
        rotation, matrix = _display(first)
        return IndexData(
            stream_index=self.stream.index,
            time_base=(tb.numerator, tb.denominator),
            codec=self.codec,
            width=first.width,
            height=first.height,
            pixel_format=first.format.name,
            rotation=rotation,
            pts=self.pts,
            dts=self.dts,
            key=key,
            duration=self.duration,
            discard=self.discard,
            default_duration=(default.numerator, default.denominator),
            skip_nonref_safe=skip_nonref_safe(self.codec, self.cc.extradata),
            pts_may_be_decode_times=self.probe_order,
            display_matrix=matrix,
            slices=max(self._slices, 1),
            wavefront=self._wavefront(),
            declared_reorder=self.codec == "h264" and h264_declares_reorder(self.cc.extradata),
            pos=self.pos,
            size=self.size,
            origin=self.origin,
        )

    def _wavefront(self) -> bool:
        if self.codec != "hevc" or not self._head:
            return False
        return hevc_wavefront(self.cc.extradata, bytes(self._head[0]), self.length_size)

    def _believed_keys(self) -> list[bool]:
        key = self.key
        if self.check_h264 and len(key) >= 8 and 2 * sum(key) > len(key):
            # Mostly keyframes is what a muxer that flags every packet produces: believe the
            # bitstream (IDR, recovery point, I slice); decoding verifies what remains.
            key = [k and v is not False for k, v in zip(key, self.h264_verdicts, strict=True)]
        return key

    def _drain(self) -> av.VideoFrame:
        """Take the pictures still in the decoder where needed; return the first picture."""
        if self.first is None or self.probe_order:
            out = self.cc.decode(None)
            self.first = self.first or (out[0] if out else None)
            self.out_pts += [f.pts for f in out if f.pts is not None]
        self.cc.flush_buffers()
        if any(b <= a for a, b in itertools.pairwise(self.out_pts)):
            raise UndecodableMediaError(
                "the container's timestamps are not presentation timestamps (the decoder "
                "outputs pictures out of their pts order, as with B-frames in AVI): frames "
                "cannot be selected by time; remux the file to MP4 or MKV"
            )
        if self.first is None:
            raise UndecodableMediaError(f"the {self.codec} decoder produced no frame")
        return self.first

    def _discard_leading(self, first: av.VideoFrame) -> None:
        if first.pts is not None:
            # A stream cut mid-GOP starts with pictures whose references are missing: the
            # decoder drops them, so they are not frames (as a sequential decode shows).
            for d, p in enumerate(self.pts):
                if p is not None and p < first.pts:
                    self.discard[d] = True


def _default_duration(
    stream: av.video.stream.VideoStream, pts: list[int | None], tb: Fraction
) -> Fraction:
    """Seconds a frame lasts when its packet gives no duration: 1 / frame rate."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate and rate > 0:
        return Fraction(rate.denominator, rate.numerator)
    known = sorted(p for p in pts if p is not None)
    deltas = sorted(b - a for a, b in itertools.pairwise(known) if b > a)
    return deltas[len(deltas) // 2] * tb if deltas else tb


def _display(first: av.VideoFrame) -> tuple[int, list[int] | None]:
    """Return the counter-clockwise rotation and the display matrix decoded frames carry."""
    rotation = int(getattr(first, "rotation", 0) or 0) % 360
    matrix = None
    side_data: Any = first.side_data
    for sd in side_data:  # (its .values() raises KeyError in PyAV 18)
        raw = bytes(sd)
        if str(getattr(sd, "type", "")).endswith("DISPLAYMATRIX") and len(raw) == 36:
            matrix = list(struct.unpack("<9i", raw))
    return rotation, matrix
