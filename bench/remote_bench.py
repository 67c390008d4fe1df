"""Bytes and requests that remote reads cost, over a real HTTP server on loopback.

Media (made once into bench/.cache/remote): 640x360 20 fps, 5 minutes, content from
bench/media.py: H.264 (x264 preset fast, GOP 40 = 2 s, B-frames) in MP4 with the moov
first (faststart) and at the end, and HEVC (x265 ultrafast, GOP 40) in MKV.

Workloads, each from cold caches (a new process's view: no index, no open container):
  open       open the video (index), no frame
  1 frame    one frame at 150 s
  32 consec  32 consecutive frames from 120 s, one call
  64 random  64 random frames (seed 7), one call
Every returned frame is compared with the local decode of the same file.

Run: python bench/remote_bench.py [--json OUT]. To measure another tree's code, put its
sources first on PYTHONPATH (the server and media come from this directory).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from media import FPS, H, W, make_frame, texture  # noqa: E402
from tests.httpserver import serve  # noqa: E402

SECONDS = 300
CACHE = HERE / ".cache" / "remote"


def _encode(path: Path, codec: str, options: dict[str, str]) -> None:
    import av

    tmp = path.with_suffix(".part" + path.suffix)
    tex = texture(11)
    with av.open(str(tmp), "w") as out:
        s = out.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = dict(options)
        for i in range(SECONDS * FPS):
            frame = av.VideoFrame.from_ndarray(make_frame(tex, i), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    tmp.replace(path)


def media() -> dict[str, Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    tail, fast, hevc = CACHE / "h264_tail.mp4", CACHE / "h264_faststart.mp4", CACHE / "hevc.mkv"
    if not tail.exists():
        x264 = {"preset": "fast", "x264-params": "keyint=40:min-keyint=40:scenecut=0"}
        _encode(tail, "libx264", x264)
    if not fast.exists():
        cmd = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(tail), "-c", "copy"]
        subprocess.run([*cmd, "-movflags", "+faststart", str(fast)], check=True)
    if not hevc.exists():
        x265 = {"preset": "ultrafast", "x265-params": "keyint=40:min-keyint=40:log-level=error"}
        _encode(hevc, "libx265", x265)
    return {"H.264 MP4, faststart": fast, "H.264 MP4, moov at end": tail, "HEVC MKV": hevc}


def workloads(begin_ns: int, end_ns: int, frame_ns: int) -> dict[str, list[int]]:
    rnd = random.Random(7)
    at = begin_ns + 150 * 10**9
    start = begin_ns + 120 * 10**9
    return {
        "open": [],
        "1 frame": [at],
        "32 consec": [start + i * frame_ns for i in range(32)],
        "64 random": sorted(rnd.randrange(begin_ns, end_ns) for _ in range(64)),
    }


def run_one(url: str, local: Path, times: list[int]) -> dict[str, object]:
    import mediaref_av
    from mediaref import MediaRef, batch_decode

    mediaref_av.clear_caches()
    t0 = time.perf_counter()
    if times:
        frames = batch_decode([MediaRef(url, t) for t in times])
    else:
        with mediaref_av.open(url):
            frames = []
    seconds = time.perf_counter() - t0
    mediaref_av.clear_caches()
    if times:
        with mediaref_av.open(str(local)) as video:
            expected = video.frames_played_at(times)
        for got, want in zip(frames, expected, strict=True):
            np.testing.assert_array_equal(got, want)
    return {"seconds": round(seconds, 3)}


def main() -> None:
    import mediaref_av

    parser = argparse.ArgumentParser()
    parser.add_argument("--json")
    args = parser.parse_args()
    files = media()
    rows = []
    with serve(CACHE) as server:
        for label, path in files.items():
            with mediaref_av.open(str(path)) as video:
                md = video.metadata
            frame_ns = 10**9 // FPS
            for name, times in workloads(md.begin_ns, md.end_ns, frame_ns).items():
                server.counters.reset()
                result = run_one(server.url(f"files/{path.name}"), path, times)
                row = {
                    "media": label,
                    "size": path.stat().st_size,
                    "workload": name,
                    "bytes": server.counters.bytes,
                    "requests": server.counters.requests,
                    **result,
                }
                rows.append(row)
                print(
                    f"{label:24} {name:10} {row['bytes']:>11,} B {row['requests']:>5} req "
                    f"({row['bytes'] / row['size']:.3f} of {row['size']:,} B) "
                    f"{row['seconds']:.2f} s",
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
