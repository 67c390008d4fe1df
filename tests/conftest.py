"""Shared test helpers: CI-aware optional dependencies and a loopback HTTP server."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import settings

from tests.httpserver import LoopbackServer, serve
from tests.tls import Certificates, make_certificates

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# mediaref_av's codec threading follows the load of other processes (`_threads.CpuLoad`):
# the tests that check the threading per request shape, and the counters that follow
# from it (containers opened per threading), must not change when the machine is busy.
# Set before mediaref_av is imported, and inherited by the tests' subprocesses; the
# load estimate has tests of its own.
os.environ["MEDIAREF_AV_LOAD_AWARE"] = "0"

# CI runs the property tests on a fixed sequence of examples, so that a landing never
# depends on luck; developers' runs explore new ones (and keep failures in .hypothesis/).
# HYPOTHESIS_PROFILE=thorough tries 20 times more examples.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if CI else "default"))


@pytest.fixture(autouse=True)
def idle_clocks_stand_still(monkeypatch: pytest.MonkeyPatch) -> None:
    """Freeze the clocks of mediaref_av's idle rules (containers closed, pooled frames
    freed after 10 s idle): on a busy machine a pause between two calls of a test must
    not close what the test counts on. The tests of those rules move their own clocks.
    The janitor thread that releases after `limits.idle_release_s` is off likewise: its
    tests turn it on, with their own clock."""
    import mediaref

    monkeypatch.setattr(mediaref.limits, "idle_release_s", None)
    try:
        from mediaref_av import _buffers, _pool
    except ImportError:
        return
    monkeypatch.setattr(_pool, "_clock", lambda: 0.0)
    monkeypatch.setattr(_buffers, "_clock", lambda: 0.0)


def need(module: str) -> ModuleType:
    """Import `module`, skipping the test locally when missing and failing under CI=true."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if CI:
            pytest.fail(f"{module} is required under CI: {e}")
        pytest.skip(f"{module} is not installed")


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory the loopback server serves; tests write files into it."""
    return tmp_path_factory.mktemp("www")


@pytest.fixture(scope="session")
def http_server(http_root: Path) -> Iterator[LoopbackServer]:
    """A real HTTP server on 127.0.0.1 that honours Range (see tests/httpserver.py)."""
    with serve(http_root) as server:
        yield server


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA and a server certificate for 127.0.0.1 (see tests/tls.py)."""
    made = make_certificates(tmp_path_factory.mktemp("tls"))
    if made is None:
        if CI:
            pytest.fail("the openssl CLI is required under CI")
        pytest.skip("the openssl CLI is not installed")
    return made


@pytest.fixture(scope="session")
def https_server(http_root: Path, certificates: Certificates) -> Iterator[LoopbackServer]:
    """The loopback server of `http_server`'s directory, over TLS with the test CA's certificate."""
    with serve(http_root, certificates.server_context()) as server:
        yield server
