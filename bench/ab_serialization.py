"""Paired A/B of MediaRef construction and JSON decoding between two checkouts of the core.

    for i in 1 2 3 4 5; do
      echo "old $(PYTHONPATH=OLD/mediaref_core/src python bench/ab_serialization.py)" \
           "new $(python bench/ab_serialization.py)"
    done

Prints ns per reference (median of 7 passes over 200,000 refs): construct, JSON decode.
Alternating old/new processes cancels most of a busy machine's drift.
"""

import statistics
import time

import msgspec

from mediaref import MediaRef

N = 200_000
URIS = [f"episode_{i % 50}.mkv" for i in range(N)]
PTS = [i * 33_333_333 for i in range(N)]
BLOB = msgspec.json.encode([MediaRef(u, p) for u, p in zip(URIS, PTS, strict=True)])
DECODER = msgspec.json.Decoder(list[MediaRef])


def construct() -> float:
    t = time.perf_counter_ns()
    [MediaRef(u, p) for u, p in zip(URIS, PTS, strict=True)]
    return (time.perf_counter_ns() - t) / N


def decode() -> float:
    t = time.perf_counter_ns()
    DECODER.decode(BLOB)
    return (time.perf_counter_ns() - t) / N


if __name__ == "__main__":
    c = statistics.median(construct() for _ in range(7))
    d = statistics.median(decode() for _ in range(7))
    print(f"{c:.1f} {d:.1f}")
