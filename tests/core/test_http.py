from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mediaref
from mediaref import (
    MediaRef,
    SourceNotFoundError,
    SourceUnreadableError,
    open_source,
)
from tests.httpserver import LoopbackServer

PAYLOAD = bytes(range(256)) * 4096 * 3  # 3 MiB, every offset distinguishable


@pytest.fixture(scope="module")
def blob(http_root: Path) -> str:
    (http_root / "blob.bin").write_bytes(PAYLOAD)
    return "blob.bin"


@pytest.fixture
def short_timeout() -> Iterator[None]:
    old = mediaref.limits.http_timeout_s
    mediaref.limits.http_timeout_s = 0.5
    yield
    mediaref.limits.http_timeout_s = old


def test_read_all_downloads_the_body(http_server: LoopbackServer, blob: str) -> None:
    assert open_source(http_server.url(f"files/{blob}")).read_all() == PAYLOAD


def test_open_reads_through_range_requests(http_server: LoopbackServer, blob: str) -> None:
    http_server.log.clear()
    with open_source(http_server.url(f"files/{blob}")).open() as f:
        f.seek(2_500_000)
        assert f.read(10) == PAYLOAD[2_500_000:2_500_010]
        f.seek(-5, os.SEEK_END)
        assert f.read() == PAYLOAD[-5:]
        f.seek(100)
        assert f.read(3) == PAYLOAD[100:103]
    ranges = [r for _, r in http_server.log]
    assert ranges[0] == "bytes=0-0"
    assert all(r is not None and r.startswith("bytes=") for r in ranges)
    assert len(ranges) <= 5  # one probe and one block per distant read


def test_identity_uses_size_and_etag(http_server: LoopbackServer, blob: str) -> None:
    ident = open_source(http_server.url(f"files/{blob}")).identity
    assert ident[0] == http_server.url(f"files/{blob}")
    assert ident[1] == len(PAYLOAD)
    assert str(ident[2]).startswith(f'"{len(PAYLOAD)}-')


def test_server_ignoring_range_falls_back_to_memory(http_server: LoopbackServer, blob: str) -> None:
    with open_source(http_server.url(f"norange/{blob}")).open() as f:
        f.seek(1234)
        assert f.read(4) == PAYLOAD[1234:1238]


def test_redirects_are_followed(http_server: LoopbackServer, blob: str) -> None:
    assert open_source(http_server.url(f"redirect/3/{blob}")).read_all() == PAYLOAD


def test_redirect_loop_is_cut(http_server: LoopbackServer) -> None:
    with pytest.raises(SourceUnreadableError, match=r"more than 5 redirects"):
        open_source(http_server.url("loop")).read_all()


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        ("status/404", SourceNotFoundError, "HTTP 404 Not Found"),
        ("files/missing.png", SourceNotFoundError, "HTTP 404"),
        ("status/500", SourceUnreadableError, "HTTP 500 Internal Server Error"),
        ("status/403", SourceUnreadableError, "HTTP 403 Forbidden"),
    ],
)
def test_http_errors(
    http_server: LoopbackServer, route: str, error: type[Exception], message: str
) -> None:
    url = http_server.url(route)
    with pytest.raises(error, match=message) as info:
        open_source(url).read_all()
    assert url in str(info.value)


def test_stalled_server_times_out(http_server: LoopbackServer, short_timeout: None) -> None:
    t0 = time.monotonic()
    with pytest.raises(SourceUnreadableError, match=r"did not answer within 0.5 s"):
        open_source(http_server.url("stall")).read_all()
    assert time.monotonic() - t0 < 10


def test_body_over_the_limit_is_refused(http_server: LoopbackServer) -> None:
    old = mediaref.limits.max_read_bytes
    mediaref.limits.max_read_bytes = 1 << 20
    try:
        with pytest.raises(SourceUnreadableError, match=r"over the limit of 1048576 bytes"):
            open_source(http_server.url("huge")).read_all()
    finally:
        mediaref.limits.max_read_bytes = old


def test_validate_uri_refuses_urls_as_044_did_and_open_source_checks_them(
    http_server: LoopbackServer, blob: str
) -> None:
    with pytest.raises(NotImplementedError, match="does not check remote URLs"):
        MediaRef(http_server.url(f"files/{blob}")).validate_uri()
    assert mediaref.open_source(http_server.url(f"files/{blob}")).identity
    with pytest.raises(mediaref.SourceNotFoundError):
        _ = mediaref.open_source(http_server.url("status/404")).identity
