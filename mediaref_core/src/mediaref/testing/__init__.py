"""Prove a video backend exact: an independent oracle, edge-case media and checks.

Not imported by ``import mediaref``. Needs PyAV and NumPy, imported on first use; without
PyAV the checks raise `unittest.SkipTest` (pytest reports a skip). A backend author's test::

    from mediaref.testing import check_video_backend

    def test_my_backend_conforms(tmp_path):
        check_video_backend("mybackend", tmp_path)

or, one pytest test per check, ``conformance_cases("mybackend")`` with
``pytest.mark.parametrize(..., ids=str)`` and ``case.run(media_dir)``.
"""

from __future__ import annotations

from ._conformance import (
    FRAME_CHECKS,
    ConformanceCase,
    Report,
    check_video_backend,
    conformance_cases,
)
from ._media import EDGE_CASES, EdgeCase, encode, have_encoder, make_edge_case, picture
from ._oracle import Clip, decode_sequentially

__all__ = [
    "EDGE_CASES",
    "FRAME_CHECKS",
    "Clip",
    "ConformanceCase",
    "EdgeCase",
    "Report",
    "check_video_backend",
    "conformance_cases",
    "decode_sequentially",
    "encode",
    "have_encoder",
    "make_edge_case",
    "picture",
]
