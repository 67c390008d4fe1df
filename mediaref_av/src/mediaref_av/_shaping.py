"""What a request's frames look like: the shaping options, the shown size, the caller's slots."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mediaref import InvalidOutputError

from ._convert import Layout, fit_size, orientation
from ._index import IndexData

__all__ = ["check_shaping", "destinations", "out_size", "shown_size"]


def destinations(
    out: Sequence[Any], n: int, shape: tuple[int, ...], uri: str
) -> list[NDArray[np.uint8]]:
    """`out` as arrays, each checked to take a frame of `shape` (else `InvalidOutputError`)."""
    if len(out) != n:
        raise InvalidOutputError(f"out has {len(out)} slots for {n} frames", uri=uri)
    arrays: list[NDArray[np.uint8]] = []
    for k, d in enumerate(out):
        try:
            a = np.asarray(d)
        except Exception:
            raise InvalidOutputError(
                f"out[{k}] is not an array: {type(d).__name__}", uri=uri
            ) from None
        if a.dtype != np.uint8 or not a.flags.c_contiguous or not a.flags.writeable:
            raise InvalidOutputError(
                f"out[{k}] must be a writable C-contiguous uint8 array, got {a.dtype} "
                f"(contiguous: {a.flags.c_contiguous}, writable: {a.flags.writeable})",
                uri=uri,
            )
        if a.shape != shape:
            raise InvalidOutputError(f"out slot has shape {a.shape}, the frame is {shape}", uri=uri)
        arrays.append(a)
    return arrays


def check_shaping(
    size: object, max_size: object, layout: object
) -> tuple[tuple[int, int] | None, tuple[int, int] | None, Layout]:
    """Validate the output-shaping options (before any file is read)."""
    for name, value in (("size", size), ("max_size", max_size)):
        ok = value is None or (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(type(v) is int and v > 0 for v in value)
        )
        if not ok:
            order = "(height, width)" if name == "size" else "(width, height)"
            raise ValueError(f"{name} must be {order} positive ints, got {value!r}")
    if size is not None and max_size is not None:
        raise ValueError("give size or max_size, not both")
    if layout not in ("hwc", "chw"):
        raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")
    return _pair(size), _pair(max_size), layout  # type: ignore[return-value]


def _pair(value: Any) -> tuple[int, int] | None:
    return None if value is None else (int(value[0]), int(value[1]))


def shown_size(d: IndexData) -> tuple[int, int]:
    """``(height, width)`` of the pictures as shown (after rotation)."""
    rotation, _ = orientation(d.display_matrix, d.rotation)
    return (d.width, d.height) if rotation in (90, 270) else (d.height, d.width)


def out_size(
    shown: tuple[int, int], size: tuple[int, int] | None, max_size: tuple[int, int] | None
) -> tuple[int, int] | None:
    if size is not None:
        return size
    if max_size is not None:
        return fit_size(*shown, max_size)
    return None
