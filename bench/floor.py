"""How fast can one random frame per call be, with FFmpeg's H.264 decoder on this machine?

    bench/.venvs/ours/bin/python bench/floor.py [--quick] [--calls 300]

W4 (one random frame per call) decodes, for each call, the keyframe of the frame's group
of pictures and every P-frame up to the frame: nothing can be skipped on media A (no
B-frames), so the decoder's own speed bounds every library. This script measures that
bound with a plain PyAV loop (seek to the keyframe, decode to the frame, convert it with
one reused swscale context) under each codec threading FFmpeg offers (one thread, one
thread per slice, frame threads), and our ``MediaRef.to_ndarray()`` on the same calls,
alternating per call, in one process. The ratio of the best floor to the one-thread
floor is the most any library can gain over a one-thread decoder such as TorchCodec's
default (the main bench measures TorchCodec itself). Writes ``results/floor.md``.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import platform
import random
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
MODES = {"one thread": ("NONE", 1), "slice threads": ("SLICE", 2), "frame threads": ("FRAME", 2)}


class Floor:
    """A plain PyAV decoder of one file with one codec threading, kept open across calls."""

    def __init__(self, path: Path, thread_type: str, threads: int) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        self.container = av.open(str(path))
        self.stream = self.container.streams.video[0]
        cc = self.stream.codec_context
        if threads == 1:
            cc.thread_count = 1
        else:
            cc.thread_type = thread_type
            cc.thread_count = threads
        self.reformatter = VideoReformatter()
        self.decoded = 0

    def frame(self, pts: int, key_pts: int) -> Any:
        cc = self.stream.codec_context
        self.container.seek(key_pts, stream=self.stream, backward=True)
        cc.flush_buffers()
        got = None
        for pkt in self.container.demux(self.stream):
            frames = cc.decode(pkt if pkt.size else None)
            self.decoded += len(frames)
            got = next((f for f in frames if f.pts == pts), None)
            if got is not None or not pkt.size:
                break
            if pkt.pts is not None and pkt.pts >= pts:  # the rest is inside the decoder
                frames = cc.decode(None)
                self.decoded += len(frames)
                got = next((f for f in frames if f.pts == pts), None)
                break
        cc.flush_buffers()
        assert got is not None, pts
        return self.reformatter.reformat(got, format="rgb24", threads=1).to_ndarray()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the 30 s media")
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--out", default=str(BENCH / "results" / "floor.md"))
    args = ap.parse_args()
    import av
    import numpy as np

    from mediaref import MediaRef
    from mediaref.timeline import pts_to_ns

    path = CACHE / ("A_30s_v3.mp4" if args.quick else "A_300s_v3.mp4")
    if not path.exists():
        print(f"{path} is missing: run bench/run.py (or bench/media.py) first", file=sys.stderr)
        return 2
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        packets = [(p.pts, p.is_keyframe) for p in c.demux(s) if p.size and p.pts is not None]
        tb = s.time_base
    pts = sorted(p for p, _ in packets)
    keys = sorted(p for p, k in packets if k)
    assert tb is not None
    rng = random.Random(4)
    targets = [pts[rng.randrange(len(pts))] for _ in range(args.calls)]
    floors = {name: Floor(path, *how) for name, how in MODES.items()}
    times: dict[str, list[float]] = {name: [] for name in [*MODES, "ours"]}

    def ours(p: int) -> Any:
        t = pts_to_ns(p, Fraction(tb.numerator, tb.denominator))  # the frame's first ns
        return MediaRef(str(path), t).to_ndarray()

    for i, p in enumerate([targets[0], *targets]):  # the first call warms up
        key = keys[bisect.bisect_right(keys, p) - 1]
        runs: list[tuple[str, Any]] = list(floors.items())
        runs.append(("ours", None))
        random.Random(i).shuffle(runs)
        out = []
        for name, floor in runs:
            t0 = time.perf_counter()
            arr = floor.frame(p, key) if floor is not None else ours(p)
            if i:
                times[name].append(time.perf_counter() - t0)
            out.append(arr)
        assert all(np.array_equal(out[0], a) for a in out[1:]), f"frames differ at pts {p}"

    one = statistics.median(times["one thread"])
    lines = [
        "# W4 floor: one random frame per call, plain PyAV, media A",
        "",
        f"- Date (UTC): {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Command: `bench/.venvs/ours/bin/python bench/floor.py"
        f"{' --quick' if args.quick else ''} --calls {args.calls}`",
        f"- Machine: {platform.processor() or platform.machine()}, {platform.platform()}; "
        f"av {av.__version__}",
        f"- File: `{path.name}`; {args.calls} random frames, the same for every row, "
        "rows alternating per call in one process; every row returned identical pixels",
        "",
        "| decoder | ms per call, median | frames/s | vs one-thread floor |",
        "|---|---|---|---|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        label = f"plain PyAV, {name}" if name in MODES else "ours: `MediaRef(...).to_ndarray()`"
        lines.append(f"| {label} | {med * 1e3:.2f} | {len(ts) / sum(ts):.0f} | {one / med:.2f}x |")
    n = args.calls
    lines += [
        "",
        "Frames decoded per call: "
        + ", ".join(f"{name} {f.decoded / (n + 1):.1f}" for name, f in floors.items()),
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
