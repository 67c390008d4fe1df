from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mediaref.testing import Clip
from tests.reliability import corpus

RUNNER = Path(__file__).with_name("runner.py")
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 90
GROUPS = [
    "truncated-h264_mp4",
    "truncated-h264_faststart_mp4",
    "truncated-vp9_webm",
    "bitflip-h264_mp4",
    "bitflip-h264_faststart_mp4",
    "bitflip-vp9_webm",
    "data-h264_faststart_mp4",
    "special",
]


def run_in_subprocess(
    cases: list[corpus.Case], tmp_path: Path, env: dict[str, str] | None = None
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """Decode `cases` in a fresh interpreter; fail, naming the case, if it dies or hangs."""
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps([c.to_json() for c in cases]))
    try:
        proc = subprocess.run(
            [sys.executable, str(RUNNER), str(spec)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=ROOT,
            env={**os.environ, "PYTHONFAULTHANDLER": "1", **(env or {})},
        )
    except subprocess.TimeoutExpired as e:
        started = [
            json.loads(x)["start"]
            for x in (e.stdout or b"").decode().splitlines()
            if '"start"' in x
        ]
        pytest.fail(f"the decoder hung for {TIMEOUT_S} s; last case started: {started[-1:]}")
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    if proc.returncode != 0:
        started = [x["start"] for x in lines if "start" in x]
        pytest.fail(
            f"the interpreter died (exit {proc.returncode}) while decoding "
            f"{started[-1] if started else '?'}:\n{proc.stderr[-3000:]}"
        )
    results = {x["id"]: x["results"] for x in lines if "results" in x}
    return results, lines[-1]


def check(case: corpus.Case, results: list[dict[str, Any]]) -> list[str]:
    """Return what is wrong with the outcomes of `case` (empty: all is well)."""
    problems = []
    n = len(case.refs)
    for i, r in enumerate(results):
        ref = case.refs[i % n]
        where = f"{case.id} {r['mode']} pts_ns={ref.pts_ns}"
        if r["outcome"] == "error":
            if ref.allowed == "frame":
                problems.append(f"{where}: expected a frame, got {r['type']}: {r['message']}")
            if not r["documented"]:
                problems.append(f"{where}: undocumented {r['module']}.{r['type']}: {r['message']}")
            if ref.error is not None and r["type"] != ref.error:
                problems.append(f"{where}: expected {ref.error}, got {r['type']}: {r['message']}")
            if not r["uri_named"]:
                problems.append(f"{where}: the message does not name the URI: {r['message']}")
        elif r["outcome"] == "frame":
            if ref.allowed == "error":
                problems.append(f"{where}: expected an error, got a frame {r['shape']}")
            elif ref.digest is not None and r["digest"] != ref.digest:
                problems.append(f"{where}: wrong frame {r['digest'][:40]}, want {ref.digest[:40]}")
            elif ref.digest is None and (len(r["shape"]) != 3 or r["shape"][2] != 3):
                problems.append(f"{where}: not an RGB frame: {r['shape']}")
        else:
            problems.append(f"{where}: returned a {r['type']}")
    return problems


@pytest.mark.parametrize("group", GROUPS)
def test_broken_files_give_the_right_frame_or_a_documented_error(
    built_corpus: tuple[list[corpus.Case], dict[str, Clip]], group: str, tmp_path: Path
) -> None:
    cases = [c for c in built_corpus[0] if c.group == group]
    assert cases
    results, fds = run_in_subprocess(cases, tmp_path)
    problems = [p for c in cases for p in check(c, results[c.id])]
    assert not problems, "\n".join(problems)
    assert fds["fds_end"] == fds["fds_start"], fds


def test_the_harness_fails_when_the_interpreter_crashes(
    built_corpus: tuple[list[corpus.Case], dict[str, Clip]], tmp_path: Path
) -> None:
    cases = [c for c in built_corpus[0] if c.group == "special"][:3]
    with pytest.raises(pytest.fail.Exception, match=f"died .* while decoding {cases[1].id}"):
        run_in_subprocess(cases, tmp_path, env={"MEDIAREF_RUNNER_CRASH_AT": cases[1].id})
