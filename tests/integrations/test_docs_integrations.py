"""Runs the examples of docs/datasets.md's Hugging Face, Pydantic and LeRobot sections.

Blocks are found by their first line, ``# example: NAME``; each runs as written in an empty
directory, offline, and must print exactly what the page says it prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need
from tests.integrations import doc_examples

DOC = doc_examples.DOCS / "datasets.md"
OURS = {"hf": "datasets", "pydantic": "pydantic", "lerobot": "pyarrow"}
SECTIONS = ["## Hugging Face datasets", "## Pydantic models", "## LeRobot"]


def examples() -> dict[str, str]:
    return doc_examples.examples(DOC, OURS)


def printed_after(name: str) -> str:
    return doc_examples.printed_after(DOC, name)


def test_every_section_has_its_example_in_order() -> None:
    assert set(examples()) == set(OURS)
    text = DOC.read_text()
    positions = [text.index(s + "\n") for s in SECTIONS]
    assert positions == sorted(positions)
    assert [text.index(f"# example: {n}\n") for n in OURS] == sorted(
        text.index(f"# example: {n}\n") for n in OURS
    )


@pytest.mark.parametrize("name", sorted(OURS))
def test_example_runs_in_an_empty_directory(name: str, tmp_path: Path) -> None:
    need(OURS[name])
    env = {**os.environ, "HF_HOME": str(tmp_path / ".hf")}  # datasets' cache stays in here
    out = subprocess.run(
        [sys.executable, "-c", examples()[name]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == printed_after(name)
