"""mediaref-pil: the Pillow image backend of mediaref (decoding and `DataURI.from_image`).

Installed, it is found through the ``mediaref`` entry point ``pil``; use it through
``MediaRef.to_ndarray``, ``batch_decode`` and ``DataURI.from_image``, or call
`decode_image` and `encode_image` directly; `ContactSheet` draws a grid of labelled
thumbnails (``mediaref decode --sheet``). Importing it does not import Pillow.
"""

from ._decode import decode_image, get_max_pixels, set_max_pixels
from ._encode import encode_image
from ._sheet import ContactSheet

__version__ = "0.1.0"

__all__ = [
    "ContactSheet",
    "__version__",
    "decode_image",
    "encode_image",
    "get_max_pixels",
    "set_max_pixels",
]
