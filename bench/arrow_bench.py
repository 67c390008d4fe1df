"""Arrow suite: references to and from Arrow, ``mediaref.arrow`` against msgspec + pyarrow.

    python bench/arrow_bench.py [--n 1000000] [--reps 7] [--out bench/results/arrow.md]

Run from a venv with mediaref-core and pyarrow (requirements-integrations.txt). Each way
is timed against the baseline a user would write without mediaref.arrow:

- write: ``mediaref.arrow.to_arrow(refs)`` vs ``pa.array(msgspec.to_builtins(refs), type)``;
- read: ``mediaref.arrow.from_arrow(array)`` vs
  ``msgspec.convert(array.to_pylist(), list[MediaRef])``.

Ours and the baseline alternate within each repetition (order swapped every other
repetition), after one untimed warm-up each; every result is checked equal to the input.
Reported: wall time, median (min-max) and ns per reference; the median of the ratios of
each repetition's pair (run back to back, so they share the machine's load); and the
ratio of the median CPU times of this process (``time.process_time``), which other
processes on a busy machine disturb far less than wall time.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

import mediaref
import mediaref.arrow as ma
from mediaref import MediaRef


def make_refs(n: int) -> list[MediaRef]:
    # A dataset's shape: a few hundred episodes of video frames, one image in 10.
    out = []
    for i in range(n):
        if i % 10 == 9:
            out.append(MediaRef(f"images/{i:08d}.png"))
        else:
            out.append(MediaRef(f"episodes/episode_{i // 2000:05d}.mkv", (i % 2000) * 50_000_000))
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    del result
    return wall, cpu


def run_pair(
    ours: Callable[[], Any], base: Callable[[], Any], check: Callable[[Any], bool], reps: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        k: [] for k in ("ours", "baseline", "ours_cpu", "baseline_cpu")
    }
    for name, fn in (("ours", ours), ("baseline", base)):  # warm-up, checked
        if not check(fn()):
            raise SystemExit(f"{name} returned a wrong result")
    for rep in range(reps):
        order = [("ours", ours), ("baseline", base)]
        for name, fn in order if rep % 2 == 0 else order[::-1]:
            wall, cpu = timed(fn)
            times[name].append(wall)
            times[f"{name}_cpu"].append(cpu)
    return times


def row(label: str, times: dict[str, list[float]], n: int) -> str:
    o, b = statistics.median(times["ours"]), statistics.median(times["baseline"])
    paired = statistics.median(x / y for x, y in zip(times["baseline"], times["ours"], strict=True))
    cpu = statistics.median(times["baseline_cpu"]) / statistics.median(times["ours_cpu"])
    return (
        f"| {label} | {o * 1e3:,.0f} ({min(times['ours']) * 1e3:,.0f}-"
        f"{max(times['ours']) * 1e3:,.0f}) | {o / n * 1e9:,.0f} | "
        f"{b * 1e3:,.0f} ({min(times['baseline']) * 1e3:,.0f}-"
        f"{max(times['baseline']) * 1e3:,.0f}) | {b / n * 1e9:,.0f} | {paired:.2f}x | {cpu:.2f}x |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "arrow.md"))
    args = ap.parse_args()
    n = args.n
    load0 = os.getloadavg()[0]
    refs = make_refs(n)
    storage = ma.STORAGE_TYPE
    array = ma.to_arrow(refs)

    write = run_pair(
        lambda: ma.to_arrow(refs),
        lambda: pa.array(msgspec.to_builtins(refs), type=storage),
        lambda a: a.equals(array),
        args.reps,
    )
    read = run_pair(
        lambda: ma.from_arrow(array),
        lambda: msgspec.convert(array.to_pylist(), list[MediaRef]),
        lambda got: got == refs,
        args.reps,
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    load = os.getloadavg()
    lines = [
        "# Arrow suite: references to and from Arrow",
        "",
        f"`python bench/arrow_bench.py --n {n} --reps {args.reps}`, "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC at {commit}; "
        f"{os.cpu_count()} cores, load average {load0:.2f} at the start and {load[0]:.2f} at "
        "the end; Python "
        f"{platform.python_version()}, pyarrow {pa.__version__}, msgspec {msgspec.__version__}, "
        f"mediaref {mediaref.__version__}.",
        "",
        f"{n:,} references (90% video frames over {n // 2000} files, 10% images, so 10% null "
        "`pts_ns`). Ours and the baseline alternate in each repetition (order swapped every "
        "other one) after a checked warm-up; wall milliseconds, median (min-max) of "
        f"{args.reps}, ns per reference, the median of the {args.reps} paired ratios and "
        "the ratio of median CPU times.",
        "",
        "| way | ours ms | ours ns/ref | baseline ms | baseline ns/ref "
        "| baseline / ours, paired wall | baseline / ours, CPU |",
        "|---|---|---|---|---|---|---|",
        row("write: `to_arrow(refs)` vs `pa.array(msgspec.to_builtins(refs), type)`", write, n),
        row(
            "read: `from_arrow(array)` vs `msgspec.convert(array.to_pylist(), list[MediaRef])`",
            read,
            n,
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
