"""Test-pattern clips as the ffmpeg command writes them by default, cached in bench/.cache.

Each recipe is the command line the common tools use (ffmpeg's defaults, LeRobot's AV1
options, the ffmpeg wiki's VP9 recommendation), run on ffmpeg's ``testsrc2`` pattern.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CACHE = Path(__file__).parent / ".cache"

RECIPES: dict[str, tuple[str, tuple[str, ...]]] = {
    # x264's defaults: B-frames (3, adaptive), GOP up to 250, one slice (frame threads).
    "h264": ("mp4", ("-c:v", "libx264", "-pix_fmt", "yuv420p")),
    # x265's defaults: GOP up to 250, 4 B-frames, wavefront (WPP) entry points.
    "hevc": ("mp4", ("-c:v", "libx265", "-pix_fmt", "yuv420p")),
    # LeRobot's encode_video_frames: libsvtav1, g=2, crf=30, yuv420p.
    "av1": ("mp4", ("-c:v", "libsvtav1", "-g", "2", "-crf", "30", "-pix_fmt", "yuv420p")),
    # The ffmpeg wiki's constant-quality VP9 (libvpx-vp9 otherwise defaults to 256 kb/s).
    "vp9": ("webm", ("-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "31", "-pix_fmt", "yuv420p")),
}
"""Codec -> (container, the ffmpeg output options)."""


def ffmpeg_clip(codec: str, width: int, height: int, seconds: int, rate: int = 30) -> Path:
    """Return (making it once) a clip of ffmpeg's testsrc2 encoded by the `codec` recipe."""
    ext, options = RECIPES[codec]
    path = CACHE / f"testsrc2_{codec}_{width}x{height}_{rate}fps_{seconds}s.{ext}"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        source = f"testsrc2=size={width}x{height}:rate={rate}:duration={seconds}"
        part = path.with_suffix(".part" + path.suffix)
        cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, *options]
        subprocess.run([*cmd, str(part)], check=True)
        part.rename(path)  # an interrupted encode leaves no clip that looks finished
    return path


def ffmpeg_h264(width: int, height: int, seconds: int, rate: int = 30) -> Path:
    """Return an MP4 of ffmpeg's testsrc2 with libx264's defaults (the ``h264`` recipe)."""
    return ffmpeg_clip("h264", width, height, seconds, rate)
