"""What remote reads cost: bytes and requests counted by the loopback HTTP server.

A ~10 MB 640x360 H.264 MP4 (GOP 2 s) is served twice: with its ``moov`` first
(faststart) and at the end. The index comes from the sample tables, so a frame costs the
header and its own group of pictures, not the file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from mediaref import MediaRef, batch_decode
from tests.av.conftest import GOP
from tests.httpserver import LoopbackServer
from tests.media import ClipFactory

KIB = 1024


@pytest.fixture
def fresh() -> Iterator[None]:
    mediaref_av.clear_caches()
    yield
    mediaref_av.clear_caches()


def _gops(path: Path) -> tuple[mediaref_av.AVVideoDecoder, list[int]]:
    video = mediaref_av.open(str(path))
    return video, [int(k) for k in video.index.key_dpos]


def _span(video: mediaref_av.AVVideoDecoder, first: int, stop: int) -> int:
    """Bytes from packet `first` to the end of packet `stop - 1` (decode order)."""
    idx = video.index
    assert idx.pos is not None and idx.size is not None
    return int(idx.pos[stop - 1] + idx.size[stop - 1] - idx.pos[first])


def _open_cost(server: LoopbackServer, url: str) -> tuple[int, int]:
    server.counters.reset()
    with mediaref_av.open(url):
        pass
    return server.counters.bytes, server.counters.requests


@pytest.mark.usefixtures("fresh")
def test_the_big_file_is_about_ten_megabytes(big_mp4s: dict[str, Path]) -> None:
    assert 8_000_000 < big_mp4s["faststart"].stat().st_size < 14_000_000


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("kind", ["faststart", "tail"])
def test_opening_reads_the_header_and_the_first_packets_only(
    kind: str, big_mp4s: dict[str, Path], http_server: LoopbackServer
) -> None:
    path = big_mp4s[kind]
    local, keys = _gops(path)
    with local:
        idx = local.index
        assert idx.pos is not None and idx.size is not None
        # FFmpeg's stream probing reads the first keyframe; the moov is the rest.
        first_gop = _span(local, 0, keys[1])
        n = idx.num_packets
    spent, _ = _open_cost(http_server, http_server.url(f"files/{path.name}"))
    moov = path.stat().st_size - _span(local, 0, n) if kind == "tail" else int(idx.pos[0])
    assert spent <= moov + int(idx.size[0] + idx.size[1]) + 64 * KIB + 64 * KIB
    assert spent < first_gop


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("at", ["first", "middle", "last"])
def test_one_frame_costs_the_header_and_at_most_its_group_of_pictures(
    at: str, big_mp4s: dict[str, Path], http_server: LoopbackServer
) -> None:
    path = big_mp4s["faststart"]
    url = http_server.url(f"files/{path.name}")
    local, keys = _gops(path)
    g = len(keys) // 2
    with local:
        idx = local.index
        dpos = {"first": keys[g], "middle": keys[g] + GOP // 2, "last": keys[g + 1] - 1}[at]
        t = int(idx.frame_ns[idx.dpos_frame[dpos]])
        expected = local.frames_played_at([t])[0]
        gop = _span(local, keys[g], keys[g + 1])
    header, _ = _open_cost(http_server, url)
    mediaref_av.clear_caches()
    http_server.counters.reset()
    np.testing.assert_array_equal(MediaRef(url, t).to_ndarray(), expected)
    assert http_server.counters.bytes <= header + gop + 64 * KIB


@pytest.mark.usefixtures("fresh")
def test_32_consecutive_frames_cost_at_most_a_tenth_more_than_their_groups(
    big_mp4s: dict[str, Path], http_server: LoopbackServer
) -> None:
    path = big_mp4s["faststart"]
    url = http_server.url(f"files/{path.name}")
    local, keys = _gops(path)
    with local:
        idx = local.index
        first = int(idx.frame_ns.searchsorted(10 * 10**9))  # 10 s in: GOPs 5 and 6
        times = [int(t) for t in idx.frame_ns[first : first + 32]]
        expected = local.frames_played_at(times)
        dposes = [int(idx.frame_dpos[f]) for f in range(first, first + 32)]
        g0 = max(k for k in keys if k <= min(dposes))
        g1 = min((k for k in keys if k > max(dposes)), default=idx.num_packets)
        spanned = _span(local, g0, g1)
    header, _ = _open_cost(http_server, url)
    mediaref_av.clear_caches()
    http_server.counters.reset()
    frames = batch_decode([MediaRef(url, t) for t in times])
    for want, got in zip(expected, frames, strict=True):
        np.testing.assert_array_equal(got, want)
    assert http_server.counters.bytes - header <= 1.1 * spanned


@pytest.mark.usefixtures("fresh")
def test_a_moov_at_the_end_costs_one_extra_ranged_read(
    big_mp4s: dict[str, Path], http_server: LoopbackServer
) -> None:
    costs = {}
    for kind, path in big_mp4s.items():
        mediaref_av.clear_caches()
        costs[kind] = _open_cost(http_server, http_server.url(f"files/{path.name}"))
    assert costs["tail"][1] == costs["faststart"][1] + 1
    assert costs["tail"][0] < 2 * costs["faststart"][0]


@pytest.mark.usefixtures("fresh")
@pytest.mark.parametrize("kind", ["hevc_mkv", "h264_mpegts"])
def test_a_container_without_tables_is_read_once_for_index_and_frames(
    kind: str, clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    clip = clip_factory(kind)
    name = f"once-{clip.path.name}"
    shutil.copyfile(clip.path, http_root / name)
    url = http_server.url(f"files/{name}")
    times = clip.probe_times()
    http_server.counters.reset()
    frames = batch_decode([MediaRef(url, t) for t in times], workers=2)
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t))
    identity_probes = http_server.counters.requests  # upper bound on the 1-byte probes
    assert http_server.counters.bytes <= clip.path.stat().st_size + identity_probes
