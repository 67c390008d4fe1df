"""Process-wide limits on what the core's sources read (one owner for sources and HTTP)."""

from __future__ import annotations

import msgspec

__all__ = ["Limits", "limits"]


class Limits(msgspec.Struct, kw_only=True):
    """Process-wide limits on what the built-in sources read; change them in place.

    Example: ``mediaref.limits.http_timeout_s = 5``. Every error raised at a limit names
    it as ``mediaref.limits.<name>``.
    """

    http_timeout_s: float = 30.0
    """Seconds to wait for a connection or for the next bytes of a response."""
    http_deadline_s: float = 60.0
    """Seconds one HTTP request may take in all: connection, headers and body.

    A server that sends a byte now and then never trips `http_timeout_s`; this bounds it.
    """
    http_max_redirects: int = 5
    max_read_bytes: int = 256 << 20
    """Largest file or HTTP body read whole into memory (images, servers without Range).

    256 MiB: several times the largest image file one decodes in practice (an 8K RGB
    PNG, uncompressed, is 100 MB); video over HTTP is read through Range requests.
    """
    max_data_uri_chars: int = 64 << 20
    """Largest ``data:`` URI accepted for decoding, in characters (64 Mi).

    Base64 of 48 MiB: more than any image one embeds in a dataset row. Decoding one
    costs about its length plus the decoded size (see docs/reliability.md).
    """
    max_video_pixels: int = 89_478_485
    """Largest video picture decoded, in pixels (width x height of the coded stream, as
    its parameters say before any frame is decoded). The default is Pillow's image limit
    (``PIL.Image.MAX_IMAGE_PIXELS``, about 0.25 GiB of RGB): 8K UHD (7680x4320, 33 Mpx)
    passes, a 9472x9472 stream does not. Over it, opening the video raises
    `UndecodableMediaError` naming the size and the limit."""
    max_request_bytes: int = 4 << 30
    """Largest output of one video request, in bytes: frames asked x height x width x
    channels of the format asked (e.g. 690 RGB frames of 1920x1080), checked before
    decoding. Over it, the request raises `UndecodableMediaError` naming both sizes; ask
    for fewer frames per call or raise the limit."""
    idle_release_s: float | None = 30.0
    """Seconds without a decode after which plugins give back what they hold idle (open
    containers and their threads, pooled frame memory, HTTP connections, indexes over a
    small budget) and the heap's free memory returns to the system, from a thread that the
    first decode starts. ``None`` or 0: never (`cleanup_cache` still releases everything)."""


limits = Limits()
