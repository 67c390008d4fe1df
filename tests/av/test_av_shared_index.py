"""The shared index: keyed by content, prebuilt with ``mediaref index``, used over HTTP too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from mediaref import MediaRef, SourceUnreadableError
from mediaref._cli import main
from tests.httpserver import LoopbackServer
from tests.media import ClipFactory


@pytest.fixture(autouse=True)
def fresh() -> None:
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.mravidx"))


@pytest.mark.parametrize("how", ["hard link", "copy with its mtime"])
def test_two_paths_to_one_content_share_one_index_file(
    how: str, clip_factory: ClipFactory, tmp_path: Path
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    a, b, cache = tmp_path / "a" / "x.mp4", tmp_path / "b" / "y.mp4", tmp_path / "cache"
    a.parent.mkdir()
    b.parent.mkdir()
    shutil.copy2(clip.path, a)
    if how == "hard link":
        os.link(a, b)
    else:
        shutil.copy2(a, b)
    with mediaref_av.open(str(a), index_cache=cache):
        pass
    mediaref_av.clear_caches()
    t = clip.probe_times()[7]
    with mediaref_av.open(str(b), index_cache=cache) as video:
        np.testing.assert_array_equal(video.frames_played_at([t])[0], clip.frame_on_screen_at(t))
    c = mediaref_av.counters()
    assert (c.index_builds, c.index_disk_hits) == (1, 1)
    assert len(_files(cache)) == 1


def test_a_changed_file_does_not_reuse_the_stale_index(
    clip_factory: ClipFactory, tmp_path: Path
) -> None:
    one, other = clip_factory("h264_bframes_mp4"), clip_factory("h264_open_gop_mp4")
    path, cache = tmp_path / "x.mp4", tmp_path / "cache"
    shutil.copy2(one.path, path)
    with mediaref_av.open(str(path), index_cache=cache):
        pass
    shutil.copyfile(other.path, path)  # rewritten in place: new content, new mtime
    mediaref_av.clear_caches()
    t = other.probe_times()[5]
    with mediaref_av.open(str(path), index_cache=cache) as video:
        np.testing.assert_array_equal(video.frames_played_at([t])[0], other.frame_on_screen_at(t))
        assert video.metadata.num_frames == len(other.pts)
    assert mediaref_av.counters().index_builds == 2
    assert len(_files(cache)) == 2


def test_mediaref_index_prebuilds_what_readers_then_load(
    clip_factory: ClipFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clips = [clip_factory("h264_bframes_mp4"), clip_factory("hevc_mkv")]
    cache = tmp_path / "shared"
    assert main(["index", *(str(c.path) for c in clips), "--out", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"{clips[0].path}: {len(clips[0].pts)} frames" in out
    assert len(_files(cache)) == 2
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()
    monkeypatch.setenv("MEDIAREF_AV_INDEX_CACHE", str(cache))
    for clip in clips:
        t = clip.probe_times()[3]
        np.testing.assert_array_equal(
            MediaRef(clip.uri, t).to_ndarray(), clip.frame_on_screen_at(t)
        )
    assert mediaref_av.counters().index_builds == 0


def test_a_remote_index_is_shared_through_the_disk_cache(
    clip_factory: ClipFactory, tmp_path: Path, http_root: Path, http_server: LoopbackServer
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    shutil.copyfile(clip.path, http_root / "shared.mp4")
    url, cache = http_server.url("files/shared.mp4"), tmp_path / "cache"
    assert main(["index", url, "--out", str(cache)]) == 0
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()
    http_server.counters.reset()
    with mediaref_av.open(url, index_cache=cache) as video:
        assert video.index_origin == "container tables (moov)"
    # Another worker or machine: the index comes from the shared directory; only the
    # object's identity (a one-byte Range request) is asked of the server.
    assert (http_server.counters.requests, http_server.counters.bytes) == (1, 1)
    assert mediaref_av.counters().index_builds == 0
    t = clip.probe_times()[9]
    np.testing.assert_array_equal(
        MediaRef(url, t).to_ndarray(index_cache=cache), clip.frame_on_screen_at(t)
    )


def test_a_remote_file_replaced_after_indexing_is_refused_not_mixed(
    clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    one, other = clip_factory("h264_bframes_mp4"), clip_factory("h264_open_gop_mp4")
    shutil.copyfile(one.path, http_root / "replaced.mp4")
    url = http_server.url("files/replaced.mp4")
    times = one.probe_times()
    with mediaref_av.open(url) as video:
        np.testing.assert_array_equal(
            video.frames_played_at(times[:1])[0], one.frame_on_screen_at(times[0])
        )
        shutil.copyfile(other.path, http_root / "replaced.mp4")
        os.utime(http_root / "replaced.mp4", ns=(1, 1))  # another ETag even if sizes match
        with pytest.raises(SourceUnreadableError, match="changed") as info:
            video.frames_played_at(times[-1:])
        assert info.value.uri == url
    # A new reference reads the new content, with its own index.
    t = other.probe_times()[4]
    np.testing.assert_array_equal(MediaRef(url, t).to_ndarray(), other.frame_on_screen_at(t))


def test_the_index_directory_may_be_on_an_object_store(
    clip_factory: ClipFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    fsspec = pytest.importorskip("fsspec")
    clip = clip_factory("hevc_mkv")
    assert main(["index", str(clip.path), "--out", "memory://mediaref-indexes"]) == 0
    assert len(fsspec.filesystem("memory").ls("/mediaref-indexes")) == 1
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()
    t = clip.probe_times()[6]
    with mediaref_av.open(clip.uri, index_cache="memory://mediaref-indexes") as video:
        np.testing.assert_array_equal(video.frames_played_at([t])[0], clip.frame_on_screen_at(t))
    assert (mediaref_av.counters().index_builds, mediaref_av.counters().index_disk_hits) == (0, 1)
