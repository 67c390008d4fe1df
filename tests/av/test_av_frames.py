"""Every correctness case: returned pixels equal the sequential-decode oracle's frame."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

import mediaref_av
from mediaref import MediaRef, TimestampOutOfRangeError, batch_decode
from mediaref_av import _stepping
from tests.media import KINDS, Clip, ClipFactory


@pytest.fixture(params=KINDS)
def clip(request: pytest.FixtureRequest, clip_factory: ClipFactory) -> Clip:
    return clip_factory(request.param)


def test_every_probe_time_in_one_call_matches_sequential_decode(clip: Clip) -> None:
    times = clip.probe_times()
    with mediaref_av.open(clip.uri) as video:
        frames = video.frames_played_at(times)
    assert len(frames) == len(times)
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


def test_single_calls_in_random_order_match_sequential_decode(clip: Clip) -> None:
    times = clip.probe_times()
    random.Random(7).shuffle(times)
    for t in times[:40]:
        actual = MediaRef(clip.uri, t).to_ndarray()
        np.testing.assert_array_equal(actual, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


@pytest.mark.parametrize("ahead", [False, True], ids=["tight-loop", "decoding-ahead"])
def test_stepping_forward_one_call_per_frame_matches_sequential_decode(
    clip: Clip, ahead: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Calls that step forward go on from the decoder the previous call left live: every
    # frame in turn (at its start, then mid-frame), every third, then a step back. With
    # `ahead`, each step also decodes the next frame in a worker thread (as it does when
    # the caller spends time between calls).
    monkeypatch.setattr(_stepping, "_IDLE", 0.0 if ahead else float("inf"))
    s = clip.starts_ns
    n = len(s)
    mid = [(a + b) // 2 for a, b in zip(s, [*s[1:], clip.end_ns], strict=True)]
    times = [*s[:60], *mid[:60], *s[::3], s[n // 2], s[n // 2 - 1], s[-1], s[0]]
    for t in times:
        actual = MediaRef(clip.uri, t).to_ndarray()
        np.testing.assert_array_equal(actual, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


def test_random_subsets_with_repeats_match_sequential_decode(clip: Clip) -> None:
    rnd = random.Random(3)
    times = clip.probe_times()
    for _ in range(4):
        sub = rnd.choices(times, k=min(16, len(times)))
        frames = batch_decode([MediaRef(clip.uri, t) for t in sub])
        for t, frame in zip(sub, frames, strict=True):
            np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=str(t))


def test_metadata_range_and_count_match_the_oracle(clip: Clip) -> None:
    with mediaref_av.open(clip.uri) as video:
        meta = video.metadata
    assert (meta.begin_ns, meta.end_ns) == (clip.begin_ns, clip.end_ns)
    assert meta.num_frames == len(clip.pts)
    assert (meta.height, meta.width) == clip.frames[0].shape[:2]


def test_out_of_range_names_the_valid_range(clip: Clip) -> None:
    b, e = clip.begin_ns, clip.end_ns
    expected = f"frames are shown in [{b}, {e}) ns = [{b / 1e9:.6f}, {e / 1e9:.6f}) s"
    with mediaref_av.open(clip.uri) as video:
        for t in (e, e + 10**9, *((b - 1,) if b > 0 else ())):
            with pytest.raises(TimestampOutOfRangeError, match=re.escape(expected)) as info:
                video.frames_played_at([t])
            assert (info.value.begin_ns, info.value.end_ns, info.value.pts_ns) == (b, e, t)
    with pytest.raises(TimestampOutOfRangeError, match=re.escape(f"pts_ns={e} is out of range")):
        MediaRef(clip.uri, e).to_ndarray()
