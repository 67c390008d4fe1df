from __future__ import annotations

import numpy as np
import pytest

from mediaref import (
    MediaRef,
    MediaRefError,
    SourceNotFoundError,
    TimestampOutOfRangeError,
    batch_decode,
)
from mediaref.video_decoder import BatchDecodingStrategy

mediaref_fake = pytest.importorskip("mediaref_fake")


@pytest.fixture(autouse=True)
def _store() -> None:
    mediaref_fake.STORE.update({"a": b"a", "b": b"b"})
    mediaref_fake.OPENED.clear()


def frame(i: int) -> np.ndarray:
    return np.full((2, 4, 3), i, np.uint8)


def test_order_is_kept_and_each_video_opened_once() -> None:
    refs = [
        MediaRef("mem:a", 300_000_000),
        MediaRef("mem:b", 100_000_000),
        MediaRef("mem:a", 0),
        MediaRef("mem:a", 300_000_000),
    ]
    out = batch_decode(refs, decoder="fake")
    for got, want in zip(out, [3, 1, 0, 3], strict=True):
        np.testing.assert_array_equal(got, frame(want))
    assert sorted(mediaref_fake.OPENED) == ["mem:a", "mem:b"]


def test_strategy_of_the_pypi_package_is_accepted() -> None:
    refs = [MediaRef("mem:a", int(i * 1e8)) for i in range(10)]
    out = batch_decode(
        refs, decoder="fake", strategy=BatchDecodingStrategy.SEQUENTIAL_PER_KEYFRAME_BLOCK
    )
    assert [int(f[0, 0, 0]) for f in out] == list(range(10))


def test_on_error_return_keeps_the_others() -> None:
    refs = [
        MediaRef("mem:a", 100_000_000),
        MediaRef("mem:a", 2_000_000_000),
        MediaRef("mem:missing", 0),
        MediaRef("mem:b", 900_000_000),
    ]
    out = batch_decode(refs, decoder="fake", on_error="return")
    np.testing.assert_array_equal(out[0], frame(1))
    assert isinstance(out[1], TimestampOutOfRangeError)
    assert str(out[1]) == (
        "pts_ns=2000000000 is out of range: frames are shown in [0, 1000000000) ns = "
        "[0.000000, 1.000000) s ('mem:a' at pts_ns=2000000000)"
    )
    assert isinstance(out[2], SourceNotFoundError) and out[2].uri == "mem:missing"
    np.testing.assert_array_equal(out[3], frame(9))


def test_a_failing_source_is_reported_for_each_timestamp() -> None:
    refs = [MediaRef("mem:missing", 0), MediaRef("mem:missing", 500)]
    out = batch_decode(refs, decoder="fake", on_error="return")
    assert [str(e) for e in out] == [
        "no such key in the memory store ('mem:missing' at pts_ns=0)",
        "no such key in the memory store ('mem:missing' at pts_ns=500)",
    ]
    assert [type(e) for e in out] == [SourceNotFoundError, SourceNotFoundError]


def test_on_error_raise_raises_the_first_failure_in_input_order() -> None:
    refs = [
        MediaRef("mem:a", 100_000_000),
        MediaRef("mem:missing", 0),
        MediaRef("mem:a", 2_000_000_000),
    ]
    with pytest.raises(SourceNotFoundError, match="mem:missing"):
        batch_decode(refs, decoder="fake")


def test_errors_survive_pickling() -> None:
    import pickle

    err = TimestampOutOfRangeError("v.mp4", 10, 0, 5)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is TimestampOutOfRangeError
    assert (back.uri, back.pts_ns, back.begin_ns, back.end_ns, str(back)) == (
        "v.mp4",
        10,
        0,
        5,
        str(err),
    )
    nf = pickle.loads(pickle.dumps(SourceNotFoundError("no such file", uri="x.png")))
    assert isinstance(nf, FileNotFoundError) and str(nf) == "no such file ('x.png')"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'return'"):
        batch_decode([], on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="batch_decode takes MediaRef objects, got str"):
        batch_decode(["a.png"])  # type: ignore[list-item]
    assert batch_decode([]) == []
    bad_format = "format must be one of 'rgb', 'bgr', 'rgba', 'bgra', 'gray', got 'rgb24'"
    with pytest.raises(ValueError, match=bad_format):
        batch_decode([MediaRef("mem:a", 0)], format="rgb24")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=bad_format):
        MediaRef("mem:a", 0).to_ndarray(format="rgb24")  # type: ignore[arg-type]


def test_mixed_image_and_video_batch_uses_each_kind_of_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mediaref import _plugins

    monkeypatch.setenv("MEDIAREF_FAKE_PRIORITY", "10000")
    _plugins.reset_plugins()
    try:
        out = batch_decode(
            [MediaRef("mem:a"), MediaRef("mem:a", 500_000_000), MediaRef("mem:a")],
            decoder="fake",
            max_workers=2,
        )
    finally:
        _plugins.reset_plugins()
    np.testing.assert_array_equal(out[0], np.full((2, 2, 3), 7, np.uint8))
    np.testing.assert_array_equal(out[1], frame(5))
    np.testing.assert_array_equal(out[2], out[0])
    assert out[2] is not out[0]
    assert all(not isinstance(o, MediaRefError) for o in out)
