from __future__ import annotations

import json
import re
import warnings
from pathlib import Path, PurePosixPath

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import DataURI, InvalidReferenceError, MediaRef

MIN = -(2**63)
MAX = 2**64 - 1


def test_is_frozen_hashable_and_usable_as_dict_key() -> None:
    a, b = MediaRef("v.mp4", 5), MediaRef("v.mp4", 5)
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert len({a, b, MediaRef("v.mp4", 6)}) == 2
    with pytest.raises(AttributeError):
        a.pts_ns = 7  # type: ignore[misc]


def test_json_wire_format_omits_missing_pts() -> None:
    assert msgspec.json.encode(MediaRef("video.mp4", 1_500_000_000)) == (
        b'{"uri":"video.mp4","pts_ns":1500000000}'
    )
    assert msgspec.json.encode(MediaRef("image.png")) == b'{"uri":"image.png"}'
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(MediaRef("image.png"))) == {
        "uri": "image.png"
    }


def test_decoding_accepts_null_pts() -> None:
    assert msgspec.json.decode(b'{"uri":"a.png","pts_ns":null}', type=MediaRef) == MediaRef("a.png")


@pytest.mark.parametrize(
    "pts",
    [MIN - 1, MAX + 1, True, False, 1.0, "5"],
    ids=["below-int64", "above-uint64", "true", "false", "float", "str"],
)
def test_construction_rejects_bad_pts(pts: object) -> None:
    with pytest.raises(
        InvalidReferenceError,
        match=r"^pts_ns must be an int in \[-2\*\*63, 2\*\*64 - 1\], got " + re.escape(repr(pts)),
    ):
        MediaRef("v.mp4", pts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "uri",
    [None, 5, b"a.png", PurePosixPath],
    ids=["none", "int", "bytes", "type"],
)
def test_construction_rejects_bad_uri(uri: object) -> None:
    with pytest.raises(InvalidReferenceError, match=r"^uri must be a string or a path, got "):
        MediaRef(uri)  # type: ignore[arg-type]


def test_construction_takes_what_datasets_hand_over() -> None:
    np = pytest.importorskip("numpy")
    ref = MediaRef(Path("videos") / "v.mp4", np.int64(-5))  # type: ignore[arg-type]
    assert ref == MediaRef("videos/v.mp4", -5)
    assert ref.pts_ns.__class__ is int and ref.uri.__class__ is str
    assert MediaRef("v", np.uint64(2**64 - 1)).pts_ns == 2**64 - 1
    assert msgspec.json.encode(MediaRef("v", np.int32(7))) == b'{"uri":"v","pts_ns":7}'
    for bad in (np.bool_(True), np.float64(1.0), True):
        with pytest.raises(InvalidReferenceError, match=r"^pts_ns must be an int"):
            MediaRef("v", bad)


def test_negative_pts_and_the_empty_uri_are_references_as_in_044() -> None:
    ref = MediaRef("v.mp4", -1_000_000_000)
    assert ref.is_video and ref.pts_ns == -1_000_000_000
    assert msgspec.json.decode(msgspec.json.encode(ref), type=MediaRef) == ref
    empty = MediaRef("")
    assert MediaRef.model_validate(empty.model_dump()) == empty
    assert empty.is_local and empty.is_relative_path and not empty.is_remote


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (b'{"uri":"a","pts_ns":-9223372036854775809}', "$.pts_ns"),
        (b'{"uri":"a","pts_ns":18446744073709551616}', "pts_ns"),
        (b'{"uri":"a","pts_ns":true}', "$.pts_ns"),
        (b'{"uri":"a","pts_ns":1.5}', "$.pts_ns"),
        (b'{"uri":1,"pts_ns":1}', "$.uri"),
        (b'{"pts_ns":1}', "uri"),
    ],
    ids=["below-int64", "above-uint64", "bool", "float", "int-uri", "missing-uri"],
)
def test_json_decoding_names_the_bad_field(doc: bytes, field: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=field.replace("$", r"\$")):
        msgspec.json.decode(doc, type=MediaRef)
    try:
        packed = msgspec.msgpack.encode(json.loads(doc))
    except OverflowError:
        return  # MessagePack cannot even carry the value
    with pytest.raises(msgspec.ValidationError, match=field.replace("$", r"\$")):
        msgspec.msgpack.decode(packed, type=MediaRef)


