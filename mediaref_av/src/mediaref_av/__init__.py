"""mediaref-av: frame-exact video decoding for mediaref, with PyAV (FFmpeg).

Installed, it registers the ``pyav`` video backend through the ``mediaref`` entry point;
`MediaRef.to_ndarray` and `mediaref.batch_decode` use it for every video reference.
Use it directly with `open`::

    with mediaref_av.open("episode.mkv") as video:
        frames = video.frames_played_at([0, 50_000_000])

Importing this package does not import PyAV; opening a video does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._counters import Counters, counters, reset_counters

if TYPE_CHECKING:
    from ._decoder import AVVideoDecoder, minimal_frames, open

__version__ = "0.1.0"

__all__ = [
    "AVVideoDecoder",
    "Counters",
    "__version__",
    "clear_caches",
    "counters",
    "minimal_frames",
    "open",
    "reset_counters",
]


def __getattr__(name: str) -> Any:
    # PyAV and numpy arrive with the decoder, not with `import mediaref_av`.
    if name in ("AVVideoDecoder", "minimal_frames", "open"):
        from . import _decoder

        return getattr(_decoder, name)
    raise AttributeError(f"module 'mediaref_av' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def clear_caches() -> None:
    """Close every idle container, forget every packet index and free pooled frame memory.

    Also drops the blocks kept of remote files. Only this process's caches are cleared.
    """
    from . import _blockfile, _buffers, _cues, _index_cache, _pool

    _pool.close_all()
    _index_cache.index_cache.clear()
    _cues.cue_indexes.clear()
    _blockfile.store.clear()
    _buffers.clear()
