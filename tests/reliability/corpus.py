"""The hostile-input corpus: broken variants of real encoded files, by kind.

`build(directory)` writes every file and returns the cases; `python -m
tests.reliability.corpus` prints how many of each kind there are (docs/reliability.md).
A case is one file (or ``data:`` URI) and the references made to it; each reference says
what may come back: the oracle's frame (`digest`), any RGB frame (`digest` None, for
bit-flipped payloads that a decoder may conceal), or only a documented error.
"""

from __future__ import annotations

import base64
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from mediaref.testing import Clip, decode_sequentially
from tests.reliability import media

Allowed = Literal["frame", "error", "either"]

TRUNCATIONS = 12
BITFLIPS = 12
DATA_URI_VIDEOS = ("h264_faststart_mp4",)
"""Videos whose broken variants are also given as ``data:`` URIs (read from memory)."""


@dataclass
class Ref:
    pts_ns: int | None
    allowed: Allowed
    digest: str | None = None
    """The only frame acceptable, if one comes back; `None`: any (H, W, 3) uint8 frame."""
    error: str | None = None
    """The only error type acceptable, if one is raised; `None`: any documented error."""


@dataclass
class Case:
    id: str
    kind: str
    group: str
    uri: str
    refs: list[Ref] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def truncation_offsets(size: int) -> list[int]:
    """`TRUNCATIONS` distinct lengths in (0, size): the headers, then fractions, then the end."""
    fixed = [1, 8, 32, 200, 1000]
    fracs = [size * k // 100 for k in (10, 25, 50, 75, 90)]
    tail = [size - 64, size - 1]
    out = sorted({n for n in fixed + fracs + tail if 0 < n < size})
    assert len(out) == TRUNCATIONS, out
    return out


def bitflip(data: bytes, seed: int) -> bytes:
    """Seeded damage: a single bit, several bits, or a burst of random bytes."""
    rng = random.Random(seed)
    buf = bytearray(data)
    mode = seed % 3
    if mode == 0:
        pos = rng.randrange(len(buf))
        buf[pos] ^= 1 << rng.randrange(8)
    elif mode == 1:
        for _ in range(8):
            pos = rng.randrange(len(buf))
            buf[pos] ^= 1 << rng.randrange(8)
    else:
        pos = rng.randrange(len(buf) - 32)
        buf[pos : pos + 32] = bytes(rng.randrange(256) for _ in range(32))
    return bytes(buf)


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _video_refs(clip: Clip, *, pixels: bool) -> list[Ref]:
    """The first frame and one two thirds in: either that frame, or a documented error."""
    times = [clip.starts_ns[0], clip.starts_ns[2 * len(clip.starts_ns) // 3] + 1]
    return [
        Ref(t, "either", media.digest(clip.frame_on_screen_at(t)) if pixels else None)
        for t in times
    ]


def build(directory: Path) -> tuple[list[Case], dict[str, Clip]]:
    """Make the intact media in `directory`, then every broken variant; return the cases."""
    d = directory
    x264 = {"x264-params": "keyint=10:min-keyint=10:bframes=2:log-level=none"}
    clips = {
        "h264_mp4": decode_sequentially(
            media.encode_video(d / "h264.mp4", "libx264", n=30, gop=10, options=x264)
        ),
        # The index up front: a cut keeps the index of packets that are no longer there.
        "h264_faststart_mp4": decode_sequentially(
            media.encode_video(
                d / "h264_faststart.mp4",
                "libx264",
                n=30,
                gop=10,
                options=x264,
                container_options={"movflags": "faststart"},
            )
        ),
        "vp9_webm": decode_sequentially(
            media.encode_video(
                d / "vp9.webm",
                "libvpx-vp9",
                n=30,
                gop=10,
                options={"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"},
            )
        ),
    }
    png = media.encode_image(d / "still.png", "PNG")
    jpg = media.encode_image(d / "still.jpg", "JPEG")
    mimes = {"h264_mp4": "video/mp4", "h264_faststart_mp4": "video/mp4", "vp9_webm": "video/webm"}
    cases: list[Case] = []
    (d / "broken").mkdir()

    for name, clip in clips.items():
        data = clip.path.read_bytes()
        ext = clip.path.suffix
        for n in truncation_offsets(len(data)):
            p = d / "broken" / f"{name}_cut{n}{ext}"
            p.write_bytes(data[:n])
            # Frames before the cut are intact: if one comes back, it must be exact.
            refs = _video_refs(clip, pixels=True)
            cases.append(Case(f"{name}-cut{n}", "truncated", f"truncated-{name}", str(p), refs))
            if name in DATA_URI_VIDEOS:
                cases.append(
                    Case(
                        f"{name}-cut{n}-data",
                        "truncated (data: URI)",
                        f"data-{name}",
                        data_uri(mimes[name], data[:n]),
                        _video_refs(clip, pixels=True),
                    )
                )
        for seed in range(BITFLIPS):
            bad = bitflip(data, seed)
            p = d / "broken" / f"{name}_flip{seed}{ext}"
            p.write_bytes(bad)
            # A decoder may conceal damaged payload: any frame of the right kind will do.
            refs = _video_refs(clip, pixels=False)
            cases.append(Case(f"{name}-flip{seed}", "bit-flipped", f"bitflip-{name}", str(p), refs))
            if name in DATA_URI_VIDEOS:
                cases.append(
                    Case(
                        f"{name}-flip{seed}-data",
                        "bit-flipped (data: URI)",
                        f"data-{name}",
                        data_uri(mimes[name], bad),
                        _video_refs(clip, pixels=False),
                    )
                )

    def special(id: str, kind: str, path: Path, refs: list[Ref]) -> None:
        cases.append(Case(id, kind, "special", str(path), refs))

    s = d / "special"
    s.mkdir()
    undecodable = "UndecodableMediaError"
    for ext, pts in ((".mp4", 0), (".webm", 0), (".mkv", 0), (".png", None), (".jpg", None)):
        p = s / f"empty{ext}"
        p.write_bytes(b"")
        special(f"empty{ext}", "zero-length", p, [Ref(pts, "error", error=undecodable)])

    h264, vp9 = clips["h264_mp4"], clips["vp9_webm"]
    png_px, jpg_px = media.digest(media.image_pixels(png)), media.digest(media.image_pixels(jpg))
    (s / "png_named.mp4").write_bytes(png.read_bytes())
    (s / "jpg_named.webm").write_bytes(jpg.read_bytes())
    (s / "mp4_named.png").write_bytes(h264.path.read_bytes())
    (s / "webm_named.jpg").write_bytes(vp9.path.read_bytes())
    # Content decides, not the name: an image is the image; a video at a pts is the frame.
    special("png-named-mp4", "wrong extension", s / "png_named.mp4", [Ref(None, "frame", png_px)])
    special("jpg-named-webm", "wrong extension", s / "jpg_named.webm", [Ref(None, "frame", jpg_px)])
    t = h264.starts_ns[5]
    special(
        "mp4-named-png",
        "wrong extension",
        s / "mp4_named.png",
        [
            Ref(t, "frame", media.digest(h264.frame_on_screen_at(t))),
            Ref(None, "error", error=undecodable),
        ],
    )
    t = vp9.starts_ns[7] + 3
    special(
        "webm-named-jpg",
        "wrong extension",
        s / "webm_named.jpg",
        [
            Ref(t, "frame", media.digest(vp9.frame_on_screen_at(t))),
            Ref(None, "error", error=undecodable),
        ],
    )

    audio = [
        ("aac.m4a", "aac", None),
        ("aac_named.mp4", "aac", "mp4"),
        ("opus.mkv", "libopus", None),
        ("opus.webm", "libopus", None),
        ("flac.flac", "flac", None),
        ("pcm.wav", "pcm_s16le", None),
        ("mp3.mp3", "libmp3lame", None),
    ]
    for fname, codec, fmt in audio:
        p = media.encode_audio(s / fname, codec, fmt=fmt)
        kind = "no video stream" if p.suffix in (".mp4", ".mkv", ".webm") else "audio-only"
        refs = [Ref(0, "error", error=undecodable), Ref(None, "error", error=undecodable)]
        special(f"audio-{fname}", kind, p, refs)
    p = media.encode_empty_video_stream(s / "no_packets.mkv")
    special(
        "video-stream-without-packets", "no video frames", p, [Ref(0, "error", error=undecodable)]
    )

    # A still image at a time: one frame shown from 0, or a documented error; never garbage.
    special("png-at-pts", "still image with pts_ns", png, [Ref(0, "either", png_px)])
    special("png-at-1s", "still image with pts_ns", png, [Ref(NS_1, "either", png_px)])
    special("jpg-at-pts", "still image with pts_ns", jpg, [Ref(0, "either", jpg_px)])
    for name, clip in (("h264", h264), ("vp9", vp9)):
        refs = [Ref(None, "error", error=undecodable)]
        special(f"{name}-without-pts", "video without pts_ns", clip.path, refs)
    return cases, clips


NS_1 = 1_000_000_000


def counts(cases: list[Case]) -> Counter[str]:
    return Counter(c.kind for c in cases)


def ref_count(cases: list[Case]) -> int:
    return sum(len(c.refs) for c in cases)


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cases, _ = build(Path(tmp))
    print("| bad input | files | references |")
    print("|---|---:|---:|")
    by_kind: dict[str, list[Case]] = {}
    for c in cases:
        by_kind.setdefault(c.kind, []).append(c)
    for kind, cs in by_kind.items():
        print(f"| {kind} | {len(cs)} | {ref_count(cs)} |")
    print(f"| **total** | {len(cases)} | {ref_count(cases)} |")


if __name__ == "__main__":
    main()
