"""Frames with their times: batch_decode(with_pts=True), iter_decode, decode_clip."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import mediaref
from mediaref import DecodedFrame, MediaRef
from tests.media import ClipFactory


@pytest.mark.parametrize("kind", ["h264_bframes_mp4", "vfr_mkv", "offset_10s_mp4"])
def test_each_frame_comes_with_the_start_and_index_of_the_frame_shown(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    times = clip.probe_times()
    got = mediaref.batch_decode([MediaRef(clip.uri, t) for t in times], with_pts=True)
    for t, result in zip(times, got, strict=True):
        i = clip.index_at(t)
        assert isinstance(result, DecodedFrame)
        assert (result.pts_ns, result.frame_index) == (clip.starts_ns[i], i)
        assert result.pts_ns <= t
        np.testing.assert_array_equal(result.data, clip.frame_on_screen_at(t))


def test_images_and_errors_keep_their_places(clip_factory: ClipFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.media import make_png

    clip = clip_factory("h264_bframes_mp4")
    png = make_png(tmp_path / "a.png")
    refs = [MediaRef(str(png)), MediaRef(clip.uri, clip.end_ns), MediaRef(clip.uri, 0)]
    image, late, first = mediaref.batch_decode(refs, with_pts=True, on_error="return")
    assert (image.pts_ns, image.frame_index) == (None, None)
    np.testing.assert_array_equal(image.data, MediaRef(str(png)).to_ndarray())
    assert isinstance(late, mediaref.TimestampOutOfRangeError)
    assert (first.pts_ns, first.frame_index) == (clip.starts_ns[0], 0)
    (only,) = list(mediaref.iter_decode([refs[2]], with_pts=True))
    assert (only.pts_ns, only.frame_index) == (clip.starts_ns[0], 0)


def test_a_clip_of_every_frame_in_a_window(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vfr_mp4")
    s = clip.starts_ns
    start, stop = s[3] + 1, s[9]  # starts inside frame 3, stops where frame 9 starts
    got = mediaref.decode_clip(clip.uri, start, stop)
    assert [f.frame_index for f in got] == list(range(3, 9))
    assert [f.pts_ns for f in got] == s[3:9]
    for f in got:
        np.testing.assert_array_equal(f.data, clip.frames[f.frame_index])
    assert mediaref.decode_clip(clip.uri, clip.end_ns, clip.end_ns + 10**9) == []
    whole = mediaref.decode_clip(clip.uri, -(10**12), 10**12)
    assert [f.frame_index for f in whole] == list(range(len(s)))


def test_a_clip_sampled_at_a_rate_and_evenly(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    begin, end = clip.begin_ns, clip.end_ns
    at_4fps = mediaref.decode_clip(clip.uri, begin, end, fps=4)
    want = mediaref.timeline.times_at_fps(begin, end, 4)
    assert len(at_4fps) == len(want) > 1
    for t, f in zip(want, at_4fps, strict=True):
        assert f.frame_index == clip.index_at(t)
        np.testing.assert_array_equal(f.data, clip.frame_on_screen_at(t))
    even = mediaref.decode_clip(clip.uri, begin, end, num=5)
    want = mediaref.timeline.evenly_spaced_ns(begin, end, 5)
    assert [f.frame_index for f in even] == [clip.index_at(t) for t in want]
    # Sampling at the stream's own rate from its start lands on every frame once.
    own = mediaref.decode_clip(clip.uri, begin, end, fps=Fraction(25))
    assert [f.frame_index for f in own] == list(range(len(clip.starts_ns)))
    with pytest.raises(ValueError, match="give fps or num, not both"):
        mediaref.decode_clip(clip.uri, begin, end, fps=4, num=3)


def test_a_clip_is_one_request_to_the_planner(clip_factory: ClipFactory) -> None:
    import mediaref_av

    clip = clip_factory("h264_bframes_mp4")
    mediaref.decode_clip(clip.uri, clip.begin_ns, clip.end_ns)  # warm: index, container
    mediaref_av.reset_counters()
    got = mediaref.decode_clip(clip.uri, clip.begin_ns, clip.end_ns)
    work = mediaref_av.counters()
    # Every frame decoded once, none twice (the planner may share the GOPs between two
    # decoders, each seeking once).
    assert work.frames_decoded + work.frames_skipped == len(clip.starts_ns)
    assert work.frames_converted == len(got) == len(clip.starts_ns)
