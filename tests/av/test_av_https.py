"""HTTPS on loopback: direct, and through a forward proxy's CONNECT tunnel.

The server's certificate is signed by a test CA made per session with the openssl CLI
(tests/tls.py); the client trusts it the documented way, ``SSL_CERT_FILE``. Pixels are
compared with the local decode.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref import MediaRef, SourceUnreadableError, batch_decode
from tests.httpproxy import proxy
from tests.httpserver import LoopbackServer
from tests.media import ClipFactory
from tests.tls import Certificates

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY")


@pytest.fixture(autouse=True)
def trusted(monkeypatch: pytest.MonkeyPatch, certificates: Certificates) -> None:
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    mediaref.cleanup_cache()  # no kept-alive connection from another test
    mediaref_av.clear_caches()


def _serve(clip_factory: ClipFactory, kind: str, root: Path, server: LoopbackServer) -> str:
    clip = clip_factory(kind)
    name = f"tls-{kind}{clip.path.suffix}"
    shutil.copyfile(clip.path, root / name)
    return server.url(f"files/{name}")


@pytest.mark.parametrize("kind", ["h264_bframes_mp4", "hevc_mkv"])
def test_video_frames_over_https_match_the_local_decode(
    kind: str, clip_factory: ClipFactory, http_root: Path, https_server: LoopbackServer
) -> None:
    uri = _serve(clip_factory, kind, http_root, https_server)
    assert uri.startswith("https://127.0.0.1:")
    clip = clip_factory(kind)
    times = clip.probe_times()
    frames = batch_decode([MediaRef(uri, t) for t in times])
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


def test_https_through_a_connect_proxy_matches_the_local_decode(
    clip_factory: ClipFactory,
    http_root: Path,
    https_server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = _serve(clip_factory, "h264_open_gop_mp4", http_root, https_server)
    clip = clip_factory("h264_open_gop_mp4")
    times = clip.probe_times()[::3]
    with proxy() as (port, seen):
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:p%40ss@127.0.0.1:{port}")
        https_server.counters.reset()
        for t in times:
            got = MediaRef(uri, t).to_ndarray()
            np.testing.assert_array_equal(got, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")
    origin = f"CONNECT 127.0.0.1:{https_server.port}"
    assert seen and set(seen) == {(origin, "Basic dXNlcjpwQHNz")}  # user:p@ss, tunnels only
    assert https_server.counters.requests >= len(times)  # every read went through a tunnel
    assert len(seen) == https_server.counters.connections


def test_an_untrusted_certificate_is_refused_naming_the_uri(
    clip_factory: ClipFactory,
    http_root: Path,
    https_server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    uri = _serve(clip_factory, "h264_bframes_mp4", http_root, https_server)
    empty = tmp_path / "no-ca.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    with pytest.raises(
        SourceUnreadableError, match=r"^HTTPS handshake failed: .*CERTIFICATE_VERIFY_FAILED"
    ) as info:
        MediaRef(uri, 0).to_ndarray()
    assert info.value.uri == uri
