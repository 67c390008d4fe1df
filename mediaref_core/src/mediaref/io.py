"""Read references from the files datasets keep them in: JSON Lines, MessagePack, Parquet.

Every reader yields one item per record, lazily, reading the file a block at a time:
a `MediaRef`, ``None`` where the record holds null, or (with ``on_error="return"``) an
`InvalidReferenceError` in the place of a bad record. `chunks` groups any of them into
lists, to feed `batch_decode` without loading a dataset whole:

    >>> for refs in chunks(read_jsonl("steps.jsonl", column="obs.image"), 256):
    ...     frames = batch_decode(refs)

A bad record raises (or yields) an `InvalidReferenceError` naming the file, the record
(``line`` 1-based in JSON Lines, ``row`` 0-based elsewhere; both also attributes) and the
column. JSON Lines and MessagePack need only msgspec; Parquet needs pyarrow.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, TypeVar

import msgspec

from ._errors import InvalidReferenceError
from ._ref import MediaRef
from ._rows import OnError, check_on_error, located

__all__ = ["Column", "Item", "Source", "chunks", "read_jsonl", "read_msgpack", "read_parquet"]

T = TypeVar("T")
Source = str | os.PathLike[str] | BinaryIO
"""A path, or a binary file object (anything with ``read(n) -> bytes``)."""
Column = str | Sequence[str] | None
"""Where the reference is in each record: ``None`` (the record is the reference), a dotted
path (``"obs.image"``), or the keys one by one (``("observation.image",)`` for a key that
holds a dot)."""
Item = MediaRef | InvalidReferenceError | None
"""What the readers yield for each record."""

_BLOCK = 1 << 16


def chunks(iterable: Iterable[T], n: int) -> Iterator[list[T]]:
    """Yield lists of `n` items (the last may be shorter), consuming `iterable` lazily.

    Raises:
        ValueError: `n` is less than 1.
    """
    if n < 1:
        raise ValueError(f"chunk size must be at least 1, got {n}")
    it = iter(iterable)
    while chunk := list(itertools.islice(it, n)):
        yield chunk


def _exists(source: Source) -> None:
    """Raise `FileNotFoundError` now, not at the first item, for a path that is not there."""
    if not hasattr(source, "read"):
        os.stat(os.fspath(source))  # type: ignore[arg-type]


@contextlib.contextmanager
def _opened(source: Source) -> Iterator[tuple[BinaryIO, str]]:
    if hasattr(source, "read"):
        yield source, str(getattr(source, "name", "<stream>"))  # type: ignore[misc]
        return
    path = os.fspath(source)  # type: ignore[arg-type]
    with open(path, "rb") as f:
        yield f, path


def _keys(column: Column) -> tuple[str, ...]:
    if column is None:
        return ()
    keys = tuple(column.split(".")) if isinstance(column, str) else tuple(column)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError(f"column must be a dotted path or a sequence of keys, got {column!r}")
    return keys


@functools.lru_cache(maxsize=64)
def _record_type(keys: tuple[str, ...]) -> Any:
    """A msgspec type that decodes only the path `keys` of each record (others skipped)."""
    t: Any = MediaRef
    for key in reversed(keys):
        t = msgspec.defstruct("Record", [("value", t | None)], rename={"value": key})
    return t


def _dig(record: Any, depth: int) -> MediaRef | None:
    for _ in range(depth):
        if record is None:
            return None
        record = record.value
    return record  # type: ignore[no-any-return]


def _label(keys: tuple[str, ...]) -> str | None:
    return ".".join(keys) if keys else None


def read_jsonl(
    source: Source, *, column: Column = None, on_error: OnError = "raise"
) -> Iterator[Item]:
    """Yield the reference of each line of a JSON Lines file, reading it block by block.

    Each line is a reference object (``{"uri": ..., "pts_ns": ...}``), or an object that
    holds one at `column`; other keys are skipped without being decoded. Blank lines are
    skipped; a null at `column` yields ``None``.

    Args:
        source: A path or a binary file object.
        column: Where the reference is in each line (see `Column`).
        on_error: ``"raise"`` raises at the first bad line; ``"return"`` yields its
            error in its place and goes on.

    Raises:
        FileNotFoundError: `source` is a path that does not exist (raised by this call).
        InvalidReferenceError: A line that is not JSON, lacks the column, or holds an
            invalid reference; the message names the file, the line and the column.
    """
    check_on_error(on_error)
    keys = _keys(column)
    _exists(source)
    return _read_jsonl(source, keys, msgspec.json.Decoder(_record_type(keys)), on_error)


def _read_jsonl(
    source: Source, keys: tuple[str, ...], decoder: Any, on_error: OnError
) -> Iterator[Item]:
    row = 0
    with _opened(source) as (f, name):
        for line_no, line in _lines(f):
            if not line.strip():
                continue
            try:
                yield _dig(decoder.decode(line), len(keys))
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as e:
                # RecursionError: values nested past the recursion limit, skipped or not
                # (msgspec checks every level); one such line must not end the others.
                err = located(str(e), row=row, line=line_no, column=_label(keys), file=name)
                if on_error == "raise":
                    raise err from None
                yield err
            row += 1


def _lines(f: BinaryIO) -> Iterator[tuple[int, bytes]]:
    # The unfinished line is kept as pieces, joined once it ends: appending each block to
    # it made a long line cost its length squared (a 64 MiB line took 92 s, now 0.9 s).
    pending: list[bytes] = []
    n = 0
    while block := f.read(_BLOCK):
        parts = block.split(b"\n")
        last = parts.pop()
        if parts:
            if pending:
                parts[0] = b"".join([*pending, parts[0]])
                pending = []
            for part in parts:
                n += 1
                yield n, part
        if last:
            pending.append(last)
    if pending:
        yield n + 1, b"".join(pending)


def read_msgpack(
    source: Source, *, column: Column = None, on_error: OnError = "raise"
) -> Iterator[Item]:
    """Yield the reference of each object of a MessagePack stream (objects back to back).

    Objects are split off a buffer refilled block by block, and decoded with msgspec;
    each is a reference map, or a map that holds one at `column`.

    Args:
        source: A path or a binary file object.
        column: Where the reference is in each object (see `Column`).
        on_error: ``"raise"`` raises at the first bad object; ``"return"`` yields its
            error in its place and goes on (a stream cut short or broken framing ends it).

    Raises:
        FileNotFoundError: `source` is a path that does not exist (raised by this call).
        InvalidReferenceError: An object that lacks the column or holds an invalid
            reference, bytes that are not MessagePack, or a stream cut short; the
            message names the file, the object (``row``, 0-based) and the column.
    """
    check_on_error(on_error)
    keys = _keys(column)
    _exists(source)
    return _read_msgpack(source, keys, msgspec.msgpack.Decoder(_record_type(keys)), on_error)


def _read_msgpack(
    source: Source, keys: tuple[str, ...], decoder: Any, on_error: OnError
) -> Iterator[Item]:
    label = _label(keys)
    with _opened(source) as (f, name):
        for row, data in enumerate(_objects(f)):
            try:
                if isinstance(data, str):  # the framing broke: nothing after it is readable
                    raise located(data, row=row, column=label, file=name)
                yield _dig(decoder.decode(data), len(keys))
            except (
                msgspec.ValidationError,
                msgspec.DecodeError,
                InvalidReferenceError,
                RecursionError,  # nested past the recursion limit, as for JSON Lines
            ) as e:
                err = e if isinstance(e, InvalidReferenceError) else None
                err = err or located(str(e), row=row, column=label, file=name)
                if on_error == "raise":
                    raise err from None
                yield err


def _objects(f: BinaryIO) -> Iterator[bytes | str]:
    """Yield each MessagePack object's bytes; a str says why the stream cannot go on."""
    buf = bytearray()
    start = offset = 0  # offset: of buf[0] in the stream
    scan, todo = 0, 1  # where the scan of the object at `start` stopped; objects left
    eof = False
    while True:
        try:
            # Resumed where the last block ran out, not from `start`: a rescan per block
            # made an object of many items cost items x blocks.
            scan, todo = _msgpack_scan(buf, max(scan, start), todo)
        except ValueError as e:
            yield f"{e} in the object at offset {offset + start}"
            return
        if not todo and scan <= len(buf):
            yield bytes(buf[start:scan])
            start, todo = scan, 1
            continue
        if eof:
            if start < len(buf):
                end = offset + len(buf)
                yield f"the stream ends inside an object (bytes {offset + start}-{end})"
            return
        del buf[:start]
        offset, start, scan = offset + start, 0, scan - start
        block = f.read(_BLOCK)
        eof = not block
        buf += block


