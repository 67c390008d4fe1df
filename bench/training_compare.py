"""Compare alternating rounds of `training_bench.py` run with two versions of the library.

    python bench/training_compare.py BEFORE_DIR AFTER_DIR [--json OUT]

Each directory holds the ``results/training.json`` of one-round runs (``--rounds 1``),
saved as ``before_<k>.json`` / ``after_<k>.json``; the rounds were run alternately (the
"before" library put first on ``PYTHONPATH``), so the load of a shared machine falls on
both alike. Per configuration: frames/s = median over every timed pass (min-max), CPU ms
per frame = CPU seconds of the process and its workers over the round's timed passes /
frames, median over the rounds (min-max).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path
from typing import Any


def rounds(directory: Path, side: str) -> list[dict[str, Any]]:
    files = sorted(directory.glob(f"{side}_*.json"), key=lambda p: int(p.stem.split("_")[1]))
    return [json.loads(p.read_text()) for p in files]


def figures(runs: list[dict[str, Any]], key: str, cores: int) -> dict[str, Any] | None:
    ok = [r[key] for r in runs if key in r and "error" not in r[key]]
    if not ok:
        return None
    fps = [r["frames"] / s for r in ok for s in r["seconds"]]
    cpu = [
        r["cpu_util"] * cores * sum(r["seconds"]) * 1000 / (r["frames"] * len(r["seconds"]))
        for r in ok
    ]
    return {
        "fps": statistics.median(fps),
        "fps_range": (min(fps), max(fps)),
        "cpu_ms": statistics.median(cpu),
        "cpu_range": (min(cpu), max(cpu)),
        "rounds": len(ok),
        "passes": len(fps),
        "check": "; ".join(sorted({r["check"] for r in ok})),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--json", type=Path, help="write the per-round figures here")
    ap.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()
    before, after = rounds(args.before, "before"), rounds(args.after, "after")
    keys = sorted({k for r in before + after for k in r if k != "rounds"})
    print(
        "| workload | loader | workers | frames/s before | frames/s after | "
        "CPU ms/frame before | CPU ms/frame after | CPU change |"
    )
    print("|---|---|---|---|---|---|---|---|")
    out: dict[str, Any] = {}
    for key in sorted(keys, key=lambda k: (k.split("/")[0], int(k.split("/")[2]), k)):
        b, a = figures(before, key, args.cores), figures(after, key, args.cores)
        out[key] = {"before": b, "after": a}
        workload, loader, workers = key.split("/")

        def fps(f: dict[str, Any] | None) -> str:
            if f is None:
                return "–"
            lo, hi = f["fps_range"]
            return f"{f['fps']:,.0f} ({lo:,.0f}–{hi:,.0f})"

        def cpu(f: dict[str, Any] | None) -> str:
            if f is None:
                return "–"
            lo, hi = f["cpu_range"]
            return f"{f['cpu_ms']:.2f} ({lo:.2f}–{hi:.2f})"

        change = f"{a['cpu_ms'] / b['cpu_ms'] - 1:+.0%}" if a and b else "–"
        print(
            f"| {workload} | {loader} | {workers} | {fps(b)} | {fps(a)} | {cpu(b)} | {cpu(a)} "
            f"| {change} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"before": before, "after": after}, indent=1))


if __name__ == "__main__":
    main()
