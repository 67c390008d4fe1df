"""What backends provide and return: the types `batch_decode` and third parties program against."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import IO, Any, Literal, NamedTuple, Protocol, runtime_checkable

import msgspec

from ._errors import TimestampOutOfRangeError, short_repr

__all__ = [
    "DecodedFrame",
    "FrameTimes",
    "FramesInto",
    "check_image_format",
    "ByteSource",
    "ImageBackend",
    "ImageEncoder",
    "IMAGE_FORMATS",
    "ImageFormat",
    "Option",
    "VideoBackend",
    "VideoDecoder",
    "VideoMetadata",
]

ImageFormat = Literal["rgb", "bgr", "rgba", "bgra", "gray"]
"""Channel order of returned arrays: ``(H, W, 3)``, ``(H, W, 4)`` or ``(H, W)`` for gray."""

IMAGE_FORMATS: dict[str, int] = {"rgb": 3, "bgr": 3, "rgba": 4, "bgra": 4, "gray": 1}
"""Every `ImageFormat` and its number of channels (gray arrays are 2-D)."""


def check_image_format(format: str) -> None:
    """Raise unless `format` is an `ImageFormat`; every backend checks through this.

    Raises:
        ValueError: Naming the valid formats.
    """
    if format not in IMAGE_FORMATS:
        valid = ", ".join(map(repr, IMAGE_FORMATS))
        raise ValueError(f"format must be one of {valid}, got {short_repr(format)}")


@runtime_checkable
class ByteSource(Protocol):
    """The bytes a URI names, opened by the core or by a source plugin.

    Decoders read through this, never by parsing the URI themselves.
    """

    uri: str
    """The URI as the reference gave it."""

    @property
    def local_path(self) -> str | None:
        """A filesystem path a decoder may open directly, or `None` (remote, embedded)."""

    @property
    def identity(self) -> tuple[object, ...]:
        """A key that changes when the content may have changed (path, size, mtime)."""

    def read_all(self) -> bytes | memoryview:
        """Return the whole content, within the source's size limit."""

    def open(self) -> IO[bytes]:
        """Return a new seekable binary file object; the caller closes it."""


class VideoMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """What a video stream is, with every time in integer nanoseconds of its own timeline."""

    codec: str
    """FFmpeg codec name, e.g. ``"h264"``."""
    width: int
    height: int
    num_frames: int
    """Frames in the stream, counted from the packet index (not the header)."""
    begin_ns: int
    """The first nanosecond at which a frame is on screen (the first frame's pts)."""
    end_ns: int
    """The end of the last frame (its pts plus its duration), exclusive."""
    average_fps: float
    """Frames per second over the whole stream; for display only."""
    time_base: tuple[int, int]
    """The stream's tick length as ``(numerator, denominator)`` seconds."""
    pixel_format: str = ""
    stream_index: int = 0
    rotation: int = 0
    """Clockwise degrees a player rotates the picture by; applied to returned frames."""
    key_frames: int = 0
    """Seekable keyframes found in the packet index."""

    @property
    def duration_ns(self) -> int:
        """``end_ns - begin_ns``."""
        return self.end_ns - self.begin_ns