_FIXED = {0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9}
_FIXED |= {0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}
# marker -> (bytes of the length, bytes between the length and the payload)
_SIZED = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)}
_SIZED |= {0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0)}
# marker -> (bytes of the count, objects per counted entry)
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}


def _msgpack_scan(buf: bytearray, pos: int, todo: int) -> tuple[int, int]:
    """Skip `todo` MessagePack objects from `pos`; return where it stopped and what is left.

    ``(end, 0)``: the objects end at ``end``, which may lie past the end of `buf` (a
    payload not read yet). ``(pos, todo)`` with ``todo > 0``: `buf` ends before the next
    object's header; call again from there with more bytes.

    Raises:
        ValueError: A byte that starts no MessagePack object (0xc1).
    """
    n = len(buf)
    while todo:
        if pos >= n:
            return pos, todo
        b = buf[pos]
        if b <= 0x7F or b >= 0xE0:
            pos += 1
        elif b <= 0x9F:  # fixmap, fixarray
            todo += (b & 0x0F) * (2 if b <= 0x8F else 1)
            pos += 1
        elif b <= 0xBF:  # fixstr
            pos += 1 + (b & 0x1F)
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in _SIZED or b in _CONTAINERS:
            width, k = _SIZED.get(b) or _CONTAINERS[b]
            if pos + 1 + width > n:
                return pos, todo  # the length is not read yet
            size = int.from_bytes(buf[pos + 1 : pos + 1 + width], "big")
            if b in _SIZED:
                pos += 1 + width + k + size
            else:
                todo += k * size
                pos += 1 + width
        else:
            raise ValueError(f"not MessagePack: byte 0x{b:02x}")
        todo -= 1
    return pos, 0


