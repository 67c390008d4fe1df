"""The floor, not a peer: plain PyAV with everything already open, one codec threading.

Per file, on first use: its packet index (``_floor.Stream``: one demux pass), an open
container and one reused swscale context (``_floor.Floor``), kept across calls; the
warm-up pays them, as ours pays its index. A call decodes exactly from the keyframe each
wanted frame needs to the last wanted frame (runs merged where they touch), and converts
the wanted frames to RGB. ARG is the codec threading (``_floor.THREADINGS``): ``1`` one
thread, ``slice`` / ``frame`` slice or frame threads (2), ``auto`` FFmpeg's choice
(thread_count 0).

An item's frame index (the played-at rule's, over the oracle's display-ordered frames)
picks the pts to decode: ``Stream.shown[index]``. The first call on a file checks that
this index space is the oracle's: every item's timestamp lies in its frame's display
interval, ``pts_to_ns(shown[i]) <= t < pts_to_ns(shown[i + 1])``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _common import Item, per_file, versions
from _floor import THREADINGS, Floor, Stream

LABELS = {
    "1": "one thread",
    "slice": "slice threads (2)",
    "frame": "frame threads (2)",
    "auto": "FFmpeg auto threads",
}


class Adapter:
    def __init__(self, mode: str) -> None:
        import av  # noqa: F401  fail at start, not at the first call, without PyAV

        self.how = THREADINGS[mode]
        self.label = f"floor: plain PyAV kept open, {LABELS[mode]}"
        self.floors: dict[str, Floor] = {}

    def versions(self) -> dict[str, str]:
        return versions("av", "numpy")

    def counters(self) -> dict[str, int]:
        """Packets sent to the decoder, all files (``frames_decoded``, as ours reports)."""
        return {"frames_decoded": sum(f.decoded for f in self.floors.values())}

    def _floor(self, path: str, items: list[Item]) -> Floor:
        f = self.floors.get(path)
        if f is None:
            f = Floor(Path(path), Stream(Path(path)), *self.how)
            _check_index(f, items)
            self.floors[path] = f
        return f

    def video_call(self, files: list[str], items: list[Item]) -> list[Any]:
        def decode(fi: int, its: list[Item]) -> list[Any]:
            f = self._floor(files[fi], its)
            return f.frames([f.s.shown[i] for _, _, i in its])

        return per_file(items, decode)


def _check_index(f: Floor, items: list[Item]) -> None:
    """The harness's frame indices are this file's display order (raise if not)."""
    from mediaref.timeline import pts_to_ns

    tb = f.stream.time_base
    assert tb is not None
    shown = f.s.shown
    if len(set(shown)) != len(shown):
        raise AssertionError(f"{f.container.name}: two packets share a pts")
    for _, t, i in items:
        if not 0 <= i < len(shown):
            raise AssertionError(f"frame {i} asked, the file has {len(shown)} packets")
        start = pts_to_ns(shown[i], tb)
        nxt = pts_to_ns(shown[i + 1], tb) if i + 1 < len(shown) else None
        if t < start or (nxt is not None and t >= nxt):
            raise AssertionError(
                f"{f.container.name}: {t} ns is not in frame {i}'s interval "
                f"[{start}, {nxt}): the oracle's frames and the packets differ"
            )
