"""Codec threading chosen per request shape, codec and busy cores; frames exact under each."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from mediaref_av import _decoder, _stepping, _threads
from mediaref_av._threads import ONE_THREAD, CpuLoad, request_threading, short_threading
from tests.media import ClipFactory, need_encoder

AUTO = ("AUTO", 0)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()
    # The rules below are the same on any machine: pretend it has 2 CPUs.
    monkeypatch.setattr(_decoder, "cpus", lambda: 2)
    # Each request on a container of its own threading from the first on (the lending of
    # a file's container to its first one-thread requests has its own test).
    monkeypatch.setattr(_decoder, "_OPEN_FOR_SHORT", 0)


@pytest.mark.parametrize(
    ("parallel", "longest_run", "slices", "others", "cpus", "expected"),
    [
        (AUTO, 1, 1, 0, 2, ONE_THREAD),
        (AUTO, 2, 1, 0, 2, ONE_THREAD),
        (AUTO, 3, 1, 0, 2, AUTO),
        (AUTO, 250, 1, 0, 2, AUTO),
        (("SLICE", 2), 1, 2, 0, 2, ("SLICE", 2)),
        (("SLICE", 4), 60, 4, 0, 8, ("SLICE", 4)),
        (AUTO, 250, 1, 1, 2, ONE_THREAD),
        (AUTO, 250, 1, 1, 4, AUTO),
        (AUTO, 250, 1, 3, 4, ONE_THREAD),
        (("SLICE", 2), 60, 2, 1, 2, ONE_THREAD),
        (ONE_THREAD, 250, 1, 0, 2, ONE_THREAD),
        (AUTO, 250, 1, 0, 1, ONE_THREAD),
    ],
    ids=[
        "one-packet run (a keyframe): one thread",
        "two-packet run: one thread",
        "three-packet run: frame threads",
        "a GOP: frame threads",
        "short run of sliced pictures: slice threads",
        "slice threads",
        "the other CPU busy with a decoder: one thread",
        "a CPU left: frame threads",
        "every CPU busy: one thread",
        "sliced, every CPU busy: one thread",
        "threads=1 stays one thread",
        "one CPU: one thread",
    ],
)
def test_request_threading_per_shape_and_busy_cores(
    parallel: tuple[str, int],
    longest_run: int,
    slices: int,
    others: int,
    cpus: int,
    expected: tuple[str, int],
) -> None:
    got = request_threading(
        parallel,
        longest_run=longest_run,
        slices=slices,
        others=others,
        cpus=cpus,
    )
    assert got == expected


SLICE2 = ("SLICE", 2)


@pytest.mark.parametrize(
    ("parallel", "short", "longest_run", "others", "busy", "cpus", "expected"),
    [
        (AUTO, ONE_THREAD, 250, 0, 1, 2, ONE_THREAD),
        (AUTO, ONE_THREAD, 250, 0, 2, 2, ONE_THREAD),
        (AUTO, ONE_THREAD, 250, 0, 0, 2, AUTO),
        (AUTO, ONE_THREAD, 250, 0, 2, 8, ("AUTO", 6)),
        (AUTO, ONE_THREAD, 250, 2, 2, 8, ("AUTO", 4)),
        (("AUTO", 2), ONE_THREAD, 250, 0, 2, 8, ("AUTO", 2)),
        (("SLICE", 4), ONE_THREAD, 60, 0, 1, 4, ("SLICE", 3)),
        (AUTO, ONE_THREAD, 2, 0, 0, 8, ONE_THREAD),
        (AUTO, SLICE2, 1, 0, 0, 2, SLICE2),
        (AUTO, SLICE2, 250, 0, 0, 2, AUTO),
        (AUTO, SLICE2, 1, 1, 0, 2, ONE_THREAD),
        (AUTO, SLICE2, 1, 0, 1, 2, ONE_THREAD),
        (AUTO, SLICE2, 1, 0, 5, 8, SLICE2),
        (AUTO, ("SLICE", 4), 1, 0, 5, 8, ("SLICE", 3)),
    ],
    ids=[
        "another process on the other CPU: one thread",
        "both CPUs busy: one thread",
        "no other load: FFmpeg's choice",
        "two of 8 CPUs busy: a thread per CPU left",
        "two busy, two of this process's decoders: the 4 left",
        "a thread count under what is left stays",
        "slice threads capped too",
        "a short run stays on one thread",
        "slice-threaded short runs: a short run gets them",
        "slice-threaded short runs: a long run gets the long runs' threading",
        "slice-threaded short runs: the other CPU decoding for this process",
        "slice-threaded short runs: the other CPU busy elsewhere",
        "slice-threaded short runs: CPUs left",
        "slice-threaded short runs: capped at the CPUs left",
    ],
)
def test_request_threading_leaves_the_cpus_other_processes_use(
    parallel: tuple[str, int],
    short: tuple[str, int],
    longest_run: int,
    others: int,
    busy: int,
    cpus: int,
    expected: tuple[str, int],
) -> None:
    got = request_threading(
        parallel,
        longest_run=longest_run,
        slices=1,
        others=others,
        cpus=cpus,
        busy=busy,
        short=short,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("threads", "codec", "width", "wavefront", "expected"),
    [
        (None, "hevc", 640, True, ("SLICE", 2)),
        (None, "hevc", 640, False, ONE_THREAD),
        (3, "hevc", 640, True, ("SLICE", 3)),
        (1, "hevc", 640, True, ONE_THREAD),
        (None, "vp9", 448, False, ONE_THREAD),
        (None, "vp9", 449, False, ("SLICE", 2)),
        (None, "h264", 1920, False, ONE_THREAD),
        (None, "libdav1d", 1920, False, ONE_THREAD),
    ],
    ids=[
        "HEVC in wavefront rows: slice threads",
        "HEVC without: one thread",
        "threads caps them",
        "threads=1: one thread",
        "VP9 too narrow for two tile columns: one thread",
        "VP9 wide enough: slice threads",
        "single-slice H.264: one thread",
        "AV1: one thread",
    ],
)
def test_short_runs_get_slice_threads_where_a_picture_decodes_in_parallel_parts(
    threads: int | None,
    codec: str,
    width: int,
    wavefront: bool,
    expected: tuple[str, int],
) -> None:
    assert short_threading(threads, codec, width, wavefront, cpus=2) == expected


class FakeProc:
    """``/proc`` files as a test sets them, and a clock it moves."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cpus = {0: [0] * 8, 1: [0] * 8}  # user nice system idle iowait irq softirq steal
        self.own = 0
        self.runnable = 1
        self.reads: list[str] = []

    def tick(self, seconds: float, busy: dict[int, int], own: int = 0) -> None:
        """`seconds` pass (100 ticks each); CPU `c` is busy `busy[c]` ticks of them."""
        self.now += seconds
        for c, t in self.cpus.items():
            b = busy.get(c, 0)
            t[0] += b
            t[3] += int(seconds * 100) - b
        self.own += own

    def read(self, path: str) -> str:
        self.reads.append(path)
        if path == "/proc/stat":
            total = [sum(t[i] for t in self.cpus.values()) for i in range(8)]
            lines = ["cpu  " + " ".join(map(str, [*total, 0, 0]))]
            lines += [f"cpu{c} " + " ".join(map(str, [*t, 0, 0])) for c, t in self.cpus.items()]
            return "\n".join([*lines, "intr 1 2 3", "ctxt 4"]) + "\n"
        if path == "/proc/self/stat":
            # comm may hold spaces and parentheses: fields count from the last ")"
            return f"42 (a (b) c) R 1 42 42 0 -1 4194304 10 0 0 0 {self.own} 0 0 0 20 0 3\n"
        if path == "/proc/loadavg":
            return f"0.50 0.40 0.30 {self.runnable}/120 4242\n"
        raise FileNotFoundError(path)


