"""mediaref-fsspec against a real S3-protocol server on loopback (moto's server), through s3fs.

Every frame is compared with the local decode of the same file.
"""

from __future__ import annotations

import pickle
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mediaref_av
from mediaref import (
    MediaRef,
    SourceNotFoundError,
    SourceUnreadableError,
    TimestampOutOfRangeError,
    batch_decode,
)
from mediaref.testing import Clip
from mediaref_fsspec import _source
from tests.av.conftest import big_mp4s, clip_factory
from tests.conftest import need
from tests.media import ClipFactory, make_png

__all__ = ["big_mp4s", "clip_factory"]

KEY, SECRET = "AKIAMEDIAREFTEST", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET"
BUCKET = "media"


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    need("s3fs")
    server_mod = need("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options = {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": endpoint}}
    import s3fs

    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    fs.mkdir(BUCKET)
    try:
        yield {"options": options, "fs": fs, "endpoint": endpoint}
    finally:
        _source.clear_filesystems()
        server.stop()


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    mediaref_av.clear_caches()
    yield
    mediaref_av.clear_caches()


def _upload(s3: dict[str, Any], clip: Clip, name: str) -> str:
    s3["fs"].pipe(f"{BUCKET}/{name}", clip.path.read_bytes())
    return f"s3://{BUCKET}/{name}"


