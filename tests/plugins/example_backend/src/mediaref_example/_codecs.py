"""What the backends of `mediaref_example` run once chosen: the numpy side."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import numpy as np

from mediaref import (
    ByteSource,
    UndecodableMediaError,
    UnsupportedSourceError,
    VideoMetadata,
)

FRAME_NS = 100_000_000


def decode_ppm(data: bytes, *, format: str, uri: str) -> Any:
    """Decode a binary PPM with maxval 255 to an ``(H, W, 3)`` uint8 array."""
    fields = bytes(data[:64]).split(maxsplit=4)  # P6, width, height, maxval, pixels
    if len(fields) < 5 or fields[3] != b"255":
        raise UnsupportedSourceError("ppm reads 8-bit binary PPM only", uri=uri)
    width, height = int(fields[1]), int(fields[2])
    start = len(data) - width * height * 3
    rgb = np.frombuffer(data, np.uint8, offset=start).reshape(height, width, 3)
    if format in ("rgb", "bgr"):
        return np.ascontiguousarray(rgb if format == "rgb" else rgb[..., ::-1])
    raise UnsupportedSourceError(f"ppm returns rgb or bgr, not {format}", uri=uri)


class FakeVideo:
    """A ``FAKEVIDEO <frames>`` stream: frame i is on screen in [i, i + 1) * 100 ms."""

    def __init__(self, source: ByteSource, *, offset: int) -> None:
        with source.open() as f:
            head = f.read(32).split()
        if head[:1] != [b"FAKEVIDEO"]:
            raise UnsupportedSourceError("not a FAKEVIDEO stream", uri=source.uri)
        if len(head) != 2 or not head[1].isdigit() or int(head[1]) == 0:
            raise UndecodableMediaError("FAKEVIDEO header without a frame count", uri=source.uri)
        self.frames, self.offset = int(head[1]), offset

    @property
    def metadata(self) -> VideoMetadata:
        return VideoMetadata(
            codec="fake",
            width=4,
            height=2,
            num_frames=self.frames,
            begin_ns=0,
            end_ns=self.frames * FRAME_NS,
            average_fps=10.0,
            time_base=(1, 10),
        )

    def frames_played_at(self, pts_ns: Sequence[int], *, format: str = "rgb") -> list[Any]:
        return [np.full((2, 4, 3), 10 * (t // FRAME_NS) + self.offset, np.uint8) for t in pts_ns]

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeVideo:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
