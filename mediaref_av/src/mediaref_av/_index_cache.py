"""Packet indexes cached by file identity: a bounded in-memory LRU and opt-in msgpack files.

The disk cache lets DataLoader workers and later runs share one demux pass per video; it
is an optimisation only, so a missing, stale or unreadable file is rebuilt, never an error.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import msgspec

from ._index import INDEX_VERSION, Index, IndexData

__all__ = ["cache_dir", "index_cache"]


class _IndexCache:
    """A bounded LRU of indexes by file identity, plus an opt-in directory of msgpack files."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._lru: OrderedDict[Hashable, Index] = OrderedDict()
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
            while len(self._lru) > self.max_entries:
                self._lru.popitem(last=False)
            return idx

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()

    @staticmethod
    def _file(directory: str, key: Hashable) -> str:
        digest = hashlib.sha256(repr((INDEX_VERSION, key)).encode()).hexdigest()[:32]
        return os.path.join(directory, f"{digest}.mravidx")

    def load(self, directory: str, key: Hashable) -> IndexData | None:
        try:
            with open(self._file(directory, key), "rb") as f:
                data = self._decoder.decode(f.read())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            return None
        return data if data.version == INDEX_VERSION else None

    def save(self, directory: str, key: Hashable, data: IndexData) -> None:
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(self._encoder.encode(data))
            os.replace(tmp, self._file(directory, key))
        except OSError:
            pass  # the disk cache is an optimisation; a read-only directory must not fail decoding

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


index_cache = _IndexCache()
os.register_at_fork(after_in_child=index_cache.after_fork_in_child)


def cache_dir(option: Any) -> str | None:
    """The disk cache directory: the ``index_cache=`` option, else ``$MEDIAREF_AV_INDEX_CACHE``."""
    if option is False:
        return None
    if option is None or option is True:
        return os.environ.get("MEDIAREF_AV_INDEX_CACHE") or None
    return str(os.fspath(option))
