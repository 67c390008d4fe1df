from __future__ import annotations

from collections.abc import Iterator

import pytest

import mediaref
from mediaref import InvalidReferenceError, MediaRef, MediaRefError, SourceUnreadableError
from tests.httpserver import LoopbackServer
from tests.reliability import hostile_http

DOCUMENTED = tuple(getattr(mediaref, n) for n in mediaref.__all__ if n.endswith("Error"))


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    with hostile_http.serve() as base:
        yield base


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mediaref.limits, "http_timeout_s", 3.0)


@pytest.mark.parametrize("route", sorted(hostile_http.RESPONSES))
@pytest.mark.parametrize("pts_ns", [None, 0], ids=["image", "video"])
def test_a_server_breaking_the_protocol_gives_a_documented_error(
    hostile: str, route: str, pts_ns: int | None
) -> None:
    uri = f"{hostile}/{route}/x"
    with pytest.raises(MediaRefError) as info:
        MediaRef(uri, pts_ns).to_ndarray()
    assert type(info.value) in DOCUMENTED, repr(info.value)
    assert info.value.uri == uri and uri in str(info.value)


def test_a_malformed_chunk_size_is_an_unreadable_source(hostile: str) -> None:
    with pytest.raises(SourceUnreadableError, match="HTTP body incomplete"):
        mediaref.open_source(f"{hostile}/bad-chunk-size/x").read_all()


def test_a_redirect_to_a_malformed_url_is_an_unreadable_source(hostile: str) -> None:
    with pytest.raises(SourceUnreadableError, match="redirect to a malformed URL"):
        mediaref.open_source(f"{hostile}/redirect-bad-port/x").read_all()


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:99999/x.png",
        "http://127.0.0.1:port/x.png",
        "http://[::1/x.png",
        "https://[zz]/x.png",
        "http:///x.png",
        "http://a b/x.png",
        "http://host/a\x00b.png",
        "http://host/\ud800.png",
    ],
    ids=[
        "port-range",
        "port-text",
        "ipv6-open",
        "ipv6-bad",
        "no-host",
        "space",
        "nul",
        "surrogate",
    ],
)
@pytest.mark.parametrize("pts_ns", [None, 0], ids=["image", "video"])
def test_a_malformed_http_url_is_an_invalid_reference(uri: str, pts_ns: int | None) -> None:
    with pytest.raises(InvalidReferenceError, match="malformed HTTP URL") as info:
        MediaRef(uri, pts_ns).to_ndarray()
    assert info.value.uri == uri


@pytest.mark.parametrize("path", ["a\x00b.png", "\ud800.png"], ids=["nul", "surrogate"])
def test_a_path_no_filesystem_can_hold_is_an_invalid_reference(path: str) -> None:
    with pytest.raises(InvalidReferenceError, match="not a usable path") as info:
        MediaRef(path).to_ndarray()
    assert info.value.uri == path


def test_non_ascii_characters_are_sent_percent_encoded(http_server: LoopbackServer) -> None:
    with pytest.raises(mediaref.SourceNotFoundError):
        MediaRef(http_server.url("files/vidéo ünï.png".replace(" ", "_"))).to_ndarray()
    assert ("/files/vid%C3%A9o_%C3%BCn%C3%AF.png", None) in http_server.log


def test_a_server_answering_another_range_is_an_unreadable_source(hostile: str) -> None:
    # It claims 999999 bytes and sends byte 0 whatever is asked: read on, and every byte
    # would be byte 0, fetched one request at a time.
    f = mediaref.open_source(f"{hostile}/lying-content-range/x").open()
    f.seek(5000)
    with pytest.raises(SourceUnreadableError, match=r"answered Range bytes=5000-"):
        f.read(10)
