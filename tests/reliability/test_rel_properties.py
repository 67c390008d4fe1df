from __future__ import annotations

import contextlib
import http.client
import operator
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mediaref
import mediaref_av
from mediaref import MediaRef

# 1x1 PNG, and the same bytes declared as a video: the decoders must be reached too.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
DOCUMENTED = tuple(getattr(mediaref, n) for n in mediaref.__all__ if n.endswith("Error"))
PTS_MIN, PTS_MAX = -(2**63), 2**64 - 1

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.binary(max_size=30)
    | st.builds(msgspec.msgpack.Ext, st.integers(-128, 127), st.binary(max_size=8))
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(-5, 5), inner, max_size=4)
    ),
    max_leaves=12,
)
# Documents shaped like a reference, with any value in each field, so that the field
# validation is reached and not only the "expected a map" error.
ref_like = st.fixed_dictionaries(
    {"uri": documents | st.text()},
    optional={
        "pts_ns": documents | st.integers(-(2**63), 2**64 - 1),
        "extra": documents,
    },
)


@settings(max_examples=400, deadline=None)
@given(documents | ref_like)
def test_arbitrary_msgpack_documents_decode_or_raise_validation_error(doc: Any) -> None:
    buf = msgspec.msgpack.encode(doc)
    try:
        ref = msgspec.msgpack.decode(buf, type=MediaRef)
    except msgspec.ValidationError:
        return
    assert isinstance(ref.uri, str)
    assert ref.pts_ns is None or (type(ref.pts_ns) is int and PTS_MIN <= ref.pts_ns <= PTS_MAX)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(ref), type=MediaRef) == ref
    assert MediaRef.model_validate_json(ref.model_dump_json()) == ref


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=64)
    | st.builds(operator.add, st.sampled_from([b"\x82", b"\x81\xa3uri"]), st.binary(max_size=40))
)
def test_arbitrary_msgpack_bytes_decode_or_raise_decode_or_validation_error(buf: bytes) -> None:
    # msgspec lets UnicodeDecodeError (a ValueError) through for a str that is not UTF-8
    # instead of a DecodeError: https://github.com/msgspec/msgspec/issues/714
    with contextlib.suppress(msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
        ref = msgspec.msgpack.decode(buf, type=MediaRef)
        assert isinstance(ref, MediaRef) and isinstance(ref.uri, str)


PREFIXES = [
    "",
    "/",
    "./",
    "../",
    "~/",
    "C:/",
    "C:\\",
    "\\\\srv\\",
    "file:",
    "file://",
    "file:///",
    "file://localhost/",
    "file://remote/",
    "FILE:///tmp/",
    "data:",
    "data:,",
    "data:;base64,",
    "data:image/png;base64,",
    "data:video/mp4;base64,iVBORw0KGgo",
    "data:text/plain;charset=utf-8,",
    "http://",
    "https://",
    "HTTP://",
    "http://127.0.0.1:",
    "http://[",
    "https://user:pw@host:",
    "s3://",
    "gs://b/",
    "mailto:",
    "%",
    "?",
    "#",
]
uri_chars = st.text(
    alphabet=st.sampled_from(list("%/:?#[]@!$&'()*+,;=.-_~ \\aZ09\x00\x7fé\u2028\ud800"))
)
uris = st.builds(operator.add, st.sampled_from(PREFIXES), st.text(max_size=20) | uri_chars)
pts = st.none() | st.integers(PTS_MIN, PTS_MAX) | st.sampled_from([-1, 0, 1, 10**9])


@contextlib.contextmanager
def offline(tmp_path: Any) -> Iterator[list[str]]:
    """No connection leaves the process; relative paths land in an empty directory."""
    attempts: list[str] = []

    def refuse(self: http.client.HTTPConnection) -> None:
        attempts.append(f"{self.host}:{self.port}")
        raise OSError("network disabled in this test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(http.client.HTTPConnection, "connect", refuse)
        mp.setattr(http.client.HTTPSConnection, "connect", refuse)
        mp.chdir(tmp_path)
        yield attempts


def check_outcome(ref: MediaRef, got: Any) -> None:
    if isinstance(got, BaseException):
        assert isinstance(got, DOCUMENTED), f"{type(got).__module__}.{type(got).__name__}: {got}"
        assert type(got) in DOCUMENTED
        assert got.uri == ref.uri, f"{type(got).__name__} does not name the URI: {got}"
    else:
        assert isinstance(got, np.ndarray) and got.dtype == np.uint8
        if ref.pts_ns is not None:
            # Arbitrary bytes can be a real video: FFmpeg reads almost anything as CD+G
            # graphics ('data:,I0' + 9 bytes is one 300x216 frame). Then it has the time.
            with mediaref_av.open(ref.uri) as video:
                meta = video.metadata
            assert meta.begin_ns <= ref.pts_ns < meta.end_ns
            assert got.shape == (meta.height, meta.width, 3)


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("cwd")


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(uri=uris | st.text(), pts_ns=pts)
@example(uri=f"data:image/png;base64,{PNG_B64}", pts_ns=None)
@example(uri=f"data:image/png;base64,{PNG_B64}", pts_ns=0)
@example(uri=f"data:video/mp4;base64,{PNG_B64[:40]}", pts_ns=0)
@example(uri="http://127.0.0.1:1/x.mp4", pts_ns=0)
@example(uri="file:%00", pts_ns=None)
@example(uri="data:,I0\x80\x80\x80\x80\x80\x80\x80\U00010000\U00010000", pts_ns=0)
def test_arbitrary_strings_as_uris_raise_only_documented_errors(
    uri: str, pts_ns: int | None, empty_dir: Any
) -> None:
    ref = MediaRef(uri, pts_ns)
    with offline(empty_dir):
        try:
            got: Any = ref.to_ndarray()
        except Exception as e:
            got = e
    check_outcome(ref, got)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(st.builds(MediaRef, uris.filter(bool), pts), min_size=1, max_size=6))
def test_batches_of_arbitrary_uris_return_one_result_or_error_each(
    batch: list[MediaRef], empty_dir: Any
) -> None:
    refs = batch
    with offline(empty_dir):
        out = mediaref.batch_decode(refs, on_error="return")
    assert len(out) == len(refs)
    for ref, got in zip(refs, out, strict=True):
        check_outcome(ref, got)
