"""A remote object replaced between two requests of one decode is refused, never mixed.

The loopback server replaces the file from its ``before_file`` hook: after the index was
read (opening the video), before the ranges of the group of pictures are. Whether the
server refuses the stale ``If-Match`` (412) or ignores it and sends the new bytes, the read
fails with `SourceUnreadableError` naming the URI; a new reference then reads the new
content, with a new index.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from http.client import HTTPMessage
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from mediaref import MediaRef, SourceUnreadableError
from tests.httpserver import LoopbackServer
from tests.media import ClipFactory


@pytest.fixture(autouse=True)
def fresh(http_server: LoopbackServer) -> Iterator[None]:
    mediaref_av.clear_caches()
    yield
    http_server.before_file = None
    http_server.preconditions = True
    mediaref_av.clear_caches()


@pytest.mark.parametrize("preconditions", [True, False], ids=["412", "ignored"])
def test_an_object_replaced_after_the_index_read_is_refused_then_read_anew(
    preconditions: bool,
    big_mp4s: dict[str, Path],
    clip_factory: ClipFactory,
    http_root: Path,
    http_server: LoopbackServer,
) -> None:
    # ~10 MB: opening reads its header, the last GOP is read later, by the frame's request.
    old, new = big_mp4s["faststart"], clip_factory("h264_open_gop_mp4")
    name = f"changing-{preconditions}.mp4"
    shutil.copyfile(old, http_root / name)
    uri = http_server.url(f"files/{name}")
    http_server.preconditions = preconditions
    replaced: list[str | None] = []

    def replace_once(file: str, headers: HTTPMessage) -> None:
        if file == name and not replaced:
            replaced.append(headers.get("Range"))
            tmp = http_root / f"{name}.tmp"
            shutil.copyfile(new.path, tmp)
            os.replace(tmp, http_root / name)

    with mediaref_av.open(uri) as video:  # the index, from the old content
        assert video.index_origin == "container tables (moov)"
        t = video.metadata.end_ns - 1
        http_server.before_file = replace_once  # fires on the next request: the GOP's range
        with pytest.raises(SourceUnreadableError) as info:
            video.frames_played_at([t])
    assert replaced and replaced[0] is not None  # a ranged read, after the index's
    assert info.value.uri == uri
    assert str(info.value).startswith("the content changed while it was read")
    assert uri in str(info.value)
    http_server.before_file = None
    t_new = new.probe_times()[-1]
    np.testing.assert_array_equal(MediaRef(uri, t_new).to_ndarray(), new.frame_on_screen_at(t_new))


def test_every_range_asks_for_the_version_that_was_opened(
    clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    clip = clip_factory("hevc_mkv")
    shutil.copyfile(clip.path, http_root / "steady.mkv")
    uri = http_server.url("files/steady.mkv")
    seen: list[tuple[str | None, str | None]] = []
    http_server.before_file = lambda file, h: seen.append((h.get("Range"), h.get("If-Match")))
    times = clip.probe_times()
    with mediaref_av.open(uri) as video:
        frames = video.frames_played_at(times)
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")
    st = (http_root / "steady.mkv").stat()
    etag = f'"{st.st_size}-{st.st_mtime_ns}"'
    probes = [r for r in seen if r == ("bytes=0-0", None)]
    reads = [r for r in seen if r not in probes]
    assert probes and reads
    assert {m for _, m in reads} == {etag}
