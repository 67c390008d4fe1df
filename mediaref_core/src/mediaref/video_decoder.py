"""Names that code written for the PyPI ``mediaref`` package imports; no PyAV needed."""

from __future__ import annotations

import enum

from ._protocols import VideoDecoder, VideoMetadata

__all__ = ["BatchDecodingStrategy", "VideoDecoder", "VideoMetadata"]


class BatchDecodingStrategy(str, enum.Enum):
    """Decoding strategies of the PyPI package, accepted by `batch_decode(strategy=...)`.

    mediaref's planner derives the least work from the packet index for every access
    pattern, so each value decodes the same way; they remain for compatibility.
    """

    SEPARATE = "separate"
    SEQUENTIAL_PER_KEYFRAME_BLOCK = "sequential_per_keyframe_block"
    SEQUENTIAL = "sequential"