def test_cpu_load_counts_other_processes_busy_time_not_its_own() -> None:
    proc = FakeProc()
    proc.runnable = 2  # this reader and one other task, now
    load = CpuLoad(read=proc.read, clock=lambda: proc.now, interval=0.25)
    both = frozenset({0, 1})
    assert load.busy_cpus(both) == 1  # no earlier reading: the runnable tasks stand in
    proc.tick(1.0, {0: 100, 1: 100}, own=100)  # this process used one CPU, others the other
    assert load.busy_cpus(both) == 1
    proc.tick(1.0, {0: 100, 1: 100}, own=0)  # both CPUs busy with other processes
    proc.runnable = 3
    assert load.busy_cpus(both) == 2
    proc.tick(1.0, {0: 30, 1: 10})  # 0.4 CPU of others' work rounds to none
    assert load.busy_cpus(both) == 0
    proc.tick(1.0, {0: 60, 1: 0})
    assert load.busy_cpus(both) == 1
    # Only the CPUs this process may run on count; when they change, the runnable tasks
    # stand in again until there are two readings of the same CPUs.
    proc.runnable = 1
    proc.tick(1.0, {0: 0, 1: 100})
    assert load.busy_cpus(frozenset({0})) == 0
    proc.tick(1.0, {0: 0, 1: 100})
    assert load.busy_cpus(frozenset({0})) == 0
    proc.runnable = 2
    proc.tick(1.0, {0: 100, 1: 0})
    assert load.busy_cpus(frozenset({1})) == 1
    proc.tick(1.0, {0: 100, 1: 0})
    assert load.busy_cpus(frozenset({1})) == 0


