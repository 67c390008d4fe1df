from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, JpegImagePlugin
from pil_media import encode, random_image, smooth_rgb

import mediaref_pil
from mediaref import MediaRef

Write = Callable[..., str]


def decode(path: str, format: str = "rgb", **options: Any) -> NDArray[Any]:
    return MediaRef(uri=path).to_ndarray(format, **options)  # type: ignore[no-any-return]


def luma(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """ITU-R 601-2 in the fixed point Pillow documents (weights x 65536, rounded)."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def test_rgb_png_decodes_to_the_exact_array(write: Write, rgb: NDArray[np.uint8]) -> None:
    out = decode(write(encode(Image.fromarray(rgb), "PNG")))
    assert out.dtype == np.uint8
    assert out.flags.c_contiguous
    assert out.flags.writeable
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize(
    ("format", "expected"),
    [
        ("rgb", lambda a: a[..., :3]),
        ("bgr", lambda a: a[..., [2, 1, 0]]),
        ("rgba", lambda a: a),
        ("bgra", lambda a: a[..., [2, 1, 0, 3]]),
        ("gray", lambda a: luma(a[..., :3])),
    ],
    ids=["rgb", "bgr", "rgba", "bgra", "gray"],
)
def test_each_output_format_of_an_rgba_image(
    write: Write,
    rgba: NDArray[np.uint8],
    format: str,
    expected: Callable[[NDArray[np.uint8]], NDArray[np.uint8]],
) -> None:
    out = decode(write(encode(Image.fromarray(rgba), "PNG")), format)
    assert out.flags.c_contiguous
    assert out.flags.writeable
    np.testing.assert_array_equal(out, expected(rgba))


@pytest.mark.parametrize("format", ["rgba", "bgra"])
def test_alpha_is_opaque_where_the_image_has_none(
    write: Write, rgb: NDArray[np.uint8], format: str
) -> None:
    out = decode(write(encode(Image.fromarray(rgb), "PNG")), format)
    assert out.shape == (5, 7, 4)
    assert (out[..., 3] == 255).all()
    color = out[..., :3] if format == "rgba" else out[..., 2::-1]
    np.testing.assert_array_equal(color, rgb)


def test_gray_is_itu_r_601_luma(write: Write) -> None:
    rgb = random_image((16, 16, 3), seed=3)
    out = decode(write(encode(Image.fromarray(rgb), "PNG")), "gray")
    assert out.shape == (16, 16)
    np.testing.assert_array_equal(out, luma(rgb))
    exact = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    assert np.abs(out - exact).max() <= 0.5 + 1e-3


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("PPM", {}), ("TGA", {})],
    ids=["bmp", "tiff", "webp-lossless", "ppm", "tga"],
)
def test_lossless_formats_decode_exactly(
    write: Write, rgb: NDArray[np.uint8], fmt: str, params: dict[str, Any]
) -> None:
    data = encode(Image.fromarray(rgb), fmt, **params)
    np.testing.assert_array_equal(decode(write(data, "image.bin")), rgb)


def test_jpeg_matches_pillows_own_decode(write: Write) -> None:
    data = encode(Image.fromarray(smooth_rgb()), "JPEG", quality=90)
    expected = np.asarray(Image.open(write(data, "ref.jpg")).convert("RGB"))
    np.testing.assert_array_equal(decode(write(data, "photo.jpg")), expected)


# EXIF orientation -> what a viewer shows, written from the EXIF 2.3 table, not Pillow.
ORIENTED: dict[int, Callable[[NDArray[Any]], NDArray[Any]]] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: a[::-1, ::-1],  # rotated 180
    4: lambda a: a[::-1, :],  # mirrored top-bottom
    5: lambda a: a.swapaxes(0, 1),  # transposed
    6: lambda a: np.rot90(a, -1),  # rotated 90 clockwise
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],  # transversed
    8: lambda a: np.rot90(a, 1),  # rotated 90 counter-clockwise
}


def with_orientation(im: Image.Image, fmt: str, orientation: int, **params: Any) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(im, fmt, exif=exif, **params)


@pytest.mark.parametrize("orientation", range(1, 9), ids=lambda o: f"orientation-{o}")
@pytest.mark.parametrize("format", ["rgb", "rgba", "gray"])
def test_exif_orientation_is_applied_to_png(
    write: Write, rgba: NDArray[np.uint8], orientation: int, format: str
) -> None:
    data = with_orientation(Image.fromarray(rgba), "PNG", orientation)
    source = {"rgb": rgba[..., :3], "rgba": rgba, "gray": luma(rgba[..., :3])}[format]
    out = decode(write(data), format)
    np.testing.assert_array_equal(out, ORIENTED[orientation](source))


@pytest.mark.parametrize("orientation", range(1, 9), ids=lambda o: f"orientation-{o}")
def test_exif_orientation_is_applied_to_jpeg(write: Write, orientation: int) -> None:
    data = with_orientation(Image.fromarray(smooth_rgb(16, 24)), "JPEG", orientation)
    stored = np.asarray(Image.open(write(data, "ref.jpg")))  # Pillow ignores EXIF here
    out = decode(write(data, "photo.jpg"))
    np.testing.assert_array_equal(out, ORIENTED[orientation](stored))


def test_exif_orientation_is_applied_to_tiff(write: Write, rgb: NDArray[np.uint8]) -> None:
    im = Image.fromarray(rgb)
    data = encode(im, "TIFF", tiffinfo={0x0112: 6})
    np.testing.assert_array_equal(decode(write(data, "scan.tif")), np.rot90(rgb, -1))


def test_palette_image_is_looked_up(write: Write) -> None:
    index = random_image((6, 5), seed=4) % 16
    palette = random_image((16, 3), seed=5)
    im = Image.frombytes("P", (5, 6), index.astype(np.uint8).tobytes())
    im.putpalette(palette.tobytes())
    data = encode(im, "PNG")
    assert Image.open(write(data, "ref.png")).mode == "P"
    np.testing.assert_array_equal(decode(write(data)), palette[index])
    np.testing.assert_array_equal(decode(write(data), "gray"), luma(palette[index]))
    rgba = decode(write(data), "rgba")
    assert (rgba[..., 3] == 255).all()


def test_palette_transparency_becomes_alpha(write: Write) -> None:
    index = (np.arange(12, dtype=np.uint8) % 4).reshape(3, 4)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], np.uint8)
    im = Image.frombytes("P", (4, 3), index.tobytes())
    im.putpalette(palette.tobytes())
    data = encode(im, "PNG", transparency=bytes([0, 128, 255, 255]))
    expected_alpha = np.array([0, 128, 255, 255], np.uint8)[index]
    rgba = decode(write(data), "rgba")
    np.testing.assert_array_equal(rgba[..., :3], palette[index])
    np.testing.assert_array_equal(rgba[..., 3], expected_alpha)
    np.testing.assert_array_equal(decode(write(data), "bgr"), palette[index][..., ::-1])


def test_la_image_keeps_gray_and_alpha(write: Write) -> None:
    la = random_image((4, 6, 2), seed=6)
    data = encode(Image.fromarray(la), "PNG")
    gray, alpha = la[..., 0], la[..., 1]
    np.testing.assert_array_equal(decode(write(data), "gray"), gray)
    np.testing.assert_array_equal(decode(write(data), "rgb"), np.stack([gray] * 3, -1))
    np.testing.assert_array_equal(
        decode(write(data), "bgra"), np.stack([gray, gray, gray, alpha], -1)
    )


def test_cmyk_converts_with_pillows_documented_formula(write: Write) -> None:
    cmyk = random_image((4, 5, 4), seed=7)
    data = encode(Image.frombytes("CMYK", (5, 4), cmyk.tobytes()), "TIFF")
    c, k = cmyk[..., :3].astype(np.int64), cmyk[..., 3:].astype(np.int64)
    expected = np.rint((255 - c) * (255 - k) / 255).astype(np.uint8)
    np.testing.assert_array_equal(decode(write(data, "print.tif")), expected)


def test_ycbcr_image_is_converted_to_rgb(write: Write, rgb: NDArray[np.uint8]) -> None:
    ycc = Image.fromarray(rgb).convert("YCbCr")
    data = encode(ycc, "TIFF")
    expected = np.asarray(ycc.convert("RGB"))
    np.testing.assert_array_equal(decode(write(data, "ycc.tif")), expected)


def test_one_bit_image_is_0_or_255(write: Write) -> None:
    bits = random_image((5, 9), seed=8) % 2 == 1
    data = encode(Image.fromarray(bits), "PNG")
    assert Image.open(write(data, "ref.png")).mode == "1"
    expected = np.where(bits, 255, 0).astype(np.uint8)
    np.testing.assert_array_equal(decode(write(data), "gray"), expected)
    np.testing.assert_array_equal(decode(write(data), "rgb"), np.stack([expected] * 3, -1))


@pytest.fixture
def sixteen_bit() -> NDArray[np.uint16]:
    a = random_image((4, 6), seed=9, dtype=np.uint16)
    a[0, :3] = [0, 0xFFFF, 0x7FFF]
    return a


def test_16_bit_png_is_uint16_when_asked(write: Write, sixteen_bit: NDArray[np.uint16]) -> None:
    data = encode(Image.fromarray(sixteen_bit), "PNG")
    assert Image.open(write(data, "ref.png")).mode == "I;16"
    out = decode(write(data), "gray", dtype="native")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, sixteen_bit)
    rgba = decode(write(data), "rgba", dtype="native")
    assert rgba.dtype == np.uint16
    np.testing.assert_array_equal(rgba[..., :3], np.stack([sixteen_bit] * 3, -1))
    assert (rgba[..., 3] == 0xFFFF).all()


def test_16_bit_png_keeps_the_high_byte_by_default(
    write: Write, sixteen_bit: NDArray[np.uint16]
) -> None:
    data = encode(Image.fromarray(sixteen_bit), "PNG")
    expected = (sixteen_bit // 256).astype(np.uint8)
    gray = decode(write(data), "gray")
    assert gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, expected)
    assert list(gray[0, :3]) == [0, 255, 127]
    np.testing.assert_array_equal(decode(write(data), "bgr"), np.stack([expected] * 3, -1))


def png_48_bit(pixels: NDArray[np.uint16]) -> bytes:
    """A 16-bit-per-channel RGB PNG, written by hand (Pillow cannot write one)."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    height, width, _ = pixels.shape
    big = pixels.astype(">u2")
    rows = b"".join(b"\x00" + big[r].tobytes() for r in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_16_bit_color_png_keeps_the_high_byte_like_16_bit_gray(write: Write) -> None:
    pixels = random_image((3, 4, 3), seed=12, dtype=np.uint16)
    path = write(png_48_bit(pixels))
    expected = (pixels // 256).astype(np.uint8)
    np.testing.assert_array_equal(decode(path), expected)
    # Pillow reads 16-bit color as 8-bit: "native" cannot give more.
    assert decode(path, dtype="native").dtype == np.uint8


def test_big_endian_16_bit_tiff_is_native_uint16(
    write: Write, sixteen_bit: NDArray[np.uint16]
) -> None:
    im = Image.frombytes("I;16B", (6, 4), sixteen_bit.astype(">u2").tobytes())
    out = decode(write(encode(im, "TIFF"), "be.tif"), "gray", dtype="native")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, sixteen_bit)


def test_native_dtype_leaves_8_bit_images_uint8(write: Write, rgb: NDArray[np.uint8]) -> None:
    out = decode(write(encode(Image.fromarray(rgb), "PNG")), dtype="native")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, rgb)


def test_gif_gives_its_first_frame(write: Write) -> None:
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    frames = []
    for seed in (10, 11):
        im = Image.frombytes("P", (5, 4), (random_image((4, 5), seed=seed) % 4).tobytes())
        im.putpalette(palette.tobytes())
        frames.append(im)
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(write(data, "ref.gif")).n_frames == 2
    first = palette[random_image((4, 5), seed=10) % 4]
    np.testing.assert_array_equal(decode(write(data, "anim.gif")), first)


def test_max_size_decodes_jpeg_with_draft(write: Write, monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(Image.fromarray(smooth_rgb(96, 128)), "JPEG")
    drafts: list[Any] = []
    real = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Any, mode: Any, size: Any) -> Any:
        drafts.append(size)
        return real(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    full = decode(write(data, "photo.jpg"))
    assert full.shape == (96, 128, 3)
    assert drafts == []
    small = decode(write(data, "photo.jpg"), max_size=(32, 32))
    assert small.shape == (24, 32, 3)
    assert len(drafts) == 1
    expected = Image.open(write(data, "ref.jpg"))
    expected.thumbnail((32, 32))
    np.testing.assert_array_equal(small, np.asarray(expected))


def test_max_size_fits_the_picture_as_shown(write: Write) -> None:
    data = with_orientation(Image.fromarray(smooth_rgb(32, 64)), "JPEG", 6)
    assert decode(write(data, "photo.jpg")).shape == (64, 32, 3)
    assert decode(write(data, "photo.jpg"), max_size=(16, 16)).shape == (16, 8, 3)


def test_max_size_resamples_other_formats_and_never_enlarges(
    write: Write, rgb: NDArray[np.uint8]
) -> None:
    path = write(encode(Image.fromarray(random_image((40, 20, 3))), "PNG"))
    assert decode(path, max_size=(10, 10)).shape == (10, 5, 3)
    small = write(encode(Image.fromarray(rgb), "PNG"), "small.png")
    np.testing.assert_array_equal(decode(small, max_size=(100, 100)), rgb)


@pytest.mark.parametrize("bad", [(0, 10), (10,), "10x10", (1.5, 2), (10, -1), [True, 2]])
def test_malformed_max_size_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match=r"max_size must be \(width, height\) positive ints"):
        mediaref_pil.decode_image(b"", max_size=bad)


def test_decode_image_takes_bytes_directly(rgb: NDArray[np.uint8]) -> None:
    data = encode(Image.fromarray(rgb), "PNG")
    np.testing.assert_array_equal(mediaref_pil.decode_image(data), rgb)
    np.testing.assert_array_equal(mediaref_pil.decode_image(memoryview(data)), rgb)


def test_unknown_option_of_another_backend_is_ignored(write: Write, rgb: NDArray[np.uint8]) -> None:
    out = decode(write(encode(Image.fromarray(rgb), "PNG")), threads=2)
    np.testing.assert_array_equal(out, rgb)


def test_to_pil_image_gives_the_oriented_rgb_picture(write: Write, rgb: NDArray[np.uint8]) -> None:
    data = with_orientation(Image.fromarray(rgb), "PNG", 8)
    im = MediaRef(uri=write(data)).to_pil_image()
    assert im.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(im), np.rot90(rgb, 1))


