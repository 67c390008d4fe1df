"""Soak run: decode many frames over many files and watch memory, file descriptors, threads.

    bench/.venvs/ours/bin/python bench/soak.py [--frames 100000] [--out bench/results/soak.md]

(or ``python bench/run.py --suites soak``). With ``--files N`` it soaks over N distinct
small files instead (bench/soak_files.py, report in bench/results/soak-files.md).
Otherwise it makes 8 small videos (10 s, half with GOP 20
and no B-frames, half with x264's default GOP and B-frames) in bench/.cache, then loops:
`batch_decode` calls of 1-64 references over 1-3 files, single `MediaRef.to_ndarray()`
calls, and now and then a batch with a bad reference (out of range, missing file) decoded
with ``on_error="return"``. Every returned frame's barcode is read back and compared with
the frame the rule selects, so the run also checks correctness at volume. It prints RSS,
open file descriptors and threads at intervals and writes a markdown report.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "contestants"))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def trimmed_rss_mb() -> float:
    """RSS after a full GC and glibc's malloc_trim: memory really held, not allocator cache."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mb()


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def barcode(frame) -> int:  # type: ignore[no-untyped-def]
    from _sig import read_code

    return int(read_code(frame))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--every", type=int, default=0, help="report interval in frames")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None, help="default bench/results/soak[-files].md")
    ap.add_argument("--files", type=int, default=0, help="soak over this many distinct files")
    ap.add_argument("--calls", type=int, default=6000, help="with --files: calls to make")
    ap.add_argument("--quiet", type=float, default=60.0, help="with --files: quiet seconds")
    a = ap.parse_args()
    if a.files:
        return files_main(a)
    a.out = a.out or str(BENCH / "results" / "soak.md")
    every = a.every or max(1000, a.frames // 20)

    import media

    cache = BENCH / ".cache"
    cache.mkdir(exist_ok=True)
    vids = []
    for k in range(8):
        opts = media.VIDEO_RECIPES["A" if k % 2 else "B"][0]
        vids.append(media.video(cache, f"soak{k}", 10, opts, "mp4", seed=20 + k))
    oracles = [json.loads(Path(v["oracle"]).read_text()) for v in vids]
    files = [v["path"] for v in vids]

    from mediaref import MediaRef, MediaRefError, batch_decode
    from mediaref.timeline import index_played_at

    try:
        import mediaref_av

        versions = f"mediaref-av {getattr(mediaref_av, '__version__', '?')}"
    except Exception as e:  # still soak what is there
        versions = f"mediaref-av not importable: {e}"

    import subprocess

    git = subprocess.run(
        ["git", "log", "-1", "--format=%h %cI %s", "--", "mediaref_av", "mediaref_core"],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "mediaref_av", "mediaref_core"],
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
    ).stdout.strip()
    versions += f"; library at {git}" + (" (with uncommitted changes)" if dirty else "")
    rng = random.Random(a.seed)
    frames = calls = wrong = bad_refs = caught = 0
    samples: list[tuple[int, int, float, float, float, int, int]] = []
    t0 = time.perf_counter()
    next_report = 0
    errors: dict[str, int] = {}
    print(f"soak: {a.frames} frames over {len(files)} files; {versions}", flush=True)

    def rand_ref(fi: int) -> tuple[MediaRef, int]:
        o = oracles[fi]
        t = rng.randrange(o["pts_ns"][0], o["end_ns"])
        return MediaRef(uri=files[fi], pts_ns=t), index_played_at(o["pts_ns"], o["end_ns"], t)

    while frames < a.frames:
        if frames >= next_report:
            s = (
                frames,
                calls,
                time.perf_counter() - t0,
                rss_mb(),
                trimmed_rss_mb(),
                fds(),
                threads(),
            )
            samples.append(s)
            print(
                f"  frames={s[0]:>7} calls={s[1]:>6} t={s[2]:7.1f}s rss={s[3]:7.1f} MB "
                f"(trimmed {s[4]:7.1f}) fds={s[5]} threads={s[6]} wrong={wrong} "
                f"errors={sum(errors.values())}",
                flush=True,
            )
            next_report += every
        kind = rng.random()
        calls += 1
        try:
            if kind < 0.2:  # one frame through to_ndarray
                ref, want = rand_ref(rng.randrange(len(files)))
                got = [ref.to_ndarray()]
                wants = [want]
            else:
                chosen = rng.sample(range(len(files)), rng.randint(1, 3))
                pairs = [rand_ref(rng.choice(chosen)) for _ in range(rng.randint(1, 64))]
                if rng.random() < 0.3:  # consecutive frames: the W1/W3 pattern
                    fi = chosen[0]
                    o = oracles[fi]
                    s0 = rng.randrange(0, len(o["pts_ns"]) - 16)
                    pairs = [
                        (MediaRef(uri=files[fi], pts_ns=o["pts_ns"][i]), i)
                        for i in range(s0, s0 + 16)
                    ]
                refs = [r for r, _ in pairs]
                wants = [w for _, w in pairs]
                if kind > 0.97:  # bad references mixed in: they must not harm the others
                    refs += [
                        MediaRef(uri=files[0], pts_ns=10**15),
                        MediaRef(uri=str(cache / "does-not-exist.mp4"), pts_ns=0),
                    ]
                    got = batch_decode(refs, on_error="return")
                    bad_refs += 2
                    caught += sum(isinstance(x, MediaRefError) for x in got[-2:])
                    got = got[:-2]
                else:
                    got = batch_decode(refs)
            for g, w in zip(got, wants, strict=False):
                if isinstance(g, Exception) or barcode(g) != w:
                    wrong += 1
            frames += len(got)
            del got
        except Exception as e:
            key = f"{type(e).__name__}: {str(e)[:120]}"
            errors[key] = errors.get(key, 0) + 1
            if sum(errors.values()) > 50:
                print("too many errors, stopping", flush=True)
                break
    s = (frames, calls, time.perf_counter() - t0, rss_mb(), trimmed_rss_mb(), fds(), threads())
    samples.append(s)
    print(
        f"  frames={s[0]:>7} calls={s[1]:>6} t={s[2]:7.1f}s rss={s[3]:7.1f} MB "
        f"(trimmed {s[4]:7.1f}) fds={s[5]} threads={s[6]} wrong={wrong} "
        f"errors={sum(errors.values())}",
        flush=True,
    )

    base = samples[min(len(samples) - 1, max(1, len(samples) // 5))]  # after warm-up
    last = samples[-1]
    growth = last[3] - base[3]
    growth_t = last[4] - base[4]
    L = [
        "# Soak run",
        "",
        f"- Date (UTC): {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Command: `bench/.venvs/ours/bin/python bench/soak.py --frames {a.frames}`",
        f"- {versions}; {len(files)} files of 10 s (640x360, 20 fps, H.264; half GOP 20 "
        "without B-frames, half x264 default GOP with B-frames)",
        f"- Frames decoded and returned: {frames:,} in {calls:,} calls, {last[2]:.0f} s "
        f"({frames / max(last[2], 1e-9):,.0f} frames/s)",
        f"- Wrong frames (barcode differs from the rule's frame): **{wrong}**",
        f"- Bad references mixed in: {bad_refs}, returned as MediaRefError: {caught}",
        f"- Unexpected exceptions: {sum(errors.values())}"
        + ("" if not errors else " — " + "; ".join(f"{k} (x{n})" for k, n in errors.items())),
        f"- RSS after warm-up ({base[0]:,} frames): {base[3]:.1f} MB; at the end: {last[3]:.1f} MB "
        f"(growth {growth:+.1f} MB)",
        f"- RSS after gc + malloc_trim (memory really held, not the allocator's free lists): "
        f"{base[4]:.1f} MB → {last[4]:.1f} MB (growth {growth_t:+.1f} MB)",
        f"- Open file descriptors {base[5]} → {last[5]}; threads {base[6]} → {last[6]}",
        "",
        "| frames | calls | seconds | RSS MB | RSS MB after malloc_trim | open fds | threads |",
        "|---|---|---|---|---|---|---|",
    ]
    L += [
        f"| {f:,} | {c:,} | {t:.1f} | {r:.1f} | {rt:.1f} | {d} | {th} |"
        for f, c, t, r, rt, d, th in samples
    ]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(L) + "\n")
    print(f"wrote {a.out}")
    return 1 if wrong or errors else 0


def files_main(a: argparse.Namespace) -> int:
    """The soak over `a.files` distinct files (bench/soak_files.py)."""
    import mediaref_av
    import soak_files

    r = soak_files.run(BENCH / ".cache", a.files, a.calls, a.quiet, a.seed)
    versions = f"mediaref-av {mediaref_av.__version__}; library at {_git_state()}"
    command = f"python bench/soak.py --files {a.files} --calls {a.calls} --quiet {a.quiet:g}"
    text = soak_files.report(r, versions, command)
    out = Path(a.out or BENCH / "results" / "soak-files.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text, flush=True)
    print(f"wrote {out}")
    return 1 if r["wrong"] else 0


def _git_state() -> str:
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=BENCH.parent, capture_output=True, text=True
        ).stdout.strip()

    head = git("log", "-1", "--format=%h %cI %s", "--", "mediaref_av", "mediaref_core")
    dirty = git("status", "--porcelain", "--", "mediaref_av", "mediaref_core")
    return head + (" (with uncommitted changes)" if dirty else "")


if __name__ == "__main__":
    sys.exit(main())
