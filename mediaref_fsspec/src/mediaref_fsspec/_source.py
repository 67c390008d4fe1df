"""`FsspecSource`: the bytes of an object behind any fsspec protocol, and the filesystems.

fsspec is imported on the first URI this plugin reads, never when the plugin loads.
Filesystem objects are cached per (protocol, storage options) and dropped in a forked
child, which must open its own connections (PyTorch DataLoader workers fork).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import IO, Any

from mediaref import (
    BackendNotInstalledError,
    MediaRefError,
    SourceNotFoundError,
    SourceUnreadableError,
    limits,
)

__all__ = [
    "BLOCK_SIZE",
    "CORE_PROTOCOLS",
    "MAX_BLOCKS",
    "FsspecSource",
    "PACKAGES",
    "clear_filesystems",
    "filesystem",
    "known_protocol",
]

_CHANGED = (
    "the object changed since it was first read (size, ETag or version differs); "
    "open it again to read the new content"
)

PREFIX = "fsspec+"
"""``fsspec+https://...`` (or ``fsspec+file://``) asks for fsspec's own implementation of a
protocol the core reads itself."""

CORE_PROTOCOLS = frozenset({"file", "local", "http", "https", "data"})
"""Protocols the core reads with the standard library: left to it unless prefixed."""

PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "adl": "adlfs",
    "hf": "huggingface_hub",
    "http": "aiohttp",
    "https": "aiohttp",
    "sftp": "paramiko",
    "ssh": "paramiko",
}
"""The package to install for a protocol whose fsspec implementation is missing."""

BLOCK_SIZE = 256 * 1024
"""Bytes per ranged read of fsspec's block cache: small, since decoders read scattered."""

MAX_BLOCKS = 32
"""Blocks fsspec's block cache keeps per open file (8 MiB)."""

_lock = threading.Lock()
_filesystems: dict[tuple[str, str], Any] = {}


def _drop_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _filesystems.clear()  # the parent's connections and event loop are not ours


os.register_at_fork(after_in_child=_drop_after_fork)


def clear_filesystems() -> None:
    """Forget the cached filesystem objects (the next read creates new ones)."""
    with _lock:
        _filesystems.clear()


def known_protocol(protocol: str) -> bool:
    """Return whether fsspec knows `protocol` (installed or not)."""
    from fsspec.registry import known_implementations, registry

    return protocol in known_implementations or protocol in registry


def _options_key(options: Mapping[str, Any]) -> str:
    # Storage options may hold dicts (client_kwargs); the key lives in memory only.
    return json.dumps(options, sort_keys=True, default=repr)


def filesystem(protocol: str, uri: str, storage_options: Mapping[str, Any]) -> Any:
    """Return the cached fsspec filesystem for `protocol` with `storage_options`.

    Raises:
        BackendNotInstalledError: fsspec's implementation of `protocol` is not installed.
    """
    key = (protocol, _options_key(storage_options))
    with _lock:
        fs = _filesystems.get(key)
    if fs is not None:
        return fs
    import fsspec

    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError:
        package = PACKAGES.get(protocol)
        hint = f"pip install {package}" if package else "install its fsspec implementation"
        raise BackendNotInstalledError(
            f"reading {protocol}:// needs fsspec's {protocol!r} filesystem; install it "
            f"with: {hint}",
            uri=uri,
        ) from None
    # Our cache is the one that knows about fork; fsspec's own would hand a child its
    # parent's instance.
    fs = cls(**storage_options, skip_instance_cache=True)
    with _lock:
        return _filesystems.setdefault(key, fs)


def _secrets(options: Any) -> list[str]:
    """Every string in the storage options that could be a credential."""
    if isinstance(options, Mapping):
        return [s for v in options.values() for s in _secrets(v)]
    if isinstance(options, (list, tuple)):
        return [s for v in options for s in _secrets(v)]
    return [options] if isinstance(options, str) and len(options) >= 4 else []


def _validator(info: Mapping[str, Any]) -> str:
    """What changes when the object's content changes: version id, ETag, else mtime."""
    for name in ("VersionId", "version_id", "ETag", "etag", "md5", "mtime", "LastModified"):
        value = info.get(name)
        if value not in (None, ""):
            return f"{name}={value}"
    for name in ("last_modified", "updated", "created"):
        value = info.get(name)
        if value not in (None, ""):
            return f"{name}={value}"
    return ""


