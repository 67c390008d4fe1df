"""Images made by the tests with Pillow and numpy, and a loopback HTTP server."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from pil_media import random_image

from mediaref import _plugins


@pytest.fixture
def rgb() -> NDArray[np.uint8]:
    """An asymmetric 5x7 RGB image: every orientation gives a different array."""
    return random_image((5, 7, 3), seed=1)


@pytest.fixture
def rgba() -> NDArray[np.uint8]:
    return random_image((5, 7, 4), seed=2)


@pytest.fixture
def write(tmp_path: Path) -> Any:
    """Write bytes to a file in a temp dir and return its path as a string."""

    def _write(data: bytes, name: str = "image.png") -> str:
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    return _write


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    _plugins.reset_plugins()
    yield
    _plugins.reset_plugins()


@pytest.fixture
def pixel_limit() -> Iterator[None]:
    """Restore Pillow's decompression-bomb limit after a test changes it."""
    saved = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = saved


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Serve a temp dir on loopback; yield ``(directory, base URL)``."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