@pytest.mark.parametrize("kind", ["h264_bframes_mp4", "h264_open_gop_mkv", "mp4_edit_list"])
def test_video_frames_from_s3_match_the_local_decode(
    kind: str, s3: dict[str, Any], clip_factory: ClipFactory
) -> None:
    clip = clip_factory(kind)
    uri = _upload(s3, clip, f"{kind}{clip.path.suffix}")
    times = clip.probe_times()
    frames = batch_decode([MediaRef(uri, t) for t in times], storage_options=s3["options"])
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")
    for t in times[:: max(len(times) // 8, 1)]:
        one = MediaRef(uri, t).to_ndarray(storage_options=s3["options"])
        np.testing.assert_array_equal(one, clip.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


def test_an_image_from_s3_matches_the_local_decode(s3: dict[str, Any], tmp_path: Path) -> None:
    png = make_png(tmp_path / "p.png")
    s3["fs"].pipe(f"{BUCKET}/p.png", png.read_bytes())
    got = MediaRef(f"s3://{BUCKET}/p.png").to_ndarray(storage_options=s3["options"])
    np.testing.assert_array_equal(got, MediaRef(str(png)).to_ndarray())


def test_the_identity_carries_the_etag(s3: dict[str, Any], clip_factory: ClipFactory) -> None:
    from mediaref import open_source

    uri = _upload(s3, clip_factory("h264_bframes_mp4"), "etag.mp4")
    identity = open_source(uri, storage_options=s3["options"]).identity
    assert identity[0] == uri and identity[2].startswith("ETag=")


def test_a_missing_object_is_not_found(s3: dict[str, Any]) -> None:
    with pytest.raises(SourceNotFoundError):
        MediaRef(f"s3://{BUCKET}/nope.mp4", 0).to_ndarray(storage_options=s3["options"])


def test_a_failing_request_never_shows_the_secret(
    s3: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # A wrong endpoint port: every request fails (connection refused), quickly.
    bad = {**s3["options"], "client_kwargs": {"endpoint_url": "http://127.0.0.1:9"}}
    bad["config_kwargs"] = {"retries": {"max_attempts": 1}, "connect_timeout": 2}
    with caplog.at_level("DEBUG"), pytest.raises(SourceUnreadableError) as info:
        MediaRef(f"s3://{BUCKET}/x.mp4", 0).to_ndarray(storage_options=bad)
    e: BaseException | None = info.value
    seen: list[BaseException] = []
    while e is not None and e not in seen:
        seen.append(e)
        e = e.__cause__ or e.__context__
    texts = [str(x) + repr(x) + str(pickle.loads(pickle.dumps(x))) for x in seen]
    assert not [t for t in texts if SECRET in t]
    assert SECRET not in caplog.text


def test_an_object_replaced_between_index_and_read_is_refused(
    s3: dict[str, Any], clip_factory: ClipFactory
) -> None:
    from mediaref import open_source

    clip = clip_factory("h264_bframes_mp4")
    uri = _upload(s3, clip, "replaced.mp4")
    source = open_source(uri, storage_options=s3["options"])
    with mediaref_av.open(source) as video:  # indexed
        t = clip.probe_times()[5]
        np.testing.assert_array_equal(video.frames_played_at([t])[0], clip.frame_on_screen_at(t))
    other = clip_factory("h264_open_gop_mp4")
    s3["fs"].pipe(f"{BUCKET}/replaced.mp4", other.path.read_bytes())
    mediaref_av.clear_caches()  # no open container: the next read opens the object again
    with (
        pytest.raises(SourceUnreadableError, match="changed") as info,
        mediaref_av.open(source) as v,
    ):
        v.frames_played_at([t])
    assert info.value.uri == uri


def test_probe_works_on_s3(
    s3: dict[str, Any], clip_factory: ClipFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from mediaref._cli import main

    uri = _upload(s3, clip_factory("h264_bframes_mp4"), "probe.mp4")
    option = "storage_options=" + json.dumps(s3["options"])
    assert main(["probe", uri, "--option", option]) == 0
    out = capsys.readouterr().out
    assert "video decoder: pyav" in out and "index: container tables (moov)" in out


def test_an_object_replaced_after_the_index_read_fails_the_range_read_then_reads_anew(
    s3: dict[str, Any], big_mp4s: dict[str, Path], clip_factory: ClipFactory
) -> None:
    from mediaref import open_source

    new = clip_factory("h264_open_gop_mp4")
    # ~10 MB: opening reads its header, the last GOP is read later, by the frame's request.
    s3["fs"].put_file(str(big_mp4s["faststart"]), f"{BUCKET}/swapped.mp4")
    uri = f"s3://{BUCKET}/swapped.mp4"
    with mediaref_av.open(open_source(uri, storage_options=s3["options"])) as video:
        assert video.index_origin == "container tables (moov)"
        t = video.metadata.end_ns - 1
        # Between the index read and the GOP's ranged GET of the same decoder: the ranges
        # carry the old ETag (If-Match), and the server refuses them.
        s3["fs"].pipe(f"{BUCKET}/swapped.mp4", new.path.read_bytes())
        with pytest.raises(SourceUnreadableError) as info:
            video.frames_played_at([t])
    assert info.value.uri == uri
    assert str(info.value).startswith("the object changed since it was first read")
    t_new = new.probe_times()[-1]
    got = MediaRef(uri, t_new).to_ndarray(storage_options=s3["options"])
    np.testing.assert_array_equal(got, new.frame_on_screen_at(t_new))


def test_matroska_from_s3_is_indexed_from_its_cues_and_matches_the_local_decode(
    s3: dict[str, Any], tmp_path: Path
) -> None:
    from mediaref import open_source
    from tests.media import need_encoder, need_ffmpeg

    need_encoder("libx265")
    path = tmp_path / "cues.mkv"
    source = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=6"]
    x265 = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]
    cmd = [need_ffmpeg(), "-loglevel", "error", *source, *x265, "-g", "45", str(path)]
    subprocess.run(cmd, check=True)
    s3["fs"].put_file(str(path), f"{BUCKET}/cues.mkv")
    uri = f"s3://{BUCKET}/cues.mkv"
    with mediaref_av.open(str(path)) as local:
        starts = [int(t) for t in local.index.frame_ns]
        begin, end = local.index.begin_ns, local.index.end_ns
        times = [begin, *(t - 1 for t in starts[44:50]), starts[100] + 5, end - 1]
        expected = local.frames_played_at(times)
        expected_60 = local.frames_played_at([starts[60]])[0]
    with mediaref_av.open(open_source(uri, storage_options=s3["options"])) as video:
        assert video.index_origin.startswith("matroska cues (4 keyframes)")
        got = video.frames_played_at(times)
        assert video.index_origin.startswith("matroska cues")
    for t, want, frame in zip(times, expected, got, strict=True):
        np.testing.assert_array_equal(frame, want, err_msg=f"pts_ns={t}")
    mediaref_av.clear_caches()
    out = batch_decode(
        [MediaRef(uri, t) for t in (starts[60], end)],
        storage_options=s3["options"],
        on_error="return",
    )
    np.testing.assert_array_equal(out[0], expected_60)
    assert isinstance(out[1], TimestampOutOfRangeError)
    assert (out[1].begin_ns, out[1].end_ns) == (begin, end)
