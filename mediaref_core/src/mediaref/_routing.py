"""Routing: which backend decodes a source, and which of a call's options reach it.

Per source, the core takes the backends of its kind (video or image) that read its URI
scheme (a cached list per scheme), best priority first, and keeps those whose declared
`formats` hold the source's media type and whose `accepts` returns true. The caller
opens the first one; a backend that raises `UnsupportedSourceError` passes the source on
to the next. ``decoder="name"`` bypasses the declarations and uses that backend alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from ._errors import (
    BackendNotInstalledError,
    UnsupportedSourceError,
    short_text,
)
from ._mime import HEAD_BYTES, type_from_content, type_from_name
from ._mime import OCTET_STREAM as _OCTET
from ._plugins import (
    image_backend,
    invalid_option,
    none_installed,
    plugins,
    registry,
    video_backend,
)
from ._protocols import ByteSource, ImageBackend, VideoBackend
from ._uri import parse_uri

__all__ = [
    "Kind",
    "Verdict",
    "check_options",
    "declined_error",
    "explain",
    "media_type",
    "options_for",
    "require_any",
    "route",
    "routing_type",
]

Kind = Literal["video", "image"]
Backend = VideoBackend | ImageBackend
Verdict = tuple[Backend, str]
"""A backend that was passed over, and why: ``"format"`` or ``"accepts"``."""

_HEAD = HEAD_BYTES


def media_type(uri: str, head: bytes | None) -> tuple[str, str]:
    """Return ``(media type, how it was found)`` for routing.

    Images are typed from their first bytes (`head`), else the extension; videos from
    the extension, which costs no I/O, else from `head` if given.
    """
    if head is not None:
        found = type_from_content(head)
        if found != _OCTET:
            return found, "content"
    found = type_from_name(uri)
    return found, ("extension" if found != _OCTET else "unknown")


def _read_head(source: ByteSource) -> bytes:
    with source.open() as f:
        return f.read(_HEAD)


def _matches(formats: tuple[str, ...], mime: str) -> bool:
    return not formats or mime in formats


def _forced(kind: Kind, decoder: str | None, uri: str) -> Backend | None:
    """The backend `decoder` names for this kind; `None` when none is named for it."""
    if decoder is None:
        return None
    if _is_other_kind(decoder, video=kind == "video"):
        # decoder="pyav" in a batch that also holds images means "pyav for the videos".
        return None
    try:
        return video_backend(decoder) if kind == "video" else image_backend(decoder)
    except BackendNotInstalledError as e:
        raise e.at(None, uri=uri) from None


def _is_other_kind(name: str, *, video: bool) -> bool:
    infos = plugins()
    mine = {n for i in infos for n in (i.video_backends if video else i.image_backends)}
    other = {n for i in infos for n in (i.image_backends if video else i.video_backends)}
    return name not in mine and name in other


def _by_scheme(kind: Kind, scheme: str) -> tuple[Backend, ...]:
    reg = registry()
    key = (kind, scheme)
    found = reg.routes.get(key)
    if found is None:
        pairs = reg.video if kind == "video" else reg.image
        found = tuple(b for b, _ in pairs if not b.schemes or scheme in b.schemes)
        reg.routes[key] = found
    return found


def route(
    kind: Kind,
    source: ByteSource,
    *,
    decoder: str | None = None,
    data: bytes | memoryview | None = None,
    passed: list[Verdict] | None = None,
) -> Iterator[Backend]:
    """Yield the backends that accept `source`, in the order to try them.

    Args:
        kind: ``"video"`` or ``"image"``.
        source: The opened source.
        decoder: A backend name forced by the caller (then only it is yielded).
        data: An image's bytes, already read (its media type is sniffed from them).
        passed: Collects the backends passed over and why, for messages.

    Raises:
        BackendNotInstalledError: `decoder` names no installed backend.
    """
    forced = _forced(kind, decoder, source.uri)
    if forced is not None:
        yield forced
        return
    scheme = parse_uri(source.uri).scheme or "file"
    mime: str | None = None
    for backend in _by_scheme(kind, scheme):
        if backend.formats:
            if mime is None:
                mime = routing_type(kind, source, data)[0]
            if mime not in backend.formats:
                if passed is not None:
                    passed.append((backend, "format"))
                continue
        if backend.accepts is not None and not backend.accepts(source):
            if passed is not None:
                passed.append((backend, "accepts"))
            continue
        yield backend


def require_any(kind: Kind, uri: str) -> None:
    """Raise `BackendNotInstalledError` when no backend of `kind` is installed at all."""
    if kind == "video":
        from . import _features  # 0.4.4 code reads (and tests patch) HAS_VIDEO there

        try:
            _features.require_video()
        except BackendNotInstalledError as e:
            raise e.at(None, uri=uri) from None
    reg = registry()
    if not (reg.video if kind == "video" else reg.image):
        raise declined_error(kind, uri, [], [])


def declined_error(
    kind: Kind, uri: str, passed: list[Verdict], declined: list[tuple[Backend, str]]
) -> Exception:
    """Return the error for a source that no backend took.

    `BackendNotInstalledError` when no backend's declarations accept it,
    `UnsupportedSourceError` when some accepted it and then declined it in ``open``.
    """
    what = "video decoder" if kind == "video" else "image decoder"
    scheme = parse_uri(uri).scheme or "file"
    reg = registry()
    every = [b for b, _ in (reg.video if kind == "video" else reg.image)]
    reasons = [
        f"{b.name} reads only {', '.join(b.schemes)} URIs"
        for b in every
        if b.schemes and scheme not in b.schemes
    ]
    reasons += [f"{b.name}: {_why(b, why)}" for b, why in passed]
    reasons += [f"{b.name}: {msg}" for b, msg in declined]
    if not every:
        install = "mediaref-av" if kind == "video" else "mediaref-pil"
        return BackendNotInstalledError(none_installed(what, install), uri=uri)
    detail = "; ".join(reasons)
    if declined:
        return UnsupportedSourceError(
            f"every {what} that accepts it declined it: {detail}", uri=uri
        )
    return BackendNotInstalledError(f"no installed {what} accepts it: {detail}", uri=uri)


def _why(backend: Backend, why: str) -> str:
    if why == "format":
        return f"reads only {', '.join(backend.formats)}"
    return "its accepts() declined it"


def check_options(options: Mapping[str, Any]) -> None:
    """Raise `InvalidOptionError` for an option that no installed backend or source declares."""
    if not options:
        return
    known = registry().option_names
    for name in options:
        if name not in known:
            raise invalid_option(name, known)


def options_for(backend: Backend, options: dict[str, Any]) -> dict[str, Any]:
    """Return the options of `options` that `backend` declares."""
    if not options:
        return options
    return {o.name: options[o.name] for o in backend.options if o.name in options}


def routing_type(
    kind: Kind, source: ByteSource, data: bytes | memoryview | None
) -> tuple[str, str]:
    """Return the ``(media type, how it was found)`` that routing uses for `source`."""
    if data is not None:
        return media_type(source.uri, bytes(data[:_HEAD]))
    if kind == "video" and type_from_name(source.uri) != _OCTET:
        return media_type(source.uri, None)
    return media_type(source.uri, _read_head(source))


def explain(
    kind: Kind,
    source: ByteSource,
    *,
    decoder: str | None = None,
    data: bytes | memoryview | None = None,
) -> list[tuple[Backend, str | None]]:
    """Return every backend of `kind`, best first, with why it does not accept `source`.

    The reason is `None` for a backend that accepts it (routing tries those in order).
    """
    forced = _forced(kind, decoder, source.uri)
    scheme = parse_uri(source.uri).scheme or "file"
    mime = routing_type(kind, source, data)[0]
    reg = registry()
    out: list[tuple[Backend, str | None]] = []
    for b, _ in reg.video if kind == "video" else reg.image:
        reason: str | None = None
        if forced is not None:
            reason = None if b is forced else f"decoder={short_text(decoder)!r} was asked for"
        elif b.schemes and scheme not in b.schemes:
            reason = f"reads only {', '.join(b.schemes)} URIs, not {short_text(scheme)}"
        elif b.formats and mime not in b.formats:
            reason = f"reads only {', '.join(b.formats)}, not {short_text(mime)}"
        elif b.accepts is not None and not b.accepts(source):
            reason = "its accepts() returned false"
        out.append((b, reason))
    return out
