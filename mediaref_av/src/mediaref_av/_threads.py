"""Threads: how many CPUs, the codec threading per stream and request, the worker pool."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "ONE_THREAD",
    "CpuLoad",
    "Running",
    "Threading",
    "codec_threading",
    "cpus",
    "executor",
    "load",
    "parallel_decoders",
    "request_threading",
    "running",
    "short_run",
    "short_threading",
]

Threading = tuple[str, int]
"""FFmpeg thread type and codec thread count (0: FFmpeg's choice)."""
ONE_THREAD: Threading = ("NONE", 1)
"""Decode in the calling thread: no pipeline to fill on a seek or to drain at its end."""


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def codec_threading(threads: int | None, slices: int) -> Threading:
    """The codec threading for a stream's long runs: FFmpeg thread type and thread count.

    Pictures coded as several slices decode fastest with one thread per slice: on 2
    cores (640x360 H.264, 2 slices) slice threads decoded 1.5x faster than one thread
    both sequentially and in 10-frame runs from a keyframe, where frame threads gained
    at most 1.15x (they pay a pipeline fill and drain on every seek). Other streams
    get FFmpeg's own choice (frame threads for H.264, HEVC and VP9; dav1d's tile and
    frame threads for AV1, which take only a thread count).
    """
    if threads == 1:
        return ONE_THREAD
    if slices >= 2:
        return "SLICE", min(threads or cpus(), slices)
    return "AUTO", threads or 0


_VP9_TWO_TILE_WIDTH = 449
"""The narrowest VP9 picture that may have two tile columns (a tile is at least four
64-pixel superblocks wide: ``ceil(width / 64) >= 8``)."""


def short_threading(
    threads: int | None, codec: str, width: int, wavefront: bool, *, cpus: int
) -> Threading:
    """The codec threading for short runs (`short_run`): one thread, or slice threads.

    Slice threads have no pipeline, so they pay where one picture splits into parts
    that decode in parallel: HEVC coded in wavefront rows (x265's default), whose rows
    FFmpeg's slice threads decode together, and VP9 wide enough for two tile columns
    (libvpx's default uses as many as fit). One random keyframe per call, plain PyAV,
    2 cores, medians of 60 calls alternating (bench media): x265-default HEVC 640x360
    7.47 ms on one thread, 4.96 on two slice threads (5.53 on three); libvpx VP9 640x360
    8.38 / 5.08. Without them slice threads cost a little: HEVC without wavefront 1.68 /
    1.74 ms, VP9 320x240 1.12 / 1.21 ms; single-slice H.264 and AV1 (dav1d takes a
    thread count only) gained nothing (7.20 / 7.38 ms, 8.55 / 8.65 ms).
    """
    if threads == 1 or not (wavefront or (codec == "vp9" and width >= _VP9_TWO_TILE_WIDTH)):
        return ONE_THREAD
    return "SLICE", threads or cpus


SHORT_RUN = 2
"""Runs of at most this many packets are short (see `short_run`)."""


def short_run(packets: int, slices: int) -> bool:
    """Whether a run of `packets` from its keyframe is short: no frame threads for it.

    Frame threads must fill their pipeline after every seek and drain it before the last
    frame comes out, so a run of a frame or two gains nothing from them and pays the
    handoffs. LeRobot's AV1 (SVT-AV1, a keyframe every 2 frames, 640x480), one random
    frame per call, 2 cores at load ~13, 24 calls alternating (a first bench/floor.py
    run): one thread 2.63 ms, dav1d's frame threads 3.28, FFmpeg's default 3.57; one
    keyframe per call 1.67 / 1.98 / 1.93; issue 13 measured 2.7-3.0 against 3.0-3.4 ms
    through ``threads=1``. In long GOPs too: one random keyframe per call of x264's
    640x360 H.264 (GOP 250), medians of 300 calls alternating with plain PyAV on one
    thread (load ~1): 1.79 ms a call on frame threads, 1.55 ms on one thread, plain PyAV
    1.28 ms. A decoder left live by a longer run is still kept when the next call steps
    forward from it (`AVVideoDecoder._acquire`), so one frame per call read in order does
    not change threading at each keyframe. Slice threads have no pipeline: pictures of
    several slices keep them, and a short run gets them where one picture decodes in
    parallel parts (`short_threading`).
    """
    return packets <= SHORT_RUN and slices < 2


def request_threading(
    parallel: Threading,
    *,
    longest_run: int,
    slices: int,
    others: int,
    cpus: int,
    busy: int = 0,
    short: Threading = ONE_THREAD,
) -> Threading:
    """The codec threading for one request of one decoder.

    Args:
        parallel: The stream's threading for long runs (`codec_threading`).
        longest_run: Packets of the request's longest decode run.
        slices: Slices per picture of the stream.
        others: Decoders of this process decoding at the same time (not counting this one).
        cpus: CPUs this process may run on.
        busy: Of those CPUs, how many other processes keep busy (`CpuLoad`).
        short: The stream's threading for short runs (`short_threading`).

    One thread when every CPU but this decoder's already has work (a decoder of this
    process, or another process): threads of one codec would then take turns with that
    work, and a frame thread that waits for its turn stalls the others. 640x360 x264
    and x265 (GOP 250, B-frames), one random frame per call, 20 calls alternating in
    one process with two CPU-burning processes beside it on 2 cores: 80 ms a call on
    frame threads, 58 on one thread (H.264); 96 and 72 (HEVC). Else `short` for short
    runs (`short_run`) and `parallel` for the others, with at most one thread per CPU
    left when other processes keep some busy.
    """
    if parallel == ONE_THREAD or others + busy + 1 >= cpus:
        return ONE_THREAD
    chosen = short if short_run(longest_run, slices) else parallel
    if chosen == ONE_THREAD:
        return chosen
    kind, count = chosen
    free = cpus - others - busy
    if busy and (count == 0 or count > free):
        return kind, free
    return chosen


class CpuLoad:
    """How many of this process's CPUs other processes keep busy: a running estimate.

    The smaller of two readings, at most one per `interval` seconds:

    - the CPUs' busy time (``/proc/stat``, the CPUs of this process's affinity) less this
      process's own (``/proc/self/stat``; its DataLoader workers and other children count
      as other processes), over the time since the previous reading;
    - the tasks runnable right now (``/proc/loadavg``) less this one (alone with no
      previous reading of the same CPUs).

    Others that keep CPUs busy (CPU-bound processes, DataLoader workers) show in both. A
    process that decodes in bursts (a service, a benchmark taking turns with others) saw
    in the average alone the others' work between its bursts, which has stopped when it
    decodes, and decoded on one thread; in the count alone, a task that happened to be
    runnable at that instant (a process finishing its turn), one thread for the whole
    burst (2 cores, one random keyframe per call of x265-default HEVC: 148 keyframes/s
    against 200-210 on two slice threads). Where ``/proc`` cannot be read (not Linux), 0.

    `enabled=False` (``MEDIAREF_AV_LOAD_AWARE=0``) always says 0: the threading then
    depends on the request and this process only.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        interval: float = 0.25,
        read: Callable[[str], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.enabled = enabled
        self.interval = interval
        self._read = read or _read_text
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, int, int, int, frozenset[int] | None] | None = None
        """(clock, busy ticks of the CPUs, all their ticks, this process's ticks, the CPUs)."""
        self._busy = 0

    def busy_cpus(self, cpus: frozenset[int] | None = None) -> int:
        """Other processes' load on `cpus` (default: this process's affinity), in CPUs.

        Rounded to the nearest whole CPU. Thread-safe; a thread that finds another one
        reading gets the last estimate.
        """
        if not self.enabled:
            return 0
        now = self._clock()
        last = self._last
        if last is not None and now - last[0] < self.interval:
            return self._busy
        if not self._lock.acquire(blocking=False):
            return self._busy
        try:
            self._busy = self._update(now, cpus)
        except (OSError, ValueError, IndexError):
            self._busy = 0
        finally:
            self._lock.release()
        return self._busy

    def _update(self, now: float, cpus: frozenset[int] | None) -> int:
        allowed = cpus if cpus is not None else _affinity()
        busy, total, n = _cpu_ticks(self._read("/proc/stat"), allowed)
        mine = _own_ticks(self._read("/proc/self/stat"))
        last, self._last = self._last, (now, busy, total, mine, allowed)
        runnable = int(self._read("/proc/loadavg").split()[3].split("/")[0])
        now_busy = max(0, min(n, runnable - 1))
        if last is None or last[4] != allowed:
            return now_busy
        d_total = total - last[2]
        if d_total <= 0 or n == 0:
            return min(self._busy, now_busy)
        others = (busy - last[1] - (mine - last[3])) / (d_total / n)
        return min(max(0, min(n, int(others + 0.5))), now_busy)


def _read_text(path: str) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


def _affinity() -> frozenset[int] | None:
    try:
        return frozenset(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return None


def _cpu_ticks(stat: str, cpus: frozenset[int] | None) -> tuple[int, int, int]:
    """Busy and all clock ticks of `cpus` (all if `None`) in ``/proc/stat``, and their count."""
    busy = total = n = 0
    for line in stat.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        if cpus is not None and int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal (guest time is inside user)
        t = [int(x) for x in fields[:8]]
        busy += t[0] + t[1] + t[2] + t[5] + t[6] + t[7]
        total += sum(t)
        n += 1
    return busy, total, n


def _own_ticks(stat: str) -> int:
    """User + system clock ticks of the process, from its ``/proc/<pid>/stat``."""
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


load = CpuLoad(enabled=os.environ.get("MEDIAREF_AV_LOAD_AWARE", "1") != "0")
"""This process's estimate of the load other processes put on its CPUs."""


def parallel_decoders(cpus: int) -> int:
    """How many decoders may share a request's independent runs, by default.

    One per CPU (at most 4), each on one thread: H.264, 2 cores, 640x360, 64 random
    frames per call: +17-18% against one decoder's frame threads. LeRobot's AV1 (dav1d,
    a run per 2 frames), 2 cores at load ~5-6, 12 calls per process, medians of 6
    processes alternating with one dav1d decoder on its own threads: 64 random frames
    per call 1.93 s against 2.34 s; 32 consecutive frames per call 0.68 s both. (An
    earlier run at load ~13, where more threads simply take more of a contended CPU,
    had favoured the single dav1d decoder.)
    """
    return min(cpus, 4)


class Running:
    """How many decoders of this process are decoding now (a counter, thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def enter(self) -> int:
        """Count one more decoder; return how many others were decoding."""
        with self._lock:
            self.count += 1
            return self.count - 1

    def leave(self) -> None:
        """Count one decoder less."""
        with self._lock:
            self.count -= 1


running = Running()
"""This process's decoders at work (a forked child starts at zero)."""


_executor_lock = threading.Lock()
_executor_state: tuple[int, ThreadPoolExecutor] | None = None


def executor() -> ThreadPoolExecutor:
    """The process's worker threads (a forked child makes its own: threads do not fork).

    Not the core's pool that runs `batch_decode`: a decoder running on one of those
    threads waits for its parallel runs, which on the same saturated pool would wait
    forever.
    """
    global _executor_state
    with _executor_lock:
        if _executor_state is None or _executor_state[0] != os.getpid():
            pool = ThreadPoolExecutor(cpus(), thread_name_prefix="mediaref_av")
            _executor_state = (os.getpid(), pool)
        return _executor_state[1]


def _after_fork_in_child() -> None:
    global _executor_lock, running, load
    _executor_lock = threading.Lock()
    running = Running()
    load = CpuLoad(enabled=load.enabled, interval=load.interval)  # its own times start at 0


os.register_at_fork(after_in_child=_after_fork_in_child)