def test_others_work_between_bursts_or_a_task_runnable_at_that_instant_does_not_count() -> None:
    proc = FakeProc()
    load = CpuLoad(read=proc.read, clock=lambda: proc.now, interval=0.25)
    both = frozenset({0, 1})
    load.busy_cpus(both)
    # Five seconds without a reading, both CPUs busy with others' work that has stopped
    # by now (a benchmark's other contestants taking their turn): not two CPUs busy.
    proc.tick(5.0, {0: 500, 1: 500})
    proc.runnable = 1
    assert load.busy_cpus(both) == 0
    proc.tick(0.5, {0: 50, 1: 50})
    proc.runnable = 3  # two others runnable and busy since: both readings agree
    assert load.busy_cpus(both) == 2
    # The same within a second (others' turn between two calls of a quick burst).
    proc.tick(0.3, {0: 30, 1: 30})
    proc.runnable = 1
    assert load.busy_cpus(both) == 0
    # Two tasks runnable at the instant of reading, the CPUs idle until then (a process
    # finishing its turn): not two CPUs busy either.
    proc.tick(5.0, {0: 0, 1: 0})
    proc.runnable = 3
    assert load.busy_cpus(both) == 0
    proc.tick(0.3, {0: 30, 1: 30})  # they stayed and worked: now they count
    assert load.busy_cpus(both) == 2


def test_cpu_load_reads_at_most_once_per_interval() -> None:
    proc = FakeProc()
    load = CpuLoad(read=proc.read, clock=lambda: proc.now, interval=0.25)
    both = frozenset({0, 1})
    assert load.busy_cpus(both) == 0
    proc.tick(0.1, {0: 5, 1: 5})
    n = len(proc.reads)
    assert load.busy_cpus(both) == 0  # 0.1 s later: the last estimate, nothing read
    assert len(proc.reads) == n
    proc.tick(0.2, {0: 10, 1: 10})
    proc.runnable = 2
    assert load.busy_cpus(both) == 1  # over the 0.3 s since the first reading
    assert len(proc.reads) == n + 3  # /proc/stat, /proc/self/stat and /proc/loadavg


def test_cpu_load_without_proc_or_switched_off_says_none() -> None:
    def missing(path: str) -> str:
        raise FileNotFoundError(path)

    assert CpuLoad(read=missing).busy_cpus() == 0
    proc = FakeProc()
    proc.runnable = 3
    off = CpuLoad(enabled=False, read=proc.read)
    assert off.busy_cpus(frozenset({0, 1})) == 0
    assert proc.reads == []


