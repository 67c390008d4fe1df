"""Test media made with PyAV encoders, checked against `mediaref.testing`'s oracle.

Every clip is small (128x72, a few seconds at most) so the suite stays fast on 2 cores.
Each frame shows its own index (a moving bar and a per-frame colour), so a wrong frame
never looks like the right one. The oracle (`mediaref.testing.decode_sequentially`)
decodes the whole file sequentially with PyAV, converts every frame with
``frame.to_ndarray`` and selects frames with `mediaref.timeline`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from mediaref.testing import Clip, decode_sequentially, picture
from mediaref.testing import encode as kit_encode

W, H = 128, 72


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(ok: bool, what: str) -> None:
    """Skip when `what` is missing locally; fail under ``CI=true``, where every case must run."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not available")


def need_encoder(name: str) -> None:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        need(False, f"encoder {name}")


def need_ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    need(exe is not None, "the ffmpeg command")
    assert exe is not None
    return exe


def encode(path: Path, codec: str, **options: Any) -> Path:
    """`mediaref.testing.encode`, skipped (failed in CI) when this PyAV lacks the encoder."""
    need_encoder(codec)
    return kit_encode(path, codec, **options)


X264 = "scenecut=0:log-level=none"


def make(kind: str, directory: Path) -> Clip:
    """Make the clip `kind` in `directory` and run the oracle on it."""
    p = directory
    rotate = 0
    notes: dict[str, Any] = {}
    if kind == "h264_bframes_mp4":
        f = encode(
            p / "bframes.mp4",
            "libx264",
            n=50,
            options={"x264-params": f"keyint=12:min-keyint=12:bframes=3:{X264}"},
        )
    elif kind == "h264_slices_mp4":  # 4 slices per picture: decoded with slice threads
        f = encode(
            p / "slices.mp4",
            "libx264",
            n=50,
            options={"x264-params": f"slices=4:keyint=12:min-keyint=12:bframes=3:{X264}"},
        )
    elif kind == "h264_slices_ts":  # the same in Annex B
        f = encode(
            p / "slices.ts",
            "libx264",
            n=50,
            options={"x264-params": f"slices=3:open-gop=1:keyint=10:bframes=2:{X264}"},
        )
    elif kind == "h264_open_gop_mkv":
        f = encode(
            p / "opengop.mkv",
            "libx264",
            n=50,
            options={"x264-params": f"open-gop=1:keyint=10:min-keyint=10:bframes=3:{X264}"},
        )
    elif kind == "h264_open_gop_mp4":
        f = encode(
            p / "opengop.mp4",
            "libx264",
            n=50,
            options={"x264-params": f"open-gop=1:keyint=10:min-keyint=10:bframes=3:{X264}"},
        )
    elif kind == "hevc_mkv":
        f = encode(
            p / "hevc.mkv",
            "libx265",
            n=45,
            options={"x265-params": "keyint=15:min-keyint=15:bframes=3:log-level=error"},
        )
    elif kind == "hevc_every_packet_key_mkv":
        f = encode(
            p / "hevc_allkey.mkv",
            "libx265",
            n=45,
            options={"x265-params": "keyint=15:min-keyint=15:bframes=3:log-level=error"},
            mark_all_key=True,
        )
    elif kind == "hevc_open_gop_ts":
        f = encode(
            p / "hevc.ts",
            "libx265",
            n=30,
            options={"x265-params": "keyint=10:min-keyint=10:bframes=3:log-level=error"},
        )
    elif kind == "h264_every_packet_key_nut":
        f = encode(
            p / "h264_allkey.nut",
            "libx264",
            n=40,
            options={"x264-params": f"keyint=12:min-keyint=12:bframes=3:{X264}"},
            mark_all_key=True,
        )
    elif kind == "hevc_10bit_mkv":
        f = encode(
            p / "hevc10.mkv",
            "libx265",
            n=30,
            pix_fmt="yuv420p10le",
            options={"x265-params": "keyint=10:bframes=2:log-level=error"},
        )
    elif kind == "av1_mkv":
        f = encode(
            p / "av1.mkv",
            "libsvtav1",
            n=30,
            options={"preset": "12", "svtav1-params": "keyint=10"},
        )
    elif kind == "vp9_webm":
        f = encode(
            p / "vp9.webm",
            "libvpx-vp9",
            n=30,
            gop=10,
            options={"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
        )
    elif kind == "mpeg4_mp4":
        f = encode(p / "mpeg4.mp4", "mpeg4", n=40, gop=12, max_b_frames=2)
    elif kind == "mpeg2_mpg":
        f = encode(p / "mpeg2.mpg", "mpeg2video", n=40, gop=12, max_b_frames=2, fmt="vob")
    elif kind == "mkv_sparse_keyframes":
        f = encode(
            p / "sparse.mkv",
            "libx264",
            n=75,
            options={"x264-params": f"keyint=200:min-keyint=200:bframes=2:{X264}"},
        )
    elif kind == "vfr_mp4":
        steps = [3000, 4500, 1500, 9000, 3003, 2997, 6000, 1000, 12000, 3000]
        ts = [0]
        for i in range(29):
            ts.append(ts[-1] + steps[i % len(steps)])
        f = encode(
            p / "vfr.mp4",
            "libx264",
            n=30,
            pts=ts,
            time_base=Fraction(1, 90000),
            options={"x264-params": f"keyint=8:bframes=2:{X264}"},
        )
    elif kind == "vfr_mkv":
        steps = [33, 50, 17, 100, 40, 41, 25]
        ts = [0]
        for i in range(29):
            ts.append(ts[-1] + steps[i % len(steps)])
        f = encode(
            p / "vfr.mkv",
            "libx264",
            n=30,
            pts=ts,
            time_base=Fraction(1, 1000),
            options={"x264-params": f"keyint=8:bframes=0:{X264}"},
        )
    elif kind == "h264_mpegts":
        f = encode(
            p / "h264.ts",
            "libx264",
            n=20,
            pts=[i * 3 for i in range(20)],
            time_base=Fraction(1, 75),
            options={"x264-params": f"keyint=8:bframes=2:{X264}"},
        )
    elif kind == "offset_10s_mkv":
        f = encode(
            p / "offset.mkv",
            "libx264",
            n=30,
            pts=[250 + i for i in range(30)],
            options={"x264-params": f"keyint=10:bframes=2:{X264}"},
        )
    elif kind == "offset_10s_mp4":
        f = encode(
            p / "offset.mp4",
            "libx264",
            n=30,
            pts=[250 + i for i in range(30)],
            options={"x264-params": f"keyint=10:bframes=2:{X264}"},
        )
    elif kind in ("epoch_pts_mkv", "epoch_pts_mp4"):
        # Wall-clock timestamps (Unix time, as recorders of robot and game sessions
        # write): ~1.76e18 ns, where float64 seconds are ~240 ns apart, so only exact
        # integer arithmetic selects the right frame at each frame's first ns and the
        # ns before it.
        mkv = kind == "epoch_pts_mkv"
        tb = Fraction(1, 1000) if mkv else Fraction(1, 90000)
        first, step = (1_764_650_000_123, 40) if mkv else (1_764_650_000_123 * 90 + 7, 3603)
        f = encode(
            p / ("epoch.mkv" if mkv else "epoch.mp4"),
            "libx264",
            n=30,
            pts=[first + i * step for i in range(30)],
            time_base=tb,
            options={"x264-params": f"keyint=10:bframes=2:{X264}"},
        )
    elif kind == "one_frame_mp4":
        f = encode(p / "one.mp4", "libx264", n=1)
    elif kind == "mjpeg_full_range_mkv":
        f = encode(p / "mjpeg.mkv", "mjpeg", n=20, pix_fmt="yuvj420p")
    elif kind == "h264_full_range_mp4":
        f = encode(
            p / "fullrange.mp4",
            "libx264",
            n=20,
            color_range=2,
            options={"x264-params": f"keyint=10:{X264}"},
        )
    elif kind == "h264_rotated_mp4":
        f = encode(
            p / "rotated.mp4",
            "libx264",
            n=20,
            rotation=90,
            options={"x264-params": f"keyint=10:{X264}"},
        )
        rotate = 1  # 90 degrees counter-clockwise in the display matrix
    elif kind == "mkv_cut_mid_gop":
        src = make("h264_bframes_mp4", p).path
        f = p / "cut.mkv"
        # Starts 5 packets into a GOP: the decoder drops what precedes the next keyframe.
        with av.open(str(src)) as i, av.open(str(f), "w") as o:
            s_in = i.streams.video[0]
            s_out = o.add_stream_from_template(s_in)
            for n, pkt in enumerate(i.demux(s_in)):
                if pkt.size and n >= 5:
                    pkt.stream = s_out
                    o.mux(pkt)
        notes["dropped_packets_before"] = 5
    elif kind == "mp4_edit_list":
        src = make("h264_bframes_mp4", p).path
        f = p / "editlist.mp4"
        ffmpeg = need_ffmpeg()
        # A stream-copy cut between keyframes: FFmpeg keeps the GOP's start as
        # discarded preroll and writes an edit list that starts at the cut.
        subprocess.run(
            [ffmpeg, "-v", "error", "-y", "-ss", "0.3", "-i", str(src), "-c", "copy", str(f)],
            check=True,
        )
    elif kind in FFMPEG_CLI:
        # As the common tools write them: the ffmpeg command's encoder defaults.
        ext, options = FFMPEG_CLI[kind]
        f = p / f"{kind}.{ext}"
        source = f"testsrc2=size={FFMPEG_CLI_SIZE.get(kind, '160x90')}:rate=30:duration=2"
        subprocess.run(
            [need_ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", source, *options, str(f)],
            check=True,
            env={**os.environ, "SVT_LOG": "1"},  # SVT-AV1: errors only
        )
    else:
        raise ValueError(kind)
    clip = decode_sequentially(f, rotate=rotate)
    clip.notes.update(notes)
    return clip


FFMPEG_CLI: dict[str, tuple[str, tuple[str, ...]]] = {
    # x265's defaults: one GOP here (keyint 250), B-frames, wavefront entry points.
    "hevc_ffmpeg_mp4": (
        "mp4",
        ("-c:v", "libx265", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"),
    ),
    # LeRobot's encode_video_frames: SVT-AV1, a keyframe every 2 frames, crf 30.
    "av1_lerobot_mp4": (
        "mp4",
        ("-c:v", "libsvtav1", "-g", "2", "-crf", "30", "-pix_fmt", "yuv420p"),
    ),
    # The ffmpeg wiki's constant-quality VP9.
    "vp9_ffmpeg_webm": (
        "webm",
        ("-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "31", "-pix_fmt", "yuv420p"),
    ),
    # The same, wide enough for libvpx's default two tile columns (512x96, 12 frames).
    "vp9_two_tiles_webm": (
        "webm",
        ("-frames:v", "12", "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "31", "-pix_fmt", "yuv420p"),
    ),
}
"""Clips made by the ffmpeg command line as the world makes them: kind -> (ext, options)."""
FFMPEG_CLI_SIZE = {"vp9_two_tiles_webm": "512x96"}
"""Kinds not made at 160x90."""

KINDS = [
    "h264_bframes_mp4",
    "h264_slices_mp4",
    "h264_slices_ts",
    "h264_open_gop_mkv",
    "h264_open_gop_mp4",
    "hevc_mkv",
    "hevc_every_packet_key_mkv",
    "hevc_open_gop_ts",
    "h264_every_packet_key_nut",
    "hevc_10bit_mkv",
    "av1_mkv",
    "vp9_webm",
    "mpeg4_mp4",
    "mpeg2_mpg",
    "mkv_sparse_keyframes",
    "vfr_mp4",
    "vfr_mkv",
    "h264_mpegts",
    "offset_10s_mkv",
    "offset_10s_mp4",
    "epoch_pts_mkv",
    "epoch_pts_mp4",
    "one_frame_mp4",
    "mjpeg_full_range_mkv",
    "h264_full_range_mp4",
    "h264_rotated_mp4",
    "mp4_edit_list",
    "mkv_cut_mid_gop",
    *FFMPEG_CLI,
]


def make_audio(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        for i in range(20):
            f = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            f.sample_rate = 44100
            f.pts = i * 1024
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    return path


def make_png(path: Path) -> Path:
    with av.open(str(path), "w", format="image2") as c:
        s = c.add_stream("png", rate=1)
        s.width, s.height, s.pix_fmt = W, H, "rgb24"
        f = av.VideoFrame.from_ndarray(picture(3), format="rgb24")
        f.pts = 0
        for pkt in s.encode(f):
            c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    return path


ClipFactory = Callable[[str], Clip]
