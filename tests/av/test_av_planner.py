"""The planner does the least work: counters against the minimal plan, seeks, keyframe checks."""

from __future__ import annotations

import random
import threading
from concurrent.futures import Future
from typing import Any

import av
import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mediaref_av
from mediaref import MediaRef, open_source
from mediaref_av import _bitstream, _index, _index_cache, _plan, _pool, _runs, _stepping
from tests.media import Clip, ClipFactory


@pytest.fixture
def bframes(clip_factory: ClipFactory) -> Clip:
    return clip_factory("h264_bframes_mp4")


def alone() -> None:
    """Measure the next request alone: zero counters, and no decoder left live by earlier
    calls to go on from (a request that steps forward may do less work than its plan)."""
    _pool.close_all()
    mediaref_av.reset_counters()


IDLE = _stepping._IDLE


@pytest.fixture(autouse=True)
def fresh_counters(monkeypatch: pytest.MonkeyPatch) -> None:
    # Counters are exact only without decoding ahead, which starts when a caller spends
    # time between calls: these tests turn it on where they test it.
    monkeypatch.setattr(_stepping, "_IDLE", float("inf"))
    alone()


def work() -> mediaref_av.Counters:
    return mediaref_av.counters()


def decode(clip: Clip, times: list[int], **options: object) -> list[np.ndarray]:
    with mediaref_av.open(clip.uri, **options) as video:  # type: ignore[arg-type]
        return video.frames_played_at(times)


def check_plan_work(clip: Clip, times: list[int], minimal: int) -> None:
    """A request alone sends its plan's packets to the decoder, and no more unless a run's
    frame is far from its keyframe: then it may decode a few packets past the run (the
    frames B-frame reordering or frame threads hold back, at least one where there are
    any), to keep the decoder live for a next step forward instead of draining it."""
    c = work()
    with mediaref_av.open(clip.uri) as video:
        idx = video.index
        runs = _plan.plan(idx, video.frame_indices(times))
    far = any(
        min(int(idx.frame_dpos[f]) for f in r.frames) - r.start >= _stepping._LEAD_PER_HELD
        for r in runs
    )
    extra = c.frames_decoded + c.frames_skipped - minimal
    assert 0 <= extra <= (8 if far else 0), (extra, far)


def check(clip: Clip, times: list[int], frames: list[np.ndarray]) -> None:
    for t, f in zip(times, frames, strict=True):
        np.testing.assert_array_equal(f, clip.frame_on_screen_at(t), err_msg=str(t))


@pytest.mark.parametrize(
    "kind", ["h264_bframes_mp4", "h264_open_gop_mkv", "hevc_mkv", "mkv_sparse_keyframes"]
)
def test_consecutive_frames_decode_the_minimal_plan(clip_factory: ClipFactory, kind: str) -> None:
    clip = clip_factory(kind)
    starts = clip.starts_ns
    for first in (0, 5, 13, len(starts) - 20):
        times = starts[first : first + 16]
        minimal = mediaref_av.minimal_frames(clip.uri, times)
        alone()
        check(clip, times, decode(clip, times))
        check_plan_work(clip, times, minimal)
        assert work().frames_converted == len(times)


@pytest.mark.parametrize(
    "kind", ["h264_bframes_mp4", "h264_open_gop_mp4", "hevc_mkv", "vp9_webm", "vfr_mp4"]
)
def test_random_timestamps_decode_the_minimal_plan(clip_factory: ClipFactory, kind: str) -> None:
    clip = clip_factory(kind)
    rnd = random.Random(11)
    for _ in range(5):
        times = sorted(rnd.sample(range(clip.begin_ns, clip.end_ns), 8), key=lambda _: rnd.random())
        minimal = mediaref_av.minimal_frames(clip.uri, times)
        alone()
        check(clip, times, decode(clip, times))
        check_plan_work(clip, times, minimal)
        unique = {clip.index_at(t) for t in times}
        assert work().frames_converted == len(unique)


