"""The decoding engine: route one source to its backend, decode, name every error.

It works on URIs and timestamps, not on `MediaRef`s, so that `MediaRef`, `DataURI` and
`batch_decode` all build on it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, cast, get_args

from . import _kept
from ._errors import (
    BackendNotInstalledError,
    MediaRefError,
    TimestampOutOfRangeError,
    UndecodableMediaError,
    UnsupportedSourceError,
    install_hint,
    short_repr,
)
from ._janitor import tracked
from ._out import copy_into
from ._plugins import open_routed_source, plugin_manager, registry
from ._protocols import (
    ByteSource,
    DecodedFrame,
    FramesInto,
    FrameTimes,
    ImageBackend,
    ImageFormat,
    KeepOpen,
    TimeRange,
    VideoBackend,
    VideoDecoder,
    check_image_format,
)
from ._routing import (
    Verdict,
    check_options,
    declined_error,
    options_for,
    require_any,
    route,
)
from .timeline import out_of_range

__all__ = ["array_to_pil", "decode_image", "decode_one", "decode_video", "open_video", "pil_image"]


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


@tracked
def decode_image(
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
    return _open_source(open_routed_source(uri, options), uri, decoder, options)


def _open_source(
    source: ByteSource, uri: str, decoder: str | None, options: dict[str, Any]
) -> tuple[VideoBackend, VideoDecoder]:
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


@tracked
def open_video(uri: str, *, decoder: str | None = None, **options: Any) -> VideoDecoder:
    """Open the video `uri` with the backend routing picks (or `decoder`).

    Raises:
        InvalidOptionError: An option that no installed backend declares.
        BackendNotInstalledError: No installed backend accepts the video.
        UnsupportedSourceError: Every backend that accepts it declined it.
    """
    check_options(options)
    return _open_video(uri, decoder, options)[1]


@tracked
def decode_video(
    uri: str,
    pts_ns: Sequence[int],
    format: ImageFormat,
    decoder: str | None,
    options: dict[str, Any],
    *,
    with_pts: bool = False,
    out: Sequence[Any] | None = None,
) -> list[Any]:
    """Decode all `pts_ns` of one video in one call; out-of-range timestamps become errors.

    A failing decode of several timestamps is retried per timestamp, so that only the
    timestamps that fail become errors, each naming its own pts. With `with_pts`, each
    frame comes as a `DecodedFrame`. `out` holds a destination (or `None`) per timestamp:
    a frame with one is written there (by the backend if it implements `FramesInto`,
    else copied) and returned as that object. A decoder that implements `KeepOpen` is
    kept open for the next call on the same local file (`_kept`).
    """
    require_any("video", uri)
    source = open_routed_source(uri, options)
    key = _kept.key_of(uri, decoder, options)
    reg = registry()
    kept = None if key is None else _kept.take(key, source, reg)
    if kept is None:
        kept = _kept.opened(reg, source, *_open_source(source, uri, decoder, options))
    backend, video = kept.backend, kept.decoder
    clean = False
    try:
        results, clean = _decode_with(video, backend, uri, pts_ns, format, out, with_pts)
    finally:
        if clean and key is not None:
            _kept.give(key, source, kept, _implements(video, KeepOpen))
        else:
            video.close()
    return results


def _decode_with(
    video: VideoDecoder,
    backend: VideoBackend,
    uri: str,
    pts_ns: Sequence[int],
    format: ImageFormat,
    out: Sequence[Any] | None,
    with_pts: bool,
) -> tuple[list[Any], bool]:
    """`decode_video` on an open decoder; also whether no decode failed (it may be kept)."""
    results: list[Any] = [None] * len(pts_ns)
    valid: list[int] = []
    for i, err in enumerate(_range_errors(video, uri, pts_ns)):
        if err is None:
            valid.append(i)
        else:
            results[i] = err
    if not valid:
        return results, True
    fetch = _fetcher(video, pts_ns, format, out, uri)
    clean = True
    try:
        frames = fetch(valid)
    except Exception as e:
        clean = False
        # A request over `limits.max_request_bytes` fails as a whole: no retry per pts.
        if len(valid) == 1 or hasattr(e, "max_request_bytes"):
            raise _wrap(e, backend.name, uri, pts_ns[valid[0]]) from e
        # Find which timestamps fail and keep the frames of the others.
        frames = []
        for i in valid:
            try:
                frames.append(fetch([i])[0])
            except Exception as e1:
                frames.append(_wrap(e1, backend.name, uri, pts_ns[i]))
    if with_pts:
        frames = _with_times(video, backend.name, uri, [pts_ns[i] for i in valid], frames)
    for i, frame in zip(valid, frames, strict=True):
        results[i] = frame
    return results, clean


def _fetcher(
    video: VideoDecoder,
    pts_ns: Sequence[int],
    format: ImageFormat,
    out: Sequence[Any] | None,
    uri: str,
) -> Callable[[list[int]], list[Any]]:
    """Return ``fetch(positions)``: the frames at those positions of `pts_ns`, in order.

    A position with a destination in `out` gets that object back, the frame written in it.
    """
    if out is None or all(d is None for d in out):
        return lambda sel: video.frames_played_at([pts_ns[i] for i in sel], format=format)
    direct = cast(FramesInto, video) if _implements(video, FramesInto) else None

    def fetch(sel: list[int]) -> list[Any]:
        into = [i for i in sel if out[i] is not None]
        found: dict[int, Any] = {}
        if direct is not None and into:
            dests = [out[i] for i in into]
            direct.frames_played_at_into([pts_ns[i] for i in into], dests, format=format)
            found.update(zip(into, dests, strict=True))
        rest = [i for i in sel if i not in found]
        if rest:
            frames = video.frames_played_at([pts_ns[i] for i in rest], format=format)
            for i, f in zip(rest, frames, strict=True):
                d = out[i]
                found[i] = f if d is None else copy_into(d, f, uri=uri, pts_ns=pts_ns[i])
        return [found[i] for i in sel]

    return fetch


_implemented: dict[tuple[type, type], bool] = {}


def _implements(obj: object, protocol: type) -> bool:
    """``isinstance(obj, protocol)`` for an optional backend protocol, remembered per class.

    A runtime protocol check costs ~5 us (it lists the protocol's members each time); the
    optional protocols are methods, which a decoder's class has or has not.
    """
    key = (type(obj), protocol)
    known = _implemented.get(key)
    if known is None:
        known = _implemented[key] = isinstance(obj, protocol)
    return known


def _range_errors(
    video: VideoDecoder, uri: str, pts_ns: Sequence[int]
) -> list[TimestampOutOfRangeError | None]:
    """Check each timestamp against the stream (`TimeRange` if the decoder has it)."""
    if _implements(video, TimeRange):
        return cast(TimeRange, video).out_of_range(pts_ns)
    meta = video.metadata
    return [out_of_range(t, meta.begin_ns, meta.end_ns, uri=uri) for t in pts_ns]


def _with_times(
    video: VideoDecoder, backend: str, uri: str, pts_ns: list[int], frames: list[Any]
) -> list[Any]:
    """Pair each frame with the index and start time of the frame shown (`DecodedFrame`)."""
    if not _implements(video, FrameTimes):
        raise UnsupportedSourceError(
            f"the {backend!r} backend does not report frame times (mediaref.FrameTimes)",
            uri=uri,
        )
    shown = cast(FrameTimes, video).shown_at(pts_ns)
    return [
        f if isinstance(f, MediaRefError) else DecodedFrame(f, start, index)
        for f, (index, start) in zip(frames, shown, strict=True)
    ]


def decode_one(
    uri: str,
    pts_ns: int | None,
    *,
    format: ImageFormat,
    decoder: str | None,
    options: dict[str, Any],
) -> Any:
    """Decode the image `uri`, or its video frame at `pts_ns` (`MediaRef.to_ndarray`)."""
    check_image_format(format)
    check_options(options)
    if pts_ns is None:
        return decode_image(uri, format, decoder, options)
    try:
        frame = decode_video(uri, [pts_ns], format, decoder, options)[0]
    except MediaRefError as e:
        raise e.at(pts_ns) from e.__cause__
    if isinstance(frame, MediaRefError):
        raise frame
    return frame


PILFormat = Literal["rgb", "rgba", "gray"]


def pil_image(
    uri: str,
    pts_ns: int | None,
    *,
    format: PILFormat,
    decoder: str | None,
    options: dict[str, Any],
) -> Any:
    """Decode like `decode_one` into a ``PIL.Image.Image`` (`to_pil_image`).

    Raises:
        ValueError: `format` is ``"bgr"``/``"bgra"`` (PIL has no such modes) or unknown.
    """
    if format not in get_args(PILFormat):
        raise ValueError(
            f"Format {short_repr(format)} is not compatible with to_pil_image. "
            "Use 'rgb', 'rgba', or 'gray'."
        )
    array = decode_one(uri, pts_ns, format=format, decoder=decoder, options=options)
    return array_to_pil(array, uri=uri)


def array_to_pil(array: Any, *, uri: str | None = None) -> Any:
    """Wrap a decoded array as a ``PIL.Image.Image`` through the plugins (`mediaref-pil`).

    Raises:
        BackendNotInstalledError: No installed plugin makes PIL images.
    """
    image = plugin_manager().hook.mediaref_to_pil_image(array=array)
    if image is None:
        raise BackendNotInstalledError(
            f"no installed plugin makes PIL images; {install_hint('mediaref-pil')}", uri=uri
        )
    return image
