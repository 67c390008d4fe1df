from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pil_media import encode, smooth_rgb

import mediaref_pil
from mediaref import UndecodableMediaError

SAMPLES = {
    fmt: encode(Image.fromarray(smooth_rgb(12, 16)), fmt)
    for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
}


@contextlib.contextmanager
def small_pixel_limit() -> Iterator[None]:
    """Keep mutated headers from asking for huge (but legal) images."""
    saved = Image.MAX_IMAGE_PIXELS
    mediaref_pil.set_max_pixels(10_000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def decode_or_documented_error(data: bytes, format: str) -> None:
    with small_pixel_limit():
        try:
            out = mediaref_pil.decode_image(data, format=format, uri="fuzz.bin")
        except UndecodableMediaError as e:
            error: UndecodableMediaError | None = e
        else:
            error = None
    if error is not None:
        assert error.uri == "fuzz.bin"
        return
    assert out.dtype == np.uint8
    assert out.ndim == (2 if format == "gray" else 3)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["rgb", "bgra", "gray"]))
def test_arbitrary_bytes_raise_only_undecodable_media(data: bytes, format: str) -> None:
    decode_or_documented_error(data, format)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(1, 10_000),
    st.sampled_from(["rgb", "rgba", "gray"]),
)
def test_mutated_and_truncated_images_raise_only_undecodable_media(
    fmt: str, flips: list[tuple[int, int]], keep: int, format: str
) -> None:
    data = bytearray(SAMPLES[fmt])
    for pos, value in flips:
        data[pos % len(data)] = value
    decode_or_documented_error(bytes(data[:keep]), format)