@pytest.mark.parametrize("pts", [MIN, -1, 0, 2**63 - 1, 2**63, MAX])
def test_bounds_of_pts_are_accepted_and_round_trip(pts: int) -> None:
    ref = MediaRef("v", pts)
    assert ref.pts_ns == pts
    assert msgspec.json.decode(msgspec.json.encode(ref), type=MediaRef) == ref
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(ref), type=MediaRef) == ref
    assert MediaRef.model_validate_json(ref.model_dump_json()) == ref


def test_data_uri_is_stored_as_its_string() -> None:
    d = DataURI.from_bytes(b"\x89PNG", "image/png")
    ref = MediaRef(d)  # type: ignore[arg-type]
    assert ref.uri.__class__ is str and ref.uri == "data:image/png;base64,iVBORw=="
    assert ref.is_embedded


@pytest.mark.parametrize(
    ("uri", "props"),
    [
        ("frames/a.png", {"is_local", "is_relative_path"}),
        ("/abs/a.png", {"is_local"}),
        ("C:/x/a.png", {"is_local"}),
        ("file:///abs/a%20b.png", {"is_local"}),
        ("https://h/a.jpg", {"is_remote"}),
        ("HTTP://h/a.jpg", {"is_remote"}),
        ("data:image/png;base64,AA==", {"is_embedded"}),
        ("s3://bucket/key.mp4", set()),
    ],
)
def test_classification_properties(uri: str, props: set[str]) -> None:
    ref = MediaRef(uri)
    for name in ("is_local", "is_remote", "is_embedded", "is_relative_path"):
        assert getattr(ref, name) is (name in props), name
    assert ref.is_image and not ref.is_video
    assert MediaRef(uri, 0).is_video


def test_scheme_is_lower_case() -> None:
    assert MediaRef("HTTPS://x/y").scheme == "https"
    assert MediaRef("a/b.png").scheme == ""
    assert MediaRef("s3://b/k").scheme == "s3"


def test_resolve_relative_path_joins_paths_and_keeps_pts() -> None:
    ref = MediaRef("relative/video.mkv", 123456).resolve_relative_path("/data/recordings")
    assert ref == MediaRef("/data/recordings/relative/video.mkv", 123456)
    assert MediaRef("/abs/x.png").resolve_relative_path("/data") == MediaRef("/abs/x.png")
    assert MediaRef("a/b.png").resolve_relative_path("https://h/base/") == MediaRef(
        "https://h/base/a/b.png"
    )


def test_resolve_relative_path_on_unresolvable() -> None:
    remote = MediaRef("https://example.com/image.jpg")
    message = (
        "Cannot resolve unresolvable URI (remote, not a path): 'https://example.com/image.jpg'"
    )
    with pytest.warns(UserWarning, match="^" + re.escape(message) + "$"):
        assert remote.resolve_relative_path("/data") is remote
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert remote.resolve_relative_path("/data", on_unresolvable="ignore") is remote
    with pytest.raises(InvalidReferenceError, match="^" + re.escape(message) + "$"):
        remote.resolve_relative_path("/data", on_unresolvable="error")
    embedded = MediaRef("data:,x")
    with pytest.raises(ValueError, match=r"^Cannot resolve unresolvable URI \(embedded, not a"):
        embedded.resolve_relative_path("/data", on_unresolvable="error")
    assert MediaRef("").resolve_relative_path("/base") == MediaRef("/base")


