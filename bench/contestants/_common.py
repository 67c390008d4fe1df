"""Helpers shared by the adapters (stdlib only; numpy where frames are handled)."""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any

Item = tuple[int, int, int]  # (file index, pts_ns, frame index by the rule)


def versions(*dists: str) -> dict[str, str]:
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            out[d] = "not installed"
    import platform

    out["python"] = platform.python_version()
    return out


def group_by_file(items: Sequence[Item]) -> dict[int, list[int]]:
    """File index -> positions in `items`, in first-seen order."""
    groups: dict[int, list[int]] = {}
    for pos, (fi, _, _) in enumerate(items):
        groups.setdefault(fi, []).append(pos)
    return groups


def per_file(items: Sequence[Item], decode: Callable[[int, list[Item]], list[Any]]) -> list[Any]:
    """Call `decode(file_index, items_of_that_file)` once per file; keep input order."""
    out: list[Any] = [None] * len(items)
    for fi, positions in group_by_file(items).items():
        frames = decode(fi, [items[p] for p in positions])
        for p, f in zip(positions, frames, strict=True):
            out[p] = f
    return out


def serial_data(n: int) -> list[tuple[str, int | None]]:
    """n (uri, pts_ns): 90% video frames over 500 episodes, 10% images."""
    data: list[tuple[str, int | None]] = []
    for i in range(n):
        if i % 10 == 9:
            data.append((f"/data/images/img_{i:07d}.png", None))
        else:
            data.append((f"/data/episodes/ep_{i % 500:04d}.mkv", (i // 500) * 50_000_000 + 1))
    return data


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    import gc

    gc.collect()
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def msgspec_serialization(cls: type, n: int, reps: int) -> dict[str, Any]:
    """construct / JSON / MessagePack timings (ns per ref) for a msgspec Struct type."""
    import msgspec

    data = serial_data(n)
    jenc, menc = msgspec.json.Encoder(), msgspec.msgpack.Encoder()
    jdec, mdec = msgspec.json.Decoder(list[cls]), msgspec.msgpack.Decoder(list[cls])
    res: dict[str, list[float]] = {
        k: []
        for k in ("construct", "json_encode", "json_decode", "msgpack_encode", "msgpack_decode")
    }
    jb = mb = b""
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        refs = [cls(uri=u, pts_ns=t) for u, t in data]
        t1 = time.perf_counter()
        jb = jenc.encode(refs)
        t2 = time.perf_counter()
        back = jdec.decode(jb)
        t3 = time.perf_counter()
        assert back == refs
        del back
        gc.collect()
        t4 = time.perf_counter()
        mb = menc.encode(refs)
        t5 = time.perf_counter()
        back = mdec.decode(mb)
        t6 = time.perf_counter()
        assert back == refs
        del back, refs
        for k, d in (
            ("construct", t1 - t0),
            ("json_encode", t2 - t1),
            ("json_decode", t3 - t2),
            ("msgpack_encode", t5 - t4),
            ("msgpack_decode", t6 - t5),
        ):
            res[k].append(d * 1e9 / n)
    return {
        "ns_per_ref": res,
        "json_sha": hashlib.sha1(jb).hexdigest()[:12],
        "json_sample": jb[:120].decode(),
        "msgpack_sha": hashlib.sha1(mb).hexdigest()[:12],
        "json_image_ref": jenc.encode(cls(uri="img.png", pts_ns=None)).decode(),
    }
