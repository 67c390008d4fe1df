"""One total parser that classifies every reference string, and RFC 3986 equivalence."""

from __future__ import annotations

import posixpath
import re
from typing import Literal

import msgspec

from ._errors import InvalidReferenceError, short_repr, short_text

__all__ = ["ParsedURI", "normalize_uri", "parse_uri", "uris_equivalent"]

URIKind = Literal["path", "file", "http", "data", "other"]

# RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then ":".
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_DRIVE = re.compile(r"[A-Za-z]:(?:[/\\]|$)")
_KINDS: dict[str, URIKind] = {"file": "file", "http": "http", "https": "http", "data": "data"}


class ParsedURI(msgspec.Struct, frozen=True, gc=False):
    """What a reference string is.

    Attributes:
        kind: ``"path"`` (POSIX or Windows path), ``"file"``, ``"http"`` (http or https),
            ``"data"`` (RFC 2397) or ``"other"`` (any other scheme, e.g. ``s3``).
        scheme: The lower-cased scheme; ``""`` for a path.
        path: The local filesystem path for ``path`` and ``file`` kinds (percent-decoded
            for ``file:``); ``""`` otherwise.
    """

    kind: URIKind
    scheme: str
    path: str = ""

    @property
    def is_local(self) -> bool:
        """Whether the bytes are on this machine's filesystem (a path or ``file:``)."""
        return self.kind in {"path", "file"}

    @property
    def is_relative_path(self) -> bool:
        """Whether this is a path that needs a base directory to be found."""
        return self.kind == "path" and not _is_absolute_path(self.path)


def _is_absolute_path(path: str) -> bool:
    return path.startswith(("/", "\\")) or _DRIVE.match(path) is not None


def parse_uri(uri: str) -> ParsedURI:
    """Classify `uri` (a path, or any RFC 3986 / RFC 2397 URI).

    A single letter before ``:`` followed by a slash or nothing (``C:/x``) is a Windows
    drive, hence a path, not a scheme.

    Raises:
        InvalidReferenceError: `uri` is empty (a `MediaRef` may hold one, but it names
            nothing), not a string, or a malformed ``file:`` URI.
    """
    if not isinstance(uri, str):
        raise InvalidReferenceError(f"uri must be a string, got {short_repr(uri)}")
    if not uri:
        raise InvalidReferenceError("uri is empty: it names nothing to read", uri=uri)
    m = _SCHEME.match(uri)
    if m is None or _DRIVE.match(uri) is not None:
        return ParsedURI("path", "", uri)
    scheme = m.group(1).lower()
    kind = _KINDS.get(scheme, "other")
    if kind == "file":
        return ParsedURI("file", scheme, _file_uri_path(uri))
    return ParsedURI(kind, scheme)


def _file_uri_path(uri: str) -> str:
    # RFC 8089: file:/p, file:///p, file://localhost/p; file:///C:/p on Windows.
    rest = uri[5:]
    if rest.startswith("//"):
        host, sep, path = rest[2:].partition("/")
        if host and host.lower() != "localhost":
            raise InvalidReferenceError(
                f"file URI names a remote host {short_text(host)!r}; only local files can be read",
                uri=uri,
            )
        rest = sep + path
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    from urllib.parse import unquote

    # Escapes of bytes that are not UTF-8 name such bytes in POSIX file names: keep them
    # as surrogate escapes, which os functions turn back into those bytes.
    path = unquote(rest, errors="surrogateescape")
    if _DRIVE.match(path[1:3] + "/") and path.startswith("/"):
        path = path[1:]
    if not path:
        raise InvalidReferenceError("file URI has no path", uri=uri)
    return path


_UNRESERVED = "-._~"
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")


def _normalize_pct(part: str) -> str:
    """Upper-case percent escapes and decode those of unreserved characters (§6.2.2.1-2)."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(0)[1:], 16))
        if ch.isascii() and (ch.isalnum() or ch in _UNRESERVED):
            return ch
        return m.group(0).upper()

    return _PCT.sub(fix, part)


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4 for absolute paths; relative paths keep leading "..".
    if not path:
        return path
    trailing = path.endswith(("/", "/.", "/..")) and path not in ("/",)
    norm = posixpath.normpath(path)
    if path.startswith("//") and not norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm == ".":
        norm = ""
    if trailing and not norm.endswith("/"):
        norm += "/"
    return norm


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_uri(uri: str) -> str:
    """Return the RFC 3986 §6 normal form of `uri`, for comparing references.

    Lower-cases scheme and host, upper-cases percent escapes, decodes escaped
    unreserved characters, removes dot segments and default ports (``http:80``,
    ``https:443``). Paths get the same treatment of ``.``/``..`` and nothing else: a
    path is not a URI, and ``%41`` in it is three characters of a file name, not ``A``.
    ``data:`` URIs only have their scheme lower-cased.

    The empty URI (a reference may hold one, as in mediaref 0.4.4) is its own normal form.

    Raises:
        InvalidReferenceError: `uri` is not a string.
    """
    if uri == "":
        return uri
    parsed = parse_uri(uri)
    if parsed.kind == "path":
        return _remove_dot_segments(uri) or "."
    if parsed.kind == "data":
        return "data:" + uri[5:]
    from urllib.parse import urlsplit, urlunsplit  # deferred: ~1.5 ms of import time

    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return parsed.scheme + uri[len(parsed.scheme) :]
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if netloc:
        userinfo, at, _ = netloc.rpartition("@")
        host = (parts.hostname or "").lower()
        if ":" in host:
            host = f"[{host}]"
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            host += f":{port}"
        netloc = (userinfo + at) + _normalize_pct(host)
    path = _remove_dot_segments(_normalize_pct(parts.path))
    if not path and netloc and scheme in _DEFAULT_PORTS:
        path = "/"
    query = _normalize_pct(parts.query)
    fragment = _normalize_pct(parts.fragment)
    if path.startswith("//") and not netloc:
        # An empty authority before a path starting with "//" (file:////x): urlunsplit
        # would drop it, and the path's first segment would become a host (file://x).
        return f"{scheme}://" + urlunsplit(("", "", path, query, fragment))
    if not netloc and parts.path and not parts.path.startswith("/"):
        # A rootless path (file:a/b, file:.): urlunsplit would root it (file:///a/b), and
        # dot removal would leave file: with no path at all.
        return f"{scheme}:" + urlunsplit(("", "", path or ".", query, fragment))
    return urlunsplit((scheme, netloc, path, query, fragment))


def uris_equivalent(a: str, b: str) -> bool:
    """Whether `a` and `b` name the same resource under RFC 3986 normalisation."""
    return a == b or normalize_uri(a) == normalize_uri(b)
