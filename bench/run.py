#!/usr/bin/env python3
"""mediaref benchmark harness: ``python bench/run.py [--quick] [--suites a,b,...]``.

Sets up one venv per contestant from ``bench/requirements/*.txt`` (in bench/.venvs),
makes the media (bench/.cache), runs the suites with every contestant in its own
subprocess, alternating contestants per repetition, checks every returned frame
against a plain sequential decode (the oracle), and writes bench/results/latest.json
and latest.md (``--out`` to change). Standard library only: any python3 runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib
import json
import os
import platform
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
import types
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
WORKER = BENCH / "contestants" / "_worker.py"

# venv name -> requirements file; pip runs from the repo root (ours has -e ./mediaref_*).
ENVS = ["ours", "pyav", "pypi_mediaref", "torchcodec", "decord"]

# contestant id -> (venv, adapter module, adapter arg)
CONTESTANTS: dict[str, tuple[str, str, str | None]] = {
    "ours": ("ours", "ours", None),
    "ours_iter": ("ours", "ours", "iter"),
    "pypi_tensorcodec": ("pypi_mediaref", "pypi_mediaref", "tensorcodec"),
    "pypi_pyav": ("pypi_mediaref", "pypi_mediaref", "pyav"),
    "torchcodec": ("torchcodec", "torchcodec_peer", "1"),
    "torchcodec_auto": ("torchcodec", "torchcodec_peer", "0"),
    "decord": ("decord", "decord_peer", None),
    "pyav_naive": ("pyav", "pyav_naive", None),
    "bare_msgspec": ("pyav", "bare_msgspec", None),
    # The floor, not peers (never "best peer"): plain PyAV kept open, per codec threading.
    "floor_1": ("pyav", "pyav_floor", "1"),
    "floor_slice": ("pyav", "pyav_floor", "slice"),
    "floor_frame": ("pyav", "pyav_floor", "frame"),
    "floor_auto": ("pyav", "pyav_floor", "auto"),
}
FLOORS = ["floor_1", "floor_slice", "floor_frame", "floor_auto"]
VIDEO_CONTESTANTS = [
    "ours",
    "ours_iter",
    "pypi_tensorcodec",
    "pypi_pyav",
    "torchcodec",
    "torchcodec_auto",
    "decord",
    "pyav_naive",
    *FLOORS,
]
IMAGE_CONTESTANTS = ["ours", "pypi_tensorcodec", "pyav_naive"]
SERIAL_CONTESTANTS = ["ours", "bare_msgspec", "pypi_tensorcodec"]
SHORT = {
    "ours": "ours",
    "ours_iter": "ours, iter_decode(ahead=1)",
    "pypi_tensorcodec": "PyPI mediaref 2.1 (TensorCodec)",
    "pypi_pyav": "PyPI mediaref 2.1 (pyav)",
    "torchcodec": "TorchCodec exact (1 thread, default)",
    "torchcodec_auto": "TorchCodec exact (threads=auto)",
    "decord": "decord",
    "pyav_naive": "plain PyAV/Pillow (naive)",
    "bare_msgspec": "bare msgspec.Struct",
    "floor_1": "floor: plain PyAV kept open, 1 thread",
    "floor_slice": "floor: plain PyAV kept open, slice threads (2)",
    "floor_frame": "floor: plain PyAV kept open, frame threads (2)",
    "floor_auto": "floor: plain PyAV kept open, auto threads",
}
# Quick suites first: a run stopped early still has them (results are written after each suite).
DEFAULT_SUITES = ["serialization", "import", "video", "multifile", "images"]
ALL_SUITES = [*DEFAULT_SUITES, "soak"]
GRID_TOL = 4.0  # mean |grey difference| per 40x40 block allowed vs the oracle (0-255)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- environments


def venv_python(env: str) -> Path:
    return VENVS / env / "bin" / "python"


def setup_env(env: str) -> dict[str, Any]:
    """Create/update the venv from its requirements file; reinstall only when it changed."""
    req = BENCH / "requirements" / f"{env}.txt"
    marker = VENVS / env / ".bench-requirements.sha1"
    h = hashlib.sha1(req.read_bytes())
    # Editable installs: reinstall when a package's metadata changes.
    editable = {
        "ours": ("mediaref_core", "mediaref_pil", "mediaref_av"),
        "pyav": ("mediaref_core",),
    }
    for pkg in editable.get(env, ()):
        pp = REPO / pkg / "pyproject.toml"
        h.update(pp.read_bytes() if pp.exists() else b"")
    digest = h.hexdigest()
    py = venv_python(env)
    if py.exists() and marker.exists() and marker.read_text() == digest:
        return {"ok": True, "cached": True}
    VENVS.mkdir(parents=True, exist_ok=True)
    logf = VENVS / f"{env}.log"
    log(f"setting up venv {env} (log: {logf.relative_to(REPO)})")
    with open(logf, "w") as lf:
        if not py.exists():
            r = subprocess.run(
                [sys.executable, "-m", "venv", str(VENVS / env)],
                stdout=lf,
                stderr=subprocess.STDOUT,
            )
            if r.returncode:
                return {"ok": False, "error": "python -m venv failed"}
        r = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "-r", str(req)],
            cwd=REPO,
            stdout=lf,
            stderr=subprocess.STDOUT,
        )
    if r.returncode:
        tail = [ln for ln in logf.read_text().splitlines() if "Location" not in ln][-6:]
        return {"ok": False, "error": "pip install failed: " + " | ".join(tail)}
    marker.write_text(digest)
    return {"ok": True, "cached": False}


def check_ffmpeg_libs() -> str | None:
    if shutil.which("ffmpeg") is None:
        return (
            "Debian's ffmpeg is not installed (TorchCodec needs its shared libraries): "
            "apt-get install -y ffmpeg"
        )
    return None


# ---------------------------------------------------------------- workers


_LIVE: list[Worker] = []
"""Every contestant process started, so that each job can stop the others."""


class Worker:
    """One contestant process, answering JSON jobs line by line."""

    def __init__(self, cid: str) -> None:
        env, module, arg = CONTESTANTS[cid]
        self.cid = cid
        errpath = CACHE / "logs" / f"{cid}.stderr"
        errpath.parent.mkdir(parents=True, exist_ok=True)
        self.errf = open(errpath, "a")
        cmd = [str(venv_python(env)), str(WORKER), module] + ([arg] if arg is not None else [])
        env_vars = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        self.p = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errf,
            text=True,
            bufsize=1,
            env=env_vars,
            cwd=str(BENCH / "contestants"),
        )
        self.q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        _LIVE.append(self)
        self.ready: dict[str, Any] = {}
        self.dead = False

    def wait_ready(self) -> None:
        """Wait for the process's first line (its adapter loaded, or why not)."""
        self.ready = self._get(timeout=180)
        self.dead = not self.ready.get("ok")

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.q.put(line)
        self.q.put(None)

    def _get(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return {"ok": False, "error": f"timed out after {timeout:.0f} s"}
        if line is None:
            self.dead = True
            return {
                "ok": False,
                "error": f"worker exited (code {self.p.poll()}); "
                f"see bench/.cache/logs/{self.cid}.stderr",
            }
        return json.loads(line)

    def ask(self, job: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        if self.dead:
            return {"ok": False, "error": self.ready.get("error", "worker is dead")}
        assert self.p.stdin is not None
        # The other contestants are stopped meanwhile: an idle process must not take CPU
        # from the one measured (decord's threads spin at ~0.55 CPU-s per second idle).
        others = [w for w in _LIVE if w is not self and w.p.poll() is None]
        for w in others:
            os.kill(w.p.pid, signal.SIGSTOP)
        try:
            try:
                self.p.stdin.write(json.dumps(job) + "\n")
                self.p.stdin.flush()
            except BrokenPipeError:
                self.dead = True
                return {"ok": False, "error": "worker pipe closed"}
            return self._get(timeout)
        finally:
            for w in others:
                if w.p.poll() is None:
                    os.kill(w.p.pid, signal.SIGCONT)

    def kill(self) -> None:
        self.dead = True
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def close(self) -> None:
        if self.p.poll() is None and not self.dead:
            try:
                assert self.p.stdin is not None
                self.p.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
            except Exception:
                pass
        self.kill()
        self.errf.close()


def start_workers(cids: list[str], unavailable: dict[str, str]) -> dict[str, Worker]:
    ws = {}
    started = [Worker(cid) for cid in cids if cid not in unavailable]  # they load at once
    for w in started:
        cid = w.cid
        w.wait_ready()
        if w.dead:
            unavailable[cid] = w.ready.get("error", "failed to start")
            log(f"  {cid}: unavailable: {unavailable[cid]}")
            w.close()
        else:
            ws[cid] = w
    return ws


def order_for(rep: int, cids: list[str]) -> list[str]:
    """Rotate the contestant order each repetition, so none is always first or last."""
    k = rep % len(cids) if cids else 0
    return cids[k:] + cids[:k]


def stats(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


# ---------------------------------------------------------------- oracle & plans


def core_timeline() -> Any:
    """`mediaref.timeline` of this checkout: the rule every answer is checked against.

    Loaded without ``mediaref/__init__`` (which needs msgspec): the harness runs on any
    python3, and the timeline and the errors it raises use the standard library only.
    """
    if "mediaref" not in sys.modules:
        pkg = types.ModuleType("mediaref")
        pkg.__path__ = [str(REPO / "mediaref_core" / "src" / "mediaref")]
        sys.modules["mediaref"] = pkg
    return importlib.import_module("mediaref.timeline")


class Oracle:
    def __init__(self, path: str) -> None:
        o = json.loads(Path(path).read_text())
        self.path = o["path"]
        self.pts_ns: list[int] = o["pts_ns"]
        self.end_ns: int = o["end_ns"]
        self.grids: list[list[int]] = o["grids"]
        self.hashes: list[str] = o["hashes"]
        self.n = len(self.pts_ns)
        self.facts: dict[str, Any] = o.get("facts", {})
        self.shape = [self.facts.get("height", 360), self.facts.get("width", 640)]
        # decode-order packet index -> minimal plan (GOP decode, no skipping)
        pts_to_frame = {p: i for i, p in enumerate(o["pts"])}
        self.dec_pos = [0] * self.n  # frame -> position in decode order
        self.key_before = [0] * self.n  # frame -> decode position of its GOP's keyframe
        self.keyframes: list[int] = []  # frames whose packet is a keyframe, in decode order
        last_key = 0
        for pos, (p, key) in enumerate(o["packets"]):
            f = pts_to_frame[p]
            if key:
                last_key = pos
                self.keyframes.append(f)
            self.dec_pos[f] = pos
            self.key_before[f] = last_key

    def frame_at(self, t: int) -> int:
        return int(core_timeline().index_played_at(self.pts_ns, self.end_ns, t))

    def minimal(self, frames: list[int]) -> int:
        """Frames a decoder must decode for this request: per GOP, keyframe..last needed.

        Counts every packet from the GOP's keyframe to the last needed frame in decode
        order (closed GOPs, no B-frame skipping): an upper bound of the true minimum
        for media with B-frames, exact without them.
        """
        last_in_gop: dict[int, int] = {}
        for f in set(frames):
            k = self.key_before[f]
            last_in_gop[k] = max(last_in_gop.get(k, -1), self.dec_pos[f])
        return sum(last - k + 1 for k, last in last_in_gop.items())


def check_frames(
    sigs: list[list[Any]] | None, expected: list[tuple[Oracle, int]]
) -> dict[str, Any]:
    """Compare returned signatures with the oracle's frames."""
    if sigs is None:
        return {"checked": 0, "wrong": 0, "exact": 0, "examples": []}
    wrong, exact, ex = 0, 0, []
    if len(sigs) != len(expected):
        return {
            "checked": len(expected),
            "wrong": len(expected),
            "exact": 0,
            "examples": [f"returned {len(sigs)} frames for {len(expected)} requests"],
        }
    for s, (orc, f) in zip(sigs, expected, strict=True):
        code, h, grid, shape = s
        diff = sum(abs(a - b) for a, b in zip(grid, orc.grids[f], strict=False)) / max(1, len(grid))
        ok = code == f and diff <= GRID_TOL and shape[:2] == getattr(orc, "shape", [360, 640])
        if not ok:
            wrong += 1
            if len(ex) < 5:
                ex.append(
                    f"wanted frame {f}, got frame {code} (grid diff {diff:.1f}, shape {shape})"
                )
        elif h == orc.hashes[f]:
            exact += 1
    return {"checked": len(expected), "wrong": wrong, "exact": exact, "examples": ex}


# ---------------------------------------------------------------- video workloads


def workload_calls(name: str, orc: Oracle, rng: random.Random, quick: bool) -> list[list[int]]:
    """Timestamps (ns) per call for one repetition of workload `name` on one file."""
    begin, end, pts = orc.pts_ns[0], orc.end_ns, orc.pts_ns
    if name == "W1":  # 32 consecutive frames from a random start, one call per sample
        samples = 2 if quick else 8
        out = []
        for _ in range(samples):
            s = rng.randrange(0, orc.n - 32)
            out.append(pts[s : s + 32])
        return out
    if name == "W2":  # 64 random timestamps over the whole video, one call
        return [[rng.randrange(begin, end) for _ in range(64)]]
    if name == "W3":  # every frame of a 10 s window, one call
        t0 = rng.randrange(begin, max(begin + 1, end - 10_000_000_000))
        return [[p for p in pts if t0 <= p < t0 + 10_000_000_000]]
    if name == "W4":  # one random frame per call
        return [[rng.randrange(begin, end)] for _ in range(5 if quick else 20)]
    if name == "W5":  # one frame per second of the whole video, one call
        return [list(range(begin, end, 1_000_000_000))]
    if name == "W6":  # consecutive frames from a random start, one call per frame
        n = 10 if quick else 100
        s = rng.randrange(0, orc.n - n)
        return [[p] for p in pts[s : s + n]]
    if name == "WK":  # one random keyframe per call (its pts): the per-call cost
        return [[pts[rng.choice(orc.keyframes)]] for _ in range(5 if quick else 20)]
    raise ValueError(name)


def run_video_job(
    ws: dict[str, Worker],
    files: list[str],
    orcs: list[Oracle],
    reps: int,
    seed_calls: Any,
    label: str,
    timeout: float,
    warmup: bool = True,
) -> dict[str, Any]:
    """[Warm-up +] `reps` repetitions; each repetition draws new timestamps (same for all).

    Repetition 0 is the warm-up: its frames are checked but it is not timed.
    """
    cids = list(ws)
    res: dict[str, dict[str, Any]] = {
        c: {
            "fps": [],
            "seconds": [],
            "frames": 0,
            "wrong": 0,
            "checked": 0,
            "exact": 0,
            "examples": [],
            "errors": [],
            "decoded": [],
            "minimal_own": [],
            "counters": None,
            "wall": 0.0,
        }
        for c in cids
    }
    minimal_h: list[int] = []
    for c in cids:
        ws[c].ask({"op": "peak_reset"})
    for rep in range(0 if warmup else 1, reps + 1):
        calls = seed_calls(rep)  # list of calls, each [(file_idx, pts_ns)]
        items = [[[fi, t, orcs[fi].frame_at(t)] for fi, t in call] for call in calls]
        expected = [(orcs[fi], f) for call in items for fi, _, f in call]
        if rep:
            per_call_min = []
            for call in items:
                by: dict[int, list[int]] = {}
                for fi, _, f in call:
                    by.setdefault(fi, []).append(f)
                per_call_min.append(sum(orcs[fi].minimal(fs) for fi, fs in by.items()))
            minimal_h.append(sum(per_call_min))
        for c in order_for(rep, cids):
            t0 = time.time()
            r = ws[c].ask(
                {"op": "video", "files": files, "calls": items, "minimal": rep == 1},
                timeout=timeout,
            )
            rr = res[c]
            rr["wall"] += time.time() - t0
            if not r.get("ok"):
                rr["errors"].append(r.get("error"))
                continue
            out = r["result"]
            rr["errors"].extend(out["errors"])
            flat = [s for call in out["sigs"] if call is not None for s in call]
            ok_calls = [i for i, call in enumerate(out["sigs"]) if call is not None]
            exp = [e for i in ok_calls for e in [(orcs[fi], f) for fi, _, f in items[i]]]
            chk = (
                check_frames(flat, exp)
                if ok_calls
                else {"checked": 0, "wrong": 0, "exact": 0, "examples": []}
            )
            if len(ok_calls) < len(items):
                chk["wrong"] += sum(len(items[i]) for i in range(len(items)) if i not in ok_calls)
                chk["checked"] += sum(len(items[i]) for i in range(len(items)) if i not in ok_calls)
            if rep == 0:
                continue  # warm-up: not timed, but errors count above
            rr["wrong"] += chk["wrong"]
            rr["checked"] += chk["checked"]
            rr["exact"] += chk["exact"]
            rr["examples"] = (rr["examples"] + chk["examples"])[:5]
            if None in out["times"]:
                continue
            secs = sum(out["times"])
            nframes = len(expected)
            rr["seconds"].append(secs)
            rr["fps"].append(nframes / secs)
            rr["frames"] = nframes
            counters = [x for x in out["counters"] if x]
            if counters:
                tot: dict[str, float] = {}
                for cdict in counters:
                    for k, v in cdict.items():
                        tot[k] = tot.get(k, 0) + v
                rr["counters"] = tot
                if "frames_decoded" in tot:
                    rr["decoded"].append(tot["frames_decoded"])
            if out.get("minimal") is not None:
                rr["minimal_own"].append(out["minimal"])
        done = (
            ", ".join(f"{c}={res[c]['fps'][-1]:.0f}" for c in cids if res[c]["fps"] and rep)
            if rep
            else "warm-up"
        )
        log(f"  {label} rep {rep}/{reps}: {done}")
    for c in cids:
        p = ws[c].ask({"op": "peak"})
        res[c]["peak"] = p.get("result")
    summary = {}
    for c, rr in res.items():
        d: dict[str, Any] = {
            "errors": sorted({e for e in rr["errors"] if e})[:3],
            "frames_per_rep": rr["frames"],
            "checked": rr["checked"],
            "wrong": rr["wrong"],
            "bit_exact": rr["exact"],
            "wrong_examples": rr["examples"],
            # Its jobs' wall time (a warm-up repetition included; the harness's checks not).
            "wall_s": round(rr["wall"], 2),
        }
        if rr["fps"]:
            d["fps"] = stats(rr["fps"])
            d["seconds"] = rr["seconds"]
        if rr.get("peak"):
            d["peak_rss_mb"] = round(rr["peak"]["vm_hwm_kb"] / 1024, 1)
            d["ru_maxrss_mb"] = round(rr["peak"]["ru_maxrss_kb"] / 1024, 1)
        if rr["decoded"]:
            d["frames_decoded"] = rr["decoded"]
            d["counters_last_rep"] = rr["counters"]
        if rr["minimal_own"]:
            d["minimal_frames_own_rep1"] = rr["minimal_own"][0]
        summary[c] = d
    return {"minimal_frames": minimal_h, "contestants": summary}


# Combinations left out to bound a full run: on long GOPs (media B, x264/x265/libvpx
# defaults) the naive per-timestamp PyAV loop decodes from a keyframe up to a GOP back for
# every frame of W1, W3 and W5 (minutes per repetition); it still runs W2, W4 and W6 there.
# The floor contestants decode from the keyframe once per call: on W6 (one frame per call,
# stepping forward) that is up to a GOP per frame, four times over, and no limit for a
# decoder that goes on from the previous call; they run every other workload.
SKIP_LONG_GOP = {"pyav_naive": ("W1", "W3", "W5"), **dict.fromkeys(FLOORS, ("W6",))}
LONG_GOP = 60  # frames


# `iter_decode` streams requests of one frame each: the one-frame-per-call workloads.
ONLY = {"ours_iter": ("W4", "W6")}


def skipped(orc: Oracle) -> set[tuple[str, str]]:
    """(contestant, workload) pairs left out on this media."""
    every = ("W1", "W2", "W3", "W4", "W5", "W6", "WK")
    out = {(c, w) for c, keep in ONLY.items() for w in every if w not in keep}
    if orc.facts.get("gop_max", 0) > LONG_GOP:
        out |= {(c, w) for c, wls in SKIP_LONG_GOP.items() for w in wls}
    return out


def media_record(orc: Oracle, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": os.path.basename(entry["path"]),
        "encoder": entry.get("encoder"),
        "facts": orc.facts,
        "frames": orc.n,
        "duration_s": (orc.end_ns - orc.pts_ns[0]) / 1e9,
        "workloads": {},
        "skipped": sorted(f"{c} {w}" for c, w in skipped(orc)),
    }


def suite_video(args: Any, media: dict[str, Any], unavailable: dict[str, str]) -> dict[str, Any]:
    """Each workload on each medium in fresh contestant processes, after the same warm-up.

    Fresh processes make each workload's peak RSS its own: with one process per medium,
    a workload's peak held what the previous one left (W4 after W3's 300 frames: the
    floor's plain PyAV at 76-268 MB by how its heap happened to be laid out, ours' frame
    pool at up to 846 MB), and the contestants that skip a workload looked leanest.
    """
    out: dict[str, Any] = {}
    for mname, entry in media["video"].items():
        orc = Oracle(entry["oracle"])
        files = [entry["path"]]
        out[mname] = media_record(orc, entry)
        out[mname]["warm_up"] = {}
        skip = skipped(orc)

        # The warm-up per process (imports, index, page cache, first open), checked for
        # correctness: 16 random timestamps, then one single frame.
        def warm(rep: int, mname: str = mname, orc: Oracle = orc) -> list[list[tuple[int, int]]]:
            rng = random.Random(hash_seed(mname, "warm-up"))
            return [
                [(0, rng.randrange(orc.pts_ns[0], orc.end_ns)) for _ in range(16)],
                [(0, rng.randrange(orc.pts_ns[0], orc.end_ns))],
            ]

        for wl in args.workloads:
            seed = hash_seed(mname, wl)

            def seed_calls(
                rep: int, wl: str = wl, seed: int = seed, orc: Oracle = orc
            ) -> list[list[tuple[int, int]]]:
                rng = random.Random(seed + rep)
                return [[(0, t) for t in call] for call in workload_calls(wl, orc, rng, args.quick)]

            log(f"video: media {mname} ({orc.n} frames), {wl} -- starting workers")
            cids = [c for c in args.video_contestants if (c, wl) not in skip]
            ws = start_workers(cids, unavailable)
            try:
                out[mname]["warm_up"][wl] = run_video_job(
                    ws, files, [orc], 1, warm, f"{mname}/{wl} warm-up", args.timeout, warmup=False
                )
                t0 = time.time()
                out[mname]["workloads"][wl] = run_video_job(
                    ws,
                    files,
                    [orc],
                    args.reps,
                    seed_calls,
                    f"{mname}/{wl}",
                    args.timeout,
                    warmup=False,
                )
                out[mname]["workloads"][wl]["wall_s"] = round(time.time() - t0, 1)
            finally:
                for w in ws.values():
                    w.close()
    return out


def hash_seed(*parts: str) -> int:
    return int(hashlib.sha1("/".join(parts).encode()).hexdigest()[:8], 16)


def suite_multifile(
    args: Any, media: dict[str, Any], unavailable: dict[str, str]
) -> dict[str, Any]:
    eps = media["multifile"]
    orcs = [Oracle(e["oracle"]) for e in eps]
    files = [e["path"] for e in eps]
    per_file = 32

    def seed_calls(rep: int) -> list[list[tuple[int, int]]]:
        rng = random.Random(hash_seed("multifile") + rep)
        call = [
            (fi, rng.randrange(o.pts_ns[0], o.end_ns))
            for fi, o in enumerate(orcs)
            for _ in range(per_file)
        ]
        rng.shuffle(call)
        return [call]

    log(f"multifile: {len(files)} files x {per_file} random timestamps in one call")
    ws = start_workers(args.video_contestants, unavailable)
    try:
        r = run_video_job(ws, files, orcs, args.reps, seed_calls, "multifile", args.timeout)
    finally:
        for w in ws.values():
            w.close()
    r["files"] = [os.path.basename(f) for f in files]
    r["frames_per_file"] = orcs[0].n
    return r


def suite_images(args: Any, media: dict[str, Any], unavailable: dict[str, str]) -> dict[str, Any]:
    manifest = Path(media["images"]["manifest"])
    man = json.loads(manifest.read_text())
    # The images of the manifest's own directory (a manifest written with a relative
    # --out holds paths the contestants, running in bench/contestants, would not find).
    files = [str(manifest.parent / Path(f).name) for f in man["files"]]
    grids, hashes = man["grids"], man["hashes"]
    bs = 100
    batches = [files[i : i + bs] for i in range(0, len(files), bs)]
    log(f"images: {len(files)} images (JPEG+PNG 640x360) in calls of {bs}")

    class _O:  # adapt the image manifest to check_frames' oracle interface
        pass

    orc = _O()
    orc.grids, orc.hashes = grids, hashes  # type: ignore[attr-defined]
    expected = [(orc, i) for i in range(len(files))]
    ws = start_workers(IMAGE_CONTESTANTS, unavailable)
    res: dict[str, Any] = {
        c: {"ips": [], "errors": [], "wrong": 0, "checked": 0, "exact": 0, "examples": []}
        for c in ws
    }
    try:
        for c in ws:
            ws[c].ask({"op": "peak_reset"})
        for rep in range(args.reps + 1):
            for c in order_for(rep, list(ws)):
                r = ws[c].ask({"op": "images", "batches": batches}, timeout=args.timeout)
                rr = res[c]
                if not r.get("ok"):
                    rr["errors"].append(r["error"])
                    continue
                o = r["result"]
                rr["errors"].extend(o["errors"])
                if None in o["times"]:
                    continue
                chk = check_frames([s for b in o["sigs"] for s in b], expected)  # type: ignore[arg-type]
                if rep == 0:
                    continue
                rr["ips"].append(len(files) / sum(o["times"]))
                rr["wrong"] += chk["wrong"]
                rr["checked"] += chk["checked"]
                rr["exact"] += chk["exact"]
                rr["examples"] = (rr["examples"] + chk["examples"])[:5]
            log(
                f"  images rep {rep}/{args.reps}: "
                + ", ".join(f"{c}={res[c]['ips'][-1]:.0f}/s" for c in ws if res[c]["ips"] and rep)
            )
        for c in ws:
            p = ws[c].ask({"op": "peak"}).get("result") or {}
            res[c]["peak_rss_mb"] = round(p.get("vm_hwm_kb", 0) / 1024, 1)
    finally:
        for w in ws.values():
            w.close()
    out = {}
    for c, rr in res.items():
        d = {
            "errors": sorted({e for e in rr["errors"] if e})[:3],
            "wrong": rr["wrong"],
            "checked": rr["checked"],
            "bit_exact": rr["exact"],
            "wrong_examples": rr["examples"],
            "peak_rss_mb": rr["peak_rss_mb"],
        }
        if rr["ips"]:
            d["images_per_s"] = stats(rr["ips"])
        out[c] = d
    return {"n_images": len(files), "batch_size": bs, "contestants": out}


def suite_serialization(args: Any, unavailable: dict[str, str]) -> dict[str, Any]:
    n = 200_000
    log(f"serialization: {n} refs, construct / JSON / MessagePack")
    ws = start_workers(SERIAL_CONTESTANTS, unavailable)
    acc: dict[str, dict[str, list[float]]] = {c: {} for c in ws}
    info: dict[str, Any] = {c: {} for c in ws}
    errors: dict[str, list[str]] = {c: [] for c in ws}
    try:
        for rep in range(args.reps + 1):
            for c in order_for(rep, list(ws)):
                r = ws[c].ask({"op": "serialization", "n": n, "reps": 1}, timeout=args.timeout)
                if not r.get("ok"):
                    errors[c].append(r["error"])
                    continue
                o = r["result"]
                info[c] = {k: v for k, v in o.items() if k != "ns_per_ref"}
                if rep == 0:
                    continue
                for k, v in o["ns_per_ref"].items():
                    acc[c].setdefault(k, []).extend(v)
            log(f"  serialization rep {rep}/{args.reps}")
    finally:
        for w in ws.values():
            w.close()
    out = {}
    for c, per_op in acc.items():
        out[c] = {
            "ns_per_ref": {k: stats(v) for k, v in per_op.items()},
            **info[c],
            "errors": sorted(set(errors[c]))[:3],
        }
    return {"n": n, "contestants": out}


def suite_import(args: Any, unavailable: dict[str, str]) -> dict[str, Any]:
    runs = 20 if not args.quick else 5
    code = (
        "import time, sys; t = time.perf_counter(); import {m}; "
        "d = time.perf_counter() - t; "
        "print(d, sorted({{'numpy', 'PIL', 'av', 'torch', 'pydantic'}} & sys.modules.keys()))"
    )
    cases = {
        "ours: import mediaref": ("ours", "mediaref"),
        "baseline: import msgspec, pluggy": ("ours", "msgspec, pluggy"),
        "PyPI mediaref 2.1: import mediaref": ("pypi_mediaref", "mediaref"),
    }
    log(f"import: {runs} fresh interpreters per case, alternating")
    times: dict[str, list[float]] = {k: [] for k in cases}
    heavy: dict[str, str] = {}
    errors: dict[str, str] = {}
    for rep in range(runs + 1):
        for k in order_for(rep, list(cases)):
            env, mod = cases[k]
            if not venv_python(env).exists():
                errors[k] = f"venv {env} missing"
                continue
            r = subprocess.run(
                [str(venv_python(env)), "-c", code.format(m=mod)],
                capture_output=True,
                text=True,
                cwd="/",
            )
            if r.returncode:
                errors[k] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"
                continue
            t, mods = r.stdout.strip().split(" ", 1)
            heavy[k] = mods
            if rep:
                times[k].append(float(t) * 1000)
    out = {k: {"ms": stats(v), "heavy_modules_loaded": heavy.get(k)} for k, v in times.items() if v}
    for k, e in errors.items():
        out.setdefault(k, {})["error"] = e
    return {"runs": runs, "cases": out}


def suite_soak(args: Any) -> dict[str, Any]:
    n = 5_000 if args.quick else 100_000
    out = RESULTS / ("soak-quick.md" if args.quick else "soak.md")
    log(f"soak: {n} frames (bench/soak.py), report in {out.relative_to(REPO)}")
    r = subprocess.run(
        [str(venv_python("ours")), str(BENCH / "soak.py"), "--frames", str(n), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    return {
        "frames": n,
        "returncode": r.returncode,
        "report": str(out.relative_to(REPO)),
        "tail": r.stdout.strip().splitlines()[-4:] + r.stderr.strip().splitlines()[-3:],
    }


# ---------------------------------------------------------------- machine & versions


def machine() -> dict[str, Any]:
    m: dict[str, Any] = {
        "platform": platform.platform(),
        "python_harness": platform.python_version(),
    }
    m["nproc"] = os.cpu_count()
    if hasattr(os, "sched_getaffinity"):
        m["nproc_affinity"] = len(os.sched_getaffinity(0))
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                m["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                m["memory_gib"] = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    m["loadavg_start"] = os.getloadavg()
    try:
        ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True)
        m["ffmpeg_system"] = ff.stdout.splitlines()[0] if ff.stdout else None
    except OSError:
        m["ffmpeg_system"] = None
    return m


def git_state() -> dict[str, Any]:
    def g(*a: str) -> str:
        r = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True)
        return r.stdout.strip()

    dirty = g("status", "--porcelain", "--", "mediaref_core", "mediaref_av", "mediaref_pil")
    last = {
        p: g("log", "-1", "--format=%h %cI %s", "--", p)
        for p in ("mediaref_core", "mediaref_pil", "mediaref_av")
    }
    return {
        "last_commit_per_package": last,
        "commit": g("rev-parse", "--short", "HEAD"),
        "library_dirty": bool(dirty),
        "dirty_files": dirty.splitlines()[:20],
    }


def contestant_versions(cids: list[str], unavailable: dict[str, str]) -> dict[str, Any]:
    out = {}
    for cid in cids:
        if cid in unavailable:
            out[cid] = {"unavailable": unavailable[cid]}
            continue
        w = Worker(cid)
        w.wait_ready()
        r = w.ask({"op": "info"}, timeout=120) if not w.dead else w.ready
        w.close()
        if r.get("ok"):
            out[cid] = r["result"]
        else:
            unavailable[cid] = r.get("error", "?")
            out[cid] = {"unavailable": unavailable[cid]}
    return out


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="30 s media, fewer repetitions (~minutes)")
    ap.add_argument(
        "--suites",
        default=",".join(DEFAULT_SUITES),
        help=f"comma-separated, from {','.join(ALL_SUITES)}",
    )
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (after 1 warm-up)")
    ap.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6,WK")
    ap.add_argument("--media", default="", help="video media of media.py (default: all)")
    ap.add_argument(
        "--busy",
        type=int,
        nargs="?",
        const=2,
        default=0,
        help="run N CPU-burning processes beside the contestants (default N when given: 2)",
    )
    ap.add_argument(
        "--contestants", default=",".join(VIDEO_CONTESTANTS), help="video contestants to run"
    )
    ap.add_argument("--skip-setup", action="store_true", help="use the venvs as they are")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per job")
    ap.add_argument("--out", default=str(RESULTS / "latest"), help="path prefix for .json/.md")
    args = ap.parse_args()
    args.suites = [s for s in args.suites.split(",") if s]
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.video_contestants = [c for c in args.contestants.split(",") if c]
    if args.reps is None:
        args.reps = 2 if args.quick else 5
    unknown = set(args.suites) - set(ALL_SUITES)
    if unknown:
        ap.error(f"unknown suites {sorted(unknown)}")

    started = dt.datetime.now(dt.timezone.utc)
    log(f"bench {'quick' if args.quick else 'full'} run, suites: {','.join(args.suites)}")
    envs: dict[str, Any] = {}
    unavailable: dict[str, str] = {}
    ff = check_ffmpeg_libs()
    for env in ENVS:
        envs[env] = {"ok": venv_python(env).exists()} if args.skip_setup else setup_env(env)
        if not envs[env]["ok"]:
            log(f"venv {env}: {envs[env].get('error')}")
            for cid, (e, _, _) in CONTESTANTS.items():
                if e == env:
                    unavailable[cid] = f"venv {env} could not be set up: {envs[env].get('error')}"
    if ff:
        for cid in ("torchcodec", "torchcodec_auto"):
            unavailable.setdefault(cid, ff)
    if not envs["pyav"]["ok"]:
        log("the pyav venv (media + oracle) is required")
        return 2

    what = {"video"} & set(args.suites) | ({"images"} & set(args.suites))
    if "multifile" in args.suites:
        what.add("multifile")
    log("making media (cached in bench/.cache)")
    mk = subprocess.run(
        [str(venv_python("pyav")), str(BENCH / "media.py"), "--out", str(CACHE)]
        + (["--quick"] if args.quick else [])
        + ["--what", ",".join(sorted(what)) or "none"]
        + (["--media", args.media] if args.media else []),
        capture_output=True,
        text=True,
    )
    if mk.returncode:
        log("media failed:\n" + mk.stderr[-3000:])
        return 2
    media = json.loads(mk.stdout.strip().splitlines()[-1])

    all_cids = sorted(
        set(args.video_contestants) | set(IMAGE_CONTESTANTS) | set(SERIAL_CONTESTANTS),
        key=list(CONTESTANTS).index,
    )
    log("asking every contestant for its versions")
    versions = contestant_versions(all_cids, unavailable)

    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "date_utc": started.isoformat(timespec="seconds"),
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "git": git_state(),
        "versions": versions,
        "unavailable": unavailable,
        "reps": args.reps,
        "busy": args.busy,
        "suites_requested": args.suites,
        "suites": {},
        "contestant_names": SHORT,
    }
    suites = {
        "video": lambda: suite_video(args, media, unavailable),
        "multifile": lambda: suite_multifile(args, media, unavailable),
        "images": lambda: suite_images(args, media, unavailable),
        "serialization": lambda: suite_serialization(args, unavailable),
        "import": lambda: suite_import(args, unavailable),
        "soak": lambda: suite_soak(args),
    }
    # A SIGTERM unwinds like Ctrl-C, so that the contestants and burners are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    burners = start_burners(args.busy)
    try:
        for s in args.suites:
            t0 = time.time()
            try:
                results["suites"][s] = suites[s]()
            except Exception as e:
                log(f"suite {s} failed: {e}")
                results["suites"][s] = {
                    "error": f"{type(e).__name__}: {e}",
                    "traceback": traceback.format_exc()[-3000:],
                }
            results["suites"][s]["suite_wall_s"] = round(time.time() - t0, 1)
            write(results, args.out)  # keep partial results if a later suite dies
    finally:
        stop_burners(burners)
        for w in _LIVE:
            w.kill()
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["finished_utc"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    write(results, args.out, draw=True)
    log(f"wrote {args.out}.json and {args.out}.md")
    return 0


# One busy core: a pure-Python spin loop, which ends when the harness is gone.
BURN = (
    "import os\n"
    "parent = os.getppid()\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(1_000_000):\n"
    "        pass\n"
)


def start_burners(n: int) -> list[subprocess.Popen[bytes]]:
    """The busy-machine variant: `n` processes that each spin one core for the whole run."""
    if n:
        log(f"busy machine: {n} CPU-burning processes beside the contestants")
    return [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(n)]


def stop_burners(burners: list[subprocess.Popen[bytes]]) -> None:
    for b in burners:
        b.kill()
        b.wait()


def write(results: dict[str, Any], prefix: str, draw: bool = False) -> None:
    """Write PREFIX.json and PREFIX.md (and at the end of the run the chart, PREFIX.png)."""
    sys.path.insert(0, str(BENCH))
    from report import chart, render

    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    Path(prefix + ".json").write_text(json.dumps(results, indent=1) + "\n")
    if draw:
        results["chart"] = chart(Path(prefix + ".json"))
        Path(prefix + ".json").write_text(json.dumps(results, indent=1) + "\n")
    Path(prefix + ".md").write_text(render(results))


if __name__ == "__main__":
    sys.exit(main())