def test_minimal_plan_is_keyframe_to_frame_for_one_frame(bframes: Clip) -> None:
    # Closed GOPs of 12 frames with B-frames: frame 17 needs its GOP from frame 12 in
    # decode order up to frame 17's packet.
    with mediaref_av.open(bframes.uri) as video:
        idx = video.index
    f = 17
    dpos = int(idx.frame_dpos[f])
    assert _plan.start_of(idx, f) == 12
    assert mediaref_av.minimal_frames(bframes.uri, [bframes.starts_ns[f]]) == dpos - 12 + 1


def test_duplicates_decode_and_convert_once(bframes: Clip) -> None:
    t = bframes.starts_ns[30]
    times = [t, t + 1, t, t]
    frames = decode(bframes, times)
    check(bframes, times, frames)
    c = work()
    assert c.frames_converted == 1
    assert c.frames_decoded + c.frames_skipped == mediaref_av.minimal_frames(bframes.uri, [t])
    frames[0][0, 0, 0] ^= 0xFF  # each answer is its own array
    assert frames[1][0, 0, 0] != frames[0][0, 0, 0]


def test_adjacent_gops_are_decoded_in_one_run_without_a_second_seek(bframes: Clip) -> None:
    s = bframes.starts_ns
    times = [s[11], s[12], s[23], s[24]]  # end of GOP 0, GOP 1 entirely, start of GOP 2
    check(bframes, times, decode(bframes, times, workers=1))
    assert work().seeks == 1


def test_parallel_workers_split_the_runs_without_decoding_more(bframes: Clip) -> None:
    times = bframes.starts_ns[3:45]
    one = decode(bframes, times, workers=1)
    single = work()
    alone()
    two = decode(bframes, times, workers=2)
    shared = work()
    # The two halves run in parallel, each from its keyframe; on a loaded machine the second
    # may start only after the first is done, take its container and go on without a seek.
    assert (shared.seeks, shared.container_hits) in {(2, 0), (1, 1)}, shared
    assert shared.frames_decoded + shared.frames_skipped == (
        single.frames_decoded + single.frames_skipped
    )
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    check(bframes, times, two)


@pytest.mark.parametrize("last", [24, 26, 30, 34, 40, 46])
def test_the_parallel_split_balances_the_packets_of_its_parts(bframes: Clip, last: int) -> None:
    # Whole GOPs of 12 then a part of the next: the best cut puts the middle GOP with the
    # smaller side (a cut after the first block that holds half the packets did not).
    with mediaref_av.open(bframes.uri) as video:
        idx = video.index
        frames = video.frame_indices(bframes.starts_ns[0:last])
    blocks = [run.packets for run in _plan.groups(idx, frames)]
    parts = _plan.split(idx, frames, 2, 1)
    sizes = [_plan.minimal_frame_count(idx, p) for p in parts]
    assert sum(sizes) == sum(blocks)
    best = min(max(sum(blocks[:k]), sum(blocks[k:])) for k in range(1, len(blocks)))
    assert max(sizes) == best, (blocks, sizes)


def test_gops_far_apart_take_one_seek_each_and_nothing_in_between(bframes: Clip) -> None:
    s = bframes.starts_ns
    times = [s[1], s[40]]
    with mediaref_av.open(bframes.uri) as video:
        runs = _plan.plan(video.index, video.frame_indices(times))
    assert len(runs) == 2
    alone()
    check(bframes, times, decode(bframes, times))
    c = work()
    assert c.seeks == 2
    assert c.frames_decoded + c.frames_skipped == sum(r.packets for r in runs)


