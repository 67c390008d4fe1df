"""Media types from content and from names: the one table of magic numbers and extensions."""

from __future__ import annotations

import posixpath

__all__ = ["HEAD_BYTES", "OCTET_STREAM", "sniff_mimetype", "type_from_content", "type_from_name"]

OCTET_STREAM = "application/octet-stream"
"""What is returned when neither the content nor the name tells."""

HEAD_BYTES = 16
"""How many leading bytes `type_from_content` looks at."""

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
_RIFF = {b"WEBP": "image/webp", b"AVI ": "video/x-msvideo", b"WAVE": "audio/wav"}
_FTYP_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heic",
    b"qt  ": "video/quicktime",
}
# Netpbm: two bytes, then whitespace.
_PNM = {
    b"P1": "image/x-portable-bitmap",
    b"P4": "image/x-portable-bitmap",
    b"P2": "image/x-portable-graymap",
    b"P5": "image/x-portable-graymap",
    b"P3": "image/x-portable-pixmap",
    b"P6": "image/x-portable-pixmap",
    b"P7": "image/x-portable-arbitrarymap",
}
# Video containers by extension; the system's MIME table often lacks them.
_VIDEO_EXT = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".mts": "video/mp2t",
    ".flv": "video/x-flv",
    ".ogv": "video/ogg",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
    ".h264": "video/h264",
    ".264": "video/h264",
    ".hevc": "video/h265",
    ".h265": "video/h265",
    ".ivf": "video/x-ivf",
    ".y4m": "video/x-yuv4mpeg",
}


def type_from_content(head: bytes) -> str:
    """Return the media type the first bytes show (16 are enough), or `OCTET_STREAM`."""
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand.startswith(b"M4A"):
            return "audio/mp4"
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
    pnm = _PNM.get(head[:2])
    if pnm is not None and head[2:3].isspace():
        return pnm
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    return OCTET_STREAM


def _extension(uri: str) -> str:
    if uri[:5].lower() == "data:":
        return ""
    name = uri.split("?", 1)[0].split("#", 1)[0] if "://" in uri else uri
    return posixpath.splitext(name)[1].lower()


def type_from_name(uri: str) -> str:
    """Return the media type a path's or URL's extension names, or `OCTET_STREAM`."""
    ext = _extension(uri)
    if not ext:
        return OCTET_STREAM
    known = _VIDEO_EXT.get(ext)
    if known is not None:
        return known
    import mimetypes  # reads the system's table on first use

    guessed, _ = mimetypes.guess_type("x" + ext)
    return guessed or OCTET_STREAM


def sniff_mimetype(head: bytes, name: str = "") -> str:
    """Return the media type of content from its first bytes, else from its name.

    Args:
        head: The first bytes of the content (16 are enough).
        name: A path or URI whose extension is consulted when the bytes do not tell.
    """
    found = type_from_content(head)
    return found if found != OCTET_STREAM else type_from_name(name)
