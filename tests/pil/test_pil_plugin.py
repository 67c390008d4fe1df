from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pil_media import encode

import mediaref
import mediaref_pil
from mediaref import MediaRef, batch_decode


def test_plugin_declares_itself_with_its_formats() -> None:
    (info,) = [p for p in mediaref.plugins() if p.name == "pil"]
    assert info.distribution == "mediaref-pil"
    assert info.error is None
    assert info.image_backends == ("pil",)
    assert info.image_encoders == ("pil",)
    assert {"image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff"} <= set(info.formats)
    # The decoder routes on no declared type: Pillow identifies content itself and reads
    # more than READ_FORMATS names, so it takes every image no higher priority claims.
    (backend,) = mediaref_pil._plugin.mediaref_image_backends()
    assert (backend.formats, backend.schemes, backend.accepts) == ((), (), None)
    assert [o.name for o in backend.options] == ["dtype", "max_size", "size", "layout"]


def test_every_declared_read_format_is_readable_by_this_pillow() -> None:
    from mediaref_pil._plugin import READ_FORMATS

    Image.init()
    readable = {mime for fmt, mime in Image.MIME.items() if fmt in Image.OPEN}
    assert set(READ_FORMATS) <= readable


def test_importing_the_plugin_and_describing_it_imports_neither_pillow_nor_numpy() -> None:
    code = (
        "import sys, mediaref_pil._plugin as p\n"
        "p.mediaref_image_backends(); p.mediaref_image_encoders()\n"
        "print(sorted({'numpy', 'PIL'} & sys.modules.keys()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_sorted_and_complete() -> None:
    assert mediaref_pil.__all__ == sorted(mediaref_pil.__all__)
    assert set(mediaref_pil.__all__) == {
        "ContactSheet",
        "__version__",
        "decode_image",
        "encode_image",
        "get_max_pixels",
        "set_max_pixels",
    }
    assert mediaref_pil.__version__ == mediaref.__version__


@pytest.mark.usefixtures("fresh_plugins")
def test_higher_priority_third_party_plugin_is_chosen(
    monkeypatch: pytest.MonkeyPatch, write: Callable[..., str], rgb: NDArray[np.uint8]
) -> None:
    path = write(encode(Image.fromarray(rgb), "PNG"))
    np.testing.assert_array_equal(MediaRef(uri=path).to_ndarray(), rgb)
    monkeypatch.setenv("MEDIAREF_FAKE_PRIORITY", "1000")
    mediaref._plugins.reset_plugins()
    fake = np.full((2, 2, 3), 7, np.uint8)
    np.testing.assert_array_equal(MediaRef(uri=path).to_ndarray(), fake)
    np.testing.assert_array_equal(batch_decode([MediaRef(uri=path)])[0], fake)
    # Named explicitly, this backend is still used.
    np.testing.assert_array_equal(MediaRef(uri=path).to_ndarray(decoder="pil"), rgb)
