"""The range of `pts_ns` a reference may hold, for the struct and its Pydantic schema."""

from __future__ import annotations

__all__ = ["PTS_NS_MAX", "PTS_NS_MIN"]

PTS_NS_MIN = -(2**63)
"""Any int64, negative included, as in mediaref 0.4.4."""
PTS_NS_MAX = 2**64 - 1
"""Up to what JSON and MessagePack carry: 0.4.4 round-trips values above int64."""
