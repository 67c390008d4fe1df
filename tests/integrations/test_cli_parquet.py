from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mediaref import MediaRef
from mediaref._cli import main
from mediaref._cli_decode import output_name
from tests.conftest import need


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    need("av")
    from tests.media import encode

    return str(encode(tmp_path_factory.mktemp("cli") / "clip.mp4", "mpeg4", n=20, rate=10))


def write_parquet(path: Path, refs: list[MediaRef | None]) -> None:
    pa = need("pyarrow")
    import pyarrow.parquet as pq

    import mediaref.arrow as ma

    obs = pa.StructArray.from_arrays([ma.to_arrow(refs)], names=["image"])
    pq.write_table(pa.table({"step": range(len(refs)), "obs": obs}), path)


def test_decode_refs_of_a_parquet_column(
    clip: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refs: list[Any] = [MediaRef(clip, t * 300_000_000) for t in range(5)]
    write_parquet(tmp_path / "steps.parquet", [*refs, None])
    out_dir = tmp_path / "out"
    code = main(
        ["decode", "--refs", str(tmp_path / "steps.parquet"), "--column", "obs.image",
         "-o", str(out_dir), "--batch-size", "2"]
    )  # fmt: skip
    out = capsys.readouterr()
    assert (code, out.err) == (0, "")
    assert out.out == f"wrote 5 png files to {out_dir}\n1 rows held no reference (null), skipped\n"
    assert sorted(os.listdir(out_dir)) == sorted(output_name(r, "png") for r in refs)
    for r in refs:
        saved = np.asarray(Image.open(out_dir / output_name(r, "png")))
        np.testing.assert_array_equal(saved, r.to_ndarray())


def test_parquet_needs_a_column_that_exists(
    clip: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "steps.parquet"
    write_parquet(path, [MediaRef(clip, 0)])
    assert main(["decode", "--refs", str(path)]) == 2
    assert capsys.readouterr().err == (
        "mediaref decode: error: --column is needed with a Parquet file (e.g. --column obs.image)\n"
    )
    assert main(["decode", "--refs", str(path), "--column", "obs.depth"]) == 2
    assert capsys.readouterr().err == (
        f"mediaref decode: error: --refs {path}: no field 'depth' here; fields: image "
        f"(column 'obs.depth', file '{path}')\n"
    )
