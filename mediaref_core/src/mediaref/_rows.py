"""Errors located in a table or a file: which file, which row, which column."""

from __future__ import annotations

from typing import Literal

from ._errors import InvalidReferenceError, short_repr

__all__ = ["OnError", "check_on_error", "located"]

OnError = Literal["raise", "return"]


def check_on_error(on_error: str) -> None:
    """Refuse an `on_error` other than ``"raise"`` or ``"return"``.

    Raises:
        ValueError: Any other value.
    """
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {short_repr(on_error)}")


def located(
    reason: str,
    *,
    row: int | None = None,
    column: str | None = None,
    file: str | None = None,
    line: int | None = None,
) -> InvalidReferenceError:
    """Return an `InvalidReferenceError` saying what was wrong and where.

    The place is also kept as attributes ``row`` (0-based record index), ``line``
    (1-based, JSON Lines only), ``column`` and ``file``, each `None` when unknown.
    """
    where = []
    if line is not None:
        where.append(f"line {line}")
    elif row is not None:
        where.append(f"row {row}")
    if column is not None:
        where.append(f"column {column!r}")
    if file is not None:
        where.append(f"file {file!r}")
    err = InvalidReferenceError(f"{reason} ({', '.join(where)})" if where else reason)
    err.row, err.line, err.column, err.file = row, line, column, file  # type: ignore[attr-defined]
    return err
