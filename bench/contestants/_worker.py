"""The process every contestant runs in: ``<venv>/bin/python _worker.py ADAPTER [ARG]``.

It loads ``contestants/ADAPTER.py`` (class ``Adapter``), then answers one JSON job per
line on stdin with one JSON line on its private copy of stdout (fd 1 itself is pointed
at stderr, so a library that prints cannot corrupt the protocol).

Jobs (``op``):
- ``info``: name and versions of everything the contestant uses.
- ``video``: ``files`` and ``calls`` (each call a list of ``[file_index, pts_ns,
  frame_index]``); every call is timed on its own, the signatures of the returned frames
  are computed after the clock stops.
- ``images``: ``batches`` of file paths, one decode call per batch.
- ``serialization``: ``n`` references, ``reps`` repetitions of each operation.
- ``peak_reset`` / ``peak``: reset and read the peak RSS (VmHWM) and ``ru_maxrss``.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sig import signature


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def peak() -> dict[str, int]:
    return {
        "vm_hwm_kb": _status_kb("VmHWM"),
        "vm_rss_kb": _status_kb("VmRSS"),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def peak_reset() -> None:
    try:  # Linux >= 4.0: "5" resets VmHWM to the current RSS
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def compact_sig(frame: Any) -> list[Any]:
    s = signature(frame)
    return [s["code"], s["hash"], s["grid"], s["shape"]]


def run_video(ad: Any, job: dict[str, Any]) -> dict[str, Any]:
    files = job["files"]
    times, sigs, counters, errors = [], [], [], []
    has_counters = hasattr(ad, "counters")
    # Counters per call are differences of snapshots taken after each call's untimed
    # checks, so that work a decoder does in the background between calls is counted
    # (resetting them before each call lost it).
    last = ad.counters() if has_counters else None
    calls = [[tuple(x) for x in call] for call in job["calls"]]
    # An adapter with `video_stream` gets the job's calls as one stream of requests
    # (``iter_decode``): a call's time is the wait for its result.
    stream = ad.video_stream(files, calls) if hasattr(ad, "video_stream") else None
    for items in calls:
        gc.collect()
        t0 = time.perf_counter()
        try:
            frames = next(stream) if stream is not None else ad.video_call(files, items)
            dt = time.perf_counter() - t0
        except Exception as e:  # the harness records it; the worker lives on
            errors.append(f"{type(e).__name__}: {e}"[:500])
            times.append(None)
            sigs.append(None)
            counters.append(None)
            continue
        times.append(dt)
        frames = list(frames)
        if len(frames) != len(items):
            errors.append(f"returned {len(frames)} frames for {len(items)} timestamps")
        sigs.append([compact_sig(f) for f in frames])
        del frames
        if has_counters:
            now = ad.counters()
            counters.append({k: v - last.get(k, 0) for k, v in now.items()})
            last = now
    minimal = None
    if job.get("minimal") and hasattr(ad, "minimal_frames"):
        try:
            minimal = sum(ad.minimal_frames(files, [tuple(x) for x in c]) for c in job["calls"])
        except Exception as e:
            minimal = f"{type(e).__name__}: {e}"[:300]
    return {
        "times": times,
        "sigs": sigs,
        "counters": counters,
        "errors": errors,
        "minimal": minimal,
    }


def run_images(ad: Any, job: dict[str, Any]) -> dict[str, Any]:
    times, sigs, errors = [], [], []
    for batch in job["batches"]:
        gc.collect()
        t0 = time.perf_counter()
        try:
            frames = ad.images(batch)
            dt = time.perf_counter() - t0
        except Exception as e:
            errors.append(f"{type(e).__name__}: {e}"[:500])
            times.append(None)
            sigs.append(None)
            continue
        times.append(dt)
        sigs.append([compact_sig(f) for f in frames])
        del frames
    return {"times": times, "sigs": sigs, "errors": errors}


def main() -> None:
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    name = sys.argv[1]
    arg = sys.argv[2] if len(sys.argv) > 2 else None
    try:
        mod = importlib.import_module(name)
        ad = mod.Adapter(arg) if arg is not None else mod.Adapter()
        ready: dict[str, Any] = {"ok": True}
    except Exception as e:
        ad = None
        ready = {
            "ok": False,
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
        }
    out.write(json.dumps(ready) + "\n")
    for line in sys.stdin:
        job = json.loads(line)
        op = job["op"]
        try:
            if op == "exit":
                break
            if ad is None:
                raise RuntimeError(ready["error"])
            if op == "info":
                res: Any = {"versions": ad.versions(), "label": getattr(ad, "label", name)}
            elif op == "video":
                res = run_video(ad, job)
            elif op == "images":
                res = run_images(ad, job)
            elif op == "serialization":
                res = ad.serialization(job["n"], job["reps"])
            elif op == "peak_reset":
                peak_reset()
                res = peak()
            elif op == "peak":
                res = peak()
            else:
                raise ValueError(f"unknown op {op!r}")
            reply = {"ok": True, "result": res}
        except Exception as e:
            reply = {
                "ok": False,
                "error": f"{type(e).__name__}: {e}"[:1000],
                "traceback": traceback.format_exc()[-3000:],
            }
        out.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
