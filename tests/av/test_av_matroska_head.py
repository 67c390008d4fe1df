"""`has_cues` reads untrusted bytes: any input gives True, False or None, never an error."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from mediaref_av._matroska import has_cues
from tests.media import ClipFactory


@given(st.binary(max_size=512))
def test_any_bytes_give_an_answer_or_none(head: bytes) -> None:
    assert has_cues(head) in (True, False, None)


def test_every_prefix_of_a_real_head_answers_or_says_it_cannot_tell(
    clip_factory: ClipFactory, tmp_path: Path
) -> None:
    with_cues = clip_factory("hevc_mkv").path.read_bytes()[:65536]
    cueless_file = tmp_path / "piped.mkv"
    ffmpeg = ["ffmpeg", "-loglevel", "error", "-i", str(clip_factory("hevc_mkv").path)]
    with open(cueless_file, "wb") as out:
        subprocess.run([*ffmpeg, "-c", "copy", "-f", "matroska", "-"], stdout=out, check=True)
    cueless = cueless_file.read_bytes()[:65536]
    assert (has_cues(with_cues), has_cues(cueless)) == (True, False)
    for head, answer in ((with_cues, True), (cueless, False)):
        for n in range(0, 512):
            assert has_cues(head[:n]) in (answer, None)
