"""Pixel and request-size limits: refused from the stream's parameters, before decoding."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import MediaRef, UndecodableMediaError
from mediaref_av import _bounds, _pool
from tests.media import encode

W, H = 160, 96


@pytest.fixture
def limits() -> Iterator[mediaref.Limits]:
    old = (mediaref.limits.max_video_pixels, mediaref.limits.max_request_bytes)
    yield mediaref.limits
    mediaref.limits.max_video_pixels, mediaref.limits.max_request_bytes = old
    mediaref_av.clear_caches()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode(tmp_path_factory.mktemp("limits") / "small.mp4", "libx264", n=6, size=(W, H))


def flat_h264(path: Path, width: int, height: int, frames: int) -> Path:
    """A few frames of a flat picture: large pictures that compress to a few KB."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "40"}
        frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 128, np.uint8), "rgb24")
        for i in range(frames):
            frame.pts = i
            c.mux(s.encode(frame))
        c.mux(s.encode())
    return path


def test_the_defaults_are_pillows_image_limit_and_4_gib() -> None:
    defaults = mediaref.Limits()
    assert defaults.max_video_pixels == 89_478_485  # PIL.Image.MAX_IMAGE_PIXELS
    assert defaults.max_request_bytes == 4 << 30


def test_a_video_over_the_pixel_limit_is_refused_before_decoding(
    small: Path, limits: mediaref.Limits
) -> None:
    limits.max_video_pixels = W * H - 1
    mediaref_av.reset_counters()
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(str(small), 0).to_ndarray()
    e = info.value
    assert (e.width, e.height, e.max_pixels) == (W, H, W * H - 1)  # type: ignore[attr-defined]
    message = f"{W}x{H} = {W * H} pixels, over the limit of {W * H - 1}"
    assert message in str(e) and "mediaref.limits.max_video_pixels" in str(e)
    assert str(small) in str(e) and "pts_ns=0" in str(e)
    c = mediaref_av.counters()
    assert (c.index_builds, c.frames_decoded, c.frames_converted) == (0, 0, 0)
    limits.max_video_pixels = W * H  # at the limit: decoded
    assert MediaRef(str(small), 0).to_ndarray().shape == (H, W, 3)


def test_a_limit_lowered_after_indexing_still_refuses_before_decoding(
    small: Path, limits: mediaref.Limits
) -> None:
    with mediaref_av.open(small) as video:  # indexed and cached under the default limit
        video.frames_at([0])
        limits.max_video_pixels = 1000
        mediaref_av.reset_counters()
        with pytest.raises(UndecodableMediaError, match="over the limit of 1000"):
            video.frames_at([1])
    assert mediaref_av.counters().frames_decoded == 0


def test_ffmpeg_refuses_pictures_larger_than_the_stream_parameters_said(
    small: Path, limits: mediaref.Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bitstream may code larger pictures than the container says: our check believes
    # the container, so the decoders we open carry the limit too (FFmpeg's max_pixels).
    with mediaref_av.open(small):
        pass  # indexed under the default limit
    _pool.close_all()
    monkeypatch.setattr(_pool, "check_picture", lambda *args: None)
    monkeypatch.setattr(mediaref_av._decoder, "check_picture", lambda *args: None)
    limits.max_video_pixels = 1000
    with pytest.raises(UndecodableMediaError):
        MediaRef(str(small), 0).to_ndarray()


def test_a_request_over_the_byte_limit_is_refused_as_a_whole(
    small: Path, limits: mediaref.Limits
) -> None:
    frame = W * H * 3
    limits.max_request_bytes = 3 * frame
    with mediaref_av.open(small) as video:
        times = [int(t) for t in video.index.frame_ns[:4]]
        assert len(video.frames_played_at(times[:3])) == 3  # at the limit
        assert len(video.frames_played_at(times[:3], format="gray")) == 3
        mediaref_av.reset_counters()
        with pytest.raises(UndecodableMediaError) as info:
            video.frames_played_at(times)
    e = info.value
    assert (e.request_bytes, e.max_request_bytes) == (4 * frame, 3 * frame)  # type: ignore[attr-defined]
    assert re.search(rf"4 frames of {H}x{W}x3 bytes = {4 * frame} bytes, over the limit", str(e))
    # Through batch_decode: every reference of the request gets the error; no timestamp
    # is retried alone (that would decode the frames the limit refused, one by one).
    refs = [MediaRef(str(small), t) for t in times]
    out = mediaref.batch_decode(refs, on_error="return")
    assert [type(o) for o in out] == [UndecodableMediaError] * 4
    assert [o.pts_ns for o in out] == times  # type: ignore[union-attr]
    assert mediaref_av.counters().frames_decoded == 0


def test_a_large_picture_is_refused_with_little_memory(tmp_path: Path) -> None:
    # 4096x4096 against a limit one pixel lower; measured in fresh processes, a decode of
    # one frame as a reference. Before the limit, opening alone peaked as high as a decode
    # (FFmpeg decodes pictures to probe an H.264 stream).
    big = flat_h264(tmp_path / "big.mp4", 4096, 4096, 2)
    probe = Path(__file__).with_name("limits_probe.py")

    def run(limit: int) -> dict[str, object]:
        out = subprocess.run(
            [sys.executable, str(probe), str(big), str(limit)],
            capture_output=True,
            text=True,
            timeout=300,  # a hang guard only
            check=True,
        )
        result: dict[str, object] = json.loads(out.stdout)
        return result

    refused = run(4096 * 4096 - 1)
    decoded = run(4096 * 4096)
    print("refused:", refused, "decoded:", decoded)
    assert str(refused["outcome"]).startswith("UndecodableMediaError: video pictures are 4096x4096")
    assert decoded["outcome"] == "frame (4096, 4096, 3)"
    cost = float(decoded["peak_mb"]) - float(decoded["baseline_mb"])  # type: ignore[arg-type]
    refused_cost = float(refused["peak_mb"]) - float(refused["baseline_mb"])  # type: ignore[arg-type]
    assert cost > 48  # the RGB frame alone is 48 MiB
    assert refused_cost < min(32, cost / 4), (refused_cost, cost)


def test_ffmpeg_max_pixels_fits_ffmpegs_int(limits: mediaref.Limits) -> None:
    limits.max_video_pixels = 1 << 40
    assert _bounds.ffmpeg_max_pixels() == str((1 << 31) - 1)
    limits.max_video_pixels = 1000
    assert _bounds.ffmpeg_max_pixels() == "6096"  # headroom for FFmpeg's aligned widths
