"""mediaref.hf against the real ``datasets`` package, on local files only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mediaref import InvalidReferenceError, MediaRef
from tests.conftest import need

REFS = [
    MediaRef("videos/ep0.mp4", 0),
    MediaRef("videos/ep0.mp4", 33_333_333),
    MediaRef("images/still.png"),
    MediaRef("clip.mkv", -(2**63)),
]
DICTS = [{"uri": r.uri, "pts_ns": r.pts_ns} for r in REFS]
PLAIN = {
    "uri": {"dtype": "string", "_type": "Value"},
    "pts_ns": {"dtype": "int64", "_type": "Value"},
}


@pytest.fixture(scope="module")
def datasets() -> Any:
    module = need("datasets")
    module.disable_progress_bars()
    return module


@pytest.fixture
def hf(datasets: Any) -> Any:
    import mediaref.hf

    return mediaref.hf


def frames(datasets: Any, hf: Any, values: list[Any]) -> Any:
    features = datasets.Features({"frame": hf.MediaRefFeature(), "step": datasets.Value("int64")})
    return datasets.Dataset.from_dict(
        {"frame": values, "step": list(range(len(values)))}, features=features
    )


def test_from_dict_with_refs_reads_back_refs_and_stores_the_plain_struct(
    datasets: Any, hf: Any
) -> None:
    import pyarrow as pa

    ds = frames(datasets, hf, REFS)
    assert ds["frame"][:] == REFS
    assert ds[2] == {"frame": MediaRef("images/still.png"), "step": 2}
    assert ds.data.schema.field("frame").type == pa.struct(
        [("uri", pa.string()), ("pts_ns", pa.int64())]
    )
    assert ds.data.column("frame").to_pylist() == DICTS
    assert ds.features.to_dict()["frame"] == PLAIN


def test_from_dict_accepts_dicts_strings_and_numpy_integers(datasets: Any, hf: Any) -> None:
    import numpy as np

    values = [
        {"uri": "videos/ep0.mp4", "pts_ns": np.int64(0)},
        {"uri": "videos/ep0.mp4", "pts_ns": 33_333_333},
        "images/still.png",
        {"uri": "clip.mkv", "pts_ns": -(2**63)},
    ]
    assert frames(datasets, hf, values)["frame"][:] == REFS


def test_invalid_values_are_refused_with_the_reference_error(datasets: Any, hf: Any) -> None:
    with pytest.raises(
        InvalidReferenceError, match=r"a reference needs a 'uri', got \{'pts_ns': 5\}"
    ):
        frames(datasets, hf, [{"pts_ns": 5}])
    with pytest.raises(InvalidReferenceError, match=r"pts_ns must be an int .* got 1.5"):
        frames(datasets, hf, [{"uri": "a.mp4", "pts_ns": 1.5}])
    with pytest.raises(
        InvalidReferenceError, match="expected a MediaRef, a mapping or a URI, got int"
    ):
        frames(datasets, hf, [5])


def test_decode_false_gives_the_stored_dicts(datasets: Any, hf: Any) -> None:
    ds = frames(datasets, hf, REFS).cast_column("frame", hf.MediaRefFeature(decode=False))
    assert ds["frame"][:] == DICTS
    assert hf.with_refs(ds, "frame", decode=False)[0]["frame"] == DICTS[0]
    assert hf.with_refs(ds, "frame")[0]["frame"] == REFS[0]


def test_map_creating_refs_from_dicts(datasets: Any, hf: Any) -> None:
    ds = datasets.Dataset.from_dict({"episode": [0, 0, 1], "t": [0, 50_000_000, 0]})

    def to_ref(row: dict[str, Any]) -> dict[str, Any]:
        return {"frame": MediaRef(f"ep{row['episode']}.mp4", row["t"]).model_dump()}

    features = ds.features.copy()
    features["frame"] = hf.MediaRefFeature()
    out = ds.map(to_ref, features=features)
    assert out["frame"][:] == [
        MediaRef("ep0.mp4", 0),
        MediaRef("ep0.mp4", 50_000_000),
        MediaRef("ep1.mp4", 0),
    ]
    # Without features= the column is the plain struct, and with_refs attaches them.
    plain = ds.map(to_ref)
    assert plain[1]["frame"] == {"uri": "ep0.mp4", "pts_ns": 50_000_000}
    assert hf.with_refs(plain, "frame")["frame"][:] == out["frame"][:]


def test_the_feature_survives_map_filter_and_select(datasets: Any, hf: Any) -> None:
    ds = frames(datasets, hf, REFS).map(lambda row: {"next": row["step"] + 1})
    ds = ds.filter(lambda row: row["frame"].is_video).select([1, 2])
    assert isinstance(ds.features["frame"], hf.MediaRefFeature)
    assert ds["frame"][:] == [REFS[1], REFS[3]]


def test_save_and_load_from_disk(datasets: Any, hf: Any, tmp_path: Path) -> None:
    frames(datasets, hf, REFS).save_to_disk(tmp_path / "ds")
    info = json.loads((tmp_path / "ds" / "dataset_info.json").read_text())
    assert info["features"]["frame"] == PLAIN
    loaded = datasets.load_from_disk(str(tmp_path / "ds"))
    assert loaded["frame"][:] == DICTS
    assert hf.with_refs(loaded, "frame")["frame"][:] == REFS


def test_parquet_export_and_import(datasets: Any, hf: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "frames.parquet"
    frames(datasets, hf, REFS).to_parquet(str(path))
    schema = pq.read_schema(path)
    assert str(schema.field("frame").type) == "struct<uri: string, pts_ns: int64>"
    assert pq.read_table(path).column("frame").to_pylist() == DICTS
    from_parquet = datasets.Dataset.from_parquet(str(path), cache_dir=str(tmp_path / "cache"))
    assert hf.with_refs(from_parquet, "frame")["frame"][:] == REFS
    loaded = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache2")
    )
    assert loaded["frame"][:] == DICTS
    assert hf.with_refs(loaded, "frame")["frame"][:] == REFS
    features = loaded.features.copy()
    features["frame"] = hf.MediaRefFeature()
    typed = datasets.load_dataset(
        "parquet",
        data_files=str(path),
        split="train",
        features=features,
        cache_dir=str(tmp_path / "cache3"),
    )
    assert typed["frame"][:] == REFS


def test_a_streamed_dataset_gets_refs_too(datasets: Any, hf: Any, tmp_path: Path) -> None:
    path = tmp_path / "frames.parquet"
    frames(datasets, hf, REFS).to_parquet(str(path))
    stream = datasets.load_dataset("parquet", data_files=str(path), split="train", streaming=True)
    assert [row["frame"] for row in hf.with_refs(stream, "frame")] == REFS


def test_image_refs_keep_a_null_pts(datasets: Any, hf: Any, tmp_path: Path) -> None:
    images = [MediaRef("a.png"), MediaRef("data:image/png;base64,iVBORw0KGgo=")]
    ds = frames(datasets, hf, images)
    assert ds.data.column("frame").combine_chunks().field("pts_ns").null_count == 2
    ds.to_parquet(str(tmp_path / "images.parquet"))
    back = datasets.Dataset.from_parquet(str(tmp_path / "images.parquet"))
    assert hf.with_refs(back, "frame")["frame"][:] == images
    assert all(ref.is_image for ref in hf.with_refs(back, "frame")["frame"])


def test_nested_columns(datasets: Any, hf: Any, tmp_path: Path) -> None:
    features = datasets.Features(
        {
            "obs": {
                "camera": hf.MediaRefFeature(),
                "state": datasets.List(datasets.Value("float32")),
            },
            "history": datasets.List(hf.MediaRefFeature()),
        }
    )
    rows = {
        "obs": [{"camera": MediaRef("ep0.mp4", 0), "state": [0.5]}],
        "history": [[MediaRef("ep0.mp4", 0), {"uri": "b.png"}]],
    }
    ds = datasets.Dataset.from_dict(rows, features=features)
    expected = {
        "obs": {"camera": MediaRef("ep0.mp4", 0), "state": [0.5]},
        "history": [MediaRef("ep0.mp4", 0), MediaRef("b.png")],
    }
    assert ds[0] == expected
    ds.save_to_disk(tmp_path / "nested")
    loaded = datasets.load_from_disk(str(tmp_path / "nested"))
    assert loaded[0]["obs"]["camera"] == {"uri": "ep0.mp4", "pts_ns": 0}
    assert hf.with_refs(loaded, "obs", "history")[0] == expected


def test_a_dataset_dict_is_cast_split_by_split(datasets: Any, hf: Any, tmp_path: Path) -> None:
    splits = datasets.DatasetDict(
        {"train": frames(datasets, hf, REFS[:2]), "test": frames(datasets, hf, REFS[2:])}
    )
    splits.save_to_disk(tmp_path / "dd")
    loaded = hf.with_refs(datasets.load_from_disk(str(tmp_path / "dd")), "frame")
    assert loaded["train"]["frame"][:] == REFS[:2]
    assert loaded["test"]["frame"][:] == REFS[2:]


def test_with_refs_refuses_what_is_not_a_reference_column(datasets: Any, hf: Any) -> None:
    ds = frames(datasets, hf, REFS)
    with pytest.raises(ValueError, match="with_refs needs the names of the columns"):
        hf.with_refs(ds)
    with pytest.raises(
        ValueError, match=r"column 'frames' is not in the dataset; it has \['frame', 'step'\]"
    ):
        hf.with_refs(ds, "frames")
    with pytest.raises(
        ValueError,
        match=r"column 'step' holds no struct<uri: string, pts_ns: int64>; "
        r"its feature is Value\('int64'\)",
    ):
        hf.with_refs(ds, "step")


def test_cast_storage_reads_uri_strings_and_structs_with_other_integer_types(hf: Any) -> None:
    import pyarrow as pa

    feature = hf.MediaRefFeature()
    strings = feature.cast_storage(pa.array(["a.png", None]))
    assert strings.to_pylist() == [{"uri": "a.png", "pts_ns": None}, None]
    narrow = pa.array(
        [{"pts_ns": 7, "uri": "v.mp4", "extra": 1}],
        pa.struct([("pts_ns", pa.int32()), ("uri", pa.large_string()), ("extra", pa.int8())]),
    )
    assert feature.cast_storage(narrow).to_pylist() == [{"uri": "v.mp4", "pts_ns": 7}]
    with pytest.raises(TypeError, match="cannot cast Arrow type int64 to a MediaRef column"):
        feature.cast_storage(pa.array([1]))


def test_a_saved_dataset_loads_where_mediaref_hf_is_not_imported(
    datasets: Any, hf: Any, tmp_path: Path
) -> None:
    frames(datasets, hf, REFS).save_to_disk(tmp_path / "ds")
    frames(datasets, hf, REFS).to_parquet(str(tmp_path / "frames.parquet"))
    # A fresh interpreter in which mediaref cannot be imported at all (as for a user who
    # lacks it): datasets resolves every feature from dataset_info.json by itself.
    code = f"""
