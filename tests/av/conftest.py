from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.media import Clip, make

_made: dict[str, Clip] = {}


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    def get(kind: str) -> Clip:
        if kind not in _made:
            _made[kind] = make(kind, tmp_path_factory.mktemp(kind))
        return _made[kind]

    return get
