"""The integration group: every test here is marked ``integration`` and uses real packages.

Run with ``python -m pytest -m integration tests/integrations`` after installing
requirements-integrations.txt; the default run (the README's test command) leaves them out.
A missing package skips locally and fails under CI=true (`tests.conftest.need`).
"""

from __future__ import annotations

import os

import pytest


@pytest.hookimpl(tryfirst=True)  # before -m selects on the mark
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder as an integration test."""
    for item in items:
        if "tests/integrations/" in item.nodeid:
            item.add_marker(pytest.mark.integration)


# No network at test time: datasets and the Hub client read local files only.
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
