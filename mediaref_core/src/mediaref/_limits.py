"""Process-wide limits on what the core's sources read (one owner for sources and HTTP)."""

from __future__ import annotations

import msgspec

__all__ = ["Limits", "limits"]


class Limits(msgspec.Struct, kw_only=True):
    """Process-wide limits on what the built-in sources read; change them in place.

    Example: ``mediaref.limits.http_timeout_s = 5``.
    """

    http_timeout_s: float = 30.0
    """Seconds to wait for a connection or for the next bytes of a response."""
    http_max_redirects: int = 5
    max_read_bytes: int = 1 << 31
    """Largest file or HTTP body read whole into memory (images, servers without Range)."""
    max_data_uri_chars: int = 256 << 20
    """Largest ``data:`` URI accepted for decoding, in characters."""


limits = Limits()
