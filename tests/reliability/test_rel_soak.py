"""A shortened soak: thousands of frames over several files, errors mixed in.

The figures are printed (run with ``-s`` to see them) and, if ``MEDIAREF_SOAK_REPORT``
names a file, written there as JSON; docs/reliability.md quotes one such run.
"""

from __future__ import annotations

import gc
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mediaref
from mediaref import MediaRef
from mediaref.testing import Clip
from tests.reliability import media
from tests.resources import held, left_behind

from .test_rel_batch import mediaref_av

FRAMES = int(os.environ.get("MEDIAREF_SOAK_FRAMES", "4000"))
BATCH = 40
WARMUP_BATCHES = 10
RSS_GROWTH_LIMIT = 40 << 20
"""Generous: allocator noise after warm-up is a few MB; a leak of a frame (18 KB) per
batch, or of a container per file opening, would pass it within the run."""


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def tasks() -> int:
    return len(os.listdir("/proc/self/task"))


def settle() -> None:
    mediaref_av.clear_caches()
    gc.collect()


def test_soak_keeps_fds_threads_and_memory_flat(
    clips: dict[str, Clip], still_png: Path, tmp_path: Path
) -> None:
    # Eight video files (copies are distinct files to the caches) and an image.
    pool: list[tuple[str, Clip]] = []
    for i in range(8):
        clip = clips[("h264_mp4", "vp9_webm", "h264_faststart_mp4")[i % 3]]
        copy = tmp_path / f"{i}{clip.path.suffix}"
        shutil.copyfile(clip.path, copy)
        pool.append((str(copy), clip))
    png = media.image_pixels(still_png)
    bad = [MediaRef(str(tmp_path / "missing.mp4"), 0), MediaRef(pool[0][0], 10**12)]
    rng = random.Random(7)

    def one_batch() -> int:
        picks = [rng.choice(pool) for _ in range(BATCH)]
        times = [rng.choice(clip.times()) for _, clip in picks]
        refs = [MediaRef(uri, t) for (uri, _), t in zip(picks, times, strict=True)]
        refs += [MediaRef(str(still_png)), rng.choice(bad)]
        out = mediaref.batch_decode(refs, on_error="return")
        for (_, clip), t, frame in zip(picks, times, out[:BATCH], strict=True):
            assert media.digest(frame) == media.digest(clip.frame_on_screen_at(t))
        assert media.digest(out[BATCH]) == media.digest(png)
        assert isinstance(out[-1], mediaref.MediaRefError)
        return BATCH + 1

    frames = 0
    for _ in range(WARMUP_BATCHES):
        frames += one_batch()
    settle()
    start = held()
    fds0, tasks0, rss0 = fds(), tasks(), rss()
    t0 = time.perf_counter()
    samples = []
    while frames < FRAMES:
        frames += one_batch()
        if len(samples) < frames // 1000:
            samples.append({"frames": frames, "rss": rss(), "fds": fds()})
    seconds = time.perf_counter() - t0
    rss_end_cached, fds_end_cached = rss(), fds()
    settle()
    leftover = left_behind(start)
    figures = {
        "frames": frames,
        "warmup_frames": WARMUP_BATCHES * (BATCH + 1),
        "seconds": round(seconds, 2),
        "rss_start": rss0,
        "rss_end": rss(),
        "rss_end_with_caches": rss_end_cached,
        "fds_start": fds0,
        "fds_end": fds(),
        "fds_end_with_caches": fds_end_cached,
        "threads_start": tasks0,
        "threads_end": tasks(),
        "samples": samples,
    }
    print("soak:", json.dumps(figures))
    if os.environ.get("MEDIAREF_SOAK_REPORT"):
        Path(os.environ["MEDIAREF_SOAK_REPORT"]).write_text(json.dumps(figures, indent=1))
    assert frames >= FRAMES
    # Nothing opened during the soak is left (counts may go down meanwhile: an earlier
    # test's codec freed by the garbage collector takes its threads with it).
    assert leftover == {}, leftover
    assert figures["rss_end"] - rss0 < RSS_GROWTH_LIMIT, figures


GROWTH_WARMUP = 100
GROWTH_BATCHES = 400
GROWTH_EVERY = 50
GROWTH_LIMIT = 6 << 20
"""After a warm-up, held RSS (medians of the first and last three samples) must not rise
by this much over 16,000 frames: a guard against gross leaks (a container per opening,
a frame per batch). It runs in a fresh process, away from the heap state of other tests
(in the same process as the whole suite, samples scattered more and the test failed
at random). Samples scatter by a few MB (thread stacks, arenas); measured growth was
+1.5 to +2.8 MB (a residual ~0.1 MB per 1,000 frames, not isolated). Smaller leaks are
below this noise: the PyAV demux leak (test_a_handle_reads_every_run_with_one_demux_generator)
grew 0.1-0.3 MB/1,000 frames."""


def test_decoding_from_short_lived_threads_keeps_memory_flat(
    clips: dict[str, Clip], tmp_path: Path
) -> None:
    files = []
    for i in range(8):
        copy = tmp_path / f"{i}.mp4"
        shutil.copyfile(clips["h264_mp4"].path, copy)
        files.append(str(copy))
    job = {
        "files": files,
        "times": clips["h264_mp4"].times(),
        "warmup": GROWTH_WARMUP,
        "batches": GROWTH_BATCHES,
        "every": GROWTH_EVERY,
    }
    probe = Path(__file__).with_name("memory_probe.py")
    out = subprocess.run(
        [sys.executable, str(probe), json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    samples: list[int] = json.loads(out.stdout)
    mb = [round(r / 2**20, 1) for r in samples]
    print(f"held RSS every {GROWTH_EVERY * 40} frames (MB): {mb}")
    start, end = sorted(samples[:3])[1], sorted(samples[-3:])[1]
    assert end - start < GROWTH_LIMIT, mb
