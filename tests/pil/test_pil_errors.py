from __future__ import annotations

import pickle
import re
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pil_media import encode, random_image, smooth_rgb

import mediaref_pil
from mediaref import DataURI, MediaRef, MediaRefError, UndecodableMediaError, batch_decode

Write = Callable[..., str]


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG that declares `width` x `height` pixels: a decompression bomb's shape."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(tag + body)
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_truncated_png_names_the_uri_and_what_pillow_said(
    write: Write, rgb: NDArray[np.uint8]
) -> None:
    data = encode(Image.fromarray(random_image((64, 64, 3))), "PNG")
    path = write(data[: len(data) // 2], "cut.png")
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=path).to_ndarray()
    assert info.value.uri == path
    message = str(info.value)
    assert message.startswith("Failed to load image: corrupt or truncated, Pillow says ")
    assert "truncated" in message
    assert message.endswith(f"({path!r})")


def test_truncated_jpeg_names_the_uri(write: Write) -> None:
    data = encode(Image.fromarray(smooth_rgb()), "JPEG")
    path = write(data[: len(data) // 2], "cut.jpg")
    with pytest.raises(
        UndecodableMediaError,
        match="^"
        + re.escape(
            "Failed to load image: corrupt or truncated, Pillow says OSError: "
            f"Truncated File Read ({path!r})"
        )
        + "$",
    ):
        MediaRef(uri=path).to_ndarray()


def test_corrupt_png_data_names_the_uri(write: Write) -> None:
    data = bytearray(encode(Image.fromarray(random_image((32, 32, 3))), "PNG"))
    data[60:200] = bytes(140)  # zero the compressed pixels (and their CRC no longer holds)
    path = write(bytes(data), "bad.png")
    with pytest.raises(UndecodableMediaError, match=re.escape(f"({path!r})")) as info:
        MediaRef(uri=path).to_ndarray()
    assert "Pillow says" in str(info.value)


def test_garbage_is_not_an_image(write: Write) -> None:
    path = write(b"hello, I am text" * 4, "note.png")
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=path).to_ndarray()
    assert str(info.value) == (
        "Failed to load image: not a format Pillow reads (content looks like image/png, "
        f"64 bytes) ({path!r})"
    )


def test_video_without_pts_ns_says_to_give_pts_ns(write: Write) -> None:
    path = write(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(64), "clip.mp4")
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=path).to_ndarray()
    assert str(info.value) == (
        "Failed to load image: the content looks like video/mp4, not a still image; "
        f"give pts_ns to decode a video frame ({path!r})"
    )


def test_error_in_a_data_uri_is_named_shortly() -> None:
    uri = str(DataURI.from_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200), "image/png"))
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=uri).to_ndarray()
    assert info.value.uri == uri
    assert "data:image/png;base64,...(" in str(info.value)


def test_errors_survive_pickling(write: Write) -> None:
    path = write(b"\x89PNG\r\n\x1a\n" + bytes(40), "bad.png")
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=path).to_ndarray()
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is UndecodableMediaError
    assert str(again) == str(info.value)


@pytest.mark.usefixtures("pixel_limit")
def test_image_bomb_is_refused_before_decoding(write: Write) -> None:
    path = write(png_header(100_000, 100_000), "bomb.png")
    with pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=path).to_ndarray()
    message = str(info.value)
    assert message.startswith("image is over the pixel limit, a possible decompression bomb")
    assert "10000000000 pixels" in message
    assert "mediaref_pil.set_max_pixels()" in message
    assert info.value.uri == path


@pytest.mark.usefixtures("pixel_limit")
def test_pixel_limit_is_strict_and_can_be_raised(write: Write) -> None:
    rgb = random_image((10, 15, 3))  # 150 pixels: over 100, under Pillow's 2 x 100
    path = write(encode(Image.fromarray(rgb), "PNG"))
    mediaref_pil.set_max_pixels(100)
    assert mediaref_pil.get_max_pixels() == Image.MAX_IMAGE_PIXELS == 100
    # Pillow only warns (up to twice its limit); mediaref refuses.
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(UndecodableMediaError) as info:
        MediaRef(uri=path).to_ndarray()
    assert str(info.value) == (
        "image is 15x10 = 150 pixels, over the limit of 100 (a possible decompression "
        f"bomb); raise the limit with mediaref_pil.set_max_pixels() ({path!r})"
    )
    assert (info.value.width, info.value.height, info.value.max_pixels) == (15, 10, 100)  # type: ignore[attr-defined]
    mediaref_pil.set_max_pixels(150)
    np.testing.assert_array_equal(MediaRef(uri=path).to_ndarray(), rgb)
    mediaref_pil.set_max_pixels(None)
    np.testing.assert_array_equal(MediaRef(uri=path).to_ndarray(), rgb)


@pytest.mark.parametrize("bad", [0, -5, 1.5, "100", True])
def test_set_max_pixels_rejects_non_positive_ints(bad: object) -> None:
    with pytest.raises(ValueError, match="max pixels must be a positive int or None"):
        mediaref_pil.set_max_pixels(bad)  # type: ignore[arg-type]


def test_unknown_output_format_names_the_valid_ones(write: Write, rgb: NDArray[np.uint8]) -> None:
    message = "^format must be one of 'rgb', 'bgr', 'rgba', 'bgra', 'gray', got 'hsv'$"
    with pytest.raises(ValueError, match=message):
        mediaref_pil.decode_image(b"", format="hsv")
    path = write(encode(Image.fromarray(rgb), "PNG"))
    with pytest.raises(ValueError, match=message):
        MediaRef(uri=path).to_ndarray("hsv")  # type: ignore[arg-type]


def test_unknown_dtype_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"^unknown dtype 'float32'; valid: 'uint8', 'native'$"):
        mediaref_pil.decode_image(b"", dtype="float32")  # type: ignore[arg-type]


def test_batch_keeps_the_good_images_when_one_is_corrupt(write: Write) -> None:
    images = [random_image((4, 6, 3), seed=30 + i) for i in range(12)]
    paths = [write(encode(Image.fromarray(a), "PNG"), f"img{i}.png") for i, a in enumerate(images)]
    bad = write(encode(Image.fromarray(images[0]), "PNG")[:50], "broken.png")
    refs = [MediaRef(uri=p) for p in paths]
    refs.insert(5, MediaRef(uri=bad))
    out = batch_decode(refs, on_error="return", max_workers=2)
    assert len(out) == 13
    assert isinstance(out[5], UndecodableMediaError)
    assert out[5].uri == bad
    for got, expected in zip(out[:5] + out[6:], images, strict=True):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(UndecodableMediaError, match=re.escape(repr(bad))):
        batch_decode(refs)


def test_batch_of_many_images_decodes_in_threads(write: Write) -> None:
    images = [random_image((8, 8, 4), seed=40 + i) for i in range(40)]
    refs = [
        MediaRef(uri=write(encode(Image.fromarray(a), "PNG"), f"{i}.png"))
        for i, a in enumerate(images)
    ]
    out = batch_decode(refs, format="bgra", max_workers=4)
    assert not any(isinstance(o, MediaRefError) for o in out)
    for got, expected in zip(out, images, strict=True):
        np.testing.assert_array_equal(got, expected[..., [2, 1, 0, 3]])
