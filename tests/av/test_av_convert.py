"""Pixel conversion: ranges, bit depth, rotation and output formats, against known pictures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from tests.media import Clip, ClipFactory, encode, need_ffmpeg, picture


def mean_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize(
    "kind",
    ["h264_bframes_mp4", "mjpeg_full_range_mkv", "h264_full_range_mp4", "hevc_10bit_mkv"],
)
def test_decoded_colours_are_close_to_the_encoded_picture(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    with mediaref_av.open(clip.uri) as video:
        frames = video.frames_played_at(clip.starts_ns[:5])
    for i, frame in enumerate(frames):
        # Reading full range as limited (or the reverse) is off by ~10-20 levels on average.
        assert mean_error(frame, picture(i)) < 5, kind
        block = frame[2:14, 2:28].astype(int).mean()
        assert abs(block - ((i * 37) % 220 + 20)) < 6


def test_pixel_format_and_range_are_reported(clip_factory: ClipFactory) -> None:
    with mediaref_av.open(clip_factory("hevc_10bit_mkv").uri) as video:
        assert video.metadata.pixel_format == "yuv420p10le"
    with mediaref_av.open(clip_factory("mjpeg_full_range_mkv").uri) as video:
        assert video.metadata.pixel_format == "yuvj420p"


def test_rotation_matches_what_ffmpeg_shows(clip_factory: ClipFactory) -> None:
    clip: Clip = clip_factory("h264_rotated_mp4")
    ffmpeg = need_ffmpeg()
    with mediaref_av.open(clip.uri) as video:
        meta = video.metadata
        frame = video.frames_played_at([clip.starts_ns[4]])[0]
    assert meta.rotation == 270  # clockwise; the display matrix says 90 counter-clockwise
    assert (meta.width, meta.height) == (72, 128) and frame.shape == (128, 72, 3)
    shown = ffmpeg_frame(ffmpeg, clip.uri, 4, frame.shape)
    assert mean_error(frame, shown) < 3
    assert mean_error(frame, np.rot90(shown, 2)) > 10


def test_output_formats_agree_with_rgb(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    t = [clip.starts_ns[7]]
    with mediaref_av.open(clip.uri) as video:
        rgb = video.frames_played_at(t)[0]
        bgr = video.frames_played_at(t, format="bgr")[0]
        rgba = video.frames_played_at(t, format="rgba")[0]
        bgra = video.frames_played_at(t, format="bgra")[0]
        gray = video.frames_played_at(t, format="gray")[0]
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    np.testing.assert_array_equal(bgra[..., :3], bgr)
    assert (rgba[..., 3] == 255).all() and (bgra[..., 3] == 255).all()
    assert gray.shape == rgb.shape[:2]
    luma = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert float(np.abs(gray - luma).mean()) < 4


def ffmpeg_frame(ffmpeg: str, path: str, n: int, shape: tuple[int, ...]) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-i",
            path,
            "-vf",
            f"select=eq(n\\,{n})",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(shape)


@pytest.mark.parametrize(
    ("degrees", "hflip", "vflip"),
    [
        (0, True, False),
        (0, False, True),
        (90, False, False),
        (90, True, False),
        (180, False, False),
        (180, True, False),
        (270, False, False),
        (270, True, False),
    ],
)
def test_every_orientation_matches_what_ffmpeg_shows(
    tmp_path: Path, degrees: int, hflip: bool, vflip: bool
) -> None:
    ffmpeg = need_ffmpeg()
    path = encode(
        tmp_path / "o.mp4",
        "libx264",
        n=6,
        rotation=degrees,
        flips=(hflip, vflip),
        options={"x264-params": "keyint=3:scenecut=0"},
    )
    with mediaref_av.open(path) as video:
        meta = video.metadata
        frame = video.frames_at([4])[0]
    assert (meta.height, meta.width) == frame.shape[:2]
    shown = ffmpeg_frame(ffmpeg, str(path), 4, frame.shape)
    assert mean_error(frame, shown) < 3
    assert mean_error(frame, shown[::-1, ::-1]) > 10  # the comparison can tell turns apart
    if hflip or vflip:
        assert mean_error(frame, shown[:, ::-1]) > 10 and mean_error(frame, shown[::-1]) > 10
