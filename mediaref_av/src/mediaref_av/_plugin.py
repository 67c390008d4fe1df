"""The ``mediaref`` entry point of ``mediaref-av``: hook implementations only, no PyAV import."""

from __future__ import annotations

from typing import Any

from mediaref import ByteSource, VideoBackend, VideoDecoder, hookimpl

__all__ = ["mediaref_video_backends"]


def _open(source: ByteSource, **options: Any) -> VideoDecoder:
    from ._decoder import AVVideoDecoder  # PyAV arrives only when this backend is chosen

    return AVVideoDecoder(source, **options)


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
