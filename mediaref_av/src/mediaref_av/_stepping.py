"""Stepping forward: the decoding state a container keeps between calls, and its rules.

A dataset read in order asks for one frame per call. A run whose frames have all come
out leaves the decoder live (not drained), so that a later call asking only for frames
shown after those delivered goes on from there: no seek back to the keyframe, each packet
decoded once. Frames that came out early wait in `Stepping.ready`; when the caller spends
time between calls, the next frame is decoded meanwhile in a worker thread (see
mediaref_av/README.md, "Stepping forward"). `Stepping` is owned by a `_pool.Handle` and
written only here; `_runs` decodes the runs and reports to it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import _counters
from ._convert import Converter, Output, destination, orientation
from ._threads import executor

if TYPE_CHECKING:
    import av
    from av.video.codeccontext import VideoCodecContext
    from av.video.stream import VideoStream

    from ._index import Index
    from ._plan import Run

    _Packet = av.Packet[VideoStream]

__all__ = ["NO_PTS", "READ_AHEAD", "Ready", "Stepping", "pictures_held"]

Ready = tuple["av.VideoFrame", tuple[Output, NDArray[np.uint8]] | None]
"""A frame the decoder output before a call asked for it, and its array if converted."""

NO_PTS = -(1 << 63)
"""Before every pts."""
READ_AHEAD = 16
"""Most packets decoded past a run to let its last frames out of a decoder kept live."""
_LEAD_PER_HELD = 4
"""Packets from its keyframe, per picture the decoder holds back (`pictures_held`), from
which a run keeps its decoder live: the packets decoded past the run are then at most a
quarter of it, and draining would cost a next step forward the whole run again. World
bench media, 100 consecutive frames one call each (W6), two runs of 5 reps each against
a fixed 32 packets: the rep that starts 20 packets from an H.264 keyframe (4 held) 1,335-
1,348 -> 2,402-2,417 frames/s; 12 and 20 packets from a VP9 keyframe (2 held) 1,429-1,440
-> 1,334-2,582 and 1,584-1,608 -> 2,393-2,441. One random frame per call (W4): H.264 33
frames/s (32-34 before), VP9 31 (30); decoded / minimal on VP9 0.99 (0.98). Short GOPs
with B-frames and frame threads (a keyframe every 12 pictures, 4 held) stay at their plan."""
_IDLE = 0.001
"""Seconds a caller spends between two steps forward that make decoding ahead pay (in a
tight loop, handing the decoder to a worker thread and back cost more than it saved)."""
_LATE = 2
"""Late decoding-ahead jobs (net of jobs in time, see `Stepping.settle`) that stop decoding
ahead: a caller that holds the GIL between calls (pure-Python work, ``gc.collect()``)
keeps the job from running, and the next call then waits for it. 2 cores, 640x360 H.264,
one frame per call, ``gc.collect()`` and then some work between calls; mean ms a call
over 200 steps (median of 3-5 runs) with this rule / always decoding ahead / never: no
other work 0.93 / 1.05 / 0.93; 3 ms of pure Python 1.19 / 1.47 / 1.21; the bench's frame
signatures (numpy) 0.38 / 0.49 / 0.98; ``time.sleep(0.003)`` 0.30 / 0.31 / 1.25."""
_RETRY = 32
"""Steps forward after which decoding ahead held back is tried again."""
_clock = time.perf_counter
"""Seconds, for the time a caller spends between calls and waits for a job (tests replace
it, so that what they prove does not depend on the machine's load)."""


def pictures_held(cc: VideoCodecContext) -> int:
    """About how many pictures `cc` outputs late: what keeping it live costs a run.

    Two for B-frames (x264's and x265's defaults reorder by 2; PyAV tells only whether
    the stream has them), and one fewer than its frame threads (``AUTO`` takes frame
    threads where the codec has them; FFmpeg reports their count once open, but not
    for dav1d, which takes 0 as one per CPU).
    """
    from av.codec.context import ThreadType

    count = cc.thread_count or os.cpu_count() or 1
    frames = count > 1 and ThreadType.FRAME in cc.thread_type
    return (2 if cc.has_b_frames else 0) + (count - 1 if frames else 0)


class Stepping:
    """The decoding state of one container that survives calls, and the rules it follows.

    A handle's runs happen in one thread at a time (the handle's owner), and so does its
    decoding ahead: every call waits for that job first (`begin_call`).
    """

    def __init__(self, index: Index | None = None) -> None:
        self.index = index
        """The index whose decode positions this state counts in (`None`: not yet used)."""
        self.converter: Converter | None = None
        """One reused reformatter for the container's frames (see `converter_for`)."""
        self.demux: Iterator[_Packet] | None = None
        """Packets from where the demuxer stands (`next_dpos`), if that is known."""
        self.next_dpos: int | None = None
        """Decode position of the next packet `demux` returns."""
        self.live = False
        """The decoder was not flushed after its last packet: it holds the pictures decoded
        from `base` on, and may still output some of them."""
        self.base: int | None = None
        """Where the decoding that ended at `next_dpos` started (a keyframe)."""
        self.shown_pts = 0
        """The pts of the last picture the decoder output."""
        self.delivered_pts = 0
        """The latest pts the last run delivered."""
        self.ready: dict[int, Ready] = {}
        """Frames (VideoFrames by decode position) the decoder output while stepping
        forward that are shown after those delivered: for the next steps."""
        self.ahead: Future[None] | None = None
        """Decoding ahead for the next step forward, in a worker thread (see `settle`)."""
        self.ahead_late = 0
        """Decoding-ahead jobs the next call waited for (longer than half their CPU time)
        or cancelled, net of those that were in time."""
        self.ahead_cost = 0.0
        """CPU seconds the last decoding-ahead job took (its worker thread's time)."""
        self.ahead_held_back = 0
        """Steps forward without decoding ahead since it was held back (or last tried)."""
        self.returned_at = 0.0
        """`_clock()` when the last call on this handle returned."""
        self.steps = 0
        """How many calls in a row stepped forward from where the one before stopped."""
        self.skipped_pts = 0
        """The latest pts of a picture the decoder may have skipped (``skip_frame``)."""

    # -- calls ------------------------------------------------------------------------

    def begin_call(self) -> float:
        """Settle the decoding ahead; return the seconds the caller spent since the last call."""
        self.settle()
        return _clock() - self.returned_at

    def end_call(self, idle: float, index: Index, cc: VideoCodecContext, fmt: Output) -> None:
        """After a call that succeeded: decode the next frame ahead if that pays."""
        if (
            self.live
            and self.steps
            and idle >= _IDLE
            and not index.data.pts_may_be_decode_times
            and self._ahead_pays()
        ):
            # Stepping forward, with time between the calls: decode the next frame then.
            self.ahead = executor().submit(self._decode_ahead, index, cc, fmt)
        self.returned_at = _clock()

    def keeps_live(self, index: Index, runs: list[Run], held: int) -> bool:
        """Count a call's step forward; return whether its last run keeps the decoder live.

        A call whose first frames come after the last call's, from the same decoding,
        steps forward. Keeping the decoder live for a next step costs the packets decoded
        past the run until its frames come out (the `held` pictures waiting for B-frame
        reordering or frame threads), against a seek and a decode from the keyframe if
        that step comes. So on a second step forward in a row, or when the run is long
        enough that those packets are a small part of it (`_LEAD_PER_HELD`).
        """
        self.steps = self.steps + 1 if self.follows(index, runs[0]) else 0
        last = runs[-1]
        lead_in = min(int(index.frame_dpos[f]) for f in last.frames) - last.start
        return self.steps >= 2 or lead_in >= _LEAD_PER_HELD * held

    def settle(self) -> None:
        """Wait for the decoding ahead, or cancel it if it has not started; score it.

        A job is late when it had not started, or when waiting for it took more than half
        of what it cost: then decoding inline would have been about as fast.
        """
        job, self.ahead = self.ahead, None
        if job is None:
            return
        late = False
        if not job.done():
            t0 = _clock()
            late = job.cancel()
            if not late:
                job.result()  # it catches its own errors
                late = _clock() - t0 > self.ahead_cost / 2
        self.ahead_late = self.ahead_late + 1 if late else max(self.ahead_late - 1, 0)

    def close(self) -> None:
        """Settle the decoding ahead and drop what refers to the container."""
        self.settle()
        self.demux = self.converter = None  # generators refer back to the handle
        self.ready = {}

    def _ahead_pays(self) -> bool:
        """Whether to decode the next frame ahead for the next step.

        Not while the jobs keep coming late, but again every `_RETRY` steps (the caller's
        work between calls may have changed).
        """
        if self.ahead_late < _LATE:
            return True
        self.ahead_held_back += 1
        if self.ahead_held_back < _RETRY:
            return False
        self.ahead_held_back, self.ahead_late = 0, _LATE - 1  # one more late job holds it back
        return True

    # -- runs -------------------------------------------------------------------------

    def converter_for(self, index: Index) -> Converter:
        """The container's reformatter, made on first use."""
        if self.converter is None:
            self.converter = Converter(
                orientation(index.data.display_matrix, index.data.rotation)[1]
            )
        return self.converter

    def follows(self, index: Index, run: Run) -> bool:
        """Whether `run` goes on forward from where the last run stopped.

        True when the run starts at or after that decoding's start and no later than
        where it stopped, and asks only for frames shown after those delivered: then a
        decoder left live has every reference the run needs.
        """
        if self.base is None or self.next_dpos is None:
            return False
        if not self.base <= run.start <= self.next_dpos:
            return False
        pts = index.frame_pts
        return all(int(pts[f]) > self.delivered_pts for f in run.frames)

    def take_ready(self) -> dict[int, Ready]:
        """Hand over the frames that came out early (a run keeps those it does not take)."""
        ready, self.ready = self.ready, {}
        return ready

    def may_resume(self, first_pts: int) -> bool:
        """Whether a live decoder can still output the frame with `first_pts`.

        Not if it output or skipped a picture at or after it.
        """
        return self.live and first_pts > max(self.shown_pts, self.skipped_pts)

    def go_on(
        self, index: Index, run: Run, resume: bool
    ) -> tuple[_Packet | None, Iterator[_Packet], int, bool] | None:
        """Where `run` starts without a seek; `None`: it needs one.

        Returns the first packet to send, the packets after it, its position, and whether
        the decoder goes on live. Without a seek means forward in a live decoder
        (`resume`), or the previous run ended just before this run's keyframe. The packet
        is `None` when only the frames still inside a live decoder are left (end of the
        stream).
        """
        it, d = self.demux, self.next_dpos
        if it is None or d is None or not (resume or d == run.start):
            return None
        pkt = next(it, None)
        if pkt is None:
            if resume and d == index.num_packets:
                return None, it, d, True  # only the frames in the decoder are left
        elif index.packet_of(pkt.pts, pkt.dts) == d:
            return pkt, it, d, self.live
        return None

    def start_run(self, it: Iterator[_Packet], live: bool, start: int) -> tuple[int | None, int]:
        """Note a run decoding from `it`; return its decoding's start and skipped-pts mark."""
        base, skipped_pts = (self.base, self.skipped_pts) if live else (start, NO_PTS)
        self.demux, self.next_dpos, self.live = it, None, False
        return base, skipped_pts

    def abandon_run(self) -> None:
        """Forget the decoding after a run that failed its keyframe check (flushed)."""
        self.demux = self.next_dpos = self.base = None

    def end_run(
        self,
        *,
        live: bool,
        base: int | None,
        next_dpos: int | None,
        rest: dict[int, av.VideoFrame] | None,
        last_pts: int | None,
        went_on: bool,
        delivered_pts: int,
        skipped_pts: int,
    ) -> None:
        """Note where a run left the decoder.

        Args:
            live: The decoder was not drained and went through its keyframe.
            base: Where its decoding started.
            next_dpos: The position of the next packet `demux` returns, if known.
            rest: Frames output after those delivered, for the next steps.
            last_pts: The pts of the last picture output, if any.
            went_on: The run went on from a live decoder.
            delivered_pts: The latest pts the run delivered.
            skipped_pts: The latest pts of a picture the decoder may have skipped.
        """
        self.live = live
        self.base = base
        if rest:
            self.ready = {dd: (fr, None) for dd, fr in rest.items()}
        self.next_dpos = next_dpos
        if last_pts is not None:
            self.shown_pts = last_pts
        elif not went_on:
            self.shown_pts = NO_PTS
        self.delivered_pts = delivered_pts
        self.skipped_pts = skipped_pts

    def from_ready(
        self,
        index: Index,
        run: Run,
        ready: dict[int, Ready],
        got: dict[int, NDArray[np.uint8]],
        fmt: Output,
    ) -> bool:
        """Take the run's frames from those decoded ahead; return whether all were."""
        convert = self.converter_for(index)
        for f in run.frames:
            r = ready.get(int(index.frame_dpos[f]))
            if r is not None and f not in got:
                frame, done = r
                if done is not None and done[0] == fmt:
                    got[f] = done[1]  # converted ahead; copied to a destination at the end
                else:
                    got[f] = convert(frame, fmt, destination(got, f))
        if not all(f in got for f in run.frames):
            return False
        last = max(int(index.frame_pts[f]) for f in run.frames)
        self.ready = {dd: r for dd, r in ready.items() if (r[0].pts or NO_PTS) > last}
        self.delivered_pts = last
        return True

    # -- decoding ahead ---------------------------------------------------------------

    def _decode_ahead(self, index: Index, cc: VideoCodecContext, fmt: Output) -> None:
        """Decode a live decoder's packets until a frame comes out, into `ready`.

        The frame is converted to `fmt`, what the last call asked for. Runs in a worker
        thread while the caller uses the frames of its last step; the next call waits for
        it first (`settle`). FFmpeg decodes without the GIL. An error leaves the next call
        to seek.
        """
        t0 = time.thread_time()
        try:
            for _ in range(READ_AHEAD):
                pkt = next(self.demux, None) if self.demux is not None else None
                if pkt is None:  # the end of the stream: drain the decoder
                    frames = cc.decode(None)
                    cc.flush_buffers()
                    self.live, self.next_dpos = False, index.num_packets
                    self._keep(index, frames, fmt)
                    return
                dd = index.packet_of(pkt.pts, pkt.dts)
                self.next_dpos = dd + 1 if dd is not None else (self.next_dpos or 0) + 1
                frames = cc.decode(pkt)
                _counters.add(frames_decoded=1)
                if self._keep(index, frames, fmt):
                    return
        except Exception:
            self.live, self.ready, self.demux, self.next_dpos = False, {}, None, None
        finally:
            self.ahead_cost = time.thread_time() - t0

    def _keep(self, index: Index, frames: list[av.VideoFrame], fmt: Output) -> bool:
        """Add the frames output to `ready`; return whether there were any."""
        convert = self.converter
        assert convert is not None
        for frame in frames:
            p = frame.pts
            dd = index.dpos_of_pts(p) if p is not None else None
            if p is not None and dd is not None:
                self.ready[dd] = (frame, (fmt, convert(frame, fmt)))
                self.shown_pts = p
        return bool(frames)
