"""The conformance kit: run an installed video backend over the edge cases, collect failures.

Every check goes through the public API (`mediaref.batch_decode`, `MediaRef.to_ndarray`
with ``decoder=name``), except the metadata check, which opens the backend's decoder
directly. Expected frames come from `decode_sequentially` (a plain sequential PyAV decode)
and `mediaref.timeline`; nothing depends on timing: threads and a forked child are
compared on what they return.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import unittest
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaref import batch_decode

from .._errors import (
    MediaRefError,
    SourceNotFoundError,
    TimestampOutOfRangeError,
    UndecodableMediaError,
)
from .._plugins import open_source, video_backend
from .._protocols import KeepOpen
from .._ref import MediaRef
from ._media import EDGE_CASES, EdgeCase, make_edge_case
from ._oracle import Clip, decode_sequentially

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["FRAME_CHECKS", "ConformanceCase", "Report", "check_video_backend", "conformance_cases"]

FRAME_CHECKS = ("frames", "out", "single", "metadata", "range", "threads", "fork", "keep_open")
"""The checks run on every edge case."""
FILE_CHECKS = ("missing_file", "corrupt_file", "truncated_file")
"""The checks of error types, run once per backend."""
_THREADS = 4
_CHILD_ANSWER_S = 300  # a guard against a hung child, not a timing assumption
_MAX_LISTED = 8

_clips: dict[tuple[str, int], Clip] = {}
_clips_lock = threading.Lock()


def _oracle(path: Path, rotate: int) -> Clip:
    key = (str(path), path.stat().st_mtime_ns)
    with _clips_lock:
        clip = _clips.get(key)
    if clip is None:
        clip = decode_sequentially(path, rotate=rotate)
        with _clips_lock:
            _clips[key] = clip
    return clip


@dataclass(frozen=True)
class ConformanceCase:
    """One check of one backend, on one edge case (or, for file errors, on none)."""

    backend: str
    check: str
    media: str | None = None
    """The `EdgeCase` name; `None` for the checks of error types."""
    atol: float = 0.0
    """Mean absolute difference per channel value allowed against the oracle's frame."""

    @property
    def id(self) -> str:
        """``media:check``, or the check alone: a readable pytest id."""
        return f"{self.media}:{self.check}" if self.media else self.check

    def __str__(self) -> str:
        return self.id

    def run(self, media_dir: str | os.PathLike[str]) -> None:
        """Make the media in `media_dir` if needed, then check.

        Raises:
            AssertionError: The backend failed the check; the message says where and how.
            unittest.SkipTest: PyAV or the case's encoder is missing (pytest skips).
        """
        d = Path(media_dir)
        d.mkdir(parents=True, exist_ok=True)
        if self.media is None:
            _FILE_CHECKS[self.check](self, d)
            return
        case = next(c for c in EDGE_CASES if c.name == self.media)
        clip = _oracle(make_edge_case(case, d), case.rotate)
        _CHECKS[self.check](self, clip)


