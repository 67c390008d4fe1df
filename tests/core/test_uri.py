from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import InvalidReferenceError, normalize_uri, parse_uri, uris_equivalent


@pytest.mark.parametrize(
    ("uri", "kind", "scheme", "path"),
    [
        ("a/b.png", "path", "", "a/b.png"),
        ("/abs/b.png", "path", "", "/abs/b.png"),
        ("C:/frames/0001.png", "path", "", "C:/frames/0001.png"),
        ("c:\\frames\\0001.png", "path", "", "c:\\frames\\0001.png"),
        ("C:", "path", "", "C:"),
        ("name:with:colons.png", "other", "name", ""),
        ("file:///tmp/a%20b%25.png", "file", "file", "/tmp/a b%.png"),
        ("file://localhost/tmp/x.mp4", "file", "file", "/tmp/x.mp4"),
        ("file:/tmp/x.mp4", "file", "file", "/tmp/x.mp4"),
        ("FILE:///C:/x/y.png", "file", "file", "C:/x/y.png"),
        ("http://h/x", "http", "http", ""),
        ("HTTPS://h/x", "http", "https", ""),
        ("data:,hello", "data", "data", ""),
        ("DATA:image/png;base64,AA==", "data", "data", ""),
        ("s3://bucket/key", "other", "s3", ""),
        ("gs+v2://b/k", "other", "gs+v2", ""),
        ("./rel", "path", "", "./rel"),
        ("1abc:foo", "path", "", "1abc:foo"),
    ],
)
def test_parse_uri_classifies(uri: str, kind: str, scheme: str, path: str) -> None:
    p = parse_uri(uri)
    assert (p.kind, p.scheme, p.path) == (kind, scheme, path)


def test_relative_and_local() -> None:
    assert parse_uri("a/b").is_relative_path
    assert not parse_uri("/a/b").is_relative_path
    assert not parse_uri("D:\\a").is_relative_path
    assert parse_uri("file:///a").is_local and not parse_uri("file:///a").is_relative_path
    assert not parse_uri("http://h/a").is_local


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "uri is empty: it names nothing to read"),
        ("file://remotehost/share/x.png", "file URI names a remote host 'remotehost'"),
        ("file://", "file URI has no path"),
    ],
)
def test_parse_uri_rejects(uri: str, message: str) -> None:
    with pytest.raises(InvalidReferenceError, match=message):
        parse_uri(uri)


@given(st.text())
def test_parse_uri_is_total(s: str) -> None:
    with contextlib.suppress(InvalidReferenceError):
        p = parse_uri(s)
        assert p.kind in {"path", "file", "http", "data", "other"}
        assert p.scheme == p.scheme.lower()


@given(st.from_regex(r"[a-zA-Z][a-zA-Z0-9+.\-]{1,8}:[!-~]{0,20}", fullmatch=True))
def test_any_rfc3986_scheme_is_recognised(s: str) -> None:
    p = parse_uri(s)
    assert p.scheme == s.split(":", 1)[0].lower()
    assert p.kind != "path"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("http://h/%7euser/%41", "http://h/~user/A"),
        ("http://h/a%2fb", "http://h/a%2Fb"),
        ("http://h/a/./b/../c", "http://h/a/c"),
        ("videos/./a/../b.mp4", "videos/b.mp4"),
        ("s3://Bucket/K", "S3://Bucket/K"),
        ("file:///d/a%41.png", "file:///d/aA.png"),
        ("http://h/d/a%41.png", "http://h/d/aA.png"),
    ],
)
def test_equivalent_under_rfc3986_normalisation(a: str, b: str) -> None:
    assert uris_equivalent(a, b)
    assert normalize_uri(a) == normalize_uri(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://h/a", "http://h/A"),
        ("http://h:8080/a", "http://h/a"),
        ("http://h/a%2Fb", "http://h/a/b"),
        ("s3://b/K", "s3://b/k"),
        ("a.png", "/a.png"),
        ("d/a%41.png", "d/aA.png"),  # a path is not a URI: two files (issue 16)
        ("/d/a%2f.png", "/d/a%2F.png"),
        ("C:/d/a%20b.png", "C:/d/a b.png"),
    ],
)
def test_not_equivalent(a: str, b: str) -> None:
    assert not uris_equivalent(a, b)


@given(st.text(alphabet=st.characters(exclude_characters="/\\.:"), min_size=1))
def test_a_path_without_separators_or_dots_is_its_own_normal_form(s: str) -> None:
    # Percent signs, case and every other character of a file name are kept as they are.
    assert parse_uri(s).kind == "path"
    assert normalize_uri(s) == s


@given(st.text(min_size=1))
def test_normalize_is_idempotent(s: str) -> None:
    with contextlib.suppress(InvalidReferenceError):
        once = normalize_uri(s)
        assert normalize_uri(once) == once


def test_an_empty_authority_before_a_double_slash_path_is_kept() -> None:
    # Found by tests/fuzz: file:////x (empty host, path //x) was normalised to file://x,
    # which names the host x and does not even parse as a local file.
    assert normalize_uri("file:////x") == "file:////x"
    assert normalize_uri("http:////x?q#f") == "http:////x?q#f"
    assert not uris_equivalent("http:////x", "http://x")
    assert parse_uri(normalize_uri("file:////x")).path == "//x"
