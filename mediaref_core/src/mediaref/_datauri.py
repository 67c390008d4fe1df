"""RFC 2397 ``data:`` URIs: parse, build, and embed images."""

from __future__ import annotations

import binascii
import os
from typing import Any

from ._errors import InvalidReferenceError, short_uri
from ._protocols import ImageFormat

__all__ = ["DataURI", "sniff_mimetype"]

_DEFAULT_TYPE = "text/plain"
# RFC 2397 percent-encodes everything outside RFC 2396 "uric"; keep the common safe set.
_SAFE = b"-_.!~*'()/;:@&=+$"

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"\x1aE\xdf\xa3", 0, "video/x-matroska"),
    (b"OggS", 0, "application/ogg"),
    (b"%PDF-", 0, "application/pdf"),
    (b"ftyp", 4, "video/mp4"),
)


def sniff_mimetype(head: bytes, name: str = "") -> str:
    """Guess a MIME type from the first bytes of content, then from the file name."""
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}[head[8:12]]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif"
        if brand in (b"heic", b"heix", b"mif1"):
            return "image/heic"
        if brand.startswith(b"M4A"):
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    import mimetypes

    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


class DataURI:
    """An RFC 2397 ``data:`` URI: a MIME type and the bytes it embeds.

    Build one with `from_uri`, `from_bytes`, `from_file` or `from_image`; ``str()`` gives
    the URI (base64 unless built otherwise) and ``len()`` its length in characters.
    A `DataURI` can be passed as ``MediaRef(uri=...)``; it is stored as its string.
    """

    __slots__ = ("_uri", "base64", "data", "mimetype", "params")

    mimetype: str
    """The media type, lower-cased, e.g. ``"image/png"`` (``"text/plain"`` by default)."""
    data: bytes
    """The decoded content."""
    params: tuple[tuple[str, str], ...]
    """Media type parameters in order, e.g. ``(("charset", "utf-8"),)``."""
    base64: bool
    """Whether the string form encodes the data in base64 (else percent-encoding)."""

    def __init__(
        self,
        mimetype: str,
        data: bytes,
        *,
        params: tuple[tuple[str, str], ...] = (),
        base64: bool = True,
    ) -> None:
        self.mimetype, self.data, self.params, self.base64 = mimetype.lower(), data, params, base64
        self._uri: str | None = None

    @classmethod
    def from_uri(cls, uri: str) -> DataURI:
        """Parse a ``data:[<mediatype>][;base64],<data>`` string.

        Raises:
            InvalidReferenceError: Not a ``data:`` URI, no comma, or a bad payload.
        """
        if not isinstance(uri, str) or uri[:5].lower() != "data:":
            raise InvalidReferenceError(
                f"not a data URI (must start with 'data:'): {short_uri(str(uri))!r}"
            )
        header, comma, payload = uri[5:].partition(",")
        if not comma:
            raise InvalidReferenceError(
                "malformed data URI: no ',' separates the media type from the data",
                uri=uri,
            )
        from base64 import b64decode
        from urllib.parse import unquote_to_bytes

        parts = header.split(";")
        is_b64 = parts[-1].strip().lower() == "base64" if len(parts) > 1 or parts[0] else False
        if is_b64:
            parts.pop()
        mimetype = parts[0].strip().lower() or _DEFAULT_TYPE
        if "/" not in mimetype:
            raise InvalidReferenceError(
                f"malformed data URI: media type {parts[0]!r} is not 'type/subtype'", uri=uri
            )
        params: list[tuple[str, str]] = []
        for p in parts[1:]:
            key, eq, value = p.partition("=")
            if not eq or not key.strip():
                raise InvalidReferenceError(
                    f"malformed data URI: parameter {p!r} is not 'name=value'", uri=uri
                )
            params.append((key.strip().lower(), value.strip()))
        if not parts[0].strip() and not params:
            params.append(("charset", "US-ASCII"))
        try:
            if is_b64:
                compact = unquote_to_bytes(payload) if "%" in payload else payload.encode("ascii")
                data = b64decode(b"".join(compact.split()), validate=True)
            else:
                data = unquote_to_bytes(payload)
        except (binascii.Error, UnicodeEncodeError, ValueError) as e:
            raise InvalidReferenceError(
                f"malformed data URI: bad base64 payload ({e})", uri=uri
            ) from e
        obj = cls(mimetype, data, params=tuple(params), base64=is_b64)
        obj._uri = uri
        return obj

    @classmethod
    def from_bytes(cls, data: bytes, mimetype: str, *, base64: bool = True) -> DataURI:
        """Embed `data` as `mimetype` (base64 by default)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        return cls(mimetype, bytes(data), base64=base64)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], mimetype: str | None = None) -> DataURI:
        """Embed a file; its MIME type is sniffed from its content, then its extension."""
        with open(path, "rb") as f:
            data = f.read()
        return cls(mimetype or sniff_mimetype(data[:16], os.fspath(path)), data)

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
                or ``gray``.
            encoder: Name of the encoder plugin to use; the highest priority by default.

        Raises:
            BackendNotInstalledError: No image encoder is installed (``mediaref-pil``).
            ValueError: Unsupported format, quality or array shape.
        """
        from ._plugins import image_encoder

        data, mimetype = image_encoder(encoder).encode(
            image, format=format, quality=quality, input_format=input_format
        )
        return cls(mimetype, data)

    @property
    def uri(self) -> str:
        """The URI string."""
        if self._uri is None:
            from base64 import b64encode
            from urllib.parse import quote_from_bytes

            head = "data:" + self.mimetype + "".join(f";{k}={v}" for k, v in self.params)
            if self.base64:
                self._uri = head + ";base64," + b64encode(self.data).decode("ascii")
            else:
                self._uri = head + "," + quote_from_bytes(self.data, safe=_SAFE)
        return self._uri

    @property
    def is_image(self) -> bool:
        """Whether the media type is ``image/*``."""
        return self.mimetype.startswith("image/")

    def __str__(self) -> str:
        return self.uri

    def __len__(self) -> int:
        return len(self.uri)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DataURI):
            return (self.mimetype, self.params, self.data) == (
                other.mimetype,
                other.params,
                other.data,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.mimetype, self.params, self.data))

    def __repr__(self) -> str:
        return f"DataURI(mimetype={self.mimetype!r}, {len(self.data)} bytes)"
