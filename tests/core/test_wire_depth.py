"""Deeply nested documents decoded as `MediaRef` (issue 16).

msgspec skips an unknown field by walking it (``json_skip_array``/``json_skip_object``,
``mpack_skip_array``/``mpack_skip_map`` in its ``_core.c``), and every level, skipped or
decoded, passes ``Py_EnterRecursiveCall``: past the interpreter's remaining recursion
depth it raises `RecursionError`, cleanly, whatever the depth (no C stack overflow).
``MediaRef.model_validate_json`` turns it into `msgspec.DecodeError`; a caller's own
``msgspec.json.decode(..., type=MediaRef)`` sees msgspec's `RecursionError`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from mediaref import MediaRef

DEPTH = 10_000


def nested_json(depth: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    return '{"uri":"x.png","extra":' + opener * depth + "1" + closer * depth + "}"


def nested_msgpack(depth: int) -> bytes:
    # {"uri": "x.png", "extra": [[[...1...]]]}: fixmap(2), fixstr keys, fixarray(1) levels
    return b"\x82\xa3uri\xa5x.png\xa5extra" + b"\x91" * depth + b"\x01"


@pytest.mark.parametrize("opener", ["[", '{"a":'], ids=["arrays", "objects"])
def test_model_validate_json_turns_a_too_deep_unknown_field_into_a_decode_error(
    opener: str,
) -> None:
    with pytest.raises(msgspec.DecodeError, match="nested deeper than the Python recursion limit"):
        MediaRef.model_validate_json(nested_json(DEPTH, opener))


def test_a_shallow_unknown_field_is_skipped() -> None:
    assert MediaRef.model_validate_json(nested_json(100, "[")) == MediaRef("x.png")
    assert msgspec.msgpack.decode(nested_msgpack(100), type=MediaRef) == MediaRef("x.png")


def test_msgspec_s_own_decoders_raise_recursion_error_as_documented() -> None:
    # Pinned so that a change in msgspec is seen (docs/reliability.md says what happens).
    with pytest.raises(RecursionError):
        msgspec.json.decode(nested_json(DEPTH, "["), type=MediaRef)
    with pytest.raises(RecursionError):
        msgspec.msgpack.decode(nested_msgpack(DEPTH), type=MediaRef)


def test_a_str_that_cannot_be_utf8_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError, match="not valid Unicode"):
        MediaRef.model_validate_json('{"uri":"\ud800"}')


def test_a_million_levels_end_in_an_error_not_a_crash() -> None:
    code = (
        "import msgspec, sys\n"
        "from mediaref import MediaRef\n"
        "from tests.core.test_wire_depth import nested_json, nested_msgpack\n"
        "def msgpack(d): return msgspec.msgpack.decode(d, type=MediaRef)\n"
        "for decode, doc in ((MediaRef.model_validate_json, nested_json(10**6, '[')),\n"
        "                    (msgpack, nested_msgpack(10**6))):\n"
        "    try:\n"
        "        decode(doc)\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.split() == ["DecodeError", "RecursionError"]


def test_the_dataset_readers_report_a_too_deep_record_in_its_place() -> None:
    # A RecursionError escaped read_jsonl and read_msgpack and ended the whole iteration,
    # even with on_error="return".
    import io

    from mediaref import InvalidReferenceError
    from mediaref.io import read_jsonl, read_msgpack

    good_a, good_b = MediaRef("a.png"), MediaRef("b.png")
    jsonl = b'{"uri":"a.png"}\n' + nested_json(DEPTH, "[").encode() + b'\n{"uri":"b.png"}\n'
    msgpack = (
        msgspec.msgpack.encode(good_a) + nested_msgpack(DEPTH) + msgspec.msgpack.encode(good_b)
    )
    for read, data, where in ((read_jsonl, jsonl, "line 2"), (read_msgpack, msgpack, "row 1")):
        first, error, last = read(io.BytesIO(data), on_error="return")
        assert (first, last) == (good_a, good_b)
        assert isinstance(error, InvalidReferenceError)
        assert "maximum recursion depth" in str(error) and where in str(error)
        with pytest.raises(InvalidReferenceError, match="maximum recursion depth"):
            list(read(io.BytesIO(data)))
