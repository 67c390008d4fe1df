"""Test-pattern H.264 clips as the ffmpeg command writes them by default, cached in bench/.cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"


def ffmpeg_h264(width: int, height: int, seconds: int, rate: int = 30) -> Path:
    """Return (making it once) an MP4 of ffmpeg's testsrc2 with libx264's defaults."""
    path = CACHE / f"testsrc2_h264_{width}x{height}_{rate}fps_{seconds}s.mp4"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        source = f"testsrc2=size={width}x{height}:rate={rate}:duration={seconds}"
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                source,
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                str(path),
            ],
            check=True,
        )
    return path