def test_open_gop_leading_frames_start_from_the_previous_gop(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_open_gop_mkv")
    with mediaref_av.open(clip.uri) as video:
        idx = video.index
        leading = [
            f
            for f in range(idx.num_frames)
            if (k := _plan.start_of(idx, f)) and idx.frame_pts[f] < (idx.pts_of(k) or 0)
        ]
        # Frames shown before the keyframe that precedes them in decode order.
        shown_early = [
            f
            for f in range(idx.num_frames)
            if any(
                k <= idx.frame_dpos[f] and idx.frame_pts[f] < (idx.pts_of(k) or 0)
                for k in idx.key_dpos
            )
        ]
        assert shown_early, "the open-GOP clip should have leading B-frames"
        assert not leading
        for f in shown_early:
            np.testing.assert_array_equal(video.frames_at([f])[0], clip.frames[f])


@pytest.mark.parametrize("kind", ["h264_bframes_mp4", "hevc_mkv", "mpeg4_mp4", "mpeg2_mpg"])
def test_skipping_nonreference_frames_changes_work_not_pixels(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    n = len(clip.pts)
    times = [clip.starts_ns[i] for i in (n // 4, n // 2 - 1, 3 * n // 4, n - 3)]
    with_skip = decode(clip, times)
    assert work().frames_skipped > 0
    mediaref_av.reset_counters()
    without = decode(clip, times, skip_nonref=False)
    assert work().frames_skipped == 0
    for a, b in zip(with_skip, without, strict=True):
        np.testing.assert_array_equal(a, b)
    check(clip, times, with_skip)


@pytest.mark.parametrize("kind", ["av1_mkv", "vp9_webm", "mjpeg_full_range_mkv"])
def test_codecs_without_a_safe_nonref_skip_decode_everything(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    with mediaref_av.open(clip.uri) as video:
        assert not video.index.data.skip_nonref_safe
    times = clip.starts_ns[3::5]
    check(clip, times, decode(clip, times))
    assert work().frames_skipped == 0


def test_wrong_keyframe_flags_are_caught_by_the_decoder(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    mediaref_av.clear_caches()
    source = open_source(clip.uri)
    with mediaref_av.open(clip.uri) as video:
        data = video.index.to_data()
    forged = msgspec.structs.replace(data, key=[True] * len(data.key))
    mediaref_av.clear_caches()
    _index_cache.index_cache.put((_index_cache.content_key(source), None), _index.Index(forged))
    times = clip.probe_times()
    random.Random(5).shuffle(times)
    try:
        for t in times[:30]:
            with mediaref_av.open(clip.uri) as video:
                check(clip, [t], video.frames_played_at([t]))
        assert work().bad_keyframes > 0
    finally:
        mediaref_av.clear_caches()


@pytest.mark.parametrize(
    ("kind", "real_keys"), [("hevc_every_packet_key_mkv", 3), ("h264_every_packet_key_nut", 4)]
)
def test_keyframe_flag_on_every_packet_is_not_believed(
    clip_factory: ClipFactory, kind: str, real_keys: int
) -> None:
    clip = clip_factory(kind)
    with av.open(clip.uri) as container:
        assert all(p.is_keyframe for p in container.demux(video=0) if p.size)
    with mediaref_av.open(clip.uri) as video:
        assert video.metadata.key_frames == real_keys  # what the bitstream says
    times = clip.probe_times()
    random.Random(2).shuffle(times)
    for t in times[:20]:
        check(clip, [t], decode(clip, [t]))
    assert work().bad_keyframes == 0


@pytest.mark.parametrize(
    "kind", ["h264_bframes_mp4", "h264_open_gop_mkv", "h264_mpegts", "hevc_mkv", "hevc_open_gop_ts"]
)
def test_bitstream_key_check_agrees_with_honest_flags(clip_factory: ClipFactory, kind: str) -> None:
    clip = clip_factory(kind)
    with av.open(clip.uri) as container:
        stream = container.streams.video[0]
        extra = stream.codec_context.extradata or b""
        packets = [p for p in container.demux(stream) if p.size]
    if stream.codec_context.name == "h264":
        size = (extra[4] & 3) + 1 if extra[:1] == b"\x01" else 0
        verdicts = [_bitstream.h264_key(bytes(p), size) for p in packets]
    else:
        size = (extra[21] & 3) + 1 if extra[:1] == b"\x01" else 0
        verdicts = [_bitstream.hevc_irap(bytes(p), size) for p in packets]
    assert verdicts == [bool(p.is_keyframe) for p in packets]


def test_consecutive_calls_reuse_the_container_and_the_index(bframes: Clip) -> None:
    mediaref_av.clear_caches()
    for t in bframes.starts_ns[:10]:
        check(bframes, [t], decode(bframes, [t]))
    c = work()
    assert (c.containers_opened, c.index_builds) == (1, 1)
    assert c.index_hits == 9 and c.container_hits == 9


@pytest.mark.parametrize(("kind", "extra_seeks"), [("h264_bframes_mp4", 0), ("h264_mpegts", 1)])
def test_seeks_land_on_the_keyframe_and_read_nothing_before_it(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch, kind: str, extra_seeks: int
) -> None:
    # MP4 seeks by pts: a keyframe's earlier dts (B-frames) landed a whole GOP early.
    # MPEG-TS seeks by dts: its pts went past the keyframe once, then dts comes first.
    clip = clip_factory(kind)
    mediaref_av.clear_caches()
    read = [0]
    is_flush = _pool._is_flush

    def counting(pkt: object) -> bool:
        read[0] += 1
        return is_flush(pkt)  # type: ignore[arg-type]

    monkeypatch.setattr(_pool, "_is_flush", counting)
    with mediaref_av.open(clip.uri, workers=1) as video:
        times = clip.starts_ns[::3][::-1]  # backwards: every call seeks
        for t in times:
            check(clip, [t], video.frames_played_at([t]))
    c = work()
    assert c.seeks == len(times) + extra_seeks
    overshoot = 1 if extra_seeks else 0  # the packet after the keyframe, read once
    assert read[0] == c.frames_decoded + c.frames_skipped + overshoot


class _Unseekable:
    """A container whose seeks all fail (some demuxers cannot seek), otherwise the real one."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def seek(self, *args: object, **kwargs: object) -> None:
        raise av.FFmpegError(1, "cannot seek")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)


def test_a_container_that_cannot_seek_is_opened_again_at_its_first_packet(bframes: Clip) -> None:
    # The last resort of a seek: a fresh container, read from its first packet.
    s = bframes.starts_ns
    with mediaref_av.open(bframes.uri, workers=1) as video:
        check(bframes, [s[40]], video.frames_played_at([s[40]]))
        h = video._handle
        assert h is not None
        h.container = _Unseekable(h.container)  # type: ignore[assignment]
        opened_before = work().containers_opened
        check(bframes, [s[5], s[20]], video.frames_played_at([s[5], s[20]]))
        assert not isinstance(h.container, _Unseekable)
    assert work().containers_opened == opened_before + 1


def test_a_handle_reads_every_run_with_one_demux_generator(bframes: Clip) -> None:
    # PyAV 18.1 leaks native memory for each demux generator dropped before its end
    # (~0.1-0.3 MB per 1,000 frames of random access): seeks must not start new ones.
    mediaref_av.clear_caches()
    readers = []  # kept alive, so that no two can share an id
    with mediaref_av.open(bframes.uri, workers=1) as video:
        for t in bframes.starts_ns[::-7]:  # backwards: every call seeks
            check(bframes, [t], video.frames_played_at([t]))
            assert video._handle is not None
            readers.append(video._handle.reader)
    assert work().seeks >= 5
    assert readers[0] is not None and all(r is readers[0] for r in readers)


def test_a_handle_closes_its_demux_generator_before_its_container(bframes: Clip) -> None:
    # Finalised after its container closed, PyAV 18.1's generator leaks its packet:
    # ~0.8 KB per container opened, +22 MB held over a soak of 2,000 files.
    from mediaref_av import _pool

    events: list[str] = []

    class Spy:
        def __init__(self, wrapped: Any, name: str) -> None:
            self.wrapped, self.name = wrapped, name

        def close(self) -> None:
            events.append(self.name)
            self.wrapped.close()

    mediaref_av.clear_caches()
    check(bframes, bframes.starts_ns[:1], decode(bframes, bframes.starts_ns[:1], workers=1))
    (handle,) = _pool._idle.values()
    reader = handle.reader
    assert reader is not None
    handle.reader, handle.container = Spy(reader, "reader"), Spy(handle.container, "container")
    mediaref_av.clear_caches()
    assert events == ["reader", "container"]
    with pytest.raises(StopIteration):
        next(reader)


def test_a_call_that_starts_where_the_last_one_stopped_does_not_seek(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("vfr_mkv")  # keyint 8, no B-frames
    s = clip.starts_ns
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()
    check(clip, s[0:8], decode(clip, s[0:8], workers=1))
    check(clip, s[8:11], decode(clip, s[8:11], workers=1))
    check(clip, s[16:18], decode(clip, s[16:18], workers=1))
    assert work().seeks == 2  # the first call and the jump over frames 11-15


@pytest.mark.parametrize(
    "kind", ["h264_bframes_mp4", "h264_open_gop_mkv", "hevc_mkv", "h264_slices_mp4", "vfr_mkv"]
)
def test_stepping_forward_one_frame_per_call_decodes_each_packet_once(
    clip_factory: ClipFactory, kind: str
) -> None:
    # A dataset read in order asks for one frame per call. After the first steps, each
    # call goes on from the live decoder: no seek back to the keyframe, no packet twice
    # (without this, every call decoded from its keyframe: quadratic in the GOP length).
    clip = clip_factory(kind)
    s = clip.starts_ns
    with mediaref_av.open(clip.uri) as video:
        packets = video.index.num_packets
    for t in s[:3]:
        check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])
    mediaref_av.reset_counters()
    for t in s[3:]:
        check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])
    c = work()
    assert c.seeks == 0
    assert c.frames_decoded + c.frames_skipped <= packets - 3  # the rest, once at most
    assert c.frames_converted == len(s) - 3


class FakeClock:
    """The clock `_stepping` reads: it moves only when the test says the caller worked."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Jobs:
    """`_stepping.executor()` replaced: records the decoding-ahead jobs it is given.

    ``"run"``: jobs run in a worker thread, and `finish()` waits for them (a caller whose
    work outlasts them). ``"never"``: jobs never start (a caller holding the GIL), so the
    next call cancels them. ``"slow"``: a job waits until the next call waits for it, and
    the clock then moves a second (the call waited far longer than the job costs).
    """

    def __init__(self, how: str, clock: FakeClock) -> None:
        self.how, self.clock = how, clock
        self.submitted: list[Future[None]] = []
        self._pool = _stepping.executor()

    def __call__(self) -> Jobs:
        return self

    def submit(self, fn: Any, *args: Any) -> Future[None]:
        if self.how == "run":
            fut = self._pool.submit(fn, *args)
        elif self.how == "never":
            fut = Future()
        else:
            fut = _Waited()
            self._pool.submit(self._slowly, fut, fn, *args)
        self.submitted.append(fut)
        return fut

    def _slowly(self, fut: _Waited, fn: Any, *args: Any) -> None:
        if not fut.set_running_or_notify_cancel():
            return
        fut.waited.wait(timeout=60)  # a hang guard only
        self.clock.now += 1.0
        fn(*args)
        fut.set_result(None)

    def finish(self) -> None:
        for fut in self.submitted:
            fut.result(timeout=60)  # a hang guard only


class _Waited(Future):  # type: ignore[type-arg]
    """A job's future that lets the job go on once someone waits for its result."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = threading.Event()

    def result(self, timeout: float | None = None) -> None:
        self.waited.set()
        super().result(timeout)


def test_time_between_steps_is_used_to_decode_the_next_frame(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A caller that works on each frame before asking for the next one: the next frame
    # is decoded and converted meanwhile, in a worker thread, and the call only takes it.
    # The clock is the test's and the test waits for each job, as a caller whose work
    # outlasts the job would: the outcome does not depend on the machine's load.
    monkeypatch.setattr(_stepping, "_IDLE", IDLE)
    clock = FakeClock()
    jobs = Jobs("run", clock)
    monkeypatch.setattr(_stepping, "_clock", clock)
    monkeypatch.setattr(_stepping, "executor", jobs)
    clip = clip_factory("mkv_sparse_keyframes")
    s = clip.starts_ns
    with mediaref_av.open(clip.uri) as video:
        through = int(video.index.frame_dpos[:71].max()) + 1  # packets up to frame 70
    for t in s[40:70]:  # one keyframe, 40+ packets back: the first call keeps it live
        check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])
        clock.now += 3 * IDLE  # the caller works on the frame...
        jobs.finish()  # ...for longer than the job takes
    c = work()
    assert len(jobs.submitted) == 29  # every step after the first
    assert c.seeks == 1
    # Every packet once, up to the frame after the last one asked for (converted ahead).
    assert c.frames_decoded + c.frames_skipped <= through + 4
    assert c.frames_converted == 31

    # The same steps in a tight loop (the clock does not move): nothing is decoded ahead.
    alone()
    jobs.submitted.clear()
    for t in s[40:70]:
        check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])
    assert work().frames_converted == 30
    assert jobs.submitted == []


@pytest.mark.parametrize("retry", [32, 5], ids=["held-back", "tried-again"])
@pytest.mark.parametrize("how", ["never", "slow"], ids=["not-started", "waited-for"])
def test_decoding_ahead_stops_while_its_jobs_come_late(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch, retry: int, how: str
) -> None:
    # A caller that works in Python between calls holds the GIL, so the job cannot run
    # meanwhile and the next call finds it not started (cancels it), or waits for it
    # longer than it costs. After `_LATE` late jobs the steps decode inline, and every
    # `_RETRY` steps one job is tried. Both kinds of lateness are made by the test (a
    # job that never starts; a clock that moves while the call waits), not by load.
    monkeypatch.setattr(_stepping, "_IDLE", IDLE)
    monkeypatch.setattr(_stepping, "_RETRY", retry)
    clock = FakeClock()
    jobs = Jobs(how, clock)
    monkeypatch.setattr(_stepping, "_clock", clock)
    monkeypatch.setattr(_stepping, "executor", jobs)
    clip = clip_factory("mkv_sparse_keyframes")
    steps = clip.starts_ns[40:70]
    for t in steps:
        check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])
        clock.now += 3 * IDLE
    _pool.close_all()  # settles the last job (a "slow" one waits for that)
    # Steps 2..30 may decode ahead (the first one makes the decoder live): 29 chances.
    chances, late = len(steps) - 1, _stepping._LATE
    assert len(jobs.submitted) == late + (0 if retry == 32 else (chances - late) // retry)


def test_a_failure_while_decoding_ahead_leaves_the_next_call_to_seek(
    bframes: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stepping, "_IDLE", 0.0)
    s = bframes.starts_ns
    with mediaref_av.open(bframes.uri, workers=1) as video:

        def step(t: int) -> None:
            check(bframes, [t], video.frames_played_at([t]))
            handle = video._handle
            job = handle.stepping.ahead if handle is not None else None
            if job is not None:  # a caller that works until the job is done
                job.result()

        for t in s[20:24]:
            step(t)

        def broken(*args: object) -> bool:
            raise RuntimeError("decoder broke")

        monkeypatch.setattr(_stepping.Stepping, "_keep", broken)
        step(s[24])  # its job fails
        seeks = work().seeks
        monkeypatch.undo()
        check(bframes, [s[25]], video.frames_played_at([s[25]]))
        assert work().seeks == seeks + 1


def test_closing_while_decoding_ahead_waits_for_it(
    bframes: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stepping, "_IDLE", 0.0)
    for t in bframes.starts_ns[:10]:
        check(bframes, [t], [MediaRef(bframes.uri, t).to_ndarray()])
        mediaref_av.clear_caches()  # closes the container its job may still be using


def test_stepping_without_reordering_never_decodes_ahead(clip_factory: ClipFactory) -> None:
    # No B-frames and no frame threads: every frame comes out with its packet, so the
    # decoder stays live from the first call and each call decodes exactly its packet.
    clip = clip_factory("vfr_mkv")
    s = clip.starts_ns
    with mediaref_av.open(clip.uri, threads=1) as video:
        for f, t in enumerate(s):
            check(clip, [t], video.frames_played_at([t]))
            assert work().frames_decoded == f + 1
    assert work().seeks == 1


def test_a_first_step_from_a_far_keyframe_does_not_seek_again(
    clip_factory: ClipFactory,
) -> None:
    # One keyframe, B-frames: frame 60 is decoded from packet 0. Its call keeps the
    # decoder live (a few packets past frame 60), so the next frames go on from there.
    clip = clip_factory("mkv_sparse_keyframes")
    s = clip.starts_ns
    minimal = mediaref_av.minimal_frames(clip.uri, [s[60]])
    alone()
    check(clip, [s[60]], [MediaRef(clip.uri, s[60]).to_ndarray()])
    first = work().frames_decoded + work().frames_skipped
    assert minimal < first <= minimal + 4
    for t in s[61:70]:
        check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])
    c = work()
    assert c.seeks == 1
    assert c.frames_decoded + c.frames_skipped <= 70 + 4


def test_a_live_decoder_keeps_only_frames_shown_after_the_last_step(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Holding the 60 frames of the lead-in too, until the run ended, pinned their decoder
    # buffers (peak RSS of 640x360 random access with GOP 250 went from 98 to 189 MB).
    clip = clip_factory("mkv_sparse_keyframes")
    s = clip.starts_ns
    held: list[int] = []
    take = _runs._Output.take

    def counting(self: _runs._Output, frames: list[av.VideoFrame]) -> None:
        take(self, frames)
        held.append(len(self.rest or {}))

    monkeypatch.setattr(_runs._Output, "take", counting)
    with mediaref_av.open(clip.uri, workers=1) as video:
        check(clip, [s[60]], video.frames_played_at([s[60]]))
        h = video._handle
        assert h is not None and h.stepping.live
        shown = sorted(video.index.frame_pts[f] for f in range(60, 75))
        assert len(h.stepping.ready) <= 4
        assert all(r[0].pts in shown[1:] for r in h.stepping.ready.values())
    assert len(held) > 60 and max(held) <= 4


def test_random_single_calls_decode_exactly_their_plans(bframes: Clip) -> None:
    # Going on from a live decoder is never more work than the plan; reading past a run
    # to keep the decoder live is done after two steps forward in a row, or when the
    # packets read past it are a small part of it (not with B-frames and frame threads
    # and a keyframe every 12 pictures).
    rnd = random.Random(5)
    times = [rnd.choice(bframes.starts_ns) for _ in range(30)]
    minimal = [mediaref_av.minimal_frames(bframes.uri, [t]) for t in times]
    alone()
    for t in times:
        check(bframes, [t], [MediaRef(bframes.uri, t).to_ndarray()])
    c = work()
    assert c.frames_decoded + c.frames_skipped <= sum(minimal)


def test_a_frame_the_live_decoder_no_longer_holds_is_decoded_again(bframes: Clip) -> None:
    # The safety net: if going on from a live decoder misses a frame (here by faking
    # that frame 10 was never shown), the request is planned again from its keyframe.
    s = bframes.starts_ns
    with mediaref_av.open(bframes.uri, workers=1) as video:
        for t in s[10:16]:
            check(bframes, [t], video.frames_played_at([t]))
        h = video._handle
        assert h is not None and h.stepping.live
        h.stepping.delivered_pts = h.stepping.shown_pts = -1
        alone_seeks = work().seeks
        check(bframes, [s[12]], video.frames_played_at([s[12]]))
    assert work().seeks == alone_seeks + 1


@st.composite
def _streams(draw: st.DrawFn) -> tuple[_index.Index, list[int]]:
    """A stream of closed GOPs without B-frames, and some of its frames."""
    gops = draw(st.lists(st.integers(1, 30), min_size=1, max_size=12))
    key = [k == 0 for g in gops for k in range(g)]
    n = len(key)
    data = _index.IndexData(
        stream_index=0,
        time_base=(1, 20),
        codec="h264",
        width=64,
        height=64,
        pixel_format="yuv420p",
        rotation=0,
        pts=list(range(n)),
        dts=list(range(n)),
        key=key,
        duration=[1] * n,
        discard=[False] * n,
        default_duration=(1, 20),
    )
    frames = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=40))
    return _index.Index(data), frames


@settings(max_examples=300, deadline=None)
@given(_streams())
def test_the_parallel_split_never_decodes_more_and_is_balanced(
    stream: tuple[_index.Index, list[int]],
) -> None:
    idx, frames = stream
    parts = _plan.split(idx, frames, 2, 1)
    assert set().union(*parts) == set(frames)
    assert sum(len(p) for p in parts) == len(set(frames))  # disjoint
    sizes = [_plan.minimal_frame_count(idx, p) for p in parts]
    assert sum(sizes) == _plan.minimal_frame_count(idx, frames)  # no packet twice
    blocks = [run.packets for run in _plan.groups(idx, frames)]
    best = min(
        (max(sum(blocks[:k]), sum(blocks[k:])) for k in range(1, len(blocks))),
        default=sum(blocks),
    )
    assert max(sizes) == best
