"""Decode runs of a plan on one container: seek, read to the keyframe, decode, verify.

Between calls the decoder stays live where a next call may step forward: `_stepping`
keeps that state and decides when to go on from it; the runs here report to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from mediaref import ByteSource, UndecodableMediaError

from . import _counters
from ._convert import Converter, Output, destination
from ._index import Index
from ._plan import Run, plan
from ._pool import Handle
from ._stepping import READ_AHEAD, Stepping, pictures_held

if TYPE_CHECKING:
    import av
    from av.video.stream import VideoStream

    _Packet = av.Packet[VideoStream]
    _Position = tuple[_Packet | None, Iterator[_Packet], int, bool]

__all__ = ["RunDecoder"]


class _BadStart(Exception):
    """Decoding from a packet flagged as keyframe did not yield a key frame there."""

    def __init__(self, dpos: int) -> None:
        super().__init__(dpos)
        self.dpos = dpos


def _is_key(frame: av.VideoFrame) -> bool:
    return bool(frame.key_frame) or int(frame.pict_type) == 1  # PictureType.I


class RunDecoder:
    """Turn a set of wanted frames into decoded arrays on one handle, with the least work.

    Args:
        index: The stream's packet index (bad keyframes found are recorded in it).
        source: The stream's source: for error messages, and to open it again.
        skip_nonref: Let the codec skip unreferenced pictures no wanted frame needs.
    """

    def __init__(self, index: Index, source: ByteSource, skip_nonref: bool) -> None:
        self.index, self.source, self.skip_nonref = index, source, skip_nonref
        self.uri = source.uri
        self.resume = True
        """Go on from a live decoder where a run allows it (off for a retry)."""

    def decode(
        self,
        h: Handle,
        wanted: set[int],
        got: dict[int, NDArray[np.uint8]],
        fmt: Output,
        runs: list[Run] | None = None,
    ) -> None:
        """Decode the frames `wanted` into `got` on `h` (the caller's until it returns).

        `runs`: ``plan(index, wanted)`` where the caller has it already.
        """
        if h.stepping.index is not self.index:
            # Its state counts packets of another index (a lazy Matroska index's other
            # window, or a rebuilt index): start afresh, with a seek.
            h.stepping.close()
            h.stepping = Stepping(self.index)
        idle = h.stepping.begin_call()
        self._decode(h, wanted, got, fmt, runs)
        h.stepping.end_call(idle, self.index, h.stream.codec_context, fmt)

    def _decode(
        self,
        h: Handle,
        wanted: set[int],
        got: dict[int, NDArray[np.uint8]],
        fmt: Output,
        planned: list[Run] | None,
    ) -> None:
        idx = self.index
        for _ in range(len(idx.flagged_keys) + 3):
            missing = wanted - got.keys()
            if not missing:
                return
            resumed = False
            runs = planned if planned is not None and missing == wanted else plan(idx, missing)
            planned = None  # a retry plans again: the index may have learnt a keyframe
            held = pictures_held(h.stream.codec_context)
            keep_live = h.stepping.keeps_live(idx, runs, held)
            try:
                for i, run in enumerate(runs):
                    ahead = keep_live and i == len(runs) - 1
                    resumed |= self._run(h, run, got, fmt, ahead)
            except _BadStart as e:
                idx.learn_key(e.dpos, False)
                continue
            missing = wanted - got.keys()
            if missing and resumed and self.resume:
                # A frame the live decoder should have held never came out: try again
                # the plain way, from keyframes.
                self.resume = False
                continue
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

    # -- seek and position ------------------------------------------------------------

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
            it = h.packets()
            first = self._advance(it, dpos)
            if first is not None:
                return first, it
            if target == idx.pts_of(dpos) != idx.dts_of(dpos):
                idx.note_pts_seek_overshoot()
        # Last resort: a fresh container starts at the first packet.
        h.reopen(self.source)
        _counters.add(seeks=1)
        it = h.packets()
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

    def _position(self, h: Handle, run: Run, resume: bool) -> _Position:
        """Return the first packet to send, the packets after it, its position, and liveness.

        Live means the decoder goes on from the last run unflushed (no seek); the packet is
        `None` when only the frames still inside a live decoder are left (end of stream).
        """
        at = h.stepping.go_on(self.index, run, resume)
        if at is not None:
            return at
        pkt, it = self._seek(h, run.start)
        return pkt, it, run.start, False

    # -- a run ------------------------------------------------------------------------

    def _run(
        self,
        h: Handle,
        run: Run,
        got: dict[int, NDArray[np.uint8]],
        fmt: Output,
        ahead: bool,
    ) -> bool:
        """Decode `run` on `h`; return whether it went on from a live decoder (no seek).

        With `ahead`, leave the decoder live for the frames shown next: decode past the
        run until its frames are out, skip none shown after them, keep those that come
        out (`Stepping.ready`).
        """
        idx, st = self.index, h.stepping
        convert = st.converter_for(idx)
        # Calls that step forward through a video (one frame per call) go on from where the
        # decoder stands instead of seeking back to the keyframe each time.
        follows = st.follows(idx, run)
        ready = st.take_ready()
        if ready and follows and st.from_ready(idx, run, ready, got, fmt):
            return False
        first_pts = min(int(idx.frame_pts[f]) for f in run.frames if f not in got)
        resume = follows and self.resume and st.may_resume(first_pts)
        pkt, it, d, live = self._position(h, run, resume)
        base, skipped_pts = st.start_run(it, live, run.start)
        # A live decoder went through the keyframe already: nothing to verify.
        out = _Output(self, run, got, fmt, convert, verified=live or run.start in idx.good_keys)
        if ahead:
            out.rest = {}
        # Stepping forward, the next call wants the frames shown next: skip none of them.
        feed = _Feed(self, h, out, skipped_pts, horizon=out.last_wanted if ahead else None)
        pkt, d, done = self._feed_run(feed, pkt, it, d, ahead)
        if pkt is not None:
            next_dpos: int | None = d + 1
        else:  # the demuxer is at the end: only a live decoder's pictures are left
            next_dpos = idx.num_packets if done or out.rest else None
        st.end_run(
            live=done and out.verified,
            base=base,
            next_dpos=next_dpos,
            rest=out.rest,
            last_pts=out.last_pts,
            went_on=live,
            delivered_pts=out.last_wanted,
            skipped_pts=feed.skipped_pts,
        )
        if not out.verified:
            raise _BadStart(run.start)
        return live

    def _feed_run(
        self, feed: _Feed, pkt: _Packet | None, it: Iterator[_Packet], d: int, ahead: bool
    ) -> tuple[_Packet | None, int, bool]:
        """Send the run's packets (and more with `ahead`), drain the decoder unless done.

        Returns the last packet read, its position, and whether the decoder was left live
        with every frame of the run out (not drained). A bad start leaves it flushed.
        """
        cc, out = feed.cc, feed.out
        try:
            pkt, d = self._send_run(feed, pkt, it, d)
            done = out.delivered()
            if pkt is not None and not done and ahead:
                pkt, d, done = self._read_on(feed, pkt, it, d)
            if not done:
                out.take(cc.decode(None))
        except _BadStart:
            feed.plain()
            cc.flush_buffers()
            feed.stepping.abandon_run()
            _counters.add(frames_decoded=feed.sent)
            raise
        if not done:
            cc.flush_buffers()
        feed.count()
        return pkt, d, done

    def _send_run(
        self, feed: _Feed, pkt: _Packet | None, it: Iterator[_Packet], d: int
    ) -> tuple[_Packet | None, int]:
        """Send the run's packets from `pkt` (at `d`); return the last one read and its `d`."""
        idx, stop = self.index, feed.out.run.stop
        while pkt is not None:
            feed.send(pkt, d)
            if d >= stop:
                break
            pkt = next(it, None)
            if pkt is not None:
                dd = idx.packet_of(pkt.pts, pkt.dts)
                d = dd if dd is not None else d + 1
        feed.plain()
        return pkt, d

    def _read_on(
        self, feed: _Feed, pkt: _Packet | None, it: Iterator[_Packet], d: int
    ) -> tuple[_Packet | None, int, bool]:
        """Send packets past the run until its frames are out (at most `READ_AHEAD`).

        Frames still inside the decoder (B-frame reordering, frame threads): feed it the
        next packets rather than drain it, so that it stays live for the next step forward.
        Return the last packet read (`pkt`, at `d`, if none), its position, and whether
        the run's frames are out.
        """
        idx = self.index
        for _ in range(READ_AHEAD):
            pkt = next(it, None)
            if pkt is None:
                break
            dd = idx.packet_of(pkt.pts, pkt.dts)
            d = dd if dd is not None else d + 1
            feed.send_plain(pkt)
            if feed.out.delivered():
                return pkt, d, True
        return pkt, d, False


class _Feed:
    """Sends a run's packets to the codec: ``skip_frame=NONREF`` where nothing needs them."""

    def __init__(
        self,
        runs: RunDecoder,
        h: Handle,
        out: _Output,
        skipped_pts: int,
        horizon: int | None,
    ) -> None:
        idx = runs.index
        self.cc, self.stepping = h.stream.codec_context, h.stepping
        self.out, self.pts_of = out, idx.pts_of
        self.skip_ok = runs.skip_nonref and idx.data.skip_nonref_safe
        self.horizon = horizon
        """Packets shown after this pts are never skipped (`None`: no such limit)."""
        self.skipping = False
        self.sent = 0
        self.sent_skippable: list[int] = []
        self.skipped_pts = skipped_pts
        """The latest pts of a picture the decoder may have skipped."""

    def send(self, pkt: _Packet, d: int) -> None:
        """Decode packet `d`, letting the codec skip it if no frame of the run needs it."""
        if self.skip_ok:
            want = d in self.out.needed or d == self.out.run.start
            if self.horizon is not None and not want:
                p = self.pts_of(d)
                want = p is None or p > self.horizon
            if self.skipping == want:  # only touch the codec when the mode changes
                self.skipping = not want
                self.cc.skip_frame = "NONREF" if self.skipping else "DEFAULT"
        self.out.take(self.cc.decode(pkt))
        self.sent += 1
        if self.skipping:
            self.sent_skippable.append(d)
            p = self.pts_of(d)
            if p is not None and p > self.skipped_pts:
                self.skipped_pts = p

    def send_plain(self, pkt: _Packet) -> None:
        """Decode a packet with the codec's default (after `plain`)."""
        self.out.take(self.cc.decode(pkt))
        self.sent += 1

    def plain(self) -> None:
        """Let the codec decode every picture again."""
        if self.skipping:
            self.cc.skip_frame = "DEFAULT"
            self.skipping = False

    def count(self) -> None:
        """Count the packets sent: skipped if sent as skippable and never output, else decoded."""
        skipped = sum(1 for x in self.sent_skippable if x not in self.out.output)
        _counters.add(frames_decoded=self.sent - skipped, frames_skipped=skipped)


class _Output:
    """What a run does with the pictures the decoder outputs: verify, convert, keep."""

    def __init__(
        self,
        runs: RunDecoder,
        run: Run,
        got: dict[int, NDArray[np.uint8]],
        fmt: Output,
        convert: Converter,
        verified: bool,
    ) -> None:
        idx = runs.index
        self.index, self.uri, self.run, self.got = idx, runs.uri, run, got
        self.fmt, self.convert = fmt, convert
        self.needed = {int(idx.frame_dpos[f]): f for f in run.frames}
        self.verified = verified
        """The run's start was seen to be a keyframe (or needs no check)."""
        self.start_pts = idx.pts_of(run.start)
        self.output: set[int] = set()
        """Decode positions of the pictures output."""
        self.last_pts: int | None = None
        self.last_wanted = max(int(idx.frame_pts[f]) for f in run.frames)
        """The pts of the last frame the run delivers (in display order)."""
        self.rest: dict[int, av.VideoFrame] | None = None
        """When a dict: collects the frames not needed (stepping forward: the next steps
        may want them)."""

    def delivered(self) -> bool:
        return all(f in self.got for f in self.run.frames)

    def take(self, frames: list[av.VideoFrame]) -> None:
        idx, run = self.index, self.run
        for frame in frames:
            p = frame.pts
            dd = idx.dpos_of_pts(p) if p is not None else None
            if p is None or dd is None:
                continue
            last = self.last_pts
            if idx.data.pts_may_be_decode_times and last is not None and p < last:
                # Pictures come out in display order, so their pts must grow. If not,
                # the container stores decode times as pts (AVI with B-frames):
                # display times are unknown, and guessing would return wrong frames.
                raise UndecodableMediaError(
                    "the container's timestamps are not presentation timestamps "
                    f"(the decoder output pts {p} after {last}; e.g. AVI with "
                    "B-frames): frames cannot be selected by time; remux it to MP4/MKV",
                    uri=self.uri,
                )
            self.last_pts = p
            self.output.add(dd)
            key = _is_key(frame)
            if idx.key[dd]:
                idx.learn_key(dd, key)
            if not self.verified:
                if dd == run.start:
                    if not key:
                        raise _BadStart(run.start)
                    self.verified = True
                elif self.start_pts is not None and p > self.start_pts:
                    raise _BadStart(run.start)  # the keyframe's picture never came out
                else:
                    continue
            f = self.needed.get(dd)
            if f is not None and f not in self.got:
                self.got[f] = self.convert(frame, self.fmt, destination(self.got, f))
            elif f is None and self.rest is not None and p > self.last_wanted:
                # Shown after the run's frames: a next step may want it. (Holding the
                # lead-in's frames would pin up to a GOP of decoder buffers.)
                self.rest[dd] = frame
