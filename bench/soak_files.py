"""Soak over thousands of distinct files: does a long-running process give memory back?

    python bench/soak.py --files 1000 [--calls 6000] [--quiet 60] [--out FILE.md]

Makes `--files` small distinct clips once (64x48, 30 frames at 10 fps, GOP 10; frame f of
file i is a flat picture whose red level is ``_level(f)`` and whose blue is ``64 + i % 128``) in
bench/.cache/soak-files, then in one process: warms up on 20 of them and takes the warm
baseline (RSS after gc + malloc_trim); makes `--calls` calls at random over all files
(to_ndarray, batch_decode of 1-16 frames of 1-3 files); checks every frame's levels; then
stays quiet for `--quiet` seconds and reads RSS (a) after the quiet period, with no call
(mediaref's janitor thread released what was idle after ``limits.idle_release_s``), raw
and after gc + malloc_trim, (b) after one more small call, and (c) after
``mediaref.cleanup_cache()``. Writes a markdown report.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path
from typing import Any

W, H, N_FRAMES, RATE = 64, 48, 30, 10
WARM_FILES = 20


def _level(f: int) -> int:
    return 16 + 7 * f  # 16..219: 7 levels apart, far beyond coding error


def make_files(cache: Path, count: int) -> list[Path]:
    """Encode the clips that are missing; return all paths."""
    import av
    import numpy as np

    d = cache / "soak-files"
    d.mkdir(parents=True, exist_ok=True)
    paths = [d / f"clip{i:05d}.mp4" for i in range(count)]
    for i, p in enumerate(paths):
        if p.exists():
            continue
        tmp = p.with_suffix(".tmp.mp4")
        with av.open(str(tmp), "w") as c:
            s = c.add_stream("libx264", rate=RATE)
            s.width, s.height, s.pix_fmt = W, H, "yuv420p"
            s.options = {"preset": "ultrafast", "g": "10", "crf": "10"}
            for f in range(N_FRAMES):
                rgb = np.empty((H, W, 3), np.uint8)
                rgb[..., 0], rgb[..., 1], rgb[..., 2] = _level(f), 128, 64 + i % 128
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = f
                c.mux(s.encode(frame))
            c.mux(s.encode())
        tmp.replace(p)
    return paths


def _frame_of(got: Any) -> int:
    """The frame number a decoded picture shows (-1 if none fits)."""
    red = float(got[..., 0].mean())
    f = round((red - 16) / 7)
    # Levels are 7 apart; YUV 4:2:0 round trips move a flat red by up to 3.
    return f if 0 <= f < N_FRAMES and abs(red - _level(f)) < 3.5 else -1


def _one_call(rng: random.Random, paths: list[Path], counts: dict[str, Any]) -> None:
    from mediaref import MediaRef, batch_decode

    step = 1_000_000_000 // RATE
    if rng.random() < 0.3:
        f = rng.randrange(N_FRAMES)
        pairs = [(MediaRef(str(rng.choice(paths)), f * step + rng.randrange(step)), f)]
        got = [pairs[0][0].to_ndarray()]
    else:
        chosen = rng.sample(paths, min(len(paths), rng.randint(1, 3)))
        pairs = []
        for _ in range(rng.randint(1, 16)):
            f = rng.randrange(N_FRAMES)
            pairs.append((MediaRef(str(rng.choice(chosen)), f * step + rng.randrange(step)), f))
        got = batch_decode([r for r, _ in pairs])
    counts["frames"] += len(got)
    counts["wrong"] += sum(_frame_of(g) != f for g, (_, f) in zip(got, pairs, strict=True))
    counts["seen"].update(r.uri for r, _ in pairs)


def run(cache: Path, files: int, calls: int, quiet: float, seed: int) -> dict[str, Any]:
    """Run the soak; return its figures."""
    import mediaref
    from mediaref._janitor import janitor
    from soak import fds, rss_mb, threads, trimmed_rss_mb

    t_make = time.perf_counter()
    paths = make_files(cache, files)
    made_s = time.perf_counter() - t_make
    rng = random.Random(seed)
    counts: dict[str, Any] = {"frames": 0, "wrong": 0, "seen": set()}
    for _ in range(3):  # warm: plugins, codecs, thread pools, the pool's sizes
        for p in paths[:WARM_FILES]:
            _one_call(random.Random(str(p)), [p], counts)
    warm = {"rss": trimmed_rss_mb(), "raw_rss": rss_mb(), "fds": fds(), "threads": threads()}
    t0 = time.perf_counter()
    peak = 0.0
    for i in range(calls):
        _one_call(rng, paths, counts)
        if i % 500 == 0:
            peak = max(peak, rss_mb())
    busy_s = time.perf_counter() - t0
    end = {"rss": trimmed_rss_mb(), "raw_rss": rss_mb(), "fds": fds(), "threads": threads()}
    releases = janitor.releases
    time.sleep(quiet)
    quiet_raw = {"raw_rss": rss_mb(), "fds": fds(), "threads": threads(), "index": _index_held()}
    quiet_rss = trimmed_rss_mb()
    released = janitor.releases - releases
    _one_call(rng, paths[:1], counts)
    after_call = {"rss": trimmed_rss_mb(), "fds": fds(), "threads": threads()}
    mediaref.cleanup_cache()
    after_cleanup = {"rss": trimmed_rss_mb(), "fds": fds(), "threads": threads()}
    return {
        "files": files,
        "files_seen": len(counts["seen"]),
        "calls": calls,
        "frames": counts["frames"],
        "wrong": counts["wrong"],
        "made_s": made_s,
        "busy_s": busy_s,
        "quiet_s": quiet,
        "peak_raw_rss": max(peak, end["raw_rss"]),
        "warm": warm,
        "end": end,
        "quiet_rss": quiet_rss,
        "quiet_raw": quiet_raw,
        "idle_releases": released,
        "idle_release_s": mediaref.limits.idle_release_s,
        "after_call": after_call,
        "after_cleanup": after_cleanup,
        "index_entries": _index_entries(),
    }


def _index_held() -> str:
    from mediaref_av import _index_cache

    c = _index_cache.index_cache
    return f"{len(c._lru):,} indexes, {c.nbytes / 2**20:.1f} MB as counted"


def _index_entries() -> str:
    from mediaref_av import _index_cache

    c = _index_cache.index_cache
    bound = getattr(c, "max_entries", None)
    return f"at most {bound} entries" if bound is not None else "bounded in bytes"


def report(r: dict[str, Any], versions: str, command: str) -> str:
    """The markdown report of `run`'s figures."""
    w = r["warm"]["rss"]

    def pct(x: float) -> str:
        return f"{x:.1f} MB ({100 * (x - w) / w:+.1f} %)"

    lines = [
        "# Soak over distinct files",
        "",
        f"- Date (UTC): {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Command: `{command}`",
        f"- {versions}",
        f"- {r['files']:,} distinct files (64x48, {N_FRAMES} frames, H.264, GOP 10), made in "
        f"{r['made_s']:.0f} s; {r['files_seen']:,} of them decoded at random in "
        f"{r['calls']:,} calls ({r['frames']:,} frames, {r['busy_s']:.0f} s)",
        f"- Wrong frames: **{r['wrong']}**",
        f"- Index cache in memory: {r['index_entries']}",
        f"- Idle release (`mediaref.limits.idle_release_s`): {r['idle_release_s']} s; "
        f"releases during the quiet period: {r['idle_releases']}; index cache after it: "
        f"{r['quiet_raw']['index']}",
        "",
        "RSS after gc + malloc_trim (memory really held), against the warm baseline:",
        "",
        "| when | RSS | open fds | threads |",
        "|---|---|---|---|",
        f"| warm baseline (20 files) | {w:.1f} MB | {r['warm']['fds']} | {r['warm']['threads']} |",
        f"| after the calls | {pct(r['end']['rss'])} | {r['end']['fds']} | {r['end']['threads']} |",
        f"| after {r['quiet_s']:.0f} s of quiet, no call (raw RSS, not trimmed) | "
        f"{pct(r['quiet_raw']['raw_rss'])} | {r['quiet_raw']['fds']} | "
        f"{r['quiet_raw']['threads']} |",
        f"| the same, after gc + malloc_trim | {pct(r['quiet_rss'])} | | |",
        f"| after one more small call | {pct(r['after_call']['rss'])} | "
        f"{r['after_call']['fds']} | {r['after_call']['threads']} |",
        f"| after `mediaref.cleanup_cache()` | {pct(r['after_cleanup']['rss'])} | "
        f"{r['after_cleanup']['fds']} | {r['after_cleanup']['threads']} |",
        "",
        f"Raw RSS (without trimming): warm {r['warm']['raw_rss']:.1f} MB, end "
        f"{r['end']['raw_rss']:.1f} MB, highest sampled {r['peak_raw_rss']:.1f} MB.",
    ]
    return "\n".join(lines) + "\n"
