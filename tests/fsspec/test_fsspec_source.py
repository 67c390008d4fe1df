"""mediaref-fsspec with the filesystems fsspec itself ships: ``memory://``, ``fsspec+file://``.

S3 through s3fs against a real S3-protocol server is in tests/integrations/.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import mediaref_av
from mediaref import (
    BackendNotInstalledError,
    MediaRef,
    SourceNotFoundError,
    SourceUnreadableError,
    batch_decode,
    open_source,
)
from mediaref.testing import Clip
from mediaref_fsspec import FsspecSource, _source
from tests.conftest import need
from tests.httpserver import LoopbackServer
from tests.media import ClipFactory, make_png

fsspec = pytest.importorskip("fsspec")
from fsspec.implementations.memory import MemoryFileSystem  # noqa: E402

SECRET = "s3cr3t-Value-42"


class RecordingFS(MemoryFileSystem):  # type: ignore[misc]
    """A memory filesystem that records its storage options; ``fail=True`` fails every
    request with a message that repeats its credential (as a careless server might)."""

    protocol = "recording"
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.pop("skip_instance_cache", None)
        self.options = dict(kwargs)
        RecordingFS.made.append(self.options)
        super().__init__()

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return super()._strip_protocol(path.removeprefix("recording://"))  # type: ignore[no-any-return]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        if self.options.get("fail"):
            raise PermissionError(f"access denied for key={self.options.get('secret')}")
        return super().info(path, **kwargs)  # type: ignore[no-any-return]


fsspec.register_implementation("recording", RecordingFS, clobber=True)


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    _source.clear_filesystems()
    mediaref_av.clear_caches()
    RecordingFS.made.clear()
    yield
    _source.clear_filesystems()
    mediaref_av.clear_caches()


def _put(uri: str, data: bytes) -> None:
    fsspec.filesystem("memory").pipe(uri, data)


def _video_in_memory(clip: Clip, name: str) -> str:
    uri = f"memory://clips/{name}"
    _put(uri, clip.path.read_bytes())
    return uri


@pytest.mark.parametrize("kind", ["h264_bframes_mp4", "hevc_mkv", "mp4_edit_list"])
def test_video_frames_from_memory_match_the_local_decode(
    kind: str, clip_factory: ClipFactory
) -> None:
    clip = clip_factory(kind)
    uri = _video_in_memory(clip, f"{kind}{clip.path.suffix}")
    times = clip.probe_times()
    frames = batch_decode([MediaRef(uri, t) for t in times])
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


def test_images_from_memory_and_fsspec_file_match_the_local_decode(tmp_path: Path) -> None:
    png = make_png(tmp_path / "p.png")
    _put("memory://images/p.png", png.read_bytes())
    local = MediaRef(str(png)).to_ndarray()
    np.testing.assert_array_equal(MediaRef("memory://images/p.png").to_ndarray(), local)
    np.testing.assert_array_equal(MediaRef(f"fsspec+file://{png}").to_ndarray(), local)


def test_fsspec_file_reads_video_frames_through_fsspec(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_open_gop_mp4")
    uri = f"fsspec+file://{clip.path}"
    source = open_source(uri)
    assert isinstance(source, FsspecSource) and source.local_path is None
    times = clip.probe_times()[:12]
    for t in times:
        np.testing.assert_array_equal(MediaRef(uri, t).to_ndarray(), clip.frame_on_screen_at(t))


def test_core_schemes_stay_with_the_core(tmp_path: Path) -> None:
    png = make_png(tmp_path / "p.png")
    assert not isinstance(open_source(str(png)), FsspecSource)
    assert not isinstance(open_source(f"file://{png}"), FsspecSource)


def test_storage_options_reach_the_filesystem_and_key_its_cache(tmp_path: Path) -> None:
    png = make_png(tmp_path / "p.png")
    fsspec.filesystem("memory").pipe("/rec/p.png", png.read_bytes())
    local = MediaRef(str(png)).to_ndarray()
    for _ in range(3):
        got = MediaRef("recording://rec/p.png").to_ndarray(storage_options={"region": "a"})
        np.testing.assert_array_equal(got, local)
    batch_decode([MediaRef("recording://rec/p.png")], storage_options={"region": "b"})
    assert RecordingFS.made == [{"region": "a"}, {"region": "b"}]  # one per options


def test_a_missing_implementation_names_the_package_to_install() -> None:
    for scheme, package in [("gs", "gcsfs"), ("az", "adlfs"), ("s3", "s3fs")]:
        try:
            __import__(package)
            continue  # installed here: nothing to report
        except ImportError:
            pass
        with pytest.raises(BackendNotInstalledError, match=f"pip install {package}"):
            MediaRef(f"{scheme}://bucket/x.png").to_ndarray()


def test_a_missing_object_is_source_not_found() -> None:
    with pytest.raises(SourceNotFoundError, match=re.escape("memory://nope/x.png")):
        MediaRef("memory://nope/x.png").to_ndarray()


def test_credentials_never_appear_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    options = {"secret": SECRET, "fail": True}
    with caplog.at_level("DEBUG"), pytest.raises(SourceUnreadableError) as info:
        MediaRef("recording://rec/x.mp4", 0).to_ndarray(storage_options=options)
    assert "***" in str(info.value)
    chain: list[BaseException] = []
    e: BaseException | None = info.value
    while e is not None and e not in chain:  # every exception attached, and their texts
        chain.append(e)
        e = e.__cause__ or e.__context__
    texts = [str(x) + repr(x) + str(pickle.loads(pickle.dumps(x))) for x in chain]
    assert all(isinstance(x, SourceUnreadableError) for x in chain)
    assert not [t for t in texts if SECRET in t]
    assert SECRET not in caplog.text


def test_an_object_that_changed_since_it_was_opened_is_refused(clip_factory: ClipFactory) -> None:
    clip = clip_factory("h264_bframes_mp4")
    uri = _video_in_memory(clip, "changing.mp4")
    source = open_source(uri)
    _put(uri, clip.path.read_bytes() + b"\0" * 100)  # another size: another object
    with pytest.raises(SourceUnreadableError, match="changed") as info:
        source.open()
    assert info.value.uri == uri
    # Opened again, it decodes the new content (here: the same frames).
    t = clip.probe_times()[3]
    np.testing.assert_array_equal(MediaRef(uri, t).to_ndarray(), clip.frame_on_screen_at(t))


def test_a_forked_child_makes_its_own_filesystem(tmp_path: Path) -> None:
    png = make_png(tmp_path / "p.png")
    fsspec.filesystem("memory").pipe("/rec/p.png", png.read_bytes())
    MediaRef("recording://rec/p.png").to_ndarray(storage_options={"k": 1})
    parent_fs = _source.filesystem("recording", "recording://rec/p.png", {"k": 1})
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a new filesystem and could read
        try:
            child_fs = _source.filesystem("recording", "recording://rec/p.png", {"k": 1})
            arr = MediaRef("recording://rec/p.png").to_ndarray(storage_options={"k": 1})
            ok = child_fs is not parent_fs and arr.shape == (72, 128, 3)
            os.write(write, b"new" if ok else b"reused")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 16)
    os.waitpid(pid, 0)
    assert answer == b"new"
    assert _source.filesystem("recording", "recording://rec/p.png", {"k": 1}) is parent_fs


def test_probe_prints_how_the_index_was_made(
    clip_factory: ClipFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from mediaref._cli import main

    clip = clip_factory("h264_bframes_mp4")
    uri = _video_in_memory(clip, "probe.mp4")
    assert main(["probe", uri]) == 0
    assert "index: container tables (moov)" in capsys.readouterr().out
    ts = clip_factory("h264_mpegts")
    uri = _video_in_memory(ts, "probe.ts")
    assert main(["probe", uri]) == 0
    assert "index: full scan (no sample tables in mpegts)" in capsys.readouterr().out


def test_fsspec_http_reads_video_frames_in_ranges_pinned_to_one_version(
    clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    need("aiohttp")
    clip = clip_factory("h264_bframes_mp4")
    (http_root / "fsspec-http.mp4").write_bytes(clip.path.read_bytes())
    uri = "fsspec+" + http_server.url("files/fsspec-http.mp4")
    source = open_source(uri)
    assert isinstance(source, FsspecSource)
    times = clip.probe_times()
    with mediaref_av.open(source) as video:
        frames = video.frames_played_at(times)
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")
    assert source.read_range(8, 24) == clip.path.read_bytes()[8:24]
