"""Video backends that decode well but select the wrong frame, to prove the kit catches them.

Registered in-process through a (monkeypatched) ``mediaref`` entry point; each wraps
mediaref-av's decoder and changes only *which* frame it returns.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from mediaref import ByteSource, VideoBackend, hookimpl
from mediaref.timeline import NS_PER_S, check_in_range


class _Reselecting:
    """mediaref-av's frames, chosen by `pick(decoder, pts_ns) -> frame index`."""

    def __init__(self, source: ByteSource, pick: Callable[[Any, int], int]) -> None:
        from mediaref_av import AVVideoDecoder

        self._inner = AVVideoDecoder(source)
        self._pick = pick

    @property
    def metadata(self) -> Any:
        return self._inner.metadata

    def frames_played_at(self, pts_ns: Sequence[int], *, format: str = "rgb") -> list[Any]:
        md = self._inner.metadata
        check_in_range(pts_ns, md.begin_ns, md.end_ns, uri=self._inner.uri)
        return self._inner.frames_at([self._pick(self._inner, t) for t in pts_ns], format=format)

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _Reselecting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _one_frame_early(video: Any, t: int) -> int:
    return max(video.frame_indices([t])[0] - 1, 0)


def _floor_rule(video: Any, t: int) -> int:
    # On screen from the floor of its exact time: one ns early when that is not a whole ns.
    idx = video.index
    tb = idx.time_base
    floors = [p * tb.numerator * NS_PER_S // tb.denominator for p in idx.frame_pts.tolist()]
    return sum(1 for f in floors if f <= t) - 1


_PARENT = os.getpid()


def _early_off_main_thread(video: Any, t: int) -> int:
    right = video.frame_indices([t])[0]
    return right if threading.current_thread() is threading.main_thread() else max(right - 1, 0)


def _early_after_fork(video: Any, t: int) -> int:
    right = video.frame_indices([t])[0]
    return right if os.getpid() == _PARENT else max(right - 1, 0)


class _EarlyAfterPark(_Reselecting):
    """Right until parked (`mediaref.KeepOpen`), then one frame early."""

    def __init__(self, source: ByteSource) -> None:
        super().__init__(source, lambda video, t: video.frame_indices([t])[0])
        self.parked = False

    def park(self) -> None:
        self.parked = True
        self._pick = _one_frame_early

    def reusable(self) -> bool:
        return not self._inner._closed


def _backend(name: str, pick: Callable[[Any, int], int]) -> VideoBackend:
    return VideoBackend(name=name, open=lambda source, **options: _Reselecting(source, pick))


@hookimpl
def mediaref_video_backends() -> list[VideoBackend]:
    return [
        _backend("one_frame_early", _one_frame_early),
        _backend("floor_rule", _floor_rule),
        _backend("early_off_main_thread", _early_off_main_thread),
        _backend("early_after_fork", _early_after_fork),
        VideoBackend(name="early_after_park", open=lambda source, **o: _EarlyAfterPark(source)),
    ]
