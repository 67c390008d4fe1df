from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import InvalidReferenceError, MediaRef
from mediaref.io import chunks, read_jsonl, read_msgpack

REFS = [
    MediaRef("episode_0.mkv", 0),
    MediaRef("images/cat.png"),
    MediaRef("episode_0.mkv", 1_500_000_000),
    MediaRef("https://example.org/e.mp4", -(2**63)),
]


class CountingReader(io.RawIOBase):
    """A binary file that counts the bytes handed out."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)
        self.bytes_read = 0
        self.name = "counted.jsonl"

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._inner.read(n)
        self.bytes_read += len(data)
        return data


def test_chunks_groups_lazily() -> None:
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 3)) == []
    endless = iter(int, 1)  # never ends
    assert next(chunks(endless, 2)) == [0, 0]
    with pytest.raises(ValueError, match="chunk size must be at least 1, got 0"):
        next(chunks([1], 0))


def test_read_jsonl_yields_each_reference(tmp_path: Path) -> None:
    path = tmp_path / "refs.jsonl"
    path.write_bytes(b"\n".join(msgspec.json.encode(r) for r in REFS) + b"\n")
    assert list(read_jsonl(path)) == REFS
    assert list(read_jsonl(str(path))) == REFS


def test_read_jsonl_takes_a_nested_column_and_skips_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    lines = [
        {"step": i, "obs": {"image": msgspec.to_builtins(r), "state": [0.5] * 3}, "done": False}
        for i, r in enumerate(REFS)
    ]
    lines.append({"step": 4, "obs": {"image": None}})
    lines.append({"step": 5, "obs": None})
    path.write_bytes(b"\n".join(map(msgspec.json.encode, lines)) + b"\n\n")
    assert list(read_jsonl(path, column="obs.image")) == [*REFS, None, None]


def test_a_key_holding_a_dot_is_given_as_keys(tmp_path: Path) -> None:
    path = tmp_path / "flat.jsonl"
    path.write_text('{"observation.image": {"uri": "a.mp4", "pts_ns": 5}}\n')
    assert list(read_jsonl(path, column=("observation.image",))) == [MediaRef("a.mp4", 5)]


BAD_LINES = b"\n".join(
    [
        b'{"obs": {"image": {"uri": "a.mp4", "pts_ns": 0}}}',
        b"",
        b'{"obs": {"image": {"uri": "a.mp4", "pts_ns": 1.5}}}',
        b'{"obs": {"depth": {}}}',
        b"{not json",
        b'{"obs": {"image": {"uri": "b.png"}}}',
    ]
)


def test_a_bad_line_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_bytes(BAD_LINES)
    reader = read_jsonl(path, column="obs.image")
    assert next(reader) == MediaRef("a.mp4", 0)
    with pytest.raises(InvalidReferenceError) as info:
        next(reader)
    assert str(info.value) == (
        "Expected `int | null`, got `float` - at `$.obs.image.pts_ns` "
        f"(line 3, column 'obs.image', file '{path}')"
    )
    err: Any = info.value
    assert (err.line, err.row, err.column, err.file) == (3, 1, "obs.image", str(path))
    assert pickle.loads(pickle.dumps(err)).line == 3


def test_on_error_return_yields_each_error_in_place(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_bytes(BAD_LINES)
    out = list(read_jsonl(path, column="obs.image", on_error="return"))
    assert len(out) == 5
    assert out[0] == MediaRef("a.mp4", 0) and out[4] == MediaRef("b.png")
    assert [e.line for e in out[1:4]] == [3, 4, 5]  # type: ignore[union-attr]
    assert "Object missing required field `image` - at `$.obs`" in str(out[2])
    assert str(out[3]).startswith("JSON is malformed")


def test_reading_the_first_chunk_does_not_read_the_whole_file() -> None:
    line = msgspec.json.encode({"obs": {"image": {"uri": "episode.mkv", "pts_ns": 10**9}}})
    data = b"\n".join([line] * 200_000)  # ~13 MB
    f = CountingReader(data)
    first = next(chunks(read_jsonl(f, column="obs.image"), 100))
    assert first == [MediaRef("episode.mkv", 10**9)] * 100
    assert f.bytes_read <= 1 << 16
    assert len(data) > 100 * f.bytes_read


def test_read_msgpack_splits_objects_back_to_back(tmp_path: Path) -> None:
    path = tmp_path / "refs.msgpack"
    path.write_bytes(b"".join(msgspec.msgpack.encode(r) for r in REFS))
    assert list(read_msgpack(path)) == REFS


def test_read_msgpack_takes_a_column_among_every_kind_of_value(tmp_path: Path) -> None:
    records = [
        {
            "obs": {"image": msgspec.to_builtins(r), "blob": b"\x00" * 70_000},
            "meta": {"floats": [0.5, -1e300], "ints": [-1, 300, -40_000, 2**40, -(2**40)]},
            "text": "x" * 300,
            "flags": [True, False, None],
            "ext": msgspec.msgpack.Ext(1, b"abcd"),
        }
        for r in REFS
    ]
    data = b"".join(map(msgspec.msgpack.encode, records))
    assert list(read_msgpack(io.BytesIO(data), column="obs.image")) == REFS


@given(st.lists(st.tuples(st.text(), st.integers(-(2**63), 2**64 - 1) | st.none()), max_size=20))
def test_msgpack_round_trip(pairs: list[tuple[str, int | None]]) -> None:
    refs = [MediaRef(u, t) for u, t in pairs]
    data = b"".join(msgspec.msgpack.encode(r) for r in refs)
    assert list(read_msgpack(io.BytesIO(data))) == refs


def test_a_msgpack_stream_cut_short_names_the_object() -> None:
    data = b"".join(msgspec.msgpack.encode(r) for r in REFS)
    out = list(read_msgpack(io.BytesIO(data[:-3]), on_error="return"))
    assert out[:3] == REFS[:3]
    assert isinstance(out[3], InvalidReferenceError)
    assert str(out[3]).startswith("the stream ends inside an object (bytes ")
    assert out[3].row == 3  # type: ignore[attr-defined]
    with pytest.raises(InvalidReferenceError, match=r"\(row 3, file '<stream>'\)$"):
        list(read_msgpack(io.BytesIO(data[:-3])))


def test_a_bad_msgpack_object_takes_its_place_and_reading_goes_on() -> None:
    objects = [REFS[0], {"uri": 5}, REFS[1]]
    data = b"".join(map(msgspec.msgpack.encode, objects))
    out = list(read_msgpack(io.BytesIO(data), on_error="return"))
    assert out[0] == REFS[0] and out[2] == REFS[1]
    assert str(out[1]) == "Expected `str`, got `int` - at `$.uri` (row 1, file '<stream>')"


def test_bytes_that_are_not_msgpack_end_the_stream_with_an_error() -> None:
    data = msgspec.msgpack.encode(REFS[0]) + b"\xc1" + msgspec.msgpack.encode(REFS[1])
    out = list(read_msgpack(io.BytesIO(data), on_error="return"))
    assert out[0] == REFS[0]
    assert str(out[1]) == (
        "not MessagePack: byte 0xc1 in the object at offset 27 (row 1, file '<stream>')"
    )
    assert len(out) == 2


def test_readers_refuse_a_bad_on_error_or_column() -> None:
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'return', got 'skip'"):
        read_jsonl(io.BytesIO(b""), on_error="skip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="column must be a dotted path"):
        read_msgpack(io.BytesIO(b""), column="obs..image")


def test_a_missing_file_is_reported_by_the_call(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_jsonl(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError):
        read_msgpack(tmp_path / "missing.msgpack")


def test_reading_the_first_msgpack_object_does_not_read_the_whole_stream() -> None:
    one = msgspec.msgpack.encode({"obs": {"image": REFS[2]}, "pad": b"x" * 100})
    f = CountingReader(one * 100_000)  # ~14 MB
    assert next(read_msgpack(f, column="obs.image")) == REFS[2]
    assert f.bytes_read <= 1 << 16


@given(
    st.lists(
        st.none() | st.builds(MediaRef, st.text(), st.none() | st.integers(-(2**63), 2**64 - 1)),
        max_size=20,
    )
)
def test_jsonl_round_trip(refs: list[MediaRef | None]) -> None:
    data = b"\n".join(msgspec.json.encode({"a": {"b": r}}) for r in refs)
    assert list(read_jsonl(io.BytesIO(data), column="a.b")) == refs
