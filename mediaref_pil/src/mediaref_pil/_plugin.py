"""The ``pil`` entry point of the ``mediaref`` group: hook implementations only.

Importing this module is cheap: Pillow and numpy arrive with the first decode or encode.
"""

from __future__ import annotations

from typing import Any

from mediaref import ImageBackend, ImageEncoder, ImageFormat, Option, hookimpl

__all__ = [
    "OPTIONS",
    "mediaref_image_backends",
    "mediaref_image_encoders",
    "mediaref_to_pil_image",
]

PRIORITY = 100
"""Third-party image plugins with a higher priority are chosen over this one."""

READ_FORMATS = (
    "image/avif",
    "image/bmp",
    "image/gif",
    "image/jp2",
    "image/jpeg",
    "image/png",
    "image/tiff",
    "image/webp",
    "image/x-icon",
    "image/x-portable-anymap",
    "image/x-tga",
)
"""What a standard Pillow wheel reads, as MIME types (AVIF needs Pillow 11.2 or later).

Static so that listing plugins does not import Pillow; Pillow also reads other,
rarer formats (PSD, PCX, SGI, QOI, DDS, ...), which are decoded too.
"""

OPTIONS = (
    Option(
        name="dtype",
        type='Literal["uint8", "native"]',
        default="uint8",
        help='"native": uint16 arrays for 16-bit grayscale images; "uint8": the high byte',
    ),
    Option(
        name="max_size",
        type="tuple[int, int] | None",
        default=None,
        help="(width, height) to fit the image in, keeping its aspect ratio; JPEGs decode faster",
    ),
    Option(
        name="size",
        type="tuple[int, int] | None",
        default=None,
        help="(height, width) of the returned image, resized from the image as shown",
    ),
    Option(
        name="layout",
        type='Literal["hwc", "chw"]',
        default="hwc",
        help='"chw": channels first, (C, H, W), as PyTorch models take',
    ),
)
"""What `decode_image` takes as keyword options, declared for routing and listing."""

WRITE_FORMATS = ("image/bmp", "image/jpeg", "image/png", "image/tiff", "image/webp")


def _decode(
    data: bytes | memoryview, *, format: ImageFormat = "rgb", uri: str = "", **options: Any
) -> Any:
    from ._decode import decode_image

    return decode_image(data, format=format, uri=uri, **options)


def _encode(image: Any, **options: Any) -> tuple[bytes, str]:
    from ._encode import encode_image

    return encode_image(image, **options)


@hookimpl
def mediaref_image_backends() -> list[ImageBackend]:
    """Describe the Pillow image decoder ``pil``."""
    return [
        ImageBackend(
            name="pil",
            decode=_decode,
            priority=PRIORITY,
            # Pillow identifies content itself and reads more than READ_FORMATS names
            # (PSD, PCX, QOI...): it takes every image a higher priority does not.
            options=OPTIONS,
            description="Pillow: PNG, JPEG, WebP, GIF, BMP, TIFF and more; EXIF orientation",
        )
    ]


@hookimpl
def mediaref_image_encoders() -> list[ImageEncoder]:
    """Describe the Pillow image encoder ``pil`` (PNG, JPEG, WebP, BMP, TIFF)."""
    return [
        ImageEncoder(
            name="pil",
            encode=_encode,
            priority=PRIORITY,
            formats=WRITE_FORMATS,
            description="Pillow: PNG (lossless, alpha), JPEG, WebP, BMP, TIFF",
        )
    ]


@hookimpl
def mediaref_to_pil_image(array: Any) -> Any:
    """Wrap a decoded array as a PIL image (mode L, RGB or RGBA from its shape)."""
    from PIL import Image

    return Image.fromarray(array)
