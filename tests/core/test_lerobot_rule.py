"""mediaref.lerobot's rule without video or pyarrow (decoding: tests/integrations)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaref import InvalidReferenceError, MediaRef
from mediaref.lerobot import FrameLocation, LeRobotVideos, frame_index_at, frame_pts_ns

INFO: dict[str, Any] = {
    "codebase_version": "v3.0",
    "fps": 30,
    "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
    "features": {"cam": {"dtype": "video"}, "state": {"dtype": "float32"}},
}


def row(episode: int, start: float, length: int, file_index: int = 0) -> dict[str, Any]:
    return {
        "episode_index": episode,
        "length": length,
        "videos/cam/chunk_index": 0,
        "videos/cam/file_index": file_index,
        "videos/cam/from_timestamp": start,
        "videos/cam/to_timestamp": start + length / 30,
    }


def test_the_rule_is_the_middle_of_the_frame_on_the_shards_timeline() -> None:
    assert frame_pts_ns(0.0, 0, 30) == 16_666_667  # 1/60 s, rounded
    assert frame_pts_ns(0.0, 1, 30) == 50_000_000
    assert frame_pts_ns(10 / 30, 0, 30) == 350_000_000  # the float 10/30 is a hair below 1/3
    assert frame_pts_ns(0.0, 0, 29.97) == 16_683_350  # 1e9 / (2 * 29.97) = 16,683,350.02
    assert frame_index_at(frame_pts_ns(10 / 30, 7, 30), 10 / 30, 30) == 7


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=10**5),
    st.sampled_from([1, 10, 15, 24, 25, 30, 50, 60, 100, 120, 1000, 29.97]),
)
def test_frame_index_at_inverts_frame_pts_ns(start_frames: int, k: int, fps: float) -> None:
    start = start_frames / fps  # episodes start on the frame grid, as LeRobot writes them
    pts_ns = frame_pts_ns(start, k, fps)
    assert frame_index_at(pts_ns, start, fps) == k
    # Robust to any deviation of the real pts within LeRobot's tolerance (1e-4 s).
    exact_start_ns = (Fraction(start) + Fraction(k) / Fraction(str(fps))) * 10**9
    assert (
        exact_start_ns + 100_000
        < pts_ns
        < exact_start_ns + Fraction(10**9) / Fraction(str(fps)) - 100_000
    )


def test_locate_and_refs_from_rows_given_in_memory() -> None:
    videos = LeRobotVideos(
        "data", INFO, [row(0, 0.0, 3), row(1, 0.1, 2), row(2, 0.0, 4, file_index=1)]
    )
    assert videos.video_keys == ("cam",)
    assert videos.refs(1, "cam") == [
        MediaRef("data/videos/cam/chunk-000/file-000.mp4", 116_666_667),
        MediaRef("data/videos/cam/chunk-000/file-000.mp4", 150_000_000),
    ]
    assert videos.locate(
        MediaRef("/elsewhere/data/videos/cam/chunk-000/file-001.mp4", 116_666_666)
    ) == (FrameLocation(2, "cam", 3, 0.1))
    assert videos.locate(videos.ref(1, "cam", 1 / 30)) == FrameLocation(1, "cam", 1, 1 / 30)
    with pytest.raises(InvalidReferenceError, match="no episode has a frame there"):
        videos.locate(MediaRef("data/videos/cam/chunk-000/file-000.mp4"))
    with pytest.raises(KeyError, match=r"no episode 5 with video 'cam' \(video keys: \['cam'\]\)"):
        videos.refs(5, "cam")


def test_only_v3_datasets_and_complete_rows() -> None:
    with pytest.raises(
        ValueError, match=r"only LeRobot v3 datasets are supported, got codebase_version 'v2\.1'"
    ):
        LeRobotVideos("", {**INFO, "codebase_version": "v2.1"}, [])
    with pytest.raises(ValueError, match="an episode row lacks 'length'"):
        LeRobotVideos("", INFO, [{k: v for k, v in row(0, 0.0, 3).items() if k != "length"}])
