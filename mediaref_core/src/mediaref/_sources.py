"""Byte sources the core opens with the standard library: paths, ``file:``, ``data:``."""

from __future__ import annotations

import contextlib
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


# Kernel pseudo filesystems show "regular files" whose size is 0 and whose reads may block
# forever (/proc/kmsg) or change under the reader: no media lives there. They are told by
# filesystem type (from /proc/self/mountinfo, read once), whatever path leads to them.
_PSEUDO_TYPES = frozenset(
    {"proc", "sysfs", "devtmpfs", "debugfs", "tracefs", "securityfs", "cgroup", "cgroup2"}
    | {"pstore", "bpf", "configfs", "efivarfs", "fusectl", "binfmt_misc", "selinuxfs"}
)
_PSEUDO_PREFIXES = ("/proc/", "/sys/")
_pseudo_devices: dict[int, str] | None = None


def _pseudo_filesystems() -> dict[int, str]:
    """Return the devices of the mounted kernel pseudo filesystems, with their types."""
    global _pseudo_devices
    if _pseudo_devices is None:
        devices: dict[int, str] = {}
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f,
        ):
            for line in f:  # "36 35 0:21 / /proc rw,... - proc proc rw"
                fields = line.split()
                fstype = fields[fields.index("-") + 1]
                if fstype in _PSEUDO_TYPES:
                    major, minor = fields[2].split(":")
                    devices[os.makedev(int(major), int(minor))] = fstype
        for root, fstype in (("/proc", "proc"), ("/sys", "sysfs")):  # without mountinfo
            with contextlib.suppress(OSError):
                devices.setdefault(os.stat(root).st_dev, fstype)
        with contextlib.suppress(OSError):
            devices.pop(os.stat("/").st_dev, None)  # never the root filesystem itself
        _pseudo_devices = devices
    return _pseudo_devices


def _check_regular(st: os.stat_result, abspath: str, uri: str) -> None:
    """Refuse what is not a regular file, and files of kernel pseudo filesystems.

    Raises:
        SourceUnreadableError: A directory, device, FIFO, socket, or a file of procfs,
            sysfs and the like.
    """
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise SourceUnreadableError(f"cannot read the file: it is {kind}", uri=uri)
    fstype = _pseudo_filesystems().get(st.st_dev)
    if fstype is None and abspath.startswith(_PSEUDO_PREFIXES):
        fstype = "a filesystem under /proc or /sys"
    if fstype is not None:
        raise SourceUnreadableError(
            f"cannot read the file: it is on {fstype!r}, a kernel pseudo filesystem whose "
            "files are not media and may block when read",
            uri=uri,
        )


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
        whole = os.path.abspath(path)  # once: it asks the OS for the working directory
        _check_regular(st, whole, uri)
        self._identity = (whole, st.st_size, st.st_mtime_ns)

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
        limit = limits.max_read_bytes
        if self.size > limit:
            raise self._too_large(f"{self.size} bytes")
        with self.open() as f:
            try:
                size = os.fstat(f.fileno()).st_size  # it may have changed since
                data = f.read(min(size, limit) + 1)
                if data is not None and len(data) > size:  # it grows as it is read
                    data += f.read(limit + 1 - len(data)) or b""
            except OSError as e:
                raise _os_error(e, self.uri) from None
        if data is None:
            raise SourceUnreadableError("cannot read the file: reading would block", uri=self.uri)
        if len(data) > limit:
            raise self._too_large("larger (it grew while read)")
        return data

    def _too_large(self, what: str) -> SourceUnreadableError:
        return SourceUnreadableError(
            f"file is {what}, over the limit of {limits.max_read_bytes} bytes "
            "(mediaref.limits.max_read_bytes)",
            uri=self.uri,
        )

    def open(self) -> IO[bytes]:
        """Open the file for reading.

        Opened without blocking (``O_NONBLOCK``: a FIFO put in the file's place since it
        was checked does not block the open) and checked again once open.

        Raises:
            SourceNotFoundError, SourceUnreadableError: As for the constructor.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as e:
            raise _os_error(e, self.uri) from None
        try:
            _check_regular(os.fstat(fd), os.path.abspath(self.path), self.uri)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")


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
