"""Runs the examples of docs/datasets.md's first three sections, as written, in empty dirs.

Blocks are found by their first line, ``# example: NAME``; sections that others append
to the page (with other markers, or none) are not run here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need

DOC = Path(__file__).parents[2] / "docs" / "datasets.md"
OURS = {"arrow": "pyarrow", "io": "msgspec", "io-parquet": "pyarrow", "cli": "av"}


def examples() -> dict[str, str]:
    blocks = re.findall(r"```python\n(# example: ([\w-]+)\n.*?)```", DOC.read_text(), re.S)
    return {name: code for code, name in blocks if name in OURS}


def printed_after(name: str) -> str:
    """The block that follows "It prints:" after example `name`."""
    text = DOC.read_text()
    rest = text[text.index(f"# example: {name}\n") :]
    return re.search(r"It prints:\n\n```\n(.*?)```", rest, re.S).group(1)  # type: ignore[union-attr]


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
