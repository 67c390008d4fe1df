from __future__ import annotations

import base64
import contextlib
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import DataURI, InvalidReferenceError, MediaRef

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


def test_from_uri_base64() -> None:
    payload = base64.b64encode(PNG_HEAD)
    d = DataURI.from_uri("data:image/png;base64," + payload.decode())
    assert (d.mimetype, d.decoded_data, d.is_image, d.is_base64) == (
        "image/png",
        PNG_HEAD,
        True,
        True,
    )
    assert d.data == payload  # the payload as written, as mediaref 0.4.4 stores it


def test_from_uri_percent_encoded_with_params_and_defaults() -> None:
    d = DataURI.from_uri("data:text/plain;charset=utf-8,caf%C3%A9%20au%20lait")
    assert d.decoded_data == "café au lait".encode()
    assert d.data == b"caf%C3%A9%20au%20lait"
    assert d.params == (("charset", "utf-8"),)
    bare = DataURI.from_uri("data:,A%20brief%20note")
    assert (bare.mimetype, bare.params, bare.decoded_data) == (
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
    text = DataURI.from_bytes(b"a b/", "text/plain", is_base64=False)
    assert str(text) == "data:text/plain,a%20b%2F"
    assert DataURI("text/plain", text.data, is_base64=False) == text


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
    assert (d.mimetype, d.decoded_data) == (mime, head)


@given(st.binary(), st.booleans())
def test_bytes_round_trip(data: bytes, b64: bool) -> None:
    d = DataURI.from_bytes(data, "application/octet-stream", is_base64=b64)
    back = DataURI.from_uri(str(d))
    assert back == d and back.decoded_data == data and back.data == d.data
    assert DataURI(d.mimetype, d.data, is_base64=b64) == d
    assert MediaRef(d).uri == str(d)  # type: ignore[arg-type]


@given(st.text())
def test_parser_is_total(s: str) -> None:
    with contextlib.suppress(InvalidReferenceError):
        DataURI.from_uri("data:" + s)


def test_fields_build_the_uri_as_mediaref_044_does() -> None:
    d = DataURI(mimetype="text/plain", is_base64=False, data=b"Hello%20World%21")
    assert (d.uri, d.decoded_data, len(d)) == (
        "data:text/plain,Hello%20World%21",
        b"Hello World!",
        len("data:text/plain,Hello%20World%21"),
    )
    b64 = DataURI(mimetype="image/png", data=base64.b64encode(PNG_HEAD))
    assert b64.uri == "data:image/png;base64," + base64.b64encode(PNG_HEAD).decode()
    assert b64.decoded_data == PNG_HEAD


@pytest.mark.parametrize(
    ("data", "first"),
    [(b"Hello World", b" "), (b"Hello\nWorld", b"\n"), (b"a&b", b"&"), (b"50%", b"%")],
    ids=["space", "newline", "ampersand", "lone-percent"],
)
def test_unquoted_text_data_is_refused_with_the_044_error(data: bytes, first: bytes) -> None:
    # Pydantic is installed here, so the error is the ValidationError 0.4.4 raised.
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unquoted characters") as info:
        DataURI(mimetype="text/plain", is_base64=False, data=data)
    assert isinstance(info.value, ValueError)
    assert f"(first: {first!r})" in str(info.value)
    assert isinstance(info.value.__cause__, InvalidReferenceError)


def test_bad_base64_field_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="data is not valid base64"):
        DataURI(mimetype="image/png", data=b"@@@@")


def test_without_pydantic_the_error_is_ours() -> None:
    code = (
        "import sys; sys.modules['pydantic_core'] = None\n"
        "from mediaref import DataURI, InvalidReferenceError\n"
        "try:\n    DataURI('text/plain', b'a b', is_base64=False)\n"
        "except InvalidReferenceError as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith(
        "InvalidReferenceError Non-base64 data URI contains unquoted characters (first: b' ')"
    )


def test_to_ndarray_and_to_pil_image_decode_the_embedded_image() -> None:
    np = pytest.importorskip("numpy")
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    d = DataURI.from_image(image, format="png")
    np.testing.assert_array_equal(d.to_ndarray(), image)
    np.testing.assert_array_equal(d.to_ndarray("bgr"), image[:, :, ::-1])
    pil = d.to_pil_image()
    assert (pil.mode, pil.size) == ("RGB", (6, 4))
    np.testing.assert_array_equal(np.asarray(pil), image)


def test_a_non_image_cannot_become_an_array() -> None:
    with pytest.raises(ValueError, match="Cannot convert non-image MIME type 'text/plain'"):
        DataURI.from_bytes(b"hi", "text/plain").to_ndarray()


def test_from_file_takes_the_044_format_argument(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "blob.bin"
    p.write_bytes(PNG_HEAD)
    assert DataURI.from_file(p, "png").mimetype == "image/png"
    assert DataURI.from_file(p, mimetype="image/x-test").mimetype == "image/x-test"