class FsspecSource:
    """An object behind an fsspec protocol (a `mediaref.ByteSource`).

    Args:
        uri: The URI as the reference gives it (``s3://bucket/key``, ``fsspec+file:///x``).
        protocol: The fsspec protocol (``s3``).
        storage_options: Keyword arguments for the filesystem (credentials, endpoint).

    Raises:
        BackendNotInstalledError: The protocol's implementation is not installed.
        SourceNotFoundError: No such object.
        SourceUnreadableError: Any other failure (credentials never appear in the message).
    """

    __slots__ = ("_fs", "_info", "_lock", "_pinned", "_secrets", "path", "protocol", "uri")

    def __init__(self, uri: str, protocol: str, storage_options: Mapping[str, Any]) -> None:
        self.uri, self.protocol = uri, protocol
        self._secrets = _secrets(storage_options)
        self._fs = filesystem(protocol, uri, storage_options)
        target = uri.removeprefix(PREFIX)
        self.path: str = self._fs._strip_protocol(target)
        self._info: Mapping[str, Any] = self._stat()
        self._lock = threading.Lock()
        self._pinned: Any = None
        """A file opened once for `read_range`, pinned to the version first seen."""

    def _error(self, e: BaseException, doing: str) -> MediaRefError:
        if isinstance(e, FileNotFoundError):
            return SourceNotFoundError(f"no such object ({self.protocol})", uri=self.uri)
        if type(e).__name__ == "FileExpired":  # s3fs: the pinned ETag no longer matches
            return SourceUnreadableError(_CHANGED, uri=self.uri)
        text = f"{type(e).__name__}: {e}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return SourceUnreadableError(f"cannot {doing}: {text}", uri=self.uri)

    def _call(self, doing: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the filesystem; its errors become ours, without the original attached."""
        try:
            return function(*args, **kwargs)
        except Exception as e:
            error = self._error(e, doing)
        # Raised outside the handler: no __context__ that could carry a credential.
        raise error

    def _stat(self) -> Mapping[str, Any]:
        info: Mapping[str, Any] = self._call("stat the object", self._fs.info, self.path)
        if info.get("type") == "directory":
            raise SourceUnreadableError("cannot read the object: it is a directory", uri=self.uri)
        return info

    @property
    def local_path(self) -> None:
        """Objects are read through `open` (even ``fsspec+file://``: that is what it asks)."""
        return None

    @property
    def size(self) -> int:
        """Size in bytes when the source was opened."""
        return int(self._info.get("size") or 0)

    @property
    def identity(self) -> tuple[object, ...]:
        """``(uri, size, validator)``: the validator is the version id, ETag or mtime."""
        return (self.uri, self.size, _validator(self._info))

    def _check_unchanged(self) -> None:
        now = self._stat()
        if (int(now.get("size") or 0), _validator(now)) != (self.size, _validator(self._info)):
            raise SourceUnreadableError(_CHANGED, uri=self.uri)

    def read_all(self) -> bytes:
        """Read the whole object (at most `Limits.max_read_bytes`).

        Raises:
            SourceUnreadableError: Over the size limit, or the read failed.
        """
        if self.size > limits.max_read_bytes:
            raise SourceUnreadableError(
                f"object is {self.size} bytes, over the limit of {limits.max_read_bytes} "
                "(mediaref.limits.max_read_bytes)",
                uri=self.uri,
            )
        data = self._call("read the object", self._fs.cat_file, self.path)
        if len(data) > limits.max_read_bytes:
            raise SourceUnreadableError(
                "object grew over mediaref.limits.max_read_bytes", uri=self.uri
            )
        return bytes(data)

    def read_range(self, start: int, end: int) -> bytes:
        """Read bytes ``[start, end)`` with one ranged request (no cache in between).

        Optional to `mediaref.ByteSource`: decoders that plan their reads (mediaref-av)
        use it when a source has it. Reads go through one file of the filesystem's, opened
        on first use and checked against the version this source was opened on; s3fs's
        files then send that ETag with every range (``If-Match``) or pin the version id.

        Raises:
            SourceUnreadableError: The read failed, or the object changed since this source
                was opened (its ETag, version or size differs).
        """
        fetch = self._pinned_fetch()
        if fetch is None:
            data = self._call("read the object", self._fs.cat_file, self.path, start=start, end=end)
        else:
            data = self._call("read the object", fetch, start, min(end, self.size))
        return bytes(data)

    def _same_version(self, details: Mapping[str, Any]) -> bool:
        """Whether a file's details agree with the source's, as far as they go.

        fsspec's HTTP files know only the size; s3fs's also the ETag or version id.
        """
        size, validator = details.get("size"), _validator(details)
        return (size is None or int(size) == self.size) and validator in (
            "",
            _validator(self._info),
        )

    def _pinned_fetch(self) -> Any:
        """The ranged read of a file pinned to this source's version; `None` if files have none."""
        with self._lock:
            if self._pinned is None:
                f = self._call("open the object", self._fs.open, self.path, "rb", cache_type="none")
                # fsspec's buffered files (s3fs, gcsfs, adlfs, HTTP) read a range with one
                # request in _fetch_range; others (local, memory) are read by cat_file.
                fetch = getattr(f, "_fetch_range", None)
                details = getattr(f, "details", None) if fetch is not None else None
                if fetch is None:
                    f.close()
                elif isinstance(details, Mapping) and not self._same_version(details):
                    f.close()
                    raise SourceUnreadableError(_CHANGED, uri=self.uri)
                self._pinned = fetch or False
            return self._pinned or None

    def open(self) -> IO[bytes]:
        """Return a new seekable file with fsspec's bounded block cache; the caller closes it.

        Raises:
            SourceUnreadableError: The object changed since this source was opened (its
                size, ETag or version differs), or opening failed.
        """
        self._check_unchanged()
        f: IO[bytes] = self._call(
            "open the object",
            self._fs.open,
            self.path,
            "rb",
            block_size=BLOCK_SIZE,
            cache_type="blockcache",
            cache_options={"maxblocks": MAX_BLOCKS},
        )
        return f
