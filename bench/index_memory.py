"""Bytes per packet of an in-memory packet index (`mediaref_av._index.Index`), 200k packets.

Builds a synthetic H.264-like stream description (GOP 60, 2 B-frames, packets of varied
sizes and positions) and measures, with tracemalloc, what the `Index` and the data it
keeps cost. Run: python bench/index_memory.py [packets]
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc

import msgspec

from mediaref_av import _index


def synthetic(n: int) -> _index.IndexData:
    pts, dts, key = [], [], []
    for d in range(n):
        dts.append(d * 512 - 1024)
        # GOP 61 in decode order I (P B B) x 20, shown as I (B B P) x 20
        j = d % 61
        shift = 0 if j == 0 else (2, -1, -1)[(j - 1) % 3]
        pts.append((d + shift) * 512)
        key.append(j == 0)
    extra = {}
    if "pos" in _index.IndexData.__struct_fields__:
        extra = {
            "pos": [4000 + 13_000 * d + d % 7 for d in range(n)],
            "size": [13_000 + d % 977 for d in range(n)],
        }
    return _index.IndexData(
        stream_index=0,
        time_base=(1, 15360),
        codec="h264",
        width=640,
        height=360,
        pixel_format="yuv420p",
        rotation=0,
        pts=pts,
        dts=dts,
        key=key,
        duration=[512] * n,
        discard=[False] * n,
        default_duration=(1, 30),
        **extra,
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = synthetic(n)
    blob = msgspec.msgpack.encode(data)
    del data
    gc.collect()
    t0 = time.perf_counter()
    _index.Index(msgspec.msgpack.decode(blob, type=_index.IndexData))
    built = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    idx = _index.Index(msgspec.msgpack.decode(blob, type=_index.IndexData))
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"packets: {n}, frames: {idx.num_frames}")
    print(
        f"in memory: {current / n:.1f} B/packet ({current / 2**20:.1f} MiB), "
        f"peak while loading {peak / n:.1f} B/packet"
    )
    print(
        f"load from msgpack + Index(): {built * 1000:.0f} ms; on disk: {len(blob) / n:.1f} B/packet"
    )


if __name__ == "__main__":
    main()
