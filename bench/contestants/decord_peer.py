"""decord: `VideoReader(path).get_batch(indices)`, indices computed by the frame rule.

One reader per file, kept across calls. decord takes frame indices, not times; the
harness gives each timestamp's index by the rule (as a careful user would compute it
from the stream's pts list).
"""

from __future__ import annotations

from typing import Any

from _common import Item, per_file, versions


class Adapter:
    label = "decord"

    def __init__(self) -> None:
        import decord

        self.decord = decord
        self.readers: dict[str, Any] = {}

    def versions(self) -> dict[str, str]:
        return versions("decord", "numpy")

    def _vr(self, path: str) -> Any:
        vr = self.readers.get(path)
        if vr is None:
            vr = self.decord.VideoReader(path, ctx=self.decord.cpu(0))
            self.readers[path] = vr
        return vr

    def video_call(self, files: list[str], items: list[Item]) -> list[Any]:
        if len(items) == 1:
            fi, _, idx = items[0]
            return [self._vr(files[fi])[idx].asnumpy()]

        def decode(fi: int, its: list[Item]) -> list[Any]:
            arr = self._vr(files[fi]).get_batch([idx for _, _, idx in its]).asnumpy()
            return [arr[k] for k in range(len(its))]

        return per_file(items, decode)