import json, sys
sys.modules["mediaref"] = None  # any import of mediaref now raises ImportError
import datasets
datasets.disable_progress_bars()
ds = datasets.load_from_disk({str(tmp_path / "ds")!r})
pq = datasets.Dataset.from_parquet(
    {str(tmp_path / "frames.parquet")!r}, cache_dir={str(tmp_path / "c")!r}
)
assert sys.modules["mediaref"] is None and "mediaref.hf" not in sys.modules
print(json.dumps([ds["frame"][:], pq["frame"][:], str(ds.features["frame"])]))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    on_disk, on_parquet, feature = json.loads(out.stdout)
    assert on_disk == DICTS
    assert on_parquet == DICTS
    assert feature == "{'uri': Value('string'), 'pts_ns': Value('int64')}"


def test_feature_equality_and_repr_follow_decode(hf: Any) -> None:
    assert hf.MediaRefFeature() == hf.MediaRefFeature(decode=True)
    assert hf.MediaRefFeature() != hf.MediaRefFeature(decode=False)
    assert repr(hf.MediaRefFeature(decode=False)) == "MediaRefFeature(decode=False)"
    assert len({hf.MediaRefFeature(), hf.MediaRefFeature(decode=True)}) == 1


# The schema metadata PyPI mediaref 2.1.0 (with datasets 5.2.0) writes for a dataset with
# features {"frame": MediaRefFeature(), "history": List(MediaRefFeature(decode=False)),
# "step": Value("int64")}: printed from `ds.features.arrow_schema.metadata` in a throwaway
# venv (pip install mediaref==2.1.0 datasets); its dataset_info.json holds the same features.
MEDIAREF_21_METADATA = (
    '{"info": {"features": {"frame": {"_type": "MediaRef"}, "history": {"feature": '
    '{"decode": false, "_type": "MediaRef"}, "_type": "List"}, "step": {"dtype": "int64", '
    '"_type": "Value"}}}}'
)


