"""Tools to prove a video backend exact: an independent oracle, edge-case media, checks.

Not imported by ``import mediaref``; needs PyAV and NumPy (imported on first use).
"""

from __future__ import annotations

from ._oracle import Clip, decode_sequentially

__all__ = ["Clip", "decode_sequentially"]
