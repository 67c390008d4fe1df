"""The ``fsspec`` entry point of the ``mediaref`` group: hook implementations only.

Importing this module is cheap: fsspec arrives with the first URI whose scheme is not
one the core reads (``s3://``, ``gs://``, ``hf://``, ``memory://``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mediaref import ByteSource, Option, ParsedURI, hookimpl

from ._source import CORE_PROTOCOLS, PREFIX

__all__ = ["OPTIONS", "mediaref_open_source", "mediaref_source_options"]

OPTIONS = (
    Option(
        name="storage_options",
        type="dict[str, Any] | None",
        default=None,
        help="keyword arguments for the fsspec filesystem (credentials, endpoint_url, ...)",
    ),
)


def protocol_of(parsed: ParsedURI) -> str | None:
    """Return the fsspec protocol this plugin reads `parsed` with, or `None`."""
    scheme = parsed.scheme
    if scheme.startswith(PREFIX):
        return scheme[len(PREFIX) :] or None
    if parsed.kind != "other" or scheme in CORE_PROTOCOLS:
        return None
    from ._source import known_protocol

    return scheme if known_protocol(scheme) else None


@hookimpl
def mediaref_open_source(
    uri: str, parsed: ParsedURI, options: Mapping[str, Any]
) -> ByteSource | None:
    """Open URIs of every protocol fsspec knows, except those the core reads itself."""
    protocol = protocol_of(parsed)
    if protocol is None:
        return None
    from ._source import FsspecSource

    return FsspecSource(uri, protocol, options.get("storage_options") or {})


@hookimpl
def mediaref_source_options() -> list[Option]:
    """Declare ``storage_options``."""
    return list(OPTIONS)
