"""MediaRef in Pydantic models, and parity with the Pydantic-based PyPI mediaref (2.x)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Optional

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import DataURI, InvalidReferenceError, MediaRef
from tests.conftest import need

pydantic = need("pydantic")

# Written by PyPI mediaref 2.1.0 (with pydantic 2.14.4) in a throwaway venv:
#   python3 -m venv /tmp/m21 && /tmp/m21/bin/pip install mediaref==2.1.0
#   MediaRef(uri=..., pts_ns=...).model_dump_json() for the three refs, and for a model
#   `Row(BaseModel): step: int; obs: MediaRef; extra: Optional[MediaRef] = None`
#   Row(...).model_dump_json() and Row(...).model_dump_json(exclude_none=True).
MEDIAREF_21_REFS = [
    (
        '{"uri":"videos/episode_000.mp4","pts_ns":1500000000}',
        MediaRef("videos/episode_000.mp4", 1_500_000_000),
    ),
    ('{"uri":"images/frame.png","pts_ns":null}', MediaRef("images/frame.png")),
    ('{"uri":"clip.mkv","pts_ns":-33366667}', MediaRef("clip.mkv", -33_366_667)),
]
MEDIAREF_21_ROW = '{"step":3,"obs":{"uri":"ep.mp4","pts_ns":50000000},"extra":null}'
MEDIAREF_21_ROW_EXCLUDE_NONE = '{"step":4,"obs":{"uri":"a.png"},"extra":{"uri":"b.mkv","pts_ns":0}}'


class Row(pydantic.BaseModel):  # type: ignore[misc,name-defined]
    step: int
    obs: MediaRef
    extra: Optional[MediaRef] = None  # noqa: UP045 - the shape users wrote for 2.x


class PydanticRef(pydantic.BaseModel):  # type: ignore[misc,name-defined]
    """The fields of the Pydantic-based package's MediaRef (0.4.4 and 2.x)."""

    uri: str
    pts_ns: Optional[int] = None  # noqa: UP045


REF_SCHEMA = {
    "properties": {
        "uri": {"title": "Uri", "type": "string"},
        "pts_ns": {
            "anyOf": [
                {"maximum": 2**64 - 1, "minimum": -(2**63), "type": "integer"},
                {"type": "null"},
            ],
            "default": None,
            "title": "Pts Ns",
        },
    },
    "required": ["uri"],
    "title": "MediaRef",
    "type": "object",
}


@pytest.mark.parametrize("mode", ["validation", "serialization"])
def test_json_schema_in_both_modes(mode: str) -> None:
    assert Row.model_json_schema(mode=mode) == {
        "$defs": {"MediaRef": REF_SCHEMA},
        "properties": {
            "step": {"title": "Step", "type": "integer"},
            "obs": {"$ref": "#/$defs/MediaRef"},
            "extra": {"anyOf": [{"$ref": "#/$defs/MediaRef"}, {"type": "null"}], "default": None},
        },
        "required": ["step", "obs"],
        "title": "Row",
        "type": "object",
    }
    # What FastAPI asks of a response model `list[MediaRef]`.
    assert pydantic.TypeAdapter(list[MediaRef]).json_schema(mode=mode)["items"] == {
        "$ref": "#/$defs/MediaRef"
    }


@pytest.mark.parametrize(
    ("pts_ns", "loc", "error_type"),
    [
        (5.5, ("obs", "pts_ns"), "int_from_float"),
        ("1e3", ("obs", "pts_ns"), "int_parsing"),
        (2**64, ("obs", "pts_ns"), "less_than_equal"),
        (-(2**63) - 1, ("obs", "pts_ns"), "greater_than_equal"),
        ([5], ("obs", "pts_ns"), "int_type"),
    ],
)
def test_errors_are_located_on_the_nested_field(
    pts_ns: Any, loc: tuple[str, ...], error_type: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Row(step=0, obs={"uri": "a.mp4", "pts_ns": pts_ns})
    (error,) = info.value.errors()
    assert (error["loc"], error["type"]) == (loc, error_type)


def test_a_missing_or_wrong_uri_is_located_too() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Row(step=0, obs={"pts_ns": 5})
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(("obs", "uri"), "missing")]
    with pytest.raises(pydantic.ValidationError) as info:
        Row(step=0, obs=5)
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(("obs",), "dict_type")]


LAX_INPUTS = [
    "5",
    5.0,
    True,
    False,
    b"5",
    " 5 ",
    "5.0",
    "+5",
    "-7",
    "1_000",
    5.5,
    "1e3",
    "x",
    None,
    2**63 - 1,
    -(2**63),
    "",
    1e300,
]


def outcome(validate: Any, data: Any) -> Any:
    try:
        ref = validate(data)
    except (pydantic.ValidationError, msgspec.ValidationError):
        return "error"
    return (ref.uri, ref.pts_ns)


@pytest.mark.parametrize("pts_ns", LAX_INPUTS, ids=repr)
def test_lax_inputs_load_as_in_the_pydantic_based_package(pts_ns: Any) -> None:
    data = {"uri": "a.mp4", "pts_ns": pts_ns}
    expected = outcome(PydanticRef.model_validate, data)
    assert outcome(MediaRef.model_validate, data) == expected
    assert outcome(lambda d: Row(step=0, obs=d).obs, data) == expected


@pytest.mark.parametrize("raw", ['"5"', "5.0", "true", "5.5", '"x"', "null"])
def test_lax_json_loads_as_in_the_pydantic_based_package(raw: str) -> None:
    doc = '{"uri":"a.mp4","pts_ns":' + raw + "}"
    expected = outcome(PydanticRef.model_validate_json, doc)
    assert outcome(MediaRef.model_validate_json, doc) == expected
    row = '{"step":0,"obs":' + doc + "}"
    assert outcome(lambda r: Row.model_validate_json(r).obs, row) == expected


