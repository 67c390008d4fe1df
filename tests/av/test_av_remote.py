"""Remote sources: every frame test again over loopback HTTP, and what reads cost in bytes.

The clips are served by the real loopback server (`tests.httpserver`); the index then
comes from the container's own tables where it has them (MP4/MOV), else from a full
scan, and the decoder reads through a block cache with planned, coalesced Range requests.
Pixels are compared with the local sequential decode, as for local files.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import mediaref_av
from mediaref._cli import main
from mediaref.testing import Clip, decode_sequentially
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


@pytest.fixture(params=KINDS)
def clip(
    request: pytest.FixtureRequest,
    clip_factory: ClipFactory,
    http_root: Path,
    http_server: LoopbackServer,
) -> Clip:
    return served(clip_factory(request.param), http_root, http_server)


MP4_KINDS = [k for k in KINDS if k.endswith("mp4")]


@pytest.mark.parametrize("kind", MP4_KINDS)
def test_mp4_indexes_come_from_the_sample_tables(
    kind: str, clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    remote = served(clip_factory(kind), http_root, http_server)
    with mediaref_av.open(remote.uri) as video:
        assert video.index_origin == "container tables (moov)"


@pytest.mark.parametrize("kind", ["hevc_mkv", "vp9_webm"])
def test_matroska_with_cues_is_indexed_from_them_and_probe_says_so(
    kind: str,
    clip_factory: ClipFactory,
    http_root: Path,
    http_server: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    remote = served(clip_factory(kind), http_root, http_server)
    assert main(["probe", remote.uri]) == 0
    out = capsys.readouterr().out
    # PyAV's muxer puts several of these small GOPs in one cluster: a GOP then ends at the
    # next cue's keyframe, not at a cluster.
    assert "index: matroska cues (3 keyframes): each GOP demuxed when a request first" in out


def test_cueless_matroska_is_scanned_frames_exact_and_probe_says_it_has_no_cues(
    clip_factory: ClipFactory,
    http_root: Path,
    http_server: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The ffmpeg CLI writing to a pipe cannot seek back: no cues, no SeekHead entry.
    source = clip_factory("h264_open_gop_mkv").path
    cueless = http_root / "cueless.mkv"
    ffmpeg = ["ffmpeg", "-loglevel", "error", "-i", str(source), "-c", "copy", "-f", "matroska"]
    with open(cueless, "wb") as out:
        subprocess.run([*ffmpeg, "-"], stdout=out, check=True)
    oracle = decode_sequentially(cueless)
    uri = http_server.url("files/cueless.mkv")
    assert main(["probe", uri]) == 0
    assert "index: full scan (no sample tables in matroska; it has no cues)" in (
        capsys.readouterr().out
    )
    times = oracle.probe_times()
    with mediaref_av.open(uri) as video:
        frames = video.frames_played_at(times)
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, oracle.frame_on_screen_at(t), err_msg=f"pts_ns={t}")


@pytest.mark.parametrize("kind", ["h264_mpegts"])
def test_containers_without_tables_say_they_were_scanned(
    kind: str, clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    remote = served(clip_factory(kind), http_root, http_server)
    with mediaref_av.open(remote.uri) as video:
        assert video.index_origin.startswith("full scan (no sample tables in ")


def test_cues_on_every_packet_of_hevc_fall_back_to_the_full_scan(
    clip_factory: ClipFactory, http_root: Path, http_server: LoopbackServer
) -> None:
    # The muxer flagged every packet as key, so the cues list every packet; the first cue
    # whose packet is not an IRAP picture shows that the cues cannot be trusted.
    remote = served(clip_factory("hevc_every_packet_key_mkv"), http_root, http_server)
    times = remote.probe_times()
    with mediaref_av.open(remote.uri) as video:
        assert video.index_origin.startswith("matroska cues (45 keyframes)")
        frames = video.frames_played_at(times)
        assert video.index_origin == (
            "full scan (no sample tables in matroska; its cues list keyframes only)"
        )
    for t, frame in zip(times, frames, strict=True):
        np.testing.assert_array_equal(frame, remote.frame_on_screen_at(t), err_msg=f"pts_ns={t}")
