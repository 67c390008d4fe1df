"""The packet index: what it records, its caches, the plugin entry, and the rule on VFR times."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mediaref
import mediaref_av
from mediaref import MediaRef, VideoDecoder
from mediaref.timeline import pts_to_ns
from mediaref_av import _index, _index_cache
from tests.media import ClipFactory, need_ffmpeg


@pytest.fixture(autouse=True)
def fresh() -> None:
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()


def test_mp4_with_bframes_has_negative_dts_and_still_starts_at_zero(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    with mediaref_av.open(clip.uri) as video:
        dts = [video.index.dts_of(d) for d in range(video.index.num_packets)]
        assert min(d for d in dts if d is not None) < 0
        assert video.metadata.begin_ns == 0


def test_edit_list_preroll_packets_are_indexed_but_are_not_frames(
    clip_factory: ClipFactory,
) -> None:
    clip = clip_factory("mp4_edit_list")
    with mediaref_av.open(clip.uri) as video:
        idx = video.index
    assert any(idx.discard)
    assert idx.num_frames == len(clip.pts) < idx.num_packets


def test_end_is_last_pts_plus_its_duration(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vfr_mkv")
    with mediaref_av.open(clip.uri) as video:
        idx = video.index
    last = int(idx.frame_dpos[-1])
    tb = Fraction(*idx.data.time_base)
    assert idx.end_ns == pts_to_ns(int(idx.frame_pts[-1]) + int(idx.duration[last]), tb)


@pytest.mark.parametrize("kind", ["epoch_pts_mkv", "epoch_pts_mp4"])
def test_wall_clock_timestamps_select_frames_where_float_seconds_cannot(
    clip_factory: ClipFactory, kind: str
) -> None:
    clip = clip_factory(kind)
    starts = clip.starts_ns
    # The fixture has teeth: at ~1.76e18 ns a frame's first ns and the ns before it are
    # the same float64 number of seconds.
    assert all(float(t) / 1e9 == float(t - 1) / 1e9 for t in starts)
    with mediaref_av.open(clip.uri) as video:
        assert (video.metadata.begin_ns, video.metadata.end_ns) == (starts[0], clip.end_ns)
        before = video.frame_indices([t - 1 for t in starts[1:]])
        at = video.frame_indices(starts)
    assert at == list(range(len(starts)))
    assert before == list(range(len(starts) - 1))


def test_index_is_cached_in_memory_by_file_identity(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vp9_webm")
    for _ in range(3):
        with mediaref_av.open(clip.uri):
            pass
    c = mediaref_av.counters()
    assert (c.index_builds, c.index_hits) == (1, 2)
    os.utime(clip.path, ns=(10**18, 10**18))  # a new mtime is a new identity
    with mediaref_av.open(clip.uri):
        pass
    assert mediaref_av.counters().index_builds == 2


def test_disk_cache_is_shared_by_processes(clip_factory: ClipFactory, tmp_path: Path) -> None:
    clip = clip_factory("hevc_mkv")
    cache = tmp_path / "idx"
    with mediaref_av.open(clip.uri, index_cache=cache) as video:
        first = video.frames_played_at([clip.starts_ns[20]])[0]
    assert len(list(cache.glob("*.mravidx"))) == 1
    code = (
        "import mediaref_av, sys\n"
        f"v = mediaref_av.open({clip.uri!r})\n"
        f"f = v.frames_played_at([{clip.starts_ns[20]}])[0]\n"
        "c = mediaref_av.counters()\n"
        "print(c.index_builds, c.index_disk_hits, f.sum())\n"
    )
    env = {**os.environ, "MEDIAREF_AV_INDEX_CACHE": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["0", "1", str(first.sum())]


def test_disk_cache_ignores_a_corrupt_file(clip_factory: ClipFactory, tmp_path: Path) -> None:
    clip = clip_factory("hevc_mkv")
    with mediaref_av.open(clip.uri, index_cache=tmp_path):
        pass
    for f in tmp_path.glob("*.mravidx"):
        f.write_bytes(b"garbage")
    mediaref_av.clear_caches()
    with mediaref_av.open(clip.uri, index_cache=tmp_path) as video:
        assert video.metadata.num_frames == len(clip.pts)
    assert mediaref_av.counters().index_builds == 2


def test_memory_cache_is_bounded(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Bounded in bytes (MEDIAREF_AV_INDEX_CACHE_MB): room for about two of these indexes.
    with mediaref_av.open(clip_factory("vp9_webm").uri) as video:
        size = video.index.nbytes()
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()
    monkeypatch.setattr(_index_cache.index_cache, "max_bytes", 2 * size + size // 2)
    for kind in ("vp9_webm", "hevc_mkv", "av1_mkv", "vp9_webm"):
        with mediaref_av.open(clip_factory(kind).uri):
            pass
        assert _index_cache.index_cache.nbytes <= 2 * size + size // 2
    assert mediaref_av.counters().index_builds == 4


def test_the_plugin_is_found_through_its_entry_point(clip_factory: ClipFactory) -> None:
    info = [p for p in mediaref.plugins() if "pyav" in p.video_backends]
    assert info
    clip = clip_factory("one_frame_mp4")
    with mediaref_av.open(clip.uri) as video:
        assert isinstance(video, VideoDecoder)
    assert (MediaRef(clip.uri, 0).to_ndarray(decoder="pyav") == clip.frames[0]).all()


def test_importing_mediaref_av_does_not_import_pyav() -> None:
    code = (
        "import sys, mediaref_av, mediaref_av._plugin\n"
        "print(sorted({'av', 'numpy'} & sys.modules.keys()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_rule_on_vfr_timestamps_matches_the_oracle(
    clip_factory: ClipFactory, data: st.DataObject
) -> None:
    clip = clip_factory("vfr_mp4")
    t = data.draw(st.integers(clip.begin_ns, clip.end_ns - 1))
    with mediaref_av.open(clip.uri) as video:
        assert video.frame_indices([t, np.int64(t)]) == [clip.index_at(t)] * 2


def test_a_last_frame_without_duration_lasts_one_frame_period(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vfr_mkv")
    with mediaref_av.open(clip.uri) as video:
        data = video.index.to_data()
    zero = msgspec.structs.replace(data, duration=[0] * len(data.duration))
    idx = _index.Index(zero)
    tb = Fraction(*data.time_base)
    end = int(idx.frame_pts[-1]) * tb + Fraction(*data.default_duration)
    assert idx.end_ns == -((-end.numerator * 10**9) // end.denominator)
    assert idx.end_ns > idx.frame_ns[-1]


def test_video_in_a_data_uri_decodes_through_a_file_object(clip_factory: ClipFactory) -> None:
    clip = clip_factory("vp9_webm")
    uri = mediaref.DataURI.from_bytes(clip.path.read_bytes(), "video/webm").uri
    times = clip.probe_times()[::4]
    with mediaref_av.open(uri) as video:
        frames = video.frames_played_at(times)
    for t, f in zip(times, frames, strict=True):
        np.testing.assert_array_equal(f, clip.frame_on_screen_at(t))


@pytest.mark.parametrize(
    ("kind", "slices"), [("h264_slices_mp4", 4), ("h264_slices_ts", 3), ("h264_bframes_mp4", 1)]
)
def test_slices_per_picture_choose_the_codec_threading(
    clip_factory: ClipFactory, kind: str, slices: int
) -> None:
    clip = clip_factory(kind)
    cpus = len(os.sched_getaffinity(0))
    with mediaref_av.open(clip.uri) as video:
        assert video.index.data.slices == slices
        assert video.frames_played_at([clip.starts_ns[-1]])[0].shape == clip.frames[-1].shape
        handle = video._handle
        assert handle is not None
        cc = handle.stream.codec_context
        if slices > 1 and cpus > 1:
            assert (cc.thread_type.name, cc.thread_count) == ("SLICE", min(cpus, slices))
        elif cpus > 1:
            assert cc.thread_type.name != "SLICE"
    with mediaref_av.open(clip.uri, threads=1) as video:
        video.frames_played_at([clip.starts_ns[-1]])
        assert video._handle is not None
        assert video._handle.stream.codec_context.thread_count == 1
    # The index build's container is the decoding one: one open per file and threading.
    assert mediaref_av.counters().containers_opened == 2


@pytest.mark.parametrize("ext", ["mp4", "mkv", "ts"])  # hvcC in MP4 and Matroska; in band
@pytest.mark.parametrize("wpp", [True, False])
def test_hevc_wavefront_rows_are_read_from_the_parameter_sets(
    tmp_path: Path, ext: str, wpp: bool
) -> None:
    f = tmp_path / f"wpp{int(wpp)}.{ext}"
    params = f"log-level=error:wpp={int(wpp)}"
    subprocess.run(
        [need_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=30",
         "-frames:v", "5", "-c:v", "libx265", "-x265-params", params, "-pix_fmt", "yuv420p",
         str(f)],
        check=True,
    )  # fmt: skip
    with mediaref_av.open(str(f)) as video:
        assert video.index.data.wavefront is wpp
