"""Opening a file again without FFmpeg's probe decode, where the H.264 SPS makes it needless."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

import mediaref
import mediaref_av
from mediaref_av import _pool
from tests.media import ClipFactory, need_ffmpeg


@pytest.fixture(autouse=True)
def fresh() -> None:
    mediaref_av.clear_caches()
    mediaref_av.reset_counters()


def _x264(path: Path, *args: str, size: str = "96x64") -> Path:
    subprocess.run(
        [need_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
         "-frames:v", "20", "-c:v", "libx264", *args, str(path)],
        check=True,
    )  # fmt: skip
    return path


def _ffmpeg_reads_restriction(path: Path) -> bool:
    """The first SPS's ``bitstream_restriction_flag`` as FFmpeg's trace_headers reads it."""
    out = subprocess.run(
        [need_ffmpeg(), "-hide_banner", "-i", str(path), "-frames:v", "1", "-c", "copy",
         "-bsf:v", "trace_headers", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    m = re.search(r"bitstream_restriction_flag\s+[01]+ = ([01])", out)
    return m is not None and m.group(1) == "1"


@pytest.mark.parametrize(
    ("name", "args", "size", "declared"),
    [
        ("default.mp4", "", "96x64", True),  # B-frames: x264 declares 2 reorder frames
        ("default.mkv", "", "96x64", True),
        ("baseline.mp4", "-profile:v baseline", "96x64", True),
        ("intra.mp4", "-x264-params keyint=1", "96x64", False),  # intra only
        ("yuv444.mp4", "-pix_fmt yuv444p", "96x64", True),  # chroma_format_idc 3
        ("high10.mp4", "-pix_fmt yuv420p10le", "96x64", True),
        ("cqm.mp4", "-x264-params cqm=jvt", "96x64", True),  # scaling lists in the SPS
        ("interlaced.mp4", "-flags +ildct+ilme", "96x64", True),  # frame_mbs_only_flag 0
        ("cropped.mp4", "", "98x66", True),  # frame cropping
        ("hrd.mp4", "-b:v 3M -maxrate 3M -bufsize 6M -x264-params nal-hrd=vbr", "96x64", True),
        ("colour.mp4", "-color_primaries bt709 -colorspace bt709 -vf setsar=40/33", "96x64", True),
    ],
)
def test_declared_reorder_is_what_ffmpeg_reads_in_the_sps(
    tmp_path: Path, name: str, args: str, size: str, declared: bool
) -> None:
    f = _x264(tmp_path / name, *args.split(), size=size)
    assert _ffmpeg_reads_restriction(f) is declared  # the independent reading
    with mediaref_av.open(str(f)) as video:
        assert video.index.data.declared_reorder is declared


def test_parameter_sets_in_band_only_are_not_read(tmp_path: Path) -> None:
    f = _x264(tmp_path / "annexb.ts")
    assert _ffmpeg_reads_restriction(f)  # the stream declares it, but not in avcC
    with mediaref_av.open(str(f)) as video:
        assert video.index.data.declared_reorder is False


class _Opens:
    """Records the options of every `av.open`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.options: list[dict[str, str]] = []
        real = av.open

        def spy(*args: Any, **kwargs: Any) -> Any:
            self.options.append(dict(kwargs.get("options") or {}))
            return real(*args, **kwargs)

        monkeypatch.setattr(av, "open", spy)

    @property
    def skipped(self) -> list[bool]:
        return [o.get("skip_frame") == "all" for o in self.options]


@pytest.mark.parametrize("kind", ["h264_bframes_mp4", "h264_open_gop_mkv", "h264_rotated_mp4"])
def test_a_file_opened_again_skips_the_probes_decode_and_gives_the_same_frames(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    clip = clip_factory(kind)
    opens = _Opens(monkeypatch)
    times = clip.starts_ns
    with mediaref_av.open(clip.uri, workers=1) as video:
        assert video.index.data.declared_reorder is True
        first = video.frames_played_at(times)
    _pool.close_all()
    # Opened again (the index known): from the first keyframe, and from one mid-stream,
    # each on a fresh container, one thread and frame threads.
    again = []
    for threads in (1, 2):
        for start in (0, len(times) // 2):
            _pool.close_all()
            with mediaref_av.open(clip.uri, workers=1, threads=threads) as video:
                again.append((start, video.frames_played_at(times[start:])))
    assert opens.skipped[0] is False  # the first open, which builds the index, probes
    assert len(opens.skipped) >= 5 and all(opens.skipped[1:])
    for t, a in zip(times, first, strict=True):
        np.testing.assert_array_equal(a, clip.frame_on_screen_at(t))
    for start, frames in again:
        for t, a in zip(times[start:], frames, strict=True):
            np.testing.assert_array_equal(a, clip.frame_on_screen_at(t))


def test_a_file_whose_sps_declares_nothing_keeps_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _x264(tmp_path / "intra.mp4", "-x264-params", "keyint=1")
    opens = _Opens(monkeypatch)
    with mediaref_av.open(str(f)) as video:
        assert video.index.data.declared_reorder is False
        video.frames_played_at([0])
    _pool.close_all()
    with mediaref_av.open(str(f)) as video:
        video.frames_played_at([0])
    assert opens.skipped == [False, False]


def test_a_remote_source_keeps_the_probe(
    clip_factory: ClipFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = clip_factory("h264_bframes_mp4")
    uri = mediaref.DataURI.from_bytes(clip.path.read_bytes(), "video/mp4").uri
    opens = _Opens(monkeypatch)
    for _ in range(2):
        _pool.close_all()
        with mediaref_av.open(uri) as video:
            t = clip.starts_ns[7]
            np.testing.assert_array_equal(
                video.frames_played_at([t])[0], clip.frame_on_screen_at(t)
            )
    assert len(opens.skipped) == 2 and not any(opens.skipped)
