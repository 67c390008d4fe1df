"""``batch_decode(out=...)`` with mediaref-av: frames converted straight into the caller's array."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import (
    FramesInto,
    InvalidOutputError,
    MediaRef,
    SourceNotFoundError,
    TimestampOutOfRangeError,
)
from tests.media import ClipFactory

IN_PLACE_KINDS = [
    "h264_bframes_mp4",
    "h264_open_gop_mkv",
    "hevc_mkv",
    "hevc_10bit_mkv",
    "av1_mkv",
    "vp9_webm",
    "h264_full_range_mp4",
    "mjpeg_full_range_mkv",
]


@pytest.mark.parametrize("kind", [*IN_PLACE_KINDS, "h264_rotated_mp4"])
def test_out_holds_the_frames_of_an_independent_decode(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    times = clip.probe_times()[::3]
    refs = [MediaRef(clip.uri, t) for t in times]
    out = np.full((len(refs), *clip.frames[0].shape), 201, np.uint8)
    mediaref_av.reset_counters()
    got = mediaref.batch_decode(refs, out=out, with_pts=True)
    for i, (t, g) in enumerate(zip(times, got, strict=True)):
        np.testing.assert_array_equal(out[i], clip.frame_on_screen_at(t))
        assert np.shares_memory(g.data, out[i]) and g.data.shape == out[i].shape
        assert g.pts_ns == clip.starts_ns[clip.index_at(t)]
    c = mediaref_av.counters()
    # A rotated stream is turned after the conversion: copied into its slot, not converted there.
    assert c.frames_converted_in_place == (0 if kind == "h264_rotated_mp4" else c.frames_converted)
    assert c.frames_converted == len({clip.index_at(t) for t in times})


@pytest.mark.parametrize("fmt", ["rgb", "bgr", "rgba", "bgra", "gray"])
@pytest.mark.parametrize("size", [None, (36, 64), (50, 90)], ids=["full", "half", "odd"])
def test_every_format_and_size_is_what_the_copying_path_returns(
    clip_factory: ClipFactory, fmt: str, size: tuple[int, int] | None
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    refs = [MediaRef(clip.uri, t) for t in clip.starts_ns[:12:2]]
    want = mediaref.batch_decode(refs, format=fmt, size=size)  # type: ignore[arg-type]
    out = np.zeros((len(refs), *want[0].shape), np.uint8)
    mediaref_av.reset_counters()
    mediaref.batch_decode(refs, out=out, format=fmt, size=size)  # type: ignore[arg-type]
    np.testing.assert_array_equal(out, np.stack(want))
    assert mediaref_av.counters().frames_converted_in_place == len(refs)


def test_chw_layout_goes_into_the_slots_too(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vfr_mkv")
    refs = [MediaRef(clip.uri, t) for t in clip.starts_ns[:4]]
    out = np.zeros((4, 3, *clip.frames[0].shape[:2]), np.uint8)
    mediaref.batch_decode(refs, out=out, layout="chw")
    for i in range(4):
        np.testing.assert_array_equal(out[i], clip.frames[i].transpose(2, 0, 1))


def test_a_frame_asked_twice_fills_both_slots(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    t = clip.starts_ns[5]
    out = np.zeros((3, *clip.frames[0].shape), np.uint8)
    got = mediaref.batch_decode([MediaRef(clip.uri, t)] * 3, out=out)
    for i in range(3):
        np.testing.assert_array_equal(out[i], clip.frames[5])
        assert np.shares_memory(got[i], out[i])


def test_a_list_of_slots_gets_each_array_back_and_none_means_a_new_one(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    refs = [MediaRef(clip.uri, t) for t in clip.starts_ns[:3]]
    slots = [np.zeros(clip.frames[0].shape, np.uint8), None, np.zeros_like(clip.frames[0])]
    got = mediaref.batch_decode(refs, out=slots)
    assert got[0] is slots[0] and got[2] is slots[2]
    for i in range(3):
        np.testing.assert_array_equal(got[i], clip.frames[i])


def test_a_bad_reference_fails_alone_and_its_slot_is_zeroed(
    clip_factory: ClipFactory, tmp_path: object
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    refs = [
        MediaRef(clip.uri, clip.starts_ns[1]),
        MediaRef(clip.uri, clip.end_ns + 1),
        MediaRef(f"{tmp_path}/missing.mp4", 0),
        MediaRef(clip.uri, clip.starts_ns[7]),
    ]
    out = np.full((4, *clip.frames[0].shape), 255, np.uint8)  # a stale earlier batch
    got = mediaref.batch_decode(refs, out=out, on_error="return")
    assert isinstance(got[1], TimestampOutOfRangeError)
    assert isinstance(got[2], SourceNotFoundError)
    assert not out[1].any() and not out[2].any()
    np.testing.assert_array_equal(out[0], clip.frames[1])
    np.testing.assert_array_equal(out[3], clip.frames[7])


def test_a_slot_of_the_wrong_shape_fails_its_reference_alone(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    refs = [MediaRef(clip.uri, t) for t in clip.starts_ns[:3]]
    h, w, _ = clip.frames[0].shape
    slots = [np.zeros((h, w, 3), np.uint8), np.zeros((10, 10, 3), np.uint8), None]
    got = mediaref.batch_decode(refs, out=slots, on_error="return")
    assert isinstance(got[1], InvalidOutputError)
    assert f"out slot has shape (10, 10, 3), the frame is ({h}, {w}, 3)" in str(got[1])
    assert got[1].pts_ns == clip.starts_ns[1]
    np.testing.assert_array_equal(slots[0], clip.frames[0])
    np.testing.assert_array_equal(got[2], clip.frames[2])
    with pytest.raises(InvalidOutputError, match=re.escape("out slot has shape (10, 10, 3)")):
        mediaref.batch_decode(refs, out=slots)


def read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: np.zeros((2, *s), np.uint8), "out must have shape (3, height, width"),
        (lambda s: np.zeros((3, *s), np.int16), "out must hold uint8, got buffer format 'h'"),
        (lambda s: np.zeros((3, s[0], 2 * s[1], 3), np.uint8)[:, :, ::2], "must be C-contiguous"),
        (lambda s: read_only(np.zeros((3, *s), np.uint8)), "out is read-only"),
        (lambda s: "frames", "out must be a writable C-contiguous uint8 array"),
        (lambda s: [np.zeros(s, np.uint8)] * 2, "out has 2 slots for 3 references"),
        (lambda s: [np.zeros(s, np.uint8), 5, None], "out[1] must be a writable C-contiguous"),
    ],
    ids=["length", "dtype", "strided", "read-only", "not-a-buffer", "short-list", "bad-item"],
)
def test_an_unusable_out_is_refused_before_any_decoding(
    clip_factory: ClipFactory, make: object, message: str
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    shape = clip.frames[0].shape
    out = make(shape)  # type: ignore[operator]
    refs = [MediaRef(clip.uri, t) for t in clip.starts_ns[:3]]
    mediaref_av.reset_counters()
    with pytest.raises(InvalidOutputError, match=re.escape(message)):
        mediaref.batch_decode(refs, out=out)
    assert mediaref_av.counters().frames_decoded == 0


def test_the_decoder_implements_frames_into(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    with mediaref_av.open(clip.uri) as video:
        assert isinstance(video, FramesInto)
        out = np.zeros((2, *clip.frames[0].shape), np.uint8)
        video.frames_played_at_into(clip.starts_ns[3:5], [out[0], out[1]])
        with pytest.raises(InvalidOutputError, match=re.escape("out has 1 slots for 2 frames")):
            video.frames_played_at_into(clip.starts_ns[3:5], [out[0]])
    np.testing.assert_array_equal(out, np.stack(clip.frames[3:5]))


def test_without_swscale_into_the_frames_are_copied_into_the_slots(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    code = (
        "import sys, numpy as np, mediaref, mediaref_av\n"
        "from mediaref import MediaRef\n"
        "uri, ts = sys.argv[1], [int(t) for t in sys.argv[2:]]\n"
        "first = mediaref.batch_decode([MediaRef(uri, ts[0])])[0]\n"
        "out = np.zeros((len(ts), *first.shape), np.uint8)\n"
        "mediaref_av.reset_counters()\n"
        "mediaref.batch_decode([MediaRef(uri, t) for t in ts], out=out)\n"
        "sys.stdout.buffer.write(out.tobytes())\n"
        "print(mediaref_av.counters().frames_converted_in_place, file=sys.stderr)\n"
    )
    times = [str(t) for t in clip.starts_ns[:4]]
    env = {**os.environ, "MEDIAREF_AV_SWSCALE_INTO": "0"}
    r = subprocess.run(
        [sys.executable, "-c", code, clip.uri, *times], env=env, capture_output=True, check=True
    )
    got = np.frombuffer(r.stdout, np.uint8).reshape(4, *clip.frames[0].shape)
    np.testing.assert_array_equal(got, np.stack(clip.frames[:4]))
    assert r.stderr.decode().strip() == "0"


def test_iter_decode_writes_each_request_where_its_out_says(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    shape = clip.frames[0].shape
    requests: list[object] = [
        MediaRef(clip.uri, clip.starts_ns[4]),
        [MediaRef(clip.uri, t) for t in clip.starts_ns[6:9]],
    ]
    # `out` runs in the thread that decodes the request, so the calls may come in any order:
    # each request's memory is found by the request itself, not by the order of the calls.
    given: dict[int, np.ndarray] = {}

    def place(request: object) -> np.ndarray:
        n = 1 if isinstance(request, MediaRef) else len(request)  # type: ignore[arg-type]
        at = next(i for i, r in enumerate(requests) if r is request)
        given[at] = np.zeros((n, *shape), np.uint8) if n > 1 else np.zeros(shape, np.uint8)
        return given[at]

    results = list(mediaref.iter_decode(requests, ahead=1, out=place))  # type: ignore[arg-type]
    assert (
        results[0] is given[0] and [np.shares_memory(r, given[1]) for r in results[1]] == [True] * 3
    )
    np.testing.assert_array_equal(given[0], clip.frames[4])
    np.testing.assert_array_equal(given[1], np.stack(clip.frames[6:9]))


def test_without_out_frames_are_converted_straight_into_pooled_memory(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediaref_av import _convert, _swscale

    if not _swscale.available():
        pytest.skip("swscale-into is not available with this PyAV")
    clip = clip_factory("h264_bframes_mp4")
    mediaref_av.clear_caches()
    monkeypatch.setattr(_swscale, "_verdicts", {})
    calls = []
    reformat = _convert.Converter._reformat

    def counting(self: _convert.Converter, frame: object, out: object) -> np.ndarray:
        calls.append(1)
        return reformat(self, frame, out)  # type: ignore[arg-type]

    monkeypatch.setattr(_convert.Converter, "_reformat", counting)
    frames = mediaref.batch_decode([MediaRef(clip.uri, t) for t in clip.starts_ns[:6]])
    for f, want in zip(frames, clip.frames[:6], strict=True):
        np.testing.assert_array_equal(f, want)
    # Only the first conversion of the setup goes through `reformat` too (the check that
    # swscale-into gives its pixels); every frame is written by swscale into its array.
    assert len(calls) == 1
