from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pil_media import random_image, smooth_rgb

import mediaref_pil
from mediaref import DataURI, MediaRef


def round_trip(uri: DataURI, format: str = "rgb", **options: Any) -> NDArray[Any]:
    return MediaRef(uri=str(uri)).to_ndarray(format, **options)  # type: ignore[no-any-return]


def test_png_round_trip_is_bit_exact_with_alpha(rgba: NDArray[np.uint8]) -> None:
    uri = DataURI.from_image(rgba, format="png", input_format="rgba")
    assert uri.mimetype == "image/png"
    assert uri.decoded_data.startswith(b"\x89PNG\r\n\x1a\n")
    assert str(uri).startswith("data:image/png;base64,")
    np.testing.assert_array_equal(round_trip(uri, "rgba"), rgba)


@pytest.mark.parametrize(
    ("input_format", "channels", "to_rgba"),
    [
        ("rgb", 3, lambda a: a),
        ("bgr", 3, lambda a: a[..., ::-1]),
        ("rgba", 4, lambda a: a),
        ("bgra", 4, lambda a: a[..., [2, 1, 0, 3]]),
    ],
    ids=["rgb", "bgr", "rgba", "bgra"],
)
def test_png_round_trip_of_each_input_order(input_format: str, channels: int, to_rgba: Any) -> None:
    image = random_image((6, 5, channels), seed=50)
    uri = DataURI.from_image(image, format="png", input_format=input_format)  # type: ignore[arg-type]
    fmt = "rgba" if channels == 4 else "rgb"
    np.testing.assert_array_equal(round_trip(uri, fmt), to_rgba(image))


def test_bgr_input_decodes_back_as_bgr() -> None:
    bgr = random_image((6, 5, 3), seed=51)
    uri = DataURI.from_image(bgr, format="png", input_format="bgr")
    np.testing.assert_array_equal(round_trip(uri, "bgr"), bgr)


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1)], ids=["2d", "one-channel"])
def test_gray_input_round_trips(shape: tuple[int, ...]) -> None:
    gray = random_image(shape, seed=52)
    uri = DataURI.from_image(gray, format="png", input_format="gray")
    assert Image.open(io.BytesIO(uri.decoded_data)).mode == "L"
    np.testing.assert_array_equal(round_trip(uri, "gray"), gray.reshape(6, 5))


def test_uint16_gray_png_round_trips_with_native_dtype() -> None:
    depth = random_image((4, 7), seed=53, dtype=np.uint16)
    uri = DataURI.from_image(depth, format="png", input_format="gray")
    out = round_trip(uri, "gray", dtype="native")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, depth)


def test_jpeg_is_close_and_drops_alpha() -> None:
    rgb = smooth_rgb()
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    uri = DataURI.from_image(rgba, format="jpeg", quality=95, input_format="rgba")
    assert uri.mimetype == "image/jpeg"
    assert uri.decoded_data.startswith(b"\xff\xd8\xff")
    out = round_trip(uri, "rgba")
    assert (out[..., 3] == 255).all()
    diff = np.abs(out[..., :3].astype(int) - rgb)
    assert diff.mean() < 1.5
    assert diff.max() <= 12


def test_jpeg_quality_changes_the_size() -> None:
    rgb = random_image((32, 32, 3), seed=54)
    low = DataURI.from_image(rgb, format="jpg", quality=10)
    high = DataURI.from_image(rgb, format="jpeg", quality=95)
    assert low.mimetype == high.mimetype == "image/jpeg"
    assert len(low.decoded_data) < len(high.decoded_data)


def test_webp_is_close_and_keeps_alpha() -> None:
    rgb = smooth_rgb()
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[:, :10] = 0
    uri = DataURI.from_image(
        np.dstack([rgb, alpha]), format="webp", quality=90, input_format="rgba"
    )
    assert uri.mimetype == "image/webp"
    assert uri.decoded_data[8:12] == b"WEBP"
    out = round_trip(uri, "rgba")
    np.testing.assert_array_equal(out[..., 3], alpha)
    diff = np.abs(out[..., :3].astype(int) - rgb)[:, 10:]
    assert diff.mean() < 3


@pytest.mark.parametrize(("fmt", "mime"), [("bmp", "image/bmp"), ("tiff", "image/tiff")])
def test_bmp_and_tiff_are_lossless(rgb: NDArray[np.uint8], fmt: str, mime: str) -> None:
    uri = DataURI.from_image(rgb, format=fmt)
    assert uri.mimetype == mime
    np.testing.assert_array_equal(round_trip(uri), rgb)


def test_bmp_drops_alpha(rgba: NDArray[np.uint8]) -> None:
    uri = DataURI.from_image(rgba, format="bmp", input_format="rgba")
    np.testing.assert_array_equal(round_trip(uri, "rgba")[..., :3], rgba[..., :3])
    assert (round_trip(uri, "rgba")[..., 3] == 255).all()


def test_pil_image_input(rgba: NDArray[np.uint8]) -> None:
    uri = DataURI.from_image(Image.fromarray(rgba), format="png")
    np.testing.assert_array_equal(round_trip(uri, "rgba"), rgba)


