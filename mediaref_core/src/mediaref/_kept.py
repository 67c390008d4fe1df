"""Video decoders kept open between decode calls on local files (`KeepOpen`).

One frame per call (``MediaRef.to_ndarray`` in a loop, a ``Dataset.__getitem__``) used to
route the file and open a backend decoder on every call, then close it: ~35 us of the
~125 us that mediaref-av spent above plain PyAV on a tiny keyframe. A decoder that
implements `KeepOpen` is parked here when its call ends without an error, and the next
call on the same file takes it back: same URI, backend choice and options, the same
plugin registry, the same file identity (path, size, modification time: a file rewritten
in between gets a new decoder), and the decoder still `reusable`. Only local files: a
remote source's identity costs a request.

At most `MAX_KEPT` decoders are parked, the least recently used closed first; several may
share a key (parallel calls on one file). The janitor's idle release and `cleanup_cache`
close them all. A forked child never touches its parent's decoders (they may hold codec
threads the child does not have): it forgets them, unclosed.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any, NamedTuple, cast

from ._protocols import ByteSource, KeepOpen, VideoBackend, VideoDecoder

__all__ = ["MAX_KEPT", "Kept", "close_all", "give", "kept_decoders", "key_of", "opened", "take"]

MAX_KEPT = 8


class Kept(NamedTuple):
    """A decoder open on one file, and what it was opened under."""

    registry: object
    identity: tuple[object, ...]
    backend: VideoBackend
    decoder: VideoDecoder


_lock = threading.Lock()
_idle: OrderedDict[int, tuple[Hashable, Kept]] = OrderedDict()
"""Parked decoders by ``id(decoder)``, least recently used first."""
_orphans: list[Kept] = []
"""A forked child's inherited decoders: kept alive, never closed (see the module)."""


def key_of(uri: str, decoder: str | None, options: Mapping[str, Any]) -> Hashable | None:
    """The key of a call's decoder; `None` when an option's value cannot be a key."""
    key = (uri, decoder, tuple(sorted(options.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def opened(
    registry: object, source: ByteSource, backend: VideoBackend, decoder: VideoDecoder
) -> Kept:
    """Return a decoder just opened on `source`, with the source's identity.

    The identity is read for local files only: a remote source's costs a request, and
    such decoders are never kept.
    """
    identity = tuple(source.identity) if source.local_path is not None else ()
    return Kept(registry, identity, backend, decoder)


def take(key: Hashable, source: ByteSource, registry: object) -> Kept | None:
    """Take a parked decoder of `key` opened on `source`'s content under `registry`."""
    if source.local_path is None:
        return None
    identity = tuple(source.identity)
    stale: list[Kept] = []
    found = None
    with _lock:
        for i in list(reversed(_idle)):  # the most recent first
            k, kept = _idle[i]
            if k != key:
                continue
            del _idle[i]
            if kept.registry is registry and kept.identity == identity:
                found = kept
                break
            stale.append(kept)  # the file or the plugins changed: it serves no one
    if found is not None and not _reusable(found):
        stale.append(found)
        found = None
    _close(stale)
    return found


def give(key: Hashable, source: ByteSource, kept: Kept, keepable: bool) -> None:
    """Park `kept` for the next call on `key`, or close it if it cannot be kept.

    `keepable`: whether the decoder implements `KeepOpen`.
    """
    if not keepable or source.local_path is None:
        _close([kept])
        return
    try:
        cast(KeepOpen, kept.decoder).park()
    except Exception:  # the call's frames are fine: only this decoder is not kept
        _close([kept])
        return
    evicted: list[Kept] = []
    with _lock:
        _idle[id(kept.decoder)] = (key, kept)
        while len(_idle) > MAX_KEPT:
            evicted.append(_idle.popitem(last=False)[1][1])
    _close(evicted)


def close_all() -> None:
    """Close every parked decoder (the janitor's release, `cleanup_cache`)."""
    with _lock:
        kept = [k for _, k in _idle.values()]
        _idle.clear()
    _close(kept)


def kept_decoders() -> list[VideoDecoder]:
    """The decoders parked now, least recently used first (for tests)."""
    with _lock:
        return [k.decoder for _, k in _idle.values()]


def _reusable(kept: Kept) -> bool:
    try:
        return bool(cast(KeepOpen, kept.decoder).reusable())
    except Exception:
        return False  # closed below, and the call opens a fresh one


def _close(kept: list[Kept]) -> None:
    for k in kept:
        # Closing what no call uses must not fail the call that happens to evict it.
        with contextlib.suppress(Exception):
            k.decoder.close()


def _forget_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _orphans.extend(k for _, k in _idle.values())
    _idle.clear()


os.register_at_fork(after_in_child=_forget_in_child)
