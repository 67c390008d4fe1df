"""Shared test helpers: CI-aware optional dependencies and a loopback HTTP server."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(module: str) -> ModuleType:
    """Import `module`, skipping the test locally when missing and failing under CI=true."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if CI:
            pytest.fail(f"{module} is required under CI: {e}")
        pytest.skip(f"{module} is not installed")
