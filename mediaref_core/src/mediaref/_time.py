"""Exact arithmetic between integer nanoseconds and stream ticks (never float seconds)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fractions import Fraction

__all__ = ["NS_PER_S", "ns_to_pts", "pts_to_ns"]

NS_PER_S = 1_000_000_000


def pts_to_ns(pts: int, time_base: Fraction) -> int:
    """Return the first integer nanosecond at or after tick `pts` (ceil), exactly.

    A frame is on screen from that nanosecond on, so a query at ``floor`` of the exact
    time still shows the previous frame.
    """
    num = pts * time_base.numerator * NS_PER_S
    return -((-num) // time_base.denominator)


def ns_to_pts(pts_ns: int, time_base: Fraction) -> int:
    """Return the last stream tick whose time is at or before `pts_ns` (floor), exactly."""
    return pts_ns * time_base.denominator // (time_base.numerator * NS_PER_S)
