"""Make the bench media (deterministic, cached in bench/.cache) and their oracles.

Runs in the plain-PyAV venv: ``python bench/media.py --out bench/.cache [--quick]``.
Prints one JSON object describing every file it made or found in the cache.

Video content: a smooth random texture that scrolls (so every frame costs real bits),
plus a 16-cell barcode of the frame number along the bottom 40 rows, which the
signatures in `contestants/_sig.py` read back.

Oracle: a plain sequential PyAV decode of the whole file; frame i (display order)
is on screen for ``pts_ns[i] <= t < pts_ns[i+1]`` (the last one until ``end_ns``),
``pts_ns`` and ``end_ns`` computed by `mediaref.timeline` (the venv installs
mediaref-core for it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "contestants"))
from _sig import BARCODE_BITS, SIG_VERSION, barcode_top, signature

W, H, FPS = 640, 360, 20  # media A and B
RECIPE_VERSION = 3  # bump to invalidate the cache when content/encoding changes


@dataclass(frozen=True)
class Recipe:
    """How one bench video is made: through PyAV (``x264``) or the ffmpeg CLI (``cli``)."""

    width: int
    height: int
    fps: int
    ext: str
    x264: dict[str, str] | None = None  # libx264 options, encoded through PyAV
    cli: tuple[str, ...] = ()  # ffmpeg output options; frames piped as raw RGB
    seconds: int = 300  # full-run duration (quick runs: `quick_seconds`)
    quick_seconds: int = 30

    @property
    def encoder(self) -> str:
        if self.x264 is not None:
            opts = ":".join(f"{k}={v}" for k, v in self.x264.items())
            return f"PyAV libx264 ({opts}; 2 cores)"
        return "ffmpeg " + " ".join(self.cli)


def world(width: int, height: int, *options: str, ext: str = "mp4") -> Recipe:
    """A file as the ffmpeg command line writes it: 30 fps, yuv420p, 60 s (quick: 10 s)."""
    cli = (*options, "-pix_fmt", "yuv420p")
    return Recipe(width, height, 30, ext, cli=cli, seconds=60, quick_seconds=10)


VIDEO_RECIPES = {
    "A": Recipe(
        W,
        H,
        FPS,
        "mp4",
        x264={"preset": "fast", "x264-params": "keyint=20:min-keyint=20:scenecut=0:bframes=0"},
    ),
    "B": Recipe(W, H, FPS, "mp4", x264={"preset": "fast"}),  # x264 defaults: GOP 250, B-frames
    # The world's media: the ffmpeg command line's defaults, from the same frames.
    "h264": world(640, 360, "-c:v", "libx264"),
    "h264_720p": world(1280, 720, "-c:v", "libx264"),
    "hevc": world(640, 360, "-c:v", "libx265"),
    # LeRobot's VideoEncoderConfig defaults (lerobot/configs/video.py): libsvtav1, g=2,
    # crf=30, preset 12, fast-decode=0, yuv420p, 640x480 cameras at 30 fps.
    "av1": world(
        640,
        480,
        "-c:v",
        "libsvtav1",
        "-g",
        "2",
        "-crf",
        "30",
        "-preset",
        "12",
        "-svtav1-params",
        "fast-decode=0",
    ),
    # Constant quality, as the ffmpeg wiki's VP9 guide recommends (-b:v 0 -crf 31).
    "vp9": world(640, 360, "-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "31", ext="webm"),
}


def texture(seed: int, w: int = W, h: int = H) -> np.ndarray:
    """A smooth random RGB texture, 2x the frame size, that tiles when scrolled."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    big = np.kron(small, np.ones((16, 16, 1), dtype=np.uint8))[: 2 * h, : 2 * w]
    noise = rng.integers(-20, 21, size=big.shape, dtype=np.int16)
    return np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def paint_code(img: np.ndarray, n: int) -> None:
    h, w = img.shape[:2]
    top, cell = barcode_top(h), w // BARCODE_BITS
    img[top:] = 0
    for b in range(BARCODE_BITS):
        if n >> b & 1:
            img[top + 4 : h - 4, b * cell + 4 : (b + 1) * cell - 4] = 255


