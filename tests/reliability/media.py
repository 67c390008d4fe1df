"""Small media for the reliability tests, made with PyAV and Pillow.

Expected frames come from `mediaref.testing.decode_sequentially`, the one oracle of the
test suite.

Kept here rather than in tests/media.py (owned by the video plugin) so these tests do not
move when that module does. Every clip is tiny: the corpus multiplies each file many times.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mediaref import testing

W, H = 96, 64


def picture(i: int) -> NDArray[np.uint8]:
    """Frame `i` of every clip here (`mediaref.testing.picture` at this size)."""
    return testing.picture(i, W, H)


def digest(arr: NDArray[np.uint8]) -> str:
    """Shape, dtype and content in one string, to compare frames across processes."""
    return f"{arr.dtype}{arr.shape}:{hashlib.sha256(np.ascontiguousarray(arr)).hexdigest()}"


def encode_video(
    path: Path,
    codec: str,
    *,
    n: int,
    options: dict[str, str],
    gop: int,
    container_options: dict[str, str] | None = None,
) -> Path:
    return testing.encode(
        path,
        codec,
        n=n,
        options=options,
        gop=gop,
        size=(W, H),
        container_options=container_options,
    )


def encode_audio(path: Path, codec: str, *, fmt: str | None = None, rate: int = 48000) -> Path:
    """About 0.4 s of a tone, and no video stream."""
    import av

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=rate)
        s.layout = "mono"
        sample_fmt = s.codec_context.codec.audio_formats[0].name
        n = s.codec_context.frame_size or 1024
        resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate)
        t = 0
        for _ in range(max(1, int(0.4 * rate) // n)):
            wave = (np.sin(np.arange(t, t + n) * 0.05) * 0.3).astype(np.float32)[None, :]
            f = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            f.sample_rate = rate
            f.pts = t
            for g in resampler.resample(f):
                for p in s.encode(g):
                    c.mux(p)
            t += n
        for p in s.encode(None):
            c.mux(p)
    return path


def encode_empty_video_stream(path: Path) -> Path:
    """A Matroska file that declares a video stream and holds no packet."""
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        c.start_encoding()  # writes the header, then no packet at all
    return path


def encode_image(path: Path, fmt: str, i: int = 7) -> Path:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(picture(i)).save(buf, format=fmt)
    path.write_bytes(buf.getvalue())
    return path


def image_pixels(path: Path) -> NDArray[np.uint8]:
    """What Pillow itself makes of the file, as RGB."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def damage_gop(src: Path, dst: Path, which: int) -> Path:
    """Copy `src` with the payload of every packet of its `which`-th GOP overwritten.

    Sizes and the container are kept, so the index is intact and only decoding fails.
    """
    import av

    with av.open(str(src)) as c:
        packets = [(p.pos, p.size, p.is_keyframe) for p in c.demux(c.streams.video[0]) if p.size]
    starts = [i for i, (_, _, key) in enumerate(packets) if key] + [len(packets)]
    buf = bytearray(src.read_bytes())
    for pos, size, _ in packets[starts[which] : starts[which + 1]]:
        buf[pos + 4 : pos + size] = b"\x55" * (size - 4)  # keep the NAL length prefix
    dst.write_bytes(buf)
    return dst
