from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import av
import numpy as np

from tests.media import Clip, make

_made: dict[str, Clip] = {}


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    def get(kind: str) -> Clip:
        if kind not in _made:
            _made[kind] = make(kind, tmp_path_factory.mktemp(kind))
        return _made[kind]

    return get


SECONDS, FPS, GOP = 25, 30, 60


def _encode(path: Path, faststart: bool) -> None:
    rng = np.random.default_rng(1)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as c:
        s = c.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": "ultrafast", "x264-params": f"keyint={GOP}:min-keyint={GOP}"},
        )
        s.width, s.height, s.pix_fmt, s.bit_rate = 640, 360, "yuv420p", 3_300_000
        base = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
        for i in range(SECONDS * FPS):
            a = np.roll(base, i * 3, axis=1)
            a[:, (i * 5) % 600 : (i * 5) % 600 + 40, 1] = 255  # each frame differs
            for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="session")
def big_mp4s(http_root: Path) -> dict[str, Path]:
    out = {"faststart": http_root / "big_faststart.mp4", "tail": http_root / "big_tail.mp4"}
    for kind, path in out.items():
        _encode(path, faststart=kind == "faststart")
    return out
