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

import numpy as np

from ._index import Index

__all__ = ["Run", "minimal_frame_count", "plan", "start_of"]


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
    p = int(np.searchsorted(keys, d, side="right")) - 1
    if p <= 0:
        return 0
    key_pts = index.data.pts[int(keys[p])]
    if key_pts is not None and index.frame_pts[frame] < key_pts:
        p -= 1
    return int(keys[p]) if p > 0 else 0


def plan(index: Index, frames: Iterable[int]) -> list[Run]:
    """Return the runs that decode each of `frames` once, with the fewest packets decoded.

    Duplicate frames are planned once. Runs come in decode order.
    """
    groups: dict[int, list[int]] = {}
    for f in set(frames):
        groups.setdefault(start_of(index, f), []).append(f)
    runs: list[Run] = []
    for start in sorted(groups):
        fs = groups[start]
        stop = max(int(index.frame_dpos[f]) for f in fs)
        if runs and start <= runs[-1].stop + 1:
            prev = runs[-1]
            runs[-1] = Run(prev.start, max(prev.stop, stop), prev.frames | frozenset(fs))
        else:
            runs.append(Run(start, stop, frozenset(fs)))
    return runs


def minimal_frame_count(index: Index, frames: Iterable[int]) -> int:
    """Return the number of packets the minimal plan decodes for `frames`."""
    return sum(run.packets for run in plan(index, frames))
