"""Decode runs of a plan on one container: seek, read to the keyframe, decode, verify.

Between calls the decoder stays live where a next call may step forward (see
mediaref_av/README.md, "Stepping forward"): it goes on from there, takes frames that came
out early, and, when the caller works between calls, decodes the next frame meanwhile.
"""

from __future__ import annotations

import time
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
from ._threads import executor

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


Ready = tuple["av.VideoFrame", tuple[str, NDArray[np.uint8]] | None]
"""A frame the decoder output before a call asked for it, and its array if converted."""

_NO_PTS = -(1 << 63)
_FAR = 32
"""Packets from its keyframe to a frame that make a call keep the decoder live."""
_IDLE = 0.001
"""Seconds a caller spends between two steps forward that make decoding ahead pay (in a
tight loop, handing the decoder to a worker thread and back cost more than it saved)."""
_LATE = 2
"""Late decoding-ahead jobs (net of jobs in time, see `Handle.settle`) that stop decoding
ahead: a caller that holds the GIL between calls (pure-Python work, ``gc.collect()``)
keeps the job from running, and the next call then waits for it. 2 cores, 640x360 H.264,
one frame per call, ``gc.collect()`` and then some work between calls; mean ms a call
over 200 steps (median of 3-5 runs) with this rule / always decoding ahead / never: no
other work 0.93 / 1.05 / 0.93; 3 ms of pure Python 1.19 / 1.47 / 1.21; the bench's frame
signatures (numpy) 0.38 / 0.49 / 0.98; ``time.sleep(0.003)`` 0.30 / 0.31 / 1.25."""
_RETRY = 32
"""Steps forward after which decoding ahead held back is tried again."""
_READ_AHEAD = 16
"""Most packets decoded past a run to let its last frames out of a decoder kept live."""


