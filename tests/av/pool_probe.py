"""One 200-frame call, then small calls; print held RSS and the pool's bytes as JSON.

Usage: ``python pool_probe.py VIDEO``; run in a fresh process by test_av_buffers.py.
``python pool_probe.py VIDEO idle``: through `batch_decode`, then no call at all: the
janitor's release runs (`run_once` at the end of the idle period) instead.
Held RSS is read after ``gc.collect()`` and ``malloc_trim(0)``: memory really held.
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys

import mediaref_av


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


def idle() -> None:
    import mediaref
    from mediaref import MediaRef, _janitor, batch_decode
    from mediaref_av import _buffers, _pool, _stepping

    _stepping._IDLE = float("inf")
    _buffers._clock = lambda: 0.0
    janitor = _janitor.janitor
    janitor.thread = False  # released below, when this process says
    with mediaref_av.open(sys.argv[1]) as video:
        starts = video.index.frame_ns.tolist()
    mediaref.cleanup_cache()
    refs = [MediaRef(sys.argv[1], t) for t in starts]
    batch_decode(refs[:1])  # warm
    baseline = (_held_mb(), _buffers.held_bytes())
    batch_decode(refs)  # returned, then dropped at once
    big = (_held_mb(), _buffers.held_bytes())
    assert mediaref.limits.idle_release_s
    released = janitor.run_once(janitor.clock() + mediaref.limits.idle_release_s)
    after = (_held_mb(), _buffers.held_bytes())
    print(
        json.dumps(
            {
                "frames": len(refs),
                "baseline": baseline,
                "big": big,
                "after": after,
                "released": released,
                "idle_containers": len(_pool._idle),
            }
        )
    )


if __name__ == "__main__":
    idle() if sys.argv[2:] == ["idle"] else main()
