from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

import mediaref
from mediaref import hookimpl
from mediaref._janitor import Janitor, due
from mediaref._plugins import plugin_manager
from tests.forked import in_forked_child


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Releases:
    """A plugin that counts the idle releases it is asked for."""

    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    @hookimpl
    def mediaref_release_idle(self) -> None:
        self.count += 1
        self.event.set()


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch) -> Iterator[Releases]:
    monkeypatch.setattr(mediaref.limits, "idle_release_s", 30.0)
    plugin = Releases()
    plugin_manager().register(plugin, name="test-releases")
    yield plugin
    plugin_manager().unregister(plugin)


@pytest.mark.parametrize(
    ("now", "busy", "released", "idle_s", "expected"),
    [
        (100.0, 0, False, 30.0, 0.0),  # quiet for 30 s: now
        (130.0, 0, False, 30.0, 0.0),
        (99.5, 0, False, 30.0, 0.5),
        (70.0, 0, False, 30.0, 30.0),  # the decode just ended
        (500.0, 1, False, 30.0, 30.0),  # a decode runs: look again later
        (500.0, 0, True, 30.0, None),  # released, nothing decoded since: sleep
        (500.0, 0, False, None, None),  # off
        (500.0, 0, False, 0.0, None),
        (500.0, 0, False, -1.0, None),
    ],
    ids=["due", "overdue", "half-a-second", "fresh", "busy", "released", "none", "zero", "neg"],
)
def test_whether_a_release_is_due_depends_only_on_the_clock_and_the_state(
    now: float, busy: int, released: bool, idle_s: float | None, expected: float | None
) -> None:
    assert due(now, 70.0, busy, released, idle_s) == expected


def test_run_once_releases_once_after_the_idle_period_and_again_after_a_decode(
    releases: Releases,
) -> None:
    clock = Clock()
    j = Janitor(clock, thread=False)
    assert not j.run_once(clock.now + 100)  # nothing decoded yet
    with j.busy():
        clock.now += 5
    assert not j.run_once(clock.now + 29.9)
    assert releases.count == 0
    assert j.run_once(clock.now + 30)
    assert releases.count == 1
    assert not j.run_once(clock.now + 300)  # once per quiet period
    with j.busy():
        pass
    assert j.run_once(clock.now + 30)
    assert (releases.count, j.releases) == (2, 2)


def test_run_once_never_releases_while_a_decode_runs(releases: Releases) -> None:
    clock = Clock()
    j = Janitor(clock, thread=False)
    with j.busy():
        assert not j.run_once(clock.now + 3600)
    assert j.run_once(clock.now + 30)
    assert releases.count == 1


def test_the_idle_release_can_be_turned_off(
    releases: Releases, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    j = Janitor(clock, thread=False)
    with j.busy():
        pass
    monkeypatch.setattr(mediaref.limits, "idle_release_s", None)
    assert not j.run_once(clock.now + 3600)
    assert releases.count == 0


def test_the_thread_releases_after_the_idle_period_without_a_call(releases: Releases) -> None:
    clock = Clock()
    j = Janitor(clock)
    try:
        with j.busy():
            pass
        assert j.running
        clock.now += 30
        j._wake.set()  # it sleeps 30 s of the real clock otherwise
        assert releases.event.wait(60)  # a bound against a hang, not a timing
        assert releases.count == 1
    finally:
        j.stop()
    assert not j.running


def test_the_thread_starts_at_the_first_decode_only_when_enabled(
    releases: Releases, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mediaref.limits, "idle_release_s", None)
    j = Janitor(Clock())
    with j.busy():
        pass
    assert not j.running
    monkeypatch.setattr(mediaref.limits, "idle_release_s", 30.0)
    with j.busy():
        pass
    assert j.running
    j.stop()


def test_cleanup_cache_stops_the_thread_and_the_next_decode_starts_it(
    releases: Releases, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediaref import _janitor

    j = Janitor(Clock())
    monkeypatch.setattr(_janitor, "janitor", j)
    with j.busy():
        pass
    assert j.running
    mediaref.cleanup_cache()
    assert not j.running
    assert not j.run_once(j.clock() + 3600)  # everything was released
    with j.busy():
        pass
    assert j.running
    j.stop()


def test_import_mediaref_starts_no_thread() -> None:
    code = (
        "import threading, mediaref, mediaref._janitor as j; "
        "print(threading.active_count(), j.janitor.running)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "False"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_starts_its_own_thread_and_releases(releases: Releases) -> None:
    from mediaref import _janitor

    clock = Clock()
    j = Janitor(clock)
    with j.busy():
        pass
    assert j.running

    def child() -> list[object]:
        j.after_fork_in_child()  # what os.register_at_fork does for the process's own
        before = j.running
        with j.busy():
            pass
        started = j.running
        j.stop()
        j.thread = False
        with j.busy():
            pass
        return [before, started, j.run_once(clock.now + 30), releases.count]

    got = in_forked_child(child)
    j.stop()
    assert got == [False, True, True, 1]
    assert releases.count == 0  # the parent released nothing
    assert _janitor.janitor is not j
