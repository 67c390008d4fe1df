"""Fixtures of the reliability tests: the corpus and the intact clips, made once a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediaref.testing import Clip
from tests.conftest import need
from tests.reliability import corpus


@pytest.fixture(scope="session")
def built_corpus(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[corpus.Case], dict[str, Clip]]:
    need("av")
    need("mediaref_av")
    need("mediaref_pil")
    return corpus.build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def clips(built_corpus: tuple[list[corpus.Case], dict[str, Clip]]) -> dict[str, Clip]:
    return built_corpus[1]


@pytest.fixture(scope="session")
def still_png(clips: dict[str, Clip]) -> Path:
    return clips["h264_mp4"].path.parent / "still.png"
