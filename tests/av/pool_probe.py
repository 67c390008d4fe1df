"""One 200-frame call, then small calls; print held RSS and the pool's bytes as JSON.

Usage: ``python pool_probe.py VIDEO``; run in a fresh process by test_av_buffers.py.
Held RSS is read after ``gc.collect()`` and ``malloc_trim(0)``: memory really held.
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys


def _held_mb() -> float:
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def main() -> None:
    import mediaref_av
    from mediaref_av import _buffers, _stepping

    # What this measures must not depend on the machine's load: no decoding ahead (it
    # would hold a converted frame of its own), and the pool's clock stands still (a slow
    # 200-frame call must not count as an idle period); the request-count rule remains.
    _stepping._IDLE = float("inf")
    _buffers._clock = lambda: 0.0

    with mediaref_av.open(sys.argv[1]) as video:
        n = video.metadata.num_frames
        video.frames_at([0])  # warm: codec, converter, one pooled block
        baseline = (_held_mb(), _buffers.held_bytes())
        video.frames_at(list(range(n)))  # returned, then dropped at once
        big = (_held_mb(), _buffers.held_bytes())
        for i in range(_buffers._RECENT):
            video.frames_at([i])
        after = (_held_mb(), _buffers.held_bytes())
    print(json.dumps({"frames": n, "baseline": baseline, "big": big, "after": after}))


if __name__ == "__main__":
    main()
