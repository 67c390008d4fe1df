"""Runs the examples of docs/datasets.md's first three sections, as written, in empty dirs.

Blocks are found by their first line, ``# example: NAME``; sections that others append
to the page (with other markers, or none) are not run here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need
from tests.integrations import doc_examples

DOC = doc_examples.DOCS / "datasets.md"
OURS = {"arrow": "pyarrow", "io": "msgspec", "io-parquet": "pyarrow", "cli": "av"}


def examples() -> dict[str, str]:
    return doc_examples.examples(DOC, OURS)


def printed_after(name: str) -> str:
    return doc_examples.printed_after(DOC, name)


def test_every_section_has_its_example() -> None:
    assert set(examples()) == set(OURS)
    text = DOC.read_text()
    sections = [
        "## Arrow and Parquet",
        "## Reading references from files",
        "## The mediaref command",
    ]
    assert [text.index(s) for s in sections] == sorted(text.index(s) for s in sections)


@pytest.mark.parametrize("name", sorted(OURS))
def test_example_runs_in_an_empty_directory(name: str, tmp_path: Path) -> None:
    need(OURS[name])
    code = examples()[name]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr
    if name == "cli":
        assert out.stdout == printed_after("cli")