def read_parquet(
    source: Source,
    *,
    column: str,
    batch_size: int = 65_536,
    on_error: OnError = "raise",
) -> Iterator[Item]:
    """Yield the references of a Parquet column, reading `batch_size` rows at a time.

    Only the top-level column that holds `column` is read, through
    ``pyarrow.parquet.ParquetFile.iter_batches``; each batch is converted by
    `mediaref.arrow.from_arrow` (same accepted types; a null row yields ``None``).

    Args:
        source: A path or a binary file object.
        column: The column, a dotted path for a struct field (``"obs.image"``).
        batch_size: Rows per batch read.
        on_error: ``"raise"`` raises at the first bad row; ``"return"`` yields its error
            in its place and goes on.

    Raises:
        InvalidReferenceError: No such column or a column that is not a reference struct
            (raised by this call), or a bad row (raised while iterating); the message
            names the file, the column and the row.
        BackendNotInstalledError: pyarrow is not installed.
    """
    from .arrow import import_pyarrow, rows_from_arrow, split_column

    import_pyarrow()
    import pyarrow.parquet as pq

    check_on_error(on_error)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    name = (
        str(getattr(source, "name", "<stream>")) if hasattr(source, "read") else os.fspath(source)
    )  # type: ignore[arg-type]
    parquet = pq.ParquetFile(source)
    schema = parquet.schema_arrow
    top = split_column(column, schema.names, column, file=name)[0]
    rows_from_arrow(schema.empty_table(), column, on_error, file=name)  # checks the type now
    return _read_parquet(parquet, top, column, batch_size, on_error, name)


def _read_parquet(
    parquet: Any, top: str, column: str, batch_size: int, on_error: OnError, name: str
) -> Iterator[Item]:
    from .arrow import rows_from_arrow

    offset = 0
    for batch in parquet.iter_batches(batch_size=batch_size, columns=[top]):
        yield from rows_from_arrow(batch, column, on_error, row_offset=offset, file=name)
        offset += batch.num_rows
