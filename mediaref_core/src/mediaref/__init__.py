"""mediaref: references to images and video frames, ``(uri, pts_ns)``, decoded lazily.

Plugins (``mediaref-pil`` for images, ``mediaref-av`` for video) are found through
the ``mediaref`` entry-point group on first need.
"""

from ._batch import batch_decode
from ._datauri import DataURI
from ._errors import (
    BackendNotInstalledError,
    InvalidReferenceError,
    MediaRefError,
    SourceNotFoundError,
    SourceUnreadableError,
    TimestampOutOfRangeError,
    UndecodableMediaError,
)
from ._plugins import PluginInfo, open_source, plugins
from ._protocols import (
    ByteSource,
    ImageBackend,
    ImageEncoder,
    ImageFormat,
    VideoBackend,
    VideoDecoder,
    VideoMetadata,
)
from ._ref import MediaRef
from ._sources import Limits, limits
from ._time import ns_to_pts, pts_to_ns
from ._uri import ParsedURI, normalize_uri, parse_uri, uris_equivalent
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "BackendNotInstalledError",
    "ByteSource",
    "DataURI",
    "ImageBackend",
    "ImageEncoder",
    "ImageFormat",
    "InvalidReferenceError",
    "Limits",
    "MediaRef",
    "MediaRefError",
    "ParsedURI",
    "PluginInfo",
    "SourceNotFoundError",
    "SourceUnreadableError",
    "TimestampOutOfRangeError",
    "UndecodableMediaError",
    "VideoBackend",
    "VideoDecoder",
    "VideoMetadata",
    "__version__",
    "batch_decode",
    "hookimpl",
    "limits",
    "normalize_uri",
    "ns_to_pts",
    "open_source",
    "parse_uri",
    "plugins",
    "pts_to_ns",
    "uris_equivalent",
]
