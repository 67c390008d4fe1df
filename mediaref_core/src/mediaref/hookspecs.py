"""The plugin contract: every hook a mediaref plugin may implement.

A plugin is a distribution that declares an entry point in the group ``mediaref``;
its module defines functions named after these specifications and marked with
`hookimpl`. Hooks describe what a plugin provides and what it accepts; the core routes
each reference to a backend (``decoder=`` by name, else the highest-``priority`` backend
that accepts it), routes each option to the backends and sources that declare it, and
raises the errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from ._protocols import ByteSource, ImageBackend, ImageEncoder, Option, VideoBackend
from ._uri import ParsedURI

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("mediaref")
hookimpl = pluggy.HookimplMarker("mediaref")


@hookspec
def mediaref_video_backends() -> Sequence[VideoBackend]:
    """Describe the video decoders this plugin provides.

    Called once per process, at the first need of a video frame. Describe, do not
    import codecs. For each video, mediaref takes the backends whose ``schemes`` and
    ``formats`` (container MIME types) match it and whose ``accepts(source)`` returns
    true, highest ``priority`` first, and calls the first one's ``open(source,
    **options)`` with the options it declares in ``options``; it returns a
    `VideoDecoder`. Raise `UnsupportedSourceError` from ``open`` to decline a source
    (the next backend is tried); ``decoder="name"`` forces one backend, without fallback.
    """


@hookspec
def mediaref_image_backends() -> Sequence[ImageBackend]:
    """Describe the image decoders this plugin provides.

    Called once per process, at the first need of an image. Routed like video
    backends, with ``formats`` matched against the image MIME type sniffed from the
    first bytes (else the extension). The chosen backend's ``decode(data, *, format,
    uri, **options)`` turns encoded bytes into an array; raising `UnsupportedSourceError`
    passes the image on to the next backend.
    """


@hookspec
def mediaref_image_encoders() -> Sequence[ImageEncoder]:
    """Describe the image encoders this plugin provides (for `DataURI.from_image`).

    Called once per process, at the first encode.
    """


@hookspec(firstresult=True)
def mediaref_open_source(
    uri: str, parsed: ParsedURI, options: Mapping[str, Any]
) -> ByteSource | None:
    """Open the bytes `uri` names, or return `None` if this plugin does not handle it.

    Called for every reference that is decoded, plugins first and the core's built-in
    opener (paths, ``file:``, ``data:``, ``http(s):``) last; the first non-`None`
    answer wins. Do not read the content here: return a `ByteSource` that reads on
    demand. Raise `SourceNotFoundError` or `SourceUnreadableError` for a URI you
    handle but cannot open. `options` holds the options of the call that this plugin
    declares in `mediaref_source_options` (an implementation may omit the argument).
    """


@hookspec
def mediaref_source_options() -> Sequence[Option]:
    """Declare the keyword options this plugin's `mediaref_open_source` takes.

    Called once per process, when plugins are loaded. A call's option
    (``to_ndarray(region="eu")``) reaches only the plugins that declare it; an option
    that no backend or source declares raises `InvalidOptionError`.
    """


@hookspec
def mediaref_clear_caches() -> None:
    """Release everything this plugin keeps between calls (containers, indexes, buffers).

    Called by `mediaref.cleanup_cache()`, from any thread. Do not import a codec to
    answer it: a plugin whose caches were never filled has nothing to release.
    """


@hookspec
def mediaref_release_idle() -> None:
    """Release what this plugin keeps idle that is cheap to get again; keep the rest.

    Called once after no decode has run for `mediaref.limits.idle_release_s` seconds,
    from mediaref's janitor thread, possibly while another thread starts a decode: close
    idle containers and connections, free pooled buffers, trim caches that are costly to
    rebuild (indexes) to a small budget; never touch what a running decode uses. Do not
    import a codec to answer it.
    """


@hookspec(firstresult=True)
def mediaref_to_pil_image(array: Any) -> Any:
    """Wrap a decoded uint8 array as a ``PIL.Image.Image``; `None` if this plugin cannot.

    The array is ``(H, W)`` gray, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA. Called by
    `MediaRef.to_pil_image` and `DataURI.to_pil_image`, so that the core never imports
    Pillow itself; `mediaref-pil` implements it.
    """