def make_frame(tex: np.ndarray, i: int) -> np.ndarray:
    h, w = tex.shape[0] // 2, tex.shape[1] // 2
    dx, dy = (3 * i) % w, (2 * i) % h
    img = tex[dy : dy + h, dx : dx + w].copy()
    # a moving box, so motion is not only a global translation
    bx, by = (7 * i) % (w - 80), (5 * i) % (barcode_top(h) - 80)
    img[by : by + 80, bx : bx + 80] = (255 - i % 256, i % 256, 128)
    paint_code(img, i)
    return img


def encode_video(path: Path, seconds: float, recipe: Recipe, seed: int) -> None:
    tmp = path.with_suffix(".part" + path.suffix)
    tex = texture(seed, recipe.width, recipe.height)
    frames = (make_frame(tex, i) for i in range(int(seconds * recipe.fps)))
    if recipe.x264 is not None:
        _encode_pyav(tmp, frames, recipe)
    else:
        _encode_cli(tmp, frames, recipe)
    os.replace(tmp, path)


def _encode_pyav(tmp: Path, frames: Iterator[np.ndarray], recipe: Recipe) -> None:
    import av

    with av.open(str(tmp), "w") as out:
        s = out.add_stream("libx264", rate=recipe.fps)
        s.width, s.height, s.pix_fmt = recipe.width, recipe.height, "yuv420p"
        s.options = dict(recipe.x264 or {})
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)


def _encode_cli(tmp: Path, frames: Iterator[np.ndarray], recipe: Recipe) -> None:
    """Pipe raw RGB frames to the ffmpeg command line with the recipe's output options."""
    size = f"{recipe.width}x{recipe.height}"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24"]
    cmd += ["-s", size, "-r", str(recipe.fps), "-i", "-", *recipe.cli, str(tmp)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE) as proc:
        assert proc.stdin is not None
        for img in frames:
            proc.stdin.write(img.tobytes())
        proc.stdin.close()
        if proc.wait():
            raise SystemExit(f"ffmpeg failed ({proc.returncode}): {' '.join(cmd)}")


def oracle(path: Path) -> dict:
    """Decode the whole file sequentially; signatures per frame, and the packet index."""
    import av

    from mediaref import timeline

    packets = []  # decode order: (pts, is_key)
    slices = []  # VCL NAL units per packet (H.264 / HEVC)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = Fraction(s.time_base.numerator, s.time_base.denominator)
        codec, extradata = s.codec_context.codec.canonical_name, s.codec_context.extradata or b""
        decoder = s.codec_context.name
        last_dur = None
        for p in c.demux(s):
            if p.size == 0:
                continue
            packets.append((p.pts, bool(p.is_keyframe)))
            if codec in ("h264", "hevc"):
                slices.append(vcl_nal_units(bytes(p), codec, extradata))
            if p.duration:
                last_dur = (p.pts, p.duration)
    frames = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for f in c.decode(s):
            frames.append((f.pts, signature(f.to_ndarray(format="rgb24"))))
        size = [s.codec_context.height, s.codec_context.width]
    frames.sort(key=lambda x: x[0])
    pts = [p for p, _ in frames]
    assert pts == sorted({p for p, _ in packets}), "packet and frame pts differ"
    sigs = [s for _, s in frames]
    bad = [i for i, s in enumerate(sigs) if s["code"] != i]
    if bad:
        raise SystemExit(f"{path}: barcode does not match frame number at {bad[:5]}")
    # Without a duration on its packet, the last frame lasts as long as the one before it.
    duration = last_dur[1] if last_dur and last_dur[0] == pts[-1] else None
    period = (pts[-1] - pts[-2]) * tb
    end_ns = timeline.end_ns_of(pts[-1], duration, tb, default_duration=period)
    return {
        "path": str(path),
        "time_base": [tb.numerator, tb.denominator],
        "pts": pts,
        "pts_ns": timeline.starts_ns_of(pts, tb),
        "end_ns": end_ns,
        "packets": packets,
        "facts": {**facts(codec, size, packets, slices), "pyav_decoder": decoder},
        "grids": [s["grid"] for s in sigs],
        "hashes": [s["hash"] for s in sigs],
        "codes": [s["code"] for s in sigs],
    }


