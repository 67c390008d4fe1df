"""A mediaref plugin: PPM images, and videos behind ``fake://`` URIs.

The entry module only describes; numpy arrives with the first decode (`_codecs`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from mediaref import (
    ByteSource,
    ImageBackend,
    Option,
    ParsedURI,
    SourceNotFoundError,
    VideoBackend,
    VideoDecoder,
    hookimpl,
)

STORE: dict[str, bytes] = {}
"""The bytes behind ``fake://NAME``, by NAME (``NAME@VERSION`` for other versions)."""


class FakeSource:
    """The bytes a ``fake://NAME`` URI names (a `ByteSource`)."""

    def __init__(self, uri: str, version: str | None = None) -> None:
        self.uri = uri
        name = uri.removeprefix("fake://")
        self.key = f"{name}@{version}" if version else name
        if self.key not in STORE:
            raise SourceNotFoundError("no such fake stream", uri=uri)

    @property
    def local_path(self) -> str | None:
        return None  # not a file: decoders read through open() or read_all()

    @property
    def identity(self) -> tuple[object, ...]:
        return ("fake", self.key, len(STORE[self.key]))

    def read_all(self) -> bytes:
        return STORE[self.key]

    def open(self) -> io.BytesIO:
        return io.BytesIO(STORE[self.key])


@hookimpl
def mediaref_open_source(
    uri: str, parsed: ParsedURI, options: Mapping[str, Any]
) -> ByteSource | None:
    return FakeSource(uri, **options) if parsed.scheme == "fake" else None


@hookimpl
def mediaref_source_options() -> list[Option]:
    return [Option(name="version", type="str | None", help="read the store's NAME@VERSION")]


def _decode_ppm(data: bytes, *, format: str, uri: str, **options: Any) -> Any:
    from ._codecs import decode_ppm

    return decode_ppm(data, format=format, uri=uri)


def _binary_ppm(source: ByteSource) -> bool:
    with source.open() as f:
        return f.read(2) == b"P6"  # plain (ASCII) PPM is left to the next backend


@hookimpl
def mediaref_image_backends() -> list[ImageBackend]:
    return [
        ImageBackend(
            name="ppm",
            decode=_decode_ppm,
            priority=200,
            formats=("image/x-portable-pixmap",),
            accepts=_binary_ppm,
            description="binary PPM (P6, 8-bit) with numpy",
        )
    ]


def _open_fake(source: ByteSource, *, offset: int = 0) -> VideoDecoder:
    from ._codecs import FakeVideo

    return FakeVideo(source, offset=offset)


@hookimpl
def mediaref_video_backends() -> list[VideoBackend]:
    return [
        VideoBackend(
            name="fakevideo",
            open=_open_fake,
            priority=200,
            schemes=("fake",),
            options=(Option(name="offset", type="int", default=0, help="added to every pixel"),),
            description="FAKEVIDEO streams: frame i of 10 fps is filled with 10 * i",
        )
    ]
