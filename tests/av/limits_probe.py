"""Open a video in a fresh process; print its outcome and peak RSS as JSON.

Usage: ``python limits_probe.py VIDEO MAX_VIDEO_PIXELS``. Used by test_av_limits.py:
the peak RSS (``VmHWM``) of a process that only imports counts as its baseline.
"""

from __future__ import annotations

import json
import sys


def _peak_mb() -> float:
    # VmHWM, not ru_maxrss: that one keeps the parent's peak across exec.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def main() -> None:
    import av  # noqa: F401  (what decoding needs is loaded before the baseline)
    import numpy  # noqa: F401

    import mediaref
    import mediaref_av
    from mediaref_av import _decoder  # noqa: F401

    if hasattr(mediaref.limits, "max_video_pixels"):  # (also runs on code without it)
        mediaref.limits.max_video_pixels = int(sys.argv[2])
    baseline = _peak_mb()
    try:
        with mediaref_av.open(sys.argv[1]) as video:
            frame = video.frames_at([0])[0]
        outcome = f"frame {frame.shape}"
    except mediaref.MediaRefError as e:
        outcome = f"{type(e).__name__}: {e}"
    c = mediaref_av.counters()
    print(
        json.dumps(
            {
                "outcome": outcome,
                "baseline_mb": baseline,
                "peak_mb": _peak_mb(),
                "frames_decoded": c.frames_decoded,
            }
        )
    )


if __name__ == "__main__":
    main()
