"""Training loaders: frames/s through a torch DataLoader with 0, 1 and 2 workers.

    python bench/training_bench.py [--rounds 3] [--reps 1] [--peers-python TORCHCODEC_PYTHON]
        [--pypi-python PYPI_MEDIAREF_PYTHON] [--loaders floor,ours-map,...]

Workloads (media made once in bench/.cache/training with the ffmpeg command, testsrc2):

- d2e: samples of 32 consecutive frames at 20 Hz from two 30 s 640x360 20 fps H.264 episodes
  (x264 defaults but GOP 40: B-frames), 24 samples a pass, batch size 2;
- lerobot: two cameras per step, one frame each at a random time, from two 10 s 640x480
  30 fps AV1 episodes per camera (libsvtav1, g=2, crf=30, preset 12, as LeRobot writes),
  128 samples a pass, batch size 16.

Loaders: ours (`FrameDataset` + `VideoBatchSampler` + `collate`, and `FrameStream` ahead=1), a plain
PyAV dataset (seek to the first time asked, decode forward; containers cached per worker),
TorchCodec (`VideoDecoder(seek_mode="exact")` cached per worker, `get_frames_played_at`)
when `--peers-python` names a venv that has it, and PyPI mediaref 2.1 (its `batch_decode`
per sample, default decoder TensorCodec; `pypi-mediaref-pyav`: its PyAV decoder) when
`--pypi-python` names a venv with bench/requirements/training_pypi_mediaref.txt.
"floor" is no loader: the pass's minimal decode plan (`plan`: each frame some sample asks
for decoded once, from its GOP's keyframe, and converted to RGB once) with plain PyAV in 1
process (2 frame threads) or 2 processes (1 thread each), no DataLoader and no transfer
to a main process: what 1 or 2 workers cannot beat on this machine. Each (loader,
workers) runs in its own process: one untimed pass that checks every returned frame (its
time against a sequential decode's frame starts, its pixels against that decode's bytes),
then `--reps` timed passes with persistent workers; `--rounds` such processes per
configuration, every configuration once per round (so that the load of a shared machine
falls on all of them alike); medians over all timed passes. Peak RSS of the main process
and of the largest worker (VmHWM from /proc), CPU use = CPU seconds of
the process and its workers / wall / cores.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CACHE = Path(__file__).parent / ".cache" / "training"
HERE = Path(__file__).resolve()
WORKLOADS = {
    "d2e": {"batch": 2, "samples": 24},
    "lerobot": {"batch": 16, "samples": 128},
}


def ffmpeg(out: Path, size: str, rate: int, seconds: int, codec: list[str], seed: int) -> None:
    if out.exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    src = f"testsrc2=size={size}:rate={rate}:duration={seconds}"
    if seed:
        src += f",hue=h={seed * 90}"  # the second camera looks different
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", src, *codec]
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", str(out)], check=True)


def media() -> dict[str, list[str]]:
    """Make (once) and return the episodes of each workload."""
    x264 = ["-c:v", "libx264", "-g", "40"]
    svt = ["-c:v", "libsvtav1", "-g", "2", "-crf", "30", "-preset", "12"]
    d2e = [CACHE / f"d2e_{e}.mp4" for e in range(2)]
    for e, p in enumerate(d2e):
        ffmpeg(p, "640x360", 20, 30 + e, x264, 0)
    cams = [CACHE / f"lerobot_ep{e}_cam{c}.mp4" for e in range(2) for c in range(2)]
    for p in cams:
        ffmpeg(p, "640x480", 30, 10, svt, int(p.stem[-1]))
    return {"d2e": [str(p) for p in d2e], "lerobot": [str(p) for p in cams]}


def samples(workload: str, uris: list[str]) -> list[list[tuple[str, int]]]:
    """Each sample as (uri, pts_ns) pairs; seeded, the same for every loader."""
    rng = random.Random(0)
    n = WORKLOADS[workload]["samples"]
    if workload == "d2e":
        out = []
        for _ in range(n):
            uri = rng.choice(uris)
            first = rng.randrange(0, 30 * 20 - 32)
            out.append([(uri, (first + k) * 50_000_000 + 10_000_000) for k in range(32)])
        return out
    out = []
    for _ in range(n):
        ep = rng.randrange(2)
        t = rng.randrange(0, 10 * 10**9 - 34_000_000)
        out.append([(uris[2 * ep + c], t) for c in range(2)])
    return out


def oracle(uris: list[str]) -> dict[str, tuple[list[int], list[str]]]:
    """Each video's frame starts (ns, `mediaref.timeline`) and a hash of each frame's RGB."""
    import av

    from mediaref import timeline

    out = {}
    for uri in uris:
        with av.open(uri) as c:
            s = c.streams.video[0]
            time_base = s.time_base  # read while the container is open
            frames = [(f.pts, digest(f.to_ndarray(format="rgb24"))) for f in c.decode(s)]
        starts = timeline.starts_ns_of([p for p, _ in frames], time_base)
        out[uri] = (starts, [h for _, h in frames])
    return out


def digest(array: Any) -> str:
    return hashlib.blake2b(array.tobytes(), digest_size=8).hexdigest()


def _pyav_frames(containers: dict[str, Any], uri: str, times: list[int]) -> list[Any]:
    """Frames on screen at `times` (sorted): one seek to the first, then decode forward."""
    import av

    c = containers.get(uri)
    if c is None:
        c = containers[uri] = av.open(uri)
        c.streams.video[0].thread_type = "AUTO"
    s = c.streams.video[0]
    tb = s.time_base
    c.seek(times[0] * tb.denominator // (tb.numerator * 10**9), stream=s, backward=True)
    out: list[Any] = []
    prev = None
    for f in c.decode(s):
        start = -(-f.pts * tb.numerator * 10**9 // tb.denominator)  # ceil: mediaref's rule
        while len(out) < len(times) and prev is not None and times[len(out)] < start:
            out.append(prev)
        if len(out) == len(times):
            break
        prev = (f.to_ndarray(format="rgb24"), start)
    out += [prev] * (len(times) - len(out))
    return out


class PyAVSamples:
    """The plain-PyAV loader a user writes: per sample, per file, seek once, decode forward."""

    def __init__(self, samples: list[list[tuple[str, int]]]) -> None:
        self.samples = samples
        self.containers: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import numpy as np
        import torch

        sample = self.samples[i]
        got: dict[int, Any] = {}
        for uri in dict.fromkeys(u for u, _ in sample):
            where = sorted((t, k) for k, (u, t) in enumerate(sample) if u == uri)
            frames = _pyav_frames(self.containers, uri, [t for t, _ in where])
            got.update({k: f for (_, k), f in zip(where, frames, strict=True)})
        frames = [got[k][0] for k in range(len(sample))]
        return {
            "frames": torch.from_numpy(np.stack(frames)),
            "pts_ns": torch.tensor([got[k][1] for k in range(len(sample))]),
        }


class TorchCodecSamples(PyAVSamples):
    """TorchCodec: one exact-mode decoder per file and worker, `get_frames_played_at`."""

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch
        from torchcodec.decoders import VideoDecoder

        frames, pts = [], []
        for uri, t in self.samples[i]:  # one file per call; lerobot's two cameras differ
            dec = self.containers.get(uri)
            if dec is None:
                dec = self.containers[uri] = VideoDecoder(
                    uri, seek_mode="exact", dimension_order="NHWC"
                )
            fb = dec.get_frames_played_at(seconds=[t / 1e9])
            frames.append(fb.data[0])
            pts.append(round(float(fb.pts_seconds[0]) * 1e9))
        return {"frames": torch.stack(frames), "pts_ns": torch.tensor(pts)}


class PyPIMediaRefSamples(PyAVSamples):
    """PyPI mediaref 2.1: its `batch_decode` per sample (it has no Dataset); its decoders
    return arrays without their times, so only the pixels are checked."""

    decoder = "tensorcodec"  # its default

    def __getitem__(self, i: int) -> dict[str, Any]:
        import numpy as np
        import torch

        from mediaref import MediaRef, batch_decode

        refs = [MediaRef(uri=u, pts_ns=t) for u, t in self.samples[i]]
        frames = batch_decode(refs, decoder=self.decoder, allow_multi_video=True)
        return {"frames": torch.from_numpy(np.stack(frames))}


class PyPIMediaRefPyAVSamples(PyPIMediaRefSamples):
    decoder = "pyav"


PEERS = {
    "pyav": PyAVSamples,
    "torchcodec": TorchCodecSamples,
    "pypi-mediaref": PyPIMediaRefSamples,
    "pypi-mediaref-pyav": PyPIMediaRefPyAVSamples,
}


def build(loader: str, smp: list[list[tuple[str, int]]], workers: int, batch: int) -> Any:
    """A DataLoader of `loader` over the samples, persistent workers."""
    import torch
    from torch.utils.data import DataLoader

    common: dict[str, Any] = {"num_workers": workers, "persistent_workers": workers > 0}
    if loader in PEERS:
        ds = PEERS[loader](smp)
        gen = torch.Generator().manual_seed(0)
        return DataLoader(ds, batch_size=batch, shuffle=True, generator=gen, **common)
    from mediaref import MediaRef
    from mediaref.torch import FrameDataset, FrameStream, VideoBatchSampler, collate

    refs = [[MediaRef(u, t) for u, t in s] for s in smp]
    dataset = FrameDataset(refs)
    sampler = VideoBatchSampler(dataset, batch, num_workers=workers, seed=0)
    if loader == "ours-stream":
        return DataLoader(FrameStream(dataset, sampler, ahead=1), batch_size=None, **common)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, **common)


def proc_stats(pid: int) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS (kB) of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return cpu, hwm


def child(workload: str, loader: str, workers: int, reps: int) -> dict[str, Any]:
    uris = media()[workload]
    smp = samples(workload, uris)
    dl = build(loader, smp, workers, WORKLOADS[workload]["batch"])
    seen = []
    for batch in dl:  # untimed: starts the workers, checks every frame
        frames = batch["frames"].reshape(-1, *batch["frames"].shape[-3:])
        times = batch["pts_ns"].reshape(-1).tolist() if "pts_ns" in batch else [None] * len(frames)
        seen += [(t, digest(f.numpy())) for t, f in zip(times, frames, strict=True)]
    pids = [os.getpid()] + ([w.pid for w in dl._iterator._workers] if workers else [])

    def one_pass() -> int:
        return sum(b["frames"].reshape(-1, *b["frames"].shape[-3:]).shape[0] for b in dl)

    return {**timed(pids, reps, one_pass), "seen": seen}


def timed(pids: list[int], reps: int, one_pass: Any) -> dict[str, Any]:
    """`reps` timed calls of `one_pass` (it returns the frames of a pass); the CPU seconds
    and peak RSS of `pids` (this process first, then its workers)."""
    cpu0 = sum(proc_stats(p)[0] for p in pids)
    times, frames = [], 0
    for _ in range(reps):
        t0 = time.perf_counter()
        frames = one_pass()
        times.append(time.perf_counter() - t0)
    cpu = sum(proc_stats(p)[0] for p in pids) - cpu0
    rss = [proc_stats(p)[1] // 1024 for p in pids]
    return {
        "frames": frames,
        "seconds": times,
        "cpu_util": cpu / sum(times) / len(os.sched_getaffinity(0)),
        "rss_main_mb": rss[0],
        "rss_worker_mb": max(rss[1:]) if len(rss) > 1 else None,
    }


def check(result: dict[str, Any], expected: list[tuple[int, str]], exact_times: bool) -> str:
    """Compare the frames a loader returned with the oracle's, as multisets."""
    seen = result.pop("seen")
    bad_pixels = len(expected) - sum(
        min(a, b) for a, b in _both_counts([h for _, h in seen], [h for _, h in expected]).values()
    )
    if any(t is None for t, _ in seen):
        return f"{len(expected) - bad_pixels}/{len(expected)} pixel-exact, no times returned"
    got_t, want_t = sorted(t for t, _ in seen), sorted(t for t, _ in expected)
    tolerance = 0 if exact_times else 1000  # TorchCodec gives float seconds
    times_ok = len(got_t) == len(want_t) and all(
        abs(a - b) <= tolerance for a, b in zip(got_t, want_t, strict=True)
    )
    times = "ok" if times_ok else "WRONG"
    return f"{len(expected) - bad_pixels}/{len(expected)} pixel-exact, times {times}"