def test_pil_palette_and_la_images_are_converted_for_jpeg() -> None:
    index = (random_image((6, 5), seed=55) % 4).astype(np.uint8)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]], np.uint8)
    im = Image.frombytes("P", (5, 6), index.tobytes())
    im.putpalette(palette.tobytes())
    np.testing.assert_array_equal(round_trip(DataURI.from_image(im, format="png")), palette[index])
    assert DataURI.from_image(im, format="jpeg").mimetype == "image/jpeg"
    la = Image.fromarray(random_image((6, 5, 2), seed=56))
    uri = DataURI.from_image(la, format="jpeg")
    assert Image.open(io.BytesIO(uri.decoded_data)).mode == "L"


def test_encode_image_returns_bytes_and_mimetype(rgb: NDArray[np.uint8]) -> None:
    data, mime = mediaref_pil.encode_image(rgb, format="PNG")
    assert (type(data), mime) == (bytes, "image/png")


@pytest.mark.parametrize("quality", [0, 101, -1, 50.0, True, "90"])
def test_quality_outside_1_to_100_is_a_value_error(rgb: NDArray[np.uint8], quality: object) -> None:
    with pytest.raises(
        ValueError, match=re.escape(f"quality must be an int in 1-100, got {quality!r}")
    ):
        DataURI.from_image(rgb, format="jpeg", quality=quality)  # type: ignore[arg-type]


def test_unknown_encode_format_names_the_valid_ones(rgb: NDArray[np.uint8]) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "unknown image format 'gif' to encode; valid: 'png', 'jpeg', 'webp', 'bmp', "
            "'tiff' (and 'jpg', 'tif')"
        ),
    ):
        DataURI.from_image(rgb, format="gif")


@pytest.mark.parametrize(
    ("image", "input_format", "message"),
    [
        (
            np.zeros((4, 4, 4), np.uint8),
            "hsv",
            "Invalid input_format 'hsv' for 4-channel array; must be 'rgb', 'bgr', 'rgba', "
            "or 'bgra'",
        ),
        (
            np.zeros((4, 4, 3), np.uint8),
            "rgba",
            "Invalid input_format 'rgba' for 3-channel array; must be 'rgb' or 'bgr'",
        ),
        (
            np.zeros((4, 4), np.uint8),
            "bgra",
            "input_format='bgra' needs an (H, W, 4) array, got shape (4, 4)",
        ),
        (
            np.zeros((4, 4, 3), np.uint8),
            "gray",
            "input_format='gray' needs a non-empty (H, W) or (H, W, 1) array, got shape (4, 4, 3)",
        ),
        (
            np.zeros((4,), np.uint8),
            "rgb",
            "input_format='rgb' needs a non-empty (H, W, 3) array, got shape (4,)",
        ),
        (
            np.zeros((0, 4, 3), np.uint8),
            "rgb",
            "input_format='rgb' needs a non-empty (H, W, 3) array, got shape (0, 4, 3)",
        ),
        (
            np.zeros((4, 4, 3), np.float32),
            "rgb",
            "image arrays must be uint8 (or 2-D uint16 for png/tiff), got float32",
        ),
        (
            np.zeros((4, 4, 3), np.uint8),
            "hsv",
            "Invalid input_format 'hsv' for 3-channel array; must be 'rgb' or 'bgr'",
        ),
        (
            np.zeros((4, 4), np.uint8),
            "hsv",
            "unknown input_format 'hsv'; valid: 'rgb', 'bgr', 'rgba', 'bgra', 'gray'",
        ),
    ],
    ids=["4-hsv", "3-rgba", "2d-bgra", "3-gray", "1d", "empty", "float", "3-hsv", "2d-hsv"],
)
def test_bad_array_is_a_value_error_saying_what_fits(
    image: NDArray[Any], input_format: str, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        DataURI.from_image(image, format="png", input_format=input_format)  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "means"), [("rgb", "rgba"), ("bgr", "bgra")])
def test_four_channels_named_by_colour_order_keep_alpha_as_in_044(given: str, means: str) -> None:
    rgb = smooth_rgb()
    alpha = (np.arange(rgb.shape[0] * rgb.shape[1]) % 256).reshape(rgb.shape[:2])
    rgba = np.dstack([rgb, alpha.astype(np.uint8)])
    pixels = rgba if means == "rgba" else rgba[:, :, [2, 1, 0, 3]]
    uri = DataURI.from_image(pixels, format="png", input_format=given)  # type: ignore[arg-type]
    np.testing.assert_array_equal(round_trip(uri, "rgba"), rgba)


def test_uint16_cannot_be_jpeg() -> None:
    with pytest.raises(ValueError, match=r"^jpeg cannot store 16-bit images; use png or tiff"):
        DataURI.from_image(np.zeros((4, 4), np.uint16), format="jpeg")


def test_non_image_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^image must be a numpy array or a PIL image, got str$"):
        DataURI.from_image("photo.png")
