"""``batch_decode(out=...)`` through the core: a backend without `FramesInto` gets a copy."""

from __future__ import annotations

import numpy as np
import pytest

from mediaref import InvalidOutputError, MediaRef, TimestampOutOfRangeError, batch_decode

mediaref_fake = pytest.importorskip("mediaref_fake")


@pytest.fixture(autouse=True)
def _store() -> None:
    mediaref_fake.STORE.update({"a": b"a", "b": b"b"})


def test_frames_of_a_backend_without_frames_into_are_copied_into_the_slots() -> None:
    refs = [MediaRef("mem:a", 300_000_000), MediaRef("mem:b", 0), MediaRef("mem:a", 900_000_000)]
    out = np.zeros((3, 2, 4, 3), np.uint8)
    got = batch_decode(refs, decoder="fake", out=out)
    assert [int(v) for v in out[:, 0, 0, 0]] == [3, 0, 9]
    assert all(np.shares_memory(g, out[i]) for i, g in enumerate(got))


def test_a_flat_memoryview_is_a_valid_out_without_numpy_indexing() -> None:
    buf = bytearray(2 * 2 * 4 * 3)
    view = memoryview(buf).cast("B", (2, 2, 4, 3))
    got = batch_decode(
        [MediaRef("mem:a", 500_000_000), MediaRef("mem:b", 100_000_000)], decoder="fake", out=view
    )
    assert bytes(buf) == bytes([5] * 24 + [1] * 24)
    assert [g.shape for g in got] == [(2, 4, 3), (2, 4, 3)]


def test_images_are_copied_into_their_slots() -> None:
    out = [np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8)]
    got = batch_decode([MediaRef("mem:a"), MediaRef("mem:a")], decoder="fakeimg", out=out)
    assert got[0] is out[0] and got[1] is out[1]
    assert (out[0] == 7).all() and (out[1] == 7).all()


def test_a_failed_reference_leaves_zeros_and_the_others_their_frames() -> None:
    refs = [
        MediaRef("mem:a", 200_000_000),
        MediaRef("mem:a", 5_000_000_000),
        MediaRef("mem:missing", 0),
    ]
    out = np.full((3, 2, 4, 3), 99, np.uint8)
    got = batch_decode(refs, decoder="fake", out=out, on_error="return")
    assert isinstance(got[1], TimestampOutOfRangeError)
    assert (out[0] == 2).all() and not out[1].any() and not out[2].any()


def test_a_copied_frame_of_another_shape_fails_its_reference_alone() -> None:
    out = [np.zeros((2, 4, 3), np.uint8), np.zeros((4, 2, 3), np.uint8)]
    got = batch_decode(
        [MediaRef("mem:a", 0), MediaRef("mem:b", 0)], decoder="fake", out=out, on_error="return"
    )
    assert got[0] is out[0]
    assert isinstance(got[1], InvalidOutputError)
    assert (
        str(got[1]) == "out slot has shape (4, 2, 3), the frame is (2, 4, 3) ('mem:b' at pts_ns=0)"
    )
