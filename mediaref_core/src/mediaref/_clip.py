"""`decode_clip`: the frames of a time window, all of them or sampled, in one decode pass."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ._decode import open_video
from ._errors import UnsupportedSourceError
from ._protocols import DecodedFrame, FrameTimes, ImageFormat, check_image_format
from .timeline import evenly_spaced_ns, times_at_fps

__all__ = ["decode_clip"]


def decode_clip(
    uri: str,
    start_ns: int,
    stop_ns: int,
    *,
    fps: float | Fraction | None = None,
    num: int | None = None,
    decoder: str | None = None,
    format: ImageFormat = "rgb",
    **options: Any,
) -> list[DecodedFrame]:
    """Decode the frames of the video `uri` in the window ``[start_ns, stop_ns)``.

    By default every frame on screen in the window (the one shown at `start_ns`, then each
    that starts before `stop_ns`); with `fps`, the frames played at ``start_ns + k / fps``
    s; with `num`, the frames played at `num` times spread evenly over the window. The
    window is clipped to the stream. Whatever the sampling, it is one request to the
    backend, which plans the least decoding work for all of it (one pass over the GOPs).

    Args:
        uri: The video.
        start_ns: Start of the window, ns on the stream's timeline.
        stop_ns: End of the window, exclusive.
        fps: Sampling rate (an exact `Fraction` such as ``Fraction(30000, 1001)``, or a
            float); exclusive with `num`.
        num: How many evenly spread frames; exclusive with `fps`.
        decoder: As for `batch_decode`.
        format: As for `batch_decode`.
        **options: As for `batch_decode`.

    Returns:
        One `DecodedFrame` ``(data, pts_ns, frame_index)`` per sample, in time order;
        repeats when sampling faster than the stream's rate; empty if the window and the
        stream do not meet.

    Raises:
        ValueError: Both `fps` and `num`, or a bad `fps`/`num`.
        UnsupportedSourceError: The backend does not report frame times (`FrameTimes`).
        MediaRefError: A subclass saying what went wrong (see `mediaref` errors).
    """
    if fps is not None and num is not None:
        raise ValueError("give fps or num, not both")
    check_image_format(format)
    with open_video(uri, decoder=decoder, **options) as video:
        if not isinstance(video, FrameTimes):
            raise UnsupportedSourceError(
                "the backend does not report frame times (mediaref.FrameTimes)", uri=uri
            )
        meta = video.metadata
        lo, hi = max(start_ns, meta.begin_ns), min(stop_ns, meta.end_ns)
        if lo >= hi:
            return []
        if fps is not None:
            times = times_at_fps(lo, hi, fps)
        elif num is not None:
            times = evenly_spaced_ns(lo, hi, num)
        else:
            times = [start for _, start in video.shown_between(lo, hi)]
        shown = video.shown_at(times)
        frames = video.frames_played_at(times, format=format)
    return [
        DecodedFrame(frame, start, index)
        for frame, (index, start) in zip(frames, shown, strict=True)
    ]
