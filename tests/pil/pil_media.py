"""Recipes for test images, made with Pillow and numpy (no binaries in git)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image


def encode(im: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def random_image(shape: tuple[int, ...], seed: int = 0, dtype: Any = np.uint8) -> NDArray[Any]:
    top = 0xFFFF if dtype == np.uint16 else 0xFF
    return np.random.default_rng(seed).integers(0, top + 1, shape, dtype=dtype)


def smooth_rgb(height: int = 48, width: int = 64) -> NDArray[np.uint8]:
    """A gradient: lossy codecs reproduce it closely, unlike noise."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack(
        [x * 255 // (width - 1), y * 255 // (height - 1), (x + y) * 255 // (width + height - 2)],
        axis=-1,
    ).astype(np.uint8)
