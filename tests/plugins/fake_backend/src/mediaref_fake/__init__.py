"""A third-party plugin as anyone could publish it: a ``mem:`` source, a video and an image backend.

``mem:NAME`` URIs read bytes put in `STORE`. The video backend ``fake`` returns frames
whose every pixel is ``pts_ns // FRAME_NS`` (frame index), for 10 frames of 100 ms.
The image backend ``fakeimg`` returns a 2x2 array of 7s. Priorities come from the
environment (``MEDIAREF_FAKE_PRIORITY``, default -100) so tests can make it win. Both
backends declare no schemes, formats or options: they accept every source, as every
backend did before routing (``mediaref_example`` declares what it reads).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from mediaref import (
    ImageBackend,
    ParsedURI,
    SourceNotFoundError,
    VideoBackend,
    VideoMetadata,
    hookimpl,
)

STORE: dict[str, bytes] = {}
FRAME_NS = 100_000_000
OPENED: list[str] = []


class MemSource:
    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.key = uri[4:]
        if self.key not in STORE:
            raise SourceNotFoundError("no such key in the memory store", uri=uri)

    local_path = None

    @property
    def identity(self) -> tuple[object, ...]:
        return ("mem", self.key, len(STORE[self.key]))

    def read_all(self) -> bytes:
        return STORE[self.key]

    def open(self) -> io.BytesIO:
        return io.BytesIO(STORE[self.key])


class FakeVideo:
    def __init__(self, source: Any) -> None:
        OPENED.append(source.uri)
        self.closed = False

    @property
    def metadata(self) -> VideoMetadata:
        return VideoMetadata(
            codec="fake",
            width=4,
            height=2,
            num_frames=10,
            begin_ns=0,
            end_ns=10 * FRAME_NS,
            average_fps=10.0,
            time_base=(1, 10),
        )

    def frames_played_at(self, pts_ns: Sequence[int], *, format: str = "rgb") -> list[Any]:
        return [np.full((2, 4, 3), t // FRAME_NS, np.uint8) for t in pts_ns]

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _priority() -> int:
    return int(os.environ.get("MEDIAREF_FAKE_PRIORITY", "-100"))


@hookimpl
def mediaref_open_source(uri: str, parsed: ParsedURI) -> MemSource | None:
    return MemSource(uri) if parsed.scheme == "mem" else None


@hookimpl
def mediaref_video_backends() -> list[VideoBackend]:
    return [VideoBackend(name="fake", open=FakeVideo, priority=_priority())]


@hookimpl
def mediaref_image_backends() -> list[ImageBackend]:
    def decode(data: bytes, *, format: str, uri: str, **options: Any) -> Any:
        return np.full((2, 2, 3), 7, np.uint8)

    return [ImageBackend(name="fakeimg", decode=decode, priority=_priority())]
