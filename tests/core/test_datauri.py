from __future__ import annotations

import base64
import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import DataURI, InvalidReferenceError, MediaRef

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def test_from_uri_base64() -> None:
    d = DataURI.from_uri("data:image/png;base64," + base64.b64encode(PNG_HEAD).decode())
    assert (d.mimetype, d.data, d.is_image, d.base64) == ("image/png", PNG_HEAD, True, True)


def test_from_uri_percent_encoded_with_params_and_defaults() -> None:
    d = DataURI.from_uri("data:text/plain;charset=utf-8,caf%C3%A9%20au%20lait")
    assert d.data == "café au lait".encode()
    assert d.params == (("charset", "utf-8"),)
    bare = DataURI.from_uri("data:,A%20brief%20note")
    assert (bare.mimetype, bare.params, bare.data) == (
        "text/plain",
        (("charset", "US-ASCII"),),
        b"A brief note",
    )
    assert not bare.is_image


def test_str_round_trips_exactly_when_parsed() -> None:
    s = "data:image/gif;base64,R0lGODdh"
    d = DataURI.from_uri(s)
    assert str(d) == s and len(d) == len(s) and d.uri == s


def test_from_bytes_and_length() -> None:
    d = DataURI.from_bytes(b"abc", "image/png")
    assert str(d) == "data:image/png;base64,YWJj"
    assert len(d) == len("data:image/png;base64,YWJj")
    assert str(DataURI.from_bytes(b"a b/", "text/plain", base64=False)) == "data:text/plain,a%20b/"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("image.png", "not a data URI"),
        ("data:image/png;base64", "no ',' separates the media type from the data"),
        ("data:image/png;base64,@@@@", "bad base64 payload"),
        ("data:image/png;base64,YWJ", "bad base64 payload"),
        ("data:png;base64,AA==", "media type 'png' is not 'type/subtype'"),
        ("data:image/png;charset;base64,AA==", "parameter 'charset' is not 'name=value'"),
    ],
)
def test_malformed_data_uris_raise_value_errors(uri: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError, match=message) as info:
        DataURI.from_uri(uri)
    assert isinstance(info.value, ValueError)


def test_long_uri_is_shortened_in_messages() -> None:
    uri = "data:image/png;base64," + "A" * 10_000 + "@"
    with pytest.raises(InvalidReferenceError) as info:
        DataURI.from_uri(uri)
    assert len(str(info.value)) < 300
    assert "data:image/png;base64,...(10023 chars)" in str(info.value)


@pytest.mark.parametrize(
    ("head", "name", "mime"),
    [
        (PNG_HEAD, "x.bin", "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 12, "x", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "x", "image/webp"),
        (b"GIF89a" + b"\x00" * 10, "x", "image/gif"),
        (b"\x00\x00\x00\x20ftypisom" + b"\x00" * 4, "x", "video/mp4"),
        (b"\x1aE\xdf\xa3" + b"\x00" * 12, "x", "video/x-matroska"),
        (b"plain text here!", "notes.txt", "text/plain"),
        (b"\x00" * 16, "blob", "application/octet-stream"),
        (b"\x00" * 16, "photo.jpg", "image/jpeg"),
    ],
)
def test_from_file_sniffs_content_then_extension(
    tmp_path, head: bytes, name: str, mime: str
) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / name
    p.write_bytes(head)
    d = DataURI.from_file(p)
    assert (d.mimetype, d.data) == (mime, head)


@given(st.binary(), st.booleans())
def test_bytes_round_trip(data: bytes, b64: bool) -> None:
    d = DataURI.from_bytes(data, "application/octet-stream", base64=b64)
    back = DataURI.from_uri(str(d))
    assert back == d and back.data == data
    assert MediaRef(d).uri == str(d)  # type: ignore[arg-type]


@given(st.text())
def test_parser_is_total(s: str) -> None:
    with contextlib.suppress(InvalidReferenceError):
        DataURI.from_uri("data:" + s)
