"""Output shaping at decode: size= and max_size= in the colour conversion, layout="chw"."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import MediaRef
from tests.media import ClipFactory


def one_pass(path: str, index: int, height: int, width: int) -> np.ndarray:
    """Frame `index` converted and scaled by swscale in one pass, as plain PyAV does it."""
    with av.open(path) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == index:
                out = frame.reformat(
                    width=width,
                    height=height,
                    format="rgb24",
                    src_colorspace=frame.colorspace or None,
                    src_color_range=frame.color_range or None,
                    dst_color_range="JPEG",
                    interpolation="AREA",
                )
                return out.to_ndarray()
    raise AssertionError(f"no frame {index}")


def box_average(frame: np.ndarray, factor: int) -> np.ndarray:
    h, w, c = frame.shape
    blocks = frame[: h - h % factor, : w - w % factor].reshape(
        h // factor, factor, w // factor, factor, c
    )
    return blocks.mean(axis=(1, 3))


def test_size_resizes_in_the_conversion(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    h, w = clip.frames[0].shape[:2]
    times = clip.probe_times()[:6]
    got = mediaref.batch_decode([MediaRef(clip.uri, t) for t in times], size=(h // 2, w // 2))
    for t, frame in zip(times, got, strict=True):
        assert frame.shape == (h // 2, w // 2, 3)
        i = clip.index_at(t)
        np.testing.assert_array_equal(frame, one_pass(clip.uri, i, h // 2, w // 2))
        # And it is what shrinking the full frame by 2 looks like, give or take rounding.
        diff = np.abs(frame.astype(float) - box_average(clip.frames[i], 2))
        assert diff.mean() < 2.0


def test_max_size_fits_a_box_keeping_the_aspect_ratio(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    h, w = clip.frames[0].shape[:2]  # 72 x 128
    t = clip.probe_times()[3]
    frame = MediaRef(clip.uri, t).to_ndarray(max_size=(64, 64))
    assert frame.shape == (round(h * 64 / w), 64, 3)
    assert MediaRef(clip.uri, t).to_ndarray(max_size=(1000, 1000)).shape == (
        h,
        w,
        3,
    )  # no enlarging


def test_size_is_asked_for_the_picture_as_shown(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_rotated_mp4")
    shown_h, shown_w = clip.frames[0].shape[:2]
    t = clip.probe_times()[2]
    frame = MediaRef(clip.uri, t).to_ndarray(size=(shown_h // 2, shown_w // 2))
    assert frame.shape == (shown_h // 2, shown_w // 2, 3)
    full = clip.frame_on_screen_at(t)
    assert np.abs(frame.astype(float) - box_average(full, 2)).mean() < 2.0


@pytest.mark.parametrize("fmt", ["rgb", "bgra", "gray"])
def test_chw_layout_is_the_same_pixels_channels_first(clip_factory: ClipFactory, fmt: str) -> None:
    clip = clip_factory("vfr_mkv")
    t = clip.probe_times()[4]
    hwc = MediaRef(clip.uri, t).to_ndarray(fmt)  # type: ignore[arg-type]
    chw = MediaRef(clip.uri, t).to_ndarray(fmt, layout="chw")  # type: ignore[arg-type]
    want = hwc[None] if hwc.ndim == 2 else hwc.transpose(2, 0, 1)
    assert chw.shape == want.shape and chw.flags.c_contiguous
    np.testing.assert_array_equal(chw, want)


def test_steps_forward_with_changing_sizes_get_the_size_asked(clip_factory: ClipFactory) -> None:
    # Decoding ahead keeps converted frames for the next call: one made for another size
    # must not be handed out.
    clip = clip_factory("h264_bframes_mp4")
    h, w = clip.frames[0].shape[:2]
    for k, t in enumerate(clip.starts_ns[:12]):
        size = (h // 2, w // 2) if k % 2 else None
        frame = MediaRef(clip.uri, t).to_ndarray(size=size)
        assert frame.shape[:2] == (size or (h, w))
        if size is None:
            np.testing.assert_array_equal(frame, clip.frames[k])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": (0, 4)}, r"size must be \(height, width\) positive ints, got \(0, 4\)"),
        ({"max_size": [4]}, r"max_size must be \(width, height\) positive ints, got \[4\]"),
        ({"size": (4, 4), "max_size": (4, 4)}, "give size or max_size, not both"),
        ({"layout": "nhwc"}, "layout must be 'hwc' or 'chw', got 'nhwc'"),
    ],
    ids=["zero", "short", "both", "layout"],
)
def test_bad_shaping_options_say_what_is_wrong(
    clip_factory: ClipFactory, options: dict[str, object], message: str
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    with pytest.raises(ValueError, match=message):
        mediaref_av.open(clip.uri, **options)  # type: ignore[arg-type]


def test_images_take_the_same_options(tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(pixels).save(path)
    ref = MediaRef(str(path))
    small = ref.to_ndarray(size=(20, 30))
    want = np.asarray(Image.fromarray(pixels).resize((30, 20), Image.Resampling.BOX))
    np.testing.assert_array_equal(small, want)
    np.testing.assert_array_equal(ref.to_ndarray(layout="chw"), pixels.transpose(2, 0, 1))
    assert ref.to_ndarray("gray", layout="chw").shape == (1, 40, 60)


@pytest.mark.parametrize(
    "kind", ["h264_bframes_mp4", "h264_full_range_mp4", "mjpeg_full_range_mkv"]
)
def test_gray_is_the_luma_plane_within_one_level_of_swscale(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    with av.open(clip.uri) as c:
        frame = next(iter(c.decode(video=0)))
        via_swscale = frame.reformat(
            format="gray",
            src_colorspace=frame.colorspace or None,
            src_color_range=None if frame.format.name.startswith("yuvj") else frame.color_range,
            dst_color_range="JPEG",
        ).to_ndarray()
    gray = MediaRef(clip.uri, clip.starts_ns[0]).to_ndarray("gray")
    assert gray.shape == via_swscale.shape
    assert int(np.abs(gray.astype(int) - via_swscale.astype(int)).max()) <= 1
