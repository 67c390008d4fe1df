"""mediaref: references to images and video frames, ``(uri, pts_ns)``, decoded lazily.

Plugins (``mediaref-pil`` for images, ``mediaref-av`` for video) are found through
the ``mediaref`` entry-point group on first need. What only decoding needs is imported
on first use of its name, so that ``import mediaref`` stays as cheap as msgspec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _mixed  # noqa: F401  (first: refuses a folder mixed with PyPI mediaref)
from ._errors import (
    BackendNotInstalledError,
    InvalidOptionError,
    InvalidOutputError,
    InvalidReferenceError,
    MediaRefError,
    SourceNotFoundError,
    SourceUnreadableError,
    TimestampOutOfRangeError,
    UndecodableMediaError,
    UnknownBackendError,
    UnsupportedSourceError,
)
from ._ref import MediaRef
from ._uri import ParsedURI, normalize_uri, parse_uri, uris_equivalent
from .timeline import ns_to_pts, pts_to_ns

if TYPE_CHECKING:
    from ._batch import batch_decode
    from ._caches import cleanup_cache
    from ._clip import decode_clip
    from ._datauri import DataURI
    from ._iter import iter_decode
    from ._limits import Limits, limits
    from ._mime import sniff_mimetype
    from ._plugins import PluginInfo, open_source, plugins
    from ._protocols import (
        IMAGE_FORMATS,
        ByteSource,
        DecodedFrame,
        FramesInto,
        FrameTimes,
        ImageBackend,
        ImageEncoder,
        ImageFormat,
        KeepOpen,
        Option,
        TimeRange,
        VideoBackend,
        VideoDecoder,
        VideoMetadata,
        check_image_format,
    )
    from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "BackendNotInstalledError",
    "ByteSource",
    "DataURI",
    "DecodedFrame",
    "FrameTimes",
    "FramesInto",
    "IMAGE_FORMATS",
    "ImageBackend",
    "ImageEncoder",
    "ImageFormat",
    "InvalidOptionError",
    "InvalidOutputError",
    "InvalidReferenceError",
    "KeepOpen",
    "Limits",
    "MediaRef",
    "MediaRefError",
    "Option",
    "ParsedURI",
    "PluginInfo",
    "SourceNotFoundError",
    "SourceUnreadableError",
    "TimeRange",
    "TimestampOutOfRangeError",
    "UndecodableMediaError",
    "UnknownBackendError",
    "UnsupportedSourceError",
    "VideoBackend",
    "VideoDecoder",
    "VideoMetadata",
    "__version__",
    "batch_decode",
    "check_image_format",
    "cleanup_cache",
    "decode_clip",
    "hookimpl",
    "iter_decode",
    "limits",
    "normalize_uri",
    "ns_to_pts",
    "open_source",
    "parse_uri",
    "plugins",
    "pts_to_ns",
    "sniff_mimetype",
    "uris_equivalent",
]

_LAZY = {
    "batch_decode": "_batch",
    "cleanup_cache": "_caches",
    "decode_clip": "_clip",
    "DecodedFrame": "_protocols",
    "FrameTimes": "_protocols",
    "TimeRange": "_protocols",
    "KeepOpen": "_protocols",
    "FramesInto": "_protocols",
    "iter_decode": "_iter",
    "DataURI": "_datauri",
    "PluginInfo": "_plugins",
    "open_source": "_plugins",
    "plugins": "_plugins",
    "ByteSource": "_protocols",
    "IMAGE_FORMATS": "_protocols",
    "check_image_format": "_protocols",
    "ImageBackend": "_protocols",
    "ImageEncoder": "_protocols",
    "ImageFormat": "_protocols",
    "Option": "_protocols",
    "VideoBackend": "_protocols",
    "VideoDecoder": "_protocols",
    "VideoMetadata": "_protocols",
    "Limits": "_limits",
    "limits": "_limits",
    "hookimpl": "hookspecs",
    "sniff_mimetype": "_mime",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mediaref' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
