"""Resize at decode: 1280x720 H.264 frames to 224x224, in swscale vs after decoding.

    python bench/resize_bench.py [--frames 120] [--reps 5]

Makes (once, in bench/.cache) a 1280x720 30 fps H.264 MP4 with the ffmpeg command's
defaults and decodes the same consecutive frames each way, alternating: ours with
``size=(224, 224)`` (the resize happens in the colour conversion), ours at full size then
``cv2.resize(INTER_AREA)``, and then PIL ``resize(BOX)``. Prints frames/s (median of reps)
and the ratio to the fastest decode-then-resize.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from ffmpeg_clip import ffmpeg_h264
from mediaref import MediaRef, batch_decode, cleanup_cache


def make_clip() -> Path:
    return ffmpeg_h264(1280, 720, 10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    import cv2
    from PIL import Image

    clip = make_clip()
    refs = [MediaRef(str(clip), k * 1_000_000_000 // 30) for k in range(args.frames)]

    def ours() -> list[np.ndarray]:
        return batch_decode(refs, size=(224, 224))

    def then_cv2() -> list[np.ndarray]:
        return [cv2.resize(f, (224, 224), interpolation=cv2.INTER_AREA) for f in batch_decode(refs)]

    def then_pil() -> list[np.ndarray]:
        return [
            np.asarray(Image.fromarray(f).resize((224, 224), Image.Resampling.BOX))
            for f in batch_decode(refs)
        ]

    ways = {
        "size=(224, 224) in swscale": ours,
        "decode, cv2.resize": then_cv2,
        "decode, PIL": then_pil,
    }
    ours()  # warm: index, container
    times: dict[str, list[float]] = {k: [] for k in ways}
    for rep in range(args.reps):
        order = list(ways)[rep % 3 :] + list(ways)[: rep % 3]
        for name in order:
            t = time.perf_counter()
            out = ways[name]()
            times[name].append(time.perf_counter() - t)
            assert len(out) == args.frames and out[0].shape == (224, 224, 3)
    cleanup_cache()
    best_after = min(statistics.median(times[k]) for k in list(ways)[1:])
    print(f"{args.frames} consecutive 1280x720 frames of {clip.name} to 224x224")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:28s} {args.frames / med:7.1f} frames/s  {best_after / med:4.2f}x")


if __name__ == "__main__":
    main()
