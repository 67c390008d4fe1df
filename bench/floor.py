"""How fast can FFmpeg decode each workload on each codec, on this machine? (the floor)

    .venv/bin/python bench/floor.py [--quick] [--calls 60] [--codecs h264,av1]

The cost of a frame is the decoding from its group's keyframe up to it; for each call,
plain PyAV loops do exactly that (seek to the keyframe, decode to the last wanted frame,
convert the wanted frames with one reused swscale context, everything already open)
under each codec threading FFmpeg offers: one thread, slice threads, frame threads, and
FFmpeg's automatic choice. ``ours`` is the public API on the same calls
(``MediaRef(...).to_ndarray()`` for one frame, ``batch_decode`` for many). Contestants
alternate per call in one process, in a shuffled order, and must return identical
pixels. The media are the world's (``ffmpeg_clip.RECIPES``: the ffmpeg command's
defaults, LeRobot's AV1, the ffmpeg wiki's VP9), 60 s each.

Workloads: W4 one random frame per call, W1 32 consecutive frames per call, W2 64 random
frames in one call; and K, one random keyframe per call: the per-call cost of ours above
the floor when the decoding itself is the least it can be (one picture).
Writes ``results/floor.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ffmpeg_clip import RECIPES, ffmpeg_clip

BENCH = Path(__file__).resolve().parent
# The plain-PyAV loop (``Stream``, ``Floor``) is owned by the world bench's floor
# contestants (contestants/_floor.py, run by run.py); percall.py imports it from here.
sys.path.insert(0, str(BENCH / "contestants"))
from _floor import THREADINGS, Floor, Stream  # noqa: E402

MODES = {  # column -> (thread_type, thread_count)
    "one thread": THREADINGS["1"],
    "slice threads": THREADINGS["slice"],
    "frame threads": THREADINGS["frame"],
    "auto": THREADINGS["auto"],
}
MEDIA = {  # name -> (recipe, width, height)
    "H.264 640x360": ("h264", 640, 360),
    "H.264 720p": ("h264", 1280, 720),
    "HEVC 640x360": ("hevc", 640, 360),
    "AV1 640x480 (LeRobot)": ("av1", 640, 480),
    "VP9 640x360": ("vp9", 640, 360),
}
WORKLOADS = {  # name -> (key, share of --calls)
    "W4 one random frame per call": ("w4", 1.0),
    "W1 32 consecutive frames per call": ("w1", 0.5),
    "W2 64 random frames in one call": ("w2", 0.25),
    "K one random keyframe per call": ("key", 1.0),
}


def requests(s: Stream, workload: str, rng: random.Random) -> list[int]:
    """The pts one call of `workload` asks for."""
    shown = s.shown
    if workload == "w4":
        return [shown[rng.randrange(len(shown))]]
    if workload == "w1":
        i = rng.randrange(len(shown) - 32)
        return shown[i : i + 32]
    if workload == "w2":
        return sorted(rng.sample(shown, 64))
    return [s.pts[s.keys[rng.randrange(len(s.keys))]]]


def measure(path: Path, workload: str, calls: int) -> tuple[dict[str, list[float]], Stream]:
    """Seconds per call of each contestant on `calls` calls (plus one warm-up)."""
    import numpy as np

    import mediaref
    from mediaref import MediaRef
    from mediaref.timeline import pts_to_ns

    s = Stream(path)
    import av

    with av.open(str(path)) as c:
        tb = c.streams.video[0].time_base
    assert tb is not None
    floors = {name: Floor(path, s, *how) for name, how in MODES.items()}
    times: dict[str, list[float]] = {name: [] for name in [*MODES, "ours"]}
    uri = str(path)

    def ours(ps: list[int]) -> list[Any]:
        refs = [MediaRef(uri, pts_to_ns(p, tb)) for p in ps]
        if len(refs) == 1:
            return [refs[0].to_ndarray()]
        return mediaref.batch_decode(refs)

    rng = random.Random(4)
    asks = [requests(s, workload, rng) for _ in range(calls + 1)]
    for i, ps in enumerate(asks):  # the first call warms up
        runs: list[tuple[str, Callable[[list[int]], list[Any]]]] = [
            (name, f.frames) for name, f in floors.items()
        ]
        runs.append(("ours", ours))
        random.Random(i).shuffle(runs)
        out = []
        for name, fn in runs:
            t0 = time.perf_counter()
            arrs = fn(ps)
            if i:
                times[name].append(time.perf_counter() - t0)
            out.append(arrs)
        for arrs in out[1:]:
            assert all(np.array_equal(a, b) for a, b in zip(out[0], arrs, strict=True)), ps
    return times, s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 s media")
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--media", default=",".join(MEDIA), help="comma-separated MEDIA names")
    ap.add_argument("--workloads", default="w4,w1,w2,key")
    ap.add_argument("--out", default=str(BENCH / "results" / "floor.md"))
    args = ap.parse_args()
    import av

    seconds = 10 if args.quick else 60
    wanted = args.workloads.split(",")
    load_before = os.getloadavg()
    t_start = time.time()
    lines = [
        "# The floor per codec: plain PyAV under each codec threading, and ours",
        "",
        f"- Date (UTC): {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Command: `.venv/bin/python bench/floor.py {' '.join(sys.argv[1:])}`",
        f"- Machine: {platform.processor() or platform.machine()}, {platform.platform()}, "
        f"{len(os.sched_getaffinity(0))} CPUs; av {av.__version__} (FFmpeg "
        f"{'.'.join(map(str, av.library_versions['libavcodec']))} libavcodec); "
        f"mediaref {_version()}",
        f"- Calls per file: {args.calls} for W4 and K, half as many for W1, a quarter for W2, "
        "the same for every column; columns alternate per call (shuffled) in one process; "
        "every column returned identical pixels",
        "",
        "## Media (testsrc2, made by the ffmpeg command)",
        "",
        "| media | encoder and options | decoder | slices | GOP (packets, max) | B-frames |",
        "|---|---|---|---|---|---|",
    ]
    tables: list[str] = []
    for name in args.media.split(","):
        recipe, w, h = MEDIA[name]
        path = ffmpeg_clip(recipe, w, h, seconds)
        slices = _slices(path)
        s = None
        rows = []
        for wl_name, (wl, share) in WORKLOADS.items():
            if wl not in wanted:
                continue
            times, s = measure(path, wl, max(3, round(args.calls * share)))
            rows.append((wl_name, times))
            print(
                name, wl_name, {k: round(statistics.median(v) * 1e3, 2) for k, v in times.items()}
            )
        assert s is not None
        opts = " ".join(RECIPES[recipe][1])
        lines.append(
            f"| {name} | `ffmpeg -f lavfi -i testsrc2=size={w}x{h}:rate=30 {opts}` "
            f"(.{RECIPES[recipe][0]}) | {s.codec} | {slices} | {s.gop} | "
            f"{'yes' if s.bframes else 'no'} |"
        )
        tables += _table(name, rows)
        _write(args.out, lines, tables, load_before, t_start)  # each medium as it ends
    return 0


def _write(
    out: str, lines: list[str], tables: list[str], load_before: tuple[float, ...], t0: float
) -> None:
    load_after = os.getloadavg()
    text = [
        *lines,
        "",
        f"Load average (1/5/15 min) before: {'/'.join(f'{x:.1f}' for x in load_before)}, "
        f"after: {'/'.join(f'{x:.1f}' for x in load_after)}; "
        f"{(time.time() - t0) / 60:.0f} min in all.",
        "",
        "ms per call, median; in brackets the one-thread floor's median over the cell's "
        "(above 1.00x: faster than one thread); `ours vs best floor` is the best plain-PyAV "
        "column's median over ours (above 1.00x: ours is faster).",
        "",
        *tables,
    ]
    Path(out).write_text("\n".join(text) + "\n")
    print("\n".join(text))


def _table(name: str, rows: list[tuple[str, dict[str, list[float]]]]) -> list[str]:
    heads = [*MODES, "ours"]
    out = [
        f"## {name}",
        "",
        "| workload | " + " | ".join(heads) + " | ours vs best floor |",
        "|---|" + "---|" * (len(heads) + 1),
    ]
    for wl_name, times in rows:
        med = {k: statistics.median(v) for k, v in times.items()}
        best = min(med[m] for m in MODES)
        cells = [f"{med[k] * 1e3:.2f} ({med['one thread'] / med[k]:.2f}x)" for k in heads]
        out.append(f"| {wl_name} | " + " | ".join(cells) + f" | {best / med['ours']:.2f}x |")
    return [*out, ""]


def _slices(path: Path) -> int:
    import mediaref_av

    with mediaref_av.open(path) as video:
        return video.index.data.slices


def _version() -> str:
    from importlib.metadata import version

    return version("mediaref-av")


if __name__ == "__main__":
    sys.exit(main())
