from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mediaref
from mediaref import MediaRef, MediaRefError
from mediaref.testing import Clip
from tests.reliability import media
from tests.resources import Held, held, left_behind

mediaref_av = pytest.importorskip("mediaref_av")


def settle() -> Held:
    """Close the caches; return the descriptors and threads then held (compare with
    `left_behind`: counts may go down meanwhile for reasons of earlier tests)."""
    mediaref_av.clear_caches()
    gc.collect()
    return held()


@pytest.fixture(scope="module")
def bad(clips: dict[str, Clip], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One bad reference of each kind, with the error type it must give."""
    d = tmp_path_factory.mktemp("bad")
    fast = clips["h264_faststart_mp4"].path.read_bytes()
    cut = d / "cut.mp4"
    cut.write_bytes(fast[: len(fast) * 6 // 10])  # the index survives, the last frames do not
    (d / "empty.png").write_bytes(b"")
    audio = media.encode_audio(d / "audio.m4a", "aac")
    h264 = clips["h264_mp4"]
    damaged = media.damage_gop(h264.path, d / "damaged.mp4", 2)
    return {
        "truncated": (MediaRef(str(cut), h264.starts_ns[-1]), mediaref.TimestampOutOfRangeError),
        "corrupt-gop": (
            MediaRef(str(damaged), h264.starts_ns[22]),
            mediaref.UndecodableMediaError,
        ),
        "missing": (MediaRef(str(d / "nope.mp4"), 0), mediaref.SourceNotFoundError),
        "out-of-range": (MediaRef(h264.uri, h264.end_ns), mediaref.TimestampOutOfRangeError),
        "empty-image": (MediaRef(str(d / "empty.png")), mediaref.UndecodableMediaError),
        "audio-only": (MediaRef(str(audio), 0), mediaref.UndecodableMediaError),
        "invalid-uri": (MediaRef("http://[::1/x.mp4", 0), mediaref.InvalidReferenceError),
    }


def good_refs(clips: dict[str, Clip], still_png: Path) -> tuple[list[MediaRef], list[Any]]:
    """References to three videos and an image, and what an independent decode shows there."""
    refs, want = [], []
    for name in ("h264_mp4", "vp9_webm", "h264_faststart_mp4"):
        clip = clips[name]
        for t in clip.times()[3::11]:
            refs.append(MediaRef(clip.uri, t))
            want.append(clip.frame_on_screen_at(t))
    refs.append(MediaRef(str(still_png)))
    want.append(media.image_pixels(still_png))
    return refs, want


KINDS = [
    "truncated",
    "corrupt-gop",
    "missing",
    "out-of-range",
    "empty-image",
    "audio-only",
    "invalid-uri",
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", [0, 7, -1], ids=["first", "middle", "last"])
def test_one_bad_reference_leaves_every_other_frame_exact(
    clips: dict[str, Clip], still_png: Path, bad: dict[str, Any], kind: str, where: int
) -> None:
    refs, want = good_refs(clips, still_png)
    bad_ref, error = bad[kind]
    at = where % (len(refs) + 1)
    refs.insert(at, bad_ref)
    out = mediaref.batch_decode(refs, on_error="return")
    got_error = out.pop(at)
    assert type(got_error) is error, repr(got_error)
    assert got_error.uri == bad_ref.uri
    assert len(out) == len(want)
    for i, (frame, expected) in enumerate(zip(out, want, strict=True)):
        assert isinstance(frame, np.ndarray), f"ref {i}: {frame!r}"
        np.testing.assert_array_equal(frame, expected, err_msg=f"ref {i}")


def test_a_failing_frame_keeps_the_other_frames_of_the_same_video(
    clips: dict[str, Clip], bad: dict[str, Any]
) -> None:
    uri = bad["corrupt-gop"][0].uri  # the GOP of frames 20-29 cannot be decoded
    clip = clips["h264_mp4"]
    times = [clip.starts_ns[22], clip.starts_ns[5], clip.starts_ns[15] + 7, clip.starts_ns[0]]
    out = mediaref.batch_decode([MediaRef(uri, t) for t in times], on_error="return")
    assert isinstance(out[0], mediaref.UndecodableMediaError)
    assert out[0].uri == uri and out[0].pts_ns == times[0]
    for t, frame in zip(times[1:], out[1:], strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("on_error", ["raise", "return"])
def test_nothing_is_left_open_after_a_failing_batch(
    clips: dict[str, Clip], still_png: Path, bad: dict[str, Any], kind: str, on_error: str
) -> None:
    refs, _ = good_refs(clips, still_png)
    mediaref.batch_decode(refs)  # warm up: plugins, codecs, indexes
    start = settle()
    bad_ref, error = bad[kind]
    for _ in range(3):
        batch = [*refs[:5], bad_ref, *refs[5:]]
        if on_error == "raise":
            with pytest.raises(error):
                mediaref.batch_decode(batch, on_error="raise")
        else:
            out = mediaref.batch_decode(batch, on_error="return")
            assert isinstance(out[5], error)
        with pytest.raises(MediaRefError):
            bad_ref.to_ndarray()
    # The video plugin keeps idle containers open by design, one fd each, up to a bound.
    from mediaref_av import _pool

    assert len(left_behind(start).get("fds", [])) <= _pool.max_open
    assert left_behind(start, settle()) == {}


def test_a_raised_error_names_the_timestamp_that_failed(
    clips: dict[str, Clip], bad: dict[str, Any]
) -> None:
    uri = bad["corrupt-gop"][0].uri
    clip = clips["h264_mp4"]
    good, failing = clip.starts_ns[5], clip.starts_ns[22]
    with pytest.raises(mediaref.UndecodableMediaError) as info:
        mediaref.batch_decode([MediaRef(uri, good), MediaRef(uri, failing)], on_error="raise")
    assert info.value.pts_ns == failing and f"pts_ns={failing}" in str(info.value)


def test_returned_errors_do_not_keep_decoder_threads_alive(
    clips: dict[str, Clip], bad: dict[str, Any]
) -> None:
    ref = bad["corrupt-gop"][0]
    ok = MediaRef(ref.uri, clips["h264_mp4"].starts_ns[3])
    mediaref.batch_decode([ok])
    start = settle()
    kept = [mediaref.batch_decode([ref, ok], on_error="return")[0] for _ in range(4)]
    assert all(isinstance(e, mediaref.UndecodableMediaError) for e in kept)
    assert left_behind(start, settle()) == {}  # while the caller still holds every error


def test_a_held_error_of_to_ndarray_keeps_no_decoder_threads_alive(
    clips: dict[str, Clip], bad: dict[str, Any]
) -> None:
    ref = bad["corrupt-gop"][0]
    MediaRef(ref.uri, clips["h264_mp4"].starts_ns[3]).to_ndarray()
    start = settle()
    kept = []
    for _ in range(4):
        try:
            ref.to_ndarray()
        except mediaref.UndecodableMediaError as e:
            kept.append(e)
    assert len(kept) == 4
    assert left_behind(start, settle()) == {}
