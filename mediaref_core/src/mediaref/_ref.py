"""`MediaRef`: a reference to an image, or to the video frame on screen at `pts_ns`."""

from __future__ import annotations

import os
import posixpath
import warnings
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from ._errors import InvalidReferenceError
from ._uri import normalize_uri, parse_uri

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

    from ._protocols import ImageFormat

__all__ = ["MediaRef"]

PtsNs = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
URI = Annotated[str, msgspec.Meta(min_length=1)]


class MediaRef(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """A reference to an image, or to the video frame on screen at `pts_ns`.

    Immutable and hashable; JSON ``{"uri": "video.mp4", "pts_ns": 1500000000}``, with
    ``pts_ns`` omitted for images. Nothing is read until a ``to_*`` method is called.

    Raises:
        InvalidReferenceError: `uri` is not a non-empty string (or `DataURI`), or
            `pts_ns` is not an int in ``[0, 2**63 - 1]``.
    """

    uri: URI
    """A path or URI, stored exactly as given (a `DataURI` is stored as its string)."""
    pts_ns: PtsNs | None = None
    """Nanoseconds on the stream's own timeline; `None` for a still image."""

    def __post_init__(self) -> None:
        # Runs on every construction and decode: the cheapest checks first (see bench/).
        if self.pts_ns.__class__ is int:
            if not 0 <= self.pts_ns <= 9223372036854775807:  # type: ignore[operator]
                _bad_pts(self.pts_ns)
        elif self.pts_ns is not None:
            _bad_pts(self.pts_ns)
        if self.uri.__class__ is not str or not self.uri:
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
        return parse_uri(self.uri).kind == "data"

    @property
    def is_remote(self) -> bool:
        """Whether the media is behind an ``http:`` or ``https:`` URL."""
        return parse_uri(self.uri).kind == "http"

    @property
    def is_local(self) -> bool:
        """Whether the media is a local file (a path or a ``file:`` URI)."""
        return parse_uri(self.uri).is_local

    @property
    def is_relative_path(self) -> bool:
        """Whether the URI is a relative path, to resolve with `resolve_relative_path`."""
        return parse_uri(self.uri).is_relative_path

    @property
    def scheme(self) -> str:
        """The lower-cased URI scheme (``"file"``, ``"https"``, ``"data"``...); ``""`` for paths."""
        return parse_uri(self.uri).scheme

    def resolve_relative_path(
        self,
        base: str | os.PathLike[str],
        on_unresolvable: Literal["warn", "error", "ignore"] = "warn",
    ) -> MediaRef:
        """Return this reference with a relative path joined onto `base`.

        `base` is a directory path or a ``file:``/``http(s):`` URI of a directory.
        Absolute paths come back unchanged. URIs that are not paths (``data:``,
        ``http:``...) cannot be resolved: they come back unchanged, with a warning, an
        error or silently, as `on_unresolvable` says.

        Raises:
            InvalidReferenceError: `on_unresolvable="error"` and the URI is not a path.
        """
        parsed = parse_uri(self.uri)
        if parsed.kind != "path":
            if on_unresolvable == "error":
                raise InvalidReferenceError(
                    "cannot resolve a URI that is not a relative path", uri=self.uri
                )
            if on_unresolvable == "warn":
                warnings.warn(
                    f"cannot resolve {self.uri[:80]!r} against a base: it is not a path",
                    UserWarning,
                    stacklevel=2,
                )
            return self
        if not parsed.is_relative_path:
            return self
        base_str = os.fspath(base)
        base_kind = parse_uri(base_str).kind if base_str else "path"
        if base_kind == "path":
            joined = os.path.join(base_str, self.uri)
        else:
            joined = base_str.rstrip("/") + "/" + posixpath.normpath(self.uri)
        return MediaRef(joined, self.pts_ns)

    def validate_uri(self) -> bool:
        """Whether the media can be found.

        A local file exists, a ``data:`` URI parses, a URL answers (one small Range
        request); other schemes ask their source plugin.
        """
        from ._errors import MediaRefError
        from ._plugins import open_source

        try:
            source = open_source(self.uri)
            _ = source.identity
        except MediaRefError:
            return False
        return True

    def is_equivalent(self, other: MediaRef) -> bool:
        """Whether `other` names the same frame, comparing URIs by RFC 3986 normal form.

        ``==`` compares fields exactly; this treats ``HTTP://Host/a/./b`` and
        ``http://host/a/b`` as the same.
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
            decoder: Backend name (``"pyav"``, ``"pil"``...); the highest priority by default.
            **options: Passed to the backend.

        Raises:
            MediaRefError: A subclass saying what went wrong (see `mediaref` errors).
        """
        from ._batch import decode_one

        return decode_one(self, format=format, decoder=decoder, options=options)

    def to_pil_image(self, *, decoder: str | None = None, **options: Any) -> Any:
        """Load the image or video frame as an RGB ``PIL.Image.Image`` (needs Pillow)."""
        from ._plugins import import_pillow

        image_module = import_pillow()
        return image_module.fromarray(self.to_ndarray("rgb", decoder=decoder, **options))

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

    @classmethod
    def model_validate(cls, obj: Any) -> MediaRef:
        """Build from a mapping (or return a `MediaRef` as is).

        Raises:
            msgspec.ValidationError: A field is missing or invalid (named in the message).
        """
        if isinstance(obj, cls):
            return obj
        return msgspec.convert(obj, cls, from_attributes=not isinstance(obj, dict))

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> MediaRef:
        """Decode JSON.

        Raises:
            msgspec.ValidationError: A field is missing or invalid (named in the message).
        """
        return _json_decoder.decode(data)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # Called by Pydantic only, so pydantic_core is importable here.
        from pydantic_core import core_schema

        def validate(value: Any) -> MediaRef:
            try:
                return cls.model_validate(value)
            except msgspec.ValidationError as e:
                raise ValueError(str(e)) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda ref: ref.model_dump()
            ),
            json_schema_input_schema=core_schema.typed_dict_schema(
                {
                    "uri": core_schema.typed_dict_field(core_schema.str_schema(min_length=1)),
                    "pts_ns": core_schema.typed_dict_field(
                        core_schema.nullable_schema(core_schema.int_schema(ge=0)),
                        required=False,
                    ),
                }
            ),
        )


def _bad_pts(t: object) -> None:
    raise InvalidReferenceError(f"pts_ns must be an int in [0, 2**63 - 1], got {t!r}")


def _coerce_uri(ref: MediaRef) -> None:
    u: Any = ref.uri
    from ._datauri import DataURI

    if isinstance(u, DataURI):
        msgspec.structs.force_setattr(ref, "uri", u.uri)
    elif isinstance(u, str) and u:
        msgspec.structs.force_setattr(ref, "uri", str(u))
    else:
        raise InvalidReferenceError(f"uri must be a non-empty string, got {u!r}")


_json_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder(MediaRef)
