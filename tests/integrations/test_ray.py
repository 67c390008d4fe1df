"""mediaref.ray on a local Ray instance (2 CPUs), every frame checked against the oracle."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediaref import MediaRef
from mediaref.testing import Clip, decode_sequentially, encode
from tests.conftest import need

X264 = {"x264-params": "keyint=6:min-keyint=6:bframes=2:scenecut=0:log-level=none"}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    ray = need("ray")
    need("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    d = tmp_path_factory.mktemp("ray")
    return [
        decode_sequentially(
            encode(d / f"ep{k}.mp4", "libx264", n=18, rate=10, size=(48, 32), options=X264)
        )
        for k in range(2)
    ]


@pytest.fixture(scope="module")
def table(clips: list[Clip], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Parquet table with a nested reference column obs.image, rows in shuffled order."""
    pa = need("pyarrow")
    import pyarrow.parquet as pq

    import mediaref.arrow as ma

    refs = [MediaRef(c.uri, t) for c in clips for t in c.times()]
    random.Random(0).shuffle(refs)
    obs = pa.StructArray.from_arrays([ma.to_arrow(refs)], ["image"])
    path = tmp_path_factory.mktemp("refs") / "steps.parquet"
    pq.write_table(pa.table({"step": range(len(refs)), "obs": obs}), path, row_group_size=20)
    return path


def check_row(clips: list[Clip], row: dict[str, Any], frame: np.ndarray) -> None:
    clip = next(c for c in clips if c.uri == row["uri"])
    i = clip.index_at(row["pts_ns"])
    np.testing.assert_array_equal(frame, clip.frames[i])
    assert (row["frame_pts_ns"], row["frame_index"], row["error"]) == (clip.starts_ns[i], i, None)


def test_parquet_of_refs_to_parquet_of_png_frames(
    ray_local: Any, clips: list[Clip], table: Path, tmp_path: Path
) -> None:
    from PIL import Image

    pq = need("pyarrow.parquet")
    import mediaref.ray as mr

    out = tmp_path / "frames"
    mr.decode_parquet(str(table), str(out), column="obs.image", keep=["step"], batch_size=8)
    rows = pq.read_table(out).to_pylist()
    assert sorted(r["step"] for r in rows) == list(range(sum(len(c.times()) for c in clips)))
    for row in rows:
        check_row(clips, row, np.asarray(Image.open(io.BytesIO(row["image"])).convert("RGB")))


def test_raw_frames_in_uri_and_time_order(ray_local: Any, clips: list[Clip], table: Path) -> None:
    import mediaref.ray as mr

    ds = mr.decode_refs(
        mr.read_refs(str(table), column="obs.image"), image_format=None, batch_size=5
    )
    rows = ds.take_all()
    keys = [(r["uri"], r["pts_ns"]) for r in rows]
    assert keys == sorted(keys) and len(rows) == sum(len(c.times()) for c in clips)
    for row in rows:
        check_row(clips, row, row["frame"])


def test_bad_references_are_reported_in_place(
    ray_local: Any, clips: list[Clip], tmp_path: Path
) -> None:
    pa = need("pyarrow")
    import mediaref.ray as mr

    good = MediaRef(clips[0].uri, clips[0].starts_ns[4])
    late = MediaRef(clips[0].uri, clips[0].end_ns + 1)
    missing = MediaRef(str(tmp_path / "nope.mp4"), 0)
    refs = [good, late, missing]
    ds = ray_local.data.from_arrow(
        pa.table({"uri": [r.uri for r in refs], "pts_ns": [r.pts_ns for r in refs]})
    )
    rows = {
        r["uri"] + str(r["pts_ns"]): r for r in mr.decode_refs(ds, on_error="return").take_all()
    }
    assert rows[good.uri + str(good.pts_ns)]["error"] is None
    assert "out of range" in rows[late.uri + str(late.pts_ns)]["error"]
    assert rows[missing.uri + "0"]["image"] is None and rows[missing.uri + "0"]["error"]
