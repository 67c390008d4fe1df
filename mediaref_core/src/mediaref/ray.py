"""Ray Data: decode a Parquet table of references across the cores of one machine or a cluster.

The recipe::

    ds = mediaref.ray.read_refs("steps.parquet", column="obs.image")  # uri, pts_ns columns
    frames = mediaref.ray.decode_refs(ds, image_format="png", batch_size=64)
    frames.write_parquet("frames/")  # uri, pts_ns, frame_pts_ns, frame_index, image

Why sort + ``map_batches`` and not ``groupby(uri).map_groups``: ``map_groups`` hands
a task *every* reference of a video in one batch, so memory grows with the longest
video (a one-hour episode at 20 Hz is 72,000 frames). `decode_refs` sorts the table by
``(uri, pts_ns)`` (Ray's distributed sort), so each video's references are contiguous
and in time order, then ``map_batches`` cuts them into batches of `batch_size`
references: a task holds at most one batch of frames, each batch is one
`mediaref.batch_decode` call (one plan per video, each file opened once per batch), and
the next batch of the same video, usually on the same worker process, finds the
container, its packet index and its live decoder in the video plugin's caches. A video
is split between two tasks only at a block edge.

ray (and pyarrow, which it brings) is imported on first use, never by ``import mediaref``;
without it these functions raise `BackendNotInstalledError`. See docs/training.md for
running the same code on a cluster with videos on S3 or HTTPS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._errors import BackendNotInstalledError, MediaRefError
from ._ref import MediaRef

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["decode_parquet", "decode_refs", "read_refs"]


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise BackendNotInstalledError(
            'mediaref.ray needs Ray Data; install it with: pip install "ray[data]"'
        ) from None
    return ray


def read_refs(
    paths: str | Sequence[str],
    *,
    column: str,
    keep: Sequence[str] = (),
    **read_options: Any,
) -> Any:
    """Read a column of references from Parquet into a Ray dataset of ``uri``, ``pts_ns``.

    Args:
        paths: Parquet files or directories, local or remote (as ``ray.data.read_parquet``
            reads them: ``s3://...`` with ``filesystem=`` or the default credentials).
        column: The reference column, a dotted path for a nested one (``"obs.image"``),
            stored as ``struct<uri: string, pts_ns: int64>``.
        keep: Other top-level columns to carry along (an episode id, a step number).
        **read_options: Passed to ``ray.data.read_parquet`` (``filesystem``,
            ``override_num_blocks``...).

    Returns:
        A ``ray.data.Dataset`` with columns ``uri``, ``pts_ns`` and those of `keep`.

    Raises:
        BackendNotInstalledError: Ray Data is not installed.
    """
    ray = _ray()
    ds = ray.data.read_parquet(paths, **read_options)
    return ds.map_batches(
        _flatten,
        batch_format="pyarrow",
        fn_kwargs={"column": column, "keep": tuple(keep)},
    )


def decode_refs(
    ds: Any,
    *,
    image_format: Literal["png", "jpeg", "webp"] | None = "png",
    batch_size: int = 64,
    format: Literal["rgb", "bgr", "rgba", "bgra", "gray"] = "rgb",
    decoder: str | None = None,
    num_cpus: int = 1,
    on_error: Literal["raise", "return"] = "raise",
    sort: bool = True,
    **options: Any,
) -> Any:
    """Decode the frames of a dataset of references (columns ``uri``, ``pts_ns``).

    Args:
        ds: A ``ray.data.Dataset`` with ``uri`` and ``pts_ns`` columns (`read_refs`).
        image_format: Encode each frame (``image`` column, bytes) with the image encoder
            (``mediaref-pil``), or `None` for raw arrays (``frame`` tensor column).
        batch_size: References per `mediaref.batch_decode` call: the bound on the
            frames a task holds at once.
        format: Channel order of the frames.
        decoder: Video backend name, as for `mediaref.batch_decode`.
        num_cpus: CPUs each task reserves; also its codec threads (``threads`` and
            ``workers`` of ``mediaref-av``, unless given in `options`).
        on_error: ``"raise"`` fails the job on the first bad reference; ``"return"``
            writes its message in the ``error`` column (null when decoded) and goes on.
        sort: Sort by ``(uri, pts_ns)`` first (see the module's docstring); ``False``
            when the table is already in that order.
        **options: Backend options (see ``mediaref plugins -v``).

    Returns:
        A lazy ``ray.data.Dataset``: the input columns plus ``frame_pts_ns`` (the first
        ns the returned frame is on screen), ``frame_index``, ``error`` and ``image``
        or ``frame``; in ``(uri, pts_ns)`` order when sorted.

    Raises:
        BackendNotInstalledError: Ray Data is not installed.
    """
    _ray()
    if sort:
        ds = ds.sort(["uri", "pts_ns"])
    if "threads" not in options and _declared("threads"):
        options = {**options, "threads": num_cpus, "workers": num_cpus}
    return ds.map_batches(
        _decode_batch,
        batch_size=batch_size,
        batch_format="pyarrow",
        num_cpus=num_cpus,
        fn_kwargs={
            "image_format": image_format,
            "format": format,
            "decoder": decoder,
            "on_error": on_error,
            "options": options,
        },
    )


def decode_parquet(
    source: str | Sequence[str],
    destination: str,
    *,
    column: str,
    keep: Sequence[str] = (),
    read_options: dict[str, Any] | None = None,
    **decode_options: Any,
) -> None:
    """Read references from Parquet, decode them, and write Parquet files of frames.

    `read_refs` then `decode_refs` (`decode_options`), then ``write_parquet(destination)``.
    """
    ds = read_refs(source, column=column, keep=keep, **(read_options or {}))
    decode_refs(ds, **decode_options).write_parquet(destination)


def _flatten(table: pa.Table, *, column: str, keep: tuple[str, ...]) -> pa.Table:
    import pyarrow as pa

    from .arrow import select

    refs = select(table, column)
    if isinstance(refs, pa.ChunkedArray):
        refs = refs.combine_chunks()
    columns = {"uri": refs.field("uri"), "pts_ns": refs.field("pts_ns")}
    columns.update({name: table.column(name) for name in keep})
    return pa.table(columns)


def _decode_batch(
    table: pa.Table,
    *,
    image_format: str | None,
    format: Any,
    decoder: str | None,
    on_error: Literal["raise", "return"],
    options: dict[str, Any],
) -> Any:
    from ._batch import batch_decode

    uris = table.column("uri").to_pylist()
    times = table.column("pts_ns").to_pylist()
    refs = [MediaRef(u, t) for u, t in zip(uris, times, strict=True)]
    decoded = batch_decode(
        refs, decoder=decoder, format=format, on_error=on_error, with_pts=True, **options
    )
    if image_format is None:
        return _with_arrays(table, decoded)
    return _with_images(table, decoded, image_format, format)


def _meta(decoded: list[Any]) -> dict[str, list[Any]]:
    bad = [isinstance(d, MediaRefError) for d in decoded]
    return {
        "frame_pts_ns": [None if b else d.pts_ns for b, d in zip(bad, decoded, strict=True)],
        "frame_index": [None if b else d.frame_index for b, d in zip(bad, decoded, strict=True)],
        "error": [str(d) if b else None for b, d in zip(bad, decoded, strict=True)],
    }


def _with_images(table: pa.Table, decoded: list[Any], image_format: str, channels: Any) -> pa.Table:
    import pyarrow as pa

    from ._plugins import image_encoder

    encoder = image_encoder(None)
    images = [
        None
        if isinstance(d, MediaRefError)
        else encoder.encode(d.data, format=image_format, quality=None, input_format=channels)[0]
        for d in decoded
    ]
    meta = _meta(decoded)
    out = table
    for name, values in meta.items():
        kind = pa.string() if name == "error" else pa.int64()
        out = out.append_column(name, pa.array(values, kind))
    return out.append_column("image", pa.array(images, pa.binary()))


def _with_arrays(table: pa.Table, decoded: list[Any]) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {name: table.column(name).to_numpy(False) for name in table.column_names}
    meta = _meta(decoded)
    out["frame_pts_ns"] = np.array(meta["frame_pts_ns"], np.int64)
    out["frame_index"] = np.array(meta["frame_index"], np.int64)
    out["error"] = np.array(meta["error"], object)
    frames: list[Any] = [None if isinstance(d, MediaRefError) else d.data for d in decoded]
    if all(f is not None for f in frames) and len({f.shape for f in frames}) == 1:
        out["frame"] = np.stack(frames)
    else:
        column = np.empty(len(frames), object)
        column[:] = frames
        out["frame"] = column
    return out


def _declared(option: str) -> bool:
    from ._plugins import registry

    return option in registry().option_names
