"""Do one read in a fresh process and print, as JSON, what it gave and what it cost.

``python -m tests.reliability.bounded_probe JOB`` where JOB is JSON:

- ``{"read": "data-pct", "n": 30000000}``: ``data:image/png,`` + ``%00`` x n, read whole;
- ``{"read": "data-b64", "n": 30000000}``: n zero bytes as a base64 ``data:`` URI;
- ``{"read": "sources", "uris": [...]}``: each URI read whole, one after the other;
- ``{"read": "batch", "uris": [...]}``: the URIs as images in one
  ``batch_decode(on_error="return")`` (its threads read them at once);
- ``{"read": "frames", "refs": [[uri, pts_ns], ...], "warm": [[uri, pts_ns]]}``: one
  ``to_ndarray`` per reference, after decoding ``warm`` (codecs loaded); adds the packet
  index cache's entries and bytes, and ``held_before_mb`` / ``held_after_clear_mb``: RSS
  after gc and ``malloc_trim`` before the reads and after ``cleanup_cache()``;
- ``"limits": {"name": value}`` set in ``mediaref.limits`` first.

Prints ``{"outcomes": [[error type or "bytes", message or length], ...], "rss_before_mb",
"peak_mb", "seconds"}``: the peak is VmHWM after resetting it (``/proc/self/clear_refs``)
once the input is built, so it counts the read alone; ``"peak_reset": false`` when the
kernel refused the reset (then the peak includes building the input).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from typing import Any

import mediaref


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        return False
    return True


_PIXEL = (  # a 1x1 PNG
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC"
)


def _warm_up(batch: bool) -> None:
    # Plugins, codecs and thread pools are loaded before measuring: the peak is the read's.
    mediaref.open_source(_PIXEL).read_all()
    if batch:
        mediaref.batch_decode([mediaref.MediaRef(_PIXEL)] * 2)


def _outcome(fn: Any) -> list[object]:
    try:
        value = fn()
    except Exception as e:
        return [type(e).__name__, str(e)]
    return ["bytes", len(value)] if isinstance(value, bytes) else [type(value).__name__, ""]


def _inputs(job: dict[str, Any]) -> list[str]:
    n = int(job.get("n", 0))
    if job["read"] == "data-pct":
        return ["data:image/png," + "%00" * n]
    if job["read"] == "data-b64":
        return ["data:image/png;base64," + base64.b64encode(bytes(n)).decode()]
    return list(job["uris"])


def _held_mb() -> float:
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)
    return _status_mb("VmRSS")


def frames(job: dict[str, Any]) -> dict[str, Any]:
    """The ``"frames"`` job: decode each reference in turn; what stays held, and after clearing."""
    from mediaref_av import _index_cache

    for uri, pts_ns in job.get("warm", []):
        mediaref.MediaRef(uri, pts_ns).to_ndarray()
    held_before = _held_mb()
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    outcomes = [
        _outcome(lambda u=u, t=t: mediaref.MediaRef(u, t).to_ndarray()) for u, t in job["refs"]
    ]
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    cache = _index_cache.index_cache
    entries, nbytes = len(cache._lru), cache.nbytes
    mediaref.cleanup_cache()
    return {
        "outcomes": outcomes,
        "rss_before_mb": before,
        "peak_mb": peak,
        "peak_reset": reset,
        "seconds": seconds,
        "index_entries": entries,
        "index_bytes": nbytes,
        "held_before_mb": held_before,
        "held_after_clear_mb": _held_mb(),
    }


def main(job: dict[str, Any]) -> dict[str, Any]:
    for name, value in job.get("limits", {}).items():
        setattr(mediaref.limits, name, value)
    if job["read"] == "frames":
        return frames(job)
    _warm_up(job["read"] == "batch")
    uris = _inputs(job)
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    if job["read"] == "batch":
        refs = [mediaref.MediaRef(u) for u in uris]
        results = mediaref.batch_decode(refs, on_error="return")
        outcomes = [[type(r).__name__, str(r) if isinstance(r, Exception) else ""] for r in results]
    else:
        outcomes = [_outcome(lambda u=u: mediaref.open_source(u).read_all()) for u in uris]
    seconds = time.perf_counter() - t0
    return {
        "outcomes": outcomes,
        "rss_before_mb": before,
        "peak_mb": _status_mb("VmHWM"),
        "peak_reset": reset,
        "seconds": seconds,
    }


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
