"""One random frame per call: a plain `to_ndarray` loop against `iter_decode(ahead=N)`.

    python bench/iter_bench.py [--seconds 60] [--calls 150] [--work-ms 0] [--reps 3]

Makes (once, in bench/.cache) a 640x360 30 fps H.264 MP4 with the ffmpeg command's
defaults (single slice, B-frames, GOP 250), picks random timestamps (seeded), and
times each way of reading them, alternating, reporting frames/s (median of reps) and the
ratio to the loop. `--work-ms` adds that much NumPy work per frame in the caller, as a
training step would; every frame is checked against the loop's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

import numpy as np

from ffmpeg_clip import ffmpeg_h264
from mediaref import MediaRef, iter_decode


def make_clip(seconds: int) -> Path:
    return ffmpeg_h264(640, 360, seconds)


def work(frame: np.ndarray, ms: float) -> None:
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        frame.sum(dtype=np.uint64)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--calls", type=int, default=150)
    ap.add_argument("--work-ms", type=float, default=0.0)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    clip = make_clip(args.seconds)
    rng = random.Random(0)
    refs = [MediaRef(str(clip), rng.randrange(args.seconds * 10**9)) for _ in range(args.calls)]
    expected = [r.to_ndarray() for r in refs]  # warm-up: index, containers

    def loop() -> list[np.ndarray]:
        out = []
        for r in refs:
            out.append(r.to_ndarray())
            work(out[-1], args.work_ms)
        return out

    def ahead(n: int):  # type: ignore[no-untyped-def]
        def run() -> list[np.ndarray]:
            out = []
            for f in iter_decode(refs, ahead=n):
                out.append(f)
                work(f, args.work_ms)
            return out

        return run

    ways = {"loop": loop, "iter_decode ahead=1": ahead(1), "iter_decode ahead=2": ahead(2)}
    times: dict[str, list[float]] = {k: [] for k in ways}
    for rep in range(args.reps):
        for name in list(ways)[rep % 3 :] + list(ways)[: rep % 3]:
            t = time.perf_counter()
            got = ways[name]()
            times[name].append(time.perf_counter() - t)
            assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True)), name
    base = statistics.median(times["loop"])
    print(f"{args.calls} random frames of {clip.name}, {args.work_ms} ms work per frame")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:22s} {args.calls / med:7.1f} frames/s  {base / med:4.2f}x the loop")


if __name__ == "__main__":
    main()
