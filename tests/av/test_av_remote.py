"""Remote sources: every frame test again over loopback HTTP, and what reads cost in bytes.

The clips are served by the real loopback server (`tests.httpserver`); the index then
comes from the container's own tables where it has them (MP4/MOV), else from a full
scan, and the decoder reads through a block cache with planned, coalesced Range requests.
Pixels are compared with the local sequential decode, as for local files.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

import mediaref
import mediaref_av
from mediaref.testing import Clip
from tests.av.test_av_frames import (
    test_every_probe_time_in_one_call_matches_sequential_decode,
    test_metadata_range_and_count_match_the_oracle,
    test_out_of_range_names_the_valid_range,
    test_random_subsets_with_repeats_match_sequential_decode,
    test_single_calls_in_random_order_match_sequential_decode,
    test_stepping_forward_one_call_per_frame_matches_sequential_decode,
)
from tests.httpserver import LoopbackServer
from tests.media import KINDS, ClipFactory

__all__ = [
    "test_every_probe_time_in_one_call_matches_sequential_decode",
    "test_metadata_range_and_count_match_the_oracle",
    "test_out_of_range_names_the_valid_range",
    "test_random_subsets_with_repeats_match_sequential_decode",
    "test_single_calls_in_random_order_match_sequential_decode",
    "test_stepping_forward_one_call_per_frame_matches_sequential_decode",
]


class ServedClip(Clip):
    """A clip whose ``uri`` is its address on the loopback server."""

    served: str = ""

    @property
    def uri(self) -> str:
        return self.served


def served(clip: Clip, root: Path, server: LoopbackServer) -> ServedClip:
    name = f"{clip.path.parent.name}-{clip.path.name}"
    shutil.copyfile(clip.path, root / name)
    out = copy.copy(clip)
    out.__class__ = ServedClip
    out.served = server.url(f"files/{name}")  # type: ignore[attr-defined]
    return out  # type: ignore[return-value]


REMOTE_KINDS = [k for k in KINDS if k not in ("av1_lerobot_mp4", "hevc_ffmpeg_mp4")]
"""Two clips made by the ffmpeg command fail over HTTP (`_REMOTE_BUG`): x265's defaults
always (the strict xfail below), LeRobot's AV1 in some runs of the same calls (stepping
forward one frame per call, or every probe time in one call), so it has no test here."""


@pytest.fixture(params=REMOTE_KINDS)
def clip(
    request: pytest.FixtureRequest,
    clip_factory: ClipFactory,
    http_root: Path,
    http_server: LoopbackServer,
) -> Clip:
    return served(clip_factory(request.param), http_root, http_server)


_REMOTE_BUG = (
    "known bug, found by issue 13's ffmpeg-CLI media, also at 2d65b5c: over HTTP the "
    "decode fails where the local file decodes exactly (x265 defaults in MP4: a frame "
    "never output; LeRobot's AV1: InvalidDataError in avcodec_send_packet, in some runs). "
    "The remote byte-range path (_blockfile, _tables) is to be fixed"
)


@pytest.mark.xfail(strict=True, raises=mediaref.UndecodableMediaError, reason=_REMOTE_BUG)
def test_x265_defaults_over_http_match_sequential_decode(
    clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    clip = served(clip_factory("hevc_ffmpeg_mp4"), http_root, http_server)
    test_every_probe_time_in_one_call_matches_sequential_decode(clip)


MP4_KINDS = [k for k in KINDS if k.endswith("mp4")]


@pytest.mark.parametrize("kind", MP4_KINDS)
def test_mp4_indexes_come_from_the_sample_tables(
    kind: str, clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    remote = served(clip_factory(kind), http_root, http_server)
    with mediaref_av.open(remote.uri) as video:
        assert video.index_origin == "container tables (moov)"


@pytest.mark.parametrize("kind", ["h264_mpegts", "hevc_mkv"])
def test_containers_without_tables_say_they_were_scanned(
    kind: str, clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    remote = served(clip_factory(kind), http_root, http_server)
    with mediaref_av.open(remote.uri) as video:
        assert video.index_origin.startswith("full scan (no sample tables in ")
