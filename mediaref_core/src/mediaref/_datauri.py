"""RFC 2397 ``data:`` URIs: parse, build, and embed images."""

from __future__ import annotations

import os
import re
from base64 import b64encode
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote_from_bytes

from ._errors import InvalidReferenceError
from ._mime import sniff_mimetype
from ._protocols import ImageFormat
from ._rfc2397 import DEFAULT_TYPE, b64decode_strict, parse_data_uri, unquote_to_bytes_bounded

if TYPE_CHECKING:
    from ._decode import PILFormat

__all__ = ["DataURI"]


class DataURI:
    """An RFC 2397 ``data:`` URI: a MIME type and the bytes it embeds.

    Field names and meanings are those of mediaref 0.4.4: `data` is the payload as the URI
    writes it (base64 text when `is_base64`, percent-encoded text otherwise) and
    `decoded_data` the content. Build one with `from_uri`, `from_bytes`, `from_file` or
    `from_image`, or from its fields; ``str()`` gives the URI and ``len()`` its length in
    characters. A `DataURI` can be passed as ``MediaRef(uri=...)``; it is stored as its
    string.

    Raises:
        ValueError: A field is invalid: base64 that does not decode, or text data that is
            not percent-encoded ("unquoted characters"). The error is a
            ``pydantic.ValidationError`` when Pydantic is installed, as 0.4.4 raised from
            its Pydantic model, else an `InvalidReferenceError`.
    """

    __slots__ = ("_decoded", "_payload", "_uri", "is_base64", "mimetype", "params")

    mimetype: str
    """The media type, lower-cased, e.g. ``"image/png"`` (``"text/plain"`` by default)."""
    is_base64: bool
    """Whether the payload is base64 (else percent-encoded text)."""
    params: tuple[tuple[str, str], ...]
    """Media type parameters in order, e.g. ``(("charset", "utf-8"),)``."""

    def __init__(
        self,
        mimetype: str = DEFAULT_TYPE,
        data: bytes | str = b"",
        *,
        is_base64: bool = True,
        params: tuple[tuple[str, str], ...] = (),
    ) -> None:
        payload = data.encode() if isinstance(data, str) else bytes(data)
        self.mimetype, self.is_base64, self.params = mimetype.lower(), is_base64, params
        self._payload: bytes | None = payload
        self._uri: str | None = None
        self._decoded: bytes | None = None
        if is_base64:
            try:
                self._decoded = b64decode_strict(payload)
            except ValueError as e:
                _invalid(f"data is not valid base64 ({e})", payload)
        elif _QUOTED.fullmatch(payload) is None:
            bad = _QUOTED_CHAR.sub(b"", payload)[:1]
            _invalid(
                f"Non-base64 data URI contains unquoted characters (first: {bad!r}); "
                "percent-encode the data (urllib.parse.quote(text, safe='')) or use base64",
                payload,
            )

    @classmethod
    def from_uri(cls, uri: str) -> DataURI:
        """Parse a ``data:[<mediatype>][;base64],<data>`` string, as RFC 2397 allows it.

        Text data may hold any character a URI may (the constructor is stricter, as 0.4.4
        was); base64 may be percent-escaped or broken by whitespace.

        Raises:
            InvalidReferenceError: Not a ``data:`` URI, no comma, or a bad payload.
        """
        mimetype, params, is_b64, decoded = parse_data_uri(uri)
        obj = cls.__new__(cls)
        obj.mimetype, obj.is_base64, obj.params = mimetype, is_b64, params
        obj._payload, obj._uri, obj._decoded = None, uri, decoded
        return obj

    @classmethod
    def from_bytes(cls, data: bytes, mimetype: str, *, is_base64: bool = True) -> DataURI:
        """Embed the content `data` as `mimetype`, base64 or percent-encoded."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        raw = bytes(data)
        obj = cls.__new__(cls)
        obj.mimetype, obj.is_base64, obj.params = mimetype.lower(), is_base64, ()
        obj._payload = b64encode(raw) if is_base64 else quote_from_bytes(raw, safe="").encode()
        obj._uri, obj._decoded = None, raw
        return obj

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        format: str | None = None,
        *,
        mimetype: str | None = None,
    ) -> DataURI:
        """Embed a file, base64.

        Args:
            path: The file.
            format: An image format (``"png"``...) meaning ``image/<format>``, as in 0.4.4.
            mimetype: The media type; by default sniffed from the content, then the name.

        Raises:
            FileNotFoundError: No such file.
        """
        with open(path, "rb") as f:
            data = f.read()
        if mimetype is None:
            mimetype = f"image/{format}" if format else sniff_mimetype(data[:16], os.fspath(path))
        return cls.from_bytes(data, mimetype)

    @classmethod
    def from_image(
        cls,
        image: Any,
        format: str = "png",
        quality: int | None = None,
        input_format: ImageFormat = "rgb",
        *,
        encoder: str | None = None,
    ) -> DataURI:
        """Encode an array (`input_format` channel order) or a PIL image and embed it.

        Args:
            image: A ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array, or a PIL image.
            format: ``"png"`` (lossless, keeps alpha), ``"jpeg"`` (drops alpha),
                ``"webp"``, ``"bmp"``, or what the installed encoder offers.
            quality: JPEG/WebP quality 1-100; `None` for the encoder's default.
            input_format: Channel order of an array: ``rgb``, ``bgr``, ``rgba``, ``bgra``
                or ``gray``. A 4-channel array given as ``rgb``/``bgr`` is read as
                ``rgba``/``bgra``, as 0.4.4 did.
            encoder: Name of the encoder plugin to use; the highest priority by default.

        Raises:
            BackendNotInstalledError: No image encoder is installed (``mediaref-pil``).
            ValueError: Unsupported format, quality, array shape or `input_format`.
        """
        from ._plugins import image_encoder

        data, mimetype = image_encoder(encoder).encode(
            image, format=format, quality=quality, input_format=input_format
        )
        return cls.from_bytes(data, mimetype)

    @property
    def data(self) -> bytes:
        """The payload as written in the URI (base64 or percent-encoded text), as bytes."""
        if self._payload is None:
            uri = self.uri
            self._payload = uri[uri.index(",") + 1 :].encode()
        return self._payload

    @property
    def decoded_data(self) -> bytes:
        """The embedded content."""
        if self._decoded is None:
            self._decoded = unquote_to_bytes_bounded(self.data.decode())
        return self._decoded

    @property
    def uri(self) -> str:
        """The URI string."""
        if self._uri is None:
            head = "data:" + self.mimetype + "".join(f";{k}={v}" for k, v in self.params)
            payload = self.data.decode()
            self._uri = head + (";base64," if self.is_base64 else ",") + payload
        return self._uri

    @property
    def is_image(self) -> bool:
        """Whether the media type is ``image/*``."""
        return self.mimetype.startswith("image/")

    def to_ndarray(
        self, format: ImageFormat = "rgb", *, decoder: str | None = None, **options: Any
    ) -> Any:
        """Decode the embedded image into a uint8 array (see `MediaRef.to_ndarray`).

        Raises:
            ValueError: The media type is not ``image/*``.
            MediaRefError: A subclass saying what went wrong (see `mediaref` errors).
        """
        from ._decode import decode_one

        self._check_image()
        return decode_one(self.uri, None, format=format, decoder=decoder, options=options)

    def to_pil_image(
        self, format: PILFormat = "rgb", *, decoder: str | None = None, **options: Any
    ) -> Any:
        """Decode the embedded image into a ``PIL.Image.Image`` (see `MediaRef.to_pil_image`).

        Raises:
            ValueError: The media type is not ``image/*``.
            MediaRefError: A subclass saying what went wrong (see `mediaref` errors).
        """
        from ._decode import pil_image

        self._check_image()
        return pil_image(self.uri, None, format=format, decoder=decoder, options=options)

    def _check_image(self) -> None:
        if not self.is_image:
            raise ValueError(f"Cannot convert non-image MIME type '{self.mimetype}' to an image")

    def __str__(self) -> str:
        return self.uri

    def __len__(self) -> int:
        return len(self.uri)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DataURI):
            return (self.mimetype, self.params, self.decoded_data) == (
                other.mimetype,
                other.params,
                other.decoded_data,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.mimetype, self.params, self.decoded_data))

    def __repr__(self) -> str:
        kind = "base64" if self.is_base64 else "text"
        return f"DataURI(mimetype={self.mimetype!r}, {len(self.decoded_data)} bytes, {kind})"


_QUOTED = re.compile(rb"(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})*")
_QUOTED_CHAR = re.compile(rb"[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2}")


def _invalid(message: str, value: bytes) -> NoReturn:
    """Raise the error a 0.4.4 user catches for an invalid field (see `DataURI`)."""
    err = InvalidReferenceError(message)
    try:
        from pydantic_core import ValidationError
    except ImportError:
        raise err from None
    raise ValidationError.from_exception_data(
        "DataURI",
        [{"type": "value_error", "loc": ("data",), "input": value[:80], "ctx": {"error": err}}],
    ) from err
