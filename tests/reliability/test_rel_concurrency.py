from __future__ import annotations

import multiprocessing
import random
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import mediaref
from mediaref import MediaRef
from mediaref.testing import Clip
from tests.reliability import media

pytest.importorskip("mediaref_av")

THREADS = 8
TIMEOUT_S = 120


def workload(clips: dict[str, Clip], still_png: Path) -> list[tuple[MediaRef, str]]:
    """Every reference the tests draw from, with the digest of its true frame."""
    out = []
    for name in ("h264_mp4", "vp9_webm", "h264_faststart_mp4"):
        clip = clips[name]
        out += [
            (MediaRef(clip.uri, t), media.digest(clip.frame_on_screen_at(t))) for t in clip.times()
        ]
    out.append((MediaRef(str(still_png)), media.digest(media.image_pixels(still_png))))
    return out


def decode_and_check(items: list[tuple[MediaRef, str]], seed: int, rounds: int) -> list[str]:
    """Alternate batches and single decodes of random references; return the wrong ones."""
    rng = random.Random(seed)
    wrong = []
    for r in range(rounds):
        picked = rng.sample(items, 12)
        if r % 2:
            got = [ref.to_ndarray() for ref, _ in picked]
        else:
            got = mediaref.batch_decode([ref for ref, _ in picked])
        wrong += [
            f"{ref!r}"
            for (ref, want), arr in zip(picked, got, strict=True)
            if media.digest(arr) != want
        ]
    return wrong


def test_many_threads_decoding_the_same_files_get_the_right_frames(
    clips: dict[str, Clip], still_png: Path
) -> None:
    items = workload(clips, still_png)
    barrier = threading.Barrier(THREADS)
    results: dict[int, Any] = {}

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = decode_and_check(items, seed=i, rounds=10)
        except BaseException as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a decoding thread hung"
    for i in range(THREADS):
        assert results[i] == [], f"thread {i}: {results[i]!r}"


def _child(items: list[tuple[MediaRef, str]], seed: int, conn: Any) -> None:
    try:
        conn.send(decode_and_check(items, seed=seed, rounds=4))
    except BaseException as e:
        conn.send(f"{type(e).__name__}: {e}")


@pytest.mark.parametrize("busy_parent", [False, True], ids=["idle-parent", "busy-parent"])
def test_forked_children_decode_right_after_the_parent_did(
    clips: dict[str, Clip], still_png: Path, busy_parent: bool
) -> None:
    items = workload(clips, still_png)
    assert decode_and_check(items, seed=100, rounds=4) == []  # caches and pools are warm
    stop = threading.Event()
    parent_wrong: list[str] = []

    def keep_decoding() -> None:
        n = 0
        while not stop.is_set():
            parent_wrong.extend(decode_and_check(items, seed=200 + n, rounds=1))
            n += 1

    busy = [
        threading.Thread(target=keep_decoding, daemon=True) for _ in range(2 if busy_parent else 0)
    ]
    for t in busy:
        t.start()
    ctx = multiprocessing.get_context("fork")
    children = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
            for i in range(8):
                recv, send = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_child, args=(items, i, send), daemon=True)
                p.start()
                send.close()
                children.append((p, recv))
        outcomes = []
        for p, recv in children:
            ready = recv.poll(TIMEOUT_S)
            outcomes.append(recv.recv() if ready else "no answer: deadlock or hang")
            p.join(10)
    finally:
        stop.set()
        for p, _ in children:
            if p.is_alive():
                p.kill()
        for t in busy:
            t.join(TIMEOUT_S)
    assert outcomes == [[]] * 8
    assert [p.exitcode for p, _ in children] == [0] * 8
    assert parent_wrong == []
    assert decode_and_check(items, seed=300, rounds=2) == []  # the parent still works