@runtime_checkable
class VideoDecoder(Protocol):
    """An open video stream that returns the frames on screen at given timestamps.

    Every video backend returns one from its `VideoBackend.open`. Frame selection obeys
    the rule of `mediaref.timeline`: ``pts[i] <= t < pts[i+1]`` selects frame ``i``; the
    last frame is shown until `VideoMetadata.end_ns`; anything outside ``[begin_ns,
    end_ns)`` raises `TimestampOutOfRangeError`.
    """

    @property
    def metadata(self) -> VideoMetadata:
        """The stream's metadata."""

    def frames_played_at(self, pts_ns: Sequence[int], *, format: ImageFormat = "rgb") -> list[Any]:
        """Return one uint8 array per timestamp, in the order asked (repeats allowed).

        Raises:
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
            UndecodableMediaError: The stream cannot be decoded.
        """

    def close(self) -> None:
        """Release the container; safe to call twice."""

    def __enter__(self) -> VideoDecoder: ...

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class DecodedFrame(NamedTuple):
    """A decoded image or video frame, with the frame's place on the stream's timeline.

    What ``batch_decode(..., with_pts=True)``, `iter_decode` and `decode_clip` return. The
    pixels and the times come from the same index: `pts_ns` is when the returned picture
    starts being shown, which is at or before the time asked for.
    """

    data: Any
    """The uint8 array."""
    pts_ns: int | None
    """The first ns the returned frame is on screen; `None` for a still image."""
    frame_index: int | None
    """The frame's index in presentation order (0 = first); `None` for a still image."""


@runtime_checkable
class FrameTimes(Protocol):
    """What a `VideoDecoder` implements to report which frame it shows when.

    Optional for third-party backends: ``batch_decode(..., with_pts=True)`` and
    `decode_clip` need it. Answers must follow `mediaref.timeline`'s rule, from the same
    index the pixels come from.
    """

    def shown_at(self, pts_ns: Sequence[int]) -> list[tuple[int, int]]:
        """Return ``(frame index, first ns on screen)`` of the frame played at each time.

        Raises:
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
        """

    def shown_between(self, start_ns: int, stop_ns: int) -> list[tuple[int, int]]:
        """Return ``(frame index, first ns on screen)`` of every frame on screen in the window.

        The window is ``[start_ns, stop_ns)`` clipped to the stream (see
        `mediaref.timeline.indices_shown_between`); outside the stream it is empty.
        """


@runtime_checkable
class TimeRange(Protocol):
    """What a `VideoDecoder` implements to check timestamps without its full metadata.

    Optional: the core checks each timestamp of a request against ``metadata.begin_ns``
    and ``end_ns`` unless the decoder implements this. A decoder whose metadata costs
    more than the frames asked for implements it (``mediaref-av`` on a remote
    Matroska/WebM file indexed from its cues: the frame count needs every packet).
    """

    def out_of_range(self, pts_ns: Sequence[int]) -> list[TimestampOutOfRangeError | None]:
        """Return, per timestamp, the error it raises if outside ``[begin_ns, end_ns)``."""


@runtime_checkable
class KeepOpen(Protocol):
    """What a `VideoDecoder` implements to be kept open between decode calls.

    Optional: without it, each ``batch_decode`` / ``to_ndarray`` call opens the decoder
    and closes it. With it, a call on a local file gives its decoder back to the core
    (at most 8 are kept per process, the least recently used closed first), which hands
    it to the next call with the same URI, backend choice and options while the file's
    `ByteSource.identity` is unchanged: no routing and no opening per call.
    """

    def park(self) -> None:
        """Wait for the next call: give back what others may use meanwhile.

        ``mediaref-av`` returns its container to the plugin's pool.
        """

    def reusable(self) -> bool:
        """Whether the decoder may serve another call; if not, the core closes it.

        False once what it was opened with went stale (``mediaref-av``: after its caches
        were cleared).
        """


@runtime_checkable
class FramesInto(Protocol):
    """What a `VideoDecoder` implements to write frames into the caller's memory.

    Optional for third-party backends: ``batch_decode(..., out=...)`` calls it when the
    decoder has it, and otherwise copies what `VideoDecoder.frames_played_at` returns
    into the caller's slots (the same pixels, one copy more).
    """

    def frames_played_at_into(
        self, pts_ns: Sequence[int], out: Sequence[Any], *, format: ImageFormat = "rgb"
    ) -> None:
        """Write the frame on screen at ``pts_ns[i]`` into ``out[i]`` (repeats allowed).

        Each ``out[i]`` is a writable, C-contiguous uint8 buffer (buffer protocol, e.g. a
        NumPy array) that must have exactly the shape `VideoDecoder.frames_played_at`
        would return for it; the pixels must be the ones it would return. Write
        nothing else: other slots of the caller's batch may share the same array.

        Raises:
            InvalidOutputError: A slot whose shape, dtype or layout does not fit the frame
                (raise it before writing any slot).
            TimestampOutOfRangeError: A timestamp outside ``[begin_ns, end_ns)``.
            UndecodableMediaError: The stream cannot be decoded.
        """