def mediaref_21_table() -> Any:
    import pyarrow as pa

    ref = pa.struct([("uri", pa.string()), ("pts_ns", pa.int64())])
    table = pa.table(
        {
            "frame": pa.array(DICTS, ref),
            "history": pa.array([[DICTS[2]], [], [DICTS[0], DICTS[1]], None], pa.list_(ref)),
            "step": pa.array([0, 1, 2, 3], pa.int64()),
        }
    )
    return table.replace_schema_metadata({"huggingface": MEDIAREF_21_METADATA})


def write_mediaref_21_dir(path: Path) -> None:
    # What save_to_disk writes: an Arrow IPC stream, state.json and dataset_info.json.
    import pyarrow as pa

    path.mkdir()
    table = mediaref_21_table()
    with (
        pa.OSFile(str(path / "data-00000-of-00001.arrow"), "wb") as sink,
        pa.ipc.new_stream(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    state = {"_data_files": [{"filename": "data-00000-of-00001.arrow"}], "_split": None}
    (path / "state.json").write_text(json.dumps(state))
    info = json.loads(MEDIAREF_21_METADATA)["info"]
    (path / "dataset_info.json").write_text(json.dumps(info))


def test_datasets_alone_cannot_load_what_mediaref_21_saved(datasets: Any, tmp_path: Path) -> None:
    write_mediaref_21_dir(tmp_path / "saved")
    with pytest.raises(ValueError, match="Feature type 'MediaRef' not found"):
        datasets.load_from_disk(str(tmp_path / "saved"))


def test_load_mediaref2_reads_a_saved_directory_and_parquet(
    datasets: Any, hf: Any, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    write_mediaref_21_dir(tmp_path / "saved")
    pq.write_table(mediaref_21_table(), tmp_path / "x.parquet")
    for path in (tmp_path / "saved", tmp_path / "x.parquet"):
        ds = hf.load_mediaref2(path)
        assert ds["frame"][:] == REFS
        assert ds["history"][:] == [[REFS[2]], [], [REFS[0], REFS[1]], None]
        assert ds["step"][:] == [0, 1, 2, 3]
    # Saved again, it is the plain struct that loads anywhere.
    hf.load_mediaref2(tmp_path / "saved").save_to_disk(tmp_path / "resaved")
    assert datasets.load_from_disk(str(tmp_path / "resaved"))["frame"][:] == DICTS
    splits = datasets.DatasetDict({"train": hf.load_mediaref2(tmp_path / "x.parquet")})
    splits.save_to_disk(tmp_path / "dd")
    dd = hf.load_mediaref2(tmp_path / "dd")
    assert dd["train"]["frame"][:] == DICTS  # saved plain: nothing of 2.x's left to convert
    with pytest.raises(FileNotFoundError, match="no dataset at"):
        hf.load_mediaref2(tmp_path / "missing")
