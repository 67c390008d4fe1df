"""Per-call cost at the floor, in instructions: ours above plain PyAV for one keyframe.

    .venv/bin/python bench/percall.py [--calls 30]

Runs this file under ``valgrind --tool=callgrind`` once per medium: it sets up both
contestants (imports, the index, containers opened and warmed by two calls each), then
makes N calls of plain PyAV (seek to a keyframe, decode it, convert it with one reused
swscale context, one codec thread, everything already open) and N calls of
``MediaRef(uri, pts).to_ndarray()`` on the same keyframes, each loop inside its own
``functools.reduce`` call: callgrind counts only inside those (``--toggle-collect``) and
writes one part per loop (``--dump-after``). Instruction counts do not depend on the
machine's load, unlike times on a shared machine: ours minus plain PyAV is what our
routing, option handling, source identity checks, planning and conversion add to the
work FFmpeg must do. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import functools
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ffmpeg_clip import ffmpeg_clip

MEDIA = {"AV1 640x480 (LeRobot)": ("av1", 640, 480), "H.264 640x360": ("h264", 640, 360)}


def _child(path: str, calls: int) -> None:
    """Set up both contestants, then make `calls` calls of each, one loop per reduce."""
    from floor import Floor, Stream
    from mediaref import MediaRef
    from mediaref.timeline import pts_to_ns

    s = Stream(Path(path))
    floor = Floor(Path(path), s, "NONE", 1)
    import av

    with av.open(path) as c:
        tb = c.streams.video[0].time_base
    assert tb is not None
    rng = random.Random(4)
    keys = [s.pts[s.keys[rng.randrange(len(s.keys))]] for _ in range(calls + 2)]

    def plain(_: Any, p: int) -> None:
        floor.frames([p])

    def ours(_: Any, p: int) -> None:
        # One codec thread, as plain: callgrind counts only the calling thread's work.
        MediaRef(path, pts_to_ns(p, tb)).to_ndarray(threads=1)

    for p in keys[:2]:  # both warmed up: containers, converters, caches
        plain(None, p)
        ours(None, p)
    functools.reduce(plain, keys[2:], None)
    functools.reduce(ours, keys[2:], None)


def _instructions(path: Path, calls: int) -> tuple[int, int]:
    """Instructions of the plain loop and of ours."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                "--dump-after=functools_reduce",
                sys.executable,
                __file__,
                "--child",
                str(path),
                str(calls),
            ],
            check=True,
            capture_output=True,
        )
        # One part per functools.reduce call: the last two are ours (imports make others).
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda f: int(f.suffix[1:]))
        parts = []
        for dump in dumps[-2:]:
            m = re.search(r"^summary: (\d+)", dump.read_text(), re.M)
            assert m is not None
            parts.append(int(m.group(1)))
        return parts[0], parts[1]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    print("| media | plain PyAV, instructions per call | ours | ours above plain |")
    print("|---|---|---|---|")
    for name, (recipe, w, h) in MEDIA.items():
        path = ffmpeg_clip(recipe, w, h, args.seconds)
        plain, ours = (n / args.calls for n in _instructions(path, args.calls))
        print(f"| {name} | {plain / 1e6:.2f} M | {ours / 1e6:.2f} M | {ours / plain - 1:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
