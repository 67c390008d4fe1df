"""`batch_decode`: group references by source, decode each source once, keep input order."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Literal, cast, get_args

from ._errors import (
    MediaRefError,
    UndecodableMediaError,
    UnsupportedSourceError,
)
from ._plugins import open_routed_source
from ._protocols import ImageBackend, ImageFormat, VideoBackend, VideoDecoder
from ._ref import MediaRef
from ._routing import (
    Verdict,
    check_options,
    declined_error,
    options_for,
    require_any,
    route,
)
from ._threads import run_parallel
from .timeline import out_of_range

__all__ = ["batch_decode", "decode_one", "open_video"]

OnError = Literal["raise", "return"]
_FORMATS: tuple[str, ...] = get_args(ImageFormat)


def _wrap(e: Exception, backend: str, uri: str, pts_ns: int | None) -> MediaRefError:
    if isinstance(e, MediaRefError):
        if e.uri is not None and (pts_ns is None or e.pts_ns is not None):
            return e
        # Every message names the URI and the pts, whatever the backend put in it.
        named = e.at(pts_ns if e.pts_ns is None else e.pts_ns, uri=e.uri or uri)
        named.__cause__ = e
        return named
    err = UndecodableMediaError(
        f"{backend!r} backend failed: {type(e).__name__}: {e}", uri=uri, pts_ns=pts_ns
    )
    err.__cause__ = e
    return err


def _decode_image(
    uri: str, format: ImageFormat, decoder: str | None, options: dict[str, Any]
) -> Any:
    require_any("image", uri)
    source = open_routed_source(uri, options)
    data = source.read_all()
    passed: list[Verdict] = []
    declined: list[tuple[ImageBackend | VideoBackend, str]] = []
    for backend in route("image", source, decoder=decoder, data=data, passed=passed):
        image = cast(ImageBackend, backend)
        try:
            return image.decode(data, format=format, uri=uri, **options_for(image, options))
        except UnsupportedSourceError as e:
            declined.append((backend, e.message))
        except Exception as e:
            raise _wrap(e, backend.name, uri, None) from e
    raise declined_error("image", uri, passed, declined)


def _open_video(
    uri: str, decoder: str | None, options: dict[str, Any]
) -> tuple[VideoBackend, VideoDecoder]:
    """Open `uri` with the first backend that accepts it and does not decline it."""
    require_any("video", uri)
    source = open_routed_source(uri, options)
    passed: list[Verdict] = []
    declined: list[tuple[ImageBackend | VideoBackend, str]] = []
    for backend in route("video", source, decoder=decoder, passed=passed):
        video = cast(VideoBackend, backend)
        try:
            return video, video.open(source, **options_for(video, options))
        except UnsupportedSourceError as e:
            declined.append((video, e.message))
        except Exception as e:
            raise _wrap(e, backend.name, uri, None) from e
    raise declined_error("video", uri, passed, declined)


def open_video(uri: str, *, decoder: str | None = None, **options: Any) -> VideoDecoder:
    """Open the video `uri` with the backend routing picks (or `decoder`).

    Raises:
        InvalidOptionError: An option that no installed backend declares.
        BackendNotInstalledError: No installed backend accepts the video.
        UnsupportedSourceError: Every backend that accepts it declined it.
    """
    check_options(options)
    return _open_video(uri, decoder, options)[1]


def _decode_video(
    uri: str,
    pts_ns: Sequence[int],
    format: ImageFormat,
    decoder: str | None,
    options: dict[str, Any],
) -> list[Any]:
    """Decode all `pts_ns` of one video in one call; out-of-range timestamps become errors.

    A failing decode of several timestamps is retried per timestamp, so that only the
    timestamps that fail become errors, each naming its own pts.
    """
    backend, video = _open_video(uri, decoder, options)
    with video:
        meta = video.metadata
        out: list[Any] = [None] * len(pts_ns)
        valid: list[int] = []
        for i, t in enumerate(pts_ns):
            err = out_of_range(t, meta.begin_ns, meta.end_ns, uri=uri)
            if err is None:
                valid.append(i)
            else:
                out[i] = err
        if not valid:
            return out
        try:
            frames = video.frames_played_at([pts_ns[i] for i in valid], format=format)
        except Exception as e:
            if len(valid) == 1:
                raise _wrap(e, backend.name, uri, pts_ns[valid[0]]) from e
            # Find which timestamps fail and keep the frames of the others.
            frames = []
            for i in valid:
                try:
                    frames.append(video.frames_played_at([pts_ns[i]], format=format)[0])
                except Exception as e1:
                    frames.append(_wrap(e1, backend.name, uri, pts_ns[i]))
        for i, frame in zip(valid, frames, strict=True):
            out[i] = frame
        return out


def _check_format(format: str) -> None:
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, _FORMATS))}, got {format!r}")


def decode_one(
    ref: MediaRef, *, format: ImageFormat, decoder: str | None, options: dict[str, Any]
) -> Any:
    """Decode one reference (the engine of `MediaRef.to_ndarray`)."""
    _check_format(format)
    check_options(options)
    if ref.pts_ns is None:
        return _decode_image(ref.uri, format, decoder, options)
    try:
        frame = _decode_video(ref.uri, [ref.pts_ns], format, decoder, options)[0]
    except MediaRefError as e:
        raise e.at(ref.pts_ns) from e.__cause__
    if isinstance(frame, MediaRefError):
        raise frame
    return frame


def batch_decode(
    refs: Iterable[MediaRef],
    *,
    decoder: str | None = None,
    format: ImageFormat = "rgb",
    on_error: OnError = "raise",
    max_workers: int | None = None,
    strategy: object = None,
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
        **options: Backend options (see ``mediaref plugins -v``); each reaches only the
            backends that declare it.

    Returns:
        One array per reference (or, with ``on_error="return"``, a `MediaRefError`).

    Raises:
        InvalidOptionError: An option that no installed backend declares.
        MediaRefError: With ``on_error="raise"``, the first failing reference's error.
    """
    if on_error not in ("raise", "return"):
        raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
    _check_format(format)
    check_options(options)
    refs = list(refs)
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
    out: list[Any] = [None] * len(refs)

    def run_video(uri: str) -> None:
        idx, pts = videos[uri]
        try:
            frames = _decode_video(uri, pts, format, decoder, options)
        except MediaRefError as e:
            frames = [e.at(t) for t in pts]
        for i, f in zip(idx, frames, strict=True):
            out[i] = f

    def run_image(uri: str) -> None:
        idx = images[uri]
        try:
            img: Any = _decode_image(uri, format, decoder, options)
        except MediaRefError as e:
            img = e
        for n, i in enumerate(idx):
            out[i] = img.copy() if n and not isinstance(img, MediaRefError) else img

    tasks = [partial(run_video, u) for u in videos] + [partial(run_image, u) for u in images]
    run_parallel(tasks, min(len(tasks), max_workers or os.cpu_count() or 1))
    if not isolate:
        for item in out:
            if isinstance(item, MediaRefError):
                raise item
    for item in out:
        if isinstance(item, MediaRefError):
            _drop_tracebacks(item)
    return out


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
