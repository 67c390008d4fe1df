"""Byte sources the core opens with the standard library: paths, ``file:``, ``data:``."""

from __future__ import annotations

import io
import os
import stat
from typing import IO

from ._errors import (
    InvalidReferenceError,
    SourceNotFoundError,
    SourceUnreadableError,
)
from ._limits import limits
from ._rfc2397 import parse_data_uri
from ._uri import ParsedURI

__all__ = ["DataSource", "FileSource", "open_builtin_source"]


def _os_error(e: OSError, uri: str) -> Exception:
    if isinstance(e, FileNotFoundError):
        return SourceNotFoundError("no such file", uri=uri)
    reason = e.strerror or type(e).__name__
    return SourceUnreadableError(f"cannot read the file: {reason}", uri=uri)


class FileSource:
    """A regular file on the local filesystem."""

    __slots__ = ("_identity", "path", "uri")

    def __init__(self, uri: str, path: str) -> None:
        self.uri, self.path = uri, path
        try:
            st = os.stat(path)
        except OSError as e:
            raise _os_error(e, uri) from None
        except ValueError as e:  # a NUL byte, or a lone surrogate no filesystem name can hold
            raise InvalidReferenceError(f"not a usable path: {e}", uri=uri) from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise SourceUnreadableError(f"cannot read the file: it is {kind}", uri=uri)
        self._identity = (os.path.abspath(path), st.st_size, st.st_mtime_ns)

    @property
    def local_path(self) -> str:
        """The filesystem path."""
        return self.path

    @property
    def identity(self) -> tuple[object, ...]:
        """``(absolute path, size, mtime_ns)`` as seen when the source was opened."""
        return self._identity

    @property
    def size(self) -> int:
        """Size in bytes when opened."""
        return int(self._identity[1])  # type: ignore[call-overload]

    def read_all(self) -> bytes:
        """Read the whole file (at most `Limits.max_read_bytes`)."""
        if self.size > limits.max_read_bytes:
            raise SourceUnreadableError(
                f"file is {self.size} bytes, over the limit of {limits.max_read_bytes} "
                "(mediaref.limits.max_read_bytes)",
                uri=self.uri,
            )
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except OSError as e:
            raise _os_error(e, self.uri) from None

    def open(self) -> IO[bytes]:
        """Open the file for reading."""
        try:
            return open(self.path, "rb")
        except OSError as e:
            raise _os_error(e, self.uri) from None


class DataSource:
    """The bytes embedded in a ``data:`` URI."""

    __slots__ = ("data", "uri")

    def __init__(self, uri: str) -> None:
        if len(uri) > limits.max_data_uri_chars:
            raise SourceUnreadableError(
                f"data URI is {len(uri)} characters, over the limit of "
                f"{limits.max_data_uri_chars} (mediaref.limits.max_data_uri_chars)",
                uri=uri,
            )
        self.uri = uri
        self.data = parse_data_uri(uri)[3]

    @property
    def local_path(self) -> None:
        """Embedded data has no path."""
        return None

    @property
    def identity(self) -> tuple[object, ...]:
        """The URI itself: equal strings are equal content."""
        return ("data", len(self.uri), hash(self.uri))

    def read_all(self) -> bytes:
        """Return the decoded bytes."""
        return self.data

    def open(self) -> IO[bytes]:
        """Return the decoded bytes as a file object."""
        return io.BytesIO(self.data)


def open_builtin_source(uri: str, parsed: ParsedURI) -> object | None:
    """Open the sources the core knows; `None` for other schemes."""
    if parsed.kind in ("path", "file"):
        return FileSource(uri, parsed.path)
    if parsed.kind == "data":
        return DataSource(uri)
    if parsed.kind == "http":
        from ._http import HTTPSource

        return HTTPSource(uri)
    if parsed.kind == "other":
        return None
    raise InvalidReferenceError(f"unsupported URI kind {parsed.kind!r}", uri=uri)
