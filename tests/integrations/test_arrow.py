from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaref import InvalidReferenceError, MediaRef
from tests.conftest import need

REFS = [
    MediaRef("episode_0.mkv", 0),
    MediaRef("images/cat.png"),
    MediaRef("episode_0.mkv", 1_500_000_000),
    MediaRef("s3://bucket/episode_1.mp4", -(2**63)),
    MediaRef("episode_2.mp4", 2**63 - 1),
]


@pytest.fixture
def pa() -> Any:
    return need("pyarrow")


@pytest.fixture
def ma(pa: Any) -> Any:
    import mediaref.arrow

    return mediaref.arrow


def storage(pa: Any, uris: Any, pts: Any, order: tuple[str, str] = ("uri", "pts_ns")) -> Any:
    arrays = {"uri": uris, "pts_ns": pts}
    return pa.StructArray.from_arrays([arrays[n] for n in order], names=list(order))


def test_storage_type_is_the_plain_struct(pa: Any, ma: Any) -> None:
    expected = pa.struct([("uri", pa.string()), ("pts_ns", pa.int64())])
    assert expected == ma.STORAGE_TYPE
    assert ma.storage_type() == ma.STORAGE_TYPE
    from mediaref.arrow import STORAGE_TYPE, MediaRefType

    assert expected == STORAGE_TYPE and MediaRefType().storage_type == expected
    assert {"STORAGE_TYPE", "MediaRefType", "to_arrow", "from_arrow"} <= set(dir(ma))


def test_to_arrow_builds_the_columns_with_null_pts_for_images(pa: Any, ma: Any) -> None:
    array = ma.to_arrow(REFS)
    assert isinstance(array, pa.StructArray)
    assert array.type == ma.STORAGE_TYPE
    assert array.field("uri").to_pylist() == [r.uri for r in REFS]
    assert array.field("pts_ns").to_pylist() == [0, None, 1_500_000_000, -(2**63), 2**63 - 1]
    assert array.null_count == 0
    assert array.to_pylist()[1] == {"uri": "images/cat.png", "pts_ns": None}


def test_round_trip_keeps_every_reference(ma: Any) -> None:
    assert ma.from_arrow(ma.to_arrow(REFS)) == REFS
    assert ma.from_arrow(ma.to_arrow(iter(REFS))) == REFS
    assert ma.from_arrow(ma.to_arrow([])) == []


def test_none_is_a_null_row_both_ways(ma: Any) -> None:
    array = ma.to_arrow([REFS[0], None, REFS[1]])
    assert array.null_count == 1
    assert ma.from_arrow(array) == [REFS[0], None, REFS[1]]


def test_a_pts_above_int64_names_its_row_and_value(ma: Any) -> None:
    refs = [MediaRef("a.mp4", 0), MediaRef("a.mp4", 2**63)]
    with pytest.raises(InvalidReferenceError) as info:
        ma.to_arrow(refs)
    assert str(info.value) == (
        "pts_ns=9223372036854775808 does not fit the int64 of Arrow "
        "(at most 2**63 - 1 = 9223372036854775807) (row 1)"
    )
    assert info.value.row == 1  # type: ignore[attr-defined]


def test_to_arrow_refuses_other_objects_naming_the_row(ma: Any) -> None:
    with pytest.raises(TypeError, match=r"got \{'uri': 'a.png'\} at row 1"):
        ma.to_arrow([MediaRef("b.png"), {"uri": "a.png"}])


def test_from_arrow_accepts_fields_in_either_order_and_wider_types(pa: Any, ma: Any) -> None:
    uris = ["a.mp4", "b.png", "c.mp4"]
    variants = [
        storage(pa, pa.array(uris), pa.array([1, None, 3]), ("pts_ns", "uri")),
        storage(pa, pa.array(uris, pa.large_string()), pa.array([1, None, 3], pa.int32())),
        storage(pa, pa.array(uris, pa.string_view()), pa.array([1, None, 3], pa.uint64())),
        storage(pa, pa.array(uris).dictionary_encode(), pa.array([1, None, 3], pa.uint8())),
    ]
    expected = [MediaRef("a.mp4", 1), MediaRef("b.png"), MediaRef("c.mp4", 3)]
    for array in variants:
        assert ma.from_arrow(array) == expected, array.type


def test_from_arrow_reads_chunked_and_sliced_arrays(pa: Any, ma: Any) -> None:
    chunked = pa.chunked_array([ma.to_arrow(REFS[:2]), ma.to_arrow(REFS[2:])])
    assert ma.from_arrow(chunked) == REFS
    assert ma.from_arrow(ma.to_arrow(REFS).slice(1, 3)) == REFS[1:4]
    assert ma.from_arrow(pa.chunked_array([], ma.STORAGE_TYPE)) == []


