"""Remote Matroska/WebM indexed from its cues: exact frames, and only the GOPs asked for.

The files are what the ffmpeg CLI writes by default (cues at the end, a SeekHead entry
for them at the start): 640x360 ``testsrc2``, 10 s at 30 fps, a keyframe every 2 s, as
H.264 and HEVC (B-frames; x265's open GOPs) in MKV and VP9 in WebM. Served by the
loopback HTTP server, which counts bytes; every frame is compared with the decode of
the local file (full scan), which the lazy index must match exactly.
"""

from __future__ import annotations

import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from mediaref import MediaRef, TimestampOutOfRangeError, batch_decode
from mediaref._cli import main
from tests.httpserver import LoopbackServer
from tests.media import need_encoder, need_ffmpeg

KIB = 1024
ENCODERS = {
    "h264.mkv": ["libx264", "-preset", "veryfast"],
    "hevc.mkv": ["libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
    "vp9.webm": ["libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
}
CODEC = {"h264.mkv": "libx264", "hevc.mkv": "libx265", "vp9.webm": "libvpx-vp9"}
ORIGIN = "matroska cues (5 keyframes): each GOP demuxed when a request first needs it"


@pytest.fixture(scope="module")
def cued(http_root: Path) -> dict[str, Path]:
    """The three files, written by the ffmpeg CLI into the served directory."""
    exe = need_ffmpeg()
    out = {}
    for name, enc in ENCODERS.items():
        need_encoder(CODEC[name])
        path = http_root / f"cues-{name}"
        source = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=10"]
        codec = ["-c:v", *enc, "-g", "60", "-pix_fmt", "yuv420p"]
        subprocess.run([exe, "-loglevel", "error", "-y", *source, *codec, str(path)], check=True)
        out[name] = path
    return out


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    mediaref_av.clear_caches()
    yield
    mediaref_av.clear_caches()


class Local:
    """The local file's full-scan index and frames: what the remote decode must equal."""

    def __init__(self, path: Path) -> None:
        with mediaref_av.open(str(path)) as video:
            idx = video.index
            self.begin_ns, self.end_ns = idx.begin_ns, idx.end_ns
            self.starts = [int(t) for t in idx.frame_ns]
            self.keys = [int(k) for k in idx.key_dpos]
            self.pos = [int(p) for p in idx.pos] if idx.pos is not None else []
            self.frame_dpos = [int(d) for d in idx.frame_dpos]
            self.frame_pts = [int(p) for p in idx.frame_pts]
            self._video = mediaref_av.open(str(path))
        self.size = path.stat().st_size

    def frames(self, times: list[int]) -> list[np.ndarray]:
        return self._video.frames_played_at(times)

    def gop_of_frame(self, f: int) -> int:
        return max(g for g, k in enumerate(self.keys) if k <= self.frame_dpos[f])

    def gop_bytes(self, g0: int, g1: int) -> int:
        """Bytes from GOP g0's first packet to GOP g1's end (the next keyframe or the file's)."""
        end = self.pos[self.keys[g1 + 1]] if g1 + 1 < len(self.keys) else self.size
        return end - self.pos[self.keys[g0]]


def _url(server: LoopbackServer, path: Path) -> str:
    return server.url(f"files/{path.name}")


def _probe_times(local: Local) -> list[int]:
    """First frame, each GOP's first frame and the one before it, last frame, between frames."""
    s = local.starts
    times = {local.begin_ns, s[-1], local.end_ns - 1}
    for k in local.keys:
        f = local.frame_dpos.index(k)
        times |= {s[f], s[f] - 1, s[f] + 1, s[max(f - 1, 0)]}
    times |= {s[i] + (s[i + 1] - s[i]) // 2 for i in range(0, len(s) - 1, 7)}
    return sorted(t for t in times if local.begin_ns <= t < local.end_ns)


@pytest.mark.parametrize("name", list(ENCODERS))
def test_frames_match_the_local_decode_in_one_call_and_one_at_a_time(
    name: str, cued: dict[str, Path], http_server: LoopbackServer
) -> None:
    local = Local(cued[name])
    times = _probe_times(local)
    expected = local.frames(times)
    with mediaref_av.open(_url(http_server, cued[name])) as video:
        assert video.index_origin == ORIGIN
        got = video.frames_played_at(times)
        assert video.index_origin == ORIGIN  # still lazy: nothing asked for every packet
    for t, want, frame in zip(times, expected, got, strict=True):
        np.testing.assert_array_equal(frame, want, err_msg=f"pts_ns={t}")
    mediaref_av.clear_caches()
    order = list(range(len(times)))
    random.Random(14).shuffle(order)
    url = _url(http_server, cued[name])
    for i in order[:24]:
        one = MediaRef(url, times[i]).to_ndarray()
        np.testing.assert_array_equal(one, expected[i], err_msg=f"pts_ns={times[i]}")


@pytest.mark.parametrize("name", ["h264.mkv", "hevc.mkv"])
def test_frames_go_into_the_callers_array_from_the_cues_too(
    name: str, cued: dict[str, Path], http_server: LoopbackServer
) -> None:
    local = Local(cued[name])
    times = _probe_times(local)
    times = [*times[::-1], times[0], times[3]]  # any order, two repeats, several GOPs
    expected = local.frames(times)
    out = np.full((len(times), *expected[0].shape), 7, np.uint8)
    url = _url(http_server, cued[name])
    got = batch_decode([MediaRef(url, t) for t in times], out=out)
    with mediaref_av.open(url) as video:
        assert video.index_origin == ORIGIN  # served from the cues, not a full scan
    for i, (t, want) in enumerate(zip(times, expected, strict=True)):
        np.testing.assert_array_equal(out[i], want, err_msg=f"pts_ns={t}")
        assert np.shares_memory(got[i], out[i])


@pytest.mark.parametrize("name", list(ENCODERS))
def test_out_of_range_raises_what_the_local_file_raises(
    name: str, cued: dict[str, Path], http_server: LoopbackServer
) -> None:
    local = Local(cued[name])
    url = _url(http_server, cued[name])
    for t in (local.begin_ns - 1, local.end_ns, local.end_ns + 10**9, -(2**63)):
        with pytest.raises(TimestampOutOfRangeError) as remote:
            MediaRef(url, t).to_ndarray()
        with pytest.raises(TimestampOutOfRangeError) as here:
            MediaRef(str(cued[name]), t).to_ndarray()
        assert (remote.value.begin_ns, remote.value.end_ns) == (local.begin_ns, local.end_ns)
        assert (remote.value.begin_ns, remote.value.end_ns) == (
            here.value.begin_ns,
            here.value.end_ns,
        )
        mediaref_av.clear_caches()
    # In a batch, the bad timestamps become errors and the others still decode.
    times = [local.begin_ns - 1, local.starts[70], local.end_ns]
    out = batch_decode([MediaRef(url, t) for t in times], on_error="return")
    assert isinstance(out[0], TimestampOutOfRangeError)
    assert isinstance(out[2], TimestampOutOfRangeError)
    np.testing.assert_array_equal(out[1], local.frames([local.starts[70]])[0])


def _open_cost(server: LoopbackServer, url: str) -> int:
    mediaref_av.clear_caches()
    server.counters.reset()
    with mediaref_av.open(url):
        pass
    mediaref_av.clear_caches()
    return server.counters.bytes


@pytest.mark.parametrize("name", list(ENCODERS))
@pytest.mark.parametrize("at", ["key", "middle", "last_shown"])
def test_one_frame_costs_the_header_and_its_group_of_pictures(
    name: str, at: str, cued: dict[str, Path], http_server: LoopbackServer
) -> None:
    local = Local(cued[name])
    url = _url(http_server, cued[name])
    g = 2
    first = local.frame_dpos.index(local.keys[g])
    gop_frames = [f for f in range(len(local.starts)) if local.gop_of_frame(f) == g]
    last_shown = max(gop_frames, key=lambda f: local.frame_pts[f])
    f = {"key": first, "middle": first + 30, "last_shown": last_shown}[at]
    t = local.starts[f] + 1
    header = _open_cost(http_server, url)
    http_server.counters.reset()
    np.testing.assert_array_equal(MediaRef(url, t).to_ndarray(), local.frames([t])[0])
    spent = http_server.counters.bytes
    gop = local.gop_bytes(g, g)
    assert spent <= header + gop + 64 * KIB, (spent, header, gop)
    assert spent < local.size / 2  # not the file


@pytest.mark.parametrize("name", list(ENCODERS))
def test_32_consecutive_frames_cost_at_most_a_tenth_more_than_their_groups(
    name: str, cued: dict[str, Path], http_server: LoopbackServer
) -> None:
    local = Local(cued[name])
    url = _url(http_server, cued[name])
    first = 100  # 3.3 s in: GOPs 1 and 2
    times = local.starts[first : first + 32]
    gops = [local.gop_of_frame(f) for f in range(first, first + 32)]
    spanned = local.gop_bytes(min(gops), max(gops))
    header = _open_cost(http_server, url)
    http_server.counters.reset()
    frames = batch_decode([MediaRef(url, t) for t in times])
    for t, want, frame in zip(times, local.frames(times), frames, strict=True):
        np.testing.assert_array_equal(frame, want, err_msg=f"pts_ns={t}")
    assert http_server.counters.bytes - header <= 1.1 * spanned
    assert header < local.size / 4  # opening did not read the file either


@pytest.mark.parametrize("name", ["hevc.mkv"])
def test_what_needs_every_packet_scans_the_file_and_agrees(
    name: str, cued: dict[str, Path], http_server: LoopbackServer
) -> None:
    local = Local(cued[name])
    with mediaref_av.open(_url(http_server, cued[name])) as video:
        before = video.frames_played_at([local.starts[75]])
        meta = video.metadata  # the frame count needs every packet: a full scan
        assert video.index_origin == (
            "full scan (no sample tables in matroska; its cues list keyframes only)"
        )
        assert meta.num_frames == len(local.starts)
        assert (meta.begin_ns, meta.end_ns) == (local.begin_ns, local.end_ns)
        after = video.frames_at([75])
        assert video.shown_at([local.starts[75] + 1]) == [(75, local.starts[75])]
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(after[0], local.frames([local.starts[75]])[0])


def test_probe_says_the_cues_index_it_and_a_cueless_file_is_scanned(
    cued: dict[str, Path],
    http_root: Path,
    http_server: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["probe", _url(http_server, cued["hevc.mkv"])]) == 0
    out = capsys.readouterr().out
    assert f"index: {ORIGIN}\n" in out
    assert "num_frames: 300\n" in out
    # Written to a pipe, the muxer cannot seek back to write cues.
    cueless = http_root / "cueless-hevc.mkv"
    exe = need_ffmpeg()
    copy = [exe, "-loglevel", "error", "-i", str(cued["hevc.mkv"]), "-c", "copy"]
    with open(cueless, "wb") as f:
        subprocess.run([*copy, "-f", "matroska", "pipe:"], stdout=f, check=True)
    url = _url(http_server, cueless)
    mediaref_av.clear_caches()
    assert main(["probe", url]) == 0
    assert "index: full scan (no sample tables in matroska; it has no cues)\n" in (
        capsys.readouterr().out
    )
    local = Local(cued["hevc.mkv"])
    times = _probe_times(local)
    with mediaref_av.open(url) as video:
        got = video.frames_played_at(times)
    for t, want, frame in zip(times, local.frames(times), got, strict=True):
        np.testing.assert_array_equal(frame, want, err_msg=f"pts_ns={t}")


def test_the_disk_cache_holds_complete_indexes_only(
    cued: dict[str, Path], http_server: LoopbackServer, tmp_path: Path
) -> None:
    local = Local(cued["h264.mkv"])
    url = _url(http_server, cued["h264.mkv"])
    cache = tmp_path / "indexes"
    t = local.starts[75]
    want = local.frames([t])[0]
    # Read lazily, the GOPs read stay in memory: nothing is written.
    with mediaref_av.open(url, index_cache=cache) as video:
        np.testing.assert_array_equal(video.frames_played_at([t])[0], want)
        assert video.index_origin == ORIGIN
    assert not cache.exists() or not list(cache.iterdir())
    # `mediaref index` asks for the metadata: a full scan, written for other readers.
    mediaref_av.clear_caches()
    assert main(["index", url, "--out", str(cache)]) == 0
    assert len(list(cache.iterdir())) == 1
    mediaref_av.clear_caches()
    http_server.counters.reset()
    with mediaref_av.open(url, index_cache=cache) as video:
        assert video.index_origin.startswith("full scan (no sample tables in matroska;")
        assert http_server.counters.requests == 1  # the object's identity only
        np.testing.assert_array_equal(video.frames_played_at([t])[0], want)
