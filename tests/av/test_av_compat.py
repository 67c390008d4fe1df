"""What mediaref 0.4.4 code relies on from video decoding: negative times, cleanup_cache."""

from __future__ import annotations

import re
from fractions import Fraction

import av
import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import MediaRef, TimestampOutOfRangeError
from mediaref.testing import Clip, decode_sequentially, picture


@pytest.fixture(scope="module")
def negative_start_ts(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """30 frames at 25 fps whose timeline runs from -1 s to 0.2 s (MPEG-TS keeps it)."""
    path = tmp_path_factory.mktemp("negative") / "negative.ts"
    with av.open(str(path), "w", container_options={"avoid_negative_ts": "disabled"}) as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"x264-params": "keyint=10:bframes=2:scenecut=0:log-level=none"}
        for i in range(30):
            frame = av.VideoFrame.from_ndarray(picture(i, 64, 48), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i - 25, Fraction(1, 25)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))
    clip = decode_sequentially(path)
    assert (clip.begin_ns, clip.end_ns) == (-1_000_000_000, 200_000_000)
    return clip


@pytest.mark.parametrize(
    "pts_ns",
    [-1_000_000_000, -960_000_001, -960_000_000, -1, 0, 199_999_999],
    ids=["first", "before-second", "second", "last-ns-before-0", "zero", "last-ns"],
)
def test_negative_timestamps_select_the_frame_played_at_them(
    negative_start_ts: Clip, pts_ns: int
) -> None:
    frame = MediaRef(negative_start_ts.uri, pts_ns).to_ndarray()
    np.testing.assert_array_equal(frame, negative_start_ts.frame_on_screen_at(pts_ns))


@pytest.mark.parametrize(
    "pts_ns", [-1_000_000_001, 200_000_000, 2**63, 2**64 - 1], ids=["before", "end", "2^63", "max"]
)
def test_times_outside_the_stream_raise_out_of_range(negative_start_ts: Clip, pts_ns: int) -> None:
    message = re.escape(f"pts_ns={pts_ns} is out of range: frames are shown in ") + re.escape(
        "[-1000000000, 200000000) ns"
    )
    with pytest.raises(TimestampOutOfRangeError, match=message):
        MediaRef(negative_start_ts.uri, pts_ns).to_ndarray()
    inside = MediaRef(negative_start_ts.uri, -1)
    got = mediaref.batch_decode([inside, MediaRef(inside.uri, pts_ns)], on_error="return")
    np.testing.assert_array_equal(got[0], negative_start_ts.frame_on_screen_at(-1))
    assert isinstance(got[1], TimestampOutOfRangeError) and got[1].pts_ns == pts_ns


def test_cleanup_cache_closes_containers_and_forgets_indexes(negative_start_ts: Clip) -> None:
    ref = MediaRef(negative_start_ts.uri, 0)
    ref.to_ndarray()
    mediaref_av.reset_counters()
    ref.to_ndarray()
    warm = mediaref_av.counters()
    assert (warm.container_hits, warm.containers_opened, warm.index_builds) == (1, 0, 0)
    mediaref.cleanup_cache()
    mediaref.cleanup_cache()  # twice in a row is fine
    mediaref_av.reset_counters()
    np.testing.assert_array_equal(ref.to_ndarray(), negative_start_ts.frame_on_screen_at(0))
    cold = mediaref_av.counters()
    assert (cold.container_hits, cold.containers_opened, cold.index_builds) == (0, 1, 1)


def test_has_video_reports_the_installed_backend() -> None:
    from mediaref import _features

    assert (_features.HAS_VIDEO, _features.VIDEO_ERROR) == (True, None)
    _features.require_video()


def test_without_a_video_backend_the_error_names_the_extra(
    negative_start_ts: Clip, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediaref import _features

    monkeypatch.setattr(_features, "HAS_VIDEO", False)
    monkeypatch.setattr(_features, "VIDEO_ERROR", "av (mediaref-av): ImportError: no av")
    with pytest.raises(
        mediaref.BackendNotInstalledError,
        match=r"^Video frame extraction requires the 'video' extra: no video decoder is "
        r"installed; install mediaref-av from a mediaref checkout: pip install \./mediaref_av "
        r"\(plugins that failed to load: av \(mediaref-av\): ImportError: no av\)",
    ):
        MediaRef(negative_start_ts.uri, 0).to_ndarray()


@pytest.mark.parametrize(("fmt", "mode"), [("rgb", "RGB"), ("rgba", "RGBA"), ("gray", "L")])
def test_to_pil_image_takes_the_044_formats(negative_start_ts: Clip, fmt: str, mode: str) -> None:
    ref = MediaRef(negative_start_ts.uri, 0)
    image = ref.to_pil_image(fmt)  # type: ignore[arg-type]
    assert image.mode == mode
    np.testing.assert_array_equal(np.asarray(image), ref.to_ndarray(fmt))  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["bgr", "bgra"])
def test_to_pil_image_refuses_channel_orders_pil_lacks(negative_start_ts: Clip, fmt: str) -> None:
    with pytest.raises(ValueError, match=f"^Format '{fmt}' is not compatible with to_pil_image"):
        MediaRef(negative_start_ts.uri, 0).to_pil_image(fmt)  # type: ignore[arg-type]


def test_keep_av_open_of_044_is_accepted(negative_start_ts: Clip) -> None:
    ref = MediaRef(negative_start_ts.uri, 0)
    np.testing.assert_array_equal(ref.to_ndarray(keep_av_open=True), ref.to_ndarray())
