"""The ``mediaref`` entry point of ``mediaref-av``: hook implementations only, no PyAV import."""

from __future__ import annotations

import sys
from typing import Any

from mediaref import ByteSource, Option, VideoBackend, VideoDecoder, hookimpl

__all__ = [
    "OPTIONS",
    "mediaref_clear_caches",
    "mediaref_release_idle",
    "mediaref_video_backends",
]

OPTIONS = (
    Option(
        name="stream",
        type="int | None",
        default=None,
        help="index of the video stream to decode; default: the one a player picks",
    ),
    Option(
        name="threads",
        type="int | None",
        default=None,
        help="codec threads per decoder; 1: the calling thread only; default: FFmpeg's choice",
    ),
    Option(
        name="workers",
        type="int | None",
        default=None,
        help="decoders sharing a request's independent runs; default: CPUs, at most 4",
    ),
    Option(
        name="index_cache",
        type="str | os.PathLike[str] | bool | None",
        default=None,
        help="directory of the on-disk packet index cache; default $MEDIAREF_AV_INDEX_CACHE",
    ),
    Option(
        name="skip_nonref",
        type="bool",
        default=True,
        help="let the codec skip non-reference pictures no returned frame needs",
    ),
    Option(
        name="keep_av_open",
        type="bool",
        default=True,
        help="accepted for mediaref 0.4.4 code; containers always stay open in a bounded pool",
    ),
    Option(
        name="size",
        type="tuple[int, int] | None",
        default=None,
        help="(height, width) of the returned frames, resized in the colour conversion",
    ),
    Option(
        name="max_size",
        type="tuple[int, int] | None",
        default=None,
        help="(width, height) box to fit the frames in, keeping the aspect ratio",
    ),
    Option(
        name="layout",
        type='Literal["hwc", "chw"]',
        default="hwc",
        help='"chw": channels first, (C, H, W), as PyTorch models take',
    ),
)
"""What `AVVideoDecoder` takes as keyword options, declared for routing and listing."""


def _open(source: ByteSource, **options: Any) -> VideoDecoder:
    from ._decoder import AVVideoDecoder  # PyAV arrives only when chosen

    # The core passes only the options declared in OPTIONS.
    return AVVideoDecoder(source, **options)


@hookimpl
def mediaref_video_backends() -> list[VideoBackend]:
    """Describe the PyAV backend; opening it imports PyAV."""
    return [
        VideoBackend(
            name="pyav",
            open=_open,
            priority=100,
            options=OPTIONS,
            description="PyAV (FFmpeg): frame-exact, packet index, least-work GOP planner",
        )
    ]


@hookimpl
def mediaref_clear_caches() -> None:
    """Release containers, indexes and pooled frames, if a video was ever opened."""
    if "mediaref_av._pool" in sys.modules:  # nothing was cached, and PyAV need not load
        from . import clear_caches

        clear_caches()


@hookimpl
def mediaref_release_idle() -> None:
    """Close idle containers, free pooled frames and remote blocks, trim the index caches."""
    if "mediaref_av._pool" in sys.modules:
        from . import _blockfile, _buffers, _cues, _index_cache, _pool

        _pool.close_all()
        _buffers.clear()
        _blockfile.store.clear()
        _index_cache.index_cache.trim(_index_cache.IDLE_BYTES)
        _cues.cue_indexes.clear()
