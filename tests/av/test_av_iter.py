"""`mediaref.iter_decode`: order, exact frames, errors in place, bounded look-ahead."""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import InvalidOptionError, MediaRef, SourceNotFoundError
from tests.media import ClipFactory


def test_results_come_in_request_order_with_the_exact_frames(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    times = clip.probe_times()
    rng = random.Random(7)
    requests: list[MediaRef | list[MediaRef]] = []
    for _ in range(24):
        if rng.random() < 0.3:
            requests.append([MediaRef(clip.uri, rng.choice(times)) for _ in range(3)])
        else:
            requests.append(MediaRef(clip.uri, rng.choice(times)))
    got = list(mediaref.iter_decode(requests, ahead=3))
    assert len(got) == len(requests)
    for request, result in zip(requests, got, strict=True):
        if isinstance(request, MediaRef):
            np.testing.assert_array_equal(result, clip.frame_on_screen_at(request.pts_ns or 0))
        else:
            assert len(result) == len(request)
            for ref, frame in zip(request, result, strict=True):
                np.testing.assert_array_equal(frame, clip.frame_on_screen_at(ref.pts_ns or 0))


def test_errors_come_in_place_or_are_raised_at_their_position(
    clip_factory: ClipFactory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clip = clip_factory("h264_bframes_mp4")
    t = clip.probe_times()[5]
    missing = MediaRef(str(tmp_path / "missing.mp4"), 0)
    requests = [MediaRef(clip.uri, t), missing, MediaRef(clip.uri, t)]
    got = list(mediaref.iter_decode(requests, ahead=2, on_error="return"))
    assert isinstance(got[1], SourceNotFoundError) and got[1].uri == missing.uri
    for i in (0, 2):
        np.testing.assert_array_equal(got[i], clip.frame_on_screen_at(t))
    results = mediaref.iter_decode(requests, ahead=2)
    np.testing.assert_array_equal(next(results), clip.frame_on_screen_at(t))
    with pytest.raises(SourceNotFoundError, match="no such file"):
        next(results)
    assert next(results, None) is None  # a generator that raised is finished


@pytest.mark.parametrize("ahead", [0, 1, 3])
def test_requests_are_read_lazily_at_most_ahead_beyond_the_one_yielded(
    clip_factory: ClipFactory, ahead: int
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    times = clip.probe_times()
    taken: list[int] = []

    def requests() -> Iterator[MediaRef]:
        for i in range(1000):  # far more than is read
            taken.append(i)
            yield MediaRef(clip.uri, times[i % len(times)])

    results = mediaref.iter_decode(requests(), ahead=ahead)
    for k in range(5):
        frame = next(results)
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(times[k % len(times)]))
        # While result k is with the caller, requests k+1 .. k+ahead are all that was read.
        assert len(taken) == k + 1 + ahead
    mediaref_av.reset_counters()
    results.close()  # cancels what did not start, waits for what did
    assert len(taken) == 5 + ahead
    assert mediaref_av.counters().frames_converted <= ahead


def test_an_undeclared_option_raises_at_the_call() -> None:
    with pytest.raises(InvalidOptionError, match="threds"):
        mediaref.iter_decode([], threds=1)
    with pytest.raises(ValueError, match="ahead must be an int >= 0, got -1"):
        mediaref.iter_decode([], ahead=-1)