def test_uint64_pts_beyond_int64_is_an_error_in_its_row(pa: Any, ma: Any) -> None:
    array = storage(pa, pa.array(["a.mp4", "b.mp4"]), pa.array([5, 2**63], pa.uint64()))
    with pytest.raises(InvalidReferenceError, match=r"^pts_ns=9223372036854775808 .* \(row 1\)$"):
        ma.from_arrow(array)
    out = ma.from_arrow(array, on_error="return")
    assert out[0] == MediaRef("a.mp4", 5)
    assert isinstance(out[1], InvalidReferenceError)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda pa: storage(pa, pa.array([1]), pa.array([0])),
            "field 'uri' has type int64; expected string (column 'obs.image')",
        ),
        (
            lambda pa: storage(pa, pa.array(["a"]), pa.array([0.5])),
            "field 'pts_ns' has type double; expected int64 (column 'obs.image')",
        ),
        (
            lambda pa: storage(pa, pa.array(["a"]), pa.array(["0"])),
            "field 'pts_ns' has type string; expected int64 (column 'obs.image')",
        ),
        (
            lambda pa: pa.StructArray.from_arrays([pa.array(["a"])], names=["uri"]),
            "expected struct<uri: string, pts_ns: int64>: no field 'pts_ns' "
            "(fields: uri: string) (column 'obs.image')",
        ),
        (
            lambda pa: pa.array(["a.png"]),
            "expected struct<uri: string, pts_ns: int64>, got string (column 'obs.image')",
        ),
    ],
    ids=["uri-int", "pts-float", "pts-string", "missing-field", "not-a-struct"],
)
def test_a_column_of_the_wrong_type_names_column_and_field(
    pa: Any, ma: Any, make: Any, message: str
) -> None:
    for on_error in ("raise", "return"):
        with pytest.raises(InvalidReferenceError) as info:
            ma.from_arrow(make(pa), column="obs.image", on_error=on_error)
        assert str(info.value) == message


def test_a_null_uri_names_its_row_or_takes_its_place(pa: Any, ma: Any) -> None:
    array = storage(pa, pa.array(["a.mp4", None, "c.png"]), pa.array([1, 2, None]))
    with pytest.raises(InvalidReferenceError) as info:
        ma.from_arrow(array, column="obs.image")
    assert str(info.value) == "uri is null (row 1, column 'obs.image')"
    assert (info.value.row, info.value.column) == (1, "obs.image")  # type: ignore[attr-defined]
    out = ma.from_arrow(array, column="obs.image", on_error="return")
    assert [out[0], out[2]] == [MediaRef("a.mp4", 1), MediaRef("c.png")]
    assert isinstance(out[1], InvalidReferenceError) and "row 1" in str(out[1])
    assert pickle.loads(pickle.dumps(out[1])).row == 1


def test_rows_are_numbered_across_chunks(pa: Any, ma: Any) -> None:
    good = storage(pa, pa.array(["a", "b"]), pa.array([1, 2]))
    bad = storage(pa, pa.array(["c", None]), pa.array([3, 4]))
    with pytest.raises(InvalidReferenceError, match=r"\(row 3\)$"):
        ma.from_arrow(pa.chunked_array([good, bad]))


def test_from_arrow_takes_a_nested_column_of_a_table(pa: Any, ma: Any) -> None:
    obs = pa.StructArray.from_arrays([ma.to_arrow(REFS), pa.array(range(5))], names=["image", "n"])
    table = pa.table({"obs": obs, "observation.image": ma.to_arrow(REFS[::-1])})
    assert ma.from_arrow(table, column="obs.image") == REFS
    assert ma.from_arrow(table, column="observation.image") == REFS[::-1]
    with pytest.raises(InvalidReferenceError, match=r"^no field 'depth' here; fields: image, n"):
        ma.from_arrow(table, column="obs.depth")


def test_extension_array_gives_refs_to_pyarrow(pa: Any, ma: Any) -> None:
    array = ma.to_arrow(REFS, extension=True)
    assert isinstance(array.type, ma.MediaRefType)
    assert array.type.extension_name == "mediaref.ref"
    assert array.storage.type == ma.STORAGE_TYPE
    assert array.to_pylist() == REFS
    assert array[2].as_py() == REFS[2]
    assert ma.from_arrow(array) == REFS
    assert pickle.loads(pickle.dumps(array.type)) == array.type


def write_episode(pa: Any, ma: Any, path: Path, *, extension: bool) -> None:
    import pyarrow.parquet as pq

    obs = pa.StructArray.from_arrays(
        [ma.to_arrow(REFS, extension=extension), pa.array([0.1, 0.2, 0.3, 0.4, 0.5])],
        names=["image", "reward"],
    )
    pq.write_table(pa.table({"step": range(5), "obs": obs}), path)


