"""Per-call cost at the floor, in instructions: ours above plain PyAV for one keyframe.

    .venv/bin/python bench/percall.py [--calls 40]

Runs this file under ``valgrind --tool=callgrind`` three times: setup only (imports,
the index, containers opened and warmed by both contestants), setup + N calls of plain
PyAV (seek to a keyframe, decode it, convert it with one reused swscale context, on one
thread), setup + N calls of ``MediaRef(uri, pts).to_ndarray()`` on the same keyframes.
The instructions above setup, per call, are load-independent (unlike times on a shared
machine): ours minus plain PyAV is what our routing, option handling, source identity
checks, planning and conversion add to the work FFmpeg must do. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ffmpeg_clip import ffmpeg_clip

MEDIA = {"AV1 640x480 (LeRobot)": ("av1", 640, 480), "H.264 640x360": ("h264", 640, 360)}


def _child(path: str, mode: str, calls: int) -> None:
    """Set up both contestants, then make `calls` calls of `mode` (none for ``setup``)."""
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

    def ours(p: int) -> Any:
        return MediaRef(path, pts_to_ns(p, tb)).to_ndarray()

    for p in keys[:2]:  # both warmed up: containers, converters, caches
        floor.frames([p])
        ours(p)
    fn = {"setup": None, "plain": lambda p: floor.frames([p]), "ours": ours}[mode]
    if fn is not None:
        for p in keys[2:]:
            fn(p)


def _instructions(path: Path, mode: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                str(path),
                mode,
                str(calls),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        m = re.search(r"^summary: (\d+)", out.read_text(), re.M)
        assert m is not None
        return int(m.group(1))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    print("| media | plain PyAV, instructions per call | ours | ours above plain |")
    print("|---|---|---|---|")
    for name, (recipe, w, h) in MEDIA.items():
        path = ffmpeg_clip(recipe, w, h, args.seconds)
        base = _instructions(path, "setup", args.calls)
        plain = (_instructions(path, "plain", args.calls) - base) / args.calls
        ours = (_instructions(path, "ours", args.calls) - base) / args.calls
        print(f"| {name} | {plain / 1e6:.2f} M | {ours / 1e6:.2f} M | {ours / plain - 1:+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
