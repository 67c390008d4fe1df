from __future__ import annotations

import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pil_media import encode, random_image

from mediaref import DataURI, MediaRef, SourceNotFoundError, batch_decode


@pytest.fixture
def png(rgba: NDArray[np.uint8]) -> bytes:
    return encode(Image.fromarray(rgba), "PNG")


def test_path(tmp_path: Path, png: bytes, rgba: NDArray[np.uint8]) -> None:
    (tmp_path / "a.png").write_bytes(png)
    np.testing.assert_array_equal(MediaRef(uri=str(tmp_path / "a.png")).to_ndarray("rgba"), rgba)


def test_file_uri_with_percent_encoded_characters(
    tmp_path: Path, png: bytes, rgba: NDArray[np.uint8]
) -> None:
    (tmp_path / "my image 100%.png").write_bytes(png)
    uri = "file://" + urllib.parse.quote(str(tmp_path / "my image 100%.png"))
    assert uri.endswith("/my%20image%20100%25.png")
    np.testing.assert_array_equal(MediaRef(uri=uri).to_ndarray("rgba"), rgba)


def test_data_uri(png: bytes, rgba: NDArray[np.uint8]) -> None:
    uri = str(DataURI.from_bytes(png, "image/png"))
    assert uri.startswith("data:image/png;base64,")
    np.testing.assert_array_equal(MediaRef(uri=uri).to_ndarray("rgba"), rgba)


def test_http_url_on_loopback(
    http_dir: tuple[Path, str], png: bytes, rgba: NDArray[np.uint8]
) -> None:
    root, base = http_dir
    (root / "pic 1.png").write_bytes(png)
    ref = MediaRef(uri=f"{base}/pic%201.png")
    np.testing.assert_array_equal(ref.to_ndarray("rgba"), rgba)
    with pytest.raises(SourceNotFoundError):
        MediaRef(uri=f"{base}/missing.png").to_ndarray()


def test_batch_decode_of_every_source_kind_keeps_input_order(
    tmp_path: Path, http_dir: tuple[Path, str]
) -> None:
    root, base = http_dir
    images = [random_image((3 + i, 4, 3), seed=20 + i) for i in range(4)]
    datas = [encode(Image.fromarray(a), "PNG") for a in images]
    (tmp_path / "p0.png").write_bytes(datas[0])
    (tmp_path / "p 1.png").write_bytes(datas[1])
    (root / "p2.png").write_bytes(datas[2])
    uris = [
        str(tmp_path / "p0.png"),
        "file://" + urllib.parse.quote(str(tmp_path / "p 1.png")),
        f"{base}/p2.png",
        str(DataURI.from_bytes(datas[3], "image/png")),
    ]
    order = [3, 0, 2, 1, 0]
    out = batch_decode([MediaRef(uri=uris[i]) for i in order], format="bgr")
    for got, i in zip(out, order, strict=True):
        np.testing.assert_array_equal(got, images[i][..., ::-1])
    assert out[1] is not out[4]  # the same source decoded once, then copied
