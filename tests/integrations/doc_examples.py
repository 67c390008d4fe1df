"""The runnable examples of a docs page: blocks whose first line is ``# example: NAME``."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs"


def examples(doc: Path, names: Collection[str] | None = None) -> dict[str, str]:
    """Return the code of each example of `doc` (those named in `names`, if given)."""
    blocks = re.findall(r"```python\n(# example: ([\w-]+)\n.*?)```", doc.read_text(), re.S)
    return {name: code for code, name in blocks if names is None or name in names}


def printed_after(doc: Path, name: str) -> str:
    """The block that follows "It prints:" after example `name`."""
    text = doc.read_text()
    rest = text[text.index(f"# example: {name}\n") :]
    return re.search(r"It prints:\n\n```\n(.*?)```", rest, re.S).group(1)  # type: ignore[union-attr]
