from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import unittest
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaref import _plugins
from mediaref.testing import (
    EDGE_CASES,
    ConformanceCase,
    check_video_backend,
    conformance_cases,
    decode_sequentially,
    have_encoder,
    make_edge_case,
)
from tests import media
from tests.conftest import need

BFRAMES = "h264_bframes_open_gop_mp4"


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need("av")
    need("mediaref_av")
    return tmp_path_factory.mktemp("conformance")


@pytest.fixture
def wrong_backends(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = importlib.metadata.entry_points(group="mediaref")
    ep = importlib.metadata.EntryPoint("wrong", "tests.conformance.wrong_backends", "mediaref")
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [*real, ep])
    _plugins.reset_plugins()
    yield
    monkeypatch.undo()
    _plugins.reset_plugins()


@pytest.mark.parametrize("case", conformance_cases("pyav"), ids=str)
def test_pyav_passes_each_check(case: ConformanceCase, media_dir: Path) -> None:
    try:
        case.run(media_dir)
    except unittest.SkipTest as e:  # an encoder this PyAV lacks: CI must have them all
        media.need(False, str(e))


def test_pyav_passes_the_one_call_check(media_dir: Path) -> None:
    report = check_video_backend("pyav", media_dir)
    assert report.ok and not report.failed
    assert len(report.passed) + len(report.skipped) == len(conformance_cases("pyav"))
    # Only a missing encoder skips a case: HEVC without libx265.
    skipped = {case for case, _ in report.skipped}
    assert all(c.startswith("hevc_mkv:") for c in skipped)
    assert bool(skipped) == (not have_encoder("libx265"))


def test_a_backend_one_frame_early_fails_naming_the_case_and_the_pts(
    media_dir: Path, wrong_backends: None
) -> None:
    clip = decode_sequentially(make_edge_case(BFRAMES, media_dir))
    with pytest.raises(AssertionError) as info:
        check_video_backend("one_frame_early", media_dir, media=[BFRAMES])
    msg = str(info.value)
    s1 = clip.starts_ns[1]
    assert f"FAILED {BFRAMES}:frames: bframes_open_gop.mp4, batch_decode of" in msg
    assert f"FAILED {BFRAMES}:single:" in msg and f"FAILED {BFRAMES}:threads:" in msg
    assert f"pts_ns={s1}: want frame 1 (pts_ns {s1}), got a frame closest to frame 0" in msg
    # Selection is all it gets wrong: errors and metadata pass.
    for ok in ("missing_file", "corrupt_file", f"{BFRAMES}:metadata", f"{BFRAMES}:range"):
        assert f"FAILED {ok}:" not in msg


def test_a_backend_ignoring_the_ceil_rule_fails_one_ns_before_each_frame(
    media_dir: Path, wrong_backends: None
) -> None:
    clip = decode_sequentially(make_edge_case(BFRAMES, media_dir))
    assert clip.starts_ns[1] == 33_333_334  # 1/30 s is not a whole ns
    with pytest.raises(AssertionError) as info:
        check_video_backend("floor_rule", media_dir, media=[BFRAMES, "h264_vfr_mkv"])
    msg = str(info.value)
    assert f"FAILED {BFRAMES}:frames:" in msg
    assert "pts_ns=33333333: want frame 0 (pts_ns 0), got a frame closest to frame 1" in msg
    # Frames that start on a whole ns (1 ms ticks) are where the floor rule is right.
    assert "FAILED h264_vfr_mkv" not in msg


@pytest.mark.parametrize(
    ("backend", "check", "who"),
    [
        ("early_off_main_thread", "threads", "thread 0"),
        ("early_after_fork", "fork", "forked child"),
    ],
)
def test_a_backend_wrong_only_in_threads_or_after_fork_fails_that_check_alone(
    media_dir: Path, wrong_backends: None, backend: str, check: str, who: str
) -> None:
    clip = decode_sequentially(make_edge_case(BFRAMES, media_dir))
    with pytest.raises(AssertionError) as info:
        check_video_backend(backend, media_dir, media=[BFRAMES])
    msg = str(info.value)
    assert re.findall(r"^FAILED (\S+): ", msg, re.MULTILINE) == [f"{BFRAMES}:{check}"]
    found = re.search(
        rf"{who}: pts_ns=(\d+): want frame (\d+) \(pts_ns \d+\), "
        r"got a frame closest to frame (\d+) ",
        msg,
    )
    assert found is not None, msg
    t, want, got = map(int, found.groups())
    assert want == clip.index_at(t) and got == want - 1


def test_a_backend_wrong_only_after_park_fails_keep_open_and_the_checks_it_served_parked(
    media_dir: Path, wrong_backends: None
) -> None:
    # The core parks a `KeepOpen` decoder between calls on a local file, so the checks
    # made of several calls get it parked too; `keep_open` names the cause.
    clip = decode_sequentially(make_edge_case(BFRAMES, media_dir))
    with pytest.raises(AssertionError) as info:
        check_video_backend("early_after_park", media_dir, media=[BFRAMES])
    msg = str(info.value)
    failed = re.findall(r"^FAILED (\S+): ", msg, re.MULTILINE)
    assert f"{BFRAMES}:keep_open" in failed
    assert f"{BFRAMES}:metadata" not in failed and "missing_file" not in failed
    found = re.search(
        r"KeepOpen: a call, park\(\), another call: \d+ wrong: after park\(\): "
        r"pts_ns=(\d+): want frame (\d+) \(pts_ns \d+\), got a frame closest to frame (\d+) ",
        msg,
    )
    assert found is not None, msg
    t, want, got = map(int, found.groups())
    assert want == clip.index_at(t) and got == max(want - 1, 0) and "before park()" not in msg


def test_the_fake_entry_point_backend_is_found_and_fails_the_kit(media_dir: Path) -> None:
    # mediaref-fake's "fake" backend answers every file with 10 constant 4x2 frames:
    # it is a plugin-mechanism fixture, not a decoder, and the kit says so.
    need("mediaref_fake")
    _plugins.reset_plugins()
    try:
        with pytest.raises(AssertionError) as info:
            check_video_backend("fake", media_dir, media=["h264_single_frame_mp4"])
    finally:
        _plugins.reset_plugins()
    msg = str(info.value)
    assert re.search(r"FAILED h264_single_frame_mp4:metadata: .*num_frames=10, want 1", msg)
    assert "FAILED corrupt_file: MediaRef.to_ndarray('corrupt.mp4') returned a frame" in msg


def test_cases_have_readable_ids_and_unknown_media_are_refused() -> None:
    ids = [c.id for c in conformance_cases("x")]
    assert ids[:3] == ["missing_file", "corrupt_file", "truncated_file"]
    assert f"{BFRAMES}:frames" in ids and f"{EDGE_CASES[-1].name}:fork" in ids
    with pytest.raises(ValueError, match="unknown edge cases \\['nope'\\]"):
        conformance_cases("x", media=["nope"])


def test_import_mediaref_does_not_import_the_kit() -> None:
    code = "import sys, mediaref; print('mediaref.testing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_the_kit_imports_no_codec_or_array_library() -> None:
    code = (
        "import sys, mediaref.testing; print(sorted({'numpy', 'av', 'PIL'} & sys.modules.keys()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
