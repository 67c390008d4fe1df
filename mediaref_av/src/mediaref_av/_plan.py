"""The least decoding work for a request: frames -> the keyframes to start from -> decode runs.

Decoding frame *k* costs every packet from the keyframe that starts its group of pictures
(in decode order) up to *k*. A run is one seek to a keyframe followed by decoding every
packet up to the last needed one; groups whose runs touch are merged into one run, so the
decoder keeps going instead of seeking (which flushes its pipeline). The number of packets
in the runs is the minimal number of frames to decode for the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ._index import Index

__all__ = ["Run", "groups", "minimal_frame_count", "plan", "split", "start_of"]


class Run(NamedTuple):
    """Decode packets ``start .. stop`` (decode order, inclusive) to get `frames`."""

    start: int
    """Decode position of the keyframe (or the stream's first packet) to start from."""
    stop: int
    """Decode position of the last packet needed."""
    frames: frozenset[int]
    """Frames (presentation order) the run must deliver."""

    @property
    def packets(self) -> int:
        """Packets the run decodes."""
        return self.stop - self.start + 1


def start_of(index: Index, frame: int) -> int:
    """Return the decode position to start decoding from to get `frame` right.

    The last keyframe at or before the frame in decode order, except for a frame shown
    before that keyframe (a leading picture of an open GOP), which may reference the
    previous group and so starts from the keyframe before.
    """
    keys = index.key_dpos
    d = int(index.frame_dpos[frame])
    p = int(keys.searchsorted(d, side="right")) - 1
    if p <= 0:
        return 0
    key_pts = index.pts_of(int(keys[p]))
    if key_pts is not None and int(index.frame_pts[frame]) < key_pts:
        p -= 1
    return int(keys[p]) if p > 0 else 0


def groups(index: Index, frames: Iterable[int]) -> list[Run]:
    """Return one run per start point, unmerged, sorted by start (duplicates planned once)."""
    by_start: dict[int, list[int]] = {}
    for f in set(frames):
        by_start.setdefault(start_of(index, f), []).append(f)
    return [
        Run(start, max(int(index.frame_dpos[f]) for f in fs), frozenset(fs))
        for start, fs in sorted(by_start.items())
    ]


def _merge(runs: list[Run], *, touching: bool) -> list[Run]:
    out: list[Run] = []
    gap = 1 if touching else 0
    for run in runs:
        if out and run.start <= out[-1].stop + gap:
            prev = out[-1]
            out[-1] = Run(prev.start, max(prev.stop, run.stop), prev.frames | run.frames)
        else:
            out.append(run)
    return out


def plan(index: Index, frames: Iterable[int]) -> list[Run]:
    """Return the runs that decode each of `frames` once, with the fewest packets decoded.

    Runs that overlap or touch are merged, so the decoder continues instead of seeking.
    Runs come in decode order.
    """
    return _merge(groups(index, frames), touching=True)


def split(index: Index, frames: Iterable[int], parts: int, min_packets: int) -> list[set[int]]:
    """Partition `frames` into at most `parts` sets that decode independently, in parallel.

    Cuts fall only between runs that do not overlap, so no packet is decoded twice; each
    part gets about the same number of packets (a run goes to the part that holds its
    middle packet). Fewer than `min_packets` packets in all stay in one part.
    """
    wanted = set(frames)
    if parts <= 1 or len(wanted) < 2:
        return [wanted]
    blocks = _merge(groups(index, wanted), touching=False)
    total = sum(b.packets for b in blocks)
    if parts <= 1 or len(blocks) < 2 or total < min_packets:
        return [set().union(*(b.frames for b in blocks))]
    parts = min(parts, len(blocks))
    out: list[set[int]] = [set()]
    done = 0
    for b in blocks:
        if out[-1] and len(out) < parts and done + b.packets / 2 > total * len(out) / parts:
            out.append(set())
        out[-1].update(b.frames)
        done += b.packets
    return out


def minimal_frame_count(index: Index, frames: Iterable[int]) -> int:
    """Return the number of packets the minimal plan decodes for `frames`."""
    return sum(run.packets for run in plan(index, frames))
