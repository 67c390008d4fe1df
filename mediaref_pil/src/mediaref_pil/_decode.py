"""Encoded image bytes to arrays: EXIF orientation, Pillow modes, output channel orders.

Pillow and numpy are imported on the first decode, not when this module is imported.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Literal

from mediaref import ImageFormat, UndecodableMediaError, check_image_format

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from PIL import Image

__all__ = ["decode_image", "get_max_pixels", "set_max_pixels"]
"""The output channel orders `decode_image` accepts."""

_DTYPES = ("uint8", "native")
_TARGET_MODE = {"rgb": "RGB", "bgr": "RGB", "rgba": "RGBA", "bgra": "RGBA", "gray": "L"}
_ORIENTATION = 0x0112
# EXIF orientation -> the transposition that shows the picture upright (EXIF 2.3, 4.6.4).
# Pillow's ROTATE_90 is counter-clockwise.
_TRANSPOSE = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# Sniffed types that mean "this is a video, not a still image".
_VIDEO_TYPES = ("video/", "application/ogg")


def set_max_pixels(limit: int | None) -> None:
    """Set the largest image, in pixels (width x height), that is decoded.

    This is Pillow's own process-wide ``PIL.Image.MAX_IMAGE_PIXELS`` (default
    89,478,485, about 0.25 GiB of RGB), so setting either is the same. mediaref
    enforces it strictly: an image over the limit raises `UndecodableMediaError`
    before its pixels are decoded, where Pillow alone would only warn up to twice
    the limit.

    Args:
        limit: Pixels; `None` turns the protection off (only for trusted input).

    Raises:
        ValueError: `limit` is not a positive int or `None`.
    """
    if limit is not None and (type(limit) is not int or limit <= 0):
        raise ValueError(f"max pixels must be a positive int or None, got {limit!r}")
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = limit


def get_max_pixels() -> int | None:
    """Return the current decompression-bomb limit in pixels (`None`: no limit)."""
    from PIL import Image

    limit: int | None = Image.MAX_IMAGE_PIXELS
    return limit


def decode_image(
    data: bytes | bytearray | memoryview,
    *,
    format: ImageFormat = "rgb",
    uri: str = "<bytes>",
    dtype: Literal["uint8", "native"] = "uint8",
    max_size: tuple[int, int] | None = None,
    size: tuple[int, int] | None = None,
    layout: Literal["hwc", "chw"] = "hwc",
    **_other_backends_options: Any,
) -> NDArray[Any]:
    """Decode an encoded image (any format the installed Pillow reads) to an array.

    The array is what an image viewer shows: the EXIF orientation (all 8 values) is
    applied, palette, 1-bit, LA, CMYK, YCbCr and 16-bit images are converted, and
    animated images (GIF, APNG, WebP) give their first frame. Embedded ICC color
    profiles are not applied (pixel values are returned as stored), and CMYK uses
    Pillow's naive conversion.

    Args:
        data: The encoded bytes; read in place, without a copy (a `memoryview` or
            `bytearray` is copied once).
        format: Channel order: ``"rgb"`` or ``"bgr"`` give ``(H, W, 3)`` (an
            alpha channel is dropped, not composited);
            ``"rgba"`` or ``"bgra"`` give ``(H, W, 4)`` with the image's alpha, or
            fully opaque (255, or 65535 for ``uint16``) where it has none;
            ``"gray"`` gives ``(H, W)`` luma with the ITU-R 601-2 weights
            ``L = R * 299/1000 + G * 587/1000 + B * 114/1000`` (alpha is ignored,
            not composited).
        uri: Where the bytes come from, for error messages.
        dtype: ``"uint8"`` (default) reduces 16-bit images to 8 bits by keeping the
            high byte (``v >> 8``), as Pillow does for 16-bit color PNGs and OpenCV
            for all; ``"native"`` returns ``uint16`` for 16-bit grayscale images
            (16-bit PNG, ``I;16`` TIFF; 32-bit integer images are clipped to
            0-65535) in every `format`, and ``uint8`` for all others (Pillow reads
            16-bit color images as 8-bit).
        max_size: ``(width, height)`` to fit the result in, keeping the aspect ratio
            and never enlarging. JPEGs are then decoded at a reduced DCT scale
            (Pillow's ``draft``) before the final resample, which is much faster;
            other formats are decoded whole and resampled. Without it nothing is
            resized.
        size: ``(height, width)`` of the result: the image as shown is resampled to it
            (box filter when shrinking, bicubic when enlarging); exclusive with
            `max_size`.
        layout: ``"hwc"`` (default) or ``"chw"``: channels first, ``(C, H, W)`` (gray
            ``(1, H, W)``).
        **_other_backends_options: Options meant for other backends in the same
            `batch_decode` call (e.g. video decoder options); ignored.

    Returns:
        A C-contiguous, writable array of the shape and dtype described above.

    Raises:
        ValueError: Unknown `format` or `dtype`, or a malformed `max_size`.
        UndecodableMediaError: The bytes are corrupt, truncated, not an image
            (a video is named as such: give ``pts_ns`` to decode its frames), or
            larger than the pixel limit (see `set_max_pixels`). The message names
            `uri` and what Pillow said.
    """
    check_image_format(format)
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: 'uint8', 'native'")
    if max_size is not None:
        max_size = _check_size(max_size)
    if size is not None:
        size = _check_size(size, "size", "(height, width)")
        if max_size is not None:
            raise ValueError("give size or max_size, not both")
    if layout not in ("hwc", "chw"):
        raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as e:
        raise _not_an_image(data, uri) from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UndecodableMediaError(
            f"image is over the pixel limit, a possible decompression bomb ({e}); "
            "raise the limit with mediaref_pil.set_max_pixels()",
            uri=uri,
        ) from e
    except Exception as e:
        raise _failed(e, uri) from e
    with im:
        _check_pixels(im, uri)
        try:
            return _laid_out(_to_array(im, format, dtype, max_size, size), layout)
        except (MemoryError, UndecodableMediaError):
            raise
        except Exception as e:
            raise _failed(e, uri) from e


def _check_size(
    value: object, name: str = "max_size", order: str = "(width, height)"
) -> tuple[int, int]:
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(type(v) is int and v > 0 for v in value)
    )
    if not ok:
        raise ValueError(f"{name} must be {order} positive ints, got {value!r}")
    return (value[0], value[1])  # type: ignore[index]


def _check_pixels(im: Image.Image, uri: str) -> None:
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    width, height = im.size
    if limit is not None and width * height > limit:
        err = UndecodableMediaError(
            f"image is {width}x{height} = {width * height} pixels, over the limit of "
            f"{limit} (a possible decompression bomb); raise the limit with "
            "mediaref_pil.set_max_pixels()",
            uri=uri,
        )
        err.width, err.height, err.max_pixels = width, height, limit  # type: ignore[attr-defined]
        raise err


def _failed(e: Exception, uri: str) -> UndecodableMediaError:
    return UndecodableMediaError(
        f"Failed to load image: corrupt or truncated, Pillow says {type(e).__name__}: {e}",
        uri=uri,
    )


def _not_an_image(data: bytes | bytearray | memoryview, uri: str) -> UndecodableMediaError:
    from mediaref import sniff_mimetype

    mime = sniff_mimetype(bytes(data[:16]), uri)
    if mime.startswith(_VIDEO_TYPES):
        return UndecodableMediaError(
            f"Failed to load image: the content looks like {mime}, not a still image; "
            "give pts_ns to decode a video frame",
            uri=uri,
        )
    return UndecodableMediaError(
        f"Failed to load image: not a format Pillow reads (content looks like {mime}, "
        f"{len(data)} bytes)",
        uri=uri,
    )


def _laid_out(arr: NDArray[Any], layout: str) -> NDArray[Any]:
    if layout == "hwc":
        return arr
    import numpy as np

    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def _resized(im: Image.Image, size: tuple[int, int] | None) -> Image.Image:
    if size is None or (size[1], size[0]) == im.size:
        return im
    from PIL import Image

    h, w = size
    shrink = w <= im.width and h <= im.height
    return im.resize((w, h), Image.Resampling.BOX if shrink else Image.Resampling.BICUBIC)


def _to_array(
    im: Image.Image,
    format: str,
    dtype: str,
    max_size: tuple[int, int] | None,
    size: tuple[int, int] | None = None,
) -> NDArray[Any]:
    import numpy as np
    from PIL import Image

    draft = max_size is not None and im.format in ("JPEG", "MPO")
    if not draft:
        # Load before reading EXIF: PNG may keep it after the pixels, and a corrupt
        # file must fail here, not inside the EXIF reader below.
        im.load()
    orientation = _orientation(im)
    if max_size is not None:
        width, height = max_size
        if orientation >= 5:
            width, height = height, width  # the size is asked for the picture as shown
        im.thumbnail((width, height))  # uses JPEG draft (DCT scaling) before resampling
    if orientation != 1:
        im = im.transpose(Image.Transpose[_TRANSPOSE[orientation]])
    if im.mode in _SIXTEEN_BIT:
        return _sixteen_bit(_resized(im, size), format, dtype)
    target = _TARGET_MODE[format]
    if im.mode == "P" and "transparency" in im.info:
        # Pillow warns when a palette with transparency is converted to anything but RGBA.
        im = im.convert("RGBA")
    if im.mode != target:
        try:
            im = im.convert(target)
        except ValueError:  # e.g. LAB or HSV to L: go through RGB
            im = im.convert("RGB").convert(target)
    arr = np.asarray(_resized(im, size))
    if format == "bgr":
        return np.ascontiguousarray(arr[..., ::-1])
    if format == "bgra":
        return np.ascontiguousarray(arr[..., [2, 1, 0, 3]])
    return arr if arr.flags.writeable else arr.copy()


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(_ORIENTATION, 1)
    except Exception:  # a malformed EXIF block: show the picture as stored, as viewers do
        return 1
    return value if type(value) is int and 1 <= value <= 8 else 1


def _sixteen_bit(im: Image.Image, format: str, dtype: str) -> NDArray[Any]:
    import numpy as np

    raw = np.asarray(im)
    # Mode I holds 32-bit integers: keep the 16-bit range. astype also turns I;16B native.
    gray = (np.clip(raw, 0, 0xFFFF) if im.mode == "I" else raw).astype(np.uint16)
    transparent = im.info.get("transparency")
    alpha_mask = gray == transparent if isinstance(transparent, int) else None
    out: np.ndarray[Any, Any] = gray
    top = 0xFFFF
    if dtype == "uint8":
        out = (gray >> 8).astype(np.uint8)
        top = 0xFF
    if format == "gray":
        return out
    channels = [out, out, out]
    if format in ("rgba", "bgra"):
        alpha = np.full_like(out, top)
        if alpha_mask is not None:
            alpha[alpha_mask] = 0
        channels.append(alpha)
    return np.stack(channels, axis=-1)
