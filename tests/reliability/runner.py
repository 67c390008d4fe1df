"""Decode corpus cases in this process and print one JSON line per case.

Run by the tests with ``sys.executable``: a crash of the interpreter (a segfault in a
codec) then fails a test instead of killing the run. Before each case a ``start`` line
is printed and flushed, so the parent knows which case was being decoded when it died.

Usage: ``python runner.py CASES.json`` (a list of `corpus.Case.to_json()` objects).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

_CRASH_AT = os.environ.get("MEDIAREF_RUNNER_CRASH_AT")
"""For the test of this harness: the case id at which to crash on purpose."""


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def outcome(mode: str, ref: Any, result: Any) -> dict[str, Any]:
    import numpy as np

    import mediaref
    from mediaref._errors import short_uri
    from tests.reliability.media import digest

    out: dict[str, Any] = {"mode": mode, "pts_ns": ref.pts_ns}
    if isinstance(result, BaseException):
        documented = {getattr(mediaref, n) for n in mediaref.__all__ if n.endswith("Error")}
        out.update(
            outcome="error",
            type=type(result).__name__,
            module=type(result).__module__,
            documented=type(result) in documented,
            uri_named=short_uri(ref.uri) in str(result),
            pts_named=ref.pts_ns is None or f"pts_ns={ref.pts_ns}" in str(result),
            message=str(result)[:400],
        )
    elif isinstance(result, np.ndarray):
        out.update(outcome="frame", digest=digest(result), shape=list(result.shape))
    else:
        out.update(outcome="other", type=type(result).__name__)
    return out


def run_case(case: dict[str, Any]) -> list[dict[str, Any]]:
    import mediaref

    refs = [mediaref.MediaRef(case["uri"], r["pts_ns"]) for r in case["refs"]]
    results = []
    for ref in refs:
        try:
            got: Any = ref.to_ndarray()
        except Exception as e:
            got = e
        results.append(outcome("single", ref, got))
    try:
        batch: list[Any] = mediaref.batch_decode(refs, on_error="return")
    except Exception as e:
        batch = [e] * len(refs)
    results += [outcome("batch", ref, got) for ref, got in zip(refs, batch, strict=True)]
    return results


def main() -> None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    import mediaref_av

    with open(sys.argv[1]) as f:
        cases = json.load(f)
    fds_start = _fds()
    for case in cases:
        print(json.dumps({"start": case["id"]}), flush=True)
        if case["id"] == _CRASH_AT:
            import ctypes

            ctypes.string_at(0)  # a segfault, as a codec bug would cause
        print(json.dumps({"id": case["id"], "results": run_case(case)}), flush=True)
    mediaref_av.clear_caches()
    print(json.dumps({"fds_start": fds_start, "fds_end": _fds()}), flush=True)


if __name__ == "__main__":
    main()
