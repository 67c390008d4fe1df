"""RFC 2397 parsing: what a ``data:`` URI holds, with nothing above the error types.

`DataURI` builds on it, and so does the core's ``data:`` byte source.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from urllib.parse import unquote_to_bytes

from ._errors import InvalidReferenceError, short_uri

__all__ = ["DEFAULT_TYPE", "b64decode_strict", "parse_data_uri"]

DEFAULT_TYPE = "text/plain"

Params = tuple[tuple[str, str], ...]


def parse_data_uri(uri: str) -> tuple[str, Params, bool, bytes]:
    """Parse ``data:[<mediatype>][;base64],<data>`` as RFC 2397 allows it.

    Returns:
        ``(media type, parameters, is_base64, decoded content)``.

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
    mimetype, params, is_b64 = _parse_header(header, uri)
    try:
        if is_b64:
            decoded = b64decode_strict(unquote_to_bytes(payload) if "%" in payload else payload)
        else:
            decoded = unquote_to_bytes(payload)
    except (UnicodeEncodeError, ValueError) as e:
        raise InvalidReferenceError(f"malformed data URI: bad base64 payload ({e})", uri=uri) from e
    return mimetype, params, is_b64, decoded


def b64decode_strict(payload: bytes | str) -> bytes:
    """Decode base64, ignoring whitespace and refusing any other non-alphabet byte.

    Raises:
        ValueError: Not valid base64.
    """
    if isinstance(payload, str):
        payload = payload.encode("ascii")
    try:
        return b64decode(b"".join(payload.split()), validate=True)
    except binascii.Error as e:
        raise ValueError(str(e)) from None


def _parse_header(header: str, uri: str) -> tuple[str, Params, bool]:
    parts = header.split(";")
    is_b64 = parts[-1].strip().lower() == "base64" if len(parts) > 1 or parts[0] else False
    if is_b64:
        parts.pop()
    mimetype = parts[0].strip().lower() or DEFAULT_TYPE
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
    return mimetype, tuple(params), is_b64
