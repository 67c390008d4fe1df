"""`batch_decode`: group references by source, decode each source once, keep input order."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from typing import Any, Literal

from ._decode import decode_image, decode_video
from ._errors import MediaRefError, short_repr
from ._out import copy_into, slots, zero
from ._protocols import DecodedFrame, ImageFormat, check_image_format
from ._ref import MediaRef
from ._routing import check_options
from ._threads import run_parallel

__all__ = ["batch_decode"]

OnError = Literal["raise", "return"]


def batch_decode(
    refs: Iterable[MediaRef],
    *,
    decoder: str | None = None,
    format: ImageFormat = "rgb",
    on_error: OnError = "raise",
    max_workers: int | None = None,
    strategy: object = None,
    with_pts: bool = False,
    out: Any = None,
    **options: Any,
) -> list[Any]:
    """Decode many references, each source opened once, in input order.

    References to the same video are handed to its decoder in one call, which plans
    the least decoding work; different sources are decoded in parallel threads.

    Args:
        refs: Image and video-frame references, in any order and mix.
        decoder: Backend name, e.g. ``"pyav"``; it applies to the kind of media it
            decodes, the highest-priority backend decodes the other kind.
        format: Channel order of the arrays (see `MediaRef.to_ndarray`).
        on_error: ``"raise"`` raises the error of the first failing reference (in input
            order) once every source is closed; ``"return"`` puts each failing reference's
            `MediaRefError` in its place in the result and returns the rest.
        max_workers: Threads for sources decoded in parallel; default ``os.cpu_count()``.
        strategy: Accepted for compatibility with ``mediaref.video_decoder.
            BatchDecodingStrategy``; the planner chooses the least work for any pattern.
        with_pts: Return each result as a `DecodedFrame` ``(data, pts_ns, frame_index)``:
            the first ns the returned frame is on screen and its index in presentation
            order (`None` for images), from the same index as the pixels.
        out: Where to write the frames, NumPy-style: a writable C-contiguous uint8 array
            of shape ``(len(refs), *frame_shape)`` (``out[i]`` takes reference ``i``), or a
            sequence with one such array (or `None`: a new array) per reference. Each
            frame is written straight into its slot where the backend can (`FramesInto`;
            ``mediaref-av`` converts into it with swscale), else copied there; the result
            holds the slot objects themselves (``result[i] is out[i]`` for a sequence,
            a view ``out[i]`` for an array). A slot must have the shape of the frame as
            decoded (with the backend's ``size``/``layout`` options); a slot that does
            not fit fails its reference alone with `InvalidOutputError`. The slot of a
            reference that fails (any error) is filled with zeros, never left with what
            it held before; the other slots are unharmed. Images are copied into theirs.
        **options: Backend options (see ``mediaref plugins -v``); each reaches only the
            backends that declare it.

    Returns:
        One array per reference (or, with ``on_error="return"``, a `MediaRefError`).

    Raises:
        InvalidOptionError: An option that no installed backend declares.
        InvalidOutputError: `out` is not a writable C-contiguous uint8 buffer with one
            slot per reference (checked before any decoding).
        MediaRefError: With ``on_error="raise"``, the first failing reference's error.
    """
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {short_repr(on_error)}")
    check_image_format(format)
    check_options(options)
    refs = list(refs)
    dests = None if out is None else slots(out, len(refs))
    isolate = on_error == "return"
    videos: dict[str, tuple[list[int], list[int]]] = {}  # uri -> (indices, pts_ns)
    images: dict[str, list[int]] = {}  # uri -> indices
    for i, ref in enumerate(refs):
        if not isinstance(ref, MediaRef):
            raise TypeError(f"batch_decode takes MediaRef objects, got {type(ref).__name__}")
        if ref.pts_ns is None:
            images.setdefault(ref.uri, []).append(i)
        else:
            idx, pts = videos.setdefault(ref.uri, ([], []))
            idx.append(i)
            pts.append(ref.pts_ns)
    results: list[Any] = [None] * len(refs)

    def run_video(uri: str) -> None:
        idx, pts = videos[uri]
        try:
            where = None if dests is None else [dests[i] for i in idx]
            frames = decode_video(uri, pts, format, decoder, options, with_pts=with_pts, out=where)
        except MediaRefError as e:
            frames = [e.at(t) for t in pts]
        for i, f in zip(idx, frames, strict=True):
            results[i] = f

    def run_image(uri: str) -> None:
        idx = images[uri]
        try:
            img: Any = decode_image(uri, format, decoder, options)
        except MediaRefError as e:
            img = e
        for n, i in enumerate(idx):
            item = _image_item(img, n, None if dests is None else dests[i], uri)
            ok = with_pts and not isinstance(item, MediaRefError)
            results[i] = DecodedFrame(item, None, None) if ok else item

    tasks = [partial(run_video, u) for u in videos] + [partial(run_image, u) for u in images]
    run_parallel(tasks, min(len(tasks), max_workers or os.cpu_count() or 1))
    if dests is not None:
        for item, dest in zip(results, dests, strict=True):
            if dest is not None and isinstance(item, MediaRefError):
                zero(dest)  # never a stale frame of an earlier batch in a failed slot
    if not isolate:
        for item in results:
            if isinstance(item, MediaRefError):
                raise item
    for item in results:
        if isinstance(item, MediaRefError):
            _drop_tracebacks(item)
    return results


def _image_item(img: Any, n: int, dest: Any, uri: str) -> Any:
    """The `n`-th result of a decoded image (`img`, or its error), in `dest` if given."""
    if isinstance(img, MediaRefError):
        return img
    if dest is not None:
        try:
            return copy_into(dest, img, uri=uri, pts_ns=None)
        except MediaRefError as e:
            return e
    return img.copy() if n else img  # callers may write to their arrays


def _drop_tracebacks(err: BaseException) -> None:
    """Clear the tracebacks of `err` and of its causes, once it is a returned value.

    Their frames hold the backend's decoding state (an FFmpeg codec context and its
    threads) alive for as long as the caller keeps the error, e.g. in a log of failures.
    """
    todo: list[BaseException | None] = [err]
    seen: set[int] = set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__cause__, e.__context__]
