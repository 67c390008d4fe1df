"""Draw a bench run's video suite as a PNG: ours against the peers, per codec and workload.

    bench/.venvs/pyav/bin/python bench/chart.py bench/results/latest.json [out.png [floor.json]]

One panel per workload; in each, one group of bars per media (codec), one bar per
contestant: its frames per second divided by the best correct peer's (so the best peer
is 1.0 and our bar is the ratio the tables quote). A wrong or missing result has no bar.
The run's best floor contestant (plain PyAV kept open, the best codec threading; not a
peer, no bar) is drawn as a black tick in the same units; for a run without floor
contestants, ``results/floor.json`` if it exists (rows of ``{"codec", "width", "height",
"workload", "fps"}``). matplotlib lives in the bench's pyav venv only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from report import (  # noqa: E402
    PEER_ABBR,
    best_floor,
    best_peer,
    busy_title,
    correct,
    describe,
    video_media,
)

COLORS = {
    "ours": "#d62728",
    "ours_iter": "#ff9896",
    "pypi_tensorcodec": "#9ecae1",
    "pypi_pyav": "#c6dbef",
    "torchcodec": "#2ca02c",
    "torchcodec_auto": "#98df8a",
    "decord": "#9467bd",
    "pyav_naive": "#bdbdbd",
}


def floors(path: Path) -> dict[tuple[str, int, int, str], float]:
    if not path.exists():
        return {}
    rows = json.loads(path.read_text()).get("rows", [])
    return {(r["codec"], r["width"], r["height"], r["workload"]): r["fps"] for r in rows}


def draw(res: dict[str, Any], out: Path, floor: dict[tuple[str, int, int, str], float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    media = video_media(res["suites"]["video"])
    wls = list(dict.fromkeys(wl for mv in media.values() for wl in mv["workloads"]))
    ran = {c for mv in media.values() for w in mv["workloads"].values() for c in w["contestants"]}
    cids = [c for c in COLORS if c in ran]
    fig, axes = plt.subplots(len(wls), 1, figsize=(11, 1.7 * len(wls) + 0.9), sharex=True)
    axes = list(axes) if len(wls) > 1 else [axes]
    width = 0.8 / len(cids)
    ticks_from: set[str] = set()  # where the floor ticks came from
    for ax, wl in zip(axes, wls, strict=True):
        for mi, mv in enumerate(media.values()):
            w = mv["workloads"].get(wl)
            if not w:
                continue
            cs = w["contestants"]
            _, best = best_peer(cs, "fps")
            if not best:
                continue
            for ci, c in enumerate(cids):
                d = cs.get(c)
                if not d or not d.get("fps") or not correct(d):
                    continue
                x = mi - 0.4 + width * (ci + 0.5)
                r = d["fps"]["median"] / best
                mine = c.startswith("ours")
                ax.bar(x, r, width, color=COLORS[c], edgecolor="black" if mine else "none")
                if mine:
                    ax.annotate(f"{r:.2f}", (x, r), ha="center", va="bottom", fontsize=7)
            f = mv.get("facts") or {}
            _, fl = best_floor(cs)
            if fl:
                ticks_from.add("best floor (plain PyAV kept open, this run)")
            else:
                fl = floor.get((f.get("codec"), f.get("width"), f.get("height"), wl))
                if fl:
                    ticks_from.add("floor (results/floor.json)")
            if fl:
                ax.hlines(fl / best, mi - 0.42, mi + 0.42, colors="black", linewidth=1.5)
        ax.axhline(1.0, color="grey", linewidth=0.6)
        ax.axhline(1.5, color="grey", linewidth=0.6, linestyle="--")
        ax.set_yscale("log", base=2)  # 0.5x and 2x are as far from 1.0
        lo, hi = ax.get_ylim()
        ticks = [2.0**k for k in range(-6, 8) if lo <= 2.0**k <= hi] + [1.5]
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_ylabel(f"{wl}\nvs best peer", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", linewidth=0.3)
    names = res.get("contestant_names", {})
    ticks = [f"{m}\n{describe(m, mv)}" if mv.get("facts") else m for m, mv in media.items()]
    axes[-1].set_xticks(range(len(media)), ticks, fontsize=8)
    handles: list[Any] = [plt.Rectangle((0, 0), 1, 1, color=COLORS[c]) for c in cids]
    labels = [
        names.get(c, c) if c.startswith("ours") else f"{PEER_ABBR[c]}: {names.get(c, c)}"
        for c in cids
    ]
    if ticks_from:
        handles.append(plt.Line2D([0], [0], color="black", linewidth=1.5))
        labels.append("; ".join(sorted(ticks_from)))
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=4,
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(0.5, 0.962),
    )
    g = res.get("git", {})
    load = res.get("machine", {}).get("loadavg_start", [0])[0]
    fig.suptitle(
        f"mediaref vs peers: frames/s relative to the best correct peer (1.0; dashed: 1.5)"
        f"{busy_title(res)}\n{res.get('mode')} run {res.get('date_utc', '')[:16]}, "
        f"commit {g.get('commit')}, load {load:.1f}",
        fontsize=9,
        y=0.998,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(out, dpi=72)
    plt.close(fig)


def main() -> None:
    src = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else src.with_suffix(".png")
    res = json.loads(src.read_text())
    floor = Path(sys.argv[3]) if len(sys.argv) > 3 else BENCH / "results" / "floor.json"
    draw(res, out, floors(floor))
    print(out)


if __name__ == "__main__":
    main()