def test_lax_matches_pydantic_exactly_on_the_cases_that_matter() -> None:
    assert MediaRef.model_validate({"uri": "a", "pts_ns": "5"}) == MediaRef("a", 5)
    assert MediaRef.model_validate({"uri": "a", "pts_ns": 5.0}) == MediaRef("a", 5)
    assert MediaRef.model_validate({"uri": "a", "pts_ns": True}) == MediaRef("a", 1)
    assert type(MediaRef.model_validate({"uri": "a", "pts_ns": True}).pts_ns) is int
    with pytest.raises(
        msgspec.ValidationError, match=r"Expected `int \| null`, got `float` - at `\$.pts_ns`"
    ):
        MediaRef.model_validate({"uri": "a", "pts_ns": 5.5})


def test_the_msgspec_path_and_the_constructor_stay_strict() -> None:
    for raw in (
        b'{"uri":"a","pts_ns":"5"}',
        b'{"uri":"a","pts_ns":5.0}',
        b'{"uri":"a","pts_ns":true}',
    ):
        with pytest.raises(msgspec.ValidationError, match=r"at `\$.pts_ns`"):
            msgspec.json.decode(raw, type=MediaRef)
    for bad in ("5", 5.0, True):
        with pytest.raises(InvalidReferenceError, match="pts_ns must be an int"):
            MediaRef("a", bad)  # type: ignore[arg-type]


def test_strict_models_validate_references_in_lax_mode_as_the_nested_model_did() -> None:
    class Strict(pydantic.BaseModel, strict=True):  # type: ignore[misc,name-defined,call-arg]
        obs: MediaRef

    # PyPI mediaref 2.1 gives pts_ns=5 here too: a nested model keeps its own (lax) config.
    assert Strict(obs={"uri": "v", "pts_ns": "5"}).obs == MediaRef("v", 5)


def test_exclude_none_omits_the_pts_of_an_image() -> None:
    row = Row(step=4, obs=MediaRef("a.png"), extra=MediaRef("b.mkv", 0))
    assert row.model_dump(exclude_none=True) == {
        "step": 4,
        "obs": {"uri": "a.png"},
        "extra": {"uri": "b.mkv", "pts_ns": 0},
    }
    assert row.model_dump_json(exclude_none=True) == MEDIAREF_21_ROW_EXCLUDE_NONE
    assert Row(step=1, obs=MediaRef("a.png")).model_dump() == {
        "step": 1,
        "obs": {"uri": "a.png", "pts_ns": None},
        "extra": None,
    }


@pytest.mark.parametrize(("raw", "ref"), MEDIAREF_21_REFS, ids=["video", "image", "negative"])
def test_records_written_by_pypi_mediaref_21_load(raw: str, ref: MediaRef) -> None:
    assert MediaRef.model_validate_json(raw) == ref
    assert msgspec.json.decode(raw, type=MediaRef) == ref
    assert pydantic.TypeAdapter(MediaRef).validate_json(raw) == ref
    assert ref.model_dump_json() == raw  # and ours write what 2.1 wrote


def test_models_written_by_pypi_mediaref_21_load() -> None:
    row = Row.model_validate_json(MEDIAREF_21_ROW)
    assert row == Row(step=3, obs=MediaRef("ep.mp4", 50_000_000))
    assert row.model_dump_json() == MEDIAREF_21_ROW
    other = Row.model_validate_json(MEDIAREF_21_ROW_EXCLUDE_NONE)
    assert (other.obs, other.extra) == (MediaRef("a.png"), MediaRef("b.mkv", 0))


def test_a_pydantic_field_takes_references_data_uris_and_objects_with_the_fields() -> None:
    ref = MediaRef("v.mp4", 3)
    assert Row(step=0, obs=ref).obs is ref
    assert Row(step=0, obs={"uri": DataURI.from_uri("data:,hi")}).obs == MediaRef("data:,hi")
    assert Row(step=0, obs=PydanticRef(uri="v.mp4", pts_ns=3)).obs == ref


def test_valid_input_does_not_import_pydantic() -> None:
    code = (
        "import sys\nfrom mediaref import MediaRef\n"
        "MediaRef.model_validate({'uri': 'a', 'pts_ns': 5})\n"
        'MediaRef.model_validate_json(\'{"uri": "a"}\')\n'
        "print('pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lax_needs_pydantic_and_is_strict_without_it() -> None:
    code = (
        "import sys; sys.modules['pydantic'] = None\n"
        "import msgspec\nfrom mediaref import MediaRef\n"
        "try:\n    MediaRef.model_validate({'uri': 'a', 'pts_ns': '5'})\n"
        "except msgspec.ValidationError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Expected `int | null`, got `str` - at `$.pts_ns`"


in_range_inputs = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(min_value=-(2.0**53), max_value=2.0**53)
    | st.sampled_from([float("nan"), float("inf")]),
    st.text(alphabet="0123456789 +-_.eEx", max_size=12),  # at most 12 digits: in range
    st.binary(max_size=4),
)


@given(in_range_inputs)
def test_every_pts_input_loads_as_in_the_pydantic_based_package(pts_ns: Any) -> None:
    # Values outside [-2**63, 2**64 - 1], which 2.x stored and we refuse, are left out.
    data = {"uri": "a.mp4", "pts_ns": pts_ns}
    expected = outcome(PydanticRef.model_validate, data)
    assert outcome(MediaRef.model_validate, data) == expected
    assert outcome(lambda d: Row(step=0, obs=d).obs, data) == expected
