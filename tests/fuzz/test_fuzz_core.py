"""Fuzzing the core's parsers: URIs, ``data:`` URIs (RFC 2397) and the wire format.

Each target states what may come out: a value that obeys its law (round trip, agreement
with the standard library), or one documented error with a short message. Failures found
are kept as ``@example`` regression cases.
"""

from __future__ import annotations

import base64
import contextlib
import string
from typing import Any
from unittest import mock
from urllib.parse import quote_from_bytes, unquote_to_bytes

import msgspec
from hypothesis import example, given
from hypothesis import strategies as st

from mediaref import DataURI, InvalidReferenceError, MediaRef, open_source
from mediaref import _rfc2397 as rfc2397
from mediaref._uri import normalize_uri, parse_uri, uris_equivalent
from tests.fuzz import budget

SHORT = 500  # every message is shorter, whatever the input


def short_message(e: Exception) -> None:
    assert len(str(e)) < SHORT, str(e)[:1000]


uri_prefixes = st.sampled_from(
    [
        *("", "/", "./", "../", "//", "C:/", "c:\\", "file:", "file://", "file:///"),
        *("file://localhost/", "file://host/", "http://", "HTTP://", "https://h:443"),
        *("http://[::1", "http://h:80/", "data:", "DATA:", "s3://", "a+b.c-d:", "1a:", "%"),
    ]
)
uri_chars = st.text(
    alphabet=string.ascii_letters[:6] + "019%2F/.:?#@[]\\ ~é\x00\ud800", max_size=30
)
uris = st.builds(str.__add__, uri_prefixes, uri_chars) | st.text(max_size=40)


@budget(400)
@given(uris)
@example("%")
@example("file://" + "h" * 1000 + "/x")
@example("file:////x")  # normalised to file://x, naming host x: found by this target
@example("file:.")  # normalised to file:// (no path): found by this target
def test_parse_uri_is_total_and_normalisation_is_a_canonical_form(s: str) -> None:
    try:
        parsed = parse_uri(s)
    except InvalidReferenceError as e:
        return short_message(e)
    assert parsed.kind in {"path", "file", "http", "data", "other"}
    assert (parsed.kind == "path") == (parsed.scheme == "")
    once = normalize_uri(s)
    assert normalize_uri(once) == once
    assert uris_equivalent(s, s) and uris_equivalent(s, once)


media_types = st.sampled_from(["", "image/png", "IMAGE/PNG", "text/plain", "a/b", "x", " /"])
params = st.lists(st.sampled_from(["charset=utf-8", "a=b", "q", "=v", "k=", " k = v "]), max_size=2)
payload_chars = st.text(alphabet="aZ09-._~%2F41ff=+/ \n\r\t\x00é\ud800", max_size=40)


@st.composite
def data_uris(draw: st.DrawFn) -> str:
    head = ";".join([draw(media_types), *draw(params)])
    b64 = draw(st.booleans())
    return "data:" + head + (";base64" if b64 else "") + "," + draw(payload_chars)


def _spaced(text: str, cuts: list[int]) -> str:
    for i in sorted(cuts, reverse=True):
        text = text[:i] + " \n"[i % 2] + text[i:]
    return text


@budget(300)
@given(data_uris() | st.builds(str.__add__, st.just("data:"), st.text(max_size=40)))
@example("data:;base64,=")  # leading padding: refused, as strict base64 does
@example("data:,%")
@example("data:,%4")
@example("data:,%%41")
def test_data_uri_parsing_is_total_and_agrees_with_the_standard_library(uri: str) -> None:
    try:
        mimetype, _, is_b64, decoded = rfc2397.parse_data_uri(uri)
    except InvalidReferenceError as e:
        return short_message(e)
    payload = uri[uri.index(",") + 1 :]
    text = unquote_to_bytes(payload)
    if is_b64:
        assert decoded == base64.b64decode(b"".join(text.split()), validate=True)
    else:
        assert decoded == text
    assert "/" in mimetype
    from_uri = DataURI.from_uri(uri)
    assert from_uri.decoded_data == decoded
    assert open_source(uri).read_all() == decoded


@budget(200)
@given(st.binary(max_size=200), st.booleans(), st.lists(st.integers(0, 300), max_size=4))
def test_data_uris_round_trip_with_whitespace_and_escapes(
    data: bytes, is_b64: bool, cuts: list[int]
) -> None:
    if is_b64:
        payload = _spaced(base64.b64encode(data).decode(), [c for c in cuts if c])
    else:
        payload = quote_from_bytes(data, safe="")
    uri = "data:application/octet-stream" + (";base64," if is_b64 else ",") + payload
    assert rfc2397.parse_data_uri(uri)[3] == data
    built = DataURI.from_bytes(data, "application/octet-stream", is_base64=is_b64)
    assert DataURI.from_uri(str(built)).decoded_data == data == built.decoded_data


