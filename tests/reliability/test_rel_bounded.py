"""Issue 16: no small input may cost gigabytes or hang (the core's rows).

Each costly case runs in a fresh interpreter (`bounded_probe.py`) that reports its peak
RSS while reading; tests assert on memory with a generous margin, never on time. A
subprocess ``timeout=`` is only a guard that turns a hang into a failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[2]


def probe(job: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.reliability.bounded_probe", json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        cwd=ROOT,
    )
    report: dict[str, Any] = json.loads(out.stdout)
    if not report["peak_reset"]:
        pytest.skip("the kernel refused to reset the peak RSS (/proc/self/clear_refs)")
    return report


def growth_mb(report: dict[str, Any]) -> float:
    return float(report["peak_mb"] - report["rss_before_mb"])


def test_a_percent_encoded_data_uri_costs_about_its_decoded_size() -> None:
    # The issue's input: `%00` x 30M (90M chars). Before: 26.9 s and 6.96 GB (a list item
    # per '%' in urllib's unquote_to_bytes); 10M escapes measured here: 13.0 s, +2.3 GB.
    # Now (2 shared cores): 0.4-0.9 s, +28 MB over the RSS before reading (the 29 MiB
    # decoded). Allowed: the decoded size + 64 MiB.
    n = 30_000_000
    report = probe({"read": "data-pct", "n": n, "limits": {"max_data_uri_chars": 100 << 20}})
    assert report["outcomes"] == [["bytes", n]]
    assert growth_mb(report) < n / MiB + 64


def test_a_base64_data_uri_costs_one_ascii_copy_and_its_decoded_size() -> None:
    # 30 MB as base64 (38 Mi chars). Before: +105 MB (ASCII copy, a payload slice, a
    # whitespace-stripped copy); now +67 MB: one ASCII copy (38 MiB) and the 29 MiB
    # decoded. Allowed: those + 16 MiB.
    n = 30_000_000
    report = probe({"read": "data-b64", "n": n})
    assert report["outcomes"] == [["bytes", n]]
    chars = 4 * n / 3
    assert growth_mb(report) < (chars + n) / MiB + 16


def test_the_issue_s_data_uri_is_refused_by_the_default_cap_before_decoding() -> None:
    report = probe({"read": "data-pct", "n": 30_000_000})
    [(error, message)] = report["outcomes"]
    assert error == "SourceUnreadableError"
    assert "90000015 characters, over the limit of 67108864" in message
    assert "mediaref.limits.max_data_uri_chars" in message
    assert len(message) < 500
    assert growth_mb(report) < 16