def test_validate_uri(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "x.png"
    f.write_bytes(b"123")
    assert MediaRef(str(f)).validate_uri()
    assert MediaRef(f.as_uri()).validate_uri()
    assert not MediaRef(str(tmp_path / "missing.png")).validate_uri()
    assert MediaRef(str(tmp_path)).validate_uri()  # a directory exists too, as in 0.4.4
    assert not MediaRef("").validate_uri()
    # Embedded data is "valid" without being parsed, as in 0.4.4; decoding checks it.
    assert MediaRef("data:,hello").validate_uri()
    assert MediaRef("data:image/png;base64,@@@").validate_uri()
    with pytest.raises(NotImplementedError, match="does not check remote URLs"):
        MediaRef("https://example.com/a.png").validate_uri()


def test_pydantic_style_shims_match_pydantic_output() -> None:
    video = MediaRef("video.mp4", 1_500_000_000)
    assert video.model_dump() == {"uri": "video.mp4", "pts_ns": 1500000000}
    assert video.model_dump_json() == '{"uri":"video.mp4","pts_ns":1500000000}'
    image = MediaRef("image.png")
    assert image.model_dump() == {"uri": "image.png", "pts_ns": None}
    assert image.model_dump_json() == '{"uri":"image.png","pts_ns":null}'
    assert image.model_dump(exclude_none=True) == {"uri": "image.png"}
    assert MediaRef.model_validate(video.model_dump()) == video
    assert MediaRef.model_validate_json(video.model_dump_json()) == video
    assert MediaRef.model_validate_json(image.model_dump_json()) == image
    with pytest.raises(msgspec.ValidationError, match=r"\$.pts_ns"):
        MediaRef.model_validate({"uri": "a", "pts_ns": 1.5})


def test_is_equivalent_keeps_percent_signs_of_plain_paths() -> None:
    # Issue 16: 'd/a%41.png' and 'd/aA.png' are two files; file: URIs name one.
    assert not MediaRef("d/a%41.png").is_equivalent(MediaRef("d/aA.png"))
    assert MediaRef("file:///d/a%41.png").is_equivalent(MediaRef("file:///d/aA.png"))
    assert MediaRef("d/./a%41.png", 5).is_equivalent(MediaRef("d/a%41.png", 5))


def test_is_equivalent_normalises_uris_but_eq_does_not() -> None:
    a = MediaRef("HTTP://Example.COM:80/a/./b/%7Efile.mp4", 5)
    b = MediaRef("http://example.com/a/b/~file.mp4", 5)
    assert a != b
    assert a.is_equivalent(b)
    assert not a.is_equivalent(MediaRef(b.uri, 6))


def test_works_inside_user_msgspec_structs() -> None:
    class Row(msgspec.Struct):
        action: list[float]
        observation: MediaRef

    row = Row([0.1], MediaRef("episode.mp4", 50_000_000))
    raw = msgspec.json.encode(row)
    assert raw == b'{"action":[0.1],"observation":{"uri":"episode.mp4","pts_ns":50000000}}'
    assert msgspec.json.decode(raw, type=Row) == row
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(row), type=Row) == row


def test_works_inside_user_pydantic_models() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Row(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        observation: MediaRef
        extra: MediaRef | None = None

    row = Row(observation={"uri": "episode.mp4", "pts_ns": 5})
    assert row.observation == MediaRef("episode.mp4", 5)
    assert Row(observation=MediaRef("a.png")).observation == MediaRef("a.png")
    assert row.model_dump() == {"observation": {"uri": "episode.mp4", "pts_ns": 5}, "extra": None}
    assert Row.model_validate_json(row.model_dump_json()) == row
    with pytest.raises(pydantic.ValidationError, match="pts_ns"):
        Row(observation={"uri": "a", "pts_ns": 2**64})


refs = st.builds(
    MediaRef,
    st.text(),
    st.none() | st.integers(min_value=MIN, max_value=MAX),
)


@given(refs)
def test_json_and_msgpack_round_trips(ref: MediaRef) -> None:
    assert msgspec.json.decode(msgspec.json.encode(ref), type=MediaRef) == ref
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(ref), type=MediaRef) == ref
    assert MediaRef.model_validate_json(ref.model_dump_json()) == ref
    assert MediaRef.model_validate(ref.model_dump()) == ref


@given(
    st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=8,
    )
)
def test_arbitrary_json_decodes_or_raises_validation_error(doc: object) -> None:
    raw = msgspec.json.encode(doc)
    try:
        ref = msgspec.json.decode(raw, type=MediaRef)
    except msgspec.ValidationError:
        return
    assert isinstance(ref.uri, str) and ref.uri
    assert ref.pts_ns is None or 0 <= ref.pts_ns <= MAX


def test_model_copy_returns_a_new_validated_reference() -> None:
    ref = MediaRef("image.png", 123456)
    same = ref.model_copy()
    assert same == ref and same is not ref
    assert ref.model_copy(deep=True) == ref
    assert ref.model_copy(update={"pts_ns": 789012}) == MediaRef("image.png", 789012)
    assert ref.model_copy(update={"uri": "b.png", "pts_ns": None}) == MediaRef("b.png")
    assert ref.pts_ns == 123456
    with pytest.raises(InvalidReferenceError, match="pts_ns must be an int"):
        ref.model_copy(update={"pts_ns": 1.5})
    with pytest.raises(TypeError, match=r"^MediaRef has no field 'pts'$"):
        ref.model_copy(update={"pts": 1})
