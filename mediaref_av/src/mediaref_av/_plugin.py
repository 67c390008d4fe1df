"""The ``mediaref`` entry point of ``mediaref-av``: hook implementations only, no PyAV import."""

from __future__ import annotations

import sys
from typing import Any

from mediaref import ByteSource, VideoBackend, VideoDecoder, hookimpl

__all__ = ["mediaref_clear_caches", "mediaref_video_backends"]


def _open(source: ByteSource, **options: Any) -> VideoDecoder:
    from ._decoder import OPTIONS, AVVideoDecoder  # PyAV arrives only when chosen

    # `batch_decode` hands every backend the same options: those of image backends in
    # a mixed batch are not ours to reject (`mediaref_av.open` is strict).
    return AVVideoDecoder(source, **{k: v for k, v in options.items() if k in OPTIONS})


@hookimpl
def mediaref_video_backends() -> list[VideoBackend]:
    """Describe the PyAV backend; opening it imports PyAV."""
    return [
        VideoBackend(
            name="pyav",
            open=_open,
            priority=100,
            description="PyAV (FFmpeg): frame-exact, packet index, least-work GOP planner",
        )
    ]


@hookimpl
def mediaref_clear_caches() -> None:
    """Release containers, indexes and pooled frames, if a video was ever opened."""
    if "mediaref_av._pool" in sys.modules:  # nothing was cached, and PyAV need not load
        from . import clear_caches

        clear_caches()
