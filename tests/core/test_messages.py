"""Error messages stay short whatever the input: issue 16 (a 10 MB URI scheme gave a
10,000,207-character message)."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

import mediaref
from mediaref import (
    BackendNotInstalledError,
    DataURI,
    InvalidOptionError,
    InvalidReferenceError,
    MediaRef,
    MediaRefError,
    TimestampOutOfRangeError,
    batch_decode,
    open_source,
)

BIG = "a" * 10_000_000
BOUND = 500

URIS = {
    "scheme": BIG + ":x",
    "path": "/tmp/" + BIG,
    "data-no-comma": "data:" + BIG,
    "data-parameter": "data:image/png;" + BIG + ",x",
    "data-media-type": "data:" + BIG + ";base64,eA==",
    "http-host": "http://" + BIG + "/x.png",
    "http-port": "http://h:" + BIG + "/x.png",
    "file-host": "file://" + BIG + "/x.png",
}

CALLS: dict[str, Callable[[str, int | None], object]] = {
    "to_ndarray": lambda u, t: MediaRef(u, t).to_ndarray(),
    "open_source": lambda u, t: open_source(u).read_all(),
    "DataURI.from_uri": lambda u, t: DataURI.from_uri(u),
    "resolve": lambda u, t: MediaRef(u, t).resolve_relative_path("/b", on_unresolvable="error"),
    "decoder-name": lambda u, t: MediaRef(u, t).to_ndarray(decoder=BIG),
    "option-name": lambda u, t: MediaRef(u, t).to_ndarray(**{BIG: 1}),
    "batch": lambda u, t: batch_decode([MediaRef(u, t)], on_error="raise"),
}


# Every pair but resolving an absolute path, which needs no base and raises nothing.
PAIRS = [(u, c) for u in sorted(URIS) for c in sorted(CALLS) if (u, c) != ("path", "resolve")]


@pytest.mark.parametrize("pts_ns", [None, 0], ids=["image", "video"])
@pytest.mark.parametrize(("uri", "call"), PAIRS, ids=[f"{u}-{c}" for u, c in PAIRS])
def test_a_huge_uri_or_name_gives_a_short_message(uri: str, call: str, pts_ns: int | None) -> None:
    with pytest.raises((MediaRefError, ValueError, TypeError)) as info:
        CALLS[call](URIS[uri], pts_ns)
    assert len(str(info.value)) < BOUND, str(info.value)[:1000]


def test_the_issue_s_10_mb_scheme_is_named_shortened() -> None:
    with pytest.raises(BackendNotInstalledError) as info:
        MediaRef(BIG + ":x").to_ndarray()
    message = str(info.value)
    assert len(message) < BOUND
    assert "no installed plugin reads 'aaaa" in message and "(10000000 chars)" in message
    assert message.endswith("aaaa:x')")  # the URI, shortened


def test_a_huge_decoder_name_is_named_shortened(tmp_path: Path) -> None:
    f = tmp_path / "x.png"
    f.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(mediaref.UnknownBackendError) as info:
        MediaRef(str(f)).to_ndarray(decoder=BIG)
    assert len(str(info.value)) < BOUND and "(10000000 chars)" in str(info.value)


@pytest.mark.parametrize(
    "value",
    [10**5000, -(10**5000), [0] * 100_000, "x" * 1_000_000],
    ids=["int", "neg", "list", "str"],
)
def test_a_huge_pts_ns_or_uri_object_is_an_invalid_reference_with_a_short_message(
    value: object,
) -> None:
    # An int of over 4300 digits made repr() raise a bare ValueError before.
    with pytest.raises(InvalidReferenceError) as info:
        MediaRef("x.png", value)  # type: ignore[arg-type]
    assert len(str(info.value)) < BOUND
    if not isinstance(value, str):
        with pytest.raises(InvalidReferenceError) as info:
            MediaRef(value)  # type: ignore[arg-type]
        assert len(str(info.value)) < BOUND


ERRORS = [getattr(mediaref, n) for n in mediaref.__all__ if n.endswith("Error")]


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_every_error_type_bounds_its_message_and_keeps_it_through_pickling(
    cls: type[MediaRefError],
) -> None:
    if cls is TimestampOutOfRangeError:
        err: MediaRefError = cls(BIG, 10**18, -(2**63), 2**63 - 1)
    elif cls is InvalidOptionError:
        err = cls(BIG, (BIG,), (BIG, BIG))
    else:
        err = cls(BIG, uri="http://" + BIG, pts_ns=-(2**63))
    assert len(str(err)) < BOUND
    assert len(str(pickle.loads(pickle.dumps(err)))) < BOUND
    assert len(err.message) < BOUND
