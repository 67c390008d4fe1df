"""Kept-alive connections shared by the sources of a host, and HTTP(S)_PROXY/NO_PROXY."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

import mediaref
from mediaref import open_source
from tests.httpproxy import proxy
from tests.httpserver import LoopbackServer

PAYLOAD = bytes(range(256)) * 64


@pytest.fixture
def blobs(http_root: Path) -> list[str]:
    names = [f"conn-{i}.bin" for i in range(3)]
    for i, name in enumerate(names):
        (http_root / name).write_bytes(PAYLOAD[i:])
    return names


@pytest.fixture(autouse=True)
def no_kept_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    mediaref.cleanup_cache()


def test_sources_of_one_host_share_a_kept_alive_connection(
    http_server: LoopbackServer, blobs: list[str]
) -> None:
    http_server.counters.reset()
    for i, name in enumerate(blobs):
        source = open_source(http_server.url(f"files/{name}"))
        assert source.identity[1] == len(PAYLOAD) - i  # a one-byte Range probe
        assert source.read_all() == PAYLOAD[i:]
    assert http_server.counters.requests == 6
    assert http_server.counters.connections == 1
    mediaref.cleanup_cache()  # closes it
    assert open_source(http_server.url(f"files/{blobs[0]}")).read_all() == PAYLOAD
    assert http_server.counters.connections == 2


def _read_in_child(url: str) -> bytes:
    return open_source(url).read_all()


def test_a_forked_child_opens_its_own_connection(
    http_server: LoopbackServer, blobs: list[str]
) -> None:
    url = http_server.url(f"files/{blobs[0]}")
    assert open_source(url).read_all() == PAYLOAD  # leaves one kept-alive connection
    http_server.counters.reset()
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply_async(_read_in_child, (url,)).get(timeout=60) == PAYLOAD
    assert http_server.counters.connections == 1  # the child's own
    assert open_source(url).read_all() == PAYLOAD  # the parent's is still good
    assert http_server.counters.connections == 1


def test_http_proxy_carries_the_requests_with_its_credentials(
    http_server: LoopbackServer, blobs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = http_server.url(f"files/{blobs[1]}")
    with proxy() as (port, seen):
        monkeypatch.setenv("HTTP_PROXY", f"http://user:p%40ss@127.0.0.1:{port}")
        assert open_source(url).read_all() == PAYLOAD[1:]
        assert seen == [(url, "Basic dXNlcjpwQHNz")]  # absolute-form; user:p@ss
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert open_source(url).read_all() == PAYLOAD[1:]
        assert len(seen) == 1  # bypassed


def test_frames_of_an_image_through_a_proxy_are_exact(
    http_server: LoopbackServer, http_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    np = pytest.importorskip("numpy")
    pil = pytest.importorskip("PIL.Image")
    pixels = np.arange(12 * 8 * 3, dtype=np.uint8).reshape(12, 8, 3)
    pil.fromarray(pixels).save(http_root / "proxied.png")
    with proxy() as (port, seen):
        monkeypatch.setenv("http_proxy", f"127.0.0.1:{port}")  # no scheme: http:// assumed
        got = mediaref.MediaRef(http_server.url("files/proxied.png")).to_ndarray()
    np.testing.assert_array_equal(got, pixels)
    assert len(seen) == 1
