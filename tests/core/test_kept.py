"""Decoders kept open between calls on local files (`mediaref.KeepOpen`, `mediaref._kept`).

The fake backend (tests/plugins/fake_backend) accepts any source, here local files whose
bytes it never reads; every pixel of its frame is the frame's index. `Kept` is the same
decoder implementing `KeepOpen`, put in the fake backend's place for these tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mediaref import KeepOpen, MediaRef, VideoBackend, batch_decode, cleanup_cache
from mediaref._janitor import janitor
from mediaref._kept import MAX_KEPT, kept_decoders
from mediaref._plugins import registry
from tests.forked import in_forked_child

mediaref_fake = pytest.importorskip("mediaref_fake")


class Kept(mediaref_fake.FakeVideo):  # type: ignore[misc,name-defined]
    def __init__(self, source: Any) -> None:
        super().__init__(source)
        self.parked = 0
        self.stale = False

    def park(self) -> None:
        self.parked += 1

    def reusable(self) -> bool:
        return not self.closed and not self.stale


@pytest.fixture(autouse=True)
def _kept_fake(monkeypatch: pytest.MonkeyPatch) -> Any:
    reg = registry()
    (i,) = [i for i, (b, _) in enumerate(reg.video) if b.name == "fake"]
    original = reg.video[i]
    reg.video[i] = (VideoBackend(name="fake", open=Kept), original[1])
    monkeypatch.setattr(reg, "routes", {})
    cleanup_cache()
    mediaref_fake.OPENED.clear()
    try:
        yield
    finally:
        reg.video[i] = original
        cleanup_cache()


def file(tmp_path: Path, name: str = "v.bin", data: bytes = b"x") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def decode(uri: str, pts_ns: int, decoder: str = "fake") -> Any:
    return batch_decode([MediaRef(uri, pts_ns)], decoder=decoder)[0]


def test_the_next_call_on_a_file_takes_the_decoder_the_last_one_parked(tmp_path: Path) -> None:
    uri = file(tmp_path)
    np.testing.assert_array_equal(decode(uri, 300_000_000), np.full((2, 4, 3), 3, np.uint8))
    (first,) = kept_decoders()
    assert isinstance(first, KeepOpen) and first.parked == 1
    np.testing.assert_array_equal(decode(uri, 100_000_000), np.full((2, 4, 3), 1, np.uint8))
    assert [uri] == mediaref_fake.OPENED  # opened once for both calls
    assert kept_decoders() == [first]
    assert first.parked == 2 and not first.closed


def test_a_decoder_without_keep_open_is_closed_after_each_call(tmp_path: Path) -> None:
    uri = file(tmp_path)
    mediaref_fake.STORE["k"] = b"k"
    reg = registry()
    (i,) = [i for i, (b, _) in enumerate(reg.video) if b.name == "fake"]
    reg.video[i] = (VideoBackend(name="fake", open=mediaref_fake.FakeVideo), reg.video[i][1])
    reg.routes.clear()
    decode(uri, 0)
    decode(uri, 0)
    assert [uri, uri] == mediaref_fake.OPENED
    assert kept_decoders() == []


def test_a_rewritten_file_gets_a_new_decoder_and_the_old_one_is_closed(tmp_path: Path) -> None:
    uri = file(tmp_path)
    decode(uri, 0)
    (old,) = kept_decoders()
    file(tmp_path, data=b"xy")  # another size: another identity
    decode(uri, 0)
    assert [uri, uri] == mediaref_fake.OPENED
    (new,) = kept_decoders()
    assert new is not old
    assert old.closed and not new.closed


def test_a_decoder_no_longer_reusable_is_closed_and_replaced(tmp_path: Path) -> None:
    uri = file(tmp_path)
    decode(uri, 0)
    (old,) = kept_decoders()
    old.stale = True  # as mediaref-av's after its caches were cleared
    decode(uri, 0)
    (new,) = kept_decoders()
    assert new is not old and old.closed
    assert [uri, uri] == mediaref_fake.OPENED


def test_a_decoder_whose_decode_raised_is_closed_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = file(tmp_path)
    failed: list[Any] = []

    def boom(self: Any, pts_ns: Any, *, format: str = "rgb") -> list[Any]:
        failed.append(self)
        raise RuntimeError("broken stream")

    monkeypatch.setattr(Kept, "frames_played_at", boom)
    with pytest.raises(Exception, match="broken stream"):
        decode(uri, 0)
    (video,) = failed
    assert video.closed and video.parked == 0
    assert kept_decoders() == []


def test_sources_without_a_local_path_are_not_kept() -> None:
    mediaref_fake.STORE["k"] = b"k"
    decode("mem:k", 0)
    decode("mem:k", 0)
    assert mediaref_fake.OPENED == ["mem:k", "mem:k"]
    assert kept_decoders() == []


def test_at_most_max_kept_decoders_the_least_recently_used_closed_first(tmp_path: Path) -> None:
    uris = [file(tmp_path, f"v{i}.bin") for i in range(MAX_KEPT + 1)]
    decode(uris[0], 0)
    (oldest,) = kept_decoders()
    for uri in uris[1:]:
        decode(uri, 0)
    assert len(kept_decoders()) == MAX_KEPT
    assert oldest.closed and oldest not in kept_decoders()


def test_cleanup_cache_and_the_idle_release_close_them(tmp_path: Path) -> None:
    uri = file(tmp_path)
    decode(uri, 0)
    (a,) = kept_decoders()
    cleanup_cache()
    assert a.closed and kept_decoders() == []
    decode(uri, 0)
    (b,) = kept_decoders()
    janitor.release()  # what the janitor's thread runs after `limits.idle_release_s`
    assert b.closed and kept_decoders() == []


def test_a_forked_child_opens_its_own_and_leaves_the_parents_open(tmp_path: Path) -> None:
    uri = file(tmp_path)
    decode(uri, 0)
    (parents,) = kept_decoders()

    def child() -> list[Any]:
        decode(uri, 100_000_000)
        return [len(mediaref_fake.OPENED), parents.closed, parents in kept_decoders()]

    assert in_forked_child(child) == [2, False, False]  # the child opened its own
    assert kept_decoders() == [parents] and not parents.closed


def test_a_decoder_that_fails_to_park_is_closed_and_the_call_keeps_its_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = file(tmp_path)

    def park(self: Any) -> None:
        raise OSError("cannot park")

    monkeypatch.setattr(Kept, "park", park)
    np.testing.assert_array_equal(decode(uri, 200_000_000), np.full((2, 4, 3), 2, np.uint8))
    assert kept_decoders() == []


def test_a_stale_decoder_found_among_others_is_closed_and_the_others_stay(tmp_path: Path) -> None:
    a, b = file(tmp_path, "a.bin"), file(tmp_path, "b.bin")
    decode(a, 0)
    decode(b, 0)
    kept_a, kept_b = kept_decoders()
    file(tmp_path, "b.bin", data=b"changed")
    decode(b, 0)  # b's parked decoder is stale: closed while a's stays parked
    assert kept_b.closed and not kept_a.closed
    assert kept_decoders()[0] is kept_a and len(kept_decoders()) == 2
