"""PyPI `mediaref` 2.1.0 (open-world-agents): `batch_decode(refs, decoder=...)`.

ARG is the video decoder: ``tensorcodec`` (its default) or ``pyav``.
"""

from __future__ import annotations

import gc
import hashlib
import time
from typing import Any

from _common import Item, serial_data, versions


class Adapter:
    def __init__(self, decoder: str = "tensorcodec") -> None:
        import mediaref

        self.mr = mediaref
        self.decoder = decoder
        self.label = f"PyPI mediaref 2.1 ({decoder})"

    def versions(self) -> dict[str, str]:
        return versions(
            "mediaref", "tensorcodec", "tensorcodec-av", "av", "pydantic", "numpy", "pillow"
        )

    def video_call(self, files: list[str], items: list[Item]) -> list[Any]:
        MediaRef = self.mr.MediaRef
        if len(items) == 1:
            fi, t, _ = items[0]
            return [MediaRef(uri=files[fi], pts_ns=t).to_ndarray(decoder=self.decoder)]
        refs = [MediaRef(uri=files[fi], pts_ns=t) for fi, t, _ in items]
        return self.mr.batch_decode(refs, decoder=self.decoder, allow_multi_video=True)

    def images(self, paths: list[str]) -> list[Any]:
        MediaRef = self.mr.MediaRef
        return self.mr.batch_decode([MediaRef(uri=p) for p in paths], allow_images=True)

    def serialization(self, n: int, reps: int) -> dict[str, Any]:
        from pydantic import TypeAdapter

        MediaRef = self.mr.MediaRef
        ta = TypeAdapter(list[MediaRef])
        data = serial_data(n)
        res: dict[str, list[float]] = {"construct": [], "json_encode": [], "json_decode": []}
        jb = b""
        for _ in range(reps):
            gc.collect()
            t0 = time.perf_counter()
            refs = [MediaRef(uri=u, pts_ns=t) for u, t in data]
            t1 = time.perf_counter()
            jb = ta.dump_json(refs)
            t2 = time.perf_counter()
            back = ta.validate_json(jb)
            t3 = time.perf_counter()
            assert back == refs
            del back, refs
            for k, d in (
                ("construct", t1 - t0),
                ("json_encode", t2 - t1),
                ("json_decode", t3 - t2),
            ):
                res[k].append(d * 1e9 / n)
        return {
            "ns_per_ref": res,
            "json_sha": hashlib.sha1(jb).hexdigest()[:12],
            "json_sample": jb[:120].decode(),
            "json_image_ref": MediaRef(uri="img.png").model_dump_json(),
            "note": "no MessagePack API (Pydantic model)",
        }
