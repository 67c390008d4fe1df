"""``out=``: decoding into the caller's memory; its checks, its slots, its copy fallback.

Works on the buffer protocol only (`memoryview`), so the core stays free of NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._errors import InvalidOutputError

__all__ = ["check_slot", "copy_into", "mismatch", "shape_of", "slots", "zero"]

_UINT8 = frozenset({"B", "<B", ">B", "=B", "@B"})


def _view(obj: object, name: str) -> memoryview:
    """`obj`'s buffer, checked: writable, C-contiguous, uint8."""
    try:
        mv = memoryview(obj)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidOutputError(
            f"{name} must be a writable C-contiguous uint8 array (buffer protocol, e.g. a "
            f"NumPy array; for a torch tensor pass tensor.numpy()), got {type(obj).__name__}"
        ) from None
    if mv.format not in _UINT8 or mv.itemsize != 1:
        raise InvalidOutputError(f"{name} must hold uint8, got buffer format {mv.format!r}")
    if mv.readonly:
        raise InvalidOutputError(f"{name} is read-only")
    if not mv.c_contiguous:
        raise InvalidOutputError(f"{name} must be C-contiguous (e.g. np.ascontiguousarray)")
    return mv


def check_slot(obj: object, name: str = "out") -> object:
    """Return `obj` if it can be a frame's destination; raise `InvalidOutputError` if not."""
    mv = _view(obj, name)
    if mv.ndim < 2:
        raise InvalidOutputError(f"{name} must have 2 or more dimensions, got shape {mv.shape}")
    return obj


def slots(out: object, n: int) -> list[Any]:
    """Return one destination (or `None`) per reference, from `batch_decode`'s `out`.

    `out` is an array of shape ``(n, *frame_shape)``, whose ``out[i]`` are the slots, or
    a sequence of `n` arrays or `None`.

    Raises:
        InvalidOutputError: Not a writable C-contiguous uint8 buffer, or not `n` slots.
    """
    if isinstance(out, (list, tuple)):
        if len(out) != n:
            raise InvalidOutputError(f"out has {len(out)} slots for {n} references")
        return [None if o is None else check_slot(o, f"out[{i}]") for i, o in enumerate(out)]
    mv = _view(out, "out")
    if mv.ndim < 3 or mv.shape is None or mv.shape[0] != n:
        raise InvalidOutputError(
            f"out must have shape ({n}, height, width[, channels]) for {n} references, "
            f"got {tuple(mv.shape or ())}"
        )
    try:  # NumPy-like: out[i] is a view, of the caller's own type
        items: list[Any] = [out[i] for i in range(n)]  # type: ignore[index]
        if all(_same_slot(memoryview(x), mv) for x in items):
            return items
    except (TypeError, NotImplementedError, IndexError, KeyError):
        pass
    step = len(mv.cast("B")) // n if n else 0
    flat = mv.cast("B")
    return [flat[i * step : (i + 1) * step].cast("B", mv.shape[1:]) for i in range(n)]


def _same_slot(item: memoryview, whole: memoryview) -> bool:
    return (
        item.c_contiguous
        and not item.readonly
        and item.format in _UINT8
        and tuple(item.shape or ()) == tuple(whole.shape or ())[1:]
    )


def shape_of(obj: object) -> tuple[int, ...]:
    """The shape of a buffer."""
    return tuple(memoryview(obj).shape or ())  # type: ignore[arg-type]


def copy_into(dest: object, frame: object, *, uri: str | None, pts_ns: int | None) -> object:
    """Copy `frame` (a uint8 array) into `dest` and return `dest`.

    Raises:
        InvalidOutputError: `dest` has another shape than `frame`, or `frame` is not uint8.
    """
    src = memoryview(frame)  # type: ignore[arg-type]
    dst = memoryview(dest)  # type: ignore[arg-type]
    if tuple(src.shape or ()) != tuple(dst.shape or ()) or src.format not in _UINT8:
        raise mismatch(tuple(dst.shape or ()), tuple(src.shape or ()), uri=uri, pts_ns=pts_ns)
    flat = dst.cast("B")
    flat[:] = src.cast("B") if src.c_contiguous else src.tobytes()
    return dest


def mismatch(
    got: Sequence[int], frame: Sequence[int], *, uri: str | None, pts_ns: int | None
) -> InvalidOutputError:
    """The error for a slot of shape `got` given a frame of shape `frame`."""
    return InvalidOutputError(
        f"out slot has shape {tuple(got)}, the frame is {tuple(frame)}", uri=uri, pts_ns=pts_ns
    )


def zero(dest: object) -> None:
    """Fill `dest` with zeros (the slot of a reference that failed)."""
    flat = memoryview(dest).cast("B")  # type: ignore[arg-type]
    flat[:] = bytes(len(flat))