def vcl_nal_units(data: bytes, codec: str, extradata: bytes) -> int:
    """Slices in one length-prefixed (MP4) H.264 / HEVC packet: its VCL NAL units."""
    if codec == "h264":
        size = (extradata[4] & 3) + 1 if len(extradata) > 4 else 4
    else:
        size = (extradata[21] & 3) + 1 if len(extradata) > 21 else 4
    n, i = 0, 0
    while i + size < len(data):
        length = int.from_bytes(data[i : i + size], "big")
        header = data[i + size]
        kind = header & 0x1F if codec == "h264" else (header >> 1) & 0x3F
        n += (1 <= kind <= 5) if codec == "h264" else (kind <= 31)
        i += size + length
    return n


def facts(codec: str, size: list[int], packets: list, slices: list[int]) -> dict:
    """What the bitstream holds: GOP lengths, reordered (B-) frames, slices per picture."""
    keys = [i for i, (_, key) in enumerate(packets) if key]
    gops = [b - a for a, b in itertools.pairwise(keys)] or [len(packets)]
    reordered, top = 0, None
    for p, _ in packets:  # a frame shown before one decoded earlier
        reordered += top is not None and p < top
        top = p if top is None else max(top, p)
    return {
        "codec": codec,
        "height": size[0],
        "width": size[1],
        "keyframes": len(keys),
        "gop_median": statistics.median(gops),
        "gop_max": max(gops),
        "reordered_frames": reordered,
        "frames": len(packets),
        "slices_per_picture": sorted(set(slices)) if slices else None,
    }


def video(cache: Path, name: str, recipe: Recipe, seconds: int, seed: int) -> dict:
    path = cache / f"{name}_{seconds}s_v{RECIPE_VERSION}.{recipe.ext}"
    opath = path.with_suffix(f".oracle-s{SIG_VERSION}.json")
    if not path.exists():
        encode_video(path, seconds, recipe, seed)
    if not opath.exists():
        o = oracle(path)
        tmp = opath.with_suffix(".part")
        tmp.write_text(json.dumps(o))
        os.replace(tmp, opath)
    return {"path": str(path), "oracle": str(opath), "seconds": seconds, "encoder": recipe.encoder}


def images(cache: Path, n: int) -> dict:
    """n images, half JPEG (quality 90) and half PNG, with their Pillow-decoded signatures."""
    from PIL import Image

    d = cache / f"images_{n}_v{RECIPE_VERSION}s{SIG_VERSION}"
    manifest = d / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    d.mkdir(parents=True, exist_ok=True)
    tex = texture(7)
    files, grids, hashes = [], [], []
    for i in range(n):
        img = make_frame(tex, i * 13)
        paint_code(img, i)
        ext = "jpg" if i % 2 == 0 else "png"
        p = d / f"img_{i:05d}.{ext}"
        im = Image.fromarray(img)
        if ext == "jpg":
            im.save(p, quality=90)
        else:
            im.save(p, compress_level=6)
        with Image.open(p) as back:
            sig = signature(np.asarray(back.convert("RGB")))
        assert sig["code"] == i, (p, sig["code"])
        files.append(str(p))
        grids.append(sig["grid"])
        hashes.append(sig["hash"])
    out = {"files": files, "grids": grids, "hashes": hashes, "codes": list(range(n))}
    manifest.write_text(json.dumps(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / ".cache"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--what", default="video,images,multifile,soak")
    ap.add_argument("--media", default="", help="video media to make (default: all)")
    a = ap.parse_args()
    cache = Path(a.out).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    what = set(a.what.split(","))
    res: dict = {}
    if "video" in what:
        names = a.media.split(",") if a.media else list(VIDEO_RECIPES)
        res["video"] = {}
        for k in names:
            r = VIDEO_RECIPES[k]
            secs = r.quick_seconds if a.quick else r.seconds
            res["video"][k] = video(cache, k, r, secs, seed=1 if k == "A" else 2)
    if "images" in what:
        n = 200 if a.quick else 2000
        images(cache, n)
        res["images"] = {
            "manifest": str(
                cache / f"images_{n}_v{RECIPE_VERSION}s{SIG_VERSION}" / "manifest.json"
            ),
            "n": n,
        }
    if "multifile" in what:
        ep_s = 15 if a.quick else 60
        res["multifile"] = [
            video(cache, f"ep{k}", VIDEO_RECIPES["A"], ep_s, seed=10 + k) for k in range(8)
        ]
    if "soak" in what:
        res["soak"] = [
            video(cache, f"soak{k}", VIDEO_RECIPES["A" if k % 2 else "B"], 10, seed=20 + k)
            for k in range(4)
        ]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