def test_malformed_exif_is_ignored_like_viewers_do(write: Write) -> None:
    im = Image.fromarray(smooth_rgb(16, 24))
    data = encode(im, "JPEG", exif=b"Exif\x00\x00MM\x00*\xff\xff\xff\xff garbage")
    with pytest.warns(UserWarning, match="Corrupt EXIF data"):
        stored = np.asarray(Image.open(write(data, "ref.jpg")))
    # Pillow warns as it reads the block; we let its warning through (silencing warnings
    # is process-wide state, unsafe while other threads decode).
    with pytest.warns(UserWarning, match="Corrupt EXIF data"):
        out = decode(write(data, "photo.jpg"))
    np.testing.assert_array_equal(out, stored)


def test_rgb_color_key_transparency_becomes_alpha(write: Write, rgb: NDArray[np.uint8]) -> None:
    key = tuple(int(v) for v in rgb[2, 3])
    data = encode(Image.fromarray(rgb), "PNG", transparency=key)
    out = decode(write(data), "rgba")
    np.testing.assert_array_equal(out[..., :3], rgb)
    np.testing.assert_array_equal(out[..., 3], np.where((rgb == key).all(-1), 0, 255))


def test_32_bit_integer_image_keeps_the_16_bit_range(write: Write) -> None:
    values = np.array([[-5, 0, 300], [65535, 70000, 12345]], np.int32)
    data = encode(Image.fromarray(values), "TIFF")
    assert Image.open(write(data, "ref.tif")).mode == "I"
    out = decode(write(data, "int.tif"), "gray", dtype="native")
    np.testing.assert_array_equal(out, [[0, 0, 300], [65535, 65535, 12345]])
    assert out.dtype == np.uint16
