"""`MediaRef`: a reference to an image, or to the video frame on screen at `pts_ns`."""

from __future__ import annotations

import numbers
import os
import posixpath
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from ._errors import InvalidReferenceError, short_repr, short_text, short_uri
from ._pts import PTS_NS_MAX, PTS_NS_MIN
from ._uri import ParsedURI, normalize_uri, parse_uri

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

    from ._decode import PILFormat
    from ._protocols import ImageFormat

__all__ = ["MediaRef"]


# Any int64 (negative included, as in mediaref 0.4.4), and up to 2**64 - 1 because 0.4.4
# round-trips such values through JSON; it is the range JSON and MessagePack carry exactly.
# msgspec bounds only fit in an int64: `__post_init__` (run on decode too) checks the top.
PtsNs = Annotated[int, msgspec.Meta(ge=PTS_NS_MIN)]


class MediaRef(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A reference to an image, or to the video frame on screen at `pts_ns`.

    Immutable and hashable; JSON ``{"uri": "video.mp4", "pts_ns": 1500000000}``, with
    ``pts_ns`` omitted for images. Nothing is read until a ``to_*`` method is called.

    `uri` may be given as a `DataURI` or an ``os.PathLike`` (stored as its string), and
    `pts_ns` as any integral number such as ``np.int64`` (stored as an int).

    Raises:
        InvalidReferenceError: `uri` is not a string, `DataURI` or path, or `pts_ns` is not
            an integer in ``[-2**63, 2**64 - 1]`` (a bool is not).
    """

    uri: str
    """A path or URI, stored exactly as given (a `DataURI` is stored as its string)."""
    pts_ns: PtsNs | None = None
    """Nanoseconds on the stream's own timeline (may be negative); `None` for a still image.

    A time outside the stream raises `TimestampOutOfRangeError` when decoded.
    """

    def __post_init__(self) -> None:
        # Runs on every construction and decode: the cheapest checks first (see bench/).
        if self.pts_ns.__class__ is int:
            if not -9223372036854775808 <= self.pts_ns <= 18446744073709551615:  # type: ignore[operator]
                _bad_pts(self.pts_ns)
        elif self.pts_ns is not None:
            _coerce_pts(self)
        if self.uri.__class__ is not str:
            _coerce_uri(self)

    @property
    def is_video(self) -> bool:
        """Whether this names a video frame (`pts_ns` is set)."""
        return self.pts_ns is not None

    @property
    def is_image(self) -> bool:
        """Whether this names a still image (`pts_ns` is `None`)."""
        return self.pts_ns is None

    @property
    def is_embedded(self) -> bool:
        """Whether the media is embedded in a ``data:`` URI."""
        return _parse_or_empty(self.uri).kind == "data"

    @property
    def is_remote(self) -> bool:
        """Whether the media is behind an ``http:`` or ``https:`` URL."""
        return _parse_or_empty(self.uri).kind == "http"

    @property
    def is_local(self) -> bool:
        """Whether the media is a local file (a path or a ``file:`` URI)."""
        return _parse_or_empty(self.uri).is_local

    @property
    def is_relative_path(self) -> bool:
        """Whether the URI is a relative path, to resolve with `resolve_relative_path`."""
        return _parse_or_empty(self.uri).is_relative_path

    @property
    def scheme(self) -> str:
        """The lower-cased URI scheme (``"file"``, ``"https"``, ``"data"``...); ``""`` for paths."""
        return _parse_or_empty(self.uri).scheme

    def resolve_relative_path(
        self,
        base: str | os.PathLike[str],
        on_unresolvable: Literal["warn", "error", "ignore"] = "warn",
    ) -> MediaRef:
        """Return this reference with a relative path joined onto `base`.

        `base` is a directory path or a ``file:``/``http(s):`` URI of a directory.
        Absolute paths and ``file:`` URIs come back unchanged (the same object). URIs that
        are not paths (``data:``, ``http:``...) cannot be resolved: they come back
        unchanged, with a ``UserWarning``, an error or silently, as `on_unresolvable` says.

        Raises:
            InvalidReferenceError: `on_unresolvable="error"` and the URI is not a path
                (a `ValueError`, as in mediaref 0.4.4).
        """
        parsed = _parse_or_empty(self.uri)
        if parsed.kind not in ("path", "file"):
            if on_unresolvable not in ("warn", "ignore"):
                raise InvalidReferenceError(_unresolvable(self.uri, parsed.kind))
            if on_unresolvable == "warn":
                warnings.warn(_unresolvable(self.uri, parsed.kind), UserWarning, stacklevel=2)
            return self
        if not parsed.is_relative_path:
            return self
        base_str = os.fspath(base)
        base_kind = parse_uri(base_str).kind if base_str else "path"
        if base_kind == "path":
            joined = os.path.join(base_str, self.uri) if self.uri else base_str
        else:
            joined = base_str.rstrip("/") + "/" + posixpath.normpath(self.uri)
        return MediaRef(joined, self.pts_ns)

    def validate_uri(self) -> bool:
        """Whether the media can be found, as mediaref 0.4.4 answered it.

        A local path or ``file:`` URI: whether it exists (a file or a directory). A
        ``data:`` URI: always `True` (its content is checked when decoded). Other schemes:
        whether their source plugin can open it.

        Raises:
            NotImplementedError: For ``http:`` and ``https:`` URLs, as in 0.4.4 (open
                them with `mediaref.open_source` to check that they answer).
        """
        parsed = _parse_or_empty(self.uri)
        if parsed.kind == "http":
            raise NotImplementedError(
                f"validate_uri does not check remote URLs ({short_uri(self.uri)!r}); "
                "mediaref.open_source(uri).identity does"
            )
        if parsed.kind == "data":
            return True
        if parsed.kind in ("path", "file"):
            return bool(parsed.path) and os.path.exists(parsed.path)
        from ._errors import MediaRefError
        from ._plugins import open_source

        try:
            _ = open_source(self.uri).identity
        except MediaRefError:
            return False
        return True

    def is_equivalent(self, other: MediaRef) -> bool:
        """Whether `other` names the same frame, comparing URIs by RFC 3986 normal form.

        ``==`` compares fields exactly; this treats ``HTTP://Host/a/./b`` and
        ``http://host/a/b`` as the same. A plain path is not a URI: only its ``.`` and
        ``..`` segments are normalised (``d/a%41.png`` and ``d/aA.png`` are two files).
        """
        return self.pts_ns == other.pts_ns and (
            self.uri == other.uri or normalize_uri(self.uri) == normalize_uri(other.uri)
        )

    def to_ndarray(
        self, format: ImageFormat = "rgb", *, decoder: str | None = None, **options: Any
    ) -> Any:
        """Load the image or video frame as a numpy array.

        Args:
            format: Channel order: ``rgb``/``bgr`` ``(H, W, 3)``, ``rgba``/``bgra``
                ``(H, W, 4)``, ``gray`` ``(H, W)``; uint8.
            decoder: Backend name (``"pyav"``, ``"pil"``...); by default the highest-priority
                backend that accepts the source.
            **options: Options of the backends and sources (``mediaref plugins -v`` lists
                them); each reaches only those that declare it.

        Raises:
            InvalidOptionError: An option that no installed backend or source declares.
            MediaRefError: A subclass saying what went wrong (see `mediaref` errors).
        """
        from ._decode import decode_one

        return decode_one(self.uri, self.pts_ns, format=format, decoder=decoder, options=options)

    def to_pil_image(
        self, format: PILFormat = "rgb", *, decoder: str | None = None, **options: Any
    ) -> Any:
        """Load the image or video frame as a ``PIL.Image.Image`` (needs Pillow).

        Args:
            format: ``"rgb"`` (mode ``RGB``), ``"rgba"`` (``RGBA``) or ``"gray"`` (``L``).
            decoder: Backend name, as for `to_ndarray`.
            **options: Passed to the backend, as for `to_ndarray`.

        Raises:
            ValueError: `format` is ``"bgr"``/``"bgra"`` (PIL has no such modes) or unknown.
            MediaRefError: A subclass saying what went wrong (see `mediaref` errors).
        """
        from ._decode import pil_image

        return pil_image(self.uri, self.pts_ns, format=format, decoder=decoder, options=options)

    def model_dump(self, *, exclude_none: bool = False, **_: Any) -> dict[str, Any]:
        """Return ``{"uri": ..., "pts_ns": ...}`` as the Pydantic-based package did."""
        if exclude_none and self.pts_ns is None:
            return {"uri": self.uri}
        return {"uri": self.uri, "pts_ns": self.pts_ns}

    def model_dump_json(self, *, exclude_none: bool = False, **_: Any) -> str:
        """Return the JSON the Pydantic-based package wrote (``"pts_ns":null`` for images)."""
        if exclude_none or self.pts_ns is not None:
            return _json_encoder.encode(self).decode()
        return _json_encoder.encode(self.model_dump()).decode()

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> MediaRef:
        """Return a new reference with the fields in `update` replaced, validated.

        `deep` is accepted as in Pydantic; the fields are immutable, so every copy is deep.

        Raises:
            InvalidReferenceError: An updated field is invalid.
            TypeError: `update` names a field a `MediaRef` does not have.
        """
        fields: dict[str, Any] = {"uri": self.uri, "pts_ns": self.pts_ns}
        if update:
            unknown = update.keys() - fields.keys()
            if unknown:
                raise TypeError(f"MediaRef has no field {sorted(unknown)[0]!r}")
            fields.update(update)
        return MediaRef(**fields)

    @classmethod
    def model_validate(cls, obj: Any) -> MediaRef:
        """Build from a mapping or an object with ``uri``/``pts_ns`` (a `MediaRef` as is).

        Strict first (msgspec, the fast path); what that refuses is validated as Pydantic's
        lax mode would, when Pydantic is installed, so that inputs the Pydantic-based
        package accepted (``"5"``, ``5.0``, ``True`` for ``pts_ns``) load as they did there.

        Raises:
            msgspec.ValidationError: A field is missing or invalid (named in the message).
        """
        if isinstance(obj, cls):
            return obj
        try:
            return msgspec.convert(obj, cls, from_attributes=not isinstance(obj, dict))
        except msgspec.ValidationError as e:
            lax = _pydantic_lax("python", obj)
            if lax is None:
                raise
            if isinstance(lax, ValueError):
                raise e from lax
            return lax

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> MediaRef:
        """Decode JSON: strict first, then as Pydantic's lax mode would (see `model_validate`).

        Raises:
            msgspec.ValidationError: A field is missing or invalid (named in the message).
            msgspec.DecodeError: Not JSON; text that is not UTF-8 (or a `str` holding a
                lone surrogate); or values nested deeper than the interpreter's recursion
                limit, unknown fields included (see docs/reliability.md).
        """
        try:
            return _json_decoder.decode(data)
        except msgspec.ValidationError as e:
            lax = _pydantic_lax("json", data)
            if lax is None:
                raise
            if isinstance(lax, ValueError):
                raise e from lax
            return lax
        except RecursionError:
            # msgspec checks the depth of every array and object, skipped unknown fields
            # included, with Py_EnterRecursiveCall: past the limit it raises RecursionError.
            raise msgspec.DecodeError(
                "JSON is nested deeper than the Python recursion limit allows "
                f"({sys.getrecursionlimit()} levels, less the caller's stack)"
            ) from None
        except UnicodeError as e:  # a str holding a lone surrogate cannot become UTF-8
            raise msgspec.DecodeError(f"JSON text is not valid Unicode: {short_text(e)}") from None

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Called by Pydantic only, so pydantic_core is importable here.
        from ._pydantic import core_schema_of

        return core_schema_of(cls)


def _pydantic_lax(mode: Literal["python", "json"], data: Any) -> MediaRef | ValueError | None:
    # The lax path: the answer of Pydantic itself (None without Pydantic), only after the
    # strict path failed, so the fast path never imports it.
    try:
        from ._pydantic import validate_lax
    except ImportError:  # pragma: no cover - Pydantic not installed
        return None
    return validate_lax(MediaRef, mode, data)


def _parse_or_empty(uri: str) -> ParsedURI:
    # The empty URI is the empty relative path (0.4.4 stores and resolves it).
    return parse_uri(uri) if uri else ParsedURI("path", "", "")


def _unresolvable(uri: str, kind: str) -> str:
    what = {"data": "embedded", "http": "remote"}.get(kind, f"a {kind!r} URI")
    return f"Cannot resolve unresolvable URI ({what}, not a path): {short_uri(uri)!r}"


def _bad_pts(t: object) -> None:
    raise InvalidReferenceError(
        f"pts_ns must be an int in [-2**63, 2**64 - 1], got {short_repr(t)}"
    )


def _coerce_pts(ref: MediaRef) -> None:
    # Timestamps from NumPy, pandas and Arrow arrive as np.int64: store a Python int.
    t: Any = ref.pts_ns
    if not isinstance(t, numbers.Integral) or isinstance(t, bool):
        _bad_pts(t)
    value = int(t)
    if not PTS_NS_MIN <= value <= PTS_NS_MAX:
        _bad_pts(t)
    msgspec.structs.force_setattr(ref, "pts_ns", value)


def _coerce_uri(ref: MediaRef) -> None:
    u: Any = ref.uri
    from ._datauri import DataURI

    if isinstance(u, DataURI):
        msgspec.structs.force_setattr(ref, "uri", u.uri)
    elif isinstance(u, str):
        msgspec.structs.force_setattr(ref, "uri", str(u))
    elif isinstance(u, os.PathLike) and isinstance(path := os.fspath(u), str):
        msgspec.structs.force_setattr(ref, "uri", path)
    else:
        raise InvalidReferenceError(f"uri must be a string or a path, got {short_repr(u)}")


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(MediaRef)
