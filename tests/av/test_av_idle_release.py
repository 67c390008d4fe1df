"""After `limits.idle_release_s` with no decode, mediaref-av gives back what it holds idle."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import MediaRef, batch_decode
from mediaref._janitor import Janitor
from mediaref_av import _buffers, _index_cache, _pool, _stepping
from tests.forked import in_forked_child
from tests.media import Clip, ClipFactory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def janitor(monkeypatch: pytest.MonkeyPatch) -> Iterator[Janitor]:
    """The process's janitor, without its thread: the test runs it at the time it picks."""
    from mediaref import _janitor

    monkeypatch.setattr(mediaref.limits, "idle_release_s", 30.0)
    monkeypatch.setattr(_stepping, "_IDLE", float("inf"))  # no decoding ahead holds a block
    j = Janitor(Clock(), thread=False)
    monkeypatch.setattr(_janitor, "janitor", j)
    mediaref.cleanup_cache()
    yield j
    mediaref.cleanup_cache()


@pytest.fixture
def clip(clip_factory: ClipFactory) -> Clip:
    return clip_factory("h264_bframes_mp4")


def _fds_on(path: str) -> int:
    n = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor that listed them
            n += os.readlink(f"/proc/self/fd/{name}") == os.path.realpath(path)
    return n


def test_after_the_idle_period_the_pool_is_empty_and_containers_are_closed(
    janitor: Janitor, clip: Clip, clip_factory: ClipFactory
) -> None:
    other = clip_factory("mkv_sparse_keyframes")
    refs = [MediaRef(clip.uri, t) for t in clip.starts_ns]
    refs += [MediaRef(other.uri, t) for t in other.starts_ns[:3]]
    got = batch_decode(refs)
    del got  # the frames go back to the pool
    assert _buffers.held_bytes() > 0
    idle = len(_pool._idle)  # a request's independent runs may use several containers
    assert idle >= 2
    assert _fds_on(clip.path) >= 1 and _fds_on(other.path) >= 1
    assert not janitor.run_once(janitor.clock() + 29.9)
    assert len(_pool._idle) == idle
    assert janitor.run_once(janitor.clock() + 30)
    assert _buffers.held_bytes() == 0
    assert not _pool._idle
    assert _fds_on(clip.path) == 0 and _fds_on(other.path) == 0


def test_a_decode_after_the_release_is_exact_and_keeps_its_index(
    janitor: Janitor, clip: Clip
) -> None:
    t = clip.starts_ns
    batch_decode([MediaRef(clip.uri, x) for x in t[:4]])
    assert janitor.run_once(janitor.clock() + 30)
    mediaref_av.reset_counters()
    wanted = [t[-1], t[len(t) // 2], t[0]]
    for x, frame in zip(wanted, batch_decode([MediaRef(clip.uri, x) for x in wanted]), strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(x))
    c = mediaref_av.counters()
    assert (c.containers_opened, c.index_builds, c.index_hits) == (1, 0, 1)


def test_the_release_trims_the_index_cache_to_its_idle_budget(
    janitor: Janitor, clip: Clip, clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = clip_factory("mkv_sparse_keyframes")
    MediaRef(clip.uri, clip.starts_ns[0]).to_ndarray()
    MediaRef(other.uri, other.starts_ns[0]).to_ndarray()
    cache = _index_cache.index_cache
    newest = next(reversed(cache._lru.values()))
    monkeypatch.setattr(_index_cache, "IDLE_BYTES", 0)
    assert janitor.run_once(janitor.clock() + 30)
    assert list(cache._lru.values()) == [newest]  # the most recently used stays, always
    assert cache.nbytes == newest.nbytes()
    mediaref_av.reset_counters()
    np.testing.assert_array_equal(
        MediaRef(clip.uri, clip.starts_ns[1]).to_ndarray(),
        clip.frame_on_screen_at(clip.starts_ns[1]),
    )
    assert mediaref_av.counters().index_builds == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_has_no_janitor_thread_until_it_decodes_and_then_releases(
    clip: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediaref import _janitor

    monkeypatch.setattr(mediaref.limits, "idle_release_s", 30.0)
    monkeypatch.setattr(_stepping, "_IDLE", float("inf"))
    t = clip.starts_ns
    MediaRef(clip.uri, t[0]).to_ndarray()  # the process's janitor thread starts
    assert _janitor.janitor.running

    def child() -> list[object]:
        j = _janitor.janitor  # reset by os.register_at_fork
        before = j.running
        inherited = _fds_on(clip.path)  # the parent's container, left alone
        first = MediaRef(clip.uri, t[1]).to_ndarray()
        started = j.running
        j.stop()
        j.clock = lambda: 1e12  # long after the decode
        released = j.run_once(j.clock())
        j.clock = lambda: 0.0  # back: the next decode ends at 0, nothing is due
        idle_after = [_buffers.held_bytes(), len(_pool._idle), _fds_on(clip.path) - inherited]
        second = MediaRef(clip.uri, t[2]).to_ndarray()
        exact = bool(
            np.array_equal(first, clip.frame_on_screen_at(t[1]))
            and np.array_equal(second, clip.frame_on_screen_at(t[2]))
        )
        return [before, started, released, idle_after, exact]

    got = in_forked_child(child)
    assert got == [False, True, True, [0, 0, 0], True]
    np.testing.assert_array_equal(  # the parent still decodes
        MediaRef(clip.uri, t[3]).to_ndarray(), clip.frame_on_screen_at(t[3])
    )
    mediaref.cleanup_cache()
    assert not _janitor.janitor.running
