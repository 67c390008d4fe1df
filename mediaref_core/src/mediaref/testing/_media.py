"""Tiny edge-case videos made with PyAV encoders, each frame distinguishable from the others.

Every frame ``i`` shows `picture(i)`: a gradient, a bar whose position and colour depend
on ``i`` and a block whose level encodes ``i`` (distinct for 220 frames in a row), so a
frame one off never looks like the right one, even after lossy coding.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["EDGE_CASES", "EdgeCase", "encode", "have_encoder", "make_edge_case", "picture"]

os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise

SIZE = (64, 48)
_X264 = "scenecut=0:log-level=none"


def picture(i: int, w: int = 128, h: int = 72) -> NDArray[np.uint8]:
    """Return frame `i` as ``(h, w, 3)`` RGB: a gradient, and a bar and a block set by `i`."""
    import numpy as np

    y = np.linspace(0, 255, h, dtype=np.float64)[:, None]
    x = np.linspace(0, 255, w, dtype=np.float64)[None, :]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (x * 0.5 + 40).astype(np.uint8)
    img[..., 1] = (y * 0.5 + 40).astype(np.uint8)
    img[..., 2] = 90
    bar = (i * 5) % (w - 12)
    img[:, bar : bar + 12] = ((i * 53) % 200 + 30, (i * 97) % 200 + 30, (i * 29) % 200 + 30)
    img[: h // 4, : w // 4] = (i * 37) % 220 + 20  # a block whose level also encodes i
    return img


def have_encoder(name: str) -> bool:
    """Whether this PyAV build can encode with `name` (e.g. ``"libx265"``)."""
    import av

    return name in av.codecs_available and _opens(name)


def _opens(name: str) -> bool:
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


@contextlib.contextmanager
def scheduling_kept() -> Iterator[None]:
    """Give the calling thread back its scheduling policy when the block ends.

    SVT-AV1 (``libsvtav1``, in PyAV's wheels) makes the thread that opens an encoder
    ``SCHED_FIFO`` with priority 99 wherever it may (as root): the thread, and every
    thread and process it starts afterwards, would run real-time. Two busy processes
    started from such a test process never let it run again on their CPUs.
    """
    if not hasattr(os, "sched_getscheduler"):  # not on Linux
        yield
        return
    policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
    try:
        yield
    finally:
        if (os.sched_getscheduler(0), os.sched_getparam(0)) != (policy, param):
            os.sched_setscheduler(0, policy, param)


def encode(
    path: Path,
    codec: str,
    *,
    n: int = 40,
    rate: int = 25,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    flips: tuple[bool, bool] = (False, False),
    color_range: int | None = None,
    max_b_frames: int | None = None,
    gop: int | None = None,
    fmt: str | None = None,
    size: tuple[int, int] = (128, 72),
    mark_all_key: bool = False,
    zero_durations: bool = False,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode `n` frames of `picture(i)` into `path`; return `path`.

    `pts` (in `time_base`, default ``1 / rate``) makes a VFR or offset stream; `rotation`
    writes a display matrix (counter-clockwise degrees); `mark_all_key` and
    `zero_durations` falsify packet flags and durations as some muxers do.
    """
    import av

    w, h = size
    with (
        scheduling_kept(),
        av.open(str(path), "w", format=fmt, options=container_options) as c,
    ):
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = w, h, pix_fmt
        if time_base is not None:
            s.time_base = time_base
            s.codec_context.time_base = time_base
        if options:
            s.options = options
        if color_range is not None:
            s.codec_context.color_range = color_range
        if max_b_frames is not None:
            s.codec_context.max_b_frames = max_b_frames
        if gop is not None:
            s.codec_context.gop_size = gop
        if rotation is not None:
            s.set_display_rotation(rotation, hflip=flips[0], vflip=flips[1])
        tb = time_base or Fraction(1, rate)

        def mux(packets: Sequence[Any]) -> None:
            for p in packets:
                if mark_all_key:
                    p.is_keyframe = True
                if zero_durations:
                    p.duration = 0
                c.mux(p)

        for i in range(n):
            f = av.VideoFrame.from_ndarray(picture(i, w, h), format="rgb24")
            if pix_fmt != "rgb24":
                f = f.reformat(format=pix_fmt, dst_color_range=color_range)
            f.pts = pts[i] if pts is not None else i
            f.time_base = tb
            if color_range is not None:
                f.color_range = color_range
            mux(s.encode(f))
        mux(s.encode(None))
    return path


def cut_with_edit_list(src: Path, dst: Path, frames: int) -> Path:
    """Remux `src` into MP4 starting `frames` frames in, without re-encoding.

    The GOP's packets before the cut get negative timestamps: the MP4 muxer writes an edit
    list that starts at the cut, and demuxers mark those packets as decoded, not shown.
    """
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        s_in = i.streams.video[0]
        s_out = o.add_stream_from_template(s_in)
        rate = s_in.average_rate or s_in.guessed_rate
        assert rate and s_in.time_base, f"{src}: no frame rate or time base"
        shift = int(frames / Fraction(rate.numerator, rate.denominator) / s_in.time_base)
        for pkt in i.demux(s_in):
            if not pkt.size:
                continue
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts is not None:
                pkt.dts -= shift
            pkt.stream = s_out
            o.mux(pkt)
    return dst


class EdgeCase:
    """A named recipe: what it makes, the encoder it needs, and how a player rotates it."""

    def __init__(
        self,
        name: str,
        what: str,
        make: Callable[[Path], Path],
        *,
        encoder: str = "libx264",
        rotate: int = 0,
    ) -> None:
        self.name, self.what, self.make, self.encoder, self.rotate = (
            name,
            what,
            make,
            encoder,
            rotate,
        )

    def __repr__(self) -> str:
        return f"EdgeCase({self.name!r})"


def _x264(extra: str) -> dict[str, str]:
    return {"x264-params": f"{extra}:{_X264}"}


def _vfr_pts(n: int) -> list[int]:
    steps = [33, 50, 17, 100, 40, 41, 25]
    ts = [0]
    for i in range(n - 1):
        ts.append(ts[-1] + steps[i % len(steps)])
    return ts


def _edit_list(d: Path) -> Path:
    src = encode(
        d / "edit_list_src.mp4",
        "libx264",
        n=30,
        size=SIZE,
        options=_x264("keyint=12:min-keyint=12:bframes=2"),
    )
    return cut_with_edit_list(src, d / "edit_list.mp4", 5)


EDGE_CASES: tuple[EdgeCase, ...] = (
    EdgeCase(
        "h264_bframes_open_gop_mp4",
        "H.264, 3 B-frames, open GOPs of 10, 30 fps: frame starts are not whole ns",
        lambda d: encode(
            d / "bframes_open_gop.mp4",
            "libx264",
            n=36,
            rate=30,
            size=SIZE,
            options=_x264("open-gop=1:keyint=10:min-keyint=10:bframes=3"),
        ),
    ),
    EdgeCase(
        "h264_offset_start_mkv",
        "a stream whose first frame is at 10 s, not 0",
        lambda d: encode(
            d / "offset_start.mkv",
            "libx264",
            n=30,
            size=SIZE,
            pts=range(250, 280),
            options=_x264("keyint=10:bframes=2"),
        ),
    ),
    EdgeCase(
        "h264_edit_list_mp4",
        "an MP4 cut mid-GOP by its edit list: 5 decoded packets are not shown",
        _edit_list,
    ),
    EdgeCase(
        "h264_vfr_mkv",
        "variable frame rate, 1 ms ticks, frames lasting 17-100 ms",
        lambda d: encode(
            d / "vfr.mkv",
            "libx264",
            n=30,
            size=SIZE,
            pts=_vfr_pts(30),
            time_base=Fraction(1, 1000),
            options=_x264("keyint=8:bframes=2"),
        ),
    ),
    EdgeCase(
        "h264_mpegts",
        "MPEG-TS (90 kHz, seeks by decode time), 2 B-frames",
        lambda d: encode(
            d / "mpegts.ts",
            "libx264",
            n=30,
            size=SIZE,
            options=_x264("keyint=8:bframes=2"),
        ),
    ),
    EdgeCase(
        "hevc_mkv",
        "HEVC in Matroska, 3 B-frames",
        lambda d: encode(
            d / "hevc.mkv",
            "libx265",
            n=30,
            size=SIZE,
            options={"x265-params": "keyint=10:min-keyint=10:bframes=3:log-level=error"},
        ),
        encoder="libx265",
    ),
    EdgeCase(
        "h264_single_frame_mp4",
        "a video of one frame",
        lambda d: encode(d / "single_frame.mp4", "libx264", n=1, size=SIZE),
    ),
    EdgeCase(
        "h264_rotated_mp4",
        "a display matrix of 90 degrees: frames come out turned, 48x64",
        lambda d: encode(
            d / "rotated.mp4",
            "libx264",
            n=20,
            size=SIZE,
            rotation=90,
            options=_x264("keyint=10"),
        ),
        rotate=1,
    ),
)
"""The edge cases `mediaref.testing` checks a backend on, ~30 tiny frames each."""


def make_edge_case(case: EdgeCase | str, directory: str | os.PathLike[str]) -> Path:
    """Make one edge case's file in `directory` (once: an existing file is reused).

    Raises:
        unittest.SkipTest: PyAV, or the case's encoder, is not available.
    """
    import unittest

    if isinstance(case, str):
        case = _by_name(case)
    try:
        import av  # noqa: F401
    except ImportError:
        raise unittest.SkipTest(
            "mediaref.testing makes its media with PyAV, which is not installed: pip install av"
        ) from None
    if not have_encoder(case.encoder):
        raise unittest.SkipTest(f"{case.name}: PyAV has no {case.encoder} encoder here")
    d = Path(directory) / case.name
    done = d / "done"
    if done.exists():
        return d / done.read_text()
    d.mkdir(parents=True, exist_ok=True)
    path = case.make(d)
    done.write_text(path.name)
    return path


def _by_name(name: str) -> EdgeCase:
    for c in EDGE_CASES:
        if c.name == name:
            return c
    raise ValueError(f"unknown edge case {name!r}; known: {[c.name for c in EDGE_CASES]}")
