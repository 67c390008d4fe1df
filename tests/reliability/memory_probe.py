"""Decode from short-lived threads and print held RSS samples as JSON (run in a fresh process).

``python memory_probe.py '{"files": [...], "times": [...], "warmup": 100, "batches": 400,
"every": 50}'``: each batch decodes 40 random frames over the files from a new
``ThreadPoolExecutor(2)``; samples are RSS after ``gc`` and ``malloc_trim(0)``.
"""

from __future__ import annotations

import ctypes
import gc
import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor

import mediaref_av


def _held() -> int:
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main(job: dict[str, object]) -> list[int]:
    files: list[str] = job["files"]  # type: ignore[assignment]
    times: list[int] = job["times"]  # type: ignore[assignment]
    rng = random.Random(3)

    def one(item: tuple[str, list[int]]) -> None:
        with mediaref_av.open(item[0]) as video:
            video.frames_played_at(item[1])

    def batch() -> None:
        picks: dict[str, list[int]] = {}
        for _ in range(40):
            picks.setdefault(rng.choice(files), []).append(rng.choice(times))
        with ThreadPoolExecutor(2) as pool:  # new threads for every batch
            list(pool.map(one, picks.items()))

    for _ in range(int(job["warmup"])):  # type: ignore[call-overload]
        batch()
    samples = [_held()]
    every = int(job["every"])  # type: ignore[call-overload]
    for i in range(1, int(job["batches"]) + 1):  # type: ignore[call-overload]
        batch()
        if i % every == 0:
            samples.append(_held())
    return samples


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