def _ahead_pays(h: Handle) -> bool:
    """Whether to decode the next frame ahead for `h`'s next step.

    Not while the jobs keep coming late, but again every `_RETRY` steps (the caller's work
    between calls may have changed).
    """
    if h.ahead_late < _LATE:
        return True
    h.ahead_held_back += 1
    if h.ahead_held_back < _RETRY:
        return False
    h.ahead_held_back, h.ahead_late = 0, _LATE - 1  # one more late job holds it back again
    return True


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
        self.resume = True
        """Go on from a live decoder where a run allows it (off for a retry)."""

    def decode(
        self, h: Handle, wanted: set[int], got: dict[int, NDArray[np.uint8]], fmt: ImageFormat
    ) -> None:
        """Decode the frames `wanted` into `got` on `h` (the caller's until it returns)."""
        h.settle()
        idle = time.perf_counter() - h.returned_at
        self._decode(h, wanted, got, fmt)
        if (
            h.live
            and h.steps
            and idle >= _IDLE
            and not self.index.data.pts_may_be_decode_times
            and _ahead_pays(h)
        ):
            # Stepping forward, with time between the calls: decode the next frame then.
            h.ahead = executor().submit(self._decode_ahead, h, fmt)
        h.returned_at = time.perf_counter()

    def _decode(
        self, h: Handle, wanted: set[int], got: dict[int, NDArray[np.uint8]], fmt: ImageFormat
    ) -> None:
        idx = self.index
        for _ in range(len(idx.flagged_keys) + 3):
            missing = wanted - got.keys()
            if not missing:
                return
            resumed = False
            runs = plan(idx, missing)
            # A call whose first frames come after the last call's, from the same decoding,
            # steps forward. Its last run keeps the decoder live for a next step when that
            # pays: a few packets decoded ahead (the frames waiting in the decoder for
            # B-frame reordering or frame threads), against a seek and a decode from the
            # keyframe. So on a second step in a row, or when the keyframe is far.
            h.steps = h.steps + 1 if self._follows(h, runs[0]) else 0
            last = runs[-1]
            lead_in = min(int(idx.frame_dpos[f]) for f in last.frames) - last.start
            stepping = h.steps >= 2 or lead_in >= _FAR
            try:
                for i, run in enumerate(runs):
                    ahead = stepping and i == len(runs) - 1
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
                idx.note_pts_seek_overshoot()
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

    def _follows(self, h: Handle, run: Run) -> bool:
        """Whether `run` goes on forward from where the last run on `h` stopped.

        True when the run starts at or after that decoding's start and no later than
        where it stopped, and asks only for frames shown after those delivered: then a
        decoder left live has every reference the run needs.
        """
        if h.base is None or h.next_dpos is None or not h.base <= run.start <= h.next_dpos:
            return False
        pts = self.index.frame_pts
        return all(pts[f] > h.delivered_pts for f in run.frames)

    def _position(
        self, h: Handle, run: Run, resume: bool
    ) -> tuple[_Packet | None, Iterator[_Packet], int, bool]:
        """Return the first packet to send, the packets after it, its position, and liveness.

        Live means the decoder goes on from the last run unflushed; the packet is `None`
        when only the frames still inside a live decoder are left (end of the stream).
        """
        if h.demux is not None and h.next_dpos is not None and (resume or h.next_dpos == run.start):
            # Go on without a seek: forward in a live decoder, or the previous run ended
            # just before this run's keyframe.
            it, d = h.demux, h.next_dpos
            pkt = next(it, None)
            if pkt is None:
                if resume and d == self.index.num_packets:
                    return None, it, d, True  # only the frames in the decoder are left
            elif self.index.packet_of(pkt.pts, pkt.dts) == d:
                return pkt, it, d, h.live
        pkt, it = self._seek(h, run.start)
        return pkt, it, run.start, False

    def _run(
        self,
        h: Handle,
        run: Run,
        got: dict[int, NDArray[np.uint8]],
        fmt: ImageFormat,
        ahead: bool,
    ) -> bool:
        """Decode `run` on `h`; return whether it went on from a live decoder (no seek).

        With `ahead`, leave the decoder live for the frames shown next: decode past the
        run until its frames are out, skip none shown after them, keep those that come
        out (`Handle.ready`).
        """
        idx = self.index
        cc = h.stream.codec_context
        if h.converter is None:
            h.converter = Converter(orientation(idx.data.display_matrix, idx.data.rotation)[1])
        # Calls that step forward through a video (one frame per call) go on from where the
        # decoder stands instead of seeking back to the keyframe each time.
        follows = self._follows(h, run)
        ready, h.ready = h.ready, {}
        if ready and follows and self._from_ready(h, run, ready, got, fmt):
            return False
        first_pts = min(idx.frame_pts[f] for f in run.frames if f not in got)
        resume = follows and h.live and self.resume and first_pts > max(h.shown_pts, h.skipped_pts)
        pkt, it, d, live = self._position(h, run, resume)
        h.demux, h.next_dpos, h.live = it, None, False
        base, skipped_pts = (h.base, h.skipped_pts) if live else (run.start, _NO_PTS)
        # A live decoder went through the keyframe already: nothing to verify.
        out = _Output(self, run, got, fmt, h.converter, verified=live or run.start in idx.good_keys)
        if ahead:
            out.rest = {}
        skip_ok = self.skip_nonref and idx.data.skip_nonref_safe
        # Stepping forward, the next call wants the frames shown next: skip none of them.
        horizon = out.last_wanted if ahead else None
        packet_pts = idx.data.pts
        skipping = False
        sent = 0
        sent_skippable: list[int] = []
        try:
            while pkt is not None:
                if skip_ok:
                    want = d in out.needed or d == run.start
                    if horizon is not None and not want:
                        p = packet_pts[d]
                        want = p is None or p > horizon
                    if skipping == want:  # only touch the codec when the mode changes
                        skipping = not want
                        cc.skip_frame = "NONREF" if skipping else "DEFAULT"
                out.take(cc.decode(pkt))
                sent += 1
                if skipping:
                    sent_skippable.append(d)
                    p = packet_pts[d]
                    if p is not None and p > skipped_pts:
                        skipped_pts = p
                if d >= run.stop:
                    break
                pkt = next(it, None)
                if pkt is not None:
                    dd = idx.packet_of(pkt.pts, pkt.dts)
                    d = dd if dd is not None else d + 1
            if skipping:
                cc.skip_frame = "DEFAULT"
                skipping = False
            done = out.delivered()
            if pkt is not None and not done and ahead:
                # Frames still inside the decoder (B-frame reordering, frame threads):
                # feed it the next packets rather than drain it, so that it stays live
                # for the next step forward.
                for _ in range(_READ_AHEAD):
                    pkt = next(it, None)
                    if pkt is None:
                        break
                    dd = idx.packet_of(pkt.pts, pkt.dts)
                    d = dd if dd is not None else d + 1
                    out.take(cc.decode(pkt))
                    sent += 1
                    if out.delivered():
                        done = True
                        break
            if not done:
                out.take(cc.decode(None))
        except _BadStart:
            if skipping:
                cc.skip_frame = "DEFAULT"
            cc.flush_buffers()
            h.demux = h.next_dpos = h.base = None
            _counters.add(frames_decoded=sent)
            raise
        if not done:
            cc.flush_buffers()
        skipped = sum(1 for x in sent_skippable if x not in out.output)
        _counters.add(frames_decoded=sent - skipped, frames_skipped=skipped)
        h.live = done and out.verified
        h.base = base
        if out.rest:
            h.ready = {dd: (fr, None) for dd, fr in out.rest.items()}
        if pkt is not None:
            h.next_dpos = d + 1
        else:  # the demuxer is at the end: only a live decoder's pictures are left
            h.next_dpos = idx.num_packets if done or h.ready else None
        if out.last_pts is not None:
            h.shown_pts = out.last_pts
        elif not live:
            h.shown_pts = _NO_PTS
        h.delivered_pts = out.last_wanted
        h.skipped_pts = skipped_pts
        if not out.verified:
            raise _BadStart(run.start)
        return live

    def _from_ready(
        self,
        h: Handle,
        run: Run,
        ready: dict[int, Ready],
        got: dict[int, NDArray[np.uint8]],
        fmt: ImageFormat,
    ) -> bool:
        """Take the run's frames from those decoded ahead; return whether all were."""
        idx = self.index
        assert h.converter is not None
        for f in run.frames:
            r = ready.get(int(idx.frame_dpos[f]))
            if r is not None and f not in got:
                frame, done = r
                got[f] = done[1] if done is not None and done[0] == fmt else h.converter(frame, fmt)
        if not all(f in got for f in run.frames):
            return False
        last = max(idx.frame_pts[f] for f in run.frames)
        h.ready = {dd: r for dd, r in ready.items() if (r[0].pts or _NO_PTS) > last}
        h.delivered_pts = last
        return True

    def _decode_ahead(self, h: Handle, fmt: ImageFormat) -> None:
        """Decode a live decoder's packets until a frame comes out, into `h.ready`.

        The frame is converted to `fmt`, what the last call asked for. Runs in a worker
        thread while the caller uses the frames of its last step; the next call on `h`
        waits for it first (`Handle.settle`). FFmpeg decodes without the GIL. An error
        leaves `h` to seek.
        """
        idx = self.index
        cc = h.stream.codec_context
        t0 = time.thread_time()
        try:
            for _ in range(_READ_AHEAD):
                pkt = next(h.demux, None) if h.demux is not None else None
                if pkt is None:  # the end of the stream: drain the decoder
                    frames = cc.decode(None)
                    cc.flush_buffers()
                    h.live, h.next_dpos = False, idx.num_packets
                    self._keep(h, frames, fmt)
                    return
                dd = idx.packet_of(pkt.pts, pkt.dts)
                h.next_dpos = dd + 1 if dd is not None else (h.next_dpos or 0) + 1
                frames = cc.decode(pkt)
                _counters.add(frames_decoded=1)
                if self._keep(h, frames, fmt):
                    return
        except Exception:
            h.live, h.ready, h.demux, h.next_dpos = False, {}, None, None
        finally:
            h.ahead_cost = time.thread_time() - t0

    def _keep(self, h: Handle, frames: list[av.VideoFrame], fmt: ImageFormat) -> bool:
        """Add the frames output to `h.ready`; return whether there were any."""
        assert h.converter is not None
        for frame in frames:
            p = frame.pts
            dd = self.index.pts_dpos.get(p) if p is not None else None
            if p is not None and dd is not None:
                h.ready[dd] = (frame, (fmt, h.converter(frame, fmt)))
                h.shown_pts = p
        return bool(frames)


class _Output:
    """What a run does with the pictures the decoder outputs: verify, convert, keep."""

    def __init__(
        self,
        runs: RunDecoder,
        run: Run,
        got: dict[int, NDArray[np.uint8]],
        fmt: ImageFormat,
        convert: Converter,
        verified: bool,
    ) -> None:
        idx = runs.index
        self.index, self.uri, self.run, self.got = idx, runs.uri, run, got
        self.fmt, self.convert = fmt, convert
        self.needed = {int(idx.frame_dpos[f]): f for f in run.frames}
        self.verified = verified
        """The run's start was seen to be a keyframe (or needs no check)."""
        self.start_pts = idx.data.pts[run.start]
        self.output: set[int] = set()
        """Decode positions of the pictures output."""
        self.last_pts: int | None = None
        self.last_wanted = max(idx.frame_pts[f] for f in run.frames)
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
            dd = idx.pts_dpos.get(p) if p is not None else None
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
            if idx.data.key[dd]:
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
                self.got[f] = self.convert(frame, self.fmt)
            elif f is None and self.rest is not None and p > self.last_wanted:
                # Shown after the run's frames: a next step may want it. (Holding the
                # lead-in's frames would pin up to a GOP of decoder buffers.)
                self.rest[dd] = frame
