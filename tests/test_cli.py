from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from mediaref import MediaRef
from tests.conftest import need


def mediaref_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mediaref._cli", *args], capture_output=True, text=True, timeout=120
    )


def test_plugins_lists_each_plugin_and_what_it_provides() -> None:
    out = mediaref_cli("plugins")
    assert out.returncode == 0, out.stderr
    assert "pil: mediaref-pil 0.1.0\n  image decoders: pil\n  image encoders: pil" in out.stdout
    assert "pyav: mediaref-av 0.1.0\n  video decoders: pyav" in out.stdout
    assert "builtin: mediaref-core 0.1.0\n  opens sources" in out.stdout


def test_demo_makes_media_references_and_decodes_them(tmp_path: Path) -> None:
    need("av")
    out = mediaref_cli("demo", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "batch_decode: 14 frames of shape (180, 320, 3), dtype uint8" in out.stdout
    assert "decoded the data URI back: identical pixels = True" in out.stdout
    frame = MediaRef(str(tmp_path / "sample.mp4"), 1_050_000_000).to_ndarray()
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "frame.png")), frame)


def test_probe_and_decode(tmp_path: Path) -> None:
    need("av")
    assert mediaref_cli("demo", "--dir", str(tmp_path)).returncode == 0
    video = str(tmp_path / "sample.mp4")
    probe = mediaref_cli("probe", video)
    assert probe.returncode == 0, probe.stderr
    assert "num_frames: 100\n" in probe.stdout
    assert "begin_ns: 0\nend_ns: 5000000000\n" in probe.stdout
    dec = mediaref_cli("decode", video, "0", "2500000000", "-o", str(tmp_path / "out"))
    assert dec.returncode == 0, dec.stderr
    for t in (0, 2_500_000_000):
        saved = np.asarray(Image.open(tmp_path / "out" / f"{t}.png"))
        np.testing.assert_array_equal(saved, MediaRef(video, t).to_ndarray())


def test_errors_are_one_line_and_exit_1(tmp_path: Path) -> None:
    out = mediaref_cli("decode", str(tmp_path / "missing.mp4"), "0")
    assert out.returncode == 1
    assert (
        out.stderr == f"mediaref: error: no such file ('{tmp_path / 'missing.mp4'}' at pts_ns=0)\n"
    )
