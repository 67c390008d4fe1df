"""Packet indexes cached by content identity: an in-memory LRU bounded in bytes, and files.

Keys name the content, not where it lies: a local file is its size, modification time and
a hash of its first and last 64 KiB (a hard link or a ``cp -p`` copy shares one entry;
a rewritten file gets a new one); a remote object is its URI, size and ETag or version.
The disk cache (one msgpack file per video) lets DataLoader workers, later runs and other
machines share one index per video; ``mediaref index URI... --out DIR`` fills it ahead.
It is an optimisation only: a missing, stale or unreadable file is rebuilt, never an error.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import msgspec

from mediaref import ByteSource

from ._index import INDEX_VERSION, Index, IndexData

__all__ = [
    "IDLE_BYTES",
    "cache_dir",
    "content_key",
    "disk_cacheable",
    "index_cache",
    "plausible",
    "seal",
    "unseal",
]

_SAMPLE = 64 * 1024
"""Bytes hashed at each end of a local file for its content key."""

_local_keys: dict[tuple[object, ...], tuple[object, ...]] = {}
_local_lock = threading.Lock()


def content_key(source: ByteSource) -> tuple[object, ...]:
    """Return what identifies `source`'s content, wherever it lies.

    A local file: ``("file", size, mtime_ns, hash of its first and last 64 KiB)``,
    remembered per source `identity` (which changes when the content may have: for a
    file, its path, size and mtime as the source saw them when it opened), so that a file
    is hashed, and stat'ed here, once per process: each call of ``MediaRef.to_ndarray``
    opens a new source, which stat'ed the file already (bench/percall.py counts the
    per-call cost).
    Another source: its `identity` (for HTTP and object stores: URI, size, ETag).
    """
    identity = tuple(source.identity)
    path = source.local_path
    if path is None:
        return identity
    with _local_lock:
        key = _local_keys.get(identity)
    if key is not None:
        return key
    try:
        st = os.stat(path)
        key = ("file", st.st_size, st.st_mtime_ns, _sample_hash(path, st.st_size))
    except OSError:
        return identity  # gone meanwhile: opening it will say so
    with _local_lock:
        if len(_local_keys) >= 4096:
            _local_keys.clear()
        _local_keys[identity] = key
    return key


def _sample_hash(path: str, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(_SAMPLE))
        if size > _SAMPLE:
            f.seek(max(size - _SAMPLE, _SAMPLE))
            digest.update(f.read(_SAMPLE))
    return digest.hexdigest()[:32]


def disk_cacheable(key: tuple[object, ...]) -> bool:
    """Whether an index under `key` may be shared through files: the key names content.

    Local files always; other sources when their identity ends with a validator (ETag,
    Last-Modified, version id), not for ``data:`` URIs (their key is a per-process hash).
    """
    if key[:1] == ("file",):
        return True
    last = key[-1] if key else None
    return isinstance(last, str) and bool(last)


def _is_url(directory: str) -> bool:
    """Whether the cache directory is a URL (``s3://bucket/indexes``), read through fsspec."""
    return "://" in directory


def _read(name: str) -> bytes:
    if not _is_url(name):
        with open(name, "rb") as f:
            return f.read()
    import fsspec  # a shared cache on an object store needs fsspec (mediaref-fsspec has it)

    with fsspec.open(name, "rb") as f:
        return bytes(f.read())


def _write_url(name: str, blob: bytes) -> None:
    import fsspec

    # An object store writes an object whole or not at all: readers never see half of it.
    with fsspec.open(name, "wb") as f:
        f.write(blob)


IDLE_BYTES = 1 << 20
"""Bytes of indexes kept after an idle period (`mediaref.limits.idle_release_s`), the most
recently used (at least one, whatever its size): ~9,000 packets (5 minutes of 30 fps), or
~128 indexes of short clips. Small indexes cost more RSS than they count (objects spread
over many allocator pages): over 2,000 clips, RSS after the quiet minute was +9.5 % of the
warm baseline keeping 4 MB, +2.9 % keeping 1 MB, -10.0 % keeping one index
(bench/results/soak-files.md). Rebuilding an index costs a demux of its file, or a read
of the disk cache."""


_MAGIC = b"mravidx" + bytes([INDEX_VERSION])
_DIGEST = 16


def _digest(key: Hashable, payload: bytes | memoryview) -> bytes:
    h = hashlib.blake2b(repr(key).encode(), digest_size=_DIGEST)
    h.update(payload)
    return h.digest()


def seal(key: Hashable, payload: bytes) -> bytes:
    """Return a cache file's bytes: magic and version, BLAKE2b of key and payload, payload.

    The key is in the checksum so that a file copied over another video's is not believed.
    """
    return _MAGIC + _digest(key, payload) + payload


def unseal(key: Hashable, blob: bytes) -> memoryview | None:
    """Return the payload of a cache file sealed for `key`, or `None` if it is not one."""
    head = len(_MAGIC) + _DIGEST
    view = memoryview(blob)
    if len(blob) < head or view[: len(_MAGIC)] != _MAGIC:
        return None
    payload = view[head:]
    return payload if view[len(_MAGIC) : head] == _digest(key, payload) else None


def plausible(data: IndexData, file_size: int | None) -> bool:
    """Whether an index read from a file can describe a video; cheap, before `Index`.

    A tampered file that still passes its checksum (or a writer's bug) must not reach
    the planner: per-packet columns of one length, positive time bases and sizes,
    durations and byte sizes >= 0, packets inside the file (when its size is known), decode
    times in decode order (a file whose demuxer gives them out of order is rebuilt each
    time: slower, never wrong). Found by
    tests/reliability/test_rel_index_fuzz.py (IndexError, ZeroDivisionError).
    """
    n = len(data.pts)
    columns = (data.dts, data.key, data.duration, data.discard)
    if not (
        n > 0
        and all(len(c) == n for c in columns)
        and min(*data.time_base, *data.default_duration, data.width, data.height) > 0
        and data.stream_index >= 0
        and data.slices >= 1
        and min(data.duration) >= 0
        and (data.display_matrix is None or len(data.display_matrix) == 9)
    ):
        return False
    dts = [t for t in data.dts if t is not None]
    if any(b < a for a, b in itertools.pairwise(dts)):
        return False
    if not data.pos and not data.size:
        return True
    known = [(p, z) for p, z in zip(data.pos, data.size, strict=False) if p >= 0]
    end = file_size if file_size is not None else 1 << 63
    return (
        len(data.pos) == len(data.size) == n
        and min(data.size) >= 0
        and min(data.pos) >= -1
        and all(p + z <= end for p, z in known)
    )


def _file_size(key: Hashable) -> int | None:
    """The size of the file an index key names, when the key holds it (local files)."""
    content = key[0] if isinstance(key, tuple) and key else None
    if isinstance(content, tuple) and content[:1] == ("file",) and isinstance(content[1], int):
        return content[1]
    return None


def _max_bytes() -> int:
    try:
        return int(float(os.environ.get("MEDIAREF_AV_INDEX_CACHE_MB", "256")) * 2**20)
    except ValueError:
        return 256 * 2**20


class _IndexCache:
    """An LRU of indexes by content key bounded in bytes, plus a directory of msgpack files."""

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = _max_bytes() if max_bytes is None else max_bytes
        """Most bytes of index arrays kept in memory (``MEDIAREF_AV_INDEX_CACHE_MB``)."""
        self._lock = threading.Lock()
        self._lru: OrderedDict[Hashable, Index] = OrderedDict()
        self._bytes = 0
        self.cleared = 0
        """How many times `clear` ran: decoders opened before hold indexes it forgot."""
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(IndexData)

    def get(self, key: Hashable) -> Index | None:
        with self._lock:
            idx = self._lru.get(key)
            if idx is not None:
                self._lru.move_to_end(key)
            return idx

    def put(self, key: Hashable, idx: Index) -> Index:
        with self._lock:
            old = self._lru.get(key)
            if old is not None:  # another thread built it first; share one (and its bad keys)
                self._lru.move_to_end(key)
                return old
            self._lru[key] = idx
            self._bytes += idx.nbytes()
            self._shrink(self.max_bytes)
            return idx

    def _shrink(self, max_bytes: int) -> None:
        """Forget the least recently used indexes over `max_bytes`, never the last one."""
        while self._bytes > max_bytes and len(self._lru) > 1:
            self._bytes -= self._lru.popitem(last=False)[1].nbytes()

    @property
    def nbytes(self) -> int:
        """Bytes of the indexes held in memory."""
        return self._bytes

    def trim(self, max_bytes: int) -> None:
        """Keep the most recently used indexes that fit in `max_bytes` (at least one)."""
        with self._lock:
            self._shrink(max_bytes)

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()
            self._bytes = 0
            self.cleared += 1

    @staticmethod
    def _file(directory: str, key: Hashable) -> str:
        digest = hashlib.sha256(repr((INDEX_VERSION, key)).encode()).hexdigest()[:32]
        if _is_url(directory):
            return f"{directory.rstrip('/')}/{digest}.mravidx"
        return os.path.join(directory, f"{digest}.mravidx")

    def load(self, directory: str, key: Hashable) -> Index | None:
        """Return the index of `key`'s cache file, or `None` to rebuild it from the video.

        A file of another format version, whose checksum does not match its payload and
        key, or whose values are implausible (`plausible`) is not believed.
        """
        try:
            payload = unseal(key, _read(self._file(directory, key)))
            if payload is None:
                return None
            data = self._decoder.decode(payload)
        except (OSError, ImportError, ValueError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        if data.version != INDEX_VERSION or not plausible(data, _file_size(key)):
            return None
        try:
            return Index(data)
        except Exception:  # e.g. timestamps beyond int64 ns: the scan would have refused them
            return None

    def save(self, directory: str, key: Hashable, data: IndexData) -> None:
        blob = seal(key, self._encoder.encode(data))
        try:
            if _is_url(directory):
                _write_url(self._file(directory, key), blob)
                return
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(blob)
            os.replace(tmp, self._file(directory, key))
        except (OSError, ImportError, ValueError):
            pass  # the disk cache is an optimisation; a read-only directory must not fail decoding

    def after_fork_in_child(self) -> None:
        global _local_lock
        self._lock = threading.Lock()
        _local_lock = threading.Lock()


index_cache = _IndexCache()
os.register_at_fork(after_in_child=index_cache.after_fork_in_child)


def cache_dir(option: Any) -> str | None:
    """The disk cache directory: the ``index_cache=`` option, else ``$MEDIAREF_AV_INDEX_CACHE``.

    A path, or a URL that fsspec opens (``s3://bucket/indexes``: a cache shared by
    machines; credentials from the environment, as fsspec finds them).
    """
    if option is False:
        return None
    if option is None or option is True:
        option = os.environ.get("MEDIAREF_AV_INDEX_CACHE") or None
        if option is None:
            return None
    return str(os.fspath(option)).removeprefix("file://")
