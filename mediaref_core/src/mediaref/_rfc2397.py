"""RFC 2397 parsing: what a ``data:`` URI holds, with nothing above the error types.

`DataURI` builds on it, and so does the core's ``data:`` byte source. Decoding costs
memory in proportion to the decoded size: one ASCII copy of a base64 payload, or the
output alone (plus a 64 Ki-character window) for percent-encoded text.
"""

from __future__ import annotations

import binascii
import io
import re
from urllib.parse import unquote_to_bytes

from ._errors import InvalidReferenceError, short_text, short_uri

__all__ = ["DEFAULT_TYPE", "b64decode_strict", "parse_data_uri", "unquote_to_bytes_bounded"]

DEFAULT_TYPE = "text/plain"

Params = tuple[tuple[str, str], ...]

# Whitespace anywhere (as bytes.split() drops it); at most two '=' of padding, at the end
# and after some data (strict base64 refuses leading padding).
_BASE64 = re.compile(rb"\s*(?:[A-Za-z0-9+/][A-Za-z0-9+/\s]*(?:=\s*){0,2})?")
_WINDOW = 1 << 16


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
    comma = uri.find(",", 5)
    if comma < 0:
        raise InvalidReferenceError(
            "malformed data URI: no ',' separates the media type from the data",
            uri=uri,
        )
    mimetype, params, is_b64 = _parse_header(uri[5:comma], uri)
    try:
        if not is_b64:
            decoded = unquote_to_bytes_bounded(uri, comma + 1)
        elif uri.find("%", comma) >= 0:
            decoded = b64decode_strict(unquote_to_bytes_bounded(uri, comma + 1))
        else:
            decoded = _b64decode_ascii(uri, comma + 1)
    except (UnicodeEncodeError, ValueError) as e:
        what = "base64 payload" if is_b64 else "payload"
        raise InvalidReferenceError(f"malformed data URI: bad {what} ({e})", uri=uri) from e
    return mimetype, params, is_b64, decoded


def unquote_to_bytes_bounded(text: str, start: int = 0) -> bytes:
    """Return ``urllib.parse.unquote_to_bytes(text[start:])``, in memory ~ the result.

    ``unquote_to_bytes`` makes a list item per ``%`` (about 80 bytes per character of a
    ``%00%00...`` payload); this decodes windows of 64 Ki characters, cut just before a
    ``%`` (where ``unquote_to_bytes`` itself splits, so the result is the same), each with
    `binascii.a2b_qp` (C speed) when every ``%`` of the window is a valid escape.

    Raises:
        UnicodeEncodeError: A lone surrogate in `text`.
    """
    out = io.BytesIO()
    end_of_text = len(text)
    while start < end_of_text:
        end = min(start + _WINDOW, end_of_text)
        if end < end_of_text:
            cut = text.rfind("%", end - 2, end)
            end = cut if cut > start else end
        out.write(_unquote_window(text[start:end].encode()))
        start = end
    return out.getvalue()  # the buffer itself, trimmed in place: no copy


def _unquote_window(raw: bytes) -> bytes:
    escapes = raw.count(b"%")
    if not escapes:
        return raw
    if b"=" not in raw and b"\r" not in raw and b"\n" not in raw:
        # Quoted-printable's "=XY" is "%XY"; a2b_qp writes invalid escapes differently,
        # which the length tells: every valid escape shortens the window by exactly 2.
        decoded = binascii.a2b_qp(raw.replace(b"%", b"="))
        if len(decoded) == len(raw) - 2 * escapes:
            return decoded
    return unquote_to_bytes(raw)


def _b64decode_ascii(text: str, start: int) -> bytes:
    try:
        raw = memoryview(text.encode("ascii"))[start:]  # the one copy
    except UnicodeEncodeError:
        return b64decode_strict(text[start:])
    return _b64decode_view(raw)


def b64decode_strict(payload: bytes | str) -> bytes:
    """Decode base64, ignoring whitespace and refusing any other non-alphabet byte.

    Raises:
        ValueError: Not valid base64 (or not ASCII: `UnicodeEncodeError`).
    """
    if isinstance(payload, str):
        payload = payload.encode("ascii")
    return _b64decode_view(memoryview(payload))


def _b64decode_view(raw: memoryview) -> bytes:
    if _BASE64.fullmatch(raw) is None:
        raise ValueError("Non-base64 digit found")
    try:
        # Not strict mode: it skips the whitespace the pattern let through.
        return binascii.a2b_base64(raw)
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
            f"malformed data URI: media type {short_text(parts[0])!r} is not 'type/subtype'",
            uri=uri,
        )
    params: list[tuple[str, str]] = []
    for p in parts[1:]:
        key, eq, value = p.partition("=")
        if not eq or not key.strip():
            raise InvalidReferenceError(
                f"malformed data URI: parameter {short_text(p)!r} is not 'name=value'", uri=uri
            )
        params.append((key.strip().lower(), value.strip()))
    if not parts[0].strip() and not params:
        params.append(("charset", "US-ASCII"))
    return mimetype, tuple(params), is_b64
