"""mediaref.lerobot on a small LeRobot v3 dataset made here, checked against LeRobot's rule.

The dataset is written as LeRobot writes one: each episode encoded to its own MP4 (AV1
with libsvtav1, g=2, crf=30, as LeRobot's default encoder config; and H.264), then
concatenated into one shard by the ffconcat demuxer with stream copy (LeRobot's
``concatenate_video_files``); ``meta/info.json`` with the path templates and fps, and
``meta/episodes/chunk-000/file-000.parquet`` with ``from_timestamp``/``to_timestamp``.

The expected frame of ``(episode, timestamp)`` is LeRobot's: the frame of a sequential
PyAV decode of the shard whose pts is nearest to ``from_timestamp + timestamp``, within
``tolerance_s`` (``decode_video_frames`` in lerobot/datasets/video_utils.py).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediaref import InvalidReferenceError, MediaRef
from mediaref.lerobot import DEFAULT_TOLERANCE_S, FrameLocation, LeRobotVideos
from mediaref.testing import Clip, decode_sequentially
from tests.conftest import need
from tests.media import need_encoder

FPS = 30
LENGTHS = [10, 10]
KEY = "observation.images.top"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
X264 = {"g": "2", "crf": "30", "x264-params": "log-level=none"}
CODECS: dict[str, tuple[str, dict[str, str], Fraction | None]] = {
    "av1": ("libsvtav1", {"g": "2", "crf": "30", "preset": "12"}, None),
    "h264": ("libx264", X264, None),
    # Ticks of 1/10000 s: pts off the 1/30 s grid by up to 0.05 ms, which LeRobot accepts.
    "h264_off_grid": ("libx264", X264, Fraction(1, 10_000)),
}


def concatenate(parts: list[Path], out: Path) -> None:
    # LeRobot's concatenate_video_files: the ffconcat demuxer, packets copied.
    import av

    listing = out.with_suffix(".ffconcat")
    listing.write_text("ffconcat version 1.0\n" + "".join(f"file '{p.resolve()}'\n" for p in parts))
    with (
        av.open(str(listing), format="concat", options={"safe": "0"}) as src,
        av.open(str(out), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = src.streams.video[0]
        copy = dst.add_stream_from_template(template=stream, opaque=True)
        copy.time_base = stream.time_base
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            dst.mux(packet)
    listing.unlink()


def make_dataset(
    root: Path, codec: str, options: dict[str, str], time_base: Fraction | None
) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard = root / VIDEO_PATH.format(video_key=KEY, chunk_index=0, file_index=0)
    shard.parent.mkdir(parents=True)
    parts, rows, start = [], [], 0.0
    for episode, length in enumerate(LENGTHS):
        part = root / f"episode_{episode}.mp4"
        # Distinct pictures across episodes: episode 1 continues the frame counter.
        offset = sum(LENGTHS[:episode])
        encode_episode(part, codec, options, first=offset, length=length, time_base=time_base)
        parts.append(part)
        duration = length / FPS
        rows.append(
            {
                "episode_index": episode,
                "length": length,
                "tasks": ["pick"],
                f"videos/{KEY}/chunk_index": 0,
                f"videos/{KEY}/file_index": 0,
                f"videos/{KEY}/from_timestamp": start,
                f"videos/{KEY}/to_timestamp": start + duration,
            }
        )
        start += duration
    concatenate(parts, shard)
    for part in parts:
        part.unlink()
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    info = {
        "codebase_version": "v3.0",
        "fps": FPS,
        "chunks_size": 1000,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": VIDEO_PATH,
        "features": {
            KEY: {"dtype": "video", "shape": [48, 64, 3], "names": ["height", "width", "channels"]},
            "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        },
    }
    (root / "meta" / "info.json").write_text(json.dumps(info))
    return shard


def encode_episode(
    part: Path,
    codec: str,
    options: dict[str, str],
    *,
    first: int,
    length: int,
    time_base: Fraction | None,
) -> None:
    # Pictures first.. first+length-1: no two frames of the shard look alike.
    import av

    from mediaref.testing import picture
    from mediaref.testing._media import scheduling_kept

    need_encoder(codec)
    with scheduling_kept(), av.open(str(part), "w") as c:
        s = c.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = options
        if time_base is not None:
            s.time_base = s.codec_context.time_base = time_base
        for i in range(length):
            frame = av.VideoFrame.from_ndarray(picture(first + i, 64, 48), format="rgb24")
            frame.pts = i if time_base is None else round(Fraction(i, FPS) / time_base)
            frame.time_base = time_base or Fraction(1, FPS)
            c.mux(s.encode(frame))
        c.mux(s.encode(None))


def lerobot_frame(clip: Clip, t: float, tolerance_s: float = DEFAULT_TOLERANCE_S) -> Any:
    """LeRobot's choice: the decoded frame nearest to `t` seconds, within `tolerance_s`."""
    seconds = [float(p * clip.time_base) for p in clip.pts]
    nearest = int(np.argmin([abs(s - t) for s in seconds]))
    assert abs(seconds[nearest] - t) <= tolerance_s, (t, seconds[nearest])
    return clip.frames[nearest]


