"""The plugin contract: every hook a mediaref plugin may implement.

A plugin is a distribution that declares an entry point in the group ``mediaref``;
its module defines functions named after these specifications and marked with
`hookimpl`. Hooks describe what a plugin provides; the core decides which to use
(``decoder=`` by name, else the highest ``priority``) and raises the errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from ._protocols import ByteSource, ImageBackend, ImageEncoder, VideoBackend
from ._uri import ParsedURI

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("mediaref")
hookimpl = pluggy.HookimplMarker("mediaref")


@hookspec
def mediaref_video_backends() -> Sequence[VideoBackend]:
    """Describe the video decoders this plugin provides.

    Called once per process, at the first need of a video frame. Describe, do not
    import codecs: mediaref picks one backend across all plugins and only then calls
    its ``open(source, **options)``, which returns a `VideoDecoder`.
    """


@hookspec
def mediaref_image_backends() -> Sequence[ImageBackend]:
    """Describe the image decoders this plugin provides.

    Called once per process, at the first need of an image. The chosen backend's
    ``decode(data, *, format, uri, **options)`` turns encoded bytes into an array.
    """


@hookspec
def mediaref_image_encoders() -> Sequence[ImageEncoder]:
    """Describe the image encoders this plugin provides (for `DataURI.from_image`).

    Called once per process, at the first encode.
    """


@hookspec(firstresult=True)
def mediaref_open_source(uri: str, parsed: ParsedURI) -> ByteSource | None:
    """Open the bytes `uri` names, or return `None` if this plugin does not handle it.

    Called for every reference that is decoded, plugins first and the core's built-in
    opener (paths, ``file:``, ``data:``, ``http(s):``) last; the first non-`None`
    answer wins. Do not read the content here: return a `ByteSource` that reads on
    demand. Raise `SourceNotFoundError` or `SourceUnreadableError` for a URI you
    handle but cannot open.
    """


@hookspec
def mediaref_clear_caches() -> None:
    """Release everything this plugin keeps between calls (containers, indexes, buffers).

    Called by `mediaref.cleanup_cache()`, from any thread. Do not import a codec to
    answer it: a plugin whose caches were never filled has nothing to release.
    """