def conformance_cases(
    backend: str, *, media: Iterable[str] | None = None, atol: float = 0.0
) -> list[ConformanceCase]:
    """List every check of `backend`, for ``pytest.mark.parametrize`` (``ids=str``).

    Args:
        backend: The name users pass as ``decoder=``.
        media: Edge case names to use (default: all of `EDGE_CASES`).
        atol: Mean absolute difference allowed per channel value (0: exact pixels, for
            a backend converting to RGB as FFmpeg's swscale does by default).
    """
    names = [c.name for c in EDGE_CASES] if media is None else list(media)
    known = {c.name for c in EDGE_CASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown edge cases {unknown}; known: {sorted(known)}")
    out = [ConformanceCase(backend, c, None, atol) for c in FILE_CHECKS]
    out += [ConformanceCase(backend, c, m, atol) for m in names for c in FRAME_CHECKS]
    return out


@dataclass
class Report:
    """What `check_video_backend` found."""

    backend: str
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """``(case id, what went wrong)``."""
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed."""
        return not self.failed

    def __str__(self) -> str:
        lines = [
            f"video backend {self.backend!r}: {len(self.passed)} passed, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped"
        ]
        lines += [f"FAILED {case}: {why}" for case, why in self.failed]
        lines += [f"skipped {case}: {why}" for case, why in self.skipped]
        return "\n".join(lines)


def check_video_backend(
    name: str,
    tmp_dir: str | os.PathLike[str],
    *,
    media: Iterable[str] | None = None,
    atol: float = 0.0,
) -> Report:
    """Run every conformance check on the installed video backend `name`.

    Args:
        name: The backend's name (``decoder=`` value), e.g. ``"pyav"``.
        tmp_dir: Where to make the media (reused if already there).
        media: Edge case names (default: all of `EDGE_CASES`).
        atol: See `conformance_cases`.

    Returns:
        The report, when no check failed (skipped ones are listed in it).

    Raises:
        AssertionError: Some check failed; the message lists each failure.
        unittest.SkipTest: PyAV is not installed (the media cannot be made).
    """
    try:
        import av  # noqa: F401
    except ImportError:
        raise unittest.SkipTest(
            "mediaref.testing makes its media with PyAV, which is not installed: pip install av"
        ) from None
    report = Report(name)
    for case in conformance_cases(name, media=media, atol=atol):
        try:
            case.run(tmp_dir)
        except unittest.SkipTest as e:
            report.skipped.append((case.id, str(e)))
        except AssertionError as e:
            report.failed.append((case.id, str(e)))
        except Exception as e:  # a check that crashes is a failure, and the others still run
            report.failed.append((case.id, f"the check raised {type(e).__name__}: {e}"))
        else:
            report.passed.append(case.id)
    if report.failed:
        raise AssertionError(str(report))
    return report


def _probe_times(clip: Clip) -> list[int]:
    """Every frame boundary (first ns, ns before, last ns, middle), in a shuffled order."""
    times = clip.probe_times()
    random.Random(len(times)).shuffle(times)  # not sorted: backends must keep the order
    return times


def _closest(clip: Clip, arr: NDArray[np.uint8]) -> tuple[int, float]:
    import numpy as np

    diffs = [
        float(np.abs(arr.astype(np.int16) - f.astype(np.int16)).mean())
        if f.shape == arr.shape
        else float("inf")
        for f in clip.frames
    ]
    best = int(np.argmin(diffs))
    return best, diffs[best]


def _mismatch(clip: Clip, t: int, got: Any, atol: float) -> str | None:
    """Describe how `got` differs from the frame on screen at `t`, or `None` if it is it."""
    import numpy as np

    want = clip.index_at(t)
    if isinstance(got, BaseException):
        return f"pts_ns={t}: raised {type(got).__name__}: {got}"
    if not isinstance(got, np.ndarray) or got.dtype != np.uint8:
        return f"pts_ns={t}: returned {type(got).__name__}, want a uint8 array"
    expected = clip.frames[want]
    if got.shape != expected.shape:
        return f"pts_ns={t}: shape {got.shape}, want {expected.shape} (frame {want})"
    diff = float(np.abs(got.astype(np.int16) - expected.astype(np.int16)).mean())
    if diff == 0 or (diff <= atol and _closest(clip, got)[1] >= diff):
        return None  # within atol, and no other frame is closer
    found, fdiff = _closest(clip, got)
    return (
        f"pts_ns={t}: want frame {want} (pts_ns {clip.starts_ns[want]}), got a frame closest "
        f"to frame {found} (pts_ns {clip.starts_ns[found]}; mean |diff| {fdiff:.2f}, "
        f"{diff:.2f} to frame {want})"
    )


def _verdict(what: str, problems: Sequence[str]) -> None:
    if problems:
        listed = "; ".join(problems[:_MAX_LISTED])
        more = f"; and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
        raise AssertionError(f"{what}: {len(problems)} wrong: {listed}{more}")


def _compare(clip: Clip, times: Sequence[int], got: Sequence[Any], atol: float) -> list[str]:
    if len(got) != len(times):
        return [f"returned {len(got)} results for {len(times)} timestamps"]
    found = (_mismatch(clip, t, g, atol) for t, g in zip(times, got, strict=True))
    return [m for m in found if m is not None]


def _batch(case: ConformanceCase, clip: Clip, times: Sequence[int]) -> list[Any]:
    refs = [MediaRef(clip.uri, t) for t in times]
    return batch_decode(refs, decoder=case.backend, on_error="return")


def _check_frames(case: ConformanceCase, clip: Clip) -> None:
    times = _probe_times(clip)
    got = _batch(case, clip, times)
    _verdict(
        f"{clip.path.name}, batch_decode of {len(times)} timestamps",
        _compare(clip, times, got, case.atol),
    )


def _check_out(case: ConformanceCase, clip: Clip) -> None:
    import numpy as np

    times = _probe_times(clip)
    out = np.full((len(times), *clip.frames[0].shape), 0x5A, np.uint8)
    refs = [MediaRef(clip.uri, t) for t in times]
    got = batch_decode(refs, decoder=case.backend, on_error="return", out=out)
    problems = [
        f"pts_ns={t}: the result is not a view of its out slot"
        for i, (t, g) in enumerate(zip(times, got, strict=True))
        if not isinstance(g, MediaRefError) and not np.shares_memory(g, out[i])
    ]
    slots = [g if isinstance(g, MediaRefError) else out[i] for i, g in enumerate(got)]
    _verdict(
        f"{clip.path.name}, batch_decode(out=...) of {len(times)} timestamps",
        problems + _compare(clip, times, slots, case.atol),
    )


def _check_single(case: ConformanceCase, clip: Clip) -> None:
    times = [*clip.starts_ns, *(s - 1 for s in clip.starts_ns[1:]), clip.end_ns - 1]
    got: list[Any] = []
    for t in times:
        try:
            got.append(MediaRef(clip.uri, t).to_ndarray(decoder=case.backend))
        except MediaRefError as e:
            got.append(e)
    _verdict(f"{clip.path.name}, MediaRef.to_ndarray", _compare(clip, times, got, case.atol))


def _check_metadata(case: ConformanceCase, clip: Clip) -> None:
    with video_backend(case.backend).open(open_source(clip.uri)) as video:
        md = video.metadata
    h, w = clip.frames[0].shape[:2]
    want = {"begin_ns": clip.begin_ns, "end_ns": clip.end_ns}
    want |= {"num_frames": len(clip.frames), "width": w, "height": h}
    problems = [f"{k}={getattr(md, k)}, want {v}" for k, v in want.items() if getattr(md, k) != v]
    _verdict(f"{clip.path.name}, VideoDecoder.metadata", problems)


def _range_problem(case: ConformanceCase, clip: Clip, t: int) -> str | None:
    try:
        MediaRef(clip.uri, t).to_ndarray(decoder=case.backend)
    except TimestampOutOfRangeError as e:
        if (e.begin_ns, e.end_ns) != (clip.begin_ns, clip.end_ns):
            return f"pts_ns={t}: range [{e.begin_ns}, {e.end_ns}) in the error"
        return None
    except Exception as e:
        return f"pts_ns={t}: raised {type(e).__name__}: {e}"
    return f"pts_ns={t}: returned a frame"


def _check_range(case: ConformanceCase, clip: Clip) -> None:
    times = [clip.begin_ns - 1, clip.end_ns, clip.end_ns + 10**9, clip.begin_ns - 10**9]
    # A MediaRef holds no negative pts_ns: before a stream that starts at 0, only the
    # decoder itself can be asked.
    times = [t for t in times if t >= 0]
    problems = [p for t in times if (p := _range_problem(case, clip, t)) is not None]
    with video_backend(case.backend).open(open_source(clip.uri)) as video:
        for t in (clip.begin_ns - 1, clip.end_ns):
            try:
                video.frames_played_at([t])
                problems.append(f"VideoDecoder.frames_played_at([{t}]) returned a frame")
            except TimestampOutOfRangeError:
                pass
            except Exception as e:
                problems.append(f"VideoDecoder.frames_played_at([{t}]) raised {e!r}")
    want = f"[{clip.begin_ns}, {clip.end_ns})"
    _verdict(f"{clip.path.name}, TimestampOutOfRangeError outside {want}", problems)


def _check_threads(case: ConformanceCase, clip: Clip) -> None:
    times = _probe_times(clip)
    start = threading.Barrier(_THREADS)
    results: list[list[Any]] = [[] for _ in range(_THREADS)]

    def work(k: int) -> None:
        start.wait()
        try:
            results[k] = _batch(case, clip, times)
        except BaseException as e:
            results[k] = [e] * len(times)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    problems = [
        f"thread {k}: {m}"
        for k in range(_THREADS)
        for m in _compare(clip, times, results[k], case.atol)
    ]
    _verdict(f"{clip.path.name}, {_THREADS} threads decoding the same timestamps", problems)


def _in_child(decode: Callable[[], list[Any]], conn: Any) -> None:
    try:
        conn.send(("ok", decode()))
    except BaseException as e:
        conn.send(("raised", f"raised {type(e).__name__}: {e}"))
    finally:
        conn.close()


def _run_forked(decode: Callable[[], list[Any]]) -> tuple[str, Any]:
    """Run `decode` in a forked child: ``("ok", result)``, or what went wrong as text."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_in_child, args=(decode, send))
    proc.start()
    send.close()
    answer: tuple[str, Any] = ("no answer", f"gave no answer in {_CHILD_ANSWER_S} s (hung?)")
    try:
        if recv.poll(_CHILD_ANSWER_S):
            answer = recv.recv()
    except EOFError:
        answer = ("died", "died before answering")
    finally:
        recv.close()
        proc.join(_CHILD_ANSWER_S if answer[0] != "no answer" else 0)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if answer[0] == "ok" and proc.exitcode != 0:
        return "exit", f"answered, then exited with code {proc.exitcode}"
    return answer


def _check_fork(case: ConformanceCase, clip: Clip) -> None:
    if "fork" not in multiprocessing.get_all_start_methods():
        raise unittest.SkipTest("this platform cannot fork")
    times = list(clip.starts_ns)
    parent = _batch(case, clip, times)  # leaves whatever the backend caches behind
    status, child = _run_forked(lambda: _batch(case, clip, times))
    problems = [f"parent: {m}" for m in _compare(clip, times, parent, case.atol)]
    if status != "ok":
        problems.append(f"forked child: {child}")
    else:
        problems += [f"forked child: {m}" for m in _compare(clip, times, child, case.atol)]
    _verdict(f"{clip.path.name}, decoding in the parent, then in a forked child", problems)


def _check_keep_open(case: ConformanceCase, clip: Clip) -> None:
    with video_backend(case.backend).open(open_source(clip.uri)) as video:
        if not isinstance(video, KeepOpen):
            raise unittest.SkipTest(f"{case.backend!r} does not implement mediaref.KeepOpen")
        times = _probe_times(clip)
        half = len(times) // 2
        before = video.frames_played_at(times[:half])
        video.park()  # as the core does between two calls
        problems = [] if video.reusable() else ["reusable() is false after park()"]
        after = video.frames_played_at(times[half:])
        problems += [f"before park(): {m}" for m in _compare(clip, times[:half], before, case.atol)]
        problems += [f"after park(): {m}" for m in _compare(clip, times[half:], after, case.atol)]
    if video.reusable():
        problems.append("reusable() is true after close()")
    _verdict(f"{clip.path.name}, KeepOpen: a call, park(), another call", problems)


def _file_error(case: ConformanceCase, uri: str, want: type[MediaRefError]) -> None:
    for how in ("MediaRef.to_ndarray", "batch_decode"):
        try:
            if how == "batch_decode":
                batch_decode([MediaRef(uri, 0)], decoder=case.backend)
            else:
                MediaRef(uri, 0).to_ndarray(decoder=case.backend)
        except want as e:
            if e.uri != uri:
                raise AssertionError(f"{how}: {want.__name__} names uri={e.uri!r}") from None
            continue
        except Exception as e:
            raise AssertionError(
                f"{how}({Path(uri).name!r}) raised {type(e).__name__}: {e}; want {want.__name__}"
            ) from None
        raise AssertionError(f"{how}({Path(uri).name!r}) returned a frame; want {want.__name__}")


def _check_missing(case: ConformanceCase, d: Path) -> None:
    _file_error(case, str(d / "no_such_file.mp4"), SourceNotFoundError)


def _check_corrupt(case: ConformanceCase, d: Path) -> None:
    path = d / "corrupt.mp4"
    body = random.Random(7).randbytes(4096)
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + body)
    _file_error(case, str(path), UndecodableMediaError)


def _check_truncated(case: ConformanceCase, d: Path) -> None:
    src = make_edge_case(_first_h264(), d)
    path = d / "truncated.mp4"
    data = src.read_bytes()
    path.write_bytes(data[: len(data) // 3])  # the index (moov) is at the end: gone
    _file_error(case, str(path), UndecodableMediaError)


def _first_h264() -> EdgeCase:
    return next(c for c in EDGE_CASES if c.encoder == "libx264" and c.name.endswith("_mp4"))


_CHECKS: dict[str, Callable[[ConformanceCase, Clip], None]] = {
    "frames": _check_frames,
    "out": _check_out,
    "single": _check_single,
    "metadata": _check_metadata,
    "range": _check_range,
    "threads": _check_threads,
    "fork": _check_fork,
    "keep_open": _check_keep_open,
}
_FILE_CHECKS: dict[str, Callable[[ConformanceCase, Path], None]] = {
    "missing_file": _check_missing,
    "corrupt_file": _check_corrupt,
    "truncated_file": _check_truncated,
}
