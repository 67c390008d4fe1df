from __future__ import annotations

import os
from pathlib import Path

import pytest

import mediaref
from mediaref import (
    InvalidReferenceError,
    MediaRef,
    SourceNotFoundError,
    SourceUnreadableError,
    open_source,
)


def test_path_and_percent_encoded_file_uri_read_the_same_bytes(tmp_path: Path) -> None:
    f = tmp_path / "a b%c.bin"
    f.write_bytes(b"xyz")
    uri = f.as_uri()
    assert "%20" in uri and "%25" in uri
    assert open_source(uri).read_all() == b"xyz"
    assert open_source(str(f)).read_all() == b"xyz"
    src = open_source(uri)
    assert src.local_path == str(f)
    st = f.stat()
    assert src.identity == (str(f), st.st_size, st.st_mtime_ns)


def test_file_uri_escapes_of_non_utf8_bytes_name_those_bytes(tmp_path: Path) -> None:
    # POSIX file names are bytes; RFC 8089 escapes them byte by byte.
    name = os.fsencode(tmp_path) + b"/caf\xe9-\x80.bin"
    with open(name, "wb") as f:
        f.write(b"latin-1 name")
    uri = "file://" + os.fsdecode(os.fsencode(tmp_path)) + "/caf%E9-%80.bin"
    assert open_source(uri).read_all() == b"latin-1 name"
    with pytest.raises(SourceNotFoundError, match="no such file"):
        open_source(uri.replace("%80", "%81")).read_all()


def test_missing_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.png")
    with pytest.raises(SourceNotFoundError, match="no such file") as info:
        MediaRef(missing).to_ndarray()
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.uri == missing


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: "/dev/zero", "it is not a regular file"),
        (lambda p: (os.mkfifo(p / "fifo"), str(p / "fifo"))[1], "it is not a regular file"),
        (lambda p: str(p), "it is a directory"),
    ],
    ids=["dev-zero", "fifo", "directory"],
)
def test_special_files_are_refused_without_reading(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    with pytest.raises(SourceUnreadableError, match=message):
        open_source(path).read_all()
    with pytest.raises(SourceUnreadableError, match=message):
        open_source(Path(path).as_uri()).read_all()


def test_data_uri_size_limit() -> None:
    old = mediaref.limits.max_data_uri_chars
    mediaref.limits.max_data_uri_chars = 1000
    try:
        with pytest.raises(SourceUnreadableError, match=r"over the limit of 1000"):
            open_source("data:application/octet-stream;base64," + "A" * 2000)
    finally:
        mediaref.limits.max_data_uri_chars = old


def test_malformed_data_uri_is_an_invalid_reference() -> None:
    with pytest.raises(InvalidReferenceError, match="bad base64 payload"):
        open_source("data:image/png;base64,%%%")


def test_a_file_that_grows_while_read_stops_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mediaref.limits, "max_read_bytes", 1000)
    f = tmp_path / "growing.png"
    f.write_bytes(b"x" * 900)
    source = open_source(str(f))  # 900 bytes when checked
    with f.open("ab") as out:
        out.write(b"x" * 5000)
    with pytest.raises(SourceUnreadableError) as info:
        source.read_all()
    assert "larger (it grew while read), over the limit of 1000 bytes" in str(info.value)
    assert "mediaref.limits.max_read_bytes" in str(info.value)


def test_a_file_over_the_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mediaref.limits, "max_read_bytes", 1000)
    f = tmp_path / "big.png"
    f.write_bytes(b"x" * 1001)
    with pytest.raises(SourceUnreadableError, match=r"file is 1001 bytes, over the limit of 1000"):
        open_source(str(f)).read_all()
