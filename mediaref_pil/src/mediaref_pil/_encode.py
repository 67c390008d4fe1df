"""Arrays and PIL images to encoded bytes, for `mediaref.DataURI.from_image`.

Pillow and numpy are imported on the first encode, not when this module is imported.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from mediaref import IMAGE_FORMATS, ImageFormat

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ENCODE_FORMATS", "encode_image"]

_MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
}
_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
ENCODE_FORMATS = tuple(_MIME)
"""The formats `encode_image` writes (``"jpg"`` and ``"tif"`` are accepted as aliases)."""

_CHANNELS = IMAGE_FORMATS
# A 4-channel array named by its colour order alone is read with alpha, as mediaref 0.4.4 did.
_WITH_ALPHA = {"rgb": "rgba", "bgr": "bgra"}
# Modes each format stores as they are; anything else is converted first.
_KEEPS = {
    "png": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "jpeg": {"L", "RGB", "CMYK"},
    "webp": {"RGB", "RGBA"},
    "bmp": {"1", "L", "P", "RGB"},
    "tiff": {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"},
}
_HAS_ALPHA = {"LA", "La", "PA", "RGBA", "RGBa"}


def encode_image(
    image: Any,
    *,
    format: str = "png",
    quality: int | None = None,
    input_format: ImageFormat = "rgb",
) -> tuple[bytes, str]:
    """Encode an array or a PIL image; return the bytes and their MIME type.

    Args:
        image: A PIL image (its mode says the channels; `input_format` is ignored) or
            a numpy array: ``(H, W, 3)`` for ``rgb``/``bgr``,
            ``(H, W, 4)`` for ``rgba``/``bgra``, ``(H, W)`` or ``(H, W, 1)`` for
            ``gray``, all ``uint8``; a 2-D array is gray whatever `input_format`
            says unless it asks for alpha. A 2-D ``uint16`` array is written as
            16-bit grayscale by ``png`` and ``tiff``.
        format: ``"png"`` (lossless, keeps alpha: a bit-exact round trip),
            ``"jpeg"``/``"jpg"`` (lossy, alpha dropped), ``"webp"`` (lossy at
            `quality`, keeps alpha), ``"bmp"`` (lossless, alpha dropped) or
            ``"tiff"``/``"tif"`` (lossless, keeps alpha).
        quality: 1-100 for ``jpeg`` and ``webp`` (Pillow's defaults, 75 and 80,
            when `None`); checked, then ignored, for the lossless formats.
        input_format: Channel order of an array: ``rgb``, ``bgr``, ``rgba``,
            ``bgra`` or ``gray``.

    Returns:
        ``(encoded bytes, MIME type)``, e.g. ``(png_bytes, "image/png")``.

    Raises:
        ValueError: Unknown `format` or `input_format`, `quality` outside 1-100, or
            an array whose shape or dtype does not fit `input_format`.
        TypeError: `image` is neither an array nor a PIL image.
    """
    fmt = _ALIASES.get(str(format).lower(), str(format).lower())
    if fmt not in _MIME:
        raise ValueError(
            f"unknown image format {format!r} to encode; valid: "
            + ", ".join(map(repr, ENCODE_FORMATS))
            + " (and 'jpg', 'tif')"
        )
    if quality is not None and (type(quality) is not int or not 1 <= quality <= 100):
        raise ValueError(f"quality must be an int in 1-100, got {quality!r}")
    from PIL import Image

    if isinstance(image, Image.Image):
        _check_input_format(input_format)
        im = image
    else:
        im = _from_array(image, input_format)
    im = _fit_mode(im, fmt)
    params: dict[str, Any] = {}
    if quality is not None and fmt in ("jpeg", "webp"):
        params["quality"] = quality
    buf = io.BytesIO()
    im.save(buf, format=fmt.upper(), **params)
    return buf.getvalue(), _MIME[fmt]


def _from_array(image: Any, input_format: str) -> Image.Image:
    import numpy as np
    from PIL import Image

    if not hasattr(image, "__array_interface__") and not hasattr(image, "__array__"):
        raise TypeError(f"image must be a numpy array or a PIL image, got {type(image).__name__}")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] == 4:
        input_format = _WITH_ALPHA.get(input_format, input_format)
    want = _CHANNELS.get(input_format, 0)
    if arr.ndim == 3 and arr.shape[2] in (3, 4) and arr.shape[2] != want and want != 1:
        valid = "'rgb' or 'bgr'" if arr.shape[2] == 3 else "'rgb', 'bgr', 'rgba', or 'bgra'"
        raise ValueError(
            f"Invalid input_format {input_format!r} for {arr.shape[2]}-channel array; "
            f"must be {valid}"
        )
    _check_input_format(input_format)
    if arr.ndim == 2 and want == 4:
        raise ValueError(
            f"input_format={input_format!r} needs an (H, W, 4) array, got shape {arr.shape}"
        )
    if arr.ndim == 2:
        if arr.dtype != np.uint16:
            _check_uint8(arr)
        elif arr.size == 0:
            raise ValueError(f"image array is empty, shape {arr.shape}")
        return Image.fromarray(np.ascontiguousarray(arr))  # L, or I;16 for uint16
    if arr.ndim != 3 or arr.shape[2] != want or min(arr.shape[:2]) == 0:
        shape = "(H, W) or (H, W, 1)" if want == 1 else f"(H, W, {want})"
        raise ValueError(
            f"input_format={input_format!r} needs a non-empty {shape} array, got shape {arr.shape}"
        )
    _check_uint8(arr)
    if input_format == "bgr":
        arr = arr[:, :, ::-1]
    elif input_format == "bgra":
        arr = arr[:, :, [2, 1, 0, 3]]
    return Image.fromarray(np.ascontiguousarray(arr))  # RGB or RGBA, from the shape


def _check_input_format(input_format: str) -> None:
    if input_format not in _CHANNELS:
        raise ValueError(
            f"unknown input_format {input_format!r}; valid: " + ", ".join(map(repr, _CHANNELS))
        )


def _check_uint8(arr: Any) -> None:
    import numpy as np

    if arr.dtype != np.uint8:
        raise ValueError(
            f"image arrays must be uint8 (or 2-D uint16 for png/tiff), got {arr.dtype}"
        )
    if arr.size == 0:
        raise ValueError(f"image array is empty, shape {arr.shape}")


def _fit_mode(im: Image.Image, fmt: str) -> Image.Image:
    if im.mode in _KEEPS[fmt]:
        return im
    if im.mode == "I;16" or im.mode.startswith("I;16"):
        if fmt in ("png", "tiff"):
            return im.convert("I;16")
        raise ValueError(f"{fmt} cannot store 16-bit images; use png or tiff, or pass uint8")
    alpha = im.mode in _HAS_ALPHA or (im.mode == "P" and "transparency" in im.info)
    gray = im.mode in ("L", "LA", "La", "1")
    if fmt in ("jpeg", "bmp"):
        return im.convert("L" if gray else "RGB")
    if fmt == "webp":
        return im.convert("RGBA" if alpha else "RGB")
    if gray:
        return im.convert("LA" if alpha else "L")
    return im.convert("RGBA" if alpha else "RGB")
