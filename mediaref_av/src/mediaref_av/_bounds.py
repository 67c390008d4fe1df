"""Sizes checked before decoding: pixels per picture and bytes per request.

A few hundred KB of H.264 can code 16000x16000 pictures: decoding one took 3.0 GB and
5.9 s here (issue 16). So the picture size is checked from the stream's parameters
before any frame is decoded, against ``mediaref.limits.max_video_pixels`` (default
Pillow's image limit), and FFmpeg is given a limit too (``max_pixels``, with headroom
for its alignment) for what it decodes to probe the stream when the container opens,
and for every decoder we open, in case the bitstream codes larger pictures than the
container says. The output of a request (frames x height x width x channels) is checked
against ``mediaref.limits.max_request_bytes``.
"""

from __future__ import annotations

import math

from mediaref import UndecodableMediaError, limits

__all__ = ["check_picture", "check_request", "ffmpeg_max_pixels"]

_INT_MAX = (1 << 31) - 1
"""FFmpeg's ``max_pixels`` is an int."""


def ffmpeg_max_pixels(*, probe: bool = False) -> str:
    """Return FFmpeg's ``max_pixels`` option for ``mediaref.limits.max_video_pixels``.

    For decoding: twice the limit, plus a little, since FFmpeg counts the width of its
    buffers aligned up (to 64 pixels with AVX-512), so a picture just under our limit may
    be over it there; a backstop against pictures far larger than the stream's
    parameters said, the exact limit being ours (`check_picture`). For the pictures
    FFmpeg decodes to probe a stream when the container opens (`probe`): the limit
    itself, so that a stream just over it is not decoded there either; a picture refused
    there only leaves the probe without what the index scan learns anyway.
    """
    limit = limits.max_video_pixels if probe else 2 * limits.max_video_pixels + 4096
    return str(max(1, min(limit, _INT_MAX)))


def check_picture(width: int, height: int, uri: str) -> None:
    """Refuse pictures over ``mediaref.limits.max_video_pixels``.

    Raises:
        UndecodableMediaError: ``width x height`` is over the limit; the error has the
            attributes ``width``, ``height`` and ``max_pixels``.
    """
    limit = limits.max_video_pixels
    if width * height <= limit:
        return
    err = UndecodableMediaError(
        f"video pictures are {width}x{height} = {width * height} pixels, over the limit "
        f"of {limit} (a possible decompression bomb); raise mediaref.limits."
        "max_video_pixels to decode it",
        uri=uri,
    )
    err.width, err.height, err.max_pixels = width, height, limit  # type: ignore[attr-defined]
    raise err


def check_request(frames: int, shape: tuple[int, ...], uri: str) -> None:
    """Refuse a request whose output is over ``mediaref.limits.max_request_bytes``.

    Args:
        frames: Arrays the request returns (repeats included: each is a copy).
        shape: The shape of one uint8 array.
        uri: For the message.

    Raises:
        UndecodableMediaError: The output is over the limit; the error has the attributes
            ``request_bytes`` and ``max_request_bytes``.
    """
    total, limit = frames * math.prod(shape), limits.max_request_bytes
    if total <= limit:
        return
    err = UndecodableMediaError(
        f"the request returns {frames} frames of {'x'.join(map(str, shape))} bytes = "
        f"{total} bytes, over the limit of {limit} (mediaref.limits.max_request_bytes); "
        "ask for fewer frames per call or raise the limit",
        uri=uri,
    )
    err.request_bytes, err.max_request_bytes = total, limit  # type: ignore[attr-defined]
    raise err