@pytest.fixture(scope="module", params=sorted(CODECS))
def dataset(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Clip]:
    need("pyarrow")
    codec, options, time_base = CODECS[request.param]
    root = tmp_path_factory.mktemp(f"lerobot_{request.param}")
    shard = make_dataset(root, codec, options, time_base)
    return root, decode_sequentially(shard)


def test_every_frame_ref_decodes_to_the_frame_lerobot_returns(dataset: tuple[Path, Clip]) -> None:
    root, clip = dataset
    videos = LeRobotVideos.from_root(root)
    assert len(clip.frames) == sum(LENGTHS)
    checked = 0
    for episode, length in enumerate(LENGTHS):
        ep = videos.episode(episode, KEY)
        refs = videos.refs(episode, KEY)
        assert len(refs) == length
        for k, ref in enumerate(refs):
            timestamp = k / FPS
            expected = lerobot_frame(clip, ep.from_timestamp + timestamp)
            np.testing.assert_array_equal(ref.to_ndarray(), expected)
            assert videos.ref(episode, KEY, timestamp) == ref
            assert videos.locate(ref) == FrameLocation(episode, KEY, k, timestamp)
            checked += 1
    assert checked == 20


def test_refs_are_plain_references_to_the_shard(dataset: tuple[Path, Clip]) -> None:
    root, _clip = dataset
    videos = LeRobotVideos.from_root(root)
    shard = f"{root}/videos/{KEY}/chunk-000/file-000.mp4"
    assert videos.refs(0, KEY)[:2] == [MediaRef(shard, 16_666_667), MediaRef(shard, 50_000_000)]
    # Episode 1 starts at from_timestamp = 10/30 s in the same shard.
    assert videos.refs(1, KEY)[0] == MediaRef(shard, 350_000_000)
    relative = LeRobotVideos.from_root(root).__class__(
        "", json.loads((root / "meta/info.json").read_text()), _rows(root)
    )
    assert relative.refs(1, KEY)[0] == MediaRef(f"videos/{KEY}/chunk-000/file-000.mp4", 350_000_000)


def test_batch_decoding_of_all_refs_gives_lerobots_frames(dataset: tuple[Path, Clip]) -> None:
    from mediaref import batch_decode

    root, clip = dataset
    videos = LeRobotVideos.from_root(root)
    refs = videos.refs(1, KEY) + videos.refs(0, KEY)
    ep1 = videos.episode(1, KEY).from_timestamp
    expected = [lerobot_frame(clip, ep1 + k / FPS) for k in range(10)] + [
        lerobot_frame(clip, k / FPS) for k in range(10)
    ]
    for got, want in zip(batch_decode(refs), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_timestamps_lerobot_refuses_are_refused(dataset: tuple[Path, Clip]) -> None:
    root, _clip = dataset
    videos = LeRobotVideos.from_root(root)
    # Within the tolerance: the same frame; beyond it, LeRobot's FrameTimestampError case.
    assert videos.ref(0, KEY, 3 / FPS + 0.9e-4) == videos.refs(0, KEY)[3]
    with pytest.raises(
        InvalidReferenceError,
        match=r"timestamp 0.05 s of episode 0 is 0.0166667 s from its nearest frame 2 at 30 fps; "
        r"LeRobot's tolerance_s is 0.0001",
    ):
        videos.ref(0, KEY, 0.05)
    with pytest.raises(
        InvalidReferenceError,
        match=r"timestamp 0.3333333333333333 s is outside episode 0: its 10 frames at 30 fps "
        r"are at \[0, 0.3\] s",
    ):
        videos.ref(0, KEY, 10 / FPS)


def test_locate_refuses_refs_outside_the_dataset(dataset: tuple[Path, Clip]) -> None:
    root, _clip = dataset
    videos = LeRobotVideos.from_root(root)
    shard = videos.uri(0, KEY)
    with pytest.raises(InvalidReferenceError, match="no episode has a frame there"):
        # The last frame is on screen until ceil(20/30 s) = 666,666,667 ns, exclusive.
        videos.locate(MediaRef(shard, 666_666_667))
    assert videos.locate(MediaRef(shard, 666_666_666)) == FrameLocation(1, KEY, 9, 9 / FPS)
    with pytest.raises(InvalidReferenceError, match="no episode has a frame there"):
        videos.locate(MediaRef(shard, -1))
    with pytest.raises(InvalidReferenceError, match="not a video of this LeRobot dataset"):
        videos.locate(MediaRef("elsewhere.mp4", 0))


def _rows(root: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
