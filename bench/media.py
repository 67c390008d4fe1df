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
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "contestants"))
from _sig import BARCODE_BITS, BARCODE_TOP, SIG_VERSION, signature

W, H, FPS = 640, 360, 20
RECIPE_VERSION = 3  # bump to invalidate the cache when content/encoding changes

VIDEO_RECIPES = {
    # name: (x264 options, container extension)
    "A": ({"preset": "fast", "x264-params": "keyint=20:min-keyint=20:scenecut=0:bframes=0"}, "mp4"),
    "B": ({"preset": "fast"}, "mp4"),  # x264 defaults: keyint 250, B-frames
}


def texture(seed: int) -> np.ndarray:
    """A smooth random RGB texture, 2x the frame size, that tiles when scrolled."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(H // 8 + 1, W // 8 + 1, 3), dtype=np.uint8)
    big = np.kron(small, np.ones((16, 16, 1), dtype=np.uint8))[: 2 * H, : 2 * W]
    noise = rng.integers(-20, 21, size=big.shape, dtype=np.int16)
    return np.clip(big.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def paint_code(img: np.ndarray, n: int) -> None:
    cell = W // BARCODE_BITS
    img[BARCODE_TOP:] = 0
    for b in range(BARCODE_BITS):
        if n >> b & 1:
            img[BARCODE_TOP + 4 : H - 4, b * cell + 4 : (b + 1) * cell - 4] = 255


def make_frame(tex: np.ndarray, i: int) -> np.ndarray:
    dx, dy = (3 * i) % W, (2 * i) % H
    img = tex[dy : dy + H, dx : dx + W].copy()
    # a moving box, so motion is not only a global translation
    bx, by = (7 * i) % (W - 80), (5 * i) % (BARCODE_TOP - 80)
    img[by : by + 80, bx : bx + 80] = (255 - i % 256, i % 256, 128)
    paint_code(img, i)
    return img


def encode_video(path: Path, seconds: float, options: dict[str, str], seed: int) -> None:
    import av

    tmp = path.with_suffix(".part" + path.suffix)
    tex = texture(seed)
    with av.open(str(tmp), "w") as out:
        s = out.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        s.options = dict(options)
        for i in range(int(seconds * FPS)):
            frame = av.VideoFrame.from_ndarray(make_frame(tex, i), format="rgb24")
            frame.pts = i
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    os.replace(tmp, path)


def oracle(path: Path) -> dict:
    """Decode the whole file sequentially; signatures per frame, and the packet index."""
    import av

    from mediaref import timeline

    packets = []  # decode order: (pts, is_key)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        tb = Fraction(s.time_base.numerator, s.time_base.denominator)
        last_dur = None
        for p in c.demux(s):
            if p.size == 0:
                continue
            packets.append((p.pts, bool(p.is_keyframe)))
            if p.duration:
                last_dur = (p.pts, p.duration)
    frames = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for f in c.decode(s):
            frames.append((f.pts, signature(f.to_ndarray(format="rgb24"))))
    frames.sort(key=lambda x: x[0])
    pts = [p for p, _ in frames]
    assert pts == sorted({p for p, _ in packets}), "packet and frame pts differ"
    sigs = [s for _, s in frames]
    bad = [i for i, s in enumerate(sigs) if s["code"] != i]
    if bad:
        raise SystemExit(f"{path}: barcode does not match frame number at {bad[:5]}")
    # Without a duration on its packet, the last frame lasts as long as the one before it.
    duration = last_dur[1] if last_dur and last_dur[0] == pts[-1] else None
    period = (pts[-1] - pts[-2]) * tb if len(pts) > 1 else Fraction(1, FPS)
    end_ns = timeline.end_ns_of(pts[-1], duration, tb, default_duration=period)
    return {
        "path": str(path),
        "time_base": [tb.numerator, tb.denominator],
        "pts": pts,
        "pts_ns": timeline.starts_ns_of(pts, tb),
        "end_ns": end_ns,
        "packets": packets,
        "grids": [s["grid"] for s in sigs],
        "hashes": [s["hash"] for s in sigs],
        "codes": [s["code"] for s in sigs],
    }


def video(cache: Path, name: str, seconds: float, options: dict, ext: str, seed: int) -> dict:
    path = cache / f"{name}_{int(seconds)}s_v{RECIPE_VERSION}.{ext}"
    opath = path.with_suffix(f".oracle-s{SIG_VERSION}.json")
    if not path.exists():
        encode_video(path, seconds, options, seed)
    if not opath.exists():
        o = oracle(path)
        tmp = opath.with_suffix(".part")
        tmp.write_text(json.dumps(o))
        os.replace(tmp, opath)
    return {"path": str(path), "oracle": str(opath), "seconds": seconds}


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
    a = ap.parse_args()
    cache = Path(a.out).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    what = set(a.what.split(","))
    seconds = 30 if a.quick else 300
    res: dict = {}
    if "video" in what:
        for k, (opts, ext) in VIDEO_RECIPES.items():
            res[k] = video(cache, k, seconds, opts, ext, seed=1 if k == "A" else 2)
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
            video(cache, f"ep{k}", ep_s, VIDEO_RECIPES["A"][0], "mp4", seed=10 + k)
            for k in range(8)
        ]
    if "soak" in what:
        res["soak"] = [
            video(
                cache, f"soak{k}", 10, VIDEO_RECIPES["A" if k % 2 else "B"][0], "mp4", seed=20 + k
            )
            for k in range(4)
        ]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
