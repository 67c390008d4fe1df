"""The floor: plain PyAV decoding a file with everything already open.

The cost of a frame is the decoding from its group's keyframe up to it. ``Floor`` does
exactly that per request, with the file's packet index (``Stream``), its container and
one swscale context kept open across calls, under one FFmpeg codec threading
(``THREADINGS``). Used by the world bench's floor contestants (``pyav_floor.py``), by
``bench/floor.py`` and by ``bench/percall.py``.
"""

from __future__ import annotations

import bisect
import itertools
from pathlib import Path
from typing import Any

# name -> (codec context thread_type, thread_count); one thread ignores the type.
THREADINGS = {
    "1": ("NONE", 1),
    "slice": ("SLICE", 2),
    "frame": ("FRAME", 2),
    "auto": ("AUTO", 0),
}


class Stream:
    """The packets of a file's video stream: pts/dts in decode order, keyframes, display order."""

    def __init__(self, path: Path) -> None:
        import av

        with av.open(str(path)) as c:
            s = c.streams.video[0]
            rows = [(p.pts, p.dts, p.is_keyframe) for p in c.demux(s) if p.size]
            self.codec = s.codec_context.name
        self.pts = [r[0] for r in rows]
        self.dts = [r[1] if r[1] is not None else r[0] for r in rows]
        self.keys = [d for d, r in enumerate(rows) if r[2]]
        self.shown = sorted(self.pts)
        self.dpos = {p: d for d, p in enumerate(self.pts)}
        self.bframes = any(a > b for a, b in zip(self.pts, self.pts[1:], strict=False))
        self.gop = max(b - a for a, b in zip(self.keys, [*self.keys[1:], len(rows)], strict=True))

    def start_of(self, pts: int) -> int:
        """The decode position of the keyframe to start from for the frame at `pts`."""
        d = self.dpos[pts]
        k = bisect.bisect_right(self.keys, d) - 1
        if k > 0 and pts < self.pts[self.keys[k]]:  # a leading picture of an open GOP
            k -= 1
        return self.keys[max(k, 0)]

    def runs(self, wanted: list[int]) -> list[tuple[int, int, set[int]]]:
        """(keyframe, last packet, pts wanted) per decode run, merged where runs touch."""
        by: dict[int, set[int]] = {}
        for p in wanted:
            by.setdefault(self.start_of(p), set()).add(p)
        out: list[tuple[int, int, set[int]]] = []
        for start, ps in sorted(by.items()):
            stop = max(self.dpos[p] for p in ps)
            if out and start <= out[-1][1] + 1:
                a, b, qs = out[-1]
                out[-1] = (a, max(b, stop), qs | ps)
            else:
                out.append((start, stop, set(ps)))
        return out


class Floor:
    """A plain PyAV decoder of one file with one codec threading, kept open across calls."""

    def __init__(self, path: Path, stream: Stream, thread_type: str, threads: int) -> None:
        import av
        from av.video.reformatter import VideoReformatter

        self.s = stream
        self.container = av.open(str(path))
        self.stream = self.container.streams.video[0]
        cc = self.stream.codec_context
        if threads == 1:
            cc.thread_count = 1
        else:
            cc.thread_type = thread_type
            cc.thread_count = threads
        self.reformatter = VideoReformatter()
        self.decoded = 0

    def frames(self, wanted: list[int]) -> list[Any]:
        """Decode the frames at `wanted` (pts), run by run; return them in the order asked."""
        cc, s = self.stream.codec_context, self.s
        got: dict[int, Any] = {}
        for start, stop, ps in s.runs(wanted):
            sent = 0
            for pkt in self._seek(start):
                if not pkt.size:
                    break
                d = s.dpos.get(pkt.pts) if pkt.pts is not None else None
                if d is None or d < start:
                    continue  # before the keyframe: read, never decoded
                self._take(cc.decode(pkt), ps, got)
                sent += 1
                if d >= stop or ps <= got.keys():
                    break
            if not ps <= got.keys():
                self._take(cc.decode(None), ps, got)
            self.decoded += sent
            cc.flush_buffers()
        return [got[p] for p in wanted]

    def _seek(self, start: int) -> Any:
        """Packets from the keyframe at decode position `start` (seek by pts, else by dts).

        MP4 seeks by presentation time and Matroska by its cues, so a seek to the key's pts
        lands on it where a seek to its dts may land a GOP early and read a GOP for
        nothing; a demuxer that overshoots is sought again by dts.
        """
        s, cc = self.s, self.stream.codec_context
        for target in (s.pts[start], min(s.pts[start], s.dts[start])):
            self.container.seek(target, stream=self.stream, backward=True)
            cc.flush_buffers()
            packets = self.container.demux(self.stream)
            first = next(packets, None)
            d = s.dpos.get(first.pts) if first is not None and first.pts is not None else None
            if d is not None and d <= start:
                return itertools.chain([first], packets)
        raise AssertionError(f"cannot seek to packet {start}")

    def _take(self, frames: list[Any], ps: set[int], got: dict[int, Any]) -> None:
        for f in frames:
            if f.pts in ps and f.pts not in got:
                # One swscale thread, as ours: faster at these sizes, and callgrind
                # (percall.py) then counts the conversion's work in the calling thread.
                arr = self.reformatter.reformat(f, format="rgb24", threads=1).to_ndarray()
                got[f.pts] = arr
