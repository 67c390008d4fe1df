"""Threads share containers safely; a forked child never uses its parent's containers."""

from __future__ import annotations

import gc
import multiprocessing
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mediaref_av
from mediaref import MediaRef
from mediaref_av import _stepping
from tests.media import Clip, ClipFactory


def _decode_in_child(uri: str, times: list[int]) -> list[np.ndarray]:
    before = mediaref_av.counters()
    with mediaref_av.open(uri, workers=1) as video:  # one decoder: any cache hit is the parent's
        frames = video.frames_played_at(times)
    # The child opened its own container instead of reusing the parent's cached one.
    after = mediaref_av.counters()
    assert after.containers_opened > before.containers_opened
    assert after.container_hits == before.container_hits
    return frames


def _check(clip: Clip, times: list[int], frames: list[np.ndarray]) -> None:
    for t, f in zip(times, frames, strict=True):
        np.testing.assert_array_equal(f, clip.frame_on_screen_at(t), err_msg=str(t))


def test_threads_decoding_the_same_file_get_the_right_frames(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    times = clip.probe_times()

    def work(seed: int) -> None:
        rnd = random.Random(seed)
        for _ in range(15):
            sub = rnd.sample(times, 3)
            if rnd.random() < 0.5:
                _check(clip, sub, [MediaRef(clip.uri, t).to_ndarray() for t in sub])
            else:
                with mediaref_av.open(clip.uri) as video:
                    _check(clip, sub, video.frames_played_at(sub))

    with ThreadPoolExecutor(6) as pool:
        for fut in [pool.submit(work, seed) for seed in range(12)]:
            fut.result()


@pytest.mark.parametrize("ahead", [False, True], ids=["tight-loop", "decoding-ahead"])
def test_threads_stepping_through_one_file_swap_live_decoders_safely(
    clip_factory: ClipFactory, ahead: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each thread reads its own stretch in order, one frame per call; the cached
    # containers (and the live decoders in them, decoding ahead) pass between threads.
    monkeypatch.setattr(_stepping, "_IDLE", 0.0 if ahead else float("inf"))
    clip = clip_factory("mkv_sparse_keyframes")  # one keyframe, B-frames: long lead-ins
    s = clip.starts_ns

    def work(first: int) -> None:
        for t in s[first : first + 20]:
            _check(clip, [t], [MediaRef(clip.uri, t).to_ndarray()])

    with ThreadPoolExecutor(4) as pool:
        for fut in [pool.submit(work, first) for first in (0, 10, 30, 50, 5, 40)]:
            fut.result()


def test_one_decoder_object_shared_by_threads(clip_factory: ClipFactory) -> None:
    clip = clip_factory("hevc_mkv")
    times = clip.probe_times()
    with mediaref_av.open(clip.uri) as video, ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(video.frames_played_at, times[i::7]) for i in range(7)]
        for i, fut in enumerate(futs):
            _check(clip, times[i::7], fut.result())


def test_forked_child_decodes_with_its_own_container(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    times = clip.probe_times()[::9]
    with mediaref_av.open(clip.uri) as video:  # leaves a cached, threaded container behind
        parent = video.frames_played_at(times)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2, maxtasksperchild=1) as pool:  # each task in a fresh child
        children = pool.starmap(_decode_in_child, [(clip.uri, times), (clip.uri, times[::-1])])
    _check(clip, times, parent)
    _check(clip, times, children[0])
    _check(clip, times[::-1], children[1])
    with mediaref_av.open(clip.uri) as video:  # the parent's container still works
        _check(clip, times, video.frames_played_at(times))


def test_forked_child_while_the_parent_decodes_ahead(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_stepping, "_IDLE", 0.0)
    clip = clip_factory("mkv_sparse_keyframes")
    s = clip.starts_ns
    ctx = multiprocessing.get_context("fork")
    for i in range(40, 46):  # each step leaves a job decoding the next frame
        _check(clip, [s[i]], [MediaRef(clip.uri, s[i]).to_ndarray()])
        with ctx.Pool(1, maxtasksperchild=1) as pool:
            _check(clip, s[i : i + 3], pool.apply(_decode_in_child, (clip.uri, s[i : i + 3])))


def test_forked_child_holding_a_parents_decoder_reopens(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vp9_webm")
    times = clip.probe_times()[::5]
    video = mediaref_av.open(clip.uri)
    video.frames_played_at(times[:2])  # the decoder now holds a container
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child() -> None:
        try:
            frames = video.frames_played_at(times)
            pairs = zip(times, frames, strict=True)
            ok = all(np.array_equal(f, clip.frame_on_screen_at(t)) for t, f in pairs)
            q.put(ok)
        except BaseException as e:
            q.put(repr(e))

    proc = ctx.Process(target=child)
    proc.start()
    try:
        assert q.get(timeout=60) is True
        proc.join(60)
        assert proc.exitcode == 0, "the child hung or crashed on exit"
    finally:
        if proc.is_alive():
            proc.kill()
    _check(clip, times, video.frames_played_at(times))
    video.close()


def test_forked_child_dropping_a_parents_decoder_exits_cleanly(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    video = mediaref_av.open(clip.uri)
    video.frames_played_at(clip.starts_ns[::10])  # threaded codec and scaler in use
    ctx = multiprocessing.get_context("fork")

    def child() -> None:
        nonlocal video
        del video
        gc.collect()  # must not free the parent's codec (its threads do not exist here)
        with mediaref_av.open(clip.uri) as mine:
            mine.frames_played_at(clip.starts_ns[:3])

    proc = ctx.Process(target=child)
    proc.start()
    try:
        proc.join(60)
        assert proc.exitcode == 0, "the child hung or crashed"
    finally:
        if proc.is_alive():
            proc.kill()
    video.close()