def _both_counts(a: list[str], b: list[str]) -> dict[str, tuple[int, int]]:
    from collections import Counter

    ca, cb = Counter(a), Counter(b)
    return {k: (ca[k], cb[k]) for k in cb}


def expected_frames(workload: str, uris: list[str]) -> list[tuple[int, str]]:
    truth = oracle(uris)
    out = []
    for sample in samples(workload, uris):
        for uri, t in sample:
            starts, hashes = truth[uri]
            i = bisect.bisect_right(starts, t) - 1
            out.append((starts[i], hashes[i]))
    return out


def run_child(python: str, workload: str, loader: str, workers: int, reps: int) -> dict[str, Any]:
    cmd = [python, str(HERE), "--child", workload, loader, str(workers), "--reps", str(reps)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(workload: str, loader: str, workers: int, r: dict[str, Any], base: float | None) -> str:
    if "error" in r:
        return f"| {workload} | {loader} | {workers} | – | – | – | – | – | – | – | {r['error']} |"
    fps = [r["frames"] / s for s in r["seconds"]]
    med = statistics.median(fps)
    scale = f"{med / base:.2f}x" if base else "–"
    worker = r["rss_worker_mb"] if r["rss_worker_mb"] is not None else "–"
    cpu_ms = r["cpu_util"] * len(os.sched_getaffinity(0)) * 1000 / med  # CPU ms per frame
    return (
        f"| {workload} | {loader} | {workers} | {med:,.0f} | {min(fps):,.0f}–{max(fps):,.0f} | "
        f"{scale} | {r['cpu_util']:.0%} | {cpu_ms:.2f} | {r['rss_main_mb']} | {worker} | "
        f"{r['check']} |"
    )


def ray_bench(reps: int) -> dict[str, Any]:
    """The d2e references as a Parquet table through mediaref.ray on a local 2-CPU Ray,
    against a plain loop of `batch_decode` over the same references in chunks of 64."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    import mediaref.arrow as ma
    import mediaref.ray as mr
    from mediaref import MediaRef, batch_decode

    refs = [MediaRef(u, t) for sample in samples("d2e", media()["d2e"]) for u, t in sample]
    table = CACHE / "d2e_refs.parquet"
    pq.write_table(pa.table({"ref": ma.to_arrow(refs)}), table)
    ordered = sorted(refs, key=lambda r: (r.uri, r.pts_ns or 0))

    def plain() -> int:
        return sum(len(batch_decode(ordered[k : k + 64])) for k in range(0, len(ordered), 64))

    def on_ray(sort: bool = True) -> int:
        ds = mr.read_refs(str(table), column="ref", override_num_blocks=2)
        frames = mr.decode_refs(ds, image_format=None, batch_size=64, sort=sort)
        return sum(len(b["frame"]) for b in frames.iter_batches(batch_size=256))

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    out: dict[str, Any] = {"frames": len(refs), "plain": [], "ray": [], "ray unsorted": []}
    try:
        on_ray(), plain()  # warm-up: Ray's workers, indexes
        for _ in range(reps):
            runs = (("plain", plain), ("ray", on_ray), ("ray unsorted", lambda: on_ray(False)))
            for name, fn in runs:
                t0 = time.perf_counter()
                assert fn() == len(refs)
                out[name].append(time.perf_counter() - t0)
    finally:
        ray.shutdown()
    return out


def plan(workload: str, uris: list[str]) -> dict[str, list[int]]:
    """The minimal decode plan of a pass: per video, the stream pts of every frame on
    screen at a time some sample asks for (each converted once)."""
    import av

    from mediaref import timeline

    out: dict[str, list[int]] = {}
    for uri in uris:
        with av.open(uri) as c:
            s = c.streams.video[0]
            tb = s.time_base
            pts = sorted(p.pts for p in c.demux(s) if p.pts is not None)
        starts = timeline.starts_ns_of(pts, tb)
        wanted = {
            pts[bisect.bisect_right(starts, t) - 1]
            for sample in samples(workload, uris)
            for u, t in sample
            if u == uri
        }
        out[uri] = sorted(wanted)
    return out


def decode_plan(todo: dict[str, list[int]], thread_type: str, threads: int) -> int:
    """Decode `todo` with plain PyAV: per run of neighbouring GOPs holding wanted frames, one
    seek to the first keyframe and decoding forward to the last wanted frame; each wanted
    frame converted to RGB once (one reused swscale context). Returns frames converted."""
    import av

    converted = 0
    for uri, wanted in todo.items():
        with av.open(uri) as c:
            s = c.streams.video[0]
            s.codec_context.thread_type = thread_type
            s.codec_context.thread_count = threads
            keys = sorted(p.pts for p in c.demux(s) if p.is_keyframe and p.pts is not None)
            runs: list[list[int]] = []  # wanted pts, split where a whole GOP lies between
            for p in wanted:
                gop = bisect.bisect_right(keys, p) - 1
                if runs and gop - (bisect.bisect_right(keys, runs[-1][-1]) - 1) <= 1:
                    runs[-1].append(p)
                else:
                    runs.append([p])
            for run in runs:
                c.seek(run[0], stream=s, backward=True)
                need = set(run)
                for frame in c.decode(s):
                    if frame.pts in need:
                        frame.to_ndarray(format="rgb24")
                        converted += 1
                    if frame.pts >= run[-1]:
                        break
    return converted


def floor_child(workload: str, workers: int, reps: int) -> dict[str, Any]:
    """The minimal plan of a pass (`plan`) decoded with plain PyAV, no loader, no transfer:
    1 worker = one process with 2 frame threads; 2 workers = the videos split between two
    processes, one thread each. Frames/s counts the pass's returned frames, as for loaders."""
    import multiprocessing as mp

    uris = media()[workload]
    todo = plan(workload, uris)
    returned = sum(len(sample) for sample in samples(workload, uris))
    unique = sum(map(len, todo.values()))
    parts = _halves(todo) if workers == 2 else [todo]
    how = ("SLICE", 1) if workers == 2 else ("FRAME", 2)
    with mp.get_context("fork").Pool(len(parts)) as pool:
        jobs = [(part, *how) for part in parts]
        assert sum(pool.starmap(decode_plan, jobs)) == unique  # untimed: page cache, workers
        pids = [os.getpid()] + [w.pid for w in pool._pool]  # type: ignore[attr-defined]

        def one_pass() -> int:
            assert sum(pool.starmap(decode_plan, jobs)) == unique
            return returned

        result = timed(pids, reps, one_pass)
    return {
        **result,
        "check": f"floor: {unique} unique frames decoded + converted",
    }


def _halves(todo: dict[str, list[int]]) -> list[dict[str, list[int]]]:
    """The plan's videos split in two parts of about equal frame counts (the 2 workers)."""
    parts: list[dict[str, list[int]]] = [{}, {}]
    for uri, wanted in sorted(todo.items(), key=lambda kv: -len(kv[1])):
        mine = min(parts, key=lambda p: sum(map(len, p.values())))
        mine[uri] = wanted
    if not parts[1]:  # one video: split its frames at a GOP-independent midpoint
        ((uri, wanted),) = parts[0].items()
        parts = [{uri: wanted[: len(wanted) // 2]}, {uri: wanted[len(wanted) // 2 :]}]
    return parts


def configs(args: argparse.Namespace) -> list[tuple[str, int]]:
    out = []
    for workers in (0, 1, 2):
        for loader in args.loaders.split(","):
            if loader == "torchcodec" and not args.peers_python:
                continue
            if loader.startswith("pypi-mediaref") and not args.pypi_python:
                continue
            if loader in ("ours-stream", "floor") and workers == 0:
                continue
            out.append((loader, workers))
    return out


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One config's rounds: every timed pass, median CPU use, highest RSS, every check."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    workers = [r["rss_worker_mb"] for r in ok if r["rss_worker_mb"] is not None]
    return {
        "frames": ok[0]["frames"],
        "seconds": [s for r in ok for s in r["seconds"]],
        "cpu_util": statistics.median(r["cpu_util"] for r in ok),
        "rss_main_mb": max(r["rss_main_mb"] for r in ok),
        "rss_worker_mb": max(workers) if workers else None,
        "check": "; ".join(sorted({r["check"] for r in ok})),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="processes per config, alternating")
    ap.add_argument("--reps", type=int, default=1, help="timed passes per process")
    ap.add_argument("--peers-python", help="a venv's python with torch and torchcodec")
    ap.add_argument("--workloads", default="d2e,lerobot")
    ap.add_argument("--pypi-python", help="a venv's python with PyPI mediaref 2.1 and torch")
    ap.add_argument(
        "--loaders",
        default="floor,ours-map,ours-stream,pyav,torchcodec,pypi-mediaref",
    )
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--ray", action="store_true", help="only the Ray Data measurement")
    args = ap.parse_args()
    if args.ray:
        r = ray_bench(max(args.reps, 3))
        print(json.dumps(r))
        for name in ("plain", "ray", "ray unsorted"):
            print(name, f"{r['frames'] / statistics.median(r[name]):,.0f} frames/s")
        return
    if args.child:
        w, loader, n = args.child
        if loader == "floor":
            print(json.dumps(floor_child(w, int(n), args.reps)))
        else:
            print(json.dumps(child(w, loader, int(n), args.reps)))
        return
    all_media = media()
    workloads = args.workloads.split(",")
    expected = {w: expected_frames(w, all_media[w]) for w in workloads}
    runs: dict[str, list[dict[str, Any]]] = {}
    for done in range(1, args.rounds + 1):  # every config once per round: load changes hit all
        for workload in workloads:
            for loader, workers in configs(args):
                python = {"torchcodec": args.peers_python}.get(loader, sys.executable)
                if loader.startswith("pypi-mediaref"):
                    python = args.pypi_python
                r = run_child(python, workload, loader, workers, args.reps)
                if "error" not in r and loader != "floor":
                    r["check"] = check(r, expected[workload], exact_times=loader != "torchcodec")
                runs.setdefault(f"{workload}/{loader}/{workers}", []).append(r)
                print(workload, loader, workers, r, flush=True)
        report(runs, done)  # after every round: a run stopped early keeps its whole rounds


def report(runs: dict[str, list[dict[str, Any]]], rounds: int) -> None:
    """Merge the rounds so far, write results/training.json and print the table's rows."""
    results = {key: merge(rs) for key, rs in runs.items()}
    lines = []
    for key, r in results.items():
        workload, loader, workers = key.split("/")
        one = results.get(f"{workload}/{loader}/1")
        base = None
        if one and "error" not in one and workers != "1" and "error" not in r:
            base = statistics.median(one["frames"] / s for s in one["seconds"])
        lines.append(row(workload, loader, int(workers), r, base))
    out = Path(__file__).parent / "results"
    (out / "training.json").write_text(json.dumps({"rounds": rounds, **results}, indent=1))
    print(f"after round {rounds}:", *lines, sep="\n", flush=True)


if __name__ == "__main__":
    main()
