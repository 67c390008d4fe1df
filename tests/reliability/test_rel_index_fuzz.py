"""Tampered on-disk indexes (the files of ``index_cache=``) are rejected.

A cache file is a header (format version), a BLAKE2b checksum of its key and payload,
and a msgpack payload. A file that is truncated, bit-flipped anywhere, of an older format
or sealed for another video fails the checksum and is rebuilt from the video (exact
frames, file rewritten). Payloads that pass the checksum (a writer's bug, or a tamperer
who recomputes it; these tests reseal them) of the wrong types, absurd sizes or
implausible values must be rebuilt too, or give a documented error; never a crash, a
hang, another exception, or memory out of proportion to the file. Values that stay
plausible in a resealed payload cannot be told from the truth without demuxing again:
the frame asked for may then be another one of the video, which is all that allows.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import mediaref_av
from mediaref import MediaRefError
from mediaref.testing import Clip
from mediaref_av import _index_cache

FIELDS = [
    "version",
    "stream_index",
    "time_base",
    "codec",
    "width",
    "height",
    "pixel_format",
    "rotation",
    "pts",
    "dts",
    "key",
    "duration",
    "discard",
    "default_duration",
    "skip_nonref_safe",
    "display_matrix",
    "pts_may_be_decode_times",
    "slices",
]
PER_PACKET = ["pts", "dts", "key", "duration", "discard"]
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.binary(max_size=12),
    st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=6),
    st.dictionaries(st.text(max_size=4), st.integers(-(2**63), 2**63 - 1), max_size=3),
)


class Cached:
    """A clip, its index cache directory and the intact cache file."""

    def __init__(self, clip: Clip, directory: Path) -> None:
        self.clip, self.directory = clip, directory
        mediaref_av.clear_caches()
        with mediaref_av.open(clip.uri, index_cache=directory) as video:
            self.num_frames = video.metadata.num_frames
        (self.file,) = directory.glob("*.mravidx")
        self.raw = self.file.read_bytes()
        self.key = _key(self)
        payload = _index_cache.unseal(self.key, self.raw)
        assert payload is not None
        self.payload = bytes(payload)
        self.doc: dict[str, Any] = msgspec.msgpack.decode(self.payload)
        assert set(self.doc) >= set(FIELDS) - {"display_matrix"}, sorted(self.doc)

    def sealed(self, payload: bytes) -> bytes:
        """A cache file of `payload` with a valid checksum, as a tamperer could write."""
        return _index_cache.seal(self.key, payload)

    def encode(self, doc: dict[str, Any]) -> bytes:
        return self.sealed(msgspec.msgpack.encode(doc))

    def times(self) -> list[int]:
        s = self.clip.starts_ns
        return [s[0], s[len(s) // 2], s[-1]]


@pytest.fixture(scope="module")
def cached(clips: dict[str, Clip], tmp_path_factory: pytest.TempPathFactory) -> Cached:
    return Cached(clips["h264_mp4"], tmp_path_factory.mktemp("idx"))


def decode_with(cached: Cached, content: bytes) -> None:
    """Put `content` in the cache file, decode three frames, check what came out."""
    cached.file.write_bytes(content)
    mediaref_av.clear_caches()  # so the index comes from the file
    mediaref_av.reset_counters()
    wanted = cached.times()
    try:
        with mediaref_av.open(cached.clip.uri, index_cache=cached.directory) as video:
            got: list[np.ndarray] | MediaRefError = video.frames_played_at(wanted)
    except MediaRefError as e:  # anything else fails the test
        got = e
    from_disk = mediaref_av.counters().index_disk_hits == 1
    if not from_disk:  # rejected: rebuilt from the video, exact, and the file rewritten
        assert not isinstance(got, MediaRefError), got
        for t, frame in zip(wanted, got, strict=True):
            np.testing.assert_array_equal(frame, cached.clip.frame_on_screen_at(t))
        assert _index_cache.index_cache.load(str(cached.directory), _key(cached)) is not None
    elif not isinstance(got, MediaRefError):
        for frame in got:  # accepted: well-formed values, any frame of the video
            assert frame.dtype == np.uint8 and frame.shape == cached.clip.frames[0].shape


def _key(cached: Cached) -> Any:
    from mediaref import open_source

    return (_index_cache.content_key(open_source(cached.clip.uri)), None)


def rejected() -> bool:
    return mediaref_av.counters().index_disk_hits == 0


BUDGET = settings(
    max_examples=int(os.environ.get("MEDIAREF_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
"""A fixed budget per test (derandomized under CI by the "ci" profile); set
MEDIAREF_FUZZ_EXAMPLES to search longer."""


@BUDGET
@given(data=st.data())
@example(data=None)  # the intact file: read from disk, exact frames
def test_a_truncated_index_file_is_rebuilt_or_refused(cached: Cached, data: Any) -> None:
    if data is None:
        decode_with(cached, cached.raw)
        assert mediaref_av.counters().index_disk_hits == 1
        return
    n = data.draw(st.integers(0, len(cached.raw) - 1), label="length")
    decode_with(cached, cached.raw[:n])
    assert rejected()


def flip(raw: bytes, bits: list[int]) -> bytes:
    buf = bytearray(raw)
    for b in bits:
        buf[b // 8] ^= 1 << (b % 8)
    return bytes(buf)


@BUDGET
@given(data=st.data())
def test_a_bit_flipped_index_file_is_rebuilt(cached: Cached, data: Any) -> None:
    bits = data.draw(st.lists(st.integers(0, 8 * len(cached.raw) - 1), min_size=1, max_size=8))
    tampered = flip(cached.raw, bits)
    if tampered == cached.raw:  # the same bit twice
        return
    decode_with(cached, tampered)
    assert rejected()


@BUDGET
@given(data=st.data())
def test_a_bit_flipped_payload_with_its_checksum_is_rebuilt_refused_or_well_formed(
    cached: Cached, data: Any
) -> None:
    n = len(cached.payload)
    bits = data.draw(st.lists(st.integers(0, 8 * n - 1), min_size=1, max_size=8))
    decode_with(cached, cached.sealed(flip(cached.payload, bits)))


def test_a_flipped_bit_inside_a_timestamp_is_caught_and_the_frames_stay_exact(
    cached: Cached,
) -> None:
    # Before the checksum, this file was believed: frame 1 was looked up at another time.
    pts = cached.doc["pts"]
    doc = {**cached.doc, "pts": [pts[0], pts[1] ^ 1, *pts[2:]]}
    tampered = msgspec.msgpack.encode(doc)
    assert len(tampered) == len(cached.payload)
    raw = cached.raw[: len(cached.raw) - len(tampered)] + tampered
    decode_with(cached, raw)
    assert rejected()


def test_an_index_of_the_previous_format_is_rebuilt(cached: Cached) -> None:
    decode_with(cached, cached.payload)  # version 6: the msgpack payload alone
    assert rejected()


def test_an_index_sealed_for_another_video_is_rebuilt(cached: Cached) -> None:
    other = ((*cached.key[0][:-1], "0" * 32), None)
    decode_with(cached, _index_cache.seal(other, cached.payload))
    assert rejected()


@BUDGET
@given(field=st.sampled_from(FIELDS), value=ANY_VALUE)
@example(field="time_base", value=[0, 1])
@example(field="time_base", value=[1, 0])
@example(field="default_duration", value=[1, 0])
@example(field="width", value=2**40)
@example(field="width", value=-5)
@example(field="pts", value=[])
@example(field="pts", value=[2**63 - 1] * 3)
@example(field="slices", value=2**62)
def test_a_field_of_the_wrong_type_or_value_is_rebuilt_or_refused(
    cached: Cached, field: str, value: Any
) -> None:
    decode_with(cached, cached.encode({**cached.doc, field: value}))


@BUDGET
@given(field=st.sampled_from(PER_PACKET), keep=st.integers(0, 200))
def test_per_packet_lists_of_another_length_are_rebuilt(
    cached: Cached, field: str, keep: int
) -> None:
    column = cached.doc[field]
    longer = column + column[:1] * keep
    tampered = column[:keep] if keep < len(column) else longer
    decode_with(cached, cached.encode({**cached.doc, field: tampered}))
    if len(tampered) != len(column):
        assert rejected()


@BUDGET
@given(field=st.sampled_from(FIELDS))
def test_a_missing_field_is_rebuilt(cached: Cached, field: str) -> None:
    decode_with(cached, cached.encode({k: v for k, v in cached.doc.items() if k != field}))


ABSURD = [
    b"\xdf\xff\xff\xff\xff",  # a map of 2**32 - 1 entries, then nothing
    b"\xdd\xff\xff\xff\xff" + b"\xc0" * 64,  # an array of 2**32 - 1 elements
    b"\xdb\xff\xff\xff\xff" + b"a" * 64,  # a string of 4 GiB
    b"\xc6\xff\xff\xff\xff" + b"\x00" * 64,  # 4 GiB of binary
]


@pytest.mark.parametrize("content", ABSURD, ids=["map", "array", "str", "bin"])
@pytest.mark.parametrize("checksum", [True, False], ids=["resealed", "as-is"])
def test_absurd_sizes_in_an_index_file_cost_no_memory(
    cached: Cached, content: bytes, checksum: bool
) -> None:
    tracemalloc.start()
    try:
        decode_with(cached, cached.sealed(content) if checksum else content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # Python allocations while loading and rebuilding


def test_absurd_lengths_inside_the_index_are_rebuilt(cached: Cached) -> None:
    # The "pts" key followed by an array header claiming 2**32 - 1 elements.
    raw = cached.payload
    at = raw.index(b"\xa3pts") + 4
    decode_with(cached, cached.sealed(raw[:at] + b"\xdd\xff\xff\xff\xff" + raw[at:]))
    assert rejected()


def test_a_directory_in_place_of_the_file_is_rebuilt(cached: Cached) -> None:
    cached.file.unlink()
    os.mkdir(cached.file)
    try:
        mediaref_av.clear_caches()
        with mediaref_av.open(cached.clip.uri, index_cache=cached.directory) as video:
            np.testing.assert_array_equal(video.frames_at([1])[0], cached.clip.frames[1])
    finally:
        os.rmdir(cached.file)
        cached.file.write_bytes(cached.raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_base", [1, 0]),  # ZeroDivisionError in Index before _from_disk
        ("default_duration", [1, 0]),  # ZeroDivisionError
        ("key", [True]),  # IndexError: per-packet columns of different lengths
        ("discard", []),  # IndexError
        ("pts", []),  # UndecodableMediaError for an intact video
    ],
    ids=["time-base-0", "default-duration-0", "short-key", "empty-discard", "no-pts"],
)
def test_crashes_the_fuzzer_found_are_rebuilt(cached: Cached, field: str, value: Any) -> None:
    decode_with(cached, cached.encode({**cached.doc, field: value}))
    assert rejected()


def _implausible(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    n = len(doc["pts"])
    dts = [t for t in doc["dts"] if t is not None]
    return {
        "packet-past-the-end": {"pos": [*doc["pos"][:-1], 1 << 40]},
        "negative-size": {"size": [-1, *doc["size"][1:]]},
        "position-below-minus-one": {"pos": [-2, *doc["pos"][1:]]},
        "pos-without-size": {"size": []},
        "negative-duration": {"duration": [-1, *doc["duration"][1:]]},
        "dts-out-of-order": {"dts": [dts[1], dts[0], *doc["dts"][2:]]},
        "no-slices": {"slices": 0},
        "display-matrix-of-4": {"display_matrix": [0, 1, 2, 3]},
        "first-pts-past-int64-ns": {"pts": [2**62, *doc["pts"][1:n]]},
    }


@pytest.mark.parametrize(
    "case",
    [
        "packet-past-the-end",
        "negative-size",
        "position-below-minus-one",
        "pos-without-size",
        "negative-duration",
        "dts-out-of-order",
        "no-slices",
        "display-matrix-of-4",
        "first-pts-past-int64-ns",
    ],
)
def test_implausible_values_with_a_valid_checksum_are_rebuilt(cached: Cached, case: str) -> None:
    assert cached.doc["pos"] and cached.doc["size"], "the scan records byte positions"
    decode_with(cached, cached.encode({**cached.doc, **_implausible(cached.doc)[case]}))
    assert rejected()
