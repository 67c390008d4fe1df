"""Hugging Face ``datasets`` columns of references: `MediaRefFeature` and `with_refs`.

A column of references is stored as the plain struct ``struct<uri: string, pts_ns: int64>``
(``pts_ns`` null for images), and its feature is *written* as the plain struct
``{"uri": Value("string"), "pts_ns": Value("int64")}`` in ``dataset_info.json`` and in the
Arrow/Parquet schema metadata. Anyone can therefore load a dataset saved with this
feature, with or without mediaref installed: they get the column as dicts.

Why not a registered ``_type: "MediaRef"`` (what PyPI mediaref 2.x does, through
``datasets.features.register_feature``)? ``datasets`` resolves a feature's ``_type``
through a process-wide registry when it loads ``dataset_info.json``, and a loader that
lacks the class fails with ``Feature type 'MediaRef' not found`` (datasets issue #7223):
one custom feature makes the whole dataset unreadable for everybody else. So
`MediaRefFeature` has no ``_type`` of its own, and mediaref patches nothing in
``datasets``. The price: after ``load_from_disk``, ``load_dataset`` or
``Dataset.from_parquet`` the column reads as dicts until `with_refs` re-attaches the
feature, a cast that keeps the storage as it is::

    ds = with_refs(load_from_disk("episodes"), "frame")
    ds[0]["frame"]  # MediaRef(uri='ep0.mp4', pts_ns=0)

Inside one session the feature survives ``map``, ``filter``, ``select`` and the like;
``concatenate_datasets`` needs the same feature on both sides (`with_refs` both or neither).
``map`` does not encode what a function returns: return ``ref.model_dump()`` dicts (and
pass ``features=`` or call `with_refs` after), never `MediaRef` objects, which ``datasets``
would turn into a struct of every property through its JSON fallback.

``datasets`` and ``pyarrow`` are imported on first use, not when this module is imported.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import BackendNotInstalledError, InvalidReferenceError
from ._ref import MediaRef

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MediaRefFeature", "is_ref_struct", "load_mediaref2", "with_refs"]

D = TypeVar("D")


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise BackendNotInstalledError(
            "mediaref.hf needs the datasets package; install it with: pip install datasets"
        ) from None
    return datasets


def _value(dtype: str) -> Any:
    return _datasets().Value(dtype)


def _ref_struct_type() -> pa.StructType:
    import pyarrow as pa

    return pa.struct([("uri", pa.string()), ("pts_ns", pa.int64())])


@dataclass(init=False, eq=False, repr=False)
class MediaRefFeature:
    """A ``datasets`` feature whose values are `MediaRef`s, stored as a plain struct.

    Use it in ``Features`` like ``datasets.Image``: ``Dataset.from_dict``, ``cast_column``,
    ``map(..., features=...)`` and ``load_dataset(..., features=...)`` accept `MediaRef`s,
    ``{"uri": ..., "pts_ns": ...}`` mappings and plain strings (a URI: an image); rows
    read back as `MediaRef`s, or as the stored dicts with ``decode=False``.

    Its only dataclass fields are ``uri`` and ``pts_ns`` (both ``datasets.Value``): that is
    what ``datasets`` writes to ``dataset_info.json``, a struct any loader understands
    (see the module's docstring for why, and `with_refs` to read it back as references).

    Args:
        decode: Whether rows read as `MediaRef`s (default) or as the stored dicts.

    Raises:
        BackendNotInstalledError: ``datasets`` is not installed.
    """

    if TYPE_CHECKING:  # an attribute, not a dataclass field: fields are what datasets saves
        decode: bool
    uri: Any = field(init=False)
    pts_ns: Any = field(init=False)

    def __init__(self, decode: bool = True) -> None:
        self.decode = decode
        self.uri = _value("string")
        self.pts_ns = _value("int64")

    def __repr__(self) -> str:
        return f"MediaRefFeature(decode={self.decode!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not MediaRefFeature:
            return NotImplemented
        return bool(self.decode == getattr(other, "decode", True))

    def __hash__(self) -> int:
        return hash((MediaRefFeature, self.decode))

    @property
    def pa_type(self) -> pa.StructType:
        """The Arrow storage type, ``struct<uri: string, pts_ns: int64>``."""
        return _ref_struct_type()

    def __call__(self) -> pa.StructType:
        """Return the Arrow storage type (what ``datasets`` asks a feature for)."""
        return self.pa_type

    def encode_example(self, value: Any) -> dict[str, Any]:
        """Return the stored form ``{"uri": str, "pts_ns": int | None}`` of `value`.

        Args:
            value: A `MediaRef`, a mapping with ``uri`` and optionally ``pts_ns``, or a
                string or path (an image).

        Raises:
            InvalidReferenceError: `value` is none of those, or not a valid reference.
        """
        if value.__class__ is not MediaRef:
            if isinstance(value, Mapping):
                if "uri" not in value:
                    raise InvalidReferenceError(f"a reference needs a 'uri', got {value!r}")
                value = MediaRef(value["uri"], value.get("pts_ns"))
            elif isinstance(value, (str, os.PathLike)):
                value = MediaRef(os.fspath(value))
            elif not isinstance(value, MediaRef):
                raise InvalidReferenceError(
                    f"expected a MediaRef, a mapping or a URI, got {type(value).__name__}"
                )
        return {"uri": value.uri, "pts_ns": value.pts_ns}

    def decode_example(
        self, value: dict[str, Any], token_per_repo_id: Any = None
    ) -> MediaRef | dict[str, Any]:
        """Return the `MediaRef` a stored row holds (the dict itself if not `decode`)."""
        del token_per_repo_id  # part of datasets' feature protocol; nothing to fetch here
        if not self.decode:
            return value
        return MediaRef(value["uri"], value["pts_ns"])

    def cast_storage(self, storage: pa.Array) -> pa.StructArray:
        """Cast Arrow `storage` to ``struct<uri: string, pts_ns: int64>``.

        Args:
            storage: A struct array with a ``uri`` string field and optionally an integer
                ``pts_ns`` field (other fields are dropped), or a string array of URIs
                (images).

        Raises:
            TypeError: `storage` is neither.
        """
        import pyarrow as pa

        if pa.types.is_string(storage.type) or pa.types.is_large_string(storage.type):
            uris = storage.cast(pa.string())
            pts = pa.nulls(len(storage), pa.int64())
        elif pa.types.is_struct(storage.type) and storage.type.get_field_index("uri") >= 0:
            uris = storage.field("uri").cast(pa.string())
            has_pts = storage.type.get_field_index("pts_ns") >= 0
            pts = (
                storage.field("pts_ns").cast(pa.int64())
                if has_pts
                else pa.nulls(len(storage), pa.int64())
            )
        else:
            raise TypeError(
                f"cannot cast Arrow type {storage.type} to a MediaRef column: expected "
                "struct<uri: string, pts_ns: int64> or string"
            )
        return pa.StructArray.from_arrays(
            [uris, pts], fields=list(_ref_struct_type()), mask=storage.is_null()
        )


def is_ref_struct(feature: Any) -> bool:
    """Whether `feature` is the stored form of a reference column.

    That is ``{"uri": Value("string"), "pts_ns": Value("int64")}`` (any field order), what
    ``datasets`` reads back for a column saved with `MediaRefFeature`, or a
    `MediaRefFeature` itself.
    """
    if isinstance(feature, MediaRefFeature):
        return True
    if not isinstance(feature, dict) or feature.keys() != {"uri", "pts_ns"}:
        return False
    return (
        getattr(feature["uri"], "dtype", None) == "string"
        and getattr(feature["pts_ns"], "dtype", None) == "int64"
    )


def _attach(feature: Any, decode: bool) -> tuple[Any, int]:
    # Returns the feature with each reference struct replaced, and how many were.
    if is_ref_struct(feature):
        return MediaRefFeature(decode=decode), 1
    datasets = _datasets()
    if isinstance(feature, dict):
        out, count = {}, 0
        for key, sub in feature.items():
            out[key], n = _attach(sub, decode)
            count += n
        return out, count
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        inner, n = _attach(feature.feature, decode)
        if isinstance(feature, datasets.List):
            return datasets.List(inner, length=feature.length), n
        return datasets.LargeList(inner), n
    if isinstance(feature, list) and len(feature) == 1:
        inner, n = _attach(feature[0], decode)
        return [inner], n
    return feature, 0


def with_refs(dataset: D, *columns: str, decode: bool = True) -> D:
    """Return `dataset` with its reference structs read as `MediaRef`s.

    Every ``struct<uri: string, pts_ns: int64>`` inside each named column (the column
    itself, or nested in structs and lists) gets `MediaRefFeature` back, through
    ``cast_column``; the stored data does not change. Use it after ``load_from_disk``,
    ``load_dataset`` or ``Dataset.from_parquet``, which read those columns as dicts.

    Args:
        dataset: A ``Dataset``, ``IterableDataset``, ``DatasetDict`` or
            ``IterableDatasetDict`` (each split is cast).
        *columns: The columns holding references (at least one).
        decode: Whether rows read as `MediaRef`s (default) or dicts.

    Returns:
        A new dataset of the same type.

    Raises:
        ValueError: No column was named, a column does not exist, or holds no reference
            struct.
        BackendNotInstalledError: ``datasets`` is not installed.
    """
    if not columns:
        raise ValueError("with_refs needs the names of the columns that hold references")
    datasets = _datasets()
    if isinstance(dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        splits = {
            name: with_refs(split, *columns, decode=decode) for name, split in dataset.items()
        }
        return type(dataset)(splits)  # type: ignore[no-any-return]
    features = dataset.features  # type: ignore[attr-defined]
    if features is None:
        raise ValueError(
            "the dataset's features are unknown (a streamed dataset): load it with features="
        )
    out: Any = dataset
    for column in columns:
        if column not in features:
            raise ValueError(f"column {column!r} is not in the dataset; it has {list(features)}")
        feature, count = _attach(features[column], decode)
        if count == 0:
            raise ValueError(
                f"column {column!r} holds no struct<uri: string, pts_ns: int64>; "
                f"its feature is {features[column]}"
            )
        out = out.cast_column(column, feature)
    return out  # type: ignore[no-any-return]


_PLAIN = {
    "uri": {"dtype": "string", "_type": "Value"},
    "pts_ns": {"dtype": "int64", "_type": "Value"},
}


def _unregistered(features: Any) -> tuple[Any, bool]:
    # PyPI mediaref 2.x wrote {"_type": "MediaRef"} (and "decode"); the storage is the same.
    if isinstance(features, list):
        items = [_unregistered(f) for f in features]
        return [f for f, _ in items], any(found for _, found in items)
    if not isinstance(features, dict):
        return features, False
    if features.get("_type") == "MediaRef":
        return dict(_PLAIN), True
    out, found = {}, False
    for key, value in features.items():
        out[key], sub = _unregistered(value)
        found |= sub
    return out, found


def load_mediaref2(path: str | os.PathLike[str], *, decode: bool = True) -> Any:
    """Load a dataset saved with PyPI mediaref 2.x's feature, which ``datasets`` cannot load.

    mediaref 2.x saved its column as a registered feature type (``{"_type": "MediaRef"}`` in
    ``dataset_info.json`` and in the schema metadata of its Arrow and Parquet files), so
    ``load_from_disk`` and ``from_parquet`` raise ``Feature type 'MediaRef' not found``
    without it. The data is the plain struct: this reads it with that type replaced by the
    plain struct, and returns it with `with_refs` applied to those columns. Nothing is
    rewritten on disk; ``save_to_disk`` of the result saves the plain form.

    Args:
        path: A ``save_to_disk`` directory (of a ``Dataset`` or a ``DatasetDict``) or a
            Parquet file.
        decode: As for `with_refs`, for every reference column (2.x's per-feature
            ``decode`` is not kept).

    Returns:
        A ``Dataset`` (a ``DatasetDict`` for a ``DatasetDict`` directory).

    Raises:
        BackendNotInstalledError: ``datasets`` is not installed.
        FileNotFoundError: `path` does not exist.
    """
    datasets = _datasets()
    root = Path(path)
    if (root / "dataset_dict.json").is_file():
        splits = json.loads((root / "dataset_dict.json").read_text())["splits"]
        return datasets.DatasetDict(
            {split: load_mediaref2(root / split, decode=decode) for split in splits}
        )
    from datasets.table import InMemoryTable, MemoryMappedTable, concat_tables

    if root.is_dir():
        state = json.loads((root / "state.json").read_text())
        files = [root / f["filename"] for f in state["_data_files"]]
        table = concat_tables([MemoryMappedTable.from_file(str(f)) for f in files])
    elif root.is_file():
        import pyarrow.parquet as pq

        table = InMemoryTable(pq.read_table(root))
    else:
        raise FileNotFoundError(f"no dataset at {os.fspath(path)!r}")
    return _with_plain_features(datasets, table, decode)


def _with_plain_features(datasets: Any, table: Any, decode: bool) -> Any:
    metadata = table.schema.metadata or {}
    hf = json.loads(metadata.get(b"huggingface", b"{}"))
    saved = (hf.get("info") or {}).get("features")
    table = table.replace_schema_metadata(None)
    if saved is None:
        return datasets.Dataset(table)
    plain, columns = {}, []
    for name, feature in saved.items():
        plain[name], found = _unregistered(feature)
        if found:
            columns.append(name)
    info = datasets.DatasetInfo(features=datasets.Features.from_dict(plain))
    ds = datasets.Dataset(table, info=info)
    return with_refs(ds, *columns, decode=decode) if columns else ds
