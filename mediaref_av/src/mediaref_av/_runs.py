"""Decode runs of a plan on one container: seek, read to the keyframe, decode, verify, drain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from mediaref import ImageFormat, UndecodableMediaError

from . import _counters
from ._convert import Converter, orientation
from ._index import Index
from ._plan import Run, plan
from ._pool import Handle

if TYPE_CHECKING:
    import av
    from av.video.stream import VideoStream

    _Packet = av.Packet[VideoStream]

__all__ = ["RunDecoder"]


class _BadStart(Exception):
    """Decoding from a packet flagged as keyframe did not yield a key frame there."""

    def __init__(self, dpos: int) -> None:
        super().__init__(dpos)
        self.dpos = dpos


def _is_key(frame: av.VideoFrame) -> bool:
    return bool(frame.key_frame) or int(frame.pict_type) == 1  # PictureType.I


def _is_flush(pkt: _Packet) -> bool:
    return pkt.size == 0 and pkt.pts is None and pkt.dts is None


class RunDecoder:
    """Turn a set of wanted frames into decoded arrays on one handle, with the least work.

    Args:
        index: The stream's packet index (bad keyframes found are recorded in it).
        uri: For error messages.
        skip_nonref: Let the codec skip unreferenced pictures no wanted frame needs.
        reopen: Replace a handle's container by a fresh one (the last-resort "seek").
    """

    def __init__(
        self, index: Index, uri: str, skip_nonref: bool, reopen: Callable[[Handle], None]
    ) -> None:
        self.index, self.uri, self.skip_nonref, self.reopen = index, uri, skip_nonref, reopen

    def decode(
        self, h: Handle, wanted: set[int], got: dict[int, NDArray[np.uint8]], fmt: ImageFormat
    ) -> None:
        idx = self.index
        for _ in range(len(idx.flagged_keys) + 2):
            missing = wanted - got.keys()
            if not missing:
                return
            try:
                for run in plan(idx, missing):
                    self._run(h, run, got, fmt)
            except _BadStart as e:
                idx.learn_key(e.dpos, False)
                continue
            missing = wanted - got.keys()
            if missing:
                f = min(missing)
                raise UndecodableMediaError(
                    f"the decoder did not output the frame with pts {idx.frame_pts[f]} "
                    f"(frame {f}); the file may be truncated or corrupt",
                    uri=self.uri,
                    pts_ns=int(idx.frame_ns[f]),
                )
            return
        raise UndecodableMediaError("no usable keyframe found", uri=self.uri)

    def _packets(self, h: Handle) -> Iterator[_Packet]:
        """The demuxer's packets from where it stands (it reads on after a seek)."""
        if h.reader is None:
            h.reader = h.container.demux(h.stream)
        for pkt in h.reader:
            if not _is_flush(pkt):
                yield pkt
        h.reader = None  # ended (EOF): the next read needs a new one

    def _seek(self, h: Handle, dpos: int) -> tuple[_Packet, Iterator[_Packet]]:
        """Position the demuxer so that its next packet is `dpos`, with a flushed decoder."""
        import av

        idx = self.index
        targets: list[int] = []
        for d in (dpos, 0):
            targets += [t for t in idx.seek_targets(d) if t not in targets]
        for target in targets:
            try:
                h.container.seek(target, stream=h.stream, backward=True, any_frame=False)
            except av.FFmpegError:
                continue
            _counters.add(seeks=1)
            h.stream.codec_context.flush_buffers()
            it = self._packets(h)
            first = self._advance(it, dpos)
            if first is not None:
                return first, it
            if target == idx.data.pts[dpos] != idx.data.dts[dpos]:
                idx.pts_seek_overshoots = True
        # Last resort: a fresh container starts at the first packet.
        self.reopen(h)
        _counters.add(seeks=1)
        it = self._packets(h)
        first = self._advance(it, dpos)
        if first is None:
            raise UndecodableMediaError(
                f"cannot reach packet {dpos} of the video stream", uri=self.uri
            )
        return first, it

    def _advance(self, it: Iterator[_Packet], dpos: int) -> _Packet | None:
        """Read (without decoding) up to packet `dpos`; `None` if the demuxer is past it."""
        idx = self.index
        for pkt in it:
            d = idx.packet_of(pkt.pts, pkt.dts)
            if d is None:
                continue
            if d == dpos:
                return pkt
            if d > dpos:
                return None
        return None

    def _run(
        self, h: Handle, run: Run, got: dict[int, NDArray[np.uint8]], fmt: ImageFormat
    ) -> None:
        idx = self.index
        cc = h.stream.codec_context
        if h.converter is None:
            h.converter = Converter(orientation(idx.data.display_matrix, idx.data.rotation)[1])
        convert = h.converter
        pkt: _Packet | None = None
        it: Iterator[_Packet] | None = None
        if h.next_dpos == run.start and h.demux is not None:
            # The previous run ended just before this keyframe: go on without a seek.
            it = h.demux
            pkt = next(it, None)
            if pkt is None or idx.packet_of(pkt.pts, pkt.dts) != run.start:
                pkt = None
        if pkt is None or it is None:
            pkt, it = self._seek(h, run.start)
        h.demux, h.next_dpos = it, None
        needed = {int(idx.frame_dpos[f]): f for f in run.frames}
        verify = run.start not in idx.good_keys
        start_pts = idx.data.pts[run.start]
        verified = not verify
        skip_ok = self.skip_nonref and idx.data.skip_nonref_safe
        skipping = False
        sent = 0
        sent_skippable: list[int] = []
        output: set[int] = set()

        last_pts: list[int] = []
        check_order = idx.data.pts_may_be_decode_times

        def take(frames: list[av.VideoFrame]) -> None:
            nonlocal verified
            for frame in frames:
                p = frame.pts
                dd = idx.pts_dpos.get(p) if p is not None else None
                if dd is None:
                    continue
                if check_order and last_pts and p is not None and p < last_pts[0]:
                    # Pictures come out in display order, so their pts must grow. If not,
                    # the container stores decode times as pts (AVI with B-frames):
                    # display times are unknown, and guessing would return wrong frames.
                    raise UndecodableMediaError(
                        "the container's timestamps are not presentation timestamps "
                        f"(the decoder output pts {p} after {last_pts[0]}; e.g. AVI with "
                        "B-frames): frames cannot be selected by time; remux it to MP4/MKV",
                        uri=self.uri,
                    )
                if p is not None:
                    last_pts[:] = [p]
                output.add(dd)
                key = _is_key(frame)
                if idx.data.key[dd]:
                    idx.learn_key(dd, key)
                if not verified:
                    if dd == run.start:
                        if not key:
                            raise _BadStart(run.start)
                        verified = True
                    elif start_pts is not None and p is not None and p > start_pts:
                        raise _BadStart(run.start)  # the keyframe's picture never came out
                    else:
                        continue
                f = needed.get(dd)
                if f is not None and f not in got:
                    got[f] = convert(frame, fmt)

        d = run.start
        try:
            while pkt is not None:
                if skip_ok:
                    want = d in needed or d == run.start
                    if skipping == want:  # only touch the codec when the mode changes
                        skipping = not want
                        cc.skip_frame = "NONREF" if skipping else "DEFAULT"
                take(cc.decode(pkt))
                sent += 1
                if skipping:
                    sent_skippable.append(d)
                if d >= run.stop:
                    break
                pkt = next(it, None)
                if pkt is not None:
                    dd = idx.packet_of(pkt.pts, pkt.dts)
                    d = dd if dd is not None else d + 1
            if skipping:
                cc.skip_frame = "DEFAULT"
                skipping = False
            take(cc.decode(None))
        except _BadStart:
            if skipping:
                cc.skip_frame = "DEFAULT"
            cc.flush_buffers()
            h.demux = h.next_dpos = None
            _counters.add(frames_decoded=sent)
            raise
        cc.flush_buffers()
        skipped = sum(1 for x in sent_skippable if x not in output)
        _counters.add(frames_decoded=sent - skipped, frames_skipped=skipped)
        if pkt is not None:
            h.next_dpos = d + 1
        if not verified:
            raise _BadStart(run.start)