def test_the_suite_runs_with_the_load_estimate_switched_off() -> None:
    # tests/conftest.py sets MEDIAREF_AV_LOAD_AWARE=0 before mediaref_av is imported, so
    # that the threading these tests check does not follow the machine's load.
    assert _threads.load.enabled is False


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc")
def test_cpu_load_sees_processes_that_burn_cpus() -> None:
    load = CpuLoad(interval=0.2)
    # Ordinary processes whatever this one's scheduling: burners that inherited a
    # real-time policy would never let this test run again on their CPUs.
    burn = (
        "import os\n"
        "if hasattr(os, 'sched_setscheduler'):\n"
        "    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))\n"
        "while True: pass"
    )
    procs = [subprocess.Popen([sys.executable, "-c", burn]) for _ in range(2)]
    try:
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the kernel has run them (busy or not)
            time.sleep(0.3)
            seen.append(load.busy_cpus())
            if seen[-1] >= 1:
                break
        assert seen[-1] >= 1, seen
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(timeout=60)


def test_a_forked_child_estimates_from_its_own_times() -> None:
    parent = _threads.load
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        child = _threads.load
        ok = child is not parent and child._last is None and child.enabled == parent.enabled
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_machine_busy_elsewhere_makes_a_long_run_decode_on_one_thread(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = clip_factory("hevc_ffmpeg_mp4")
    last = len(clip.frames) - 1
    proc = FakeProc()
    proc.runnable = 2  # one other task runs: one of the 2 CPUs is taken
    monkeypatch.setattr(_threads, "load", CpuLoad(read=proc.read, clock=lambda: proc.now))
    with mediaref_av.open(clip.uri) as video:
        np.testing.assert_array_equal(video.frames_at([last])[0], clip.frames[last])
        assert _threading(video) == ONE_THREAD
    proc.tick(1.0, {0: 0, 1: 0})  # the other task is gone
    with mediaref_av.open(clip.uri) as video:
        np.testing.assert_array_equal(video.frames_at([last])[0], clip.frames[last])
        assert _threading(video) == AUTO


def _threading(video: mediaref_av.AVVideoDecoder) -> tuple[str, int] | None:
    """The threading the decoder's codec was opened with (as set, and as FFmpeg kept it)."""
    h = video._handle
    assert h is not None
    assert h.stream.codec_context.is_open
    cc = h.stream.codec_context
    if h.threading == ONE_THREAD:
        assert cc.thread_count == 1
    elif h.threading[0] == "SLICE":
        assert (cc.thread_type.name, cc.thread_count) == h.threading
    return h.threading


@pytest.mark.parametrize(
    ("kind", "short"),
    [
        ("av1_lerobot_mp4", ONE_THREAD),
        ("hevc_ffmpeg_mp4", ("SLICE", 2)),  # x265's default wavefront rows
        ("vp9_ffmpeg_webm", ONE_THREAD),  # 160 wide: one tile column
        ("vp9_two_tiles_webm", ("SLICE", 2)),
        ("h264_bframes_mp4", ONE_THREAD),
    ],
)
def test_a_keyframe_alone_decodes_without_a_pipeline_and_a_long_run_on_frame_threads(
    clip_factory: ClipFactory, kind: str, short: tuple[str, int]
) -> None:
    clip = clip_factory(kind)
    with mediaref_av.open(clip.uri) as video:
        idx = video.index
        key = int(idx.key_dpos[-1])
        first = int(np.flatnonzero(idx.frame_dpos == key)[0])  # the last keyframe's picture
        np.testing.assert_array_equal(video.frames_at([first])[0], clip.frames[first])
        assert _threading(video) == short
        # Ten frames from the start: one run (runs that touch merge), fewer packets than
        # a second decoder would take (`_MIN_PARALLEL_PACKETS`).
        far = list(range(10))
        frames = video.frames_at(far)
        assert _threading(video) == AUTO
        for f, arr in zip(far, frames, strict=True):
            np.testing.assert_array_equal(arr, clip.frames[f])


def test_one_frame_per_call_in_order_keeps_its_live_decoder_across_keyframes(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("h264_bframes_mp4")  # a keyframe every 12 frames, B-frames
    with mediaref_av.open(clip.uri) as video:
        keys = {int(video.index.frame_dpos.tolist().index(k)) for k in video.index.key_dpos}
        assert {12, 24, 36} <= keys  # picture indices of keyframes the steps cross
        for f in range(4, 40):
            np.testing.assert_array_equal(video.frames_at([f])[0], clip.frames[f])
            # The first frame is a run of several packets: frame threads. The steps
            # after it go on from that live decoder, also where the frame wanted is a
            # keyframe's, which alone would decode on one thread.
            assert _threading(video) == AUTO
    c = mediaref_av.counters()
    # Frames 4, 5 and 6 seek to the keyframe (each run is near it, and a decoder is kept
    # live from the second step in a row on); then one live decoder, the index scan's
    # container, goes to the end.
    assert (c.seeks, c.containers_opened) == (3, 1)


@pytest.mark.parametrize(
    ("kind", "start", "held", "seeks"),
    [
        ("vp9_ffmpeg_webm", 20, 1, 1),  # one GOP, no B-frames: 20 packets >= 4 x 1
        # 3 packets < 4 x 1: drained; frame 4's run (4 packets) is kept live.
        ("vp9_ffmpeg_webm", 3, 1, 2),
        # B-frames too: frame 10's run (8 packets < 4 x 3) drains the decoder, which
        # outputs frame 11 too; frame 12's run is the second step in a row.
        ("h264_bframes_mp4", 10, 3, 2),
    ],
)
def test_a_run_keeps_its_decoder_live_when_the_packets_it_holds_are_a_small_part_of_it(
    clip_factory: ClipFactory, kind: str, start: int, held: int, seeks: int
) -> None:
    # Keeping a decoder live decodes past the run until its frames come out (the pictures
    # that frame threads and B-frame reordering hold); draining it makes a next step
    # forward decode the run again (a decoder is kept live from the second step in a row
    # on whatever the run). Two frame threads here, whatever the machine.
    clip = clip_factory(kind)
    with mediaref_av.open(clip.uri, threads=2) as video:
        lead_in = int(video.index.frame_dpos[start])  # the first packet is its keyframe
        assert (lead_in >= _stepping._LEAD_PER_HELD * held) == (seeks == 1)
        for f in range(start, start + 10):
            np.testing.assert_array_equal(video.frames_at([f])[0], clip.frames[f])
            h = video._handle
            assert h is not None and _stepping.pictures_held(h.stream.codec_context) == held
    assert mediaref_av.counters().seeks == seeks


def test_switching_threading_keeps_both_containers_warm(clip_factory: ClipFactory) -> None:
    clip = clip_factory("av1_lerobot_mp4")  # a keyframe every 2 frames
    far = list(range(10))
    for _ in range(4):
        with mediaref_av.open(clip.uri) as video:
            np.testing.assert_array_equal(video.frames_at([20])[0], clip.frames[20])
            assert _threading(video) == ONE_THREAD
            for f, arr in zip(far, video.frames_at(far), strict=True):
                np.testing.assert_array_equal(arr, clip.frames[f])
            assert _threading(video) == AUTO
    c = mediaref_av.counters()
    # The index scan's container (frame threads) and one more for one thread, each
    # opened once; every later switch found its container in the pool (1 + 3 * 2).
    assert (c.containers_opened, c.index_builds, c.container_hits) == (2, 1, 7)


def test_a_busy_cpu_makes_a_long_run_decode_on_one_thread(clip_factory: ClipFactory) -> None:
    clip = clip_factory("hevc_ffmpeg_mp4")
    last = len(clip.frames) - 1
    others = _threads.running.enter()  # another decoder of this process at work
    try:
        with mediaref_av.open(clip.uri) as video:
            np.testing.assert_array_equal(video.frames_at([last])[0], clip.frames[last])
            assert _threading(video) == ONE_THREAD
    finally:
        _threads.running.leave()
    assert _threads.running.count == others
    with mediaref_av.open(clip.uri) as video:
        np.testing.assert_array_equal(video.frames_at([last])[0], clip.frames[last])
        assert _threading(video) == AUTO


def test_explicit_threads_cap_long_runs_and_short_runs_stay_on_one(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("av1_lerobot_mp4")
    far = list(range(10))
    with mediaref_av.open(clip.uri, threads=2) as video:
        for f, arr in zip(far, video.frames_at(far), strict=True):
            np.testing.assert_array_equal(arr, clip.frames[f])
        assert _threading(video) == ("AUTO", 2)
        np.testing.assert_array_equal(video.frames_at([20])[0], clip.frames[20])
        assert _threading(video) == ONE_THREAD


def test_stepping_forward_keeps_a_live_decoder_of_another_threading(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("hevc_ffmpeg_mp4")  # one GOP of 60 frames
    with mediaref_av.open(clip.uri) as video:
        _threads.running.enter()  # busy: the first steps decode on one thread
        try:
            for f in (40, 41):
                np.testing.assert_array_equal(video.frames_at([f])[0], clip.frames[f])
        finally:
            _threads.running.leave()
        # Now a run from the keyframe would get frame threads, but the live decoder has
        # the next frames a packet or two away: it goes on, on its one thread.
        for f in (42, 43, 44):
            np.testing.assert_array_equal(video.frames_at([f])[0], clip.frames[f])
            assert _threading(video) == ONE_THREAD
    c = mediaref_av.counters()
    assert (c.seeks, c.containers_opened) == (1, 2)  # the index scan's, then one thread


def test_first_one_thread_requests_of_a_file_borrow_its_open_container(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_decoder, "_OPEN_FOR_SHORT", 4)
    clip = clip_factory("hevc_ffmpeg_mp4")  # one long GOP: a keyframe alone is one packet
    with mediaref_av.open(clip.uri) as video:
        video.frames_at([len(clip.frames) - 1])  # a long run: frame threads
        assert _threading(video) == AUTO
    seen = []
    for _ in range(6):  # the keyframe alone: a one-packet run, a short run's request
        with mediaref_av.open(clip.uri) as video:
            np.testing.assert_array_equal(video.frames_at([0])[0], clip.frames[0])
            seen.append(_threading(video))
    # Opening a container costs more than a few one-packet requests save without frame
    # threads: the first four take the file's open one, then a container of the short
    # runs' threading opens (slice threads: x265's wavefront rows).
    assert seen == [AUTO] * 4 + [("SLICE", 2)] * 2
    assert mediaref_av.counters().containers_opened == 2


def test_one_thread_asked_for_never_borrows_a_threaded_container(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_decoder, "_OPEN_FOR_SHORT", 4)
    clip = clip_factory("hevc_ffmpeg_mp4")
    with mediaref_av.open(clip.uri) as video:
        video.frames_at([len(clip.frames) - 1])
        assert _threading(video) == AUTO
    with mediaref_av.open(clip.uri, threads=1) as video:
        np.testing.assert_array_equal(video.frames_at([0])[0], clip.frames[0])
        assert _threading(video) == ONE_THREAD


_RAW_SVT_ENCODE = """
import io, os
import av, numpy as np
with av.open(io.BytesIO(), "w", format="matroska") as c:
    s = c.add_stream("libsvtav1", rate=25)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    s.options = {"preset": "12"}
    for i in range(3):
        f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), format="rgb24")
        f.pts = i
        c.mux(s.encode(f))
    c.mux(s.encode(None))
print(os.sched_getscheduler(0))
"""


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policies")
def test_encoding_av1_leaves_the_callers_scheduling_policy(tmp_path: Path) -> None:
    from mediaref.testing import encode

    need_encoder("libsvtav1")
    # SVT-AV1 makes the thread that opens it SCHED_FIFO 99 where it may (as root): shown
    # in a subprocess, since this one must not become real-time.
    raw = subprocess.run(
        [sys.executable, "-c", _RAW_SVT_ENCODE],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SVT_LOG": "1"},
    )
    assert raw.returncode == 0, raw.stderr
    if int(raw.stdout.split()[-1]) != os.SCHED_FIFO:
        pytest.skip("SVT-AV1 may not raise its priority here (not root): nothing to undo")
    before = (os.sched_getscheduler(0), os.sched_getparam(0))
    encode(tmp_path / "a.mkv", "libsvtav1", n=3, options={"preset": "12"})
    assert (os.sched_getscheduler(0), os.sched_getparam(0)) == before