class Option(msgspec.Struct, frozen=True, kw_only=True):
    """A keyword option a backend accepts, e.g. ``threads`` of ``pyav``.

    The core passes a call's option (``to_ndarray(threads=2)``, ``batch_decode(...,
    threads=2)``) only to the backends that declare it, and refuses, with
    `InvalidOptionError`, an option that no installed backend declares.
    """

    name: str
    """The keyword, e.g. ``"threads"``."""
    type: str
    """The accepted values as a Python annotation, for people: ``"int | None"``."""
    default: Any = None
    """The value used when the option is not given."""
    help: str = ""
    """One line: what the option does."""


class VideoBackend(msgspec.Struct, frozen=True, kw_only=True):
    """A video decoder a plugin provides. Describing it must not import codecs.

    The core routes each video to the highest-priority backend that accepts it: its URI
    scheme is in `schemes`, its container type is in `formats`, and `accepts` (if
    given) returns true; a backend can still decline in `open` by raising
    `UnsupportedSourceError`, and the next one is tried.
    """

    name: str
    """What users pass as ``decoder=``, e.g. ``"pyav"``."""
    open: Callable[..., VideoDecoder]
    """``open(source: ByteSource, **options) -> VideoDecoder``; `options` holds only the
    options this backend declares in `options` that the caller gave."""
    priority: int = 0
    """Among the backends that accept a source, the highest priority is used."""
    schemes: tuple[str, ...] = ()
    """Lower-case URI schemes it reads (``"file"`` covers plain paths); empty: any scheme
    a source plugin opens."""
    formats: tuple[str, ...] = ()
    """Container MIME types it reads, e.g. ``"video/mp4"``; empty: any."""
    accepts: Callable[[ByteSource], bool] | None = None
    """A cheap last check (read a few bytes at most); false passes the source on."""
    options: tuple[Option, ...] = ()
    """The keyword options `open` takes."""
    description: str = ""


class ImageBackend(msgspec.Struct, frozen=True, kw_only=True):
    """An image decoder a plugin provides; routed like `VideoBackend`."""

    name: str
    decode: Callable[..., Any]
    """``decode(data: bytes | memoryview, *, format: ImageFormat, uri: str, **options)``
    returning a uint8 array (or the native dtype when asked with ``dtype="native"``);
    raising `UnsupportedSourceError` passes the image on to the next backend."""
    priority: int = 0
    """Among the backends that accept an image, the highest priority is used."""
    schemes: tuple[str, ...] = ()
    """Lower-case URI schemes it reads (``"file"`` covers plain paths); empty: any."""
    formats: tuple[str, ...] = ()
    """Image MIME types it reads, e.g. ``"image/png"``, matched against the type sniffed
    from the first bytes (else the file extension); empty: any."""
    accepts: Callable[[ByteSource], bool] | None = None
    """A cheap last check (read a few bytes at most); false passes the image on."""
    options: tuple[Option, ...] = ()
    """The keyword options `decode` takes (besides `format` and `uri`)."""
    description: str = ""


class ImageEncoder(msgspec.Struct, frozen=True, kw_only=True):
    """An image encoder a plugin provides, used by `DataURI.from_image`."""

    name: str
    encode: Callable[..., tuple[bytes, str]]
    """``encode(image, *, format: str, quality: int | None, input_format: ImageFormat)``
    returning ``(encoded bytes, MIME type)``; `image` is an array or a PIL image."""
    priority: int = 0
    formats: tuple[str, ...] = ()
    description: str = ""