@budget(400)
@given(payload_chars | st.text(max_size=60), st.integers(3, 9))
@example("%41%4", 3)
@example("ab%", 3)
@example("%%%41", 4)
@example("a=%41", 3)  # '=' would be an escape to binascii.a2b_qp
@example("%41\n%42", 3)  # so would a line break
def test_bounded_percent_decoding_equals_urllib_at_every_window_cut(text: str, window: int) -> None:
    try:
        expected = unquote_to_bytes(text)
    except UnicodeEncodeError:
        return  # a lone surrogate: parse_data_uri reports it as a malformed payload
    with mock.patch.object(rfc2397, "_WINDOW", window):
        assert rfc2397.unquote_to_bytes_bounded(text) == expected
    assert rfc2397.unquote_to_bytes_bounded(text) == expected


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
ref_shaped = st.fixed_dictionaries(
    {"uri": json_values | uris},
    optional={"pts_ns": json_values | st.integers(-(2**64), 2**65), "extra": json_values},
)


@budget(200)
@given(json_values | ref_shaped)
@example({"uri": "x", "pts_ns": 2**64})  # past uint64: msgspec's ValidationError
@example({"uri": "x", "pts_ns": True})
def test_json_documents_decode_as_refs_or_raise_msgspec_errors(doc: Any) -> None:
    try:
        raw = msgspec.json.encode(doc)
    except UnicodeEncodeError:
        raw = repr(doc).encode("utf-8", "surrogatepass")  # not JSON: a DecodeError below
    try:
        ref = MediaRef.model_validate_json(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        return short_message(e)
    assert MediaRef.model_validate_json(ref.model_dump_json()) == ref
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(ref), type=MediaRef) == ref


@budget(300)
@given(
    st.sampled_from([MediaRef("v.mp4", 1_500_000_000), MediaRef("data:,x"), MediaRef("a.png")]),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, 60),
    st.booleans(),
)
def test_damaged_encodings_of_refs_raise_only_msgspec_errors(
    ref: MediaRef, flips: list[tuple[int, int]], cut: int, json: bool
) -> None:
    buf = bytearray(msgspec.json.encode(ref) if json else msgspec.msgpack.encode(ref))
    for at, value in flips:
        buf[at % len(buf)] = value
    damaged = bytes(buf[: max(1, len(buf) - cut)])
    with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError):
        if json:
            MediaRef.model_validate_json(damaged)
        else:
            msgspec.msgpack.decode(damaged, type=MediaRef)


@budget(300)
@given(
    st.one_of(st.text(max_size=20), st.integers(), st.none(), st.binary(max_size=5)),
    st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), st.text(max_size=5)),
)
@example("x.png", 10**5000)  # repr() of such an int raised a bare ValueError
@example(10**5000, None)
def test_constructing_a_ref_raises_only_invalid_reference_error(uri: Any, pts_ns: Any) -> None:
    try:
        ref = MediaRef(uri, pts_ns)
    except InvalidReferenceError as e:
        return short_message(e)
    assert isinstance(ref.uri, str)
    assert ref.pts_ns is None or isinstance(ref.pts_ns, int)


def _lines_by_split(data: bytes) -> list[tuple[int, bytes]]:
    parts = data.split(b"\n")
    if not parts[-1]:
        parts.pop()
    return list(enumerate(parts, 1))


@budget(300)
@given(
    st.binary(max_size=80) | st.text(alphabet="ab\n", max_size=80).map(str.encode),
    st.integers(1, 7),
)
@example(b"abc", 1)
@example(b"\n\n", 2)
@example(b"ab\ncd", 2)
def test_json_lines_are_split_the_same_at_every_block_size(data: bytes, block: int) -> None:
    # mediaref.io keeps an unfinished line as pieces (linear time); it must cut as split does.
    import io as stdio

    from mediaref import io as mio

    with mock.patch.object(mio, "_BLOCK", block):
        assert list(mio._lines(stdio.BytesIO(data))) == _lines_by_split(data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=16,
)


@budget(150)
@given(st.lists(msgpack_values, max_size=4), st.integers(1, 7))
@example([[0] * 70_000], 7)  # an array32 count; thousands of blocks
@example(["x" * 300, b"y" * 70_000, {"k": [1.5] * 20}], 5)  # str16, bin32, map, float64
def test_msgpack_objects_are_split_the_same_at_every_block_size(
    values: list[Any], block: int
) -> None:
    # mediaref.io resumes its scan of an object where a block ran out (linear time).
    import io as stdio

    from mediaref import io as mio

    encoded = [msgspec.msgpack.encode(v) for v in values]
    with mock.patch.object(mio, "_BLOCK", block):
        assert list(mio._objects(stdio.BytesIO(b"".join(encoded)))) == encoded
