from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mediaref import InvalidReferenceError, MediaRef
from mediaref.io import chunks, read_parquet
from tests.conftest import need


@pytest.fixture
def pa() -> Any:
    return need("pyarrow")


def write_steps(pa: Any, path: Path, uris: list[str | None], pts: list[int | None]) -> None:
    import pyarrow.parquet as pq

    image = pa.StructArray.from_arrays(
        [pa.array(uris), pa.array(pts, pa.int64())], ["uri", "pts_ns"]
    )
    obs = pa.StructArray.from_arrays([image, pa.array([1.0] * len(uris))], ["image", "reward"])
    table = pa.table({"step": range(len(uris)), "obs": obs, "big": [b"x" * 1000] * len(uris)})
    pq.write_table(table, path, row_group_size=1000)


def test_read_parquet_yields_a_nested_column_batch_by_batch(pa: Any, tmp_path: Path) -> None:
    n = 2500
    path = tmp_path / "steps.parquet"
    write_steps(pa, path, [f"ep{i % 3}.mkv" for i in range(n)], [i * 50_000_000 for i in range(n)])
    refs = list(read_parquet(path, column="obs.image", batch_size=700))
    assert refs == [MediaRef(f"ep{i % 3}.mkv", i * 50_000_000) for i in range(n)]
    first = next(chunks(read_parquet(path, column="obs.image", batch_size=64), 64))
    assert first == refs[:64]


def test_a_bad_row_names_file_row_and_column(pa: Any, tmp_path: Path) -> None:
    path = tmp_path / "steps.parquet"
    uris: list[str | None] = ["a.mkv"] * 1500
    uris[1234] = None
    write_steps(pa, path, uris, list(range(1500)))
    with pytest.raises(InvalidReferenceError) as info:
        list(read_parquet(path, column="obs.image", batch_size=500))
    assert str(info.value) == f"uri is null (row 1234, column 'obs.image', file '{path}')"
    out = list(read_parquet(path, column="obs.image", batch_size=500, on_error="return"))
    assert len(out) == 1500
    assert isinstance(out[1234], InvalidReferenceError) and out[1234].row == 1234  # type: ignore[attr-defined]
    assert out[1235] == MediaRef("a.mkv", 1235)


def test_a_missing_column_lists_what_is_there(pa: Any, tmp_path: Path) -> None:
    path = tmp_path / "steps.parquet"
    write_steps(pa, path, ["a.png"], [None])
    with pytest.raises(InvalidReferenceError) as info:
        read_parquet(path, column="observation.image")
    assert str(info.value) == (
        f"no field 'observation.image' here; fields: step, obs, big "
        f"(column 'observation.image', file '{path}')"
    )
    with pytest.raises(
        InvalidReferenceError, match=r"^expected struct<uri: string, pts_ns: int64>"
    ):
        read_parquet(path, column="obs.reward")  # before any row is read


def test_read_parquet_reads_a_file_object(pa: Any, tmp_path: Path) -> None:
    path = tmp_path / "steps.parquet"
    write_steps(pa, path, ["a.png", "b.mp4"], [None, 7])
    with open(path, "rb") as f:
        assert list(read_parquet(f, column="obs.image")) == [
            MediaRef("a.png"),
            MediaRef("b.mp4", 7),
        ]
