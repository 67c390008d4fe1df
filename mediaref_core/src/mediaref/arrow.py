"""References in Arrow arrays and Parquet files: ``struct<uri: string, pts_ns: int64>``.

The stored form is always the plain struct, which polars, DuckDB, Spark and pyarrow
read without mediaref; ``pts_ns`` is null for images. Optionally the column carries the
Arrow extension type ``mediaref.ref`` (`MediaRefType`, over the same struct), so that
pyarrow with mediaref imported hands back `MediaRef` objects; tools that do not know
the type read the plain struct.

pyarrow is imported on first use (``pip install pyarrow``); ``import mediaref`` never
imports it. Names built from pyarrow (`STORAGE_TYPE`, `MediaRefType`) are made on first
access.

Example:
    >>> import mediaref.arrow as ma
    >>> from mediaref import MediaRef
    >>> array = ma.to_arrow([MediaRef("a.mp4", 0), MediaRef("b.png")])
    >>> ma.from_arrow(array)
    [MediaRef(uri='a.mp4', pts_ns=0), MediaRef(uri='b.png', pts_ns=None)]
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from ._errors import BackendNotInstalledError, InvalidReferenceError
from ._ref import MediaRef
from ._rows import OnError, check_on_error, located

if TYPE_CHECKING:
    import pyarrow as pa

    STORAGE_TYPE: pa.StructType
    """``struct<uri: string, pts_ns: int64>`` (made on first access)."""
    MediaRefType: type[pa.ExtensionType]
    """The extension type ``mediaref.ref`` over `STORAGE_TYPE` (made on first access)."""

__all__ = [
    "EXTENSION_NAME",
    "STORAGE_TYPE",
    "MediaRefType",
    "from_arrow",
    "register",
    "select",
    "storage_type",
    "to_arrow",
]

EXTENSION_NAME = "mediaref.ref"
"""The name under which `MediaRefType` is registered with pyarrow."""

_INT64_MAX = 2**63 - 1
_EXPECTED = "struct<uri: string, pts_ns: int64>"
_lock = threading.Lock()
_classes: dict[str, Any] = {}


def import_pyarrow() -> Any:
    """Return the ``pyarrow`` module, or raise an error naming what to install.

    Raises:
        BackendNotInstalledError: pyarrow is not installed.
    """
    try:
        import pyarrow
    except ImportError:
        raise BackendNotInstalledError(
            "pyarrow is needed to read and write references in Arrow and Parquet; "
            "install it with: pip install pyarrow"
        ) from None
    return pyarrow


def storage_type() -> pa.StructType:
    """Return ``struct<uri: string, pts_ns: int64>``, the stored form of a reference.

    Raises:
        BackendNotInstalledError: pyarrow is not installed.
    """
    pa = import_pyarrow()
    return pa.struct([("uri", pa.string()), ("pts_ns", pa.int64())])  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    if name == "STORAGE_TYPE":
        return storage_type()
    if name == "MediaRefType":
        return _extension_classes()["MediaRefType"]
    raise AttributeError(f"module 'mediaref.arrow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def register() -> None:
    """Register `MediaRefType` with pyarrow (once; later calls do nothing).

    Needed before pyarrow reads a Parquet file or IPC stream written with
    ``to_arrow(..., extension=True)`` if the column is to come back as `MediaRefType`;
    `to_arrow` and `from_arrow` call it. Without it pyarrow reads the plain struct.

    pyarrow 23-26's threaded Parquet reader can abort the interpreter at exit once a
    column of a Python extension type was read (apache/arrow#34314); reading with
    ``use_threads=False`` avoided it in every run here.

    Raises:
        BackendNotInstalledError: pyarrow is not installed.
    """
    _extension_classes()


def _extension_classes() -> dict[str, Any]:
    if _classes:
        return _classes
    with _lock:
        if not _classes:
            pa = import_pyarrow()
            made = _make_extension_classes(pa)
            try:
                pa.register_extension_type(made["MediaRefType"]())
            except pa.ArrowKeyError:  # registered by an earlier copy of this module
                pa.unregister_extension_type(EXTENSION_NAME)
                pa.register_extension_type(made["MediaRefType"]())
            _classes.update(made)
    return _classes


def _make_extension_classes(pa: Any) -> dict[str, Any]:
    class MediaRefScalar(pa.ExtensionScalar):  # type: ignore[misc]
        """One value of a `MediaRefType` array; ``as_py()`` gives a `MediaRef` (or None)."""

        def as_py(self, **_: Any) -> MediaRef | None:
            value = self.value
            if value is None:
                return None
            return MediaRef(value["uri"].as_py(), value["pts_ns"].as_py())

    class MediaRefArray(pa.ExtensionArray):  # type: ignore[misc]
        """An array of `MediaRefType`; ``to_pylist()`` gives `MediaRef` objects."""

        def to_pylist(self, **_: Any) -> list[MediaRef | None]:
            return from_arrow(self)

    class MediaRefType(pa.ExtensionType):  # type: ignore[misc]
        """The Arrow extension type ``mediaref.ref``, stored as the plain struct.

        `storage` defaults to `STORAGE_TYPE`; files written by other tools may store the
        type over another struct (``large_string`` URIs...), which is kept as read.
        """

        def __init__(self, storage: Any = None) -> None:
            super().__init__(storage_type() if storage is None else storage, EXTENSION_NAME)

        def __arrow_ext_serialize__(self) -> bytes:
            return b""

        @classmethod
        def __arrow_ext_deserialize__(cls, storage: Any, serialized: bytes) -> Any:
            # Never raise here: pyarrow would then fail to read the whole file.
            # from_arrow checks the storage when the column is read.
            return cls(storage)

        def __arrow_ext_class__(self) -> type:
            return MediaRefArray

        def __arrow_ext_scalar_class__(self) -> type:
            return MediaRefScalar

        def __reduce__(self) -> tuple[Any, ...]:
            return _make_type, (self.storage_type,)

    for cls in (MediaRefScalar, MediaRefArray, MediaRefType):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return {c.__name__: c for c in (MediaRefScalar, MediaRefArray, MediaRefType)}


def _make_type(storage: Any = None) -> Any:
    return _extension_classes()["MediaRefType"](storage)


def to_arrow(refs: Iterable[MediaRef | None], *, extension: bool = False) -> pa.Array:
    """Return the references as one Arrow array, built column by column.

    Args:
        refs: References; ``None`` becomes a null row.
        extension: Return an array of `MediaRefType` (stored as the same struct) instead
            of the plain ``StructArray``.

    Returns:
        A ``pa.StructArray`` of type `STORAGE_TYPE` (``pts_ns`` null for images), or with
        `extension`, a `MediaRefType` array over it.

    Raises:
        InvalidReferenceError: A ``pts_ns`` above ``2**63 - 1`` (valid in a `MediaRef`,
            as mediaref 0.4.4 wrote such values to JSON, but not an int64); the message
            names its row and value.
        TypeError: An item that is neither a `MediaRef` nor ``None`` (its row is named).
        BackendNotInstalledError: pyarrow is not installed.
    """
    pa = import_pyarrow()
    items = refs if isinstance(refs, (list, tuple)) else list(refs)
    mask = None
    try:
        uris = [r.uri for r in items]  # type: ignore[union-attr]
        pts = [r.pts_ns for r in items]  # type: ignore[union-attr]
    except AttributeError:
        uris, pts, mask = _columns_with_nulls(items)
    try:
        pts_array = pa.array(pts, pa.int64())
    except (OverflowError, pa.ArrowInvalid):
        found = next(((i, t) for i, t in enumerate(pts) if t is not None and t > _INT64_MAX), None)
        if found is None:  # not a MediaRef's pts_ns: let pyarrow's error say what it is
            raise
        row, t = found
        raise located(
            f"pts_ns={t} does not fit the int64 of Arrow (at most 2**63 - 1 = {_INT64_MAX})",
            row=row,
        ) from None
    storage = pa.StructArray.from_arrays(
        [pa.array(uris, pa.string()), pts_array],
        fields=list(storage_type()),
        mask=None if mask is None else pa.array(mask, pa.bool_()),
    )
    if not extension:
        return storage
    return pa.ExtensionArray.from_storage(_make_type(), storage)


def _columns_with_nulls(
    items: Sequence[MediaRef | None],
) -> tuple[list[str | None], list[int | None], list[bool]]:
    uris: list[str | None] = []
    pts: list[int | None] = []
    mask: list[bool] = []
    for i, r in enumerate(items):
        if r is None:
            uris.append(None)
            pts.append(None)
        elif isinstance(r, MediaRef):
            uris.append(r.uri)
            pts.append(r.pts_ns)
        else:
            raise TypeError(f"to_arrow takes MediaRef objects or None, got {r!r} at row {i}")
        mask.append(r is None)
    return uris, pts, mask


@overload
def from_arrow(
    data: Any, *, column: str | None = None, on_error: Literal["raise"] = "raise"
) -> list[MediaRef | None]: ...
@overload
def from_arrow(
    data: Any, *, column: str | None = None, on_error: OnError
) -> list[MediaRef | InvalidReferenceError | None]: ...
def from_arrow(
    data: Any, *, column: str | None = None, on_error: OnError = "raise"
) -> list[MediaRef | InvalidReferenceError | None] | list[MediaRef | None]:
    """Return the references stored in an Arrow column, one per row, in order.

    Accepts the plain struct or `MediaRefType`, with the fields in either order (other
    fields are ignored), ``uri`` as ``string``, ``large_string``, ``string_view`` or
    dictionary-encoded strings, and ``pts_ns`` as any integer type whose values fit an
    int64 (or an all-null column). A null row gives ``None``.

    Args:
        data: A ``pa.Array``/``pa.ChunkedArray`` of references, or a ``pa.Table``/
            ``pa.RecordBatch`` from which `column` is taken.
        column: The column's name, a dotted path for a struct field (``"obs.image"``;
            a field whose own name holds dots, as in LeRobot, is found too). Selects the
            column of a table; names it in error messages.
        on_error: ``"raise"`` raises the first bad row's error; ``"return"`` puts an
            `InvalidReferenceError` in the place of each bad row.

    Raises:
        InvalidReferenceError: The column is not a struct of that shape (the message
            names the column and field), or, with ``on_error="raise"``, a row holds a
            null ``uri`` or a ``pts_ns`` beyond int64 (the message names the row).
        BackendNotInstalledError: pyarrow is not installed.
    """
    check_on_error(on_error)
    return rows_from_arrow(data, column, on_error)


def rows_from_arrow(
    data: Any,
    column: str | None,
    on_error: OnError,
    *,
    row_offset: int = 0,
    file: str | None = None,
) -> list[Any]:
    """`from_arrow`, numbering rows from `row_offset` and naming `file` in errors."""
    pa = import_pyarrow()
    _extension_classes()
    where = {"column": column, "file": file}
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        array = select(data, column, file=file)
    else:
        array = data
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    _check_type(pa, array.type, where)  # also when there are no rows
    out: list[Any] = []
    for chunk in chunks:
        out.extend(_from_chunk(pa, chunk, where, row_offset + len(out), on_error))
    return out


def select(data: Any, column: str | None, *, file: str | None = None) -> Any:
    """Return the column at dotted path `column` of a table or record batch.

    At each level a field named by the whole remaining path wins, then the longest
    dotted prefix that names a field (``"observation.image"`` may be one flat column).

    Raises:
        InvalidReferenceError: No such column or field (the names there are listed).
    """
    pa = import_pyarrow()
    if column is None:
        raise located("a column is needed to read references from a table", file=file)
    names = data.schema.names
    first, rest = split_column(column, names, column, file=file)
    current = data.column(first)
    while rest:
        names = [f.name for f in current.type] if pa.types.is_struct(current.type) else []
        head, rest = split_column(rest, names, column, file=file)
        current = _field(pa, current, head)
    return current


def split_column(
    path: str, names: Sequence[str], column: str, *, file: str | None = None
) -> tuple[str, str]:
    """Split `path` into the field of `names` it starts with and the rest of the path.

    Raises:
        InvalidReferenceError: No field of `names` starts the path.
    """
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head in names:
            return head, ".".join(parts[n:])
    have = ", ".join(names) or "none"
    raise located(f"no field {path!r} here; fields: {have}", column=column, file=file)


def _field(pa: Any, array: Any, name: str) -> Any:
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array(
            [pc.struct_field(c, name) for c in array.chunks], array.type.field(name).type
        )
    return pc.struct_field(array, name)


def _from_chunk(
    pa: Any, array: Any, where: dict[str, Any], offset: int, on_error: OnError
) -> list[Any]:
    if isinstance(array, pa.ExtensionArray):
        array = array.storage
    uri_array, pts_array = _children(pa, array, where)
    uris, pts = uri_array.to_pylist(), pts_array.to_pylist()
    big = pa.types.is_uint64(pts_array.type) and _max(pa, pts_array) > _INT64_MAX
    if not big and array.null_count == 0 and uri_array.null_count == 0:
        return list(map(MediaRef, uris, pts))  # measured: 20% faster than a comprehension
    valid = array.is_valid().to_pylist() if array.null_count else None
    out: list[Any] = []
    for i, (u, t) in enumerate(zip(uris, pts, strict=True)):
        if valid is not None and not valid[i]:
            out.append(None)
            continue
        reason = (
            "uri is null"
            if u is None
            else f"pts_ns={t} does not fit an int64"
            if t is not None and t > _INT64_MAX
            else None
        )
        if reason is None:
            out.append(MediaRef(u, t))
            continue
        err = located(reason, row=offset + i, **where)
        if on_error == "raise":
            raise err
        out.append(err)
    return out


def _max(pa: Any, array: Any) -> int:
    import pyarrow.compute as pc

    value = pc.max(array).as_py()
    return 0 if value is None else int(value)


def _check_type(pa: Any, t: Any, where: dict[str, Any]) -> tuple[int, int]:
    """Return the indices of ``uri`` and ``pts_ns`` in struct type `t`, or raise."""
    if isinstance(t, pa.ExtensionType):
        t = t.storage_type
    if not pa.types.is_struct(t):
        raise located(f"expected {_EXPECTED}, got {t}", **where)
    indices = []
    for name in ("uri", "pts_ns"):
        index = t.get_field_index(name)
        if index < 0:
            have = ", ".join(f"{f.name}: {f.type}" for f in t) or "none"
            raise located(f"expected {_EXPECTED}: no field {name!r} (fields: {have})", **where)
        indices.append(index)
    _uri_child(pa, pa.array([], t.field(indices[0]).type), where)
    _pts_child(pa, pa.array([], t.field(indices[1]).type), where)
    return indices[0], indices[1]


def _children(pa: Any, array: Any, where: dict[str, Any]) -> tuple[Any, Any]:
    """Return the ``uri`` and ``pts_ns`` child arrays, checked and cast for reading."""
    uri_index, pts_index = _check_type(pa, array.type, where)
    return (
        _uri_child(pa, array.field(uri_index), where),
        _pts_child(pa, array.field(pts_index), where),
    )


def _uri_child(pa: Any, child: Any, where: dict[str, Any]) -> Any:
    t = child.type
    if pa.types.is_dictionary(t) and _is_text(pa, t.value_type):
        return child.dictionary_decode()
    if _is_text(pa, t) or pa.types.is_null(t):
        return child
    raise located(f"field 'uri' has type {t}; expected string", **where)


def _is_text(pa: Any, t: Any) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or is_view(t))


def _pts_child(pa: Any, child: Any, where: dict[str, Any]) -> Any:
    t = child.type
    if pa.types.is_int64(t) or pa.types.is_uint64(t) or pa.types.is_null(t):
        return child
    if pa.types.is_integer(t):
        return child.cast(pa.int64())  # every value of a narrower integer fits
    raise located(f"field 'pts_ns' has type {t}; expected int64", **where)
