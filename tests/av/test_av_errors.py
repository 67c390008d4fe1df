"""Bad input gets a documented error with a clear message, and leaks nothing."""

from __future__ import annotations

import gc
import os
import random
import re
from pathlib import Path

import av
import pytest

import mediaref_av
from mediaref import (
    MediaRef,
    SourceNotFoundError,
    TimestampOutOfRangeError,
    UndecodableMediaError,
    batch_decode,
)
from mediaref.testing import decode_sequentially
from tests.media import ClipFactory, encode, make_audio, make_png


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture(scope="module")
def audio_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_audio(tmp_path_factory.mktemp("audio") / "tone.m4a")


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_png(tmp_path_factory.mktemp("png") / "still.png")


def test_audio_only_file_says_it_has_no_video_stream(audio_only: Path) -> None:
    expected = r"no video stream in this file \(streams: audio\)"
    with pytest.raises(UndecodableMediaError, match=expected):
        mediaref_av.open(audio_only)
    with pytest.raises(UndecodableMediaError, match="no video stream"):
        MediaRef(str(audio_only), 0).to_ndarray()


def test_image_file_says_it_is_an_image_not_a_video(png: Path) -> None:
    with pytest.raises(UndecodableMediaError, match=r"this is an image \(png_pipe\), not a video"):
        mediaref_av.open(png)


@pytest.mark.parametrize("seed", range(12))
def test_corrupt_file_is_undecodable(tmp_path: Path, seed: int) -> None:
    # Noise (fixed seeds: FFmpeg's probe reads some random bytes as a subtitle format).
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(random.Random(seed).randbytes(5000))
    with pytest.raises(
        UndecodableMediaError, match=r"cannot open as a video|no video stream in this file"
    ):
        mediaref_av.open(bad)


def test_truncated_file_is_undecodable_or_decodes_what_is_there(
    clip_factory: ClipFactory, tmp_path: Path
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.path.read_bytes()[:3000])
    with pytest.raises(UndecodableMediaError), mediaref_av.open(cut) as video:
        video.frames_played_at([clip.starts_ns[-1]])


def test_missing_file_is_source_not_found(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError):
        mediaref_av.open(tmp_path / "nope.mp4")


def test_unknown_option_and_format_are_rejected(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    with pytest.raises(TypeError, match=re.escape("unknown option(s) ['thread']")):
        mediaref_av.open(clip.uri, thread=2)
    with mediaref_av.open(clip.uri) as video, pytest.raises(ValueError, match="format must be"):
        video.frames_played_at([0], format="yuv")  # type: ignore[arg-type]


def test_errors_leave_no_open_file_behind(
    clip_factory: ClipFactory, audio_only: Path, png: Path, tmp_path: Path
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    bad = tmp_path / "noise.mkv"
    bad.write_bytes(b"\x1a\x45\xdf\xa3" + random.Random(1).randbytes(3000))
    mediaref_av.clear_caches()
    before = open_fds()
    for _ in range(20):
        for path in (audio_only, png, bad):
            with pytest.raises(UndecodableMediaError):
                mediaref_av.open(path)
        with pytest.raises(TimestampOutOfRangeError):
            MediaRef(clip.uri, clip.end_ns).to_ndarray()
    mediaref_av.clear_caches()
    assert open_fds() == before


def test_batch_isolates_bad_references(clip_factory: ClipFactory, audio_only: Path) -> None:
    clip = clip_factory("h264_bframes_mp4")
    refs = [
        MediaRef(clip.uri, clip.starts_ns[3]),
        MediaRef(str(audio_only), 0),
        MediaRef(clip.uri, clip.end_ns),
        MediaRef(clip.uri, clip.starts_ns[30]),
    ]
    out = batch_decode(refs, on_error="return")
    assert isinstance(out[1], UndecodableMediaError)
    assert isinstance(out[2], TimestampOutOfRangeError)
    assert (out[0] == clip.frames[3]).all() and (out[3] == clip.frames[30]).all()


def test_errors_survive_pickling(clip_factory: ClipFactory) -> None:
    import pickle

    clip = clip_factory("one_frame_mp4")
    with pytest.raises(TimestampOutOfRangeError) as info, mediaref_av.open(clip.uri) as video:
        video.frames_played_at([clip.end_ns])
    err = pickle.loads(pickle.dumps(info.value))
    assert str(err) == str(info.value) and err.end_ns == clip.end_ns


def test_avi_with_bframes_is_refused_rather_than_guessed(tmp_path: Path) -> None:
    avi = encode(
        tmp_path / "b.avi",
        "libx264",
        n=30,
        fmt="avi",
        options={"x264-params": "keyint=8:bframes=2:scenecut=0"},
    )
    with pytest.raises(UndecodableMediaError, match="not presentation timestamps"):
        mediaref_av.open(avi)


def test_avi_without_bframes_decodes_right(tmp_path: Path) -> None:
    avi = encode(
        tmp_path / "p.avi",
        "libx264",
        n=30,
        fmt="avi",
        options={"x264-params": "keyint=8:bframes=0:scenecut=0"},
    )
    clip = decode_sequentially(avi)
    times = clip.probe_times()
    with mediaref_av.open(avi) as video:
        frames = video.frames_played_at(times)
    for t, f in zip(times, frames, strict=True):
        assert (f == clip.frame_on_screen_at(t)).all()


def test_raw_elementary_stream_without_timestamps_is_undecodable(tmp_path: Path) -> None:
    raw = encode(tmp_path / "raw.h264", "libx264", n=10, fmt="h264")
    with pytest.raises(UndecodableMediaError, match="no frames with timestamps"):
        mediaref_av.open(raw)


def test_options_of_other_backends_pass_through_batch_decode(clip_factory: ClipFactory) -> None:
    # dtype is pil's: the core does not pass it to pyav, which would raise TypeError.
    clip = clip_factory("one_frame_mp4")
    out = batch_decode([MediaRef(clip.uri, 0)], dtype="native", threads=1)
    assert (out[0] == clip.frames[0]).all()


def test_pyav_refuses_an_option_it_does_not_take_when_opened_directly(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("one_frame_mp4")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['dtype'\] for the pyav backend"):
        mediaref_av.open(clip.uri, dtype="native")


def test_a_closed_decoder_says_so(clip_factory: ClipFactory) -> None:
    clip = clip_factory("one_frame_mp4")
    video = mediaref_av.open(clip.uri)
    video.close()
    video.close()
    with pytest.raises(ValueError, match="closed"):
        video.frames_played_at([0])


def test_held_decode_errors_pin_no_codec_threads(clip_factory: ClipFactory, tmp_path: Path) -> None:
    clip = clip_factory("h264_bframes_mp4")
    with av.open(clip.uri) as c:
        keys = [(p.pos, p.size) for p in c.demux(video=0) if p.size and p.is_keyframe]
    pos, size = keys[2]
    buf = bytearray(clip.path.read_bytes())
    buf[pos + 4 : pos + size] = b"\x55" * (size - 4)  # garbage after the NAL length prefix
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(buf)

    def settle() -> int:
        mediaref_av.clear_caches()
        gc.collect()
        return len(os.listdir("/proc/self/task"))

    MediaRef(str(damaged), clip.starts_ns[3]).to_ndarray()
    before = settle()
    kept = []
    for _ in range(4):
        with pytest.raises(UndecodableMediaError) as info:
            MediaRef(str(damaged), clip.starts_ns[26]).to_ndarray()
        kept.append(info.value)
    assert settle() == before