def test_parquet_round_trip_with_the_extension_registered(pa: Any, ma: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    write_episode(pa, ma, tmp_path / "episode.parquet", extension=True)
    ma.register()
    table = pq.read_table(tmp_path / "episode.parquet", use_threads=False)
    image = table.column("obs").type.field("image").type
    assert isinstance(image, ma.MediaRefType)
    assert ma.from_arrow(table, column="obs.image") == REFS
    assert table.column("obs").to_pylist()[2]["image"] == REFS[2]


READ_WITHOUT_MEDIAREF = """
import sys, pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
print(table.schema.field("obs").type.field("image").type)
print(table.column("obs").to_pylist()[1]["image"])
print(sorted(m for m in sys.modules if m.startswith("mediaref")))
"""


@pytest.mark.parametrize("extension", [False, True], ids=["plain", "extension"])
def test_pyarrow_without_mediaref_reads_the_plain_struct(
    pa: Any, ma: Any, tmp_path: Path, extension: bool
) -> None:
    write_episode(pa, ma, tmp_path / "episode.parquet", extension=extension)
    out = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_MEDIAREF, str(tmp_path / "episode.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.splitlines() == [
        "struct<uri: string, pts_ns: int64>",
        "{'uri': 'images/cat.png', 'pts_ns': None}",
        "[]",
    ]


def test_polars_reads_the_plain_struct(pa: Any, ma: Any, tmp_path: Path) -> None:
    pl = need("polars")
    write_episode(pa, ma, tmp_path / "episode.parquet", extension=False)
    df = pl.read_parquet(tmp_path / "episode.parquet")
    image = df["obs"].struct.field("image")
    assert image.dtype == pl.Struct({"uri": pl.String, "pts_ns": pl.Int64})
    assert image.struct.field("uri").to_list() == [r.uri for r in REFS]
    assert image.struct.field("pts_ns").to_list() == [r.pts_ns for r in REFS]
    assert ma.from_arrow(df.to_arrow(), column="obs.image") == REFS


def test_polars_keeps_the_extension_around_the_same_struct(
    pa: Any, ma: Any, tmp_path: Path
) -> None:
    # polars >= 2 keeps an Arrow extension type it does not know; its storage is the struct.
    pl = need("polars")
    write_episode(pa, ma, tmp_path / "episode.parquet", extension=True)
    image = pl.read_parquet(tmp_path / "episode.parquet")["obs"].struct.field("image")
    if isinstance(image.dtype, pl.Struct):  # a polars that drops unknown extensions
        stored = image
    else:
        assert (
            str(image.dtype)
            == "Extension('mediaref.ref', Struct({'uri': String, 'pts_ns': Int64}), '')"
        )
        stored = image.ext.storage()
    assert stored.struct.field("uri").to_list() == [r.uri for r in REFS]
    assert stored.struct.field("pts_ns").to_list() == [r.pts_ns for r in REFS]


@pytest.mark.parametrize("extension", [False, True], ids=["plain", "extension"])
def test_duckdb_reads_the_fields(pa: Any, ma: Any, tmp_path: Path, extension: bool) -> None:
    duckdb = need("duckdb")
    path = tmp_path / "episode.parquet"
    write_episode(pa, ma, path, extension=extension)
    rows = duckdb.sql(f"SELECT obs.image.uri, obs.image.pts_ns FROM '{path}' ORDER BY step")
    assert rows.fetchall() == [(r.uri, r.pts_ns) for r in REFS]


def test_polars_written_parquet_reads_back_as_refs(ma: Any, tmp_path: Path) -> None:
    pl = need("polars")
    pq = need("pyarrow.parquet")
    df = pl.DataFrame({"image": [{"uri": r.uri, "pts_ns": r.pts_ns} for r in REFS]})
    df.write_parquet(tmp_path / "from_polars.parquet")
    table = pq.read_table(tmp_path / "from_polars.parquet", use_threads=False)
    assert table.schema.field("image").type.field("uri").type == need("pyarrow").large_string()
    assert ma.from_arrow(table, column="image") == REFS


def test_the_extension_over_another_struct_still_reads(pa: Any, ma: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    wide = pa.struct([("pts_ns", pa.int32()), ("uri", pa.large_string())])
    stored = pa.StructArray.from_arrays(
        [pa.array([7, None], pa.int32()), pa.array(["a.mp4", "b.png"], pa.large_string())],
        fields=list(wide),
    )
    array = pa.ExtensionArray.from_storage(ma.MediaRefType(wide), stored)
    pq.write_table(pa.table({"x": array}), tmp_path / "wide.parquet")
    ma.register()
    table = pq.read_table(tmp_path / "wide.parquet", use_threads=False)
    assert isinstance(table.column("x").type, ma.MediaRefType)
    assert ma.from_arrow(table, column="x") == [MediaRef("a.mp4", 7), MediaRef("b.png")]
    assert table.column("x").to_pylist() == [MediaRef("a.mp4", 7), MediaRef("b.png")]


@settings(deadline=None)  # pyarrow's first calls are slow on a loaded machine
@given(
    st.lists(
        st.none() | st.builds(MediaRef, st.text(), st.none() | st.integers(-(2**63), 2**63 - 1)),
        max_size=30,
    ),
    st.booleans(),
)
def test_round_trip_property(refs: list[MediaRef | None], extension: bool) -> None:
    ma = need("mediaref.arrow")
    need("pyarrow")
    array = ma.to_arrow(refs, extension=extension)
    assert len(array) == len(refs)
    assert ma.from_arrow(array) == refs
