"""Paired A/B of MediaRef construction and JSON decoding between two checkouts of the core.

    for i in 1 2 3 4 5; do
      echo "old $(PYTHONPATH=OLD/mediaref_core/src python bench/ab_serialization.py)" \
           "new $(python bench/ab_serialization.py)"
    done

Prints ns per reference (median of 7 passes over 200,000 refs): construct, JSON decode.
Alternating old/new processes cancels most of a busy machine's drift.
"""

import sys, time, statistics
import msgspec
from mediaref import MediaRef
n = 200_000
uris = [f"episode_{i % 50}.mkv" for i in range(n)]
pts = [i * 33_333_333 for i in range(n)]
refs = [MediaRef(u, p) for u, p in zip(uris, pts)]
blob = msgspec.json.encode(refs)
dec = msgspec.json.Decoder(list[MediaRef])
def construct():
    t = time.perf_counter_ns(); [MediaRef(u, p) for u, p in zip(uris, pts)]; return (time.perf_counter_ns() - t) / n
def decode():
    t = time.perf_counter_ns(); dec.decode(blob); return (time.perf_counter_ns() - t) / n
c = [construct() for _ in range(7)]; d = [decode() for _ in range(7)]
print(f"{statistics.median(c):.1f} {statistics.median(d):.1f}")
