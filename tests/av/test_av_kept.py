"""Calls on a local file reuse the decoder the last call left open (`mediaref._kept`):
the frames stay exact, across a rewrite of the file and per set of options."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import mediaref_av
from mediaref import MediaRef, cleanup_cache
from mediaref._kept import kept_decoders
from mediaref_av import _pool
from tests.media import ClipFactory


def test_calls_on_a_file_rewritten_between_them_decode_its_new_content(
    clip_factory: ClipFactory, tmp_path: Path
) -> None:
    one, other = clip_factory("h264_bframes_mp4"), clip_factory("hevc_ffmpeg_mp4")
    path = tmp_path / "v.mp4"
    shutil.copyfile(one.path, path)
    cleanup_cache()
    times = [t for t in one.probe_times() if t in set(other.probe_times())][:6] or [0]
    for t in times:
        np.testing.assert_array_equal(
            MediaRef(str(path), t).to_ndarray(), one.frame_on_screen_at(t)
        )
    (kept,) = kept_decoders()  # every call after the first took it
    shutil.copyfile(other.path, path)  # rewritten in place: another size and mtime
    for t in times:
        got = MediaRef(str(path), t).to_ndarray()
        np.testing.assert_array_equal(got, other.frame_on_screen_at(t))
    assert kept not in kept_decoders()
    cleanup_cache()


def test_each_set_of_options_keeps_its_own_decoder(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    cleanup_cache()
    t = clip.probe_times()[3]
    for _ in range(2):
        np.testing.assert_array_equal(
            MediaRef(str(clip.path), t).to_ndarray(), clip.frame_on_screen_at(t)
        )
        small = MediaRef(str(clip.path), t).to_ndarray(threads=1)
        np.testing.assert_array_equal(small, clip.frame_on_screen_at(t))
    assert len(kept_decoders()) == 2
    cleanup_cache()
    assert kept_decoders() == []


def test_a_parked_decoder_holds_no_container_and_clear_caches_retires_it(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    cleanup_cache()
    t = clip.probe_times()[2]
    MediaRef(str(clip.path), t).to_ndarray()
    (parked,) = kept_decoders()
    mediaref_av.reset_counters()
    MediaRef(str(clip.path), t).to_ndarray()
    warm = mediaref_av.counters()  # the parked decoder: no index, its container from the pool
    assert (warm.container_hits, warm.containers_opened, warm.index_builds) == (1, 0, 0)
    assert kept_decoders() == [parked]
    mediaref_av.clear_caches()  # closes the pool's containers: the parked one's too
    assert parked._handle is None and not _pool._idle  # parked without a container
    mediaref_av.reset_counters()
    np.testing.assert_array_equal(
        MediaRef(str(clip.path), t).to_ndarray(), clip.frame_on_screen_at(t)
    )
    cold = mediaref_av.counters()  # a new decoder: the old one's index was forgotten
    assert (cold.containers_opened, cold.index_builds) == (1, 1)
    assert parked not in kept_decoders()
    cleanup_cache()
