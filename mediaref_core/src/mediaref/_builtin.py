"""The core's own hook implementations: byte sources it opens with the standard library."""

from __future__ import annotations

from ._protocols import ByteSource
from ._sources import open_builtin_source
from ._uri import ParsedURI
from .hookspecs import hookimpl


@hookimpl(trylast=True)
def mediaref_open_source(uri: str, parsed: ParsedURI) -> ByteSource | None:
    """Open paths, ``file:``, ``data:`` and ``http(s):`` URIs."""
    return open_builtin_source(uri, parsed)  # type: ignore[return-value]


@hookimpl
def mediaref_clear_caches() -> None:
    """Close the HTTP connections kept alive between sources."""
    from . import _connections

    _connections.clear()


@hookimpl
def mediaref_release_idle() -> None:
    """Close the HTTP connections kept alive: after a quiet period they are likely stale."""
    from . import _connections

    _connections.clear()
