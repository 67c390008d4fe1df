"""Runs every Python example of docs/training.md, as written, in an empty directory.

Blocks are found by their first line, ``# example: NAME``; each is written to a file and
run with ``python FILE`` (DataLoader workers started by spawn re-import it), and its output
must be what the page says it prints.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import need
from tests.integrations import doc_examples

DOC = doc_examples.DOCS / "training.md"
NEEDS = {"dataloader": ["torch", "av"], "ray": ["ray", "pyarrow", "av"]}


def examples() -> dict[str, str]:
    return doc_examples.examples(DOC)


def printed_after(name: str) -> str:
    return doc_examples.printed_after(DOC, name)


RAY_LOG = re.compile(r"^(\x1b\[[0-9;]*m)?\((raylet|[^)]*pid=\d+[^)]*)\)")
"""A line Ray forwards from its own processes to the driver's stdout, such as its
warning that worker processes start slower than expected, whose timing is Ray's."""


def own_lines(stdout: str) -> str:
    return "".join(line for line in stdout.splitlines(keepends=True) if not RAY_LOG.match(line))


def test_every_example_is_run_here() -> None:
    assert set(examples()) == set(NEEDS)


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_example_runs_in_an_empty_directory_and_prints_what_the_page_says(
    name: str, tmp_path: Path
) -> None:
    for module in NEEDS[name]:
        need(module)
    script = tmp_path / f"{name}_example.py"
    script.write_text(examples()[name])
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert own_lines(out.stdout) == printed_after(name)
