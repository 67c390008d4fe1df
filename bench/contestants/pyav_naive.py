"""Plain PyAV as a straightforward user writes it: per timestamp, open, seek, decode.

For each timestamp: open the file, seek to the keyframe at or before it, decode until
the frame after it, return the last frame with pts <= t as RGB (`to_ndarray`). Integer
tick arithmetic, so it is correct; it is the baseline for "no planner at all".
Also the plain Pillow loop for the image suite.
"""

from __future__ import annotations

from typing import Any

from _common import Item, versions


class Adapter:
    label = "plain PyAV / Pillow (naive loop)"

    def __init__(self) -> None:
        import av
        import numpy as np

        self.av = av
        self.np = np

    def versions(self) -> dict[str, str]:
        return versions("av", "pillow", "numpy")

    def _one(self, path: str, t_ns: int) -> Any:
        with self.av.open(path) as c:
            s = c.streams.video[0]
            tb = s.time_base
            target = t_ns * tb.denominator // (tb.numerator * 1_000_000_000)
            c.seek(target, stream=s, backward=True, any_frame=False)
            prev = None
            for f in c.decode(s):
                if f.pts > target:
                    if prev is not None:
                        break
                    continue
                prev = f
            return prev.to_ndarray(format="rgb24")

    def video_call(self, files: list[str], items: list[Item]) -> list[Any]:
        return [self._one(files[fi], t) for fi, t, _ in items]

    def images(self, paths: list[str]) -> list[Any]:
        from PIL import Image

        out = []
        for p in paths:
            with Image.open(p) as im:
                out.append(self.np.asarray(im.convert("RGB")))
        return out
